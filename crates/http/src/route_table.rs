//! The documented routes, used to tell "no such path" (404) from "no such method
//! on this path" (405, with `Allow`) for requests no route matched.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::problem::ApiError;

/// What the contract says of one operation that middleware must know before routing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperationTraits {
    /// It requires a signed-in caller (the operation has a security requirement).
    pub protected: bool,
    /// It takes a request body.
    pub takes_body: bool,
    /// The query parameters it declares.
    pub query: Vec<String>,
    /// The largest request body its contract admits, in bytes (with slack), when it
    /// has one: the body limit is raised to it, so every schema-valid body is read.
    pub largest_body: Option<usize>,
    /// It declares the `Idempotency-Key` header, which the server then honours.
    pub idempotent: bool,
}

/// Path templates with the methods each accepts.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
    traits: Vec<(Vec<String>, String, OperationTraits)>,
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect()
}

impl RouteTable {
    /// Every path and method of the OpenAPI document.
    pub fn from_openapi(doc: &Value) -> Self {
        let mut table = Self::default();
        let paths = doc["paths"].as_object().into_iter().flatten();
        for (path, value) in paths {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                let Some(operation) = value.get(method) else {
                    continue;
                };
                let method = method.to_uppercase();
                let traits = OperationTraits {
                    protected: operation["security"].as_array().is_some_and(|s| {
                        s.iter()
                            .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
                    }),
                    takes_body: operation.get("requestBody").is_some(),
                    largest_body: operation["requestBody"]["content"]["application/json"]
                        .get("schema")
                        .map(|schema| crate::contract::size::body_limit(doc, schema, 0))
                        .filter(|limit| *limit > 0),
                    idempotent: operation["parameters"].as_array().is_some_and(|ps| {
                        ps.iter()
                            .any(|p| p["$ref"] == crate::contract::idempotency::PARAMETER)
                    }),
                    query: operation["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| p["name"].as_str().map(str::to_owned))
                        .collect(),
                };
                table.traits.push((segments(path), method.clone(), traits));
                table = table.with(path, &method);
            }
        }
        table
    }

    /// Adds one route (for routes served outside the document).
    pub fn with(mut self, path: &str, method: &str) -> Self {
        let template = segments(path);
        match self.routes.iter_mut().find(|(t, _)| *t == template) {
            Some((_, methods)) => methods.push(method.to_owned()),
            None => self.routes.push((template, vec![method.to_owned()])),
        }
        self
    }

    /// What the contract says of the operation `method path`, when it documents one.
    pub fn operation(&self, method: &str, path: &str) -> Option<OperationTraits> {
        let actual = segments(path);
        self.traits
            .iter()
            .find(|(template, m, _)| m == method && matches(template, &actual))
            .map(|(_, _, traits)| traits.clone())
    }

    /// The methods accepted at `path`, if any documented template matches it. When
    /// several do, the most specific wins (the one with the most literal segments),
    /// as in routing: `/invitations/accept` is not `/invitations/{id}`.
    pub fn allowed_methods(&self, path: &str) -> Option<Vec<String>> {
        let actual = segments(path);
        let literals =
            |template: &[String]| template.iter().filter(|t| !t.starts_with('{')).count();
        let matching: Vec<&(Vec<String>, Vec<String>)> = self
            .routes
            .iter()
            .filter(|(template, _)| matches(template, &actual))
            .collect();
        let most_specific = matching.iter().map(|(t, _)| literals(t)).max()?;
        let mut allowed: Vec<String> = matching
            .into_iter()
            .filter(|(template, _)| literals(template) == most_specific)
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        allowed.sort();
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}

/// Whether a path template (`{name}` matches one non-empty segment) fits a path.
fn matches(template: &[String], actual: &[String]) -> bool {
    template.len() == actual.len()
        && template
            .iter()
            .zip(actual)
            .all(|(t, a)| (t.starts_with('{') && !a.is_empty()) || t == a)
}

/// The default service: 405 with `Allow` when the path exists, else 404.
pub async fn unmatched(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match table.allowed_methods(req.path()) {
        Some(allowed) => ApiError::MethodNotAllowed { allowed },
        None => ApiError::NotFound,
    })
}

#[cfg(test)]
mod tests {
    use super::RouteTable;

    #[test]
    fn templates_match_single_segments() {
        let table = RouteTable::default()
            .with("/api/v1/patients/{id}", "GET")
            .with("/api/v1/patients/{id}", "PATCH")
            .with("/health/live", "GET");
        assert_eq!(
            table.allowed_methods("/api/v1/patients/abc"),
            Some(vec!["GET".to_owned(), "PATCH".to_owned()])
        );
        assert_eq!(table.allowed_methods("/api/v1/patients/abc/x"), None);
        assert_eq!(
            table.allowed_methods("/health/live"),
            Some(vec!["GET".to_owned()])
        );
        assert_eq!(table.allowed_methods("/health/dead"), None);
        let table = table
            .with("/api/v1/invitations/{id}", "DELETE")
            .with("/api/v1/invitations/accept", "POST");
        assert_eq!(
            table.allowed_methods("/api/v1/invitations/accept"),
            Some(vec!["POST".to_owned()])
        );
    }
}
