//! Newtype identifiers (UUIDv7), so one kind of id cannot be passed for another.

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A person's account (platform-wide).
    AccountId,
    /// A clinic: the tenant.
    ClinicId,
    /// An account's membership of one clinic.
    MembershipId,
    /// A signed-in session inside one clinic.
    SessionId,
);
