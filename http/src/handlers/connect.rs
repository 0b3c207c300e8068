//! The hosted Connect page, its SDK, the forms it submits, and the authorize links' confirmation.
//!
//! Every form is guarded twice against being posted from another site: the browser's own word
//! (`Sec-Fetch-Site`, `Origin`, checked by [`PageForm`]) and a per-browser token, set as a cookie
//! when the page is shown and carried back in each form ([`FormGuard`]).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use latchkey::link::callback::ResultTarget;
use latchkey::link::connect::{load_page, page_for_authorize_link, start_authorization, submit_key, ConnectPage, KeyForm, PageParams};
use latchkey::link::connection::Connected;
use latchkey::link::LinkError;
use latchkey::model::{ActorKind, AuditAction};
use latchkey::{Ports, SecretString};

use super::forms::{AuthorizeFormFields, CredentialsFormFields, PageMode, StartFormFields};
use crate::audit::{attach, Facts, RequestOrigin};
use crate::error::{ApiError, ErrorCode, PageError};
use crate::extract::{ApiQuery, PageForm, PublicBase};
use crate::pages::{self, result_page, ResultMessage};

const SDK: &str = include_str!("../../../shared/assets/sdk.js");

/// The cookie holding this browser's anti-forgery token.
const CSRF_COOKIE: &str = "lk_csrf";

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// The anti-forgery token a form carries back.
#[derive(Debug, Default, Deserialize)]
pub struct FormGuard {
    #[serde(default)]
    csrf: Option<String>,
}

impl FormGuard {
    /// Refuses a form whose token does not match this browser's cookie. A browser that names where
    /// the form came from has already been heard by [`PageForm`]; one that does not must carry the
    /// token (a cookie of its own that another site can neither read nor set).
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let refuse = || ApiError::new(ErrorCode::CrossSiteRequest, "This form was sent from another site. Start again from the app.");
        let origin_named = headers.get(header::ORIGIN).is_some_and(|o| o.as_bytes() != b"null");
        let vouched = headers.contains_key("sec-fetch-site") || origin_named;
        match (cookie(headers, CSRF_COOKIE), self.csrf.as_deref()) {
            (Some(expected), Some(given)) if latchkey::secret::constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(()),
            (Some(_), Some(_)) => Err(refuse()),
            _ if vouched => Ok(()),
            _ => Err(refuse()),
        }
    }
}

/// The Connect page with this browser's anti-forgery token, setting its cookie on first sight.
/// Over https the cookie is `SameSite=None; Partitioned` so the page works inside the app's modal
/// (a cross-site frame) without being a tracking cookie; on plain http (local) it is `Lax`.
pub fn page_with_csrf(page: &ConnectPage, link_token: &str, headers: &HeaderMap, base: Option<&PublicBase>) -> Response {
    crate::pages::i18n::prefer(page.link.lang.as_deref());
    let (token, fresh) =
        match cookie(headers, CSRF_COOKIE).filter(|c| c.len() == 43 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')) {
            Some(existing) => (existing, false),
            None => (latchkey::secret::random_token(32).expose().to_owned(), true),
        };
    let mut response = pages::connect_page(page, link_token, &token);
    if fresh {
        set_csrf_cookie(&mut response, &token, base);
    }
    response
}

fn set_csrf_cookie(response: &mut Response, token: &str, base: Option<&PublicBase>) {
    let https = base.is_some_and(|b| b.0.starts_with("https://"));
    let attributes = if https { "SameSite=None; Secure; Partitioned" } else { "SameSite=Lax" };
    if let Ok(value) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/connect; HttpOnly; {attributes}")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `GET /connect`: the Connect page for a link token.
#[utoipa::path(get, path = "/connect", tag = "connect",
    params(("link_token" = String, Query, description = "The link token (or `jwt` in its place, a session token)"),
           ("mode" = Option<PageMode>, Query, description = "modal (inside the SDK) or page"),
           ("origin" = Option<String>, Query, description = "The app origin, in modal mode")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 400, description = "invalid_request: no link token, or a bad mode", content_type = "text/html"),
              (status = 403, description = "origin_not_allowed", content_type = "text/html"),
              (status = 410, description = "link_token_invalid: expired or invalid link", content_type = "text/html")))]
pub async fn connect_page(
    State(ports): State<Ports>,
    headers: HeaderMap,
    base: Result<PublicBase, ApiError>,
    query: Result<ApiQuery<PageParams>, ApiError>,
) -> Result<Response, PageError> {
    let ApiQuery(params) = query.map_err(|_| incomplete_link())?;
    check_mode(&params)?;
    let page = load_page(&ports, &params).await?;
    Ok(page_with_csrf(&page, &params.link_token, &headers, base.ok().as_ref()))
}

