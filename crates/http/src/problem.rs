//! RFC 9457 problem details: the one error type of the HTTP layer.
//!
//! Every error leaves the API as `application/problem+json` with a stable `code`.
//! Client errors say what is wrong; server errors say nothing beyond a generic
//! sentence, and their cause goes to the log (inside the request's span, so it
//! carries the request id).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use salus_domain::DomainError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The field-error codes of an id that names nothing in the caller's clinic.
pub const UNKNOWN_REFERENCE_CODES: &[&str] = &["unknown", "unknown_role"];

/// One invalid field of a request body or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`email`, `address.city`).
    pub field: String,
    /// Stable machine-readable reason (`length`, `email`, `required`, ...).
    #[schema(value_type = crate::contract::enums::FieldErrorCode)]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An RFC 9457 problem details body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"type": "https://salus.example/problems/validation-failed", "title": "Unprocessable Entity", "status": 422, "detail": "One or more fields are invalid.", "code": "validation_failed", "errors": [{"field": "birth_date", "code": "range", "message": "must be a past date after 1880"}], "request_id": "0192f3a4-8888-7999-8aaa-bbbbccccdddd"}))]
pub struct Problem {
    /// URI reference naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code clients can branch on.
    #[schema(value_type = crate::contract::enums::ProblemCode)]
    pub code: String,
    /// The invalid fields, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request's id (as in the `X-Request-Id` response header): quote it when
    /// reporting a problem. Every answer of the API carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub request_id: Option<String>,
}

