//! `OperatorsRepo` on PostgreSQL: the operators and their sessions (platform
//! tables), and the clinics' summaries through `salus_platform_clinics`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, OperatorId, OperatorSessionId};
use salus_domain::ports::operators::{
    ClinicSummary, Operator, OperatorRole, OperatorSession, OperatorsRepo,
};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::{operator_sessions, operators};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = operators)]
#[diesel(treat_none_as_null = true)]
struct OperatorRow {
    id: Uuid,
    email: String,
    role: String,
    password_hash: Option<String>,
    totp_secret: Option<Vec<u8>>,
    totp_confirmed_at: Option<DateTime<Utc>>,
    totp_last_step: Option<i64>,
    enrolment_token_hash: Option<Vec<u8>>,
    enrolment_expires_at: Option<DateTime<Utc>>,
    failed_logins: i32,
    locked_until: Option<DateTime<Utc>>,
    ends_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    created_by: String,
}

impl From<&Operator> for OperatorRow {
    fn from(o: &Operator) -> Self {
        Self {
            id: o.id.0,
            email: o.email.clone(),
            role: o.role.as_str().to_owned(),
            password_hash: o.password_hash.clone(),
            totp_secret: o.totp_secret.clone(),
            totp_confirmed_at: o.totp_confirmed_at,
            totp_last_step: o.totp_last_step,
            enrolment_token_hash: o.enrolment_token_hash.clone(),
            enrolment_expires_at: o.enrolment_expires_at,
            failed_logins: o.failed_logins,
            locked_until: o.locked_until,
            ends_at: o.ends_at,
            revoked_at: o.revoked_at,
            created_at: o.created_at,
            created_by: o.created_by.clone(),
        }
    }
}

impl TryFrom<OperatorRow> for Operator {
    type Error = DomainError;

