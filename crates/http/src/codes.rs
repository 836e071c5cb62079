//! The catalogues of the codes the API answers with: every problem `code` and
//! every field-error `code`, with what each means. The contract publishes them
//! as enums (`ProblemCode`, `FieldErrorCode`) and `docs/api.md` lists them; tests
//! read the sources for every code given to a refusal and fail when one is
//! missing here. A leaf: it imports nothing.

/// Every `code` a problem body can carry, with what it means: the catalogue the
/// contract publishes as an enum (`ProblemCode`) and `docs/api.md` lists. A test
/// reads the sources for every code given to a refusal or conflict and fails when
/// one is missing here.
pub const PROBLEM_CODES: &[(&str, &str)] = &[
    ("malformed_json", "The body is not well-formed JSON."),
    ("not_found", "No such resource (or one of another clinic)."),
    (
        "method_not_allowed",
        "The path does not accept this method; `Allow` lists those it does.",
    ),
    ("payload_too_large", "The body exceeds the size limit."),
    (
        "unsupported_media_type",
        "The body is not sent as `application/json`.",
    ),
    (
        "not_acceptable",
        "None of the formats in `Accept` can be produced.",
    ),
    (
        "validation_failed",
        "Fields are invalid; `errors` lists each.",
    ),
    (
        "invalid_credentials",
        "Wrong email, password or code (one answer for all).",
    ),
    ("unauthenticated", "No valid access token or session."),
    (
        "rate_limited",
        "Too many requests; wait `Retry-After` seconds.",
    ),
    (
        "precondition_failed",
        "`If-Match` names a version that is no longer current.",
    ),
    ("precondition_required", "`If-Match` is required."),
    (
        "malformed_if_match",
        "`If-Match` is neither `*` nor an ETag of this server.",
    ),
    (
        "malformed_idempotency_key",
        "`Idempotency-Key` is not a string of 1 to 255 printable characters.",
    ),
    (
        "idempotency_key_reused",
        "The `Idempotency-Key` was used for another request within 24 hours.",
    ),
    (
        "idempotency_request_in_flight",
        "A request with this `Idempotency-Key` is still running; retry after `Retry-After` seconds.",
    ),
    (
        "service_unavailable",
        "A dependency is unavailable; retry shortly.",
    ),
    (
        "internal_error",
        "An unexpected error; quote the request id.",
    ),
    (
        "insufficient_permissions",
        "The change would grant or touch permissions the caller does not hold.",
    ),
    (
        "permission_denied",
        "A permission the member lacks (named in the detail).",
    ),
    ("mfa_enrollment_required", "Enrol a second factor first."),
    (
        "mfa_required_by_membership",
        "This membership requires MFA; it cannot be turned off.",
    ),
    (
        "step_up_required",
        "Confirm a recent second factor (`POST /api/v1/auth/step-up`).",
    ),
    (
        "plan_upgrade_required",
        "The clinic's plan does not include this (or has no seat left).",
    ),
    (
        "no_active_membership",
        "The account has no active membership.",
    ),
    (
        "self_change_forbidden",
        "Members cannot change their own role or permissions.",
    ),
    ("owner_only", "Only an owner may do this."),
    (
        "service_account_not_allowed",
        "A service account cannot do this: it is for a signed-in member (own account, sessions, MFA, step-up actions).",
    ),
    (
        "client_address_not_allowed",
        "The service account may not call from this address (its allowed networks).",
    ),
    (
        "service_account_limit",
        "The clinic has as many live service accounts as it may; revoke one first.",
    ),
    (
        "service_account_ended",
        "The service account is revoked or has ended; create a new one.",
    ),
    ("not_the_author", "Only a note's author may edit it."),
    ("conflict", "The change conflicts with existing data."),
    (
        "rotation_under_way",
        "A data-key rotation of the clinic is already under way (operators' command).",
    ),
    (
        "cors_refused",
        "A cross-origin request was refused; the detail says why.",
    ),
    ("bad_request", "The request is malformed."),
    ("forbidden", "The request is refused."),
    ("request_timeout", "The request took too long to arrive."),
    ("length_required", "The body needs a `Content-Length`."),
    ("uri_too_long", "The address is too long."),
    (
        "request_header_fields_too_large",
        "The request's headers are too large.",
    ),
    ("client_error", "The request cannot be served as sent."),
    ("email_taken", "Another account took the address."),
    ("already_member", "The person is already a member."),
    (
        "last_owner",
        "The clinic's last owner cannot leave or be demoted.",
    ),
    (
        "use_ownership_transfer",
        "Ownership changes hands only by a transfer.",
    ),
    (
        "invalid_transfer",
        "Ownership can pass only to another active member.",
    ),
    (
        "illegal_transition",
        "The resource's state does not allow this change.",
    ),
    ("slot_taken", "The practitioner is booked at that time."),
    (
        "outside_working_hours",
        "The time is outside the practitioner's hours.",
    ),
    ("note_signed", "The note is signed: amend it instead."),
    ("note_not_signed", "The note is still a draft."),
    (
        "owner_keeps_everything",
        "An owner's permissions cannot be reduced.",
    ),
    ("role_in_use", "Members hold this role."),
    ("role_name_taken", "A role has this name already."),
    (
        "closure_already_requested",
        "The clinic's closure is already asked.",
    ),
    ("closure_not_requested", "The clinic has no closure asked."),
    ("export_expired", "The export expired: ask for a new one."),
    (
        "closure_in_progress",
        "Another process is executing the clinic's closure.",
    ),
    (
        "patient_in_archive",
        "The record is in the records archive: open it by break-the-glass or bring it back.",
    ),
    ("operator_exists", "An operator with this address exists."),
    (
        "enrolment_not_started",
        "Set the operator's password before confirming the authenticator.",
    ),
    (
        "purpose_of_use_required",
        "The clinic requires a clinical read to state its purpose (`X-Purpose-Of-Use`).",
    ),
    (
        "malformed_purpose_of_use",
        "`X-Purpose-Of-Use` is not an HL7 PurposeOfUse code this server knows.",
    ),
    (
        "erasure_already_requested",
        "An erasure request of this patient waits for the clinic's decision.",
    ),
    (
        "erasure_not_requested",
        "No erasure request of this patient waits for a decision.",
    ),
    (
        "erasure_under_retention",
        "The medical record is under legal retention: the detail says until when.",
    ),
    (
        "postmortem_required",
        "An incident closes only once its post-mortem (root cause, preventive measures) is recorded.",
    ),
    (
        "incident_closed",
        "The incident is closed: its record no longer changes.",
    ),
    (
        "breach_already_confirmed",
        "The incident's breach was confirmed already; its 72-hour clocks run from then.",
    ),
    (
        "webhook_endpoint_limit",
        "The clinic has as many webhook endpoints as it may (20): delete one first.",
    ),
    (
        "endpoint_disabled",
        "The webhook endpoint is disabled: enable it before redelivering.",
    ),
];

