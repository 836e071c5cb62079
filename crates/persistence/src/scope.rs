//! Row-level security's scope: the setting each transaction carries.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::prepared::TwoBinds;

/// Scopes a transaction to a clinic or an account for row-level security.
const SET_SCOPE_SQL: &str = "SELECT set_config($1, $2, true)";

/// [`SET_SCOPE_SQL`]'s identity in the statement cache.
struct SetScope;

/// Sets `name` (`app.clinic_id`, `app.account_id`) to `value` until the
/// transaction ends.
pub(crate) fn set_scope(conn: &mut PgConnection, name: &str, value: &str) -> QueryResult<usize> {
    TwoBinds::<SetScope, Text, Text, str, str>::new(SET_SCOPE_SQL, name, value).execute(conn)
}
