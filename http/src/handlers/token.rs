//! `POST /v1/token/{connector}`: the token broker.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use latchkey::model::{AuditAction, ConnectorUid};
use latchkey::token::issue::{issue, TokenRequest};
use latchkey::token::narrow::NarrowingOutcome;
use latchkey::Ports;

use crate::audit::{attach, outcome, Facts, RequestOrigin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, TokenCaller};

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
    /// RFC 3339, as the provider said; absent for credentials that do not expire.
    pub expires_at: Option<String>,
    /// Exactly what the returned token can do: the provider's word where it gave one, else what
    /// the provider grants by contract (never the request echoed back).
    pub scopes: Vec<String>,
    /// The resources (RFC 8707) a narrowed token is limited to; absent when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// The authorization details (RFC 9396) a narrowed token carries; absent when it carries none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub authorization_details: Option<Vec<serde_json::Value>>,
    /// The connection it came from.
    pub connection_id: String,
    /// The installation, for app connections.
    pub installation_id: Option<String>,
    /// Which connector.
    pub connector: ConnectorRef,
    /// What the provider returned that callers need (instance URL, tenant id).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A connector as answers name it.
#[derive(Serialize, ToSchema)]
pub struct ConnectorRef {
    /// `provider/name`.
    pub uid: String,
    /// The catalog provider.
    pub provider: String,
}

/// `POST /v1/token/{connector}`: a short-lived provider token for a subject.
#[utoipa::path(post, path = "/v1/token/{connector}", tag = "token", request_body = TokenRequest,
    params(("connector" = String, Path, description = "The connector uid, URL-encoded as one segment (slack%2Facme-slack)")),
    security(("secret_key" = []), ("connection_token" = []), ("oidc" = [])),
    responses(
        (status = 200, description = "A fresh provider token", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_json, narrowing_unsupported (the connector cannot narrow as asked; details say by what, and `allow_broader: true` takes the full token instead)", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "client_not_linked_to_project, client_not_enabled_for_environment, subject_not_allowed, scope_not_granted", body = ErrorBody),
        (status = 404, description = "connector_not_found", body = ErrorBody),
        (status = 409, description = "connector_installation_required, user_authorization_required, connection_configuration_required, token_refresh_failed (details say how to fix it)", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "upstream_unavailable, refresh_wait_timeout, unavailable", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn issue_token(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    TokenCaller(caller): TokenCaller,
    ApiPath(connector): ApiPath<ConnectorUid>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Response {
    let result = issue(&ports, &caller, &connector, body).await.map_err(ApiError::from);
    let mut facts = Facts::of_caller(&origin, &caller);
    facts.connector = Some(connector);
    facts.connection_id = result.as_ref().ok().map(|issued| issued.connection_id.clone());
    let mut event = facts.event(AuditAction::TokenIssued, &outcome(&result));
    if let Some(narrowing) = result.as_ref().ok().and_then(|issued| issued.narrowing.as_ref()) {
        // The narrowing asked for and the one granted (scopes, resources, details: never a token).
        event.detail.insert("narrowing".into(), serde_json::to_value(narrowing).unwrap_or_default());
    }
    attach(result.map(answer), event)
}

fn answer(issued: latchkey::token::issue::IssuedToken) -> Json<TokenResponse> {
    let granted = issued.narrowing.as_ref().filter(|n| n.outcome == NarrowingOutcome::Narrowed).map(|n| &n.granted);
    let resources = granted.map(|g| g.resources.clone()).filter(|r| !r.is_empty());
    let authorization_details = granted.map(|g| g.authorization_details.clone()).filter(|d| !d.is_empty());
    Json(TokenResponse {
        access_token: issued.access_token.expose().to_owned(),
        user_access_token: issued.user_access_token.as_ref().map(|t| t.expose().to_owned()),
        token_type: issued.token_type,
        expires_at: issued.expires_at.map(|t| t.to_rfc3339()),
        scopes: issued.scopes,
        resources,
        authorization_details,
        connection_id: issued.connection_id.to_string(),
        installation_id: issued.installation_id.map(|i| i.to_string()),
        connector: ConnectorRef { uid: issued.connector.to_string(), provider: issued.provider },
        metadata: issued.metadata,
    })
}