/// `GET /connect/sdk.js`: the JS SDK, an ES module.
#[utoipa::path(get, path = "/connect/sdk.js", tag = "connect",
    responses((status = 200, description = "The SDK", content_type = "text/javascript")))]
pub async fn connect_sdk() -> Response {
    let mut response = SDK.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    // Module scripts load in CORS mode; the SDK is public.
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// The start form's fields.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(flatten)]
    page: PageParams,
    #[serde(flatten)]
    guard: FormGuard,
    connector: String,
    /// `field_<name>` values for the connector's fields.
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

/// `POST /connect/oauth/start`: start a provider authorization (a form of the Connect page).
#[utoipa::path(post, path = "/connect/oauth/start", tag = "connect",
    request_body(content = StartFormFields, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the provider's authorize URL", headers(("Location" = String, description = "The provider's authorize URL"))),
              (status = 400, description = "invalid_request, field_invalid", content_type = "text/html"),
              (status = 403, description = "cross_site_request, connector_not_allowed", content_type = "text/html"),
              (status = 410, description = "link_token_invalid", content_type = "text/html")))]
pub async fn connect_start(
    State(ports): State<Ports>,
    PublicBase(base): PublicBase,
    headers: HeaderMap,
    PageForm(form): PageForm<StartForm>,
) -> Result<Response, PageError> {
    form.guard.check(&headers)?;
    let page = load_page(&ports, &form.page).await?;
    crate::pages::i18n::prefer(page.link.lang.as_deref());
    begin(&ports, &page, &form.connector, &form.fields, &base).await
}

/// Starts the authorization of `connector` from `page` and sends the browser to the provider.
pub(super) async fn begin(ports: &Ports, page: &ConnectPage, connector: &str, fields: &BTreeMap<String, String>, base: &str) -> Result<Response, PageError> {
    let started = start_authorization(ports, page, connector, fields, format!("{base}/v1/oauth/callback")).await?;
    let secure = if base.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{}={}; Path=/v1/oauth/callback; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
        flow_cookie_name(&started.state_hash),
        started.browser_binding.expose()
    );
    let mut response = pages::see_other(&started.authorize_url);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The query of an authorize link.
#[derive(Deserialize)]
pub struct AuthorizeQuery {
    token: String,
    #[serde(default)]
    redirect_uri: Option<String>,
}

/// `GET /connect/authorize`: an `authorize_url` from the connections API, opened by the consumer's
/// browser. It shows which app asks for which service and waits for a click: an authorize link
/// that sent the browser straight to the provider would let another site start a sign-in in a
/// victim's browser.
#[utoipa::path(get, path = "/connect/authorize", tag = "connect",
    params(("token" = String, Query, description = "The signed authorize token"),
           ("redirect_uri" = Option<String>, Query, description = "Where to return afterwards (an allowed origin of the project)")),
    responses((status = 200, description = "The confirmation page", content_type = "text/html"),
              (status = 400, description = "invalid_request: no token; redirect_url_not_allowed", content_type = "text/html"),
              (status = 410, description = "link_token_invalid", content_type = "text/html")))]
pub async fn connect_authorize(
    State(ports): State<Ports>,
    headers: HeaderMap,
    base: Result<PublicBase, ApiError>,
    query: Result<ApiQuery<AuthorizeQuery>, ApiError>,
) -> Result<Response, PageError> {
    let ApiQuery(params) = query.map_err(|_| incomplete_link())?;
    let page = page_for_authorize_link(&ports, &params.token, params.redirect_uri.as_deref(), false).await?;
    let (token, fresh) = match cookie(&headers, CSRF_COOKIE) {
        Some(existing) => (existing, false),
        None => (latchkey::secret::random_token(32).expose().to_owned(), true),
    };
    let mut response = pages::authorize_confirmation(&page, &params.token, params.redirect_uri.as_deref(), &token);
    if fresh {
        set_csrf_cookie(&mut response, &token, base.ok().as_ref());
    }
    Ok(response)
}

/// The confirmation form.
#[derive(Deserialize)]
pub struct AuthorizeForm {
    token: String,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(flatten)]
    guard: FormGuard,
}

/// `POST /connect/authorize`: the person confirmed; start the provider authorization.
#[utoipa::path(post, path = "/connect/authorize", tag = "connect",
    request_body(content = AuthorizeFormFields, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the provider", headers(("Location" = String, description = "The provider's authorize URL"))),
              (status = 400, description = "invalid_request: an incomplete form; redirect_url_not_allowed", content_type = "text/html"),
              (status = 403, description = "cross_site_request", content_type = "text/html"),
              (status = 410, description = "link_token_invalid", content_type = "text/html")))]