/// Every error the HTTP layer answers with, each mapped to one status and code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not well-formed JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// No resource at this path (also: a resource of another clinic).
    #[error("not found")]
    NotFound,
    /// Ids in the body that name nothing in this clinic (listed, like field errors).
    #[error("unknown reference")]
    UnknownReference(Vec<FieldError>),
    /// The path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the path accepts, for the `Allow` header.
        allowed: Vec<String>,
    },
    /// The body exceeds the configured limit.
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// None of the formats in `Accept` can be produced.
    #[error("not acceptable")]
    NotAcceptable,
    /// The body is JSON but does not fit the expected shape.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Sign-in failed (unknown email, wrong password or locked: one answer).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid access token or session.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Known caller, refused for the reason in `code`.
    #[error("forbidden: {code}")]
    Forbidden {
        /// Stable reason.
        code: &'static str,
        /// Explanation.
        detail: String,
        /// The missing permission, when that is the reason.
        missing: Option<&'static str>,
    },
    /// Conflicts with the current state.
    #[error("conflict: {code}")]
    Conflict {
        /// Stable reason.
        code: &'static str,
        /// Explanation.
        detail: String,
    },
    /// `If-Match` does not match the current version.
    #[error("precondition failed")]
    PreconditionFailed(String),
    /// `If-Match` is not an entity tag this server makes (nor `*`).
    #[error("malformed If-Match")]
    MalformedPrecondition,
    /// `X-Purpose-Of-Use` names no purpose this server knows.
    #[error("malformed X-Purpose-Of-Use")]
    MalformedPurposeOfUse,
    /// An update without `If-Match`.
    #[error("precondition required")]
    PreconditionRequired,
    /// `Idempotency-Key` is not a key (a quoted or bare string of 1 to 255
    /// printable characters).
    #[error("malformed Idempotency-Key")]
    MalformedIdempotencyKey,
    /// `Idempotency-Key` was used by this caller for another request.
    #[error("Idempotency-Key reused")]
    IdempotencyKeyReused,
    /// A request with this `Idempotency-Key` is still being processed.
    #[error("idempotent request in flight")]
    IdempotentRequestInFlight {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Too many requests.
    #[error("rate limited")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// A dependency does not answer.
    #[error("{what} is unavailable")]
    Unavailable {
        /// The dependency's public name.
        what: &'static str,
    },
    /// We are wrong; the detail was logged when this error was made.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// An internal error: logs the cause (in the current request span) and returns
    /// the generic 500 that reveals nothing.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::Internal
    }

    /// The stable `code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::NotFound | Self::UnknownReference(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotAcceptable => "not_acceptable",
            Self::Validation(_) => "validation_failed",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden { code, .. } | Self::Conflict { code, .. } => code,
            Self::RateLimited { .. } => "rate_limited",
            Self::PreconditionFailed(_) => "precondition_failed",
            Self::MalformedPrecondition => "malformed_if_match",
            Self::MalformedPurposeOfUse => "malformed_purpose_of_use",
            Self::PreconditionRequired => "precondition_required",
            Self::MalformedIdempotencyKey => "malformed_idempotency_key",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotentRequestInFlight { .. } => "idempotency_request_in_flight",
            Self::Unavailable { .. } => "service_unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// The problem body of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::MalformedJson(why) => Some(format!("The request body is not valid JSON: {why}")),
            Self::NotFound => Some("No resource exists at this address.".to_owned()),
            Self::UnknownReference(_) => Some(
                "The request names something that does not exist (each listed in `errors`)."
                    .to_owned(),
            ),
            Self::MethodNotAllowed { allowed } => Some(format!(
                "This resource accepts only: {}.",
                allowed.join(", ")
            )),
            Self::PayloadTooLarge { limit } => Some(format!(
                "The request body exceeds the limit of {limit} bytes."
            )),
            Self::UnsupportedMediaType => {
                Some("Request bodies must be sent as application/json.".to_owned())
            }
            Self::NotAcceptable => Some(
                "This resource is available as application/x-ndjson or text/csv.".to_owned(),
            ),
            Self::Validation(_) => Some("One or more fields are invalid.".to_owned()),
            Self::InvalidCredentials => Some("The email, password or code is not correct.".to_owned()),
            Self::Unauthenticated => Some("Sign in again: the access token is missing, invalid or its session has ended.".to_owned()),
            Self::Forbidden { detail, .. } | Self::Conflict { detail, .. } => Some(detail.clone()),
            Self::PreconditionFailed(detail) => Some(detail.clone()),
            Self::MalformedPrecondition => Some(
                "If-Match must be `*` or the ETag of the version you read, such as \"v3\"."
                    .to_owned(),
            ),
            Self::MalformedPurposeOfUse => Some(
                "X-Purpose-Of-Use must be an HL7 PurposeOfUse code this server knows, such as TREAT \
                 (see the contract's PurposeOfUse parameter)."
                    .to_owned(),
            ),
            Self::PreconditionRequired => Some("Send If-Match with the ETag of the version you read.".to_owned()),
            Self::MalformedIdempotencyKey => Some(
                "Idempotency-Key must be a string of 1 to 255 printable ASCII characters, quoted \
                 (\"8e03978e-40d5\") or bare without spaces, quotes or backslashes."
                    .to_owned(),
            ),
            Self::IdempotencyKeyReused => Some(
                "This Idempotency-Key was used for another request (another method, path, If-Match \
                 or body) in the last 24 hours; use a new key for a new request."
                    .to_owned(),
            ),
            Self::IdempotentRequestInFlight { retry_after_secs } => Some(format!(
                "A request with this Idempotency-Key is still being processed; retry after \
                 {retry_after_secs} seconds to get its answer."
            )),
            Self::RateLimited { retry_after_secs } => Some(format!("Too many requests; retry after {retry_after_secs} seconds.")),
            Self::Unavailable { what } => Some(format!(
                "The {what} is unavailable; try again shortly."
            )),
            Self::Internal => Some(
                "An unexpected error occurred. Quote the X-Request-Id response header when reporting it."
                    .to_owned(),
            ),
        };
        let errors = match self {
            Self::Validation(errors) | Self::UnknownReference(errors) => errors.clone(),
            _ => Vec::new(),
        };
        problem_for(status, self.code(), detail, errors)
    }
}

/// Builds a problem body for a status and code.
pub fn problem_for(
    status: StatusCode,
    code: &str,
    detail: Option<String>,
    errors: Vec<FieldError>,
) -> Problem {
    Problem {
        problem_type: format!("https://salus.example/problems/{}", code.replace('_', "-")),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
        errors,
        request_id: None,
    }
}

