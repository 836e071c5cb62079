//! Clinical notes: written by members with `clinical.write`, body encrypted; a signed
//! note is immutable (the database refuses changes too) and corrections are
//! amendments linked to the original, both kept and shown in order.

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::concurrency::{Expected, lock_checked};
use crate::identity::model::ClientInfo;
use crate::ids::{AppointmentId, ClinicId, NoteId, PatientId};
use crate::ports::notes::{Note, StoredNote};
use crate::records;
use crate::shared::{Core, SealedField, transactions};
use crate::store::{NotesTx, Scope};

const TABLE: &str = "clinical_notes";

/// What a new note is about.
struct NoteTarget {
    patient: PatientId,
    appointment: Option<AppointmentId>,
    amends: Option<NoteId>,
}
/// The longest note, in characters: at 4 bytes a character at worst it still fits
/// the 64 KiB request body cap, so every length the contract allows can be sent.
const MAX_BODY_CHARS: usize = 16_000;

fn check_body(body: &str) -> Result<(), DomainError> {
    if body.trim().is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(DomainError::invalid(
            "body",
            "length",
            "must be 1 to 16000 characters",
        ));
    }
    Ok(())
}

/// Clinical notes, sealed at rest.
#[derive(Clone)]
pub struct Notes {
    core: Core,
}

impl Notes {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(NotesTx, committed);

    /// A stored note with its body opened (a body that fails its integrity check
    /// is answered unavailable: see [`Notes::open_sealed`]).
    pub(crate) fn open_note(
        &self,
        tx: &mut dyn NotesTx,
        actor: &Actor,
        stored: StoredNote,
    ) -> Result<Note, DomainError> {
        let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
        let mut unavailable = Vec::new();
        let field = SealedField {
            resource: "note",
            table: TABLE,
            column: "body",
            row: stored.id.into(),
            sealed: &stored.sealed_body,
        };
        let body = self
            .core
            .open_sealed(tx, actor, &keys, field, &mut unavailable)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok(Note {
            stored,
            body,
            unavailable,
        })
    }

