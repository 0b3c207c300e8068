//! The sandbox provider's routes (`/sandbox/...`): its metadata, its authorization endpoint and
//! consent page, its token and revocation endpoints (which answer errors in RFC 6749's shape, as a
//! provider does, for Latchkey's own OAuth client to read), and its small API.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use latchkey::sandbox::api::{self, RevokeForm};
use latchkey::sandbox::authorize::{decide, request_authorization, Authorization, AuthorizeParams, Decision};
use latchkey::sandbox::token::{exchange, TokenForm};
use latchkey::sandbox::{ClientCredentials, OAuthCode, SandboxError};
use latchkey::Ports;

use super::connect::cookie;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{bearer, ApiQuery, OAuthForm, PageForm, PublicBase};
use crate::pages::{sandbox as page, see_other};

/// The query of the sandbox's home.
#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    #[serde(default)]
    public_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /sandbox`: what the sandbox is, and where the demo link returns.
#[utoipa::path(get, path = "/sandbox", tag = "sandbox",
    params(("public_token" = Option<String>, Query, description = "The public token the Connect page returned"),
           ("error" = Option<String>, Query, description = "The error the Connect page ended with")),
    responses((status = 200, description = "The sandbox's home", content_type = "text/html"),
              (status = 400, description = "invalid_request: a malformed query, or no host to build links from", body = ErrorBody)))]
pub async fn sandbox_home(base: Result<PublicBase, ApiError>, ApiQuery(query): ApiQuery<HomeQuery>) -> Result<Response, ApiError> {
    let PublicBase(base) = base?;
    let short = |v: Option<String>| v.filter(|v| v.len() <= 256);
    Ok(page::home_page(&base, short(query.public_token).as_deref(), short(query.error).as_deref()))
}

/// `GET /sandbox/.well-known/oauth-authorization-server`: the sandbox's RFC 8414 metadata.
#[utoipa::path(get, path = "/sandbox/.well-known/oauth-authorization-server", tag = "sandbox",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = Object),
              (status = 400, description = "invalid_request: no host to build links from", body = ErrorBody)))]
pub async fn sandbox_metadata(PublicBase(base): PublicBase) -> Json<serde_json::Value> {
    Json(latchkey::sandbox::metadata(&base))
}

/// The cookie binding a consent page to its browser.
fn consent_cookie(request_hash: &str) -> String {
    format!("lk_sbx_{}", &request_hash[..request_hash.len().min(16)])
}

/// `GET /sandbox/authorize`: the authorization endpoint; the consent page, or the client's
/// redirect URI with an error.
#[utoipa::path(get, path = "/sandbox/authorize", tag = "sandbox",
    params(AuthorizeQueryDoc),
    responses((status = 200, description = "The consent page", content_type = "text/html"),
              (status = 303, description = "To the client's redirect URI with an error, state and iss", headers(("Location" = String, description = "The client's redirect URI"))),
              (status = 400, description = "An unknown client or an unregistered redirect URI: shown, never redirected", content_type = "text/html")))]
pub async fn sandbox_authorize(State(ports): State<Ports>, base: Result<PublicBase, ApiError>, query: Result<ApiQuery<AuthorizeParams>, ApiError>) -> Response {
    let Ok(ApiQuery(params)) = query else {
        return page::problem_page(StatusCode::BAD_REQUEST, "The authorization request is malformed.");
    };
    match request_authorization(&ports, params).await {
        Ok(Authorization::Redirect(to)) => see_other(&to),
        Ok(Authorization::Consent(consent)) => {
            let mut response = page::consent_page(&consent);
            let secure = if base.is_ok_and(|b| b.0.starts_with("https://")) { "; Secure" } else { "" };
            let cookie = format!(
                "{}={}; Path=/sandbox/authorize; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
                consent_cookie(&consent.request_hash),
                consent.browser_binding.expose()
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => problem(error),
    }
}

/// The consent form.
#[derive(Deserialize)]
pub struct ConsentForm {
    request: String,
    decision: String,
    #[serde(default)]
    account: String,
}

/// What the consent form carries, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ConsentFormFields {
    /// The request id the consent page carried.
    pub request: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// The sandbox account name.
    pub account: Option<String>,
}

/// `POST /sandbox/authorize`: the person's answer; to the client's redirect URI with a code (or
/// `access_denied`), `state` and `iss`.
#[utoipa::path(post, path = "/sandbox/authorize", tag = "sandbox",
    request_body(content = ConsentFormFields, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the client's redirect URI", headers(("Location" = String, description = "The client's redirect URI"))),
              (status = 400, description = "The request expired, was answered, or came from another browser", content_type = "text/html"),
              (status = 403, description = "cross_site_request", content_type = "text/html")))]
pub async fn sandbox_consent(State(ports): State<Ports>, headers: HeaderMap, form: Result<PageForm<ConsentForm>, crate::error::PageError>) -> Response {
    let form = match form {
        Ok(PageForm(form)) => form,
        Err(refused) => return refused.into_response(),
    };
    let hash = latchkey::SecretString::new(form.request.clone()).sha256_hex();
    let binding = cookie(&headers, &consent_cookie(&hash));
    let approve = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return page::problem_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    let decision = Decision { request_id: &form.request, browser_binding: binding.as_deref(), approve, account: &form.account };
    match decide(&ports, decision).await {
        Ok(to) => see_other(&to),
        Err(error) => problem(error),
    }
}

fn problem(error: SandboxError) -> Response {
    match error {
        SandboxError::NotRedirectable(message) | SandboxError::Invalid(message) => page::problem_page(StatusCode::BAD_REQUEST, &message),
        SandboxError::ConsentInvalid => page::problem_page(StatusCode::BAD_REQUEST, &SandboxError::ConsentInvalid.to_string()),
        other => crate::error::PageError(other.into()).into_response(),
    }
}

/// An RFC 6749 error answer (section 5.2).
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`,
    /// `invalid_scope`, `temporarily_unavailable` or `server_error`.
    pub error: String,
    /// For the developer.
    pub error_description: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = OAuthErrorBody { error: error.to_owned(), error_description: Some(description.to_owned()) };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sandbox\""));
    }
    response
}

