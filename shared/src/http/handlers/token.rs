//! `POST /v1/token/{connector}`: the token broker.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::super::error::ErrorBody;
use super::super::request::{bearer, json_body};
use super::super::routes::Matched;
use super::super::{json_response, ApiError, Request, Response};
use crate::state::AppState;
use crate::token::caller::authenticate;
use crate::token::issue::{issue, TokenRequest};

/// A provider token.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Use it at the provider.
    pub access_token: String,
    /// A user-level token beside the app's, where the provider grants one (Slack's user token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_access_token: Option<String>,
    /// `Bearer`, `api_key` or `basic`.
    pub token_type: String,
    /// RFC 3339; absent for credentials that do not expire.
    pub expires_at: Option<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// The connection it came from.
    pub connection_id: String,
    /// The installation, for app connections.
    pub installation_id: Option<String>,
    /// `{uid, provider}`.
    pub connector: serde_json::Value,
    /// What the provider returned that callers need (instance URL, tenant id).
    pub metadata: serde_json::Value,
}

/// `POST /v1/token/{connector}`: a short-lived provider token for a subject.
#[utoipa::path(post, path = "/v1/token/{connector}", tag = "token", request_body = TokenRequest,
    params(("connector" = String, Path, description = "The connector uid, URL-encoded as one segment (slack%2Facme-slack)")),
    security(("secret_key" = [])),
    responses(
        (status = 200, description = "A fresh provider token", body = TokenResponse),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "client_not_linked_to_project, client_not_enabled_for_environment, subject_not_allowed, scope_not_granted", body = ErrorBody),
        (status = 404, description = "connector_not_found", body = ErrorBody),
        (status = 409, description = "connector_installation_required, user_authorization_required, token_refresh_failed (details say how to fix it)", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody),
        (status = 503, description = "upstream_unavailable (Retry-After)", body = ErrorBody),
    ))]
pub async fn issue_token(state: &AppState, matched: &Matched, request: Request) -> Result<Response, ApiError> {
    let caller = authenticate(state, bearer(&request)).await?;
    let connector = matched.param("connector").unwrap_or_default();
    let body: TokenRequest = json_body(&request)?;
    let issued = issue(state, &caller, connector, body).await?;
    let response = TokenResponse {
        access_token: issued.access_token.expose().to_owned(),
        user_access_token: issued.user_access_token.as_ref().map(|t| t.expose().to_owned()),
        token_type: issued.token_type,
        expires_at: issued.expires_at.map(|t| t.to_rfc3339()),
        scopes: issued.scopes,
        connection_id: issued.connection_id,
        installation_id: issued.installation_id,
        connector: json!({"uid": issued.connector, "provider": issued.provider}),
        metadata: serde_json::Value::Object(issued.metadata),
    };
    Ok(json_response(http::StatusCode::OK, &json!(response)))
}
