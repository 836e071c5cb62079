//! The permission catalogue and the built-in roles.
//!
//! One permission per action on each resource, with a stable dotted code that the
//! API publishes (`GET /api/v1/permissions`) and that each protected operation of
//! the OpenAPI document declares (`x-permission`). Permissions are resolved on every
//! request from the session's membership, never frozen into a token.

/// A member's role in a clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs the clinic; at least one per clinic.
    Owner,
    /// Manages staff and settings.
    Administrator,
    /// Sees patients and writes clinical notes.
    Practitioner,
    /// Clinical support.
    Nurse,
    /// Demographics and scheduling, no clinical data.
    Receptionist,
    /// Reads the audit trail only.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Administrator,
        Role::Practitioner,
        Role::Nurse,
        Role::Receptionist,
        Role::Auditor,
    ];

    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Administrator => "administrator",
            Self::Practitioner => "practitioner",
            Self::Nurse => "nurse",
            Self::Receptionist => "receptionist",
            Self::Auditor => "auditor",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Privileged roles must use MFA whatever the clinic setting.
    pub fn requires_mfa(self) -> bool {
        matches!(self, Self::Owner | Self::Administrator)
    }
}

macro_rules! permissions {
    ($($variant:ident = $code:literal : $description:literal),* $(,)?) => {
        /// An action a member may be allowed to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission {
            $(
                #[doc = $description]
                $variant,
            )*
        }

        impl Permission {
            /// Every permission, in catalogue order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            /// The stable dotted code.
            pub fn code(self) -> &'static str {
                match self {
                    $(Permission::$variant => $code,)*
                }
            }

            /// What it allows.
            pub fn description(self) -> &'static str {
                match self {
                    $(Permission::$variant => $description,)*
                }
            }
        }
    };
}

permissions! {
    PatientsRead = "patients.read": "Read patient demographics (no clinical data).",
    PatientsCreate = "patients.create": "Register new patients.",
    PatientsUpdate = "patients.update": "Change patient demographics.",
    PatientsArchive = "patients.archive": "Archive and restore patient records.",
    PatientsExport = "patients.export": "Export a patient's whole record, clinical data included (right of access and portability).",
    PatientsArchiveRead = "patients.archive_read": "Read a record in the records archive (break-the-glass: with a stated reason, audited, the owners emailed).",
    PatientsErase = "patients.erase": "Decide a patient's erasure request: refuse it, or erase every row of the patient once the record's retention has ended.",
    ClinicalRead = "clinical.read": "Read medical history and clinical notes.",
    ClinicalWrite = "clinical.write": "Write clinical notes and medical history.",
    AppointmentsRead = "appointments.read": "See appointments and the schedule.",
    AppointmentsCreate = "appointments.create": "Book appointments.",
    AppointmentsUpdate = "appointments.update": "Reschedule and change appointment status.",
    AppointmentsCancel = "appointments.cancel": "Cancel appointments.",
    AppointmentsOverride = "appointments.override": "Book outside a practitioner's working hours.",
    QueueManage = "queue.manage": "Check patients in and run the waiting queue.",
    StaffRead = "staff.read": "List the clinic's members and invitations.",
    StaffInvite = "staff.invite": "Invite new members.",
    StaffUpdate = "staff.update": "Change members' details.",
    StaffDeactivate = "staff.deactivate": "Deactivate and reactivate members.",
    RolesManage = "roles.manage": "Create, change and delete custom roles.",
    RolesAssign = "roles.assign": "Assign roles to members.",
    PermissionsOverride = "permissions.override": "Grant or deny single permissions to a member.",
    SessionsRevoke = "sessions.revoke": "End other members' sessions.",
    AuditRead = "audit.read": "Read the audit trail and security alerts.",
    AuditExport = "audit.export": "Export the whole audit trail.",
    ClinicRead = "clinic.read": "See the clinic's settings and plan.",
    ClinicUpdate = "clinic.update": "Change the clinic's settings.",
    ClinicClose = "clinic.close": "Ask for the clinic's closure (every record deleted at the end of a grace period) or cancel it.",
    IntegrationsManage = "integrations.manage": "Create, rotate and revoke the clinic's service accounts and their API keys (machine access for integration partners).",
    WebhooksManage = "webhooks.manage": "Subscribe endpoints to the clinic's events (webhooks), rotate their secrets, read their delivery log and redeliver.",
    DataExport = "data.export": "Export all of the clinic's data.",
}

impl Permission {
    /// Parses a dotted code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.code() == code)
    }

    fn bit(self) -> u64 {
        1 << (self as u8)
    }
}

/// A set of permissions (a bit set: cheap to copy and compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u64);

impl PermissionSet {
    /// No permission.
    pub const EMPTY: Self = Self(0);

    /// Every permission.
    pub fn all() -> Self {
        Self::of(Permission::ALL)
    }

