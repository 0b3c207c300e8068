//! `POST /v1/sessions`, the session deep links, and the overview's actions.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::super::auth::secret_key_caller;
use super::super::error::ErrorBody;
use super::super::pages::render_connect_page;
use super::super::request::{form_body, json_body, public_base, query};
use super::super::routes::Matched;
use super::super::{json_response, ApiError, Request, Response};
use super::connect::{begin, error_page};
use crate::link::connect::{act, load_page, Action, PageParams};
use crate::link::LinkError;
use crate::session::{create_session as create, SessionRequest};
use crate::state::AppState;

/// A session.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// The session token (a JWT): open `url`, or a deep link with `?jwt=`.
    pub session_token: String,
    /// The hosted page for this session.
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /v1/sessions`: a Connect session for one consumer.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = SessionRequest, security(("secret_key" = [])),
    params(("x-latchkey-consumer-id" = Option<String>, Header, description = "The consumer (end user) id, if not in the body")),
    responses((status = 201, description = "The session", body = SessionResponse),
              (status = 400, description = "Invalid settings or redirect_uri", body = ErrorBody),
              (status = 401, description = "No valid secret key", body = ErrorBody)))]
pub async fn create_session(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let body: SessionRequest = json_body(&request)?;
    let header = request.headers().get("x-latchkey-consumer-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let consumer = body.consumer_id.clone().or(header).unwrap_or_default();
    let base = public_base(state, &request)?;
    let session = create(state, &caller, consumer, body).await?;
    let mut url = url::Url::parse(&format!("{base}/connect")).map_err(|e| ApiError::Internal(e.to_string()))?;
    url.query_pairs_mut().append_pair("jwt", session.token.expose());
    let response = SessionResponse {
        session_token: session.token.expose().to_owned(),
        url: url.to_string(),
        expires_at: crate::Timestamp(session.claims.exp).to_rfc3339(),
    };
    Ok(json_response(http::StatusCode::CREATED, &json!(response)))
}

/// `GET /connect/{unified_api}/{service_id}?jwt=`: a deep link to one connector of a session.
#[utoipa::path(get, path = "/connect/{unified_api}/{service_id}", tag = "connect",
    params(("unified_api" = String, Path, description = "The unified API (crm, ticketing, ...)"),
           ("service_id" = String, Path, description = "The service (salesforce, zendesk, ...)"),
           ("jwt" = String, Query, description = "The session token")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 403, description = "Not part of this session", content_type = "text/html")))]
pub async fn connect_deep_link(state: &AppState, matched: &Matched, request: Request) -> Result<Response, ApiError> {
    let Ok(params) = query::<PageParams>(&request) else {
        return Ok(error_page(&LinkError::LinkTokenInvalid));
    };
    let unified_api = matched.param("unified_api").unwrap_or_default();
    let service_id = matched.param("service_id").unwrap_or_default();
    let page = match load_page(state, &params).await.and_then(|page| page.deep(unified_api, service_id)) {
        Ok(page) => page,
        Err(error) => return Ok(error_page(&error)),
    };
    Ok(render_connect_page(&page, &params.link_token))
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(flatten)]
    page: PageParams,
    connector: String,
    action: String,
    #[serde(default)]
    choice: Option<String>,
}

/// `POST /connect/actions`: reauthorize, disconnect or delete a connection from a session's overview.
#[utoipa::path(post, path = "/connect/actions", tag = "connect",
    request_body(content_type = "application/x-www-form-urlencoded", description = "jwt, connector, action"),
    responses((status = 303, description = "To the provider (reauthorize) or back to the overview"),
              (status = 400, description = "Refused", content_type = "text/html")))]
pub async fn connect_action(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let Ok(form) = form_body::<ActionForm>(&request) else {
        return Ok(error_page(&LinkError::InvalidRequest("The form is incomplete.".into())));
    };
    let base = public_base(state, &request)?;
    let page = match load_page(state, &form.page).await {
        Ok(page) => page,
        Err(error) => return Ok(error_page(&error)),
    };
    let action = match Action::allowed(&page, &form.action, form.choice.as_deref()) {
        Ok(action) => action,
        Err(error) => return Ok(error_page(&error)),
    };
    if action == Action::Reauthorize {
        return Ok(begin(state, &page, &form.connector, &Default::default(), &base).await);
    }
    if let Err(error) = act(state, &page, &form.connector, action).await {
        return Ok(error_page(&error));
    }
    let mut back = url::Url::parse(&format!("{base}/connect")).map_err(|e| ApiError::Internal(e.to_string()))?;
    back.query_pairs_mut().append_pair("jwt", &form.page.link_token);
    Ok(http::Response::builder()
        .status(http::StatusCode::SEE_OTHER)
        .header(http::header::LOCATION, back.to_string())
        .header(http::header::REFERRER_POLICY, "no-referrer")
        .body(lambda_http::Body::Empty)
        .expect("static headers"))
}
