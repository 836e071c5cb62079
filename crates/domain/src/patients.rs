//! Patients: demographics (patients.*), and medical history (clinical.*), with the
//! national id and the medical history encrypted under the clinic's data key.

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::concurrency::{Expected, lock_checked, lock_version};
use crate::crypto::ClinicKeys;
use crate::identity::model::ClientInfo;
use crate::ids::{ClinicId, PatientId};
use crate::paging::{MAX_PAGE, Page};
use crate::ports::patients::{
    MedicalHistory, Patient, PatientFields, PatientKey, PatientQuery, StoredPatient,
};
use crate::records;
use crate::shared::{Core, SealedField, transactions};
use crate::store::{PatientsTx, Scope};
use crate::webhooks::events::{Event, EventType};

/// The sealed national id, its blind index and the sealed medical history.
type SealedFields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

const TABLE: &str = "patients";

fn normalise_national_id(raw: &str) -> String {
    raw.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_uppercase()
}

/// The names of the fields an update changes, in the record's order: the national
/// id compared through its blind index, the medical history (when one is given)
/// with the stored one opened (a stored history that does not open counts as
/// changed). Names only, never values.
fn changed_fields(
    keys: &ClinicKeys,
    current: &StoredPatient,
    new: &PatientFields,
    new_index: &Option<Vec<u8>>,
    history: Option<&MedicalHistory>,
) -> Vec<&'static str> {
    let old = &current.fields;
    let history_changed = history.is_some_and(|given| {
        let stored = current.sealed_medical_history.as_deref().map(|sealed| {
            keys.open_field(TABLE, "medical_history", current.id, sealed)
                .ok()
                .and_then(|json| serde_json::from_slice::<MedicalHistory>(&json).ok())
        });
        match stored {
            None => true,
            Some(opened) => opened.as_ref() != Some(given),
        }
    });
    [
        ("family_name", old.family_name != new.family_name),
        ("given_name", old.given_name != new.given_name),
        ("birth_date", old.birth_date != new.birth_date),
        ("sex", old.sex != new.sex),
        ("national_id", &current.national_id_index != new_index),
        ("phone", old.phone != new.phone),
        ("email", old.email != new.email),
        ("address", old.address != new.address),
        (
            "emergency_contact",
            old.emergency_contact != new.emergency_contact,
        ),
        (
            "preferred_language",
            old.preferred_language != new.preferred_language,
        ),
        (
            "reminder_consent.email",
            old.reminder_email != new.reminder_email,
        ),
        ("reminder_consent.sms", old.reminder_sms != new.reminder_sms),
        ("medical_history", history_changed),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Patient records: create, read, search, update, archive and restore.
#[derive(Clone)]
pub struct Patients {
    core: Core,
}

impl Patients {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(PatientsTx, committed);

    /// The clinic's keys, unwrapped; created on first use for clinics that have none.
    pub fn clinic_keys(
        &self,
        tx: &mut dyn PatientsTx,
        clinic: ClinicId,
    ) -> Result<ClinicKeys, DomainError> {
        self.core.clinic_keys(tx, clinic)
    }

    fn seal_patient(
        &self,
        keys: &ClinicKeys,
        id: PatientId,
        fields: &PatientFields,
        history: Option<&MedicalHistory>,
    ) -> Result<SealedFields, DomainError> {
        let random = self.core.random();
        let national = fields
            .national_id
            .as_deref()
            .map(|n| keys.seal_field(random, TABLE, "national_id", id, n.as_bytes()))
            .transpose()?;
        let index = fields
            .national_id
            .as_deref()
            .map(|n| keys.blind_index("national_id", &normalise_national_id(n)));
        let history = history
            .map(|h| {
                let json =
                    serde_json::to_vec(h).map_err(|e| DomainError::Internal(e.to_string()))?;
                keys.seal_field(random, TABLE, "medical_history", id, &json)
            })
            .transpose()?;
        Ok((national, index, history))
    }

    /// A stored patient as `actor` may see them, sealed fields opened (a field
    /// that fails its integrity check is answered unavailable: see
    /// [`Patients::open_sealed`]).
    pub(crate) fn open_patient(
        &self,
        tx: &mut dyn PatientsTx,
        actor: &Actor,
        keys: &ClinicKeys,
        stored: StoredPatient,
    ) -> Result<Patient, DomainError> {
        let mut unavailable = Vec::new();
        let field = |column, sealed| SealedField {
            resource: "patient",
            table: TABLE,
            column,
            row: stored.id.into(),
            sealed,
        };
        let mut fields = stored.fields.clone();
        fields.national_id = match stored.sealed_national_id.as_deref() {
            Some(sealed) => self
                .core
                .open_sealed(
                    tx,
                    actor,
                    keys,
                    field("national_id", sealed),
                    &mut unavailable,
                )?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            None => None,
        };
        let medical_history = match stored.sealed_medical_history.as_deref() {
            Some(sealed) if actor.permissions.contains(Permission::ClinicalRead) => self
                .core
                .open_sealed(
                    tx,
                    actor,
                    keys,
                    field("medical_history", sealed),
                    &mut unavailable,
                )?
                .map(|json| {
                    serde_json::from_slice(&json).map_err(|e| DomainError::Internal(e.to_string()))
                })
                .transpose()?,
            _ => None,
        };
        Ok(Patient {
            id: stored.id,
            fields,
            medical_history,
            unavailable,
            archived_at: stored.archived_at,
            restricted_at: stored.restricted_at,
            version: stored.version,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        })
    }

    /// A new patient as stored, its national id and medical history sealed under
    /// the clinic's keys (what `create_patient` writes; bulk loading uses it too).
    pub(crate) fn new_stored_patient(
        &self,
        keys: &ClinicKeys,
        id: PatientId,
        fields: &PatientFields,
        history: Option<&MedicalHistory>,
        now: DateTime<Utc>,
    ) -> Result<StoredPatient, DomainError> {
        let (national, index, sealed_history) = self.seal_patient(keys, id, fields, history)?;
        Ok(StoredPatient {
            id,
            fields: PatientFields {
                national_id: None,
                ..fields.clone()
            },
            sealed_national_id: national,
            national_id_index: index,
            sealed_medical_history: sealed_history,
            archived_at: None,
            restricted_at: None,
            records_archived_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// Registers a patient. Medical history needs `clinical.write`.
    pub fn create_patient(
        &self,
        actor: &Actor,
        fields: PatientFields,
        history: Option<MedicalHistory>,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsCreate)?;
        if history.is_some() {
            actor.require(Permission::ClinicalWrite)?;
        }
        let now = self.core.now();
        let id = self.core.new_id();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let stored = self.new_stored_patient(&keys, id, &fields, history.as_ref(), now)?;
            tx.insert_patient(actor.clinic_id, &stored)?;
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::patient(EventType::PatientCreated, id, stored.version),
            )?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::PATIENT_CREATED,
                ("patient", id),
                client,
            )?;
            self.open_patient(tx, actor, &keys, stored)
        })
    }

    /// Reads a patient (another clinic's id answers like a missing one).
    pub fn get_patient(
        &self,
        actor: &Actor,
        id: PatientId,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let stored = tx
                .patient(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            if stored.records_archived_at.is_some() {
                return Err(records::in_archive());
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let patient = self.open_patient(tx, actor, &keys, stored)?;
            // Last, so the chain's head is locked only until the commit.
            self.core.audit_patient_read(
                tx,
                actor,
                (
                    crate::audit::actions::PATIENT_READ,
                    crate::audit::actions::PATIENT_CLINICAL_READ,
                ),
                ("patient", id),
                &[],
                client,
            )?;
            Ok(patient)
        })
    }

    /// Replaces a patient's demographics (and medical history, with
    /// `clinical.write`) if `expected` is the current version.
    pub fn update_patient(
        &self,
        actor: &Actor,
        id: PatientId,
        expected: Option<Expected>,
        fields: PatientFields,
        history: Option<MedicalHistory>,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsUpdate)?;
        if history.is_some() {
            actor.require(Permission::ClinicalWrite)?;
        }
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let state = tx.record_state(actor.clinic_id, id)?;
            if let Err(refused) = records::require_active(state, || DomainError::NotFound) {
                return Ok(Err(refused));
            }
            if let Err(refused) = lock_checked(tx, actor.clinic_id, id, expected) {
                return Ok(Err(refused));
            }
            let Some(current) = tx.patient(actor.clinic_id, id)? else {
                return Ok(Err(DomainError::NotFound));
            };
            let expected_version = current.version;
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let (national, index, sealed_history) =
                self.seal_patient(&keys, id, &fields, history.as_ref())?;
            let changed = changed_fields(&keys, &current, &fields, &index, history.as_ref());
            let stored = StoredPatient {
                fields: PatientFields {
                    national_id: None,
                    ..fields.clone()
                },
                sealed_national_id: national,
                national_id_index: index,
                sealed_medical_history: if history.is_some() {
                    sealed_history
                } else {
                    current.sealed_medical_history.clone()
                },
                version: current.version + 1,
                updated_at: now,
                ..current
            };
            if !tx.update_patient(actor.clinic_id, &stored, expected_version)? {
                return Ok(Err(DomainError::Stale {
                    current: expected_version,
                }));
            }
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::patient(EventType::PatientUpdated, id, stored.version),
            )?;
            // Field names only: never a value (the history is readable with
            // `patients.read`, and health fields must not reach the trail).
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::PATIENT_UPDATED)
                    .on("patient", id)
                    .detail("fields", changed),
                client,
            )?;
            Ok(Ok(self.open_patient(tx, actor, &keys, stored)?))
        })
    }

    /// Archives or restores a patient (records are never deleted here). The row is
    /// locked, so concurrent calls take turns; a patient already in the state asked
    /// for is answered as it is, whatever version was named (the call is idempotent).
    pub fn set_patient_archived(
        &self,
        actor: &Actor,
        id: PatientId,
        archived: bool,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsArchive)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let changed = self.change_state(
                tx,
                actor.clinic_id,
                id,
                expected,
                |p| p.archived_at.is_some() == archived,
                |p| StoredPatient {
                    archived_at: archived.then_some(now),
                    ..p
                },
            )?;
            let (stored, changed) = match changed {
                Ok(done) => done,
                Err(refused) => return Ok(Err(refused)),
            };
            if changed {
                let (kind, event) = if archived {
                    (
                        crate::audit::actions::PATIENT_ARCHIVED,
                        EventType::PatientArchived,
                    )
                } else {
                    (
                        crate::audit::actions::PATIENT_RESTORED,
                        EventType::PatientRestored,
                    )
                };
                self.core.emit(
                    tx,
                    actor.clinic_id,
                    Event::patient(event, id, stored.version),
                )?;
                self.core
                    .audit_action(tx, actor, kind, ("patient", id), client)?;
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            Ok(Ok(self.open_patient(tx, actor, &keys, stored)?))
        })
    }

    /// One change of a flag of a patient's record, the way every flag changes:
    /// the row locked (concurrent calls take turns), `If-Match` required, a
    /// record already `in_state` answered as it is whatever version was named
    /// (idempotent), otherwise `change`d under the version named. A record in
    /// the records archive is refused (`patient_in_archive`). The record as it
    /// now stands and whether it changed, or the refusal.
    pub(crate) fn change_state(
        &self,
        tx: &mut dyn PatientsTx,
        clinic: ClinicId,
        id: PatientId,
        expected: Option<Expected>,
        in_state: impl FnOnce(&StoredPatient) -> bool,
        change: impl FnOnce(StoredPatient) -> StoredPatient,
    ) -> Result<Result<(StoredPatient, bool), DomainError>, DomainError> {
        if lock_version(tx, clinic, id)?.is_none() {
            return Ok(Err(DomainError::NotFound));
        }
        let Some(current) = tx.patient(clinic, id)? else {
            return Ok(Err(DomainError::NotFound));
        };
        if current.records_archived_at.is_some() {
            return Ok(Err(records::in_archive()));
        }
        let Some(expected) = expected else {
            return Ok(Err(DomainError::PreconditionRequired));
        };
        if in_state(&current) {
            return Ok(Ok((current, false)));
        }
        if let Err(stale) = expected.check(current.version) {
            return Ok(Err(stale));
        }
        let version = current.version;
        let stored = StoredPatient {
            version: version + 1,
            updated_at: self.core.now(),
            ..change(current)
        };
        if !tx.update_patient(clinic, &stored, version)? {
            return Ok(Err(DomainError::Stale { current: version }));
        }
        Ok(Ok((stored, true)))
    }

    /// A page of patients matching the filters, in name order.
    pub fn list_patients(
        &self,
        actor: &Actor,
        mut query: PatientQuery,
        client: &ClientInfo,
    ) -> Result<Page<Patient, PatientKey>, DomainError> {
        actor.require(Permission::PatientsRead)?;
        query.limit = query.limit.clamp(1, MAX_PAGE);
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let index = query
                .national_id
                .as_deref()
                .map(|n| keys.blind_index("national_id", &normalise_national_id(n)));
            let found = tx.patients(actor.clinic_id, &query, index.as_deref())?;
            let ids: Vec<PatientId> = found.items.iter().map(|p| p.id).collect();
            let page = found.try_map(|p| self.open_patient(tx, actor, &keys, p))?;
            // Last, so the chain's head is locked only until the commit.
            if !ids.is_empty() {
                self.core.audit_patient_read(
                    tx,
                    actor,
                    (
                        crate::audit::actions::PATIENT_LIST_READ,
                        crate::audit::actions::PATIENT_LIST_CLINICAL_READ,
                    ),
                    ("clinic", actor.clinic_id),
                    &ids,
                    client,
                )?;
            }
            Ok(page)
        })
    }
}