    fn write_note(
        &self,
        actor: &Actor,
        target: NoteTarget,
        body: &str,
        signed: bool,
        client: &ClientInfo,
    ) -> Result<Note, DomainError> {
        actor.require(Permission::ClinicalWrite)?;
        check_body(body)?;
        let NoteTarget {
            patient,
            appointment,
            amends,
        } = target;
        let now = self.core.now();
        let id = self.core.new_id();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let state = tx.record_state(actor.clinic_id, patient)?;
            if let Err(refused) = records::require_active(state, || DomainError::NotFound) {
                return Ok(Err(refused));
            }
            if let Some(a) = appointment
                && tx
                    .appointment(actor.clinic_id, a)?
                    .is_none_or(|a| a.patient_id != patient)
            {
                return Ok(Err(DomainError::invalid(
                    "appointment_id",
                    "unknown",
                    "is not an appointment of this patient",
                )));
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let stored = StoredNote {
                id,
                patient_id: patient,
                appointment_id: appointment,
                author: actor.membership_id,
                amends_id: amends,
                sealed_body: keys.seal_field(
                    self.core.random(),
                    TABLE,
                    "body",
                    id,
                    body.as_bytes(),
                )?,
                signed_at: signed.then_some(now),
                created_at: now,
                version: 1,
            };
            tx.insert_note(actor.clinic_id, &stored)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::NOTE_WRITTEN,
                ("note", stored.id),
                client,
            )?;
            Ok(Ok(Note {
                stored,
                body: body.to_owned(),
                unavailable: Vec::new(),
            }))
        })
    }

    /// Writes a draft note about a patient.
    pub fn write_draft(
        &self,
        actor: &Actor,
        patient: PatientId,
        appointment: Option<AppointmentId>,
        body: &str,
        client: &ClientInfo,
    ) -> Result<Note, DomainError> {
        self.write_note(
            actor,
            NoteTarget {
                patient,
                appointment,
                amends: None,
            },
            body,
            false,
            client,
        )
    }

    /// Changes a draft (its author only) or signs it (`sign`), after which it is immutable.
    pub fn edit_note(
        &self,
        actor: &Actor,
        id: NoteId,
        body: Option<&str>,
        sign: bool,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Note, DomainError> {
        actor.require(Permission::ClinicalWrite)?;
        if let Some(b) = body {
            check_body(b)?;
        }
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(refused) = reachable(tx, actor.clinic_id, id)? {
                return Ok(Err(refused));
            }
            if let Err(refused) = lock_checked(tx, actor.clinic_id, id, expected) {
                return Ok(Err(refused));
            }
            let Some(mut note) = tx.note(actor.clinic_id, id)? else {
                return Ok(Err(DomainError::NotFound));
            };
            if note.signed_at.is_some() {
                return Ok(Err(DomainError::Conflict {
                    code: "note_signed",
                    detail: "A signed note cannot change; write an amendment.".into(),
                }));
            }
            if note.author != actor.membership_id {
                return Ok(Err(DomainError::forbidden(
                    "not_the_author",
                    "Only the author edits or signs a draft.",
                )));
            }
            if let Some(b) = body {
                let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
                note.sealed_body =
                    keys.seal_field(self.core.random(), TABLE, "body", id, b.as_bytes())?;
            }
            if sign {
                note.signed_at = Some(now);
            }
            // In the same statement as the change: a signed note's row accepts no
            // later update.
            note.version += 1;
            tx.update_note(actor.clinic_id, &note, now)?;
            self.core.audit_action(
                tx,
                actor,
                if sign {
                    crate::audit::actions::NOTE_SIGNED
                } else {
                    crate::audit::actions::NOTE_EDITED
                },
                ("note", id),
                client,
            )?;
            Ok(Ok(self.open_note(tx, actor, note)?))
        })
    }

    /// Amends a signed note: a new signed note linked to the original; both are kept.
    pub fn amend_note(
        &self,
        actor: &Actor,
        original: NoteId,
        body: &str,
        client: &ClientInfo,
    ) -> Result<Note, DomainError> {
        actor.require(Permission::ClinicalWrite)?;
        let note = self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            reachable(tx, actor.clinic_id, original)
        })??;
        if note.signed_at.is_none() {
            return Err(DomainError::Conflict {
                code: "note_not_signed",
                detail: "Edit the draft instead of amending it.".into(),
            });
        }
        let target = NoteTarget {
            patient: note.patient_id,
            appointment: note.appointment_id,
            amends: Some(original),
        };
        self.write_note(actor, target, body, true, client)
    }

    /// A patient's notes and amendments, in writing order.
    pub fn patient_notes(
        &self,
        actor: &Actor,
        patient: PatientId,
        client: &ClientInfo,
    ) -> Result<Vec<Note>, DomainError> {
        actor.require(Permission::ClinicalRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let state = tx.record_state(actor.clinic_id, patient)?;
            records::require_active(state, || DomainError::NotFound)?;
            let notes = tx
                .notes(actor.clinic_id, patient)?
                .into_iter()
                .map(|n| self.open_note(tx, actor, n))
                .collect::<Result<Vec<_>, _>>()?;
            // Last, so the chain's head is locked only until the commit.
            self.core.audit_clinical_read(
                tx,
                actor,
                crate::audit::actions::NOTE_LIST_READ,
                ("patient", patient),
                &[],
                client,
            )?;
            Ok(notes)
        })
    }
}

/// A note, when its patient's record is active: a 404 for a missing one, 403
/// `patient_in_archive` for one of a patient in the records archive, before any
/// lock or version check.
fn reachable(
    tx: &mut dyn NotesTx,
    clinic: ClinicId,
    id: NoteId,
) -> Result<Result<StoredNote, DomainError>, DomainError> {
    let Some(note) = tx.note(clinic, id)? else {
        return Ok(Err(DomainError::NotFound));
    };
    let state = tx.record_state(clinic, note.patient_id)?;
    Ok(records::require_active(state, || DomainError::NotFound).map(|()| note))
}
