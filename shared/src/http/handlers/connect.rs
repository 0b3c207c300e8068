//! The hosted Connect page, its SDK, and the two forms it submits.

use serde::Deserialize;

use super::super::pages::{render_connect_page, render_error_page, render_result_page, ResultMessage};
use super::super::request::{form_body, public_base, query};
use super::super::{ApiError, Request, Response};
use crate::link::callback::ResultTarget;
use crate::link::connect::{load_page, start_authorization, submit_key, KeyForm, PageParams};
use crate::link::connection::Connected;
use crate::link::LinkError;
use crate::state::AppState;

const SDK: &str = include_str!("../../../assets/sdk.js");

/// `GET /connect`: the Connect page for a link token.
#[utoipa::path(get, path = "/connect", tag = "connect",
    params(("link_token" = String, Query, description = "The link token"),
           ("mode" = Option<String>, Query, description = "modal (inside the SDK) or page"),
           ("origin" = Option<String>, Query, description = "The app origin, in modal mode")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 410, description = "Expired or invalid link", content_type = "text/html")))]
pub async fn connect_page(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let params: PageParams = match query(&request) {
        Ok(params) => params,
        Err(_) => return Ok(error_page(&LinkError::LinkTokenInvalid)),
    };
    Ok(match load_page(state, &params).await {
        Ok(page) => render_connect_page(&page, &params.link_token),
        Err(error) => error_page(&error),
    })
}

/// `GET /connect/sdk.js`: the JS SDK, an ES module.
#[utoipa::path(get, path = "/connect/sdk.js", tag = "connect",
    responses((status = 200, description = "The SDK", content_type = "text/javascript")))]
pub async fn connect_sdk(_state: &AppState, _request: Request) -> Result<Response, ApiError> {
    Ok(http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/javascript; charset=utf-8")
        .header(http::header::CACHE_CONTROL, "public, max-age=300")
        // Module scripts load in CORS mode; the SDK is public.
        .header(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .body(lambda_http::Body::Text(SDK.to_owned()))
        .expect("static headers"))
}

/// The start form's fields.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(flatten)]
    page: PageParams,
    connector: String,
    /// `field_<name>` values for the connector's fields.
    #[serde(flatten)]
    fields: std::collections::BTreeMap<String, String>,
}

/// `POST /connect/oauth/start`: start a provider authorization (a form of the Connect page).
#[utoipa::path(post, path = "/connect/oauth/start", tag = "connect",
    request_body(content_type = "application/x-www-form-urlencoded", description = "link_token, connector, mode, origin"),
    responses((status = 303, description = "To the provider's authorize URL"),
              (status = 400, description = "Refused", content_type = "text/html")))]
pub async fn connect_start(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let form: StartForm = match form_body(&request) {
        Ok(form) => form,
        Err(_) => return Ok(error_page(&LinkError::InvalidRequest("The form is incomplete. Start again from the app.".into()))),
    };
    let base = public_base(state, &request)?;
    let page = match load_page(state, &form.page).await {
        Ok(page) => page,
        Err(error) => return Ok(error_page(&error)),
    };
    Ok(begin(state, &page, &form.connector, &form.fields, &base).await)
}

/// Starts the authorization of `connector` from `page` and sends the browser to the provider.
pub(super) async fn begin(
    state: &AppState,
    page: &crate::link::connect::ConnectPage,
    connector: &str,
    fields: &std::collections::BTreeMap<String, String>,
    base: &str,
) -> Response {
    let started = match start_authorization(state, page, connector, fields, format!("{base}/v1/oauth/callback")).await {
        Ok(started) => started,
        Err(error) => return error_page(&error),
    };
    let secure = if base.starts_with("https://") { "; Secure" } else { "" };
    let state_hash = url::Url::parse(&started.authorize_url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()))
        .map(|s| crate::SecretString::new(s).sha256_hex())
        .unwrap_or_default();
    let cookie =
        format!("{}={}; Path=/v1/oauth/callback; Max-Age=600; HttpOnly; SameSite=Lax{secure}", flow_cookie_name(&state_hash), started.browser_binding.expose());
    http::Response::builder()
        .status(http::StatusCode::SEE_OTHER)
        .header(http::header::LOCATION, started.authorize_url)
        .header(http::header::SET_COOKIE, cookie)
        .header(http::header::REFERRER_POLICY, "no-referrer")
        .body(lambda_http::Body::Empty)
        .expect("static headers")
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    token: String,
    #[serde(default)]
    redirect_uri: Option<String>,
}

