//! The walk's machinery: one call of a contract operation, performed as someone,
//! answered with a success, and checked against the events its request left in
//! `audit.events` (found by the `X-Request-Id` the walk sends).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use salus_tests::TestApp;
use salus_tests::contract::{Operation, document, operations};
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// Who an event must name as its actor, by address (resolved when the event is
/// checked, so an account the call itself creates can be named).
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// The account with this address: the event's `account_id`.
    Account(String),
    /// The platform operator with this address: the event's `operator_id`
    /// detail (operators have no account).
    Operator(String),
    /// Nobody yet (a sign-up before its account exists).
    Nobody,
}

/// A caller: the bearer token to send and the actor the events must name.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Bearer token ("" for none).
    pub token: String,
    /// The actor of the events.
    pub actor: Actor,
}

impl Caller {
    /// A signed-in member.
    pub fn member(member: &Member) -> Self {
        Self {
            token: member.access.clone(),
            actor: Actor::Account(member.email.clone()),
        }
    }

    /// An anonymous caller whose events name `actor` (public operations).
    pub fn anonymous(actor: Actor) -> Self {
        Self {
            token: String::new(),
            actor,
        }
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName, Debug)]
struct Event {
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Text>)]
    account_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    resource_id: Option<String>,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Text)]
    details: String,
}

/// The id of the row of `table` with the address `email`.
fn id_of(table: &str, email: &str, conn: &mut PgConnection) -> String {
    diesel::sql_query(format!(
        "SELECT id::text AS id FROM {table} WHERE email = $1"
    ))
    .bind::<Text, _>(email.to_lowercase())
    .get_result::<Id>(conn)
    .unwrap_or_else(|e| panic!("no {table} row for {email}: {e}"))
    .id
}

impl Event {
    fn names(&self, actor: &Actor, conn: &mut PgConnection) -> bool {
        match actor {
            Actor::Account(email) => {
                self.account_id.as_deref() == Some(id_of("accounts", email, conn).as_str())
            }
            Actor::Operator(email) => {
                let details: Value = serde_json::from_str(&self.details).unwrap_or_default();
                details["operator_id"] == id_of("operators", email, conn).as_str()
            }
            Actor::Nobody => self.account_id.is_none(),
        }
    }
}

/// The contract, the server, and what the walk has performed so far.
pub struct Walk<'a> {
    /// The server walked.
    pub app: &'a TestApp,
    doc: Value,
    by_id: BTreeMap<String, Operation>,
    performed: RefCell<BTreeSet<String>>,
}

impl<'a> Walk<'a> {
    /// A walk of `app` over the contract the code generates.
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            doc: document(),
            by_id: operations()
                .into_iter()
                .map(|op| (op.id.clone(), op))
                .collect(),
            performed: RefCell::default(),
        }
    }

    /// Starts a call of the operation `operation_id` as `caller`.
    pub fn call(&self, operation_id: &str, caller: &Caller) -> Call<'_, 'a> {
        let op = self
            .by_id
            .get(operation_id)
            .unwrap_or_else(|| panic!("no operation {operation_id} in the contract"))
            .clone();
        Call {
            walk: self,
            body: op.request_example(&self.doc),
            op,
            caller: caller.clone(),
            id: None,
            path: None,
            resource: None,
            created: false,
            streams: false,
        }
    }

    /// The id of the platform operator with the address `email`.
    pub fn operator_id(&self, email: &str) -> String {
        id_of("operators", email, &mut self.app.db.superuser())
    }

    /// `METHOD path` of every operation performed and checked.
    pub fn performed(&self) -> BTreeSet<String> {
        self.performed.borrow().clone()
    }

    /// The events the request `request_id` recorded.
    fn events(&self, request_id: &str) -> Vec<Event> {
        let mut conn = self.app.db.superuser();
        diesel::sql_query(
            "SELECT action, account_id::text AS account_id, resource_id::text AS resource_id,
                    outcome, details
               FROM audit.events WHERE request_id = $1 ORDER BY occurred_at, seq",
        )
        .bind::<Text, _>(request_id)
        .load(&mut conn)
        .unwrap()
    }
}

/// One call being built: the example body of its operation, with fields set.
pub struct Call<'w, 'a> {
    walk: &'w Walk<'a>,
    op: Operation,
    caller: Caller,
    id: Option<String>,
    path: Option<String>,
    body: Option<Value>,
    resource: Option<String>,
    created: bool,
    streams: bool,
}

