//! Extractors: what handlers need from a request, parsed into a type at the edge so a handler
//! never holds raw input. Each rejects with the same [`ApiError`] a handler would return.
//!
//! - [`TokenCaller`], [`SecretKeyCaller`]: who is calling (a bearer credential, authenticated);
//! - [`PublicBase`]: the public base URL links are built from, never an arbitrary `Host`;
//! - [`ApiJson`]: a JSON body with the path of the offending field, no trailing data;
//! - [`ApiQuery`], [`ApiPath`]: typed query strings and path parameters;
//! - [`PageForm`]: a form posted by the Connect page, refused when it comes from another site;
//! - [`OperatorCaller`]: the operator, by the operator token of the configuration;
//! - [`OAuthForm`]: the form an OAuth client posts to the sandbox's endpoints.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use latchkey::model::SecretKeyLookup;
use latchkey::token::caller::{authenticate, Caller};
use latchkey::{Ports, SecretString};

use crate::error::{ApiError, ErrorCode, PageError};

/// The bearer credential of the `Authorization` header, if one is there.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<SecretString> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| SecretString::new(token.trim().to_owned())).filter(|t| !t.expose().is_empty())
}

/// Any authenticated caller of the token broker: a secret key, a connection access token, or an
/// OIDC token from a trusted issuer.
#[derive(Debug, Clone)]
pub struct TokenCaller(pub Caller);

impl FromRequestParts<Ports> for TokenCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ports: &Ports) -> Result<Self, Self::Rejection> {
        Ok(TokenCaller(authenticate(ports, bearer(&parts.headers)).await?))
    }
}

/// A project secret key: the only credential the management routes accept.
#[derive(Debug, Clone)]
pub struct SecretKeyCaller(pub SecretKeyLookup);

impl FromRequestParts<Ports> for SecretKeyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ports: &Ports) -> Result<Self, Self::Rejection> {
        let presented = bearer(&parts.headers).filter(|b| b.expose().starts_with(latchkey::model::SECRET_KEY_PREFIX));
        match authenticate(ports, presented).await? {
            Caller::SecretKey(key) => Ok(SecretKeyCaller(key)),
            _ => Err(ApiError::unauthenticated()),
        }
    }
}

/// The operator, on the operator routes: the bearer credential must be the operator token the
/// configuration names (`LATCHKEY_OPERATOR_TOKEN`, kept only as its SHA-256). The hashes are
/// compared in constant time; without a configured token every caller is refused.
#[derive(Debug, Clone, Copy)]
pub struct OperatorCaller;

impl FromRequestParts<Ports> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ports: &Ports) -> Result<Self, Self::Rejection> {
        let Some(expected) = ports.settings.operator_token_sha256.as_deref() else {
            return Err(ApiError::new(ErrorCode::Unauthenticated, "the operator routes are off: this deployment has no operator token"));
        };
        let presented = bearer(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        match latchkey::secret::constant_time_eq(presented.sha256_hex().as_bytes(), expected.as_bytes()) {
            true => Ok(OperatorCaller),
            false => Err(ApiError::unauthenticated()),
        }
    }
}

/// The public base URL (`https://auth.example.com`) that links in answers are built from: the
/// configured one; on Lambda, the API Gateway domain the request arrived at; or the request's
/// `Host` when the operator listed it. An arbitrary `Host` is refused, so a forged one cannot plant
/// its own domain in a link the API hands out.
#[derive(Debug, Clone)]
pub struct PublicBase(pub String);

impl FromRequestParts<Ports> for PublicBase {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ports: &Ports) -> Result<Self, Self::Rejection> {
        if let Some(url) = &ports.settings.public_url {
            return Ok(PublicBase(url.clone()));
        }
        if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<lambda_http::request::RequestContext>() {
            if let Some(domain) = context.domain_name.as_deref().filter(|d| is_host(d)) {
                return Ok(PublicBase(format!("https://{domain}")));
            }
        }
        let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| parts.uri.authority().map(|a| a.as_str()));
        match host.filter(|h| ports.settings.allowed_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(h))) {
            Some(host) => Ok(PublicBase(format!("http://{}", host.to_ascii_lowercase()))),
            None => Err(ApiError::invalid("the request's Host is not one this server answers for; set LATCHKEY_PUBLIC_URL or LATCHKEY_ALLOWED_HOSTS")),
        }
    }
}

/// A `host[:port]` as API Gateway names its domain.
fn is_host(value: &str) -> bool {
    !value.is_empty() && value.len() <= 260 && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
}

/// Reads the body, answering `payload_too_large` past the router's body limit.
async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(failed) if failed.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {} bytes", crate::layers::MAX_BODY_BYTES))
        }
        other => ApiError::invalid(format!("the request body could not be read: {}", other.body_text())),
    })
}

