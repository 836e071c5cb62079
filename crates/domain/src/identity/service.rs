//! The identity service (`Auth`): its definition; its flows live beside it
//! (`auth`, `account_flows`, `mfa`, `phone`).

use crate::shared::{Core, transactions};

/// Sign-up, sign-in, sessions, MFA and the account flows (email, password, phone).
#[derive(Clone)]
pub struct Auth {
    pub(super) core: Core,
}

impl Auth {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(pub(super) AuthTx, committed);
}