/// Serialises a problem as an `application/problem+json` response.
pub fn problem_response(problem: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .json(problem)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::UnknownReference(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidCredentials | Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::MalformedPrecondition
            | Self::MalformedPurposeOfUse
            | Self::MalformedIdempotencyKey => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotentRequestInFlight { .. } => StatusCode::CONFLICT,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = problem_response(&self.problem());
        if let Self::MethodNotAllowed { allowed } = self
            && let Ok(value) = HeaderValue::from_str(&allowed.join(", "))
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        match self {
            Self::Unavailable { .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::RateLimited { retry_after_secs }
            | Self::IdempotentRequestInFlight { retry_after_secs } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            Self::Unauthenticated => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Forbidden { code, missing, .. } => {
                response.extensions_mut().insert(Refusal {
                    code,
                    missing: *missing,
                });
            }
            _ => {}
        }
        response
    }
}

/// Why a request was refused (403), left on the response for the middleware
/// that records refusals in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The stable reason.
    pub code: &'static str,
    /// The missing permission, when that is the reason.
    pub missing: Option<&'static str>,
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Unavailable { what, cause } => {
                tracing::warn!(dependency = what, cause = %cause, "dependency unavailable");
                Self::Unavailable { what }
            }
            DomainError::Internal(cause) => Self::internal(cause),
            DomainError::Invalid(problems) => {
                // Ids that name nothing are a 404, like an id in the path (and like
                // an id of another clinic); any other invalid field makes it a 422.
                let unknown = problems
                    .iter()
                    .all(|p| UNKNOWN_REFERENCE_CODES.contains(&p.code));
                let errors = problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field,
                        code: p.code.to_owned(),
                        message: p.message,
                    })
                    .collect();
                if unknown {
                    Self::UnknownReference(errors)
                } else {
                    Self::Validation(errors)
                }
            }
            DomainError::InvalidCredentials => Self::InvalidCredentials,
            DomainError::Unauthenticated => Self::Unauthenticated,
            DomainError::Forbidden {
                code,
                detail,
                missing,
            } => Self::Forbidden {
                code,
                detail,
                missing,
            },
            DomainError::NotFound => Self::NotFound,
            DomainError::PreconditionRequired => Self::PreconditionRequired,
            DomainError::Stale { current } => Self::PreconditionFailed(format!(
                "The resource changed since it was read: it is now at version {current} \
                 (ETag \"v{current}\"). Read it again, then send that ETag in If-Match."
            )),
            DomainError::Conflict { code, detail } => Self::Conflict { code, detail },
            DomainError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};

    use super::ApiError;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn fail() -> Result<HttpResponse, ApiError> {
        let span = tracing::info_span!("request", request_id = "req-42");
        let _entered = span.enter();
        Err(ApiError::internal(
            "connection to 10.0.0.5 refused: password authentication failed",
        ))
    }

    #[actix_web::test]
    async fn internal_errors_are_generic_and_logged_with_the_request_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let app = test::init_service(App::new().route("/fail", web::get().to(fail))).await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/fail").to_request()).await;
        assert_eq!(response.status(), 500);
        let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
        assert!(body.contains("\"code\":\"internal_error\""), "{body}");
        assert!(!body.contains("10.0.0.5"), "the cause leaked: {body}");
        assert!(!body.contains("password"), "the cause leaked: {body}");

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("internal error"))
            .expect(&log);
        assert!(line.contains("10.0.0.5"), "{line}");
        assert!(line.contains("req-42"), "{line}");
    }
}

#[cfg(test)]
mod field_code_tests {
    /// The second argument of every `name(field, "code"` call, and every
    /// `code: "x".into()` in a field error, in the sources of every crate.
    fn codes_in(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        // (call, which argument holds the code)
        for (call, position) in [
            ("invalid(", 1),
            ("FieldProblem::new(", 1),
            ("refusal(", 1),
            ("refuse(", 0),
        ] {
            for (at, _) in text.match_indices(call) {
                // Only a call, not a longer name ending the same way.
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let args: String = text[at + call.len()..].chars().take(300).collect();
                let arg = args.split(',').nth(position).unwrap_or_default().trim();
                if let Some(literal) = arg.strip_prefix('"').and_then(|a| a.split('"').next())
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
                {
                    found.push(literal.to_owned());
                }
            }
        }
        for (at, _) in text.match_indices("code: \"") {
            let rest = &text[at + 7..];
            if let Some(code) = rest.split('"').next() {
                let after = &rest[code.len() + 1..];
                if after.starts_with(".into()") || after.starts_with(".to_owned()") {
                    found.push(code.to_owned());
                }
            }
        }
        found
    }