impl Call<'_, '_> {
    /// The `{id}` of the path; also the resource the events must name, unless
    /// [`Call::on`] says another.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self.resource.get_or_insert_with(|| id.to_owned());
        self
    }

    /// The concrete path, for an operation with more than one path parameter.
    pub fn at(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// The resource the events must name: each event that names a resource
    /// names this one, and one does.
    pub fn on(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// The resource the events must name is the one the call creates (the
    /// answer's `id`).
    pub fn created(mut self) -> Self {
        self.created = true;
        self
    }

    /// The answer streams, and its last event is written once the stream has
    /// ended, which the client may see first: the check waits for it.
    pub fn streams(mut self) -> Self {
        self.streams = true;
        self
    }

    /// Sets a field of the example body.
    pub fn set(mut self, field: &str, value: Value) -> Self {
        let body = self.body.get_or_insert_with(|| json!({}));
        body[field] = value;
        self
    }

    /// Removes a field of the example body.
    pub fn without(mut self, field: &str) -> Self {
        if let Some(body) = self.body.as_mut().and_then(Value::as_object_mut) {
            body.remove(field);
        }
        self
    }

    /// Performs the call, asserts a success and that the request recorded
    /// what [`salus_http::audited`] declares (or nothing, where it declares
    /// nothing), each declared event naming the caller and the resource.
    /// The answer's body (JSON, or `Null`).
    pub async fn send(mut self) -> Value {
        let app = self.walk.app;
        let op = self.op.clone();
        let path = match (&self.path, &self.id) {
            (Some(path), _) => path.clone(),
            (None, Some(id)) => op.path_with(id),
            (None, None) => op.path.clone(),
        };
        let request_id = format!("walk-{}", uuid::Uuid::now_v7());
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let mut request = app
            .client
            .request(method, format!("{}{path}", app.url))
            .header("x-request-id", &request_id);
        if !self.caller.token.is_empty() {
            request = request.bearer_auth(&self.caller.token);
        }
        let declared = &self.walk.doc["paths"][&op.path][op.method.to_lowercase()];
        let takes_if_match = declared["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "If-Match"));
        if takes_if_match {
            request = request.header("if-match", "*");
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{} ({}) failed: {status} {text}",
            op.id,
            op.name()
        );
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if self.created {
            let id = answer["id"].as_str();
            self.resource = Some(
                id.unwrap_or_else(|| panic!("{}: no id in {answer}", op.id))
                    .to_owned(),
            );
        }
        if self.streams {
            let audited = salus_http::audited::audited(&op.method, &op.path);
            let groups = audited.map_or(&[][..], |a| a.records);
            salus_tests::eventually("the streamed answer's last event", || {
                let events = self.walk.events(&request_id);
                groups
                    .iter()
                    .all(|g| events.iter().any(|e| g.contains(&e.action.as_str())))
                    .then_some(())
            })
            .await;
        }
        self.check(&request_id);
        self.walk.performed.borrow_mut().insert(op.name());
        answer
    }

    fn check(&self, request_id: &str) {
        let op = &self.op;
        let events = self.walk.events(request_id);
        let Some(audited) = salus_http::audited::audited(&op.method, &op.path) else {
            assert!(
                events.is_empty(),
                "{} records {events:?} but salus_http::audited declares nothing",
                op.name()
            );
            return;
        };
        let undeclared: Vec<&Event> = events
            .iter()
            .filter(|e| !audited.actions().any(|a| a == e.action))
            .collect();
        assert!(
            undeclared.is_empty(),
            "{} records events it does not declare: {undeclared:?}",
            op.name()
        );
        let mut conn = self.walk.app.db.superuser();
        for group in audited.records {
            let found = events.iter().find(|e| group.contains(&e.action.as_str()));
            let Some(event) = found else {
                panic!(
                    "{} did not record {}: its events were {events:?}",
                    op.name(),
                    group.join(" or ")
                );
            };
            assert_eq!(event.outcome, "success", "{}: {event:?}", op.name());
            assert!(
                event.names(&self.caller.actor, &mut conn),
                "{}: {} does not name its actor {:?}: {event:?}",
                op.name(),
                event.action,
                self.caller.actor
            );
        }
        // Every event that names a resource names this one, and one does.
        if let Some(resource) = &self.resource {
            let naming: Vec<&Event> = events.iter().filter(|e| e.resource_id.is_some()).collect();
            assert!(
                !naming.is_empty()
                    && naming
                        .iter()
                        .all(|e| e.resource_id.as_ref() == Some(resource)),
                "{}: its events do not name {resource}: {events:?}",
                op.name()
            );
        }
    }
}
