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
        let limit = body_limit(req);
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
            value
                .validate()
                .map_err(|e| ApiError::Validation(field_errors(&e)))?;
            Ok(ValidatedJson(value))
        })
    }
}

/// The body limit of `req`'s operation: the configured one, or the largest
/// body its contract admits (long notes, escaped at worst) when that is more.
pub fn body_limit(req: &HttpRequest) -> usize {
    let configured = req
        .app_data::<JsonLimit>()
        .map_or(DEFAULT_JSON_LIMIT, |l| l.0);
    let largest = req
        .app_data::<actix_web::web::Data<crate::route_table::RouteTable>>()
        .and_then(|table| table.operation(req.method().as_str(), req.path()))
        .and_then(|operation| operation.largest_body);
    largest.map_or(configured, |largest| largest.max(configured))
}

/// Parses JSON, telling malformed syntax (400) from a wrong shape (422 with the
/// path), with every string put through the text policy first.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::MalformedJson(strip_position(&e.to_string())))?;
    let refused = crate::text_policy::clean_json(&mut value);
    if !refused.is_empty() {
        return Err(ApiError::Validation(refused));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
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
    })
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
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| {
                FieldError {
                    field: path.clone(),
                    code: e.code.to_string(),
                    message: e
                        .message
                        .as_ref()
                        .map_or_else(|| default_message(&e.code), Cow::to_string),
                }
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

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};
    use serde::Deserialize;
    use serde_json::{Value, json};
    use validator::Validate;

    use super::{JsonLimit, ValidatedJson};
    use crate::middleware::require_json::require_json_bodies;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[validate(length(min = 3, max = 20))]
        name: String,
        #[validate(email)]
        email: String,
    }

    async fn accept(body: ValidatedJson<Sample>) -> HttpResponse {
        let sample = body.into_inner();
        HttpResponse::Ok().json(json!({ "name": sample.name, "email": sample.email }))
    }

    async fn call(body: &str, content_type: &str) -> (u16, Value) {
        let app = test::init_service(
            App::new()
                .app_data(JsonLimit(256))
                .route("/sample", web::post().to(accept))
                .wrap(from_fn(require_json_bodies)),
        )
        .await;
        let request = test::TestRequest::post()
            .uri("/sample")
            .insert_header(("content-type", content_type))
            .set_payload(body.to_owned())
            .to_request();
        let response = test::call_service(&app, request).await;
        let status = response.status().as_u16();
        if status >= 400 {
            assert_eq!(
                response.headers().get("content-type").unwrap(),
                "application/problem+json"
            );
        }
        let body = test::read_body(response).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[actix_web::test]
    async fn a_valid_body_reaches_the_handler() {
        let (status, body) = call(
            r#"{"name":"Ada","email":"ada@clinic.test"}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["name"], "Ada");
    }

    #[actix_web::test]
    async fn malformed_json_is_400() {
        let (status, body) = call(r#"{"name":"Ada","#, "application/json").await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], "malformed_json");
        let (status, _) = call(
            r#"{"name":"Ada","email":"a@b.c"} trailing"#,
            "application/json",
        )
        .await;
        assert_eq!(status, 400);
    }

    #[actix_web::test]
    async fn oversized_bodies_are_413() {
        let big = format!(r#"{{"name":"{}","email":"a@b.c"}}"#, "x".repeat(400));
        let (status, body) = call(&big, "application/json").await;
        assert_eq!(status, 413);
        assert_eq!(body["code"], "payload_too_large");
    }

    #[actix_web::test]
    async fn other_media_types_are_415() {
        let (status, body) = call(r#"{"name":"Ada","email":"a@b.c"}"#, "text/plain").await;
        assert_eq!(status, 415);
        assert_eq!(body["code"], "unsupported_media_type");
    }

    #[actix_web::test]
    async fn validation_lists_each_invalid_field() {
        let (status, body) =
            call(r#"{"name":"A","email":"not-an-email"}"#, "application/json").await;
        assert_eq!(status, 422);
        assert_eq!(body["code"], "validation_failed");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, vec!["email", "name"]);
    }

    #[actix_web::test]
    async fn wrong_types_and_unknown_fields_are_422_naming_the_field() {
        let (status, body) = call(r#"{"name":7,"email":"a@b.c"}"#, "application/json").await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["field"], "name");
        let (status, body) = call(
            r#"{"name":"Ada","email":"a@b.c","clinic_id":"x"}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, 422);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("clinic_id")
        );
        let (status, body) = call(r#"{"name":"Ada"}"#, "application/json").await;
        assert_eq!(status, 422);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("email")
        );
    }
}