    fn try_from(r: OperatorRow) -> Res<Self> {
        let role = OperatorRole::parse(&r.role)
            .ok_or_else(|| DomainError::Internal(format!("unknown operator role {}", r.role)))?;
        Ok(Self {
            id: OperatorId(r.id),
            email: r.email,
            role,
            password_hash: r.password_hash,
            totp_secret: r.totp_secret,
            totp_confirmed_at: r.totp_confirmed_at,
            totp_last_step: r.totp_last_step,
            enrolment_token_hash: r.enrolment_token_hash,
            enrolment_expires_at: r.enrolment_expires_at,
            failed_logins: r.failed_logins,
            locked_until: r.locked_until,
            ends_at: r.ends_at,
            revoked_at: r.revoked_at,
            created_at: r.created_at,
            created_by: r.created_by,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_sessions)]
struct SessionRow {
    id: Uuid,
    operator_id: Uuid,
    token_hash: Vec<u8>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRow> for OperatorSession {
    fn from(r: SessionRow) -> Self {
        Self {
            id: OperatorSessionId(r.id),
            operator_id: OperatorId(r.operator_id),
            token_hash: r.token_hash,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            idle_expires_at: r.idle_expires_at,
            absolute_expires_at: r.absolute_expires_at,
            revoked_at: r.revoked_at,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

#[derive(QueryableByName)]
struct SummaryRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    plan: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    member_count: i64,
    #[diesel(sql_type = BigInt)]
    patient_count: i64,
    #[diesel(sql_type = Bool)]
    closure_requested: bool,
}

fn operator(row: Option<OperatorRow>) -> Res<Option<Operator>> {
    row.map(Operator::try_from).transpose()
}

impl OperatorsRepo for PgTx<'_> {
    fn insert_operator(&mut self, o: &Operator) -> Res<bool> {
        diesel::insert_into(operators::table)
            .values(OperatorRow::from(o))
            .on_conflict(operators::email)
            .do_nothing()
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn operator_by_email(&mut self, email: &str) -> Res<Option<Operator>> {
        let row = operators::table
            .filter(operators::email.eq(email))
            .select(OperatorRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error)?;
        operator(row)
    }

    fn operator_by_enrolment(&mut self, token_hash: &[u8]) -> Res<Option<Operator>> {
        let row = operators::table
            .filter(operators::enrolment_token_hash.eq(token_hash))
            .select(OperatorRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error)?;
        operator(row)
    }

    fn operators(&mut self) -> Res<Vec<Operator>> {
        operators::table
            .order(operators::email.asc())
            .select(OperatorRow::as_select())
            .load(self.conn)
            .map_err(db_error)?
            .into_iter()
            .map(Operator::try_from)
            .collect()
    }

    fn update_operator(&mut self, o: &Operator) -> Res<()> {
        diesel::update(operators::table.find(o.id.0))
            .set(OperatorRow::from(o))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn advance_operator_totp_step(&mut self, operator: OperatorId, step: i64) -> Res<bool> {
        diesel::update(
            operators::table.find(operator.0).filter(
                operators::totp_last_step
                    .is_null()
                    .or(operators::totp_last_step.lt(step)),
            ),
        )
        .set(operators::totp_last_step.eq(step))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn insert_operator_session(&mut self, s: &OperatorSession) -> Res<()> {
        diesel::insert_into(operator_sessions::table)
            .values(SessionRow {
                id: s.id.0,
                operator_id: s.operator_id.0,
                token_hash: s.token_hash.clone(),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                idle_expires_at: s.idle_expires_at,
                absolute_expires_at: s.absolute_expires_at,
                revoked_at: s.revoked_at,
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
            })
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn operator_session(&mut self, token_hash: &[u8]) -> Res<Option<(OperatorSession, Operator)>> {
        let row: Option<(SessionRow, OperatorRow)> = operator_sessions::table
            .inner_join(operators::table)
            .filter(operator_sessions::token_hash.eq(token_hash))
            .select((SessionRow::as_select(), OperatorRow::as_select()))
            .first(self.conn)
            .optional()
            .map_err(db_error)?;
        row.map(|(s, o)| Ok((OperatorSession::from(s), Operator::try_from(o)?)))
            .transpose()
    }

    fn touch_operator_session(
        &mut self,
        session: OperatorSessionId,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(operator_sessions::table.find(session.0))
            .set((
                operator_sessions::last_seen_at.eq(now),
                operator_sessions::idle_expires_at.eq(idle_expires_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn revoke_operator_session(
        &mut self,
        session: OperatorSessionId,
        now: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(
            operator_sessions::table
                .find(session.0)
                .filter(operator_sessions::revoked_at.is_null()),
        )
        .set(operator_sessions::revoked_at.eq(now))
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn revoke_operator_sessions(&mut self, operator: OperatorId, now: DateTime<Utc>) -> Res<usize> {
        diesel::update(
            operator_sessions::table
                .filter(operator_sessions::operator_id.eq(operator.0))
                .filter(operator_sessions::revoked_at.is_null())
                .filter(operator_sessions::idle_expires_at.gt(now))
                .filter(operator_sessions::absolute_expires_at.gt(now)),
        )
        .set(operator_sessions::revoked_at.eq(now))
        .execute(self.conn)
        .map_err(db_error)
    }

    fn clinic_summaries(&mut self, only: Option<ClinicId>) -> Res<Vec<ClinicSummary>> {
        let mut rows: Vec<SummaryRow> = diesel::sql_query(
            "SELECT id, name, plan, created_at, member_count, patient_count, closure_requested
               FROM public.salus_platform_clinics($1)",
        )
        .bind::<Nullable<SqlUuid>, _>(only.map(|c| c.0))
        .cached()
        .load(self.conn)
        .map_err(db_error)?;
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(rows
            .into_iter()
            .map(|r| ClinicSummary {
                id: ClinicId(r.id),
                name: r.name,
                plan: r.plan,
                created_at: r.created_at,
                members: r.member_count,
                patients: r.patient_count,
                closure_requested: r.closure_requested,
            })
            .collect())
    }
}
