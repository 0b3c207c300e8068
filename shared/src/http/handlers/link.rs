//! `POST /v1/link/token` and `POST /v1/link/exchange`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::super::auth::secret_key_caller;
use super::super::error::ErrorBody;
use super::super::request::{json_body, public_base};
use super::super::{json_response, ApiError, Request, Response};
use crate::link::exchange::exchange_public_token as exchange;
use crate::link::token::{create_link_token as mint, LinkTokenRequest};
use crate::state::AppState;

/// A minted link token.
#[derive(Serialize, ToSchema)]
pub struct LinkTokenResponse {
    /// Give this to the browser: `Latchkey.open({linkToken})`.
    pub link_token: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The hosted Connect page for this link (full-page mode).
    pub connect_url: String,
}

/// `POST /v1/link/token`: mint a link token for one end user (secret key).
#[utoipa::path(post, path = "/v1/link/token", tag = "link", request_body = LinkTokenRequest,
    security(("secret_key" = [])),
    responses(
        (status = 201, description = "Link token minted", body = LinkTokenResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "No valid secret key", body = ErrorBody),
        (status = 403, description = "A connector is not available to this project environment", body = ErrorBody),
    ))]
pub async fn create_link_token(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let body: LinkTokenRequest = json_body(&request)?;
    let base = public_base(state, &request)?;
    let minted = mint(state, &caller, body).await?;
    let mut connect_url = url::Url::parse(&format!("{base}/connect")).map_err(|e| ApiError::Internal(e.to_string()))?;
    connect_url.query_pairs_mut().append_pair("link_token", minted.token.expose());
    tracing::info!(project = %caller.project_id, environment = %caller.environment, update = minted.record.connection_id.is_some(), "link token minted");
    Ok(json_response(
        http::StatusCode::CREATED,
        &json!(LinkTokenResponse {
            link_token: minted.token.expose().to_owned(),
            expires_at: minted.record.valid_until.to_rfc3339(),
            connect_url: connect_url.to_string(),
        }),
    ))
}

/// The body of `POST /v1/link/exchange`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The public token `onSuccess` received.
    pub public_token: String,
}

/// A connection access token, shown once.
#[derive(Serialize, ToSchema)]
pub struct ExchangeResponse {
    /// The connection.
    pub connection_id: String,
    /// Latchkey's credential for this one connection: store it server-side.
    pub access_token: String,
    /// The connector uid.
    pub connector: String,
    /// The end user's id.
    pub end_user: serde_json::Value,
}

/// `POST /v1/link/exchange`: exchange a one-time public token (secret key).
#[utoipa::path(post, path = "/v1/link/exchange", tag = "link", request_body = ExchangeRequest,
    security(("secret_key" = [])),
    responses(
        (status = 200, description = "Exchanged", body = ExchangeResponse),
        (status = 400, description = "Invalid, expired or already used public token", body = ErrorBody),
        (status = 401, description = "No valid secret key", body = ErrorBody),
    ))]
pub async fn exchange_public_token(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let body: ExchangeRequest = json_body(&request)?;
    let exchanged = exchange(state, &caller, &body.public_token).await?;
    tracing::info!(connection_id = %exchanged.connection_id, "public token exchanged");
    Ok(json_response(
        http::StatusCode::OK,
        &json!(ExchangeResponse {
            connection_id: exchanged.connection_id,
            access_token: exchanged.access_token.expose().to_owned(),
            connector: exchanged.connector,
            end_user: json!(exchanged.end_user),
        }),
    ))
}
