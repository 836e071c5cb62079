//! Every audit action, declared once: services record them by these names, the
//! alert detectors count them by these names, and a test reads the sources for any
//! action written out instead, so a rename cannot silently stop a detector matching.

/// Declares each action as a constant, and the catalogue of them all.
macro_rules! actions {
    ($($name:ident = $code:literal: $meaning:literal,)*) => {
        $(
            #[doc = $meaning]
            pub const $name: &str = $code;
        )*

        /// Every action with what it records.
        pub const ALL: &[(&str, &str)] = &[$(($code, $meaning),)*];
    };
}

actions! {
    ACCESS_DENIED = "access.denied": "A request refused for a missing permission (403), with the permission.",
    ACCESS_NOT_FOUND = "access.not_found": "A request for an id that names nothing in the clinic (404).",
    ACCOUNT_EMAIL_CHANGE_REQUESTED = "account.email_change_requested": "A member asked to change their email address.",
    ACCOUNT_EMAIL_CHANGED = "account.email_changed": "A member's new email address was confirmed.",
    ACCOUNT_EMAIL_VERIFIED = "account.email_verified": "An address was verified.",
    ACCOUNT_PASSWORD_CHANGED = "account.password_changed": "A member changed their password.",
    ACCOUNT_PASSWORD_RESET = "account.password_reset": "A password was reset with an emailed code.",
    ACCOUNT_PASSWORD_RESET_REQUESTED = "account.password_reset_requested": "A password reset was asked for.",
    ACCOUNT_PHONE_VERIFIED = "account.phone_verified": "A phone number was verified.",
    APPOINTMENT_CLINICAL_READ = "appointment.clinical_read": "An appointment was read with its reason.",
    APPOINTMENT_CREATED = "appointment.created": "An appointment was booked.",
    APPOINTMENT_LIST_CLINICAL_READ = "appointment.list_clinical_read": "A list of appointments was read with their reasons (patients named).",
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled": "An appointment moved.",
    APPOINTMENT_STATUS_CHANGED = "appointment.status_changed": "An appointment's status changed.",
    AUDIT_EXPORTED = "audit.exported": "The clinic's audit trail was exported.",
    AUTH_ACCOUNT_LOCKED = "auth.account_locked": "An account locked after repeated failures.",
    AUTH_LOGIN_EMAIL_UNVERIFIED = "auth.login_email_unverified": "A sign-in of an address not verified yet.",
    AUTH_LOGIN_FAILED = "auth.login_failed": "A sign-in failed (with a reason category).",
    AUTH_LOGIN_SUCCEEDED = "auth.login_succeeded": "A sign-in succeeded.",
    AUTH_LOGOUT = "auth.logout": "A session was signed out.",
    AUTH_LOGOUT_OTHERS = "auth.logout_others": "A member signed their other sessions out.",
    AUTH_REFRESH_TOKEN_REUSE = "auth.refresh_token_reuse": "A refresh token was used twice; the session was revoked.",
    AUTH_SIGN_UP_REQUESTED = "auth.sign_up_requested": "A clinic sign-up was asked for.",
    AUTH_VERIFICATION_RESENT = "auth.verification_resent": "A new verification code was asked for.",
    BACKUP_LISTED = "backup.listed": "An operator listed the backups (`salus backup list`).",
    BACKUP_RESTORED = "backup.restored": "An operator restored a backup into a new data directory (`salus backup restore`).",
    BACKUP_TAKEN = "backup.taken": "An operator took a backup (`salus backup run`), with its label and type.",
    BACKUP_VERIFIED = "backup.verified": "A restore drill ran on a backup (`salus backup verify`): verified or failed, with the restore time, the WAL lag and what failed.",
    BACKUP_DESTRUCTIONS_REAPPLIED = "backup.destructions_reapplied": "A restored copy had every destruction of the register re-applied before use, with the count.",
    CERTIFICATE_BACKUPS_EXPIRED = "certificate.backups_expired": "No backup holds a destroyed clinic any more: the second certificate was issued.",
    CLINIC_CLOSURE_CANCELLED = "clinic.closure_cancelled": "An owner withdrew the clinic's closure during its grace period.",
    CLINIC_CLOSURE_EXECUTED = "clinic.closure_executed": "The clinic's closure began: the last event of its audit chain, sealed before the chain is deleted.",
    CLINIC_CLOSURE_REQUESTED = "clinic.closure_requested": "An owner asked for the clinic's closure, with the day it will be destroyed.",
    CLINIC_CREATED = "clinic.created": "A clinic was created.",
    CLINIC_EXPORT_CREATED = "clinic.export_created": "An export of every record of the clinic was asked for (encryption mode, expiry).",
    CLINIC_EXPORT_DOWNLOADED = "clinic.export_downloaded": "An export's archive was downloaded in full, with its part and row counts and the manifest's SHA-256.",
    CLINIC_EXPORT_STARTED = "clinic.export_started": "An export's download began.",
    CLINIC_DESTROYED = "clinic.destroyed": "Every row and key of a closed clinic was destroyed; the certificate's id and the audit head's hash (platform chain).",
    CLINIC_PLAN_CHANGED = "clinic.plan_changed": "The clinic's plan changed.",
    CLINIC_SETTINGS_CHANGED = "clinic.settings_changed": "The clinic's settings changed.",
    INCIDENT_AUTHORITY_NOTIFIED = "incident.authority_notified": "An operator recorded the supervisory authority's notification of an incident (date, reference).",
    INCIDENT_BREACH_CONFIRMED = "incident.breach_confirmed": "An operator confirmed a breach of personal data in an incident: the 72-hour clocks start.",
    INCIDENT_CLINIC_LIST_READ = "incident.clinic_list_read": "A member read the incidents that concern their clinic.",
    INCIDENT_CLINIC_NOTIFIED = "incident.clinic_notified": "An incident's notification was emailed to a clinic's owners and administrators (in the platform chain and the clinic's own).",
    INCIDENT_DECLARED = "incident.declared": "An operator declared an incident (severity, personal data, number of clinics).",
    INCIDENT_ENTRY_ADDED = "incident.entry_added": "An operator added an entry to an incident's timeline.",
    INCIDENT_EVIDENCE_PRESERVED = "incident.evidence_preserved": "The audit export of a clinic an incident affects was hashed and kept as evidence (in the platform chain and the clinic's own).",
    INCIDENT_LISTED = "incident.listed": "An operator listed the incident register.",
    INCIDENT_POSTMORTEM_RECORDED = "incident.postmortem_recorded": "An operator recorded an incident's post-mortem (root cause, preventive measures).",
    INCIDENT_READ = "incident.read": "An operator read one incident.",
    INCIDENT_STATUS_CHANGED = "incident.status_changed": "An operator moved an incident to another status.",
    INVITATION_ACCEPTED = "invitation.accepted": "An invitation was accepted.",
    INVITATION_REVOKED = "invitation.revoked": "An invitation was revoked.",
    INVITATION_SENT = "invitation.sent": "An invitation was sent.",
    KEYS_DATA_KEY_ROTATED = "keys.data_key_rotated": "A clinic's data-key rotation completed: every sealed field is under the new version and the retiring key was destroyed.",
    KEYS_DATA_KEY_ROTATION_STARTED = "keys.data_key_rotation_started": "A clinic's data key got a new version (salus keys rotate-clinic): new values are sealed under it, the previous one only opens until the fields move.",
    KEYS_MASTER_ROTATED = "keys.master_rotated": "A master-key rotation completed (salus keys rotate-master): the active key, the counts, who ran it.",
    MEMBERSHIP_CUSTOM_ROLES_ASSIGNED = "membership.custom_roles_assigned": "A member's custom roles changed.",
    MEMBERSHIP_DEACTIVATED = "membership.deactivated": "A member was deactivated.",
    MEMBERSHIP_OVERRIDES_SET = "membership.overrides_set": "A member's permission overrides changed.",
    MEMBERSHIP_OWNERSHIP_TRANSFERRED = "membership.ownership_transferred": "Ownership passed to another member.",
    MEMBERSHIP_REACTIVATED = "membership.reactivated": "A member was reactivated.",
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed": "A member's role changed.",
    MEMBERSHIP_SESSIONS_REVOKED = "membership.sessions_revoked": "A member's sessions were ended by another member.",
    MFA_ENROLLED = "mfa.enrolled": "An authenticator was enrolled.",
    MFA_FAILED = "mfa.failed": "A second factor was wrong.",
    MFA_PASSED = "mfa.passed": "A second factor was right.",
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated": "Recovery codes were replaced.",
    MFA_REMOVED = "mfa.removed": "An authenticator was removed.",
    NOTE_EDITED = "note.edited": "A draft note changed.",
    NOTE_LIST_READ = "note.list_read": "A patient's notes were read.",
    NOTE_SIGNED = "note.signed": "A note was signed.",
    NOTE_WRITTEN = "note.written": "A note or an amendment was written.",
    OPERATOR_ADDED = "operator.added": "A platform operator was added by the CLI (role, end date, who added them); their enrolment link was emailed.",
    OPERATOR_CLINIC_READ = "operator.clinic_read": "An operator read one clinic's metadata and counts (in the platform chain and the clinic's own).",
    OPERATOR_CLINICS_LISTED = "operator.clinics_listed": "An operator listed the clinics' metadata and counts.",
    OPERATOR_ENROLLED = "operator.enrolled": "An operator set their password and confirmed their authenticator.",
    OPERATOR_REVOKED = "operator.revoked": "An operator's access was ended at once (account and sessions), with who ended it.",
    OPERATOR_SIGN_IN_FAILED = "operator.sign_in_failed": "An operator sign-in failed (password, code, lock, end or revocation: one answer).",
    OPERATOR_SIGNED_IN = "operator.signed_in": "An operator signed in (password and authenticator).",
    OPERATOR_SIGNED_OUT = "operator.signed_out": "An operator signed out.",
    PATIENT_ARCHIVED = "patient.archived": "A patient was archived.",
    PATIENT_BREAK_GLASS_READ = "patient.break_glass_read": "A record was opened by break-the-glass (the records archive), with the reason stated; the owners were emailed.",
    PATIENT_CLINICAL_READ = "patient.clinical_read": "A patient's record was read with clinical data.",
    PATIENT_CREATED = "patient.created": "A patient was registered.",
    PATIENT_ERASED = "patient.erased": "Every row of a patient was deleted on an erasure decision; the request, the register entry's id and the rows deleted (no identity).",
    PATIENT_ERASURE_REFUSED = "patient.erasure_refused": "The clinic refused a patient's erasure request (the reason stays with the request).",
    PATIENT_ERASURE_REQUESTED = "patient.erasure_requested": "A patient's erasure request was recorded (the reason stays with the request).",
    PATIENT_EXPORTED = "patient.exported": "A patient's whole record was exported, clinical data included (right of access and portability), with the format.",
    PATIENT_HISTORY_READ = "patient.history_read": "A patient's change history (who changed which field, no values) was read.",
    PATIENT_LIST_CLINICAL_READ = "patient.list_clinical_read": "A list of patients was read with clinical access (patients named).",
    PATIENT_LIST_READ = "patient.list_read": "A list of patients' demographics was read (patients named).",
    PATIENT_MOVED_TO_ARCHIVE = "patient.moved_to_archive": "The archive job moved a patient without an encounter for the clinic's period to the records archive.",
    PATIENT_PROCESSING_RESTRICTED = "patient.processing_restricted": "A patient restricted processing or objected to it: care only, pending reminders withdrawn and none queued.",
    PATIENT_PROCESSING_RESUMED = "patient.processing_resumed": "A patient's restriction of processing was lifted.",
    PATIENT_READ = "patient.read": "A patient's demographics were read.",
    PATIENT_RESTORED = "patient.restored": "An archived patient was restored.",
    PATIENT_RETURNED_FROM_ARCHIVE = "patient.returned_from_archive": "A record was brought back from the records archive, with the reason stated; the owners were emailed.",
    PATIENT_UPDATED = "patient.updated": "A patient's record changed, with the names of the fields changed (never their values).",
    PRACTITIONER_SET = "practitioner.set": "A member's practitioner profile was set.",
    QUEUE_ADVANCED = "queue.advanced": "A queue entry moved on.",
    QUEUE_CALLED = "queue.called": "A patient was called from the queue.",
    QUEUE_CHECKED_IN = "queue.checked_in": "A patient checked in.",
    ROLE_CREATED = "role.created": "A custom role was created.",
    ROLE_DELETED = "role.deleted": "A custom role was deleted.",
    ROLE_UPDATED = "role.updated": "A custom role changed.",
    SCHEDULE_ABSENCE_ADDED = "schedule.absence_added": "A practitioner's absence was recorded.",
    SCHEDULE_WORKING_HOURS_SET = "schedule.working_hours_set": "A practitioner's working hours changed.",
    SEALED_DATA_INTEGRITY_FAILED = "sealed_data.integrity_failed": "A sealed field failed its integrity check (altered at rest).",
    SECRET_FIRST_SEEN = "secret.first_seen": "A secret or key was seen in use for the first time (a rotation, or the first start): its kind and id or fingerprint.",
    SERVICE_ACCOUNT_CREATED = "service_account.created": "A service account was created with its first API key (its name, permissions, end and networks; never the key).",
    SERVICE_ACCOUNT_ROTATED = "service_account.rotated": "A new API key was issued to a service account (a rotation): the previous keys end at the end of the overlap given.",
    SERVICE_ACCOUNT_CREDENTIAL_REVOKED = "service_account.key_revoked": "One API key of a service account was revoked: refused from the next request on.",
    SERVICE_ACCOUNT_REVOKED = "service_account.revoked": "A service account was revoked with every key of it: refused from the next request on.",
    SERVICE_ACCOUNT_EXPIRY_NOTICE = "service_account.expiry_notice": "The clinic's owners and administrators were emailed that a service account ends within 14 days.",
    SESSION_REVOKED = "session.revoked": "A member ended one of their sessions.",
    VULNERABILITY_ACCEPTED = "vulnerability.accepted": "An operator accepted a known vulnerability of a dependency as a risk until a moment, with the reason (`salus vuln accept`).",
    VULNERABILITY_FIXED = "vulnerability.fixed": "An operator marked a known vulnerability of a dependency fixed, with the commit (`salus vuln fix`).",
    VULNERABILITY_FOUND = "vulnerability.found": "An import recorded a new known vulnerability: advisory, package, version, CVSS vector and score, band and deadline.",
    VULNERABILITY_IMPORTED = "vulnerability.imported": "A scanner's report was imported (`salus vuln import`): the scanner, and how many findings were new, seen again, reopened, re-scored, and no longer reported.",
    VULNERABILITY_REOPENED = "vulnerability.reopened": "A vulnerability marked fixed was reported again by an import: open again, its deadline unchanged.",
    VULNERABILITY_RESCORED = "vulnerability.rescored": "An import reported a known vulnerability in another band (its advisory was re-scored): the deadline now follows from the new band and the first sighting.",
    WEBHOOK_ENDPOINT_CREATED = "webhook.endpoint_created": "A webhook endpoint was subscribed to event types (the URL's host and the event types; never the secret).",
    WEBHOOK_ENDPOINT_DELETED = "webhook.endpoint_deleted": "A webhook endpoint was deleted, with its delivery log.",
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled": "The delivery worker disabled a webhook endpoint that failed every attempt for as long as an event is retried; its waiting deliveries were given up and the owners and administrators emailed.",
    WEBHOOK_ENDPOINT_UPDATED = "webhook.endpoint_updated": "A webhook endpoint changed: the names of the fields changed, and whether it is enabled.",
    WEBHOOK_REDELIVERY_REQUESTED = "webhook.redelivery_requested": "A member asked for an event to be delivered to an endpoint again.",
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated": "A webhook endpoint's signing secret was replaced; the previous one signs too until the time recorded.",
}

