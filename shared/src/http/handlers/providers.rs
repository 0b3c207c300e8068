//! `GET /v1/providers`: the provider catalog.

use serde_json::json;

use super::super::{json_response, ApiError, Request, Response};
use crate::state::AppState;

/// `GET /v1/providers`: every provider Latchkey knows, with its category, auth type, fields and
/// documentation page.
#[utoipa::path(get, path = "/v1/providers", tag = "meta",
    params(("category" = Option<String>, Query, description = "Only this category (crm, accounting, ...)")),
    responses((status = 200, description = "The catalog")))]
pub async fn list_providers(_state: &AppState, request: Request) -> Result<Response, ApiError> {
    let category = request.uri().query().and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "category").map(|(_, v)| v.into_owned()));
    let data: Vec<serde_json::Value> = crate::catalog::providers()
        .iter()
        .filter(|p| category.as_deref().is_none_or(|c| p.category == c))
        .map(|p| {
            json!({
                "id": p.id, "name": p.name, "category": p.category, "auth_type": p.auth_mode,
                "default_scopes": p.default_scopes, "connection_fields": p.connection_fields, "pkce": p.pkce,
                "docs_url": p.docs_url,
            })
        })
        .collect();
    let mut response = json_response(http::StatusCode::OK, &json!({"data": data}));
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}