/// Every `code` a field error can carry, with what it means: the catalogue the
/// contract publishes as the enum `FieldErrorCode` and `docs/api.md` lists. A test
/// reads the sources for every code a refusal of a field is made with.
pub const FIELD_ERROR_CODES: &[(&str, &str)] = &[
    ("required", "The field is missing or empty."),
    (
        "invalid_type",
        "The value has the wrong JSON type or is not one of the allowed values.",
    ),
    (
        "unknown_field",
        "The body has a field the operation does not take.",
    ),
    (
        "length",
        "The text or list is shorter or longer than allowed.",
    ),
    ("range", "The number or date is outside the allowed range."),
    ("email", "Not an email address."),
    (
        "e164",
        "Not an international phone number such as +33612345678.",
    ),
    ("time", "Not a time of day as HH:MM."),
    ("one_of", "Exactly one of the alternatives must be given."),
    ("after_start", "The end is not after the start."),
    ("nul", "The text holds a NUL character."),
    (
        "control_character",
        "The text holds a control character (or a line break where none is allowed).",
    ),
    (
        "bidi_control",
        "The text holds a bidirectional override or isolate character.",
    ),
    (
        "blank",
        "The text shows nothing (spaces or invisible characters only).",
    ),
    (
        "unknown_parameter",
        "The query has a parameter the operation does not take.",
    ),
    ("invalid_query", "The query string cannot be read."),
    (
        "invalid",
        "The value is not acceptable (the message says why).",
    ),
    (
        "unknown",
        "The id names nothing in this clinic (answered 404, like an id in the path).",
    ),
    (
        "other_patient",
        "The appointment belongs to another patient.",
    ),
    (
        "unknown_permission",
        "Not a permission code of the catalogue.",
    ),
    ("unknown_role", "Not a role of this clinic (answered 404)."),
    (
        "unknown_clinic",
        "No clinic has this id (an incident's affected clinics).",
    ),
    ("reserved", "The name belongs to a built-in role."),
    (
        "owner_by_transfer",
        "Ownership is given by a transfer, not a role change.",
    ),
    (
        "invalid_token",
        "The token is unknown, expired or already used.",
    ),
    (
        "invalid_code",
        "The code is wrong, expired or out of attempts.",
    ),
    ("incorrect", "The password is not the account's."),
    ("too_short", "The password is too short."),
    ("too_long", "The password is too long."),
    (
        "personal_information",
        "The password contains the email, a name or the clinic's name.",
    ),
    ("too_weak", "The password is too easy to guess."),
    (
        "https_required",
        "The URL must be `https://` (plain `http://` only on a development server).",
    ),
    (
        "address_refused",
        "The URL names a loopback, private, link-local, multicast, reserved or metadata address.",
    ),
    (
        "unknown_event_type",
        "Not a webhook event type of the catalogue.",
    ),
    ("duplicate", "The list names the same value twice."),
    (
        "not_grantable",
        "The permission cannot be given to a service account.",
    ),
    (
        "invalid_network",
        "Not a network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`) or a single address.",
    ),
];

/// Every state an invitation can be in, as published (`InvitationStatus`).
pub const INVITATION_STATUSES: [&str; 4] = ["pending", "accepted", "revoked", "expired"];