#[cfg(test)]
mod tests {
    use crate::access::Permission;
    use crate::webhooks::events::EventType;

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("audit/actions.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let text = text
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// No action is written out anywhere but here: every `"<area>.<what>"` string
    /// of an audited area in the crates' code (permission codes and webhook event
    /// types aside: catalogues of their own) must be one of these constants
    /// instead.
    #[test]
    fn every_action_is_named_through_the_catalogue() {
        let areas: Vec<&str> = super::ALL
            .iter()
            .filter_map(|(code, _)| code.split('.').next())
            .collect();
        let permissions: Vec<&str> = Permission::ALL
            .iter()
            .map(|p| p.code())
            .chain(EventType::ALL.iter().map(|e| e.code()))
            .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for krate in ["domain", "http", "persistence", "server"] {
            sources(&root.join(krate).join("src"), &mut files);
        }
        assert!(files.len() > 50, "the scan read too little");
        let mut written_out = Vec::new();
        for (file, text) in &files {
            for literal in text.split('"').skip(1).step_by(2) {
                let Some((area, what)) = literal.split_once('.') else {
                    continue;
                };
                let word = |s: &str| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                };
                if word(area)
                    && word(what)
                    && areas.contains(&area)
                    && !permissions.contains(&literal)
                {
                    written_out.push(format!("{file}: {literal}"));
                }
            }
        }
        assert!(
            written_out.is_empty(),
            "actions written out instead of named: {written_out:#?}"
        );
        let mut codes: Vec<&str> = super::ALL.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), super::ALL.len(), "an action is declared twice");
    }

    /// The detectors count only catalogued actions.
    #[test]
    fn the_detectors_count_catalogued_actions() {
        for rule in crate::audit::alerts::RULES
            .iter()
            .chain(crate::audit::backup_watch::BACKUP_RULES)
            .chain(crate::audit::secret_watch::SECRET_RULES)
            .chain(crate::audit::incident_watch::INCIDENT_RULES)
            .chain(crate::audit::sequencing_watch::SEQUENCING_RULES)
        {
            for action in rule.actions {
                assert!(
                    super::ALL.iter().any(|(c, _)| c == action),
                    "{}: {action} is not an action",
                    rule.kind
                );
            }
        }
    }
}