pub async fn connect_authorize_confirm(
    State(ports): State<Ports>,
    PublicBase(base): PublicBase,
    headers: HeaderMap,
    PageForm(form): PageForm<AuthorizeForm>,
) -> Result<Response, PageError> {
    form.guard.check(&headers)?;
    let page = page_for_authorize_link(&ports, &form.token, form.redirect_uri.as_deref(), true).await?;
    let connector = page.connectors.first().map(|c| c.uid.to_string()).unwrap_or_default();
    begin(&ports, &page, &connector, &Default::default(), &base).await
}

/// The cookie that binds one flow to the browser that started it. Named per flow, so two flows in
/// one browser do not overwrite each other.
pub fn flow_cookie_name(state_hash: &str) -> String {
    format!("lk_flow_{}", &state_hash[..state_hash.len().min(16)])
}

/// The key form, with the page's fields.
#[derive(Deserialize)]
pub struct KeySubmission {
    #[serde(flatten)]
    page: PageParams,
    #[serde(flatten)]
    guard: FormGuard,
    #[serde(flatten)]
    key: KeyForm,
}

/// `POST /connect/credentials`: store an API key or username and password (a form of the page).
#[utoipa::path(post, path = "/connect/credentials", tag = "connect",
    request_body(content = CredentialsFormFields, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The result page", content_type = "text/html"),
              (status = 303, description = "To the link's redirect_url", headers(("Location" = String, description = "The app's redirect URL"))),
              (status = 400, description = "invalid_request", content_type = "text/html"),
              (status = 403, description = "cross_site_request, connector_not_allowed", content_type = "text/html")))]
pub async fn connect_credentials(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    headers: HeaderMap,
    PageForm(form): PageForm<KeySubmission>,
) -> Result<Response, PageError> {
    form.guard.check(&headers)?;
    let page = load_page(&ports, &form.page).await?;
    crate::pages::i18n::prefer(page.link.lang.as_deref());
    let target = ResultTarget {
        mode: page.mode,
        origin: page.origin.clone(),
        redirect_url: page.link.redirect_url.clone(),
        lang: page.link.lang.clone(),
        connector_name: page.connector(&form.key.connector).ok().map(|c| c.name().to_owned()),
    };
    Ok(deliver(&origin, &target, submit_key(&ports, &page, form.key).await))
}

/// Delivers a connection attempt's outcome to where its flow says; a connection made (or made
/// again) leaves its audit event, its end user the actor.
pub fn deliver(origin: &RequestOrigin, target: &ResultTarget, result: Result<Connected, LinkError>) -> Response {
    match result {
        Ok(connected) => {
            let connection = &connected.connection;
            let metadata = serde_json::json!({
                "connector": {"uid": connection.connector, "provider": connection.connector.provider(), "name": connection.connector.as_str()},
                "connection_state": connection.state,
            });
            let message = ResultMessage::Success { public_token: connected.public_token.expose().to_owned(), metadata };
            let facts = Facts {
                origin,
                project_id: connection.project_id.clone(),
                environment: Some(connection.environment.clone()),
                actor: (ActorKind::EndUser, connection.subject.id.as_ref().map(|id| id.to_string()).unwrap_or_default()),
                connection_id: Some(connection.id.clone()),
                connector: Some(connection.connector.clone()),
            };
            let action = if connection.grant_generation > 0 { AuditAction::ConnectionRelinked } else { AuditAction::ConnectionCreated };
            attach(result_page(axum::http::StatusCode::OK, target, message), facts.event(action, "ok"))
        }
        Err(error) => {
            let error = ApiError::from(error);
            error.log();
            let message = match error.code {
                ErrorCode::InternalError => "Something went wrong on our side. Try again.".to_owned(),
                _ => error.message.clone(),
            };
            result_page(error.status(), target, ResultMessage::Exit { code: error.code, message })
        }
    }
}

/// A page URL without its token: a malformed request, not a dead link.
pub(super) fn incomplete_link() -> ApiError {
    ApiError::invalid("This link is incomplete. Start again from the app.")
}

/// Refuses a mode the page does not have before the token is looked up: a malformed URL is the
/// same refusal whether or not its token is still good.
pub(super) fn check_mode(params: &PageParams) -> Result<(), ApiError> {
    match params.mode.as_deref() {
        None | Some("modal") | Some("page") => Ok(()),
        Some(_) => Err(ApiError::invalid("mode must be modal or page")),
    }
}

/// The hash of a secret as flows key it, for cookie names.
pub fn hash_of(raw: &str) -> String {
    SecretString::new(raw.to_owned()).sha256_hex()
}
