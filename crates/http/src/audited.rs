//! The audit events each operation records when it succeeds, declared once: the
//! contract publishes them on the operation (`x-audit-actions`), and
//! `tests/api/audit_walk.rs` performs every operation that changes state or reads
//! clinical data and finds each declared event in the trail, with its actor and
//! resource. An operation that changes state and is not here fails that walk
//! unless the walk's short list says why it records nothing.

use salus_domain::audit::actions::*;

/// One operation's events: a success records, for each group, one event whose
/// action is in the group (`A | B`: one or the other, as the request asks).
pub struct Audited {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template (`/api/v1/patients/{id}`).
    pub path: &'static str,
    /// The groups of actions a success records.
    pub records: &'static [&'static [&'static str]],
}

impl Audited {
    /// Every action a success of this operation may record.
    pub fn actions(&self) -> impl Iterator<Item = &'static str> {
        self.records.iter().flat_map(|group| group.iter().copied())
    }
}

/// Declares the table: `"METHOD path" => [ACTION, OTHER | ALTERNATIVE]`.
macro_rules! audited {
    ($($method:literal $path:literal => [$($($action:ident)|+),+],)*) => {
        /// Every operation that records an audit event when it succeeds.
        pub const AUDITED_OPERATIONS: &[Audited] = &[$(Audited {
            method: $method,
            path: $path,
            records: &[$(&[$($action),+]),+],
        },)*];
    };
}

