//! `VulnsRepo` on PostgreSQL: the platform table `vulnerabilities`, and the
//! findings not fixed that `/metrics` tallies at each scrape.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::VulnerabilityId;
use salus_domain::ports::vulns::VulnsRepo;
use salus_domain::vulns::model::{Band, Finding, Kind, Resolution, Severity, Source};
use uuid::Uuid;

use crate::pool::DbPool;
use crate::schema::vulnerabilities;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = vulnerabilities)]
#[diesel(treat_none_as_null = true)]
struct Row {
    id: Uuid,
    advisory_id: String,
    package: String,
    version: String,
    title: String,
    kind: String,
    cvss_vector: Option<String>,
    cvss_score: Option<f64>,
    band: String,
    source: String,
    first_seen_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    status: String,
    fixed_commit: Option<String>,
    accepted_reason: Option<String>,
    accepted_until: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
}

impl From<&Finding> for Row {
    fn from(f: &Finding) -> Self {
        let (fixed_commit, accepted_reason, accepted_until) = match &f.resolution {
            Resolution::Open => (None, None, None),
            Resolution::Fixed { commit, .. } => (Some(commit.clone()), None, None),
            Resolution::Accepted { reason, until, .. } => {
                (None, Some(reason.clone()), Some(*until))
            }
        };
        let (resolved_by, resolved_at) = f
            .resolution
            .resolved()
            .map(|(by, at)| (by.to_owned(), at))
            .unzip();
        Self {
            id: f.id.0,
            advisory_id: f.advisory_id.clone(),
            package: f.package.clone(),
            version: f.version.clone(),
            title: f.title.clone(),
            kind: f.kind.as_str().to_owned(),
            cvss_vector: f.severity.vector.clone(),
            cvss_score: f.severity.score,
            band: f.severity.band.as_str().to_owned(),
            source: f.source.as_str().to_owned(),
            first_seen_at: f.first_seen,
            last_seen_at: f.last_seen,
            due_at: f.due_at,
            status: f.resolution.status().to_owned(),
            fixed_commit,
            accepted_reason,
            accepted_until,
            resolved_by,
            resolved_at,
        }
    }
}

impl TryFrom<Row> for Finding {
    type Error = DomainError;

    fn try_from(r: Row) -> Res<Self> {
        let bad = |what: &str, value: &str| {
            DomainError::Internal(format!("vulnerability {}: {what} {value:?}", r.id))
        };
        let resolution = match (
            r.status.as_str(),
            r.resolved_by.clone(),
            r.resolved_at,
            r.fixed_commit.clone(),
            r.accepted_reason.clone(),
            r.accepted_until,
        ) {
            ("open", ..) => Resolution::Open,
            ("fixed", Some(by), Some(at), Some(commit), _, _) => {
                Resolution::Fixed { commit, by, at }
            }
            ("accepted", Some(by), Some(at), _, Some(reason), Some(until)) => {
                Resolution::Accepted {
                    reason,
                    until,
                    by,
                    at,
                }
            }
            (status, ..) => return Err(bad("status", status)),
        };
        Ok(Self {
            id: VulnerabilityId(r.id),
            kind: Kind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            severity: Severity {
                band: Band::parse(&r.band).ok_or_else(|| bad("band", &r.band))?,
                vector: r.cvss_vector,
                score: r.cvss_score,
            },
            source: Source::parse(&r.source).ok_or_else(|| bad("source", &r.source))?,
            advisory_id: r.advisory_id,
            package: r.package,
            version: r.version,
            title: r.title,
            first_seen: r.first_seen_at,
            last_seen: r.last_seen_at,
            due_at: r.due_at,
            resolution,
        })
    }
}

/// The finding a locking query found, if any.
fn found(row: QueryResult<Row>) -> Res<Option<Finding>> {
    row.optional()
        .map_err(db_error)?
        .map(Finding::try_from)
        .transpose()
}

fn findings(rows: Vec<Row>) -> Res<Vec<Finding>> {
    rows.into_iter().map(Finding::try_from).collect()
}

fn listed(conn: &mut PgConnection, fixed: bool) -> QueryResult<Vec<Row>> {
    let mut query = vulnerabilities::table
        .select(Row::as_select())
        .order((
            vulnerabilities::due_at.asc(),
            vulnerabilities::advisory_id.asc(),
            vulnerabilities::package.asc(),
            vulnerabilities::version.asc(),
        ))
        .into_boxed();
    if !fixed {
        query = query.filter(vulnerabilities::status.ne("fixed"));
    }
    query.load(conn)
}

impl VulnsRepo for PgTx<'_> {
    fn insert_vulnerability(&mut self, finding: &Finding) -> Res<()> {
        diesel::insert_into(vulnerabilities::table)
            .values(Row::from(finding))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn lock_vulnerability_of(
        &mut self,
        advisory_id: &str,
        package: &str,
        version: &str,
    ) -> Res<Option<Finding>> {
        let row = vulnerabilities::table
            .filter(vulnerabilities::advisory_id.eq(advisory_id))
            .filter(vulnerabilities::package.eq(package))
            .filter(vulnerabilities::version.eq(version))
            .select(Row::as_select())
            .for_update()
            .first(self.conn);
        found(row)
    }

    fn lock_vulnerability(&mut self, id: VulnerabilityId) -> Res<Option<Finding>> {
        let row = vulnerabilities::table
            .find(id.0)
            .select(Row::as_select())
            .for_update()
            .first(self.conn);
        found(row)
    }

    fn update_vulnerability(&mut self, finding: &Finding) -> Res<()> {
        diesel::update(vulnerabilities::table.find(finding.id.0))
            .set(Row::from(finding))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn vulnerabilities(&mut self, fixed: bool) -> Res<Vec<Finding>> {
        findings(listed(self.conn, fixed).map_err(db_error)?)
    }
}

/// The findings not fixed, in a read-only transaction of its own (for
/// `/metrics`, which tallies them by band at the scrape's time).
pub fn unresolved_vulnerabilities(pool: &DbPool) -> Res<Vec<Finding>> {
    let mut conn = crate::pool::checkout(pool)?;
    let rows = conn
        .build_transaction()
        .read_only()
        .run(|conn| listed(conn, false))
        .map_err(db_error)?;
    findings(rows)
}
