//! `POST /v1/link/token`, `POST /v1/link/exchange` and `POST /v1/access-tokens/revoke`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use latchkey::link::exchange::{exchange_public_token as exchange, revoke_access_token as revoke};
use latchkey::link::token::{create_link_token_in as mint, EndUserInput, LinkTokenRequest};
use latchkey::model::{AuditAction, EndUser};
use latchkey::{Ports, SecretString};

use crate::audit::{respond, Facts, RequestOrigin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, PublicBase, SecretKeyCaller};

/// The body of `POST /v1/link/token`: the core's request, and the language the page speaks.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LinkTokenRequest)]
pub struct LinkTokenBody {
    /// Who is connecting.
    pub end_user: EndUserInput,
    /// Connector uids to offer (at most 100, duplicates ignored); every connector linked to this
    /// project environment when absent.
    #[serde(default)]
    pub connectors: Vec<String>,
    /// Update mode: re-authorize this existing connection.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// Where a full-page Connect returns the browser (an allowed origin of the project).
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The language the Connect page speaks (a BCP 47 tag: en, de, fr, es, pt, ja) when it can;
    /// else the browser's `Accept-Language`, then English.
    #[serde(default)]
    pub lang: Option<String>,
}

/// A minted link token.
#[derive(Serialize, ToSchema)]
pub struct LinkTokenResponse {
    /// Give this to the browser: `Latchkey.open({linkToken})`.
    pub link_token: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The hosted Connect page for this link as a full page: only for a link token with a
    /// `redirect_url`, where the result is delivered. Without one, the link opens in the SDK's
    /// modal (`Latchkey.open`), which receives the result by `postMessage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_url: Option<String>,
}

/// `POST /v1/link/token`: mint a link token for one end user (secret key).
#[utoipa::path(post, path = "/v1/link/token", tag = "link", request_body = LinkTokenBody,
    security(("secret_key" = [])),
    responses(
        (status = 201, description = "Link token minted", body = LinkTokenResponse),
        (status = 400, description = "invalid_request, invalid_json, redirect_url_not_allowed", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "connector_not_allowed, subject_not_allowed", body = ErrorBody),
        (status = 404, description = "connection_not_found (update mode)", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
    ))]
pub async fn create_link_token(
    State(ports): State<Ports>,
    SecretKeyCaller(caller): SecretKeyCaller,
    PublicBase(base): PublicBase,
    ApiJson(body): ApiJson<LinkTokenBody>,
) -> Result<(StatusCode, Json<LinkTokenResponse>), ApiError> {
    let request = LinkTokenRequest { end_user: body.end_user, connectors: body.connectors, connection_id: body.connection_id, redirect_url: body.redirect_url };
    let minted = mint(&ports, &caller, request, body.lang.as_deref()).await?;
    let connect_url = match minted.record.redirect_url {
        Some(_) => {
            let mut url = url::Url::parse(&format!("{base}/connect")).map_err(|e| ApiError::internal(e.to_string()))?;
            url.query_pairs_mut().append_pair("link_token", minted.token.expose());
            Some(url.to_string())
        }
        None => None,
    };
    tracing::info!(project = %caller.project_id, environment = %caller.environment, update = minted.record.connection_id.is_some(), "link token minted");
    let answer = LinkTokenResponse { link_token: minted.token.expose().to_owned(), expires_at: minted.record.valid_until.to_rfc3339(), connect_url };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The body of `POST /v1/link/exchange`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The public token `onSuccess` received.
    #[schema(value_type = String)]
    pub public_token: SecretString,
    /// Seconds the connection access token lives (default: until revoked or the connection goes).
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// A connection access token, shown once.
#[derive(Serialize, ToSchema)]
pub struct ExchangeResponse {
    /// The connection.
    pub connection_id: String,
    /// Latchkey's credential for this one connection: store it server-side.
    pub access_token: String,
    /// When the access token stops working (RFC 3339), if it expires.
    pub expires_at: Option<String>,
    /// The connector uid.
    pub connector: String,
    /// The end user.
    #[schema(value_type = Object)]
    pub end_user: EndUser,
}

/// `POST /v1/link/exchange`: exchange a one-time public token (secret key).
#[utoipa::path(post, path = "/v1/link/exchange", tag = "link", request_body = ExchangeRequest,
    security(("secret_key" = [])),
    responses(
        (status = 200, description = "Exchanged", body = ExchangeResponse),
        (status = 400, description = "public_token_invalid (invalid, expired or already used), invalid_json", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 404, description = "connection_not_found", body = ErrorBody),
    ))]
pub async fn exchange_public_token(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    SecretKeyCaller(caller): SecretKeyCaller,
    ApiJson(body): ApiJson<ExchangeRequest>,
) -> Response {
    let result = exchange(&ports, &caller, &body.public_token, body.expires_in).await.map_err(ApiError::from);
    let mut facts = Facts::of_key(&origin, &caller);
    if let Ok(exchanged) = &result {
        facts.connection_id = Some(exchanged.connection_id.clone());
        facts.connector = Some(exchanged.connector.clone());
    }
    let answer = result.map(|exchanged| {
        Json(ExchangeResponse {
            connection_id: exchanged.connection_id.to_string(),
            access_token: exchanged.access_token.expose().to_owned(),
            expires_at: exchanged.expires_at.map(|t| t.to_rfc3339()),
            connector: exchanged.connector.to_string(),
            end_user: exchanged.end_user,
        })
    });
    respond(facts, AuditAction::AccessTokenIssued, answer)
}

/// The body of `POST /v1/access-tokens/revoke`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The connection access token (`lk_conn_...`) to revoke.
    #[schema(value_type = String)]
    pub access_token: SecretString,
}

/// What a revocation did.
#[derive(Serialize, ToSchema)]
pub struct RevokeResponse {
    /// True once the token no longer works (also when it never did: revocation is idempotent).
    pub revoked: bool,
}

/// `POST /v1/access-tokens/revoke`: revoke a connection access token of the caller's project
/// environment (RFC 7009's shape: an unknown token is not an error).
#[utoipa::path(post, path = "/v1/access-tokens/revoke", tag = "link", request_body = RevokeRequest,
    security(("secret_key" = [])),
    responses(
        (status = 200, description = "Revoked", body = RevokeResponse),
        (status = 400, description = "invalid_json", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ))]
pub async fn revoke_access_token(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    SecretKeyCaller(caller): SecretKeyCaller,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> Response {
    let result = revoke(&ports, &caller, &body.access_token).await.map_err(ApiError::from);
    respond(Facts::of_key(&origin, &caller), AuditAction::AccessTokenRevoked, result.map(|_| Json(RevokeResponse { revoked: true })))
}
