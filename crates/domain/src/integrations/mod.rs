//! Service accounts (issue 19): a clinic's machine callers. Members with
//! `integrations.manage` create them (business plan, step-up) with a name, a
//! subset of their own permissions taken from [`GRANTABLE`], an end (90 days
//! by default, a year at most) and optionally the networks they may call from;
//! each acts through API keys ([`api_key`]), shown once, stored as a hash,
//! rotated with an overlap, revoked at once. A key's request is checked in the
//! transaction that acts ([`authenticate`]); the managers are emailed 14 days
//! before an account ends ([`Integrations::notify_ending`]).

pub mod api_key;
pub mod authenticate;
pub mod networks;

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;
use crate::access::{Permission, PermissionSet};
use crate::actor::Actor;
use crate::audit::actions;
use crate::audit::record::AuditRecord;
use crate::identity::model::{ClientInfo, Role};
use crate::ids::{ApiKeyId, ClinicId, ServiceAccountId};
use crate::ports::integrations::{ApiKey, ServiceAccount};
use crate::shared::{Core, transactions};
use crate::store::{IntegrationsTx, Scope};

/// What a service account may be given: machine work on the clinic's records.
/// Never staff, role, integration, webhook or audit-export management, the
/// clinic's settings or closure, nor what needs a person: a clinical note is
/// signed by its author, an erasure decided by a member, and every
/// step-up action (exports, the records archive) needs a second factor a
/// machine does not have.
pub const GRANTABLE: &[Permission] = &[
    Permission::PatientsRead,
    Permission::PatientsCreate,
    Permission::PatientsUpdate,
    Permission::PatientsArchive,
    Permission::ClinicalRead,
    Permission::AppointmentsRead,
    Permission::AppointmentsCreate,
    Permission::AppointmentsUpdate,
    Permission::AppointmentsCancel,
    Permission::AppointmentsOverride,
    Permission::QueueManage,
    Permission::StaffRead,
    Permission::AuditRead,
    Permission::ClinicRead,
];

/// An account's life when none is asked for.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest life of an account.
pub const MAX_DAYS: i64 = 365;
/// How long the previous keys keep working after a rotation, unless asked.
pub const DEFAULT_OVERLAP_HOURS: i64 = 24;
/// The longest overlap of a rotation.
pub const MAX_OVERLAP_HOURS: i64 = 7 * 24;
/// Live service accounts a clinic may have.
pub const MAX_ACCOUNTS: i64 = 50;
/// How long before its end an account's managers are told.
pub const NOTICE: Duration = Duration::days(14);
/// The longest name.
pub const MAX_NAME_CHARS: usize = 100;

/// A new service account, as a member asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceAccount {
    /// What the clinic calls it.
    pub name: String,
    /// What its keys may do (codes of [`GRANTABLE`] permissions).
    pub permissions: Vec<String>,
    /// Days until it ends ([`DEFAULT_DAYS`] when none).
    pub expires_in_days: Option<i64>,
    /// CIDR blocks it may call from (any address when empty).
    pub allowed_networks: Vec<String>,
}

/// An account with its keys (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountWithKeys {
    /// The account.
    pub account: ServiceAccount,
    /// Its keys, oldest first.
    pub keys: Vec<ApiKey>,
}

/// A key just issued with its text, shown this once. Its `Debug` hides the text.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyWithSecret {
    /// The key.
    pub key: ApiKey,
    /// The whole key, `salus_sk_...`.
    pub secret: String,
}

impl std::fmt::Debug for KeyWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyWithSecret")
            .field("key", &self.key)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

