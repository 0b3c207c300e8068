//! `GET /v1/openapi.json` and `GET /v1/providers`: what the API is and which providers it knows.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_document() -> Response {
    let mut response = crate::openapi::document_json().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// The catalog's filter.
#[derive(Debug, Deserialize)]
pub struct ProvidersQuery {
    #[serde(default)]
    category: Option<String>,
}

/// One provider of the catalog.
#[derive(Serialize, ToSchema)]
pub struct ProviderSummary {
    /// `salesforce`.
    pub id: String,
    /// `Salesforce`.
    pub name: String,
    /// Its unified-API category.
    pub category: String,
    /// `oauth2`, `client_credentials`, `api_key`, `basic`, `jwt_bearer` or `github_app`.
    pub auth_type: String,
    /// Scopes asked for by default.
    pub default_scopes: Vec<String>,
    /// What a connection needs from the end user or the provider (subdomain, instance URL).
    #[schema(value_type = Vec<Object>)]
    pub connection_fields: Vec<latchkey::model::ConnectionField>,
    /// Whether it supports PKCE.
    pub pkce: bool,
    /// The documentation page its facts come from.
    pub docs_url: String,
}

/// The catalog.
#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    /// The providers.
    pub data: Vec<ProviderSummary>,
}

/// `GET /v1/providers`: every provider Latchkey knows, with its category, auth type, fields and
/// documentation page.
#[utoipa::path(get, path = "/v1/providers", tag = "meta",
    params(("category" = Option<String>, Query, description = "Only this category (crm, accounting, ...)")),
    responses((status = 200, description = "The catalog", body = ProviderList),
              (status = 400, description = "invalid_request", body = ErrorBody)))]
pub async fn list_providers(ApiQuery(query): ApiQuery<ProvidersQuery>) -> Result<Response, ApiError> {
    let data = latchkey::catalog::providers()
        .iter()
        .filter(|p| query.category.as_deref().is_none_or(|c| p.category == c))
        .map(|p| ProviderSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            category: p.category.clone(),
            auth_type: p.auth_mode.clone(),
            default_scopes: p.default_scopes.clone(),
            connection_fields: p.connection_fields.clone(),
            pkce: p.pkce,
            docs_url: p.docs_url.clone(),
        })
        .collect();
    let mut response = Json(ProviderList { data }).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}
