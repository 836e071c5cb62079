//! One PostgreSQL database per test, cloned from a template migrated once per
//! migration set (`CREATE DATABASE ... TEMPLATE ...`), dropped when the test ends.
//!
//! Connection settings come from the environment `make test` exports
//! (`SALUS_ADMIN_URL`, `DATABASE_URL`, `MIGRATION_DATABASE_URL`), with the
//! provisioning script's defaults when they are absent.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use secrecy::SecretString;
use url::Url;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_API_URL: &str = "postgres://salus_api:salus-dev-api-password@127.0.0.1:5432/salus";
const DEFAULT_OWNER_URL: &str =
    "postgres://salus_owner:salus-dev-owner-password@127.0.0.1:5432/salus";
/// Serialises template creation across test processes.
const TEMPLATE_LOCK_KEY: i64 = 0x5a1_0005_i64;

fn env_url(name: &str, default: &str) -> Url {
    let raw = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    Url::parse(&raw).unwrap_or_else(|e| panic!("{name} is not a URL: {e}"))
}

fn with_database(url: &Url, database: &str) -> String {
    let mut url = url.clone();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// Connection URLs of the three roles: superuser, owner and API.
#[derive(Debug, Clone)]
struct Roles {
    admin: Url,
    owner: Url,
    api: Url,
}

fn roles() -> &'static Roles {
    static ROLES: OnceLock<Roles> = OnceLock::new();
    ROLES.get_or_init(|| Roles {
        admin: env_url("SALUS_ADMIN_URL", DEFAULT_ADMIN_URL),
        owner: env_url("MIGRATION_DATABASE_URL", DEFAULT_OWNER_URL),
        api: env_url("DATABASE_URL", DEFAULT_API_URL),
    })
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

fn migrations_fingerprint() -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    let mut hasher = DefaultHasher::new();
    for path in entries {
        path.to_string_lossy().hash(&mut hasher);
        std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// The migrated template's name, creating it on first use.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("salus_template_{:016x}", migrations_fingerprint());
        let roles = roles();
        let mut admin = PgConnection::establish(roles.admin.as_str())
            .unwrap_or_else(|e| panic!("cannot connect as the PostgreSQL superuser (SALUS_ADMIN_URL): {e}; run `make test`"));
        diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})"))
            .execute(&mut admin)
            .expect("advisory lock");
        let ready: Exists = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate) AS exists",
        )
        .bind::<Text, _>(&name)
        .get_result(&mut admin)
        .expect("read pg_database");
        if !ready.exists {
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin)
                .expect("drop stale template");
            diesel::sql_query(format!("CREATE DATABASE \"{name}\" OWNER salus_owner"))
                .execute(&mut admin)
                .expect("create template");
            let owner_url = SecretString::from(with_database(&roles.owner, &name));
            salus_persistence::migrations::migrate(&owner_url).expect("migrate the template");
            diesel::sql_query(format!(
                "ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            ))
            .execute(&mut admin)
            .expect("mark template");
        }
        diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})"))
            .execute(&mut admin)
            .expect("advisory unlock");
        name
    })
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    /// The roles' URLs on the server that holds it.
    roles: Roles,
}

/// The roles of a test's own cluster on 127.0.0.1:`port`: the names and passwords
/// of the shared server's, which scratch clusters (trust authentication) accept.
fn roles_on(port: u16) -> Roles {
    let on = |url: &Url| {
        let mut url = url.clone();
        // Infallible for postgres:// URLs, which have a host.
        let _ = url.set_host(Some("127.0.0.1"));
        let _ = url.set_port(Some(port));
        url
    };
    let shared = roles();
    let mut admin = on(&shared.admin);
    let _ = admin.set_username("postgres");
    let _ = admin.set_password(None);
    Roles {
        admin,
        owner: on(&shared.owner),
        api: on(&shared.api),
    }
}

impl TestDb {
    /// Clones the migrated template into a new database.
    pub fn migrated() -> Self {
        let template = template();
        Self::create(&format!("TEMPLATE \"{template}\""))
    }

    /// An empty database (no migration run), owned by the owner role.
    pub fn empty() -> Self {
        Self::create("")
    }

    fn create(clause: &str) -> Self {
        Self::create_with(roles().clone(), clause)
    }

    fn create_with(roles: Roles, clause: &str) -> Self {
        let db = Self {
            name: format!("salus_test_{}", uuid::Uuid::new_v4().simple()),
            roles,
        };
        diesel::sql_query(format!(
            "CREATE DATABASE \"{}\" {clause} OWNER salus_owner",
            db.name
        ))
        .execute(&mut db.admin_conn("postgres"))
        .expect("create test database");
        db
    }

    /// A database on a test's own cluster (superuser `postgres`, trust, on
    /// 127.0.0.1:`port`): creates the roles as `scripts/provision-db.sh` does,
    /// then the database, and migrates it as the owner role.
    pub fn migrated_on(port: u16) -> Self {
        let roles = roles_on(port);
        let mut admin = PgConnection::establish(&with_database(&roles.admin, "postgres"))
            .expect("connect to the scratch cluster");
        admin
            .batch_execute(
                "CREATE ROLE salus_owner LOGIN NOSUPERUSER NOCREATEROLE CREATEDB; \
                 CREATE ROLE salus_api LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS; \
                 CREATE ROLE salus_audit NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS; \
                 GRANT salus_audit TO salus_owner",
            )
            .expect("create the roles");
        let db = Self::create_with(roles, "");
        salus_persistence::migrations::migrate(&SecretString::from(db.owner_url()))
            .expect("migrate the scratch cluster's database");
        db
    }

    /// This database where another cluster on 127.0.0.1:`port` holds a copy of it
    /// (a restore): same name and roles.
    pub fn copy_on(&self, port: u16) -> Self {
        Self {
            name: self.name.clone(),
            roles: roles_on(port),
        }
    }

    fn admin_conn(&self, database: &str) -> PgConnection {
        PgConnection::establish(&with_database(&self.roles.admin, database))
            .expect("connect as superuser")
    }

    /// The destruction register of the servers over this database (a
    /// directory of its own, so tests never see each other's destructions;
    /// removed with the database).
    pub fn register_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir()
            .join("salus-destruction-registers")
            .join(&self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API role's URL for this database.
    pub fn api_url(&self) -> String {
        with_database(&self.roles.api, &self.name)
    }

    /// The owner role's URL for this database.
    pub fn owner_url(&self) -> String {
        with_database(&self.roles.owner, &self.name)
    }

    /// The superuser's URL for this database.
    pub fn admin_url(&self) -> String {
        with_database(&self.roles.admin, &self.name)
    }

    /// A superuser connection to this database (to inspect or tamper, as an
    /// attacker with database access would).
    pub fn superuser(&self) -> PgConnection {
        self.admin_conn(&self.name)
    }

    /// Refuses new connections and ends existing ones, as if the database were down.
    pub fn take_offline(&self) {
        let mut admin = self.admin_conn("postgres");
        diesel::sql_query(format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false",
            self.name
        ))
        .execute(&mut admin)
        .expect("disallow connections");
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind::<Text, _>(&self.name)
        .execute(&mut admin)
        .expect("terminate backends");
    }

    /// Accepts connections again.
    pub fn bring_online(&self) {
        let mut admin = self.admin_conn("postgres");
        diesel::sql_query(format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true",
            self.name
        ))
        .execute(&mut admin)
        .expect("allow connections");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.register_dir());
        if let Ok(mut admin) =
            PgConnection::establish(&with_database(&self.roles.admin, "postgres"))
        {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}
