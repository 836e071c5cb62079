//! The clinic's own settings.

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::concurrency::{Expected, bump_version, lock_checked};
use crate::identity::model::{ClientInfo, Clinic};
use crate::ports::clinic::ClinicChanges;
use crate::shared::{Core, transactions};
use crate::store::Scope;

/// A clinic's settings.
#[derive(Clone)]
pub struct Clinics {
    core: Core,
}

impl Clinics {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(ClinicTx, committed);

    /// The caller's clinic.
    pub fn clinic_settings(&self, actor: &Actor) -> Result<Clinic, DomainError> {
        actor.require(Permission::ClinicRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.clinic(actor.clinic_id)?.ok_or(DomainError::NotFound)
        })
    }

    /// Changes the clinic's settings (step-up MFA) if `expected` is their current
    /// version.
    pub fn update_clinic_settings(
        &self,
        actor: &Actor,
        changes: &ClinicChanges,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Clinic, DomainError> {
        actor.require(Permission::ClinicUpdate)?;
        actor.require_step_up(self.core.now())?;
        let mut problems = Vec::new();
        if let Some(minutes) = changes.idle_timeout_minutes
            && !(5..=60).contains(&minutes)
        {
            problems.push(crate::FieldProblem::new(
                "idle_timeout_minutes",
                "range",
                "must be between 5 and 60",
            ));
        }
        if let Some(name) = &changes.name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            problems.push(crate::FieldProblem::new(
                "name",
                "length",
                "must be 1 to 200 characters",
            ));
        }
        if let Some(tz) = &changes.time_zone
            && crate::schedule::parse_time_zone(tz).is_err()
        {
            problems.push(crate::FieldProblem::new(
                "time_zone",
                "invalid",
                "is not an IANA time zone such as Europe/Paris",
            ));
        }
        if let Some(hours) = changes.reminder_offset_hours
            && !(1..=168).contains(&hours)
        {
            problems.push(crate::FieldProblem::new(
                "reminder_offset_hours",
                "range",
                "must be between 1 and 168",
            ));
        }
        if let Some(years) = changes.record_retention_years
            && !(1..=100).contains(&years)
        {
            problems.push(crate::FieldProblem::new(
                "record_retention_years",
                "range",
                "must be between 1 and 100",
            ));
        }
        if let Some(years) = changes.archive_after_years
            && !(1..=50).contains(&years)
        {
            problems.push(crate::FieldProblem::new(
                "archive_after_years",
                "range",
                "must be between 1 and 50",
            ));
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let clinic = actor.clinic_id;
            if let Err(refused) = lock_checked(tx, clinic, clinic, expected) {
                return Ok(Err(refused));
            }
            let Some(current) = tx.clinic(actor.clinic_id)? else {
                return Ok(Err(DomainError::NotFound));
            };
            let updated = Clinic {
                name: changes
                    .name
                    .as_ref()
                    .map_or(current.name.clone(), |n| n.trim().to_owned()),
                idle_timeout_minutes: changes
                    .idle_timeout_minutes
                    .unwrap_or(current.idle_timeout_minutes),
                require_mfa: changes.require_mfa.unwrap_or(current.require_mfa),
                time_zone: changes
                    .time_zone
                    .clone()
                    .unwrap_or(current.time_zone.clone()),
                reminder_offset_hours: changes
                    .reminder_offset_hours
                    .unwrap_or(current.reminder_offset_hours),
                record_retention_years: changes
                    .record_retention_years
                    .unwrap_or(current.record_retention_years),
                archive_after_years: changes
                    .archive_after_years
                    .unwrap_or(current.archive_after_years),
                purpose_of_use_required: changes
                    .purpose_of_use_required
                    .unwrap_or(current.purpose_of_use_required),
                ..current
            };
            tx.update_clinic(&updated)?;
            let updated = Clinic {
                version: bump_version(tx, clinic, clinic)?,
                ..updated
            };
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::CLINIC_SETTINGS_CHANGED,
                ("clinic", actor.clinic_id),
                client,
            )?;
            Ok(Ok(updated))
        })
    }
}
