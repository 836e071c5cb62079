//! The webhook event catalogue, declared once: the services emit these types,
//! endpoints subscribe to them, the contract publishes them as an enum, and the
//! partner's guide lists them. Each event's payload carries ids and the minimum
//! a partner needs to know what changed: never health data (no reason, note,
//! history or national id; not even names). The partner reads the resource with
//! its own credentials.
//!
//! The body follows the Standard Webhooks shape:
//!
//! ```json
//! {"type": "appointment.booked", "timestamp": "2026-12-07T09:30:00.000Z",
//!  "data": {"appointment_id": "...", "patient_id": "...", "version": 1, ...}}
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ids::PatientId;
use crate::ports::appointments::StoredAppointment;
use crate::ports::queue::QueueEntry;

/// Declares the event types and their catalogue.
macro_rules! event_types {
    ($($variant:ident = $code:literal: $meaning:literal,)*) => {
        /// A kind of event an endpoint may subscribe to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl EventType {
            /// Every event type, in catalogue order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            /// The published name (`appointment.booked`).
            pub fn code(self) -> &'static str {
                match self {
                    $(EventType::$variant => $code,)*
                }
            }

            /// When it is sent.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(EventType::$variant => $meaning,)*
                }
            }
        }
    };
}

event_types! {
    AppointmentBooked = "appointment.booked": "An appointment was booked.",
    AppointmentRescheduled = "appointment.rescheduled": "An appointment moved to another slot.",
    AppointmentCancelled = "appointment.cancelled": "An appointment was cancelled.",
    AppointmentStatusChanged = "appointment.status_changed": "An appointment's status changed otherwise than by a cancellation: confirmed, checked in (also by a check-in at the queue), in progress, completed or no-show.",
    PatientCreated = "patient.created": "A patient was registered.",
    PatientUpdated = "patient.updated": "A patient's record changed (the payload says neither what nor how: read the record).",
    PatientArchived = "patient.archived": "A patient was archived.",
    PatientRestored = "patient.restored": "An archived patient was restored.",
    PatientErased = "patient.erased": "Every record of a patient was erased on their request: delete what you hold of them.",
    QueueCheckedIn = "queue.checked_in": "A patient checked in to the waiting queue.",
    QueueCalled = "queue.called": "A waiting patient was called.",
    QueueStatusChanged = "queue.status_changed": "A called patient's visit started or completed, or they left.",
}

impl EventType {
    /// Parses a published name.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.code() == code)
    }
}

/// One event, as a service emits it in the transaction of its change.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The resource it happened to: deliveries of one resource to one endpoint
    /// are sent in the order of their events.
    pub resource: Uuid,
    /// The patient it concerns, whose erasure withdraws it while it waits
    /// (none for `patient.erased` itself, which must outlive the erasure).
    pub patient: Option<PatientId>,
    /// The payload's `data`: ids and the minimum.
    pub data: Value,
}

impl Event {
    /// An event of an appointment: its ids, status, slot and version.
    pub fn appointment(kind: EventType, a: &StoredAppointment) -> Self {
        Self {
            kind,
            resource: a.id.uuid(),
            patient: Some(a.patient_id),
            data: json!({
                "appointment_id": a.id,
                "patient_id": a.patient_id,
                "practitioner_id": a.practitioner_id,
                "status": a.status.as_str(),
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
                "version": a.version,
            }),
        }
    }

    /// An event of a patient's record: its id and version.
    pub fn patient(kind: EventType, patient: PatientId, version: i32) -> Self {
        Self {
            kind,
            resource: patient.uuid(),
            patient: Some(patient),
            data: json!({ "patient_id": patient, "version": version }),
        }
    }

    /// A patient's erasure: their id, nothing more (the record is gone).
    pub fn patient_erased(patient: PatientId) -> Self {
        Self {
            kind: EventType::PatientErased,
            resource: patient.uuid(),
            patient: None,
            data: json!({ "patient_id": patient }),
        }
    }

    /// An event of a queue entry: its ids, ticket, status and version.
    pub fn queue(kind: EventType, e: &QueueEntry) -> Self {
        Self {
            kind,
            resource: e.id.uuid(),
            patient: Some(e.patient_id),
            data: json!({
                "queue_entry_id": e.id,
                "patient_id": e.patient_id,
                "appointment_id": e.appointment_id,
                "practitioner_id": e.practitioner_id,
                "ticket": e.ticket,
                "status": e.status.as_str(),
                "version": e.version,
            }),
        }
    }

    /// The body every subscribed endpoint is sent, exactly as signed.
    pub fn payload(&self, at: DateTime<Utc>) -> String {
        json!({
            "type": self.kind.code(),
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_dotted_and_parse_back() {
        let mut codes: Vec<&str> = EventType::ALL.iter().map(|t| t.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), EventType::ALL.len());
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.code()), Some(*t));
            assert!(t.code().split_once('.').is_some(), "{}", t.code());
        }
        assert_eq!(EventType::parse("appointment.deleted"), None);
    }

    #[test]
    fn the_payload_is_type_timestamp_and_data() {
        let patient = PatientId(Uuid::nil());
        let at = DateTime::parse_from_rfc3339("2026-12-07T09:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let body = Event::patient(EventType::PatientUpdated, patient, 3).payload(at);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"type": "patient.updated", "timestamp": "2026-12-07T09:30:00.000Z",
                   "data": {"patient_id": Uuid::nil(), "version": 3}})
        );
    }
}