/// A token or revocation endpoint's refusal, in RFC 6749's shape.
fn oauth_refusal(error: SandboxError) -> Response {
    match error {
        SandboxError::OAuth { error: OAuthCode::InvalidClient, description } => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &description),
        SandboxError::OAuth { error, description } => oauth_error(StatusCode::BAD_REQUEST, error.as_str(), &description),
        SandboxError::Unavailable => {
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the sandbox client is switched to be unavailable")
        }
        SandboxError::Record(e) => {
            ApiError::from(e).log();
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the sandbox's store failed; retry")
        }
        other => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &other.to_string()),
    }
}

/// The client's HTTP basic credentials, if it sent an Authorization header; the refusal (boxed:
/// a response is large beside the credentials) if that header is not basic authentication.
fn basic(headers: &HeaderMap) -> Result<Option<ClientCredentials>, Box<Response>> {
    match headers.get(header::AUTHORIZATION).map(|v| v.to_str().ok().and_then(ClientCredentials::from_basic)) {
        None => Ok(None),
        Some(Some(credentials)) => Ok(Some(credentials)),
        Some(None) => {
            Err(Box::new(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "the Authorization header is not HTTP basic client authentication")))
        }
    }
}

/// `POST /sandbox/token`: redeem a code (PKCE), or rotate a refresh token.
#[utoipa::path(post, path = "/sandbox/token", tag = "sandbox",
    request_body(content = TokenFormDoc, content_type = "application/x-www-form-urlencoded"),
    security(("sandbox_client" = []), ()),
    responses((status = 200, description = "Tokens (RFC 6749 5.1)", body = SandboxTokens),
              (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type, invalid_scope", body = OAuthErrorBody),
              (status = 401, description = "invalid_client", body = OAuthErrorBody, headers(("WWW-Authenticate" = String, description = "Basic"))),
              (status = 503, description = "temporarily_unavailable (the client's switch)", body = OAuthErrorBody)))]
pub async fn sandbox_token(State(ports): State<Ports>, headers: HeaderMap, OAuthForm(form): OAuthForm<TokenForm>) -> Response {
    let basic = match basic(&headers) {
        Ok(basic) => basic,
        Err(refused) => return *refused,
    };
    let form = match form {
        Ok(form) => form,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &why),
    };
    match exchange(&ports, form, basic).await {
        Ok(issued) => {
            let mut response = Json(issued.to_json()).into_response();
            response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => oauth_refusal(error),
    }
}

/// `POST /sandbox/revoke`: RFC 7009 revocation.
#[utoipa::path(post, path = "/sandbox/revoke", tag = "sandbox",
    request_body(content = RevokeFormDoc, content_type = "application/x-www-form-urlencoded"),
    security(("sandbox_client" = []), ()),
    responses((status = 200, description = "Revoked (also when the token was unknown)"),
              (status = 400, description = "invalid_request", body = OAuthErrorBody),
              (status = 401, description = "invalid_client", body = OAuthErrorBody, headers(("WWW-Authenticate" = String, description = "Basic"))),
              (status = 503, description = "temporarily_unavailable (the client's switch)", body = OAuthErrorBody)))]