audited! {
    "POST" "/api/v1/clinics" => [AUTH_SIGN_UP_REQUESTED],
    "POST" "/api/v1/auth/verify-email" => [ACCOUNT_EMAIL_VERIFIED, CLINIC_CREATED],
    "POST" "/api/v1/auth/verify-email/resend" => [AUTH_VERIFICATION_RESENT],
    "POST" "/api/v1/auth/login" => [AUTH_LOGIN_SUCCEEDED],
    "POST" "/api/v1/auth/mfa" => [MFA_PASSED, AUTH_LOGIN_SUCCEEDED],
    "POST" "/api/v1/auth/step-up" => [MFA_PASSED],
    "POST" "/api/v1/auth/logout" => [AUTH_LOGOUT],
    "POST" "/api/v1/auth/logout-others" => [AUTH_LOGOUT_OTHERS],
    "POST" "/api/v1/auth/password-reset" => [ACCOUNT_PASSWORD_RESET_REQUESTED],
    "POST" "/api/v1/auth/password-reset/confirm" => [ACCOUNT_PASSWORD_RESET],
    "POST" "/api/v1/auth/email-change/confirm" => [ACCOUNT_EMAIL_CHANGED],
    "POST" "/api/v1/me/email" => [ACCOUNT_EMAIL_CHANGE_REQUESTED],
    "POST" "/api/v1/me/password" => [ACCOUNT_PASSWORD_CHANGED],
    "POST" "/api/v1/me/phone/verify" => [ACCOUNT_PHONE_VERIFIED],
    "POST" "/api/v1/me/mfa/totp/confirm" => [MFA_ENROLLED],
    "POST" "/api/v1/me/mfa/totp/disable" => [MFA_REMOVED],
    "POST" "/api/v1/me/mfa/recovery-codes" => [MFA_RECOVERY_CODES_REGENERATED],
    "DELETE" "/api/v1/me/sessions/{id}" => [SESSION_REVOKED],
    "PATCH" "/api/v1/clinic" => [CLINIC_SETTINGS_CHANGED],
    "POST" "/api/v1/clinic/closure" => [CLINIC_CLOSURE_REQUESTED],
    "DELETE" "/api/v1/clinic/closure" => [CLINIC_CLOSURE_CANCELLED],
    "POST" "/api/v1/clinic/exports" => [CLINIC_EXPORT_CREATED],
    "GET" "/api/v1/clinic/exports/{id}/archive" => [CLINIC_EXPORT_STARTED, CLINIC_EXPORT_DOWNLOADED],
    "POST" "/api/v1/clinic/ownership-transfer" => [MEMBERSHIP_OWNERSHIP_TRANSFERRED],
    "POST" "/api/v1/invitations" => [INVITATION_SENT],
    "POST" "/api/v1/invitations/accept" => [INVITATION_ACCEPTED],
    "DELETE" "/api/v1/invitations/{id}" => [INVITATION_REVOKED],
    "PUT" "/api/v1/staff/{id}/role" => [MEMBERSHIP_ROLE_CHANGED],
    "PUT" "/api/v1/staff/{id}/custom-roles" => [MEMBERSHIP_CUSTOM_ROLES_ASSIGNED],
    "PUT" "/api/v1/staff/{id}/overrides" => [MEMBERSHIP_OVERRIDES_SET],
    "POST" "/api/v1/staff/{id}/deactivate" => [MEMBERSHIP_DEACTIVATED],
    "POST" "/api/v1/staff/{id}/reactivate" => [MEMBERSHIP_REACTIVATED],
    "DELETE" "/api/v1/staff/{id}/sessions" => [MEMBERSHIP_SESSIONS_REVOKED],
    "POST" "/api/v1/service-accounts" => [SERVICE_ACCOUNT_CREATED],
    "POST" "/api/v1/service-accounts/{id}/keys" => [SERVICE_ACCOUNT_ROTATED],
    "DELETE" "/api/v1/service-accounts/{id}/keys/{key_id}" => [SERVICE_ACCOUNT_CREDENTIAL_REVOKED],
    "DELETE" "/api/v1/service-accounts/{id}" => [SERVICE_ACCOUNT_REVOKED],
    "POST" "/api/v1/webhook-endpoints" => [WEBHOOK_ENDPOINT_CREATED],
    "PATCH" "/api/v1/webhook-endpoints/{id}" => [WEBHOOK_ENDPOINT_UPDATED],
    "DELETE" "/api/v1/webhook-endpoints/{id}" => [WEBHOOK_ENDPOINT_DELETED],
    "POST" "/api/v1/webhook-endpoints/{id}/rotate-secret" => [WEBHOOK_SECRET_ROTATED],
    "POST" "/api/v1/webhook-endpoints/{id}/deliveries/{event_id}/redeliver" => [WEBHOOK_REDELIVERY_REQUESTED],
    "POST" "/api/v1/roles" => [ROLE_CREATED],
    "PATCH" "/api/v1/roles/{id}" => [ROLE_UPDATED],
    "DELETE" "/api/v1/roles/{id}" => [ROLE_DELETED],
    "PUT" "/api/v1/practitioners/{id}" => [PRACTITIONER_SET],
    "PUT" "/api/v1/practitioners/{id}/hours" => [SCHEDULE_WORKING_HOURS_SET],
    "POST" "/api/v1/practitioners/{id}/absences" => [SCHEDULE_ABSENCE_ADDED],
    "GET" "/api/v1/patients" => [PATIENT_LIST_READ | PATIENT_LIST_CLINICAL_READ],
    "POST" "/api/v1/patients" => [PATIENT_CREATED],
    "GET" "/api/v1/patients/{id}" => [PATIENT_READ | PATIENT_CLINICAL_READ],
    "PUT" "/api/v1/patients/{id}" => [PATIENT_UPDATED],
    "POST" "/api/v1/patients/{id}/archive" => [PATIENT_ARCHIVED],
    "POST" "/api/v1/patients/{id}/restore" => [PATIENT_RESTORED],
    "PUT" "/api/v1/patients/{id}/restriction" => [PATIENT_PROCESSING_RESTRICTED | PATIENT_PROCESSING_RESUMED],
    "GET" "/api/v1/patients/{id}/history" => [PATIENT_HISTORY_READ],
    "GET" "/api/v1/patients/{id}/export" => [PATIENT_EXPORTED],
    "POST" "/api/v1/patients/{id}/erasure" => [PATIENT_ERASURE_REQUESTED],
    "POST" "/api/v1/patients/{id}/erasure/decision" => [PATIENT_ERASURE_REFUSED | PATIENT_ERASED],
    "POST" "/api/v1/patients/{id}/break-glass" => [PATIENT_BREAK_GLASS_READ],
    "POST" "/api/v1/patients/{id}/return-from-archive" => [PATIENT_RETURNED_FROM_ARCHIVE],
    "GET" "/api/v1/patients/{id}/notes" => [NOTE_LIST_READ],
    "POST" "/api/v1/patients/{id}/notes" => [NOTE_WRITTEN],
    "PUT" "/api/v1/notes/{id}" => [NOTE_EDITED | NOTE_SIGNED],
    "POST" "/api/v1/notes/{id}/amendments" => [NOTE_WRITTEN],
    "GET" "/api/v1/appointments" => [APPOINTMENT_LIST_CLINICAL_READ],
    "POST" "/api/v1/appointments" => [APPOINTMENT_CREATED],
    "GET" "/api/v1/appointments/{id}" => [APPOINTMENT_CLINICAL_READ],
    "PUT" "/api/v1/appointments/{id}/schedule" => [APPOINTMENT_RESCHEDULED],
    "POST" "/api/v1/appointments/{id}/status" => [APPOINTMENT_STATUS_CHANGED],
    "POST" "/api/v1/queue" => [QUEUE_CHECKED_IN],
    "POST" "/api/v1/queue/call-next" => [QUEUE_CALLED],
    "POST" "/api/v1/queue/{id}/start" => [QUEUE_ADVANCED],
    "POST" "/api/v1/queue/{id}/complete" => [QUEUE_ADVANCED],
    "POST" "/api/v1/queue/{id}/left" => [QUEUE_ADVANCED],
    "GET" "/api/v1/audit-events/export" => [AUDIT_EXPORTED],
    "GET" "/api/v1/incidents" => [INCIDENT_CLINIC_LIST_READ],
    "POST" "/api/v1/platform/enrolment/confirm" => [OPERATOR_ENROLLED],
    "POST" "/api/v1/platform/auth/login" => [OPERATOR_SIGNED_IN],
    "POST" "/api/v1/platform/auth/logout" => [OPERATOR_SIGNED_OUT],
    "GET" "/api/v1/platform/clinics" => [OPERATOR_CLINICS_LISTED],
    "GET" "/api/v1/platform/clinics/{id}" => [OPERATOR_CLINIC_READ],
    "GET" "/api/v1/platform/incidents" => [INCIDENT_LISTED],
    "POST" "/api/v1/platform/incidents" => [INCIDENT_DECLARED],
    "GET" "/api/v1/platform/incidents/{id}" => [INCIDENT_READ],
    "POST" "/api/v1/platform/incidents/{id}/entries" => [INCIDENT_ENTRY_ADDED],
    "POST" "/api/v1/platform/incidents/{id}/status" => [INCIDENT_STATUS_CHANGED],
    "POST" "/api/v1/platform/incidents/{id}/breach" => [INCIDENT_BREACH_CONFIRMED],
    "POST" "/api/v1/platform/incidents/{id}/authority-notification" => [INCIDENT_AUTHORITY_NOTIFIED],
    "POST" "/api/v1/platform/incidents/{id}/notifications" => [INCIDENT_CLINIC_NOTIFIED],
    "POST" "/api/v1/platform/incidents/{id}/evidence" => [INCIDENT_EVIDENCE_PRESERVED],
    "POST" "/api/v1/platform/incidents/{id}/postmortem" => [INCIDENT_POSTMORTEM_RECORDED],
}

/// The declaration of `method` (any case) on `path`, if it records anything.
pub fn audited(method: &str, path: &str) -> Option<&'static Audited> {
    AUDITED_OPERATIONS
        .iter()
        .find(|a| a.method.eq_ignore_ascii_case(method) && a.path == path)
}

#[cfg(test)]
mod tests {
    /// No operation is declared twice (the second would never be read).
    #[test]
    fn each_operation_is_declared_once() {
        let mut seen = std::collections::BTreeSet::new();
        for op in super::AUDITED_OPERATIONS {
            assert!(
                seen.insert((op.method, op.path)),
                "{} {} is declared twice",
                op.method,
                op.path
            );
        }
    }
}
