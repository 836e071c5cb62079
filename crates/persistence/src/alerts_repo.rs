//! Security alerts and the detectors' reads on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::{AlertId, ChainId, ClinicId};
use salus_domain::paging::Page;
use salus_domain::ports::alerts::{AlertKey, AlertsRepo, BackupStatus, SecurityAlert, SubjectKind};
use salus_domain::ports::audit::ChainHead;
use uuid::Uuid;

use crate::audit_repo::{HEAD_COLUMNS, HeadRow, to_head};
use crate::schema::audit_chain_heads as heads;
use crate::schema::events;
use crate::schema::security_alerts as alerts;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

type AlertRow = (
    Uuid,
    Option<Uuid>,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);

fn to_alert(r: AlertRow) -> SecurityAlert {
    SecurityAlert {
        id: AlertId(r.0),
        clinic_id: r.1.map(ClinicId),
        kind: r.2,
        subject: r.3,
        dedup_key: r.4,
        event_count: i64::from(r.5),
        triggered_at: r.6,
        raised_at: r.7,
        details: r.8,
    }
}

impl AlertsRepo for PgTx<'_> {
    fn chains_to_scan(&mut self, limit: i64) -> Res<Vec<ChainHead>> {
        let rows: Vec<HeadRow> = heads::table
            .filter(heads::detected_seq.lt(heads::seq))
            .select(HEAD_COLUMNS)
            .limit(limit)
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows.into_iter().map(to_head).collect())
    }

    fn claim_chain_scan(&mut self, chain: ChainId) -> Res<Option<i64>> {
        heads::table
            .find(chain.0)
            .filter(heads::detected_seq.lt(heads::seq))
            .select(heads::detected_seq)
            .for_update()
            .skip_locked()
            .first(self.conn)
            .optional()
            .map_err(db_error)
    }

    fn set_chain_scanned(&mut self, chain: ChainId, through: i64) -> Res<()> {
        diesel::update(heads::table.find(chain.0))
            .set(heads::detected_seq.eq(through))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn count_subject_events(
        &mut self,
        actions: &[&str],
        by: SubjectKind,
        subject: &str,
        chain: Option<ChainId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Res<i64> {
        let mut q = events::table
            .filter(events::action.eq_any(actions.iter().map(|a| (*a).to_owned())))
            .filter(events::occurred_at.ge(from))
            .filter(events::occurred_at.le(to))
            .into_boxed();
        q = match chain {
            Some(chain) => q.filter(events::chain_id.eq(chain.0)),
            None => q.filter(events::clinic_id.is_null()),
        };
        q = match by {
            SubjectKind::Account => match subject.parse::<Uuid>() {
                Ok(account) => q.filter(events::account_id.eq(account)),
                Err(_) => return Ok(0),
            },
            SubjectKind::ClientIp => q.filter(events::client_ip.eq(subject.to_owned())),
        };
        q.count().get_result(self.conn).map_err(db_error)
    }

    fn backup_status(&mut self) -> Res<BackupStatus> {
        crate::backup_status::read(self.conn)
    }

    fn insert_alert(&mut self, a: &SecurityAlert) -> Res<bool> {
        diesel::insert_into(alerts::table)
            .values((
                alerts::id.eq(a.id.0),
                alerts::clinic_id.eq(a.clinic_id.map(|c| c.0)),
                alerts::kind.eq(&a.kind),
                alerts::subject.eq(&a.subject),
                alerts::dedup_key.eq(&a.dedup_key),
                alerts::event_count.eq(i32::try_from(a.event_count).unwrap_or(i32::MAX)),
                alerts::triggered_at.eq(a.triggered_at),
                alerts::raised_at.eq(a.raised_at),
                alerts::details.eq(&a.details),
            ))
            .on_conflict(alerts::dedup_key)
            .do_nothing()
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn alerts(
        &mut self,
        clinic: ClinicId,
        before: Option<AlertKey>,
        limit: i64,
    ) -> Res<Page<SecurityAlert, AlertKey>> {
        let mut q = alerts::table
            .filter(alerts::clinic_id.eq(clinic.0))
            .into_boxed();
        if let Some(AlertKey { raised_at: at, id }) = before {
            q = q.filter(
                alerts::raised_at
                    .lt(at)
                    .or(alerts::raised_at.eq(at).and(alerts::id.lt(id.0))),
            );
        }
        let rows: Vec<AlertRow> = q
            .order((alerts::raised_at.desc(), alerts::id.desc()))
            .limit(Page::<(), ()>::fetch_size(limit))
            .load(self.conn)
            .map_err(db_error)?;
        let alerts = rows.into_iter().map(to_alert).collect();
        Ok(Page::from_rows(alerts, limit, |a: &SecurityAlert| {
            AlertKey {
                raised_at: a.raised_at,
                id: a.id,
            }
        }))
    }
}
