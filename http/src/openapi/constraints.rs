//! What the generated document cannot learn from the types: the limits the core checks request
//! fields against (lengths, patterns, enums, ranges), and the answers every route can give
//! whatever its handler says (a body over the limit, a backing service down, the deadline).
//!
//! The request types live in the core, which knows nothing of OpenAPI beyond a derive; their
//! limits are written here, beside the document, as JSON merged into the schemas utoipa made. A
//! contract test (schemathesis, `tests/api/contract.rs`) sends requests generated from these
//! schemas and fails when the server refuses one they allow or takes one they forbid.

use latchkey::model::narrowing;
use serde_json::{json, Map, Value};

/// Printable text: no control character (C0, DEL, C1) and not only white space.
const TEXT: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// Text without control characters that may be blank (checked for emptiness only).
const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$";
/// An email as the core checks it: printable text with an `@`.
const EMAIL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*@[^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// `provider/name`, each a slug.
const CONNECTOR_UID: &str = "^[a-z0-9_-]{1,40}/[a-z0-9_-]{1,60}$";
/// An OAuth scope: no white space or control character.
const SCOPE: &str = "^[^\\s\\u0000-\\u001f\\u007f-\\u009f]{1,200}$";
/// A BCP 47 language tag as the core checks it.
const LANGUAGE_TAG: &str = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$";
/// A session length as a duration: minutes, hours or days, from a minute to a week.
const DURATION: &str = "^([1-9][0-9]{0,3}m|([1-9]|[1-9][0-9]|1[0-5][0-9]|16[0-8])h|[1-7]d)$";

fn text(max: usize) -> Value {
    json!({"type": "string", "pattern": TEXT, "maxLength": max})
}

fn optional(schema: Value) -> Value {
    let mut schema = schema;
    schema["type"] = json!(["string", "null"]);
    schema
}

/// A user (with its id) or the app (without one).
fn subject() -> Value {
    let user = json!({"type": "object", "required": ["type", "id"], "additionalProperties": false,
        "properties": {"type": {"const": "user", "description": "A person"}, "id": text(256)}});
    let app = json!({"type": "object", "required": ["type"], "additionalProperties": false,
        "properties": {"type": {"const": "app", "description": "The app itself"}, "id": {"type": "null"}}});
    json!({"type": null, "required": null, "properties": null, "additionalProperties": null, "oneOf": [user, app]})
}

/// `(JSON pointer into components/schemas, what to merge into it)`.
fn schema_limits() -> Vec<(&'static str, Value)> {
    let unified_apis: Vec<&str> = latchkey::catalog::CATEGORIES.to_vec();
    vec![
        ("/EndUserInput/properties/id", text(256)),
        ("/EndUserInput/properties/email", optional(json!({"pattern": EMAIL, "maxLength": 320}))),
        ("/EndUserInput/properties/display_name", optional(text(200))),
        ("/LinkTokenRequest/properties/connectors", json!({"items": {"pattern": CONNECTOR_UID}, "maxItems": 100})),
        ("/LinkTokenRequest/properties/lang", optional(json!({"pattern": LANGUAGE_TAG, "maxLength": 35}))),
        ("/SessionRequest/properties/lang", optional(json!({"pattern": LANGUAGE_TAG, "maxLength": 35}))),
        ("/CreateConnectorRequest/properties/uid", json!({"pattern": CONNECTOR_UID})),
        ("/CreateConnectorRequest/properties/name", optional(text(80))),
        ("/CreateConnectorRequest/properties/scopes", json!({"items": {"pattern": SCOPE}, "maxItems": 100})),
        ("/CreateConnectorRequest/properties/refresh_buffer_secs", json!({"minimum": 0, "maximum": 86400})),
        ("/CreateConnectorRequest/properties/links", json!({"maxItems": 20})),
        ("/SessionRequest", json!({"required": ["consumer_id", "redirect_uri"]})),
        ("/SessionRequest/properties/consumer_id", text(256)),
        ("/SessionSettings/properties/allowed_connectors", json!({"items": {"pattern": CONNECTOR_UID}, "maxItems": 100})),
        ("/SessionSettings/properties/unified_apis", json!({"items": {"enum": unified_apis}, "maxItems": 30})),
        ("/SessionSettings/properties/allow_actions", json!({"maxItems": 3})),
        (
            "/SessionSettings/properties/session_length",
            json!({"type": null, "anyOf": [{"type": "integer", "minimum": 60, "maximum": 604800}, {"type": "string", "pattern": DURATION}, {"type": "null"}]}),
        ),
        ("/ConsumerMetadata/properties/account_name", optional(json!({"pattern": NO_CONTROL, "maxLength": 200}))),
        ("/ConsumerMetadata/properties/user_name", optional(json!({"pattern": NO_CONTROL, "maxLength": 200}))),
        ("/ConsumerMetadata/properties/email", optional(json!({"pattern": NO_CONTROL, "maxLength": 320}))),
        ("/Theme/properties/name", optional(json!({"pattern": NO_CONTROL, "maxLength": 80}))),
        ("/Theme/properties/primary_color", optional(json!({"pattern": "^#[0-9a-fA-F]{6}$"}))),
        ("/SubjectInput", subject()),
        ("/TokenRequest/properties/installation_id", optional(json!({"pattern": "^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$", "maxLength": 128}))),
        ("/TokenRequest/properties/scopes", json!({"items": {"pattern": SCOPE}, "maxItems": narrowing::MAX_SCOPES})),
        (
            "/TokenRequest/properties/resources",
            json!({"items": {"pattern": narrowing::RESOURCE_PATTERN, "maxLength": narrowing::MAX_RESOURCE_CHARS}, "maxItems": narrowing::MAX_RESOURCES}),
        ),
        (
            "/TokenRequest/properties/authorization_details",
            json!({
                "items": {"type": "object", "required": ["type"], "properties": {"type": text(narrowing::MAX_DETAIL_TYPE_CHARS)}},
                "maxItems": narrowing::MAX_AUTHORIZATION_DETAILS,
                "description": format!("RFC 9396 authorization details, at most {} bytes of JSON in all", narrowing::MAX_AUTHORIZATION_DETAILS_BYTES),
            }),
        ),
        ("/ExchangeRequest/properties/expires_in", json!({"minimum": 60, "maximum": 31_536_000})),
        ("/ImportRequest/properties/consumer_id", text(256)),
        ("/ImportRequest/properties/connector", json!({"pattern": CONNECTOR_UID})),
        ("/ImportRequest/properties/scopes", json!({"items": {"pattern": SCOPE}, "maxItems": 100})),
        ("/ImportRequest/properties/metadata", json!({"maxProperties": 32})),
        ("/ConfigureRequest/properties/settings", json!({"minProperties": 1, "maxProperties": 1, "additionalProperties": {"type": "string"}})),
    ]
}

/// Merges `patch` into `target` (RFC 7396): objects key by key, a `null` removes the key.
fn merge(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(target) = target.as_object_mut() else { return };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The error body, as every JSON failure carries it.
fn error_content() -> Value {
    json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}})
}

