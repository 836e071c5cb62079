//! Query strings follow the contract: a parameter the operation does not declare
//! is refused (422 naming it), and every value goes through the text policy
//! (refused, or normalised and trimmed before the handler reads it).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use crate::auth::extractor::anonymous_first;
use crate::problem::{ApiError, FieldError};
use crate::route_table::RouteTable;
use crate::text_policy::{TextKind, clean};

/// The query string as the handler is to see it, or every refused parameter.
fn checked_query(query: &str, declared: &[String]) -> Result<String, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut cleaned = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !declared.iter().any(|d| *d == name) {
            errors.push(FieldError {
                field: name.to_string(),
                code: "unknown_parameter".to_owned(),
                message: if declared.is_empty() {
                    "is not a parameter of this operation (it takes none)".to_owned()
                } else {
                    format!(
                        "is not a parameter of this operation (it takes: {})",
                        declared.join(", ")
                    )
                },
            });
            continue;
        }
        match clean(&name, TextKind::Line, &value) {
            Ok(value) => {
                cleaned.append_pair(&name, &value);
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(cleaned.finish())
    } else {
        Err(errors)
    }
}

/// The middleware function.
pub async fn check_query_strings(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let query = req.query_string().to_owned();
    let operation = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.operation(req.method().as_str(), req.path()));
    let Some(operation) = operation.filter(|_| !query.is_empty()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    match checked_query(&query, &operation.query) {
        Ok(cleaned) => {
            if cleaned != query {
                let path = req.path().to_owned();
                let uri = if cleaned.is_empty() {
                    path.parse::<Uri>()
                } else {
                    format!("{path}?{cleaned}").parse::<Uri>()
                };
                if let Ok(uri) = uri {
                    req.head_mut().uri = uri;
                }
            }
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(errors) => {
            let refusal = ApiError::Validation(errors);
            let response = anonymous_first(req.request(), operation.protected, refusal)
                .await
                .error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::checked_query;

    #[test]
    fn undeclared_and_unclean_parameters_are_refused_and_values_cleaned() {
        let declared = vec!["name".to_owned(), "limit".to_owned()];
        assert_eq!(
            checked_query("name=%20Cur%C3%AFe%20&limit=5", &declared).unwrap(),
            "name=Cur%C3%AFe&limit=5"
        );
        let errors = checked_query("name=a%00b&sort=x", &declared).unwrap_err();
        let codes: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(codes, [("name", "nul"), ("sort", "unknown_parameter")]);
        assert!(checked_query("x=1", &[]).is_err());
    }
}
