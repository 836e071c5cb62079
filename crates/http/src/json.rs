//! `ValidatedJson<T>`: the only way a handler receives a request body.
//!
//! It enforces the body limit, parses JSON (400 when malformed, 422 naming the field
//! when the shape is wrong, unknown fields included) and runs `validator` rules (422
//! listing each invalid field).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BodyStream, to_bytes_limited};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::problem::{ApiError, FieldError};

/// Default cap on JSON bodies: 64 KiB.
pub const DEFAULT_JSON_LIMIT: usize = 64 * 1024;

/// The body limit in force, stored as app data.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

/// A JSON body that was parsed and validated.
#[derive(Debug)]
pub struct ValidatedJson<T>(pub T);

impl<T> ValidatedJson<T> {
    /// The validated value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidatedJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<JsonLimit>()
            .map_or(DEFAULT_JSON_LIMIT, |l| l.0);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let is_json = crate::middleware::require_json::is_json_content_type(req.headers());
        let payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|len| len > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let bytes = to_bytes_limited(BodyStream::new(payload), limit)
                .await
                .map_err(|_| ApiError::PayloadTooLarge { limit })?
                .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
            let value: T = parse(&bytes)?;
            value.validate().map_err(|e| ApiError::Validation(field_errors(&e)))?;
            Ok(ValidatedJson(value))
        })
    }
}

/// Parses JSON, telling malformed syntax (400) from a wrong shape (422 with the path).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::Validation(vec![FieldError {
                field: if path == "." { String::new() } else { path },
                code: "invalid_type".to_owned(),
                message: strip_position(&inner.to_string()),
            }])
        } else {
            ApiError::MalformedJson(strip_position(&inner.to_string()))
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedJson(strip_position(&e.to_string())))?;
    Ok(value)
}

/// Drops serde_json's " at line L column C" suffix, which is noise for API clients.
fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// Flattens `validator` errors into one sorted list of field errors.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field).then(a.code.cmp(&b.code)));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| FieldError {
                field: path.clone(),
                code: e.code.to_string(),
                message: e
                    .message
                    .as_ref()
                    .map_or_else(|| default_message(&e.code), Cow::to_string),
            })),
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

fn default_message(code: &str) -> String {
    match code {
        "length" => "has an invalid length".to_owned(),
        "email" => "is not a valid email address".to_owned(),
        "range" => "is out of range".to_owned(),
        "required" => "is required".to_owned(),
        other => format!("is invalid ({other})"),
    }
}