fn retry_after() -> Value {
    json!({"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}})
}

/// Adds `status` to `responses` or, where the handler already documents it, the JSON error body
/// and `headers` beside what it says.
fn add_response(responses: &mut Map<String, Value>, status: &str, description: &str, headers: Option<Value>) {
    let response = responses.entry(status).or_insert_with(|| json!({"description": description}));
    let content = response.as_object_mut().map(|r| r.entry("content").or_insert_with(|| json!({})));
    if let Some(content) = content {
        merge(content, &error_content());
    }
    if let Some(headers) = headers {
        let existing = response.as_object_mut().map(|r| r.entry("headers").or_insert_with(|| json!({})));
        if let Some(existing) = existing {
            merge(existing, &headers);
        }
    }
}

/// What the layers answer on every route: 413 for a body over the limit, 503 (with Retry-After)
/// when the store is down or the deadline passes; and on page routes, the JSON error of an
/// extractor that refuses the request before the page is made.
fn layer_responses(operation: &mut Value) {
    let has_body = operation.get("requestBody").is_some();
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    if has_body {
        add_response(responses, "413", "payload_too_large: the body is over 1 MiB", None);
    }
    add_response(responses, "503", "unavailable, timeout: a backing service is down or the deadline passed; retry", Some(retry_after()));
}

/// The answers of the router itself, for any path and method: a path no route has (404) and a
/// method a route does not answer (405, with `Allow` naming the ones it does).
fn router_responses() -> Value {
    json!({
        "RouteNotFound": {"description": "route_not_found: no route has this path", "content": error_content()},
        "MethodNotAllowed": {
            "description": "method_not_allowed: the route exists with other methods",
            "headers": {"Allow": {"description": "The methods the route answers", "schema": {"type": "string"}}},
            "content": error_content(),
        },
    })
}

/// Applies the limits and the layers' answers to `document`.
pub fn apply(document: &mut Value) {
    if let Some(components) = document.get_mut("components") {
        merge(components, &json!({"responses": router_responses()}));
    }
    if let Some(schemas) = document.pointer_mut("/components/schemas") {
        for (pointer, patch) in schema_limits() {
            if let Some(target) = schemas.pointer_mut(pointer) {
                merge(target, &patch);
            }
        }
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut() {
                layer_responses(operation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_documents_the_layers_answers_and_the_router_its_own() {
        let document: Value = serde_json::from_str(crate::openapi::document_json()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let unavailable = &operation["responses"]["503"];
                assert!(unavailable["headers"]["Retry-After"].is_object(), "{method} {path}");
                assert!(unavailable["content"]["application/json"].is_object(), "{method} {path}");
                assert_eq!(operation.get("requestBody").is_some(), operation["responses"]["413"].is_object(), "{method} {path}");
            }
        }
        assert!(document["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"].is_object());
    }

    #[test]
    fn every_limit_lands_on_a_schema_the_document_has() {
        let document: Value = serde_json::from_str(crate::openapi::document_json()).unwrap();
        let schemas = &document["components"]["schemas"];
        for (pointer, _) in schema_limits() {
            assert!(schemas.pointer(pointer).is_some(), "no schema at {pointer}");
        }
    }
}