/// Decodes a JSON document into `T`, naming the path of the offending field but never its value
/// (which may be a secret); data after the document is refused.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::InvalidJson, "the request body is not valid JSON for this route: the body is empty"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let reason = if message.starts_with("unknown field") || message.starts_with("missing field") {
            message.split(" at line").next().unwrap_or(&message).to_owned()
        } else {
            match e.inner().classify() {
                serde_json::error::Category::Data if own_refusal(&message) => format!("`{path}`: {}", message.split(" at line").next().unwrap_or(&message)),
                serde_json::error::Category::Data => format!("`{path}` has the wrong type or is missing"),
                _ => format!("`{path}` is not valid JSON"),
            }
        };
        ApiError::new(ErrorCode::InvalidJson, format!("the request body is not valid JSON for this route: {reason}"))
    })?;
    deserializer
        .end()
        .map_err(|_| ApiError::new(ErrorCode::InvalidJson, "the request body is not valid JSON for this route: data follows the JSON document"))?;
    Ok(value)
}

/// Whether a decoding error is one of the core's own refusals (`invalid resource indicator: ...`),
/// which name a rule and never the value, rather than serde's, which may quote the value.
fn own_refusal(message: &str) -> bool {
    message.starts_with("invalid ") && !["invalid type", "invalid value", "invalid length"].iter().any(|serde| message.starts_with(serde))
}

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + utoipa::ToSchema> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(request, state).await?;
        let value = decode_json(&bytes)?;
        // Parsed again only once the typed decode took it: serde also takes a struct's fields as
        // an array, which the contract does not.
        let document: serde_json::Value = decode_json(&bytes)?;
        if let Some(path) = crate::openapi::misplaced_array(&document, &T::name()) {
            let at = if path.is_empty() { "the body".to_owned() } else { format!("`{}`", path.trim_start_matches('.')) };
            return Err(ApiError::new(ErrorCode::InvalidJson, format!("the request body is not valid JSON for this route: {at} must not be an array")));
        }
        Ok(ApiJson(value))
    }
}

/// The query string as `T`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(ApiQuery)
            .map_err(|e| ApiError::invalid(format!("the query string is malformed: {e}")))
    }
}

/// Path parameters parsed into `T` (each percent-decoded first, so a connector uid travels as one
/// segment: `slack%2Facme`). What a parse failure means depends on the parameter, so `T` says: see
/// [`FromPathSegment`].
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

/// A value that one path parameter parses into, and the error a bad one answers.
pub trait FromPathSegment: Sized {
    /// Parses the decoded segment.
    fn from_segment(raw: &str) -> Result<Self, ApiError>;
}

impl<S: Send + Sync, T: FromPathSegment + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::invalid("a path parameter is malformed"))?;
        T::from_segment(&raw).map(ApiPath)
    }
}

impl FromPathSegment for latchkey::model::ConnectorUid {
    fn from_segment(raw: &str) -> Result<Self, ApiError> {
        latchkey::model::ConnectorUid::parse(raw)
            .map_err(|_| ApiError::new(ErrorCode::ConnectorNotFound, format!("connector {} does not exist", raw.chars().take(100).collect::<String>())))
    }
}

impl FromPathSegment for latchkey::model::ConnectionId {
    fn from_segment(raw: &str) -> Result<Self, ApiError> {
        latchkey::model::ConnectionId::parse(raw).map_err(|_| ApiError::new(ErrorCode::ConnectionNotFound, "The connection was not found."))
    }
}

/// A form an OAuth client posted (the sandbox's token and revocation endpoints): parsed into `T`,
/// or why it could not be, which the endpoint answers in RFC 6749's shape. Only a body that cannot
/// be read at all (too large) is refused here.
#[derive(Debug)]
pub struct OAuthForm<T>(pub Result<T, String>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(request, state).await?;
        let parsed = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| "the body must be a form (application/x-www-form-urlencoded) naming each parameter once".to_owned());
        Ok(OAuthForm(parsed))
    }
}

/// A form the Connect page posted. Refused unless it comes from the page itself: a browser names
/// the site a request comes from (`Sec-Fetch-Site`, `Origin`), and a form posted from another site
/// could otherwise start an authorization in a victim's browser (login CSRF). The per-page token
/// bound to the page's cookie is checked by the flow that consumes the form.
#[derive(Debug)]
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Ports> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, ports: &Ports) -> Result<Self, Self::Rejection> {
        same_site(request.headers(), ports)?;
        let bytes = body_bytes(request, ports).await?;
        serde_urlencoded::from_bytes(&bytes).map(PageForm).map_err(|_| PageError(ApiError::invalid("The form is incomplete. Start again from the app.")))
    }
}

/// Refuses a state-changing request that a browser says came from another site.
fn same_site(headers: &HeaderMap, ports: &Ports) -> Result<(), ApiError> {
    let refuse = || ApiError::new(ErrorCode::CrossSiteRequest, "This form was sent from another site. Start again from the app.");
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") => {}
        Some(_) => return Err(refuse()),
        None => {}
    }
    // Pages are served with `Referrer-Policy: no-referrer`, under which a browser sends its form
    // posts with `Origin: null`: that says nothing, and the other checks decide.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| *o != "null") {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let own = |base: &str| base.trim_end_matches('/').eq_ignore_ascii_case(origin);
        let same = match &ports.settings.public_url {
            Some(public) => own(public),
            None => origin.split_once("://").is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        };
        if !same {
            return Err(refuse());
        }
    }
    Ok(())
}