/// `GET /connect/authorize`: an `authorize_url` from the connections API, opened by the consumer's
/// browser; starts the provider authorization at once.
#[utoipa::path(get, path = "/connect/authorize", tag = "connect",
    params(("token" = String, Query, description = "The signed authorize token"),
           ("redirect_uri" = Option<String>, Query, description = "Where to return afterwards (an allowed origin of the project)")),
    responses((status = 303, description = "To the provider"), (status = 400, description = "Refused", content_type = "text/html")))]
pub async fn connect_authorize(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let Ok(params) = query::<AuthorizeQuery>(&request) else {
        return Ok(error_page(&LinkError::LinkTokenInvalid));
    };
    let base = public_base(state, &request)?;
    let page = match crate::link::connect::page_for_authorize_link(state, &params.token, params.redirect_uri.as_deref()).await {
        Ok(page) => page,
        Err(error) => return Ok(error_page(&error)),
    };
    let connector = page.connectors.first().map(|c| c.uid.to_string()).unwrap_or_default();
    Ok(begin(state, &page, &connector, &Default::default(), &base).await)
}

/// The cookie that binds one flow to the browser that started it. Named per flow, so two flows in
/// one browser do not overwrite each other.
pub fn flow_cookie_name(state_hash: &str) -> String {
    format!("lk_flow_{}", &state_hash[..state_hash.len().min(16)])
}

#[derive(Deserialize)]
struct KeySubmission {
    #[serde(flatten)]
    page: PageParams,
    #[serde(flatten)]
    key: KeyForm,
}

/// `POST /connect/credentials`: store an API key or username and password (a form of the page).
#[utoipa::path(post, path = "/connect/credentials", tag = "connect",
    request_body(content_type = "application/x-www-form-urlencoded", description = "link_token, connector, mode, origin, api_key or username and password"),
    responses((status = 200, description = "The result page", content_type = "text/html"),
              (status = 400, description = "Refused", content_type = "text/html")))]
pub async fn connect_credentials(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let Ok(form) = form_body::<KeySubmission>(&request) else {
        return Ok(error_page(&LinkError::InvalidRequest("The form is incomplete. Start again from the app.".into())));
    };
    let page = match load_page(state, &form.page).await {
        Ok(page) => page,
        Err(error) => return Ok(error_page(&error)),
    };
    let target = ResultTarget { mode: page.mode, origin: page.origin.clone(), redirect_url: page.link.redirect_url.clone() };
    Ok(deliver(&target, submit_key(state, &page, form.key).await))
}

/// Delivers a connection attempt's outcome to where its flow says.
pub fn deliver(target: &ResultTarget, result: Result<Connected, LinkError>) -> Response {
    match result {
        Ok(connected) => {
            let connection = &connected.connection;
            let metadata = serde_json::json!({
                "connector": {"uid": connection.connector, "provider": connection.connector.provider(), "name": connection.connector.as_str()},
                "connection_state": connection.state,
            });
            let message = ResultMessage::Success { public_token: connected.public_token.expose().to_owned(), metadata };
            render_result_page(http::StatusCode::OK, target, message)
        }
        Err(LinkError::Record(e)) => {
            let error = ApiError::from(e);
            let status = error.status();
            let code = error.code().to_owned();
            let _ = error.into_response(); // logs the detail
            render_result_page(status, target, ResultMessage::Exit { code, message: "Something went wrong on our side. Try again.".into() })
        }
        Err(error) => render_result_page(error.status(), target, ResultMessage::Exit { code: error.code(), message: error.to_string() }),
    }
}

/// A page for an error with nowhere to deliver it.
pub fn error_page(error: &LinkError) -> Response {
    render_error_page(error.status(), &error.code(), &error.to_string())
}
