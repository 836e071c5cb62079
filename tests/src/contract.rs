//! The OpenAPI document as test input: every operation, its declared security and
//! permission, and a minimal valid body generated from its schema.

use serde_json::{Map, Value, json};

/// One operation of the document.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The `operationId`.
    pub id: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template (`/api/v1/staff/{id}`).
    pub path: String,
    /// Whether the operation accepts anonymous callers (`security: [{}]`).
    pub public: bool,
    /// The `x-permission` extension: a catalogue code, or `self`.
    pub permission: Option<String>,
    /// The JSON request body schema, if any.
    pub body: Option<Value>,
    /// Required query parameters: (name, schema).
    pub query: Vec<(String, Value)>,
}

impl Operation {
    /// `METHOD path`, for messages.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path with every `{param}` replaced by `value`, and example values for
    /// the required query parameters.
    pub fn path_with(&self, value: &str) -> String {
        let path = self
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { value } else { s })
            .collect::<Vec<_>>()
            .join("/");
        if self.query.is_empty() {
            return path;
        }
        let pairs: Vec<String> = self
            .query
            .iter()
            .map(|(name, schema)| {
                let mut v = example(schema);
                if name == "to" && v.is_string() {
                    v = json!("2026-01-02T00:00:00Z");
                }
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                format!("{name}={text}")
            })
            .collect();
        format!("{path}?{}", pairs.join("&"))
    }

    /// The first example the document gives of the request body, if it takes one
    /// (examples name ids and tokens that exist nowhere: callers put real ones in).
    pub fn request_example(&self, doc: &Value) -> Option<Value> {
        let reference = self.body.as_ref()?["$ref"].as_str()?;
        let name = reference.trim_start_matches("#/components/schemas/");
        let example = &doc["components"]["schemas"][name]["examples"][0];
        (!example.is_null()).then(|| example.clone())
    }

    /// Whether the path has parameters.
    pub fn takes_id(&self) -> bool {
        self.path.contains('{')
    }
}

/// The document generated from the code.
pub fn document() -> Value {
    serde_json::from_str(&salus_http::openapi_json()).expect("the document is JSON")
}

/// Every operation of the document.
pub fn operations() -> Vec<Operation> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let security = op["security"].as_array().cloned().unwrap_or_default();
            out.push(Operation {
                id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                method: method.to_uppercase(),
                path: path.clone(),
                public: security
                    .iter()
                    .any(|s| s.as_object().is_some_and(Map::is_empty)),
                permission: op["x-permission"].as_str().map(str::to_owned),
                body: op["requestBody"]["content"]["application/json"]["schema"]
                    .as_object()
                    .map(|s| Value::Object(s.clone())),
                query: op["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .filter(|p| p["in"] == "query" && p["required"] == true)
                            .map(|p| {
                                (
                                    p["name"].as_str().unwrap_or_default().to_owned(),
                                    p["schema"].clone(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A minimal valid value for a schema: required properties only, strings long
/// enough, formats honoured, the first enum value, arrays as short as allowed.
pub fn example(schema: &Value) -> Value {
    let doc = document();
    example_in(&doc, schema)
}

fn example_in(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        && schema["type"] != "object"
    {
        let concrete = variants
            .iter()
            .find(|v| v["type"] != "null")
            .unwrap_or(&variants[0]);
        return example_in(doc, concrete);
    }
    let kind = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // An object with alternatives (`oneOf` of required sets) takes the first.
            let first_alternative: Vec<&str> = schema["oneOf"][0]["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in required.into_iter().chain(first_alternative) {
                let mut value = example_in(doc, &schema["properties"][name]);
                // Ranges must be well-ordered: an end comes after its start.
                if name.starts_with("ends") && value.is_string() {
                    value = json!("2026-01-01T01:00:00Z");
                }
                out.insert(name.to_owned(), value);
            }
            Value::Object(out)
        }
        Some("string") => match schema["format"].as_str() {
            Some("uuid") => json!(uuid::Uuid::now_v7()),
            Some("email") => json!("example@clinic.test"),
            Some("date-time") => json!("2026-01-01T00:00:00Z"),
            Some("date") => json!("1990-01-01"),
            _ => {
                let min = schema["minLength"].as_u64().unwrap_or(1).max(8);
                let len = schema["maxLength"].as_u64().map_or(min, |max| min.min(max));
                json!("x".repeat(usize::try_from(len).unwrap_or(8)))
            }
        },
        Some("integer") | Some("number") => json!(schema["minimum"].as_i64().unwrap_or(1)),
        Some("boolean") => json!(false),
        Some("array") => {
            // As few items as allowed: distinct ones from an enum when they
            // must be unique.
            let count = usize::try_from(schema["minItems"].as_u64().unwrap_or(0)).unwrap_or(0);
            let items = resolve(doc, &schema["items"]);
            match items["enum"].as_array() {
                Some(values) => Value::Array(values.iter().take(count).cloned().collect()),
                None => Value::Array(vec![example_in(doc, items); count]),
            }
        }
        _ => Value::Null,
    }
}
