//! Storage of reminders: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AppointmentId, ClinicId, OutboxMessageId};
use crate::outbox::{Channel, DeliveryStatus};

/// A scheduled reminder and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// Email or SMS.
    pub channel: Channel,
    /// When it goes out.
    pub scheduled_for: DateTime<Utc>,
    /// Delivery status.
    pub status: DeliveryStatus,
}

/// Storage of reminders (clinic-scoped).
pub trait RemindersRepo {
    /// The reminders of an appointment: (channel, outbox id, scheduled for).
    fn reminders(
        &mut self,
        clinic: ClinicId,
        appointment: AppointmentId,
    ) -> Result<Vec<(Channel, OutboxMessageId, DateTime<Utc>)>, DomainError>;
    /// Records a reminder.
    fn insert_reminder(
        &mut self,
        clinic: ClinicId,
        appointment: AppointmentId,
        channel: Channel,
        outbox: OutboxMessageId,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Forgets an appointment's reminders.
    fn delete_reminders(
        &mut self,
        clinic: ClinicId,
        appointment: AppointmentId,
    ) -> Result<(), DomainError>;
}
