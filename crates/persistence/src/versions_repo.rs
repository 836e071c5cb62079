//! The `version` column of each mutable resource: locked and read, incremented.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::concurrency::{Versioned, VersionsRepo};
use salus_domain::ids::ClinicId;
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Integer)]
    version: i32,
}

/// The table and the condition naming one resource (`$1` the clinic, `$2` its id).
fn location(resource: Versioned) -> (&'static str, &'static str) {
    match resource {
        Versioned::Clinic => ("clinics", "id = $1 AND id = $2"),
        Versioned::Membership => ("memberships", "clinic_id = $1 AND id = $2"),
        Versioned::CustomRole => ("custom_roles", "clinic_id = $1 AND id = $2"),
        Versioned::Note => ("clinical_notes", "clinic_id = $1 AND id = $2"),
        Versioned::Appointment => ("appointments", "clinic_id = $1 AND id = $2"),
        Versioned::QueueEntry => ("queue_entries", "clinic_id = $1 AND id = $2"),
        Versioned::Patient => ("patients", "clinic_id = $1 AND id = $2"),
        Versioned::WebhookEndpoint => ("webhook_endpoints", "clinic_id = $1 AND id = $2"),
    }
}

impl VersionsRepo for PgTx<'_> {
    fn lock_version(
        &mut self,
        resource: Versioned,
        clinic: ClinicId,
        id: Uuid,
    ) -> Res<Option<i32>> {
        let (table, condition) = location(resource);
        diesel::sql_query(format!(
            "SELECT version FROM {table} WHERE {condition} FOR UPDATE"
        ))
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(id)
        .cached()
        .get_result::<VersionRow>(self.conn)
        .optional()
        .map(|row| row.map(|r| r.version))
        .map_err(db_error)
    }

    fn bump_version(&mut self, resource: Versioned, clinic: ClinicId, id: Uuid) -> Res<i32> {
        let (table, condition) = location(resource);
        diesel::sql_query(format!(
            "UPDATE {table} SET version = version + 1 WHERE {condition} RETURNING version"
        ))
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(id)
        .cached()
        .get_result::<VersionRow>(self.conn)
        .map(|row| row.version)
        .map_err(db_error)
    }
}
