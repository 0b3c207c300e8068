//! `GET /v1/oauth/callback`: where providers send the browser back.

use super::super::request::{cookie, query};
use super::super::{ApiError, Request, Response};
use super::connect::{deliver, error_page, flow_cookie_name};
use crate::link::callback::{complete_authorization, CallbackParams};
use crate::link::LinkError;
use crate::secret::SecretString;
use crate::state::AppState;

/// `GET /v1/oauth/callback`: finish an authorization and deliver the public token.
#[utoipa::path(get, path = "/v1/oauth/callback", tag = "link",
    params(("state" = String, Query, description = "The state Latchkey sent"),
           ("code" = Option<String>, Query, description = "The authorization code"),
           ("iss" = Option<String>, Query, description = "The issuer (RFC 9207)"),
           ("error" = Option<String>, Query, description = "The provider's OAuth error")),
    responses((status = 200, description = "The result page (or a redirect to the link's redirect_url)", content_type = "text/html"),
              (status = 400, description = "Refused", content_type = "text/html")))]
pub async fn oauth_callback(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let params: CallbackParams = match query(&request) {
        Ok(params) => params,
        Err(_) => return Ok(error_page(&LinkError::StateMissing)),
    };
    let cookie_name = params.state.as_deref().map(|s| flow_cookie_name(&SecretString::new(s.to_owned()).sha256_hex()));
    let binding = cookie_name.as_deref().and_then(|name| cookie(&request, name));
    let outcome = complete_authorization(state, params, binding.as_deref()).await;
    let mut response = match (&outcome.target, outcome.result) {
        (Some(target), result) => deliver(target, result),
        (None, Err(error)) => error_page(&error),
        (None, Ok(_)) => unreachable!("a completed flow always has a target"),
    };
    if let Some(name) = cookie_name {
        let clear = format!("{name}=; Path=/v1/oauth/callback; Max-Age=0; HttpOnly; SameSite=Lax");
        if let Ok(value) = http::HeaderValue::from_str(&clear) {
            response.headers_mut().append(http::header::SET_COOKIE, value);
        }
    }
    Ok(response)
}
