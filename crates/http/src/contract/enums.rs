//! Closed sets published as enums, each built from the catalogue that defines it
//! (the permission catalogue, the built-in roles, the alert rules, the status
//! machines, the problem codes), so the contract cannot drift from the code.
//!
//! Each is a schema-only type: a DTO field keeps its runtime type and names the
//! set with `#[schema(value_type = ...)]`.

use std::borrow::Cow;

use salus_domain::access::Permission;
use salus_domain::audit::alerts::RULES;
use salus_domain::identity::model::Role;
use salus_domain::ports::appointments::Status;
use salus_domain::ports::queue::QueueStatus;
use salus_domain::ports::webhooks::{DeliveryState, DisabledReason};
use salus_domain::webhooks::events::EventType;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::codes::{FIELD_ERROR_CODES, INVITATION_STATUSES, PROBLEM_CODES};

fn string_enum<I: IntoIterator<Item = &'static str>>(
    description: &str,
    values: I,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

macro_rules! closed_set {
    ($(#[doc = $doc:literal])* $name:ident, $description:literal, $values:expr) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string_enum($description, $values)
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

closed_set!(
    /// A permission's code, from the permission catalogue.
    PermissionCode,
    "A permission code (see `GET /api/v1/permissions`).",
    Permission::ALL.iter().map(|p| p.code())
);

closed_set!(
    /// A permission a service account may be given (`integrations::GRANTABLE`).
    ServiceAccountPermissionCode,
    "A permission a service account may be given: machine work on the clinic's records, never management or a step-up action.",
    salus_domain::integrations::GRANTABLE.iter().map(|p| p.code())
);

closed_set!(
    /// A built-in role's name.
    RoleName,
    "A built-in role.",
    Role::ALL.iter().map(|r| r.as_str())
);

closed_set!(
    /// An appointment's status, from the appointment state machine.
    AppointmentStatus,
    "Where an appointment stands.",
    Status::ALL.iter().map(|s| s.as_str())
);

closed_set!(
    /// A queue entry's status, from the queue state machine.
    QueueEntryStatus,
    "Where a queue entry stands.",
    QueueStatus::ALL.iter().map(|s| s.as_str())
);

closed_set!(
    /// A security alert's kind: one per detection rule.
    AlertKind,
    "The rule that raised the alert.",
    RULES.iter().map(|r| r.kind)
);

closed_set!(
    /// An invitation's state.
    InvitationStatus,
    "Where an invitation stands.",
    INVITATION_STATUSES.iter().copied()
);

closed_set!(
    /// A reminder's channel.
    ReminderChannel,
    "How a reminder is sent.",
    ["email", "sms"]
);

closed_set!(
    /// A reminder's delivery state.
    ReminderStatus,
    "Where a reminder's delivery stands.",
    ["pending", "delivered", "failed"]
);

closed_set!(
    /// A webhook event type, from the event catalogue.
    WebhookEventType,
    "A webhook event type (docs/api.md, \"Webhooks\", says when each is sent).",
    EventType::ALL.iter().map(|t| t.code())
);

closed_set!(
    /// Where a webhook delivery stands.
    WebhookDeliveryState,
    "Where a delivery stands.",
    [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed
    ]
    .map(DeliveryState::as_str)
);

closed_set!(
    /// Why a webhook endpoint is disabled.
    WebhookDisabledReason,
    "Why the endpoint is disabled: by a member, after failing every attempt for 3 days, or because it answered 410 Gone.",
    [
        DisabledReason::Member,
        DisabledReason::Failing,
        DisabledReason::Gone
    ]
    .map(DisabledReason::as_str)
);

closed_set!(
    /// A problem's stable code, from the problem-code catalogue.
    ProblemCode,
    "Stable machine-readable code clients can branch on.",
    PROBLEM_CODES.iter().map(|(code, _)| *code)
);

closed_set!(
    /// Why a field was refused, from the field-error catalogue.
    FieldErrorCode,
    "Stable machine-readable reason a field was refused.",
    FIELD_ERROR_CODES.iter().map(|(code, _)| *code)
);