pub async fn sandbox_revoke(State(ports): State<Ports>, headers: HeaderMap, OAuthForm(form): OAuthForm<RevokeForm>) -> Response {
    let basic = match basic(&headers) {
        Ok(basic) => basic,
        Err(refused) => return *refused,
    };
    let form = match form {
        Ok(form) => form,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &why),
    };
    match api::revoke(&ports, form, basic).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => oauth_refusal(error),
    }
}

/// The API's refusals, with RFC 6750's `WWW-Authenticate` on a bad token.
fn api_refusal(error: SandboxError) -> ApiErrorWithChallenge {
    let challenge = match &error {
        SandboxError::InvalidToken => Some("Bearer realm=\"sandbox\", error=\"invalid_token\""),
        SandboxError::InsufficientScope(_) => Some("Bearer realm=\"sandbox\", error=\"insufficient_scope\""),
        _ => None,
    };
    ApiErrorWithChallenge(error.into(), challenge)
}

/// An API error with its bearer challenge.
pub struct ApiErrorWithChallenge(ApiError, Option<&'static str>);

impl IntoResponse for ApiErrorWithChallenge {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        if let Some(challenge) = self.1 {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// `GET /sandbox/api/me`: the account the token acts for (scope `profile`).
#[utoipa::path(get, path = "/sandbox/api/me", tag = "sandbox", security(("sandbox_token" = [])),
    responses((status = 200, description = "The account", body = Object),
              (status = 401, description = "unauthenticated: the token is missing, expired or revoked", body = ErrorBody),
              (status = 403, description = "insufficient_scope", body = ErrorBody),
              (status = 503, description = "sandbox_unavailable (the client's switch)", body = ErrorBody)))]
pub async fn sandbox_me(State(ports): State<Ports>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiErrorWithChallenge> {
    let access = api::authenticate(&ports, bearer(&headers).as_ref()).await.map_err(api_refusal)?;
    api::me(&access).map(Json).map_err(api_refusal)
}

/// `GET /sandbox/api/items`: the account's items (scope `items:read`).
#[utoipa::path(get, path = "/sandbox/api/items", tag = "sandbox", security(("sandbox_token" = [])),
    responses((status = 200, description = "The items", body = Object),
              (status = 401, description = "unauthenticated: the token is missing, expired or revoked", body = ErrorBody),
              (status = 403, description = "insufficient_scope", body = ErrorBody),
              (status = 503, description = "sandbox_unavailable (the client's switch)", body = ErrorBody)))]
pub async fn sandbox_items(State(ports): State<Ports>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiErrorWithChallenge> {
    let access = api::authenticate(&ports, bearer(&headers).as_ref()).await.map_err(api_refusal)?;
    api::items(&access).map(Json).map_err(api_refusal)
}

/// The authorization request's query, for the OpenAPI document.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQueryDoc {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// One of the client's redirect URIs, exactly.
    pub redirect_uri: Option<String>,
    /// Given back as it came.
    pub state: Option<String>,
    /// `profile`, `items:read`.
    pub scope: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    pub code_challenge_method: Option<String>,
}

/// The token endpoint's form, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct TokenFormDoc {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The code.
    pub code: Option<String>,
    /// The redirect URI the code was issued for.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// On a refresh: fewer scopes than granted.
    pub scope: Option<String>,
    /// The client, when it authenticates in the form.
    pub client_id: Option<String>,
    /// Its secret, when it authenticates in the form.
    pub client_secret: Option<String>,
}

/// The revocation endpoint's form, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct RevokeFormDoc {
    /// The token.
    pub token: String,
    /// `access_token` or `refresh_token`.
    pub token_type_hint: Option<String>,
    /// The client, when it authenticates in the form.
    pub client_id: Option<String>,
    /// Its secret, when it authenticates in the form.
    pub client_secret: Option<String>,
}

/// The token endpoint's answer (RFC 6749 5.1).
#[derive(Serialize, ToSchema)]
pub struct SandboxTokens {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds it lives.
    pub expires_in: i64,
    /// The new refresh token (the one presented is spent).
    pub refresh_token: String,
    /// The scopes, space-separated.
    pub scope: String,
}
