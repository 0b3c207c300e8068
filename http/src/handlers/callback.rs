//! `GET /v1/oauth/callback`: where providers send the browser back.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use latchkey::link::callback::{complete_authorization, CallbackParams};
use latchkey::link::LinkError;
use latchkey::Ports;

use super::connect::{cookie, deliver, flow_cookie_name, hash_of};
use crate::error::{ApiError, PageError};
use crate::extract::ApiQuery;

/// `GET /v1/oauth/callback`: finish an authorization and deliver the public token.
#[utoipa::path(get, path = "/v1/oauth/callback", tag = "link",
    params(("state" = String, Query, description = "The state Latchkey sent"),
           ("code" = Option<String>, Query, description = "The authorization code"),
           ("iss" = Option<String>, Query, description = "The issuer (RFC 9207)"),
           ("error" = Option<String>, Query, description = "The provider's OAuth error")),
    responses((status = 200, description = "The result page", content_type = "text/html"),
              (status = 303, description = "To the link's redirect_url with public_token or error", headers(("Location" = String, description = "The app's redirect URL"))),
              (status = 400, description = "state_missing, state_invalid, state_mismatch, issuer_mismatch, code_exchange_failed, or the provider's OAuth error", content_type = "text/html"),
              (status = 503, description = "provider_unavailable", content_type = "text/html")))]
pub async fn oauth_callback(
    State(ports): State<Ports>,
    origin: crate::audit::RequestOrigin,
    headers: HeaderMap,
    query: Result<ApiQuery<CallbackParams>, ApiError>,
) -> Result<Response, PageError> {
    let ApiQuery(params) = query.map_err(|_| ApiError::from(LinkError::StateMissing))?;
    let cookie_name = params.state.as_deref().map(|s| flow_cookie_name(&hash_of(s)));
    let binding = cookie_name.as_deref().and_then(|name| cookie(&headers, name));
    let outcome = complete_authorization(&ports, params, binding.as_deref()).await;
    let mut response = match (&outcome.target, outcome.result) {
        (Some(target), result) => deliver(&origin, target, result),
        (None, Err(error)) => return Err(error.into()),
        (None, Ok(_)) => return Err(ApiError::internal("a completed flow without a target").into()),
    };
    if let Some(name) = cookie_name.filter(|_| outcome.target.is_some()) {
        let clear = format!("{name}=; Path=/v1/oauth/callback; Max-Age=0; HttpOnly; SameSite=Lax");
        if let Ok(value) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}