    #[test]
    fn every_field_error_code_is_catalogued() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts = Vec::new();
        for krate in ["domain", "http", "server"] {
            super::catalogue_tests::sources(&root.join(krate).join("src"), &mut texts);
        }
        let mut found: Vec<String> = texts.iter().flat_map(|t| codes_in(t)).collect();
        // The `validator` rules the DTOs use name their codes after themselves.
        for text in &texts {
            for rule in ["length", "range", "email"] {
                if text.contains(&format!("#[validate({rule}")) {
                    found.push(rule.to_owned());
                }
            }
        }
        // The password length rule, shared by the DTOs and the policy.
        for password in [String::new(), "x".repeat(300)] {
            let refusal = salus_domain::identity::password::length_refusal(&password);
            found.extend(refusal.map(|(code, _)| code.to_owned()));
        }
        found.sort();
        found.dedup();
        assert!(found.len() > 20, "the scan found too little: {found:?}");
        let catalogued: Vec<&str> = crate::codes::FIELD_ERROR_CODES
            .iter()
            .map(|(c, _)| *c)
            .collect();
        let missing: Vec<&String> = found
            .iter()
            .filter(|c| !catalogued.contains(&c.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "codes missing from FIELD_ERROR_CODES: {missing:?}"
        );
    }
}

#[cfg(test)]
pub(crate) mod catalogue_tests {
    use super::ApiError;

    /// The string literals that follow `marker` (skipping whitespace), in `text`.
    fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
        text.match_indices(marker)
            .filter_map(|(at, _)| {
                let rest = text[at + marker.len()..].trim_start();
                let rest = rest.strip_prefix('"')?;
                rest.split('"').next()
            })
            .collect()
    }

    /// The value of `const NAME: &str = "...";` in `text`.
    fn constant<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        literals_after(text, &format!("const {name}: &str ="))
            .first()
            .copied()
    }

    /// The source texts below `dir`, their unit tests cut off.
    pub(crate) fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit tests make up codes of their own.
                let text = text.split("#[cfg(test)]").next().unwrap_or_default();
                out.push(text.to_owned());
            }
        }
    }

    #[test]
    fn every_code_given_to_a_refusal_or_conflict_is_catalogued() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts = Vec::new();
        for krate in ["domain", "persistence", "http", "server"] {
            sources(&root.join(krate).join("src"), &mut texts);
        }
        let catalogued: Vec<&str> = crate::codes::PROBLEM_CODES
            .iter()
            .map(|(c, _)| *c)
            .collect();
        let mut found = Vec::new();
        for text in &texts {
            for marker in ["forbidden(", "conflict(", "Forbidden {\n", "Conflict {\n"] {
                found.extend(literals_after(text, marker));
            }
            // `Forbidden { code: "..", ..}` and `Conflict { code: CONST, .. }`.
            for block in text
                .split("Forbidden {")
                .chain(text.split("Conflict {"))
                .skip(1)
            {
                let head = block.split('}').next().unwrap_or_default();
                if let Some(value) = head.split("code:").nth(1) {
                    let value = value.trim_start();
                    if let Some(literal) = value.strip_prefix('"') {
                        found.extend(literal.split('"').next());
                    } else {
                        let name: String = value
                            .chars()
                            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            let value = texts.iter().find_map(|t| constant(t, &name));
                            found.push(value.unwrap_or("<unresolved>"));
                        }
                    }
                }
            }
        }
        let error = ApiError::NotFound;
        found.push(error.code());
        assert!(found.len() > 20, "the scan found too little: {found:?}");
        let missing: Vec<&&str> = found.iter().filter(|c| !catalogued.contains(c)).collect();
        assert!(
            missing.is_empty(),
            "codes missing from PROBLEM_CODES: {missing:?}"
        );
        for variant in [
            ApiError::MalformedJson(String::new()),
            ApiError::MethodNotAllowed { allowed: vec![] },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::UnsupportedMediaType,
            ApiError::NotAcceptable,
            ApiError::Validation(vec![]),
            ApiError::InvalidCredentials,
            ApiError::Unauthenticated,
            ApiError::PreconditionFailed(String::new()),
            ApiError::PreconditionRequired,
            ApiError::MalformedPrecondition,
            ApiError::RateLimited {
                retry_after_secs: 1,
            },
            ApiError::Unavailable { what: "database" },
            ApiError::Internal,
        ] {
            assert!(catalogued.contains(&variant.code()), "{}", variant.code());
        }
    }
}
