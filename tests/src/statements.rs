//! Which statements a role sent a test database unprepared: diesel's own
//! instrumentation, installed for every connection this process opens, sees
//! each statement diesel puts in its cache of prepared statements and each
//! statement that finishes; a statement that finishes on a connection whose
//! cache never held its text went out unnamed, parsed and planned again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, Once, PoisonError};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

/// Unprepared statement texts by connection (role and database), for the
/// connections watched.
static UNPREPARED: Mutex<Option<HashMap<String, BTreeSet<String>>>> = Mutex::new(None);

/// Transaction control and session settings: sent as simple queries by
/// diesel's transaction manager and the pool's connection setup, never planned.
const SIMPLE_QUERIES: &[&str] = &[
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE SAVEPOINT",
    "SET ",
];

/// Instruments every connection this process opens from now on (call it
/// before the server whose statements are to be watched starts).
pub fn instrument() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_default_instrumentation(|| Some(Box::new(Recorder::default())))
            .expect("diesel's default instrumentation is installed");
    });
}

/// Records the statements sent unprepared from now on by the connections to
/// `url` (its role and database) opened after [`instrument`].
pub fn watch(url: &str) {
    let Some(watched) = connection(url) else {
        panic!("a database URL with a role and a database");
    };
    UNPREPARED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(watched, BTreeSet::new());
}

/// The texts of the statements sent unprepared by connections to `url` since
/// [`watch`].
pub fn unprepared(url: &str) -> BTreeSet<String> {
    let watched = connection(url).unwrap_or_default();
    UNPREPARED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|w| w.get(&watched).cloned())
        .unwrap_or_default()
}

/// `role@database` of a connection URL.
fn connection(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let database = url.path().trim_start_matches('/');
    (!url.username().is_empty() && !database.is_empty())
        .then(|| format!("{}@{database}", url.username()))
}

/// One connection's view: its role and database, and the texts in its
/// statement cache.
#[derive(Default)]
struct Recorder {
    connection: Option<String>,
    cached: HashSet<String>,
}

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.connection = connection(url);
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                self.cached.insert(sql.to_owned());
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                let Some(connection) = &self.connection else {
                    return;
                };
                let mut watched = UNPREPARED.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(texts) = watched.as_mut().and_then(|w| w.get_mut(connection)) else {
                    return;
                };
                let shown = query.to_string();
                let sql = shown.split(" -- binds: ").next().unwrap_or(&shown);
                let simple = SIMPLE_QUERIES.iter().any(|s| sql.starts_with(s));
                if !simple && !self.cached.contains(sql) {
                    texts.insert(sql.to_owned());
                }
            }
            _ => {}
        }
    }
}
