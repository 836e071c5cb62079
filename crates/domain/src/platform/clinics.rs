//! The clinics as operators see them: metadata and counts, read in the platform
//! scope through a function that returns nothing else.

use super::{OperatorActor, Platform, PlatformPermission, by_operator};
use crate::DomainError;
use crate::audit::actions;
use crate::identity::model::ClientInfo;
use crate::ids::ClinicId;
use crate::ports::operators::ClinicSummary;
use crate::store::Scope;

impl Platform {
    /// Every clinic's summary (`platform.clinics.read`).
    pub fn clinics(
        &self,
        actor: &OperatorActor,
        client: &ClientInfo,
    ) -> Result<Vec<ClinicSummary>, DomainError> {
        actor.require(PlatformPermission::ClinicsRead)?;
        self.tx(Scope::Platform, |tx| {
            let clinics = tx.clinic_summaries(None)?;
            self.core.audit(
                tx,
                by_operator(actor, actions::OPERATOR_CLINICS_LISTED)
                    .detail("clinics", clinics.len()),
                client,
            )?;
            Ok(clinics)
        })
    }

    /// One clinic's summary (`platform.clinics.read`). The clinic's own audit
    /// trail records the read first, in the clinic's scope (a transaction that
    /// writes that event and nothing else), then the read runs in the platform
    /// scope: a read the clinic was not told of cannot happen.
    pub fn clinic(
        &self,
        actor: &OperatorActor,
        clinic: ClinicId,
        client: &ClientInfo,
    ) -> Result<ClinicSummary, DomainError> {
        actor.require(PlatformPermission::ClinicsRead)?;
        let found = self.tx(Scope::Platform, |tx| tx.clinic_summaries(Some(clinic)))?;
        if found.is_empty() {
            return Err(DomainError::NotFound);
        }
        self.tx(Scope::Clinic(clinic), |tx| {
            self.core.audit(
                tx,
                by_operator(actor, actions::OPERATOR_CLINIC_READ)
                    .in_clinic(Some(clinic))
                    .on("clinic", clinic),
                client,
            )
        })?;
        self.tx(Scope::Platform, |tx| {
            let summary = tx
                .clinic_summaries(Some(clinic))?
                .into_iter()
                .next()
                .ok_or(DomainError::NotFound)?;
            self.core.audit(
                tx,
                by_operator(actor, actions::OPERATOR_CLINIC_READ).on("clinic", clinic),
                client,
            )?;
            Ok(summary)
        })
    }
}