fn name_of(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::invalid(
            "name",
            "length",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// The permissions asked for: known, grantable, at least one, each once.
fn permissions_of(codes: &[String]) -> Result<PermissionSet, DomainError> {
    if codes.is_empty() {
        return Err(DomainError::invalid(
            "permissions",
            "length",
            "must name at least one permission",
        ));
    }
    let mut set = PermissionSet::EMPTY;
    for code in codes {
        let p = Permission::parse(code).ok_or_else(|| {
            DomainError::invalid(
                "permissions",
                "unknown_permission",
                format!("{code} is not a permission"),
            )
        })?;
        if !GRANTABLE.contains(&p) {
            return Err(DomainError::invalid(
                "permissions",
                "not_grantable",
                format!("{code} cannot be given to a service account"),
            ));
        }
        if set.contains(p) {
            return Err(DomainError::invalid(
                "permissions",
                "duplicate",
                format!("names {code} twice"),
            ));
        }
        set = set.union(PermissionSet::of(&[p]));
    }
    Ok(set)
}

fn days_of(days: Option<i64>) -> Result<Duration, DomainError> {
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(DomainError::invalid(
            "expires_in_days",
            "range",
            format!("must be 1 to {MAX_DAYS}"),
        ));
    }
    Ok(Duration::days(days))
}

fn overlap_of(hours: Option<i64>) -> Result<Duration, DomainError> {
    let hours = hours.unwrap_or(DEFAULT_OVERLAP_HOURS);
    if !(0..=MAX_OVERLAP_HOURS).contains(&hours) {
        return Err(DomainError::invalid(
            "overlap_hours",
            "range",
            format!("must be 0 to {MAX_OVERLAP_HOURS}"),
        ));
    }
    Ok(Duration::hours(hours))
}

/// Refuses unless the clinic is on the business plan.
fn require_business(plan: &str) -> Result<(), DomainError> {
    crate::plans::require_business(plan, "Service accounts")
}

/// Whether `account` can act at `now`.
fn is_live(account: &ServiceAccount, now: DateTime<Utc>) -> bool {
    account.revoked_at.is_none() && now < account.expires_at
}

/// The clinic's service accounts and their keys.
#[derive(Clone)]
pub struct Integrations {
    core: Core,
}

impl Integrations {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(IntegrationsTx);

    /// A new key of `account`, ending with it.
    fn new_key(
        &self,
        tx: &mut dyn IntegrationsTx,
        clinic: ClinicId,
        account: &ServiceAccount,
        now: DateTime<Utc>,
    ) -> Result<KeyWithSecret, DomainError> {
        let id: ApiKeyId = self.core.new_id();
        let issued = api_key::issue(self.core.random(), clinic, id);
        let key = ApiKey {
            id,
            service_account: account.id,
            created_at: now,
            expires_at: account.expires_at,
            revoked_at: None,
            last_used_at: None,
            last_used_ip: None,
        };
        tx.insert_api_key(clinic, &key, &issued.sha256)?;
        Ok(KeyWithSecret {
            key,
            secret: issued.text,
        })
    }

    /// Creates a service account and its first key (business plan, step-up):
    /// its permissions a subset of the creator's.
    pub fn create(
        &self,
        actor: &Actor,
        new: NewServiceAccount,
        client: &ClientInfo,
    ) -> Result<(AccountWithKeys, KeyWithSecret), DomainError> {
        actor.require(Permission::IntegrationsManage)?;
        let now = self.core.now();
        actor.require_step_up(now)?;
        let name = name_of(&new.name)?;
        let permissions = permissions_of(&new.permissions)?;
        let life = days_of(new.expires_in_days)?;
        let allowed_networks = networks::parse_all(&new.allowed_networks)?;
        if !permissions.is_subset_of(actor.permissions) {
            return Err(DomainError::forbidden(
                "insufficient_permissions",
                "You cannot give a service account permissions you do not hold.",
            ));
        }
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            let plan = tx.clinic(clinic)?.ok_or(DomainError::NotFound)?.plan;
            require_business(&plan)?;
            if tx.count_live_service_accounts(clinic, now)? >= MAX_ACCOUNTS {
                return Err(DomainError::Conflict {
                    code: "service_account_limit",
                    detail: format!(
                        "A clinic has at most {MAX_ACCOUNTS} live service accounts; revoke one first."
                    ),
                });
            }
            let account = ServiceAccount {
                id: self.core.new_id(),
                name,
                permissions,
                allowed_networks,
                created_by: actor.membership_id,
                created_at: now,
                expires_at: now + life,
                revoked_at: None,
            };
            tx.insert_service_account(clinic, &account)?;
            let key = self.new_key(tx, clinic, &account, now)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::SERVICE_ACCOUNT_CREATED)
                    .on("service_account", account.id)
                    .detail("name", account.name.clone())
                    .detail("permissions", account.permissions.codes())
                    .detail("expires_at", account.expires_at.to_rfc3339())
                    .detail("allowed_networks", account.allowed_networks.clone())
                    .detail("key", key.key.id.to_string()),
                client,
            )?;
            Ok((
                AccountWithKeys {
                    account,
                    keys: vec![key.key.clone()],
                },
                key,
            ))
        })
    }

    /// The clinic's service accounts with their keys (no secret), oldest first.
    pub fn list(&self, actor: &Actor) -> Result<Vec<AccountWithKeys>, DomainError> {
        actor.require(Permission::IntegrationsManage)?;
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            let mut keys = tx.api_keys(clinic, None)?;
            Ok(tx
                .service_accounts(clinic)?
                .into_iter()
                .map(|account| {
                    let (mine, rest) = keys
                        .drain(..)
                        .partition(|k: &ApiKey| k.service_account == account.id);
                    keys = rest;
                    AccountWithKeys {
                        account,
                        keys: mine,
                    }
                })
                .collect())
        })
    }

    /// One service account with its keys.
    pub fn get(&self, actor: &Actor, id: ServiceAccountId) -> Result<AccountWithKeys, DomainError> {
        actor.require(Permission::IntegrationsManage)?;
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            let account = tx
                .service_account(clinic, id)?
                .ok_or(DomainError::NotFound)?;
            let keys = tx.api_keys(clinic, Some(id))?;
            Ok(AccountWithKeys { account, keys })
        })
    }

    /// Issues a new key to a live account (step-up): its previous keys end
    /// after `overlap_hours` ([`DEFAULT_OVERLAP_HOURS`] when none; 0 ends them now).
    pub fn rotate(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
        overlap_hours: Option<i64>,
        client: &ClientInfo,
    ) -> Result<KeyWithSecret, DomainError> {
        actor.require(Permission::IntegrationsManage)?;
        let now = self.core.now();
        actor.require_step_up(now)?;
        let overlap = overlap_of(overlap_hours)?;
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            let account = tx
                .service_account(clinic, id)?
                .ok_or(DomainError::NotFound)?;
            if !is_live(&account, now) {
                return Err(DomainError::Conflict {
                    code: "service_account_ended",
                    detail: "This service account is revoked or has ended: create a new one."
                        .into(),
                });
            }
            let plan = tx.clinic(clinic)?.ok_or(DomainError::NotFound)?.plan;
            require_business(&plan)?;
            let key = self.new_key(tx, clinic, &account, now)?;
            let ended = tx.end_api_keys(clinic, id, key.key.id, now + overlap)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::SERVICE_ACCOUNT_ROTATED)
                    .on("service_account", id)
                    .detail("key", key.key.id.to_string())
                    .detail("previous_keys_end_at", (now + overlap).to_rfc3339())
                    .detail("previous_keys", ended),
                client,
            )?;
            Ok(key)
        })
    }

    /// Revokes one key at once.
    pub fn revoke_key(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
        key: ApiKeyId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::IntegrationsManage)?;
        let now = self.core.now();
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            if !tx.revoke_api_key(clinic, id, key, now)? {
                return Err(DomainError::NotFound);
            }
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::SERVICE_ACCOUNT_CREDENTIAL_REVOKED)
                    .on("service_account", id)
                    .detail("key", key.to_string()),
                client,
            )
        })
    }

    /// Revokes an account and every key of it at once.
    pub fn revoke(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::IntegrationsManage)?;
        let now = self.core.now();
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            if !tx.revoke_service_account(clinic, id, now)? {
                return Err(DomainError::NotFound);
            }
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::SERVICE_ACCOUNT_REVOKED).on("service_account", id),
                client,
            )
        })
    }

    /// Emails the owners and administrators of every clinic whose service
    /// account ends within [`NOTICE`], once per account; how many accounts.
    pub fn notify_ending(&self) -> Result<usize, DomainError> {
        let now = self.core.now();
        let ending = self.tx(Scope::Platform, |tx| {
            tx.service_accounts_ending(now, now + NOTICE, 100)
        })?;
        let mut told = 0;
        for (clinic, account) in ending {
            if self.tx(Scope::Clinic(clinic), |tx| {
                self.tell_ending(tx, clinic, &account, now)
            })? {
                told += 1;
            }
        }
        Ok(told)
    }

    fn tell_ending(
        &self,
        tx: &mut dyn IntegrationsTx,
        clinic: ClinicId,
        account: &ServiceAccount,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        if !tx.mark_expiry_notified(clinic, account.id, now)? {
            return Ok(false);
        }
        let body = format!(
            "The service account \"{}\" ({}) ends on {} UTC; its API keys stop working then.\n\n\
             To keep the integration running, create a new service account \
             (POST {}/api/v1/service-accounts), give its key to the partner, \
             and revoke the old one once the new key is in use.\n",
            account.name,
            account.id,
            account.expires_at.format("%Y-%m-%d %H:%M"),
            self.core.settings().public_url,
        );
        let managers = tx
            .members(clinic)?
            .into_iter()
            .filter(|m| m.active && matches!(m.role, Role::Owner | Role::Administrator));
        for manager in managers {
            self.core.email(
                tx,
                &manager.email,
                "Salus: a service account ends in 14 days",
                body.clone(),
            )?;
        }
        self.core.audit(
            tx,
            AuditRecord::account(actions::SERVICE_ACCOUNT_EXPIRY_NOTICE, None)
                .in_clinic(Some(clinic))
                .on("service_account", account.id)
                .detail("expires_at", account.expires_at.to_rfc3339()),
            &ClientInfo::default(),
        )?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn field_code(e: DomainError) -> String {
        match e {
            DomainError::Invalid(problems) => problems[0].code.to_string(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn only_grantable_permissions_each_once_and_at_least_one() {
        assert!(permissions_of(&codes(&["patients.read", "appointments.create"])).is_ok());
        for (asked, code) in [
            (vec![], "length"),
            (vec!["staff.invite"], "not_grantable"),
            (vec!["integrations.manage"], "not_grantable"),
            (vec!["webhooks.manage"], "not_grantable"),
            (vec!["audit.export"], "not_grantable"),
            (vec!["clinical.write"], "not_grantable"),
            (vec!["patients.read", "patients.read"], "duplicate"),
            (vec!["patients.fly"], "unknown_permission"),
        ] {
            let e = permissions_of(&codes(&asked)).unwrap_err();
            assert_eq!(field_code(e), code, "{asked:?}");
        }
    }

    #[test]
    fn no_management_permission_is_grantable() {
        for p in Permission::ALL {
            let code = p.code();
            let management = [
                "staff.",
                "roles.",
                "permissions.",
                "sessions.",
                "integrations.",
                "webhooks.",
            ]
            .iter()
            .any(|prefix| code.starts_with(prefix))
                && *p != Permission::StaffRead;
            if management
                || matches!(
                    code,
                    "audit.export" | "data.export" | "clinic.close" | "clinic.update"
                )
            {
                assert!(!GRANTABLE.contains(p), "{code} must not be grantable");
            }
        }
    }

    #[test]
    fn an_account_lives_one_to_365_days_ninety_by_default() {
        assert_eq!(days_of(None).unwrap(), Duration::days(90));
        assert_eq!(days_of(Some(1)).unwrap(), Duration::days(1));
        assert_eq!(days_of(Some(365)).unwrap(), Duration::days(365));
        for bad in [0, -1, 366] {
            assert_eq!(field_code(days_of(Some(bad)).unwrap_err()), "range");
        }
    }

    #[test]
    fn an_overlap_is_zero_to_seven_days_a_day_by_default() {
        assert_eq!(overlap_of(None).unwrap(), Duration::hours(24));
        assert_eq!(overlap_of(Some(0)).unwrap(), Duration::zero());
        assert_eq!(overlap_of(Some(168)).unwrap(), Duration::hours(168));
        for bad in [-1, 169] {
            assert_eq!(field_code(overlap_of(Some(bad)).unwrap_err()), "range");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name_of("  Lab  ").unwrap(), "Lab");
        assert!(name_of("   ").is_err());
        assert!(name_of(&"x".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(name_of(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
