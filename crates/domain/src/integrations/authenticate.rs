//! The per-request check of an API key, in the transaction that acts (as a
//! session's is): the key must be the stored one (its hash, compared in
//! constant time), neither revoked nor ended, its account live, the clinic on
//! the business plan and the caller inside the account's networks. Nothing of
//! a key is remembered between requests, so a revocation holds from the next.

use chrono::{DateTime, Duration, Utc};

use super::api_key::PresentedKey;
use super::{GRANTABLE, is_live, networks, require_business};
use crate::DomainError;
use crate::access::PermissionSet;
use crate::actor::{Actor, ActorKind};
use crate::ids::{AccountId, MembershipId, SessionId};
use crate::ports::integrations::IntegrationsRepo;

/// How often a key's last use is written (as a session's activity is).
const LAST_USE_INTERVAL: Duration = Duration::minutes(1);

/// The actor of a presented key used from `client_ip` at `now`.
pub fn check_key(
    tx: &mut dyn IntegrationsRepo,
    presented: &PresentedKey,
    client_ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Actor, DomainError> {
    let ctx = tx
        .key_context(presented.clinic, presented.id)?
        .ok_or(DomainError::Unauthenticated)?;
    let key = &ctx.key;
    if !presented.matches(&ctx.secret_sha256)
        || key.revoked_at.is_some()
        || now >= key.expires_at
        || !is_live(&ctx.account, now)
    {
        return Err(DomainError::Unauthenticated);
    }
    require_business(&ctx.plan)?;
    if !networks::admits(&ctx.account.allowed_networks, client_ip) {
        return Err(DomainError::forbidden(
            "client_address_not_allowed",
            "This service account may not call from this address.",
        ));
    }
    let stale = key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USE_INTERVAL);
    if stale || key.last_used_ip.as_deref() != client_ip {
        tx.touch_api_key(presented.clinic, key.id, now, client_ip)?;
    }
    let grantable = PermissionSet::of(GRANTABLE);
    let account = ctx.account.id.uuid();
    Ok(Actor {
        account_id: AccountId(account),
        clinic_id: presented.clinic,
        membership_id: MembershipId(account),
        session_id: SessionId(key.id.uuid()),
        kind: ActorKind::Service,
        mfa_at: None,
        mfa_enrolled: false,
        mfa_required: false,
        permissions: ctx
            .account
            .permissions
            .minus(ctx.account.permissions.minus(grantable)),
        purpose_of_use_required: ctx.purpose_of_use_required,
    })
}
