//! The database roles: the API role owns nothing and cannot bypass row-level security.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use salus_persistence::{PoolSettings, build_pool};
use salus_tests::TestDb;
use secrecy::SecretString;

#[derive(QueryableByName, Debug)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName, Debug)]
struct RoleFlags {
    #[diesel(sql_type = Bool)]
    rolsuper: bool,
    #[diesel(sql_type = Bool)]
    rolbypassrls: bool,
    #[diesel(sql_type = Bool)]
    rolcreaterole: bool,
    #[diesel(sql_type = Bool)]
    rolcreatedb: bool,
}

#[test]
fn the_api_role_owns_nothing_and_cannot_bypass_rls() {
    let db = TestDb::migrated();
    let mut conn = db.superuser();
    let flags: RoleFlags = diesel::sql_query(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'salus_api'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert!(!flags.rolsuper, "salus_api is a superuser");
    assert!(!flags.rolbypassrls, "salus_api has BYPASSRLS");
    assert!(!flags.rolcreaterole && !flags.rolcreatedb, "{flags:?}");

    let owned: Count = diesel::sql_query(
        "SELECT ((SELECT count(*) FROM pg_class c WHERE pg_has_role('salus_api', c.relowner, 'MEMBER'))
               + (SELECT count(*) FROM pg_namespace n WHERE pg_has_role('salus_api', n.nspowner, 'MEMBER'))
               + (SELECT count(*) FROM pg_proc p WHERE pg_has_role('salus_api', p.proowner, 'MEMBER'))
               + (SELECT count(*) FROM pg_type t WHERE pg_has_role('salus_api', t.typowner, 'MEMBER')))::bigint AS n",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(owned.n, 0, "salus_api owns database objects");

    let member_of_owner: Count = diesel::sql_query(
        "SELECT count(*)::bigint AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
          WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = 'salus_api')",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(
        member_of_owner.n, 0,
        "salus_api inherits another role's rights"
    );
}

#[test]
fn the_api_role_has_no_truncate_references_or_trigger_and_cannot_create() {
    let db = TestDb::migrated();
    let mut conn = db.superuser();
    let risky: Vec<Table> = diesel::sql_query(
        "SELECT n.nspname || '.' || c.relname AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND (has_table_privilege('salus_api', c.oid, 'TRUNCATE')
              OR has_table_privilege('salus_api', c.oid, 'REFERENCES')
              OR has_table_privilege('salus_api', c.oid, 'TRIGGER'))",
    )
    .load(&mut conn)
    .unwrap();
    assert!(risky.is_empty(), "risky privileges on {risky:?}");
    let can_create: Vec<Table> = diesel::sql_query(
        "SELECT nspname AS name FROM pg_namespace
          WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'
            AND has_schema_privilege('salus_api', oid, 'CREATE')",
    )
    .load(&mut conn)
    .unwrap();
    assert!(
        can_create.is_empty(),
        "salus_api may create in {can_create:?}"
    );
}

#[derive(QueryableByName, Debug)]
struct Table {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    name: String,
}

fn pool(url: String) -> salus_persistence::DbPool {
    build_pool(
        &SecretString::from(url),
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: 5000,
            checkout_timeout: std::time::Duration::from_secs(5),
        },
    )
}

#[test]
fn start_up_refuses_a_superuser_or_owner_role_in_strict_mode() {
    let db = TestDb::migrated();
    let error = salus::database::check_serving_database(&pool(db.admin_url()), true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("a superuser"), "{error}");
    assert!(error.contains("BYPASSRLS"), "{error}");

    let error = salus::database::check_serving_database(&pool(db.owner_url()), true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("owns"), "{error}");

    salus::database::check_serving_database(&pool(db.api_url()), true)
        .expect("the API role is fit to serve");
}
