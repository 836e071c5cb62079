//! What the role behind a connection may do, read from `pg_catalog`.
//!
//! The API must connect as a role that is not a superuser, cannot bypass row-level
//! security and owns nothing (directly or through role membership); staging and
//! production refuse to start otherwise.

use crate::cached::CacheStatement;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

/// The privileges of the connected role that matter for isolation.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct RolePosture {
    /// The role's name.
    #[diesel(sql_type = Text)]
    pub role: String,
    /// `rolsuper`.
    #[diesel(sql_type = Bool)]
    pub superuser: bool,
    /// `rolbypassrls`.
    #[diesel(sql_type = Bool)]
    pub bypass_rls: bool,
    /// Relations, schemas and functions outside the system catalogs owned by the
    /// role or by a role it is a member of.
    #[diesel(sql_type = BigInt)]
    pub owned_objects: i64,
}

impl RolePosture {
    /// Every reason this role is unfit to serve the API; empty when it is fit.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.superuser {
            problems.push(format!(
                "DATABASE_URL connects as '{}', a superuser",
                self.role
            ));
        }
        if self.bypass_rls {
            problems.push(format!(
                "DATABASE_URL connects as '{}', which has BYPASSRLS",
                self.role
            ));
        }
        if self.owned_objects > 0 {
            problems.push(format!(
                "DATABASE_URL connects as '{}', which owns {} database object(s); use the least-privilege API role",
                self.role, self.owned_objects
            ));
        }
        problems
    }
}

/// Reads the posture of the role this connection authenticated as.
pub fn current_role_posture(conn: &mut PgConnection) -> QueryResult<RolePosture> {
    diesel::sql_query(
        "SELECT r.rolname::text AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls,
                ((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                     AND n.nspname NOT LIKE 'pg_toast%'
                     AND pg_has_role(r.oid, c.relowner, 'MEMBER'))
               + (SELECT count(*) FROM pg_namespace n
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
                     AND n.nspname NOT LIKE 'pg_%'
                     AND pg_has_role(r.oid, n.nspowner, 'MEMBER'))
               + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                     AND pg_has_role(r.oid, p.proowner, 'MEMBER')))::bigint AS owned_objects
           FROM pg_roles r WHERE r.rolname = current_user",
    )
    .cached()
    .get_result(conn)
}
