//! Patients' rights under the GDPR (promise D4): restriction of processing and
//! objection (`restriction`), access and portability (`export`: the whole record),
//! rectification's trail (`history`: who changed which field, when), and erasure
//! where the law allows (`erasure`: request, decision, retention, tombstone).
//!
//! One service over the patient, appointment and note views: it opens records with
//! the helpers of those areas, in its own transactions.

mod archive;
mod erasure;
mod export;
mod history;
mod restriction;

pub use erasure::ErasureStatus;
pub use export::{AccessEntry, PatientRecord};
pub use history::{ChangeEntry, HistoryPage};

use crate::appointments::Appointments;
use crate::notes::Notes;
use crate::patients::Patients;
use crate::reminders::Reminders;
use crate::shared::{Core, transactions};

/// Restriction, export and change history of patient records.
#[derive(Clone)]
pub struct PatientRights {
    core: Core,
    patients: Patients,
    appointments: Appointments,
    notes: Notes,
    reminders: Reminders,
}

impl PatientRights {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self {
            patients: Patients::new(core.clone()),
            appointments: Appointments::new(core.clone()),
            notes: Notes::new(core.clone()),
            reminders: Reminders::new(core.clone()),
            core,
        }
    }

    transactions!(pub(super) RightsTx, committed);
}