    /// The set of these permissions.
    pub fn of(permissions: &[Permission]) -> Self {
        Self(permissions.iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Union.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Difference.
    pub fn minus(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// The permissions in both.
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Whether every permission of `self` is in `other`.
    pub fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions, in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }
}

impl PermissionSet {
    /// The set of the known codes among `codes` (unknown codes are ignored).
    pub fn from_codes<S: AsRef<str>>(codes: &[S]) -> Self {
        let known: Vec<Permission> = codes
            .iter()
            .filter_map(|c| Permission::parse(c.as_ref()))
            .collect();
        Self::of(&known)
    }

    /// The dotted codes, in catalogue order.
    pub fn codes(self) -> Vec<String> {
        self.iter().map(|p| p.code().to_owned()).collect()
    }
}

/// What a membership holds beyond its built-in role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extras {
    /// Permissions of the custom roles assigned.
    pub custom: PermissionSet,
    /// Permissions granted one by one.
    pub grants: PermissionSet,
    /// Permissions denied one by one (deny wins).
    pub denies: PermissionSet,
}

/// Effective permissions: built-in role ∪ custom roles ∪ grants − denies.
pub fn effective(role: Role, extras: Extras) -> PermissionSet {
    role_permissions(role)
        .union(extras.custom)
        .union(extras.grants)
        .minus(extras.denies)
}

/// The escalation guard behind every assignment: nobody changes themselves, acts on
/// someone who holds more than they do, or grants what they do not hold.
pub fn check_grant(
    actor: PermissionSet,
    is_self: bool,
    target_now: PermissionSet,
    granted: PermissionSet,
) -> Result<(), crate::DomainError> {
    if is_self {
        return Err(crate::DomainError::forbidden(
            "self_change_forbidden",
            "Nobody changes their own roles, overrides or status.",
        ));
    }
    if !target_now.is_subset_of(actor) {
        return Err(crate::DomainError::forbidden(
            "insufficient_permissions",
            "This member holds permissions you do not; you cannot change them.",
        ));
    }
    if !granted.is_subset_of(actor) {
        return Err(crate::DomainError::forbidden(
            "insufficient_permissions",
            "You cannot grant permissions you do not hold.",
        ));
    }
    Ok(())
}

/// The permissions of a built-in role: minimal for its job.
pub fn role_permissions(role: Role) -> PermissionSet {
    use Permission::*;
    match role {
        Role::Owner => PermissionSet::all(),
        Role::Administrator => PermissionSet::of(&[
            PatientsRead,
            AppointmentsRead,
            StaffRead,
            StaffInvite,
            StaffUpdate,
            StaffDeactivate,
            RolesManage,
            RolesAssign,
            PermissionsOverride,
            SessionsRevoke,
            AuditRead,
            ClinicRead,
            ClinicUpdate,
            IntegrationsManage,
            WebhooksManage,
        ]),
        Role::Practitioner => PermissionSet::of(&[
            PatientsRead,
            PatientsCreate,
            PatientsUpdate,
            ClinicalRead,
            ClinicalWrite,
            AppointmentsRead,
            AppointmentsCreate,
            AppointmentsUpdate,
            AppointmentsCancel,
            AppointmentsOverride,
            QueueManage,
            StaffRead,
            ClinicRead,
        ]),
        Role::Nurse => PermissionSet::of(&[
            PatientsRead,
            PatientsUpdate,
            ClinicalRead,
            ClinicalWrite,
            AppointmentsRead,
            QueueManage,
            ClinicRead,
        ]),
        Role::Receptionist => PermissionSet::of(&[
            PatientsRead,
            PatientsCreate,
            PatientsUpdate,
            AppointmentsRead,
            AppointmentsCreate,
            AppointmentsUpdate,
            AppointmentsCancel,
            QueueManage,
            ClinicRead,
        ]),
        Role::Auditor => PermissionSet::of(&[AuditRead, AuditExport, ClinicRead]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut codes: Vec<&str> = Permission::ALL.iter().map(|p| p.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Permission::ALL.len());
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.code()), Some(*p));
        }
        assert!(Permission::ALL.len() <= 64, "the bit set holds 64");
    }

    #[test]
    fn roles_parse_back_and_only_owners_and_administrators_must_use_mfa() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                role.requires_mfa(),
                matches!(role, Role::Owner | Role::Administrator),
                "{role:?}"
            );
        }
        assert_eq!(Role::parse("superuser"), None);
        assert_eq!(Role::parse("Owner"), None, "stored names are lower case");
    }

    #[test]
    fn a_permission_named_twice_is_held_once() {
        let read = Permission::PatientsRead;
        assert_eq!(PermissionSet::of(&[read, read]), PermissionSet::of(&[read]));
        assert!(PermissionSet::from_codes(&["patients.read", "patients.read"]).contains(read));
    }

    #[test]
    fn a_set_reads_back_as_its_codes_in_catalogue_order_without_unknown_ones() {
        let set = PermissionSet::from_codes(&["audit.read", "no.such", "patients.read"]);
        assert_eq!(set.codes(), ["patients.read", "audit.read"]);
    }

    #[test]
    fn effective_permissions_are_the_role_and_custom_roles_and_grants_less_denies() {
        use Permission::*;
        let extras = Extras {
            custom: PermissionSet::of(&[AuditRead]),
            grants: PermissionSet::of(&[PatientsExport]),
            denies: PermissionSet::of(&[PatientsCreate]),
        };
        let got = effective(Role::Receptionist, extras);
        let expected = role_permissions(Role::Receptionist)
            .iter()
            .filter(|p| *p != PatientsCreate)
            .chain([AuditRead, PatientsExport])
            .collect::<Vec<_>>();
        assert_eq!(got, PermissionSet::of(&expected));
        let granted_and_denied = Extras {
            grants: PermissionSet::of(&[AuditRead]),
            denies: PermissionSet::of(&[AuditRead]),
            ..Extras::default()
        };
        assert!(
            !effective(Role::Nurse, granted_and_denied).contains(AuditRead),
            "deny wins"
        );
    }

    #[test]
    fn receptionists_have_no_clinical_access_and_auditors_only_audit() {
        let receptionist = role_permissions(Role::Receptionist);
        assert!(!receptionist.contains(Permission::ClinicalRead));
        assert!(!receptionist.contains(Permission::ClinicalWrite));
        let auditor = role_permissions(Role::Auditor);
        assert_eq!(
            auditor.iter().map(Permission::code).collect::<Vec<_>>(),
            ["audit.read", "audit.export", "clinic.read"]
        );
        for role in Role::ALL {
            assert!(role_permissions(role).is_subset_of(role_permissions(Role::Owner)));
        }
    }
}
