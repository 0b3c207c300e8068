//! `ANY /v1/proxy/{connector}/{path}`: a provider API call with the connection's credential
//! injected. The caller authenticates as for `/v1/token` and names the subject in headers; the
//! body streams both ways (a small request body is read whole, so it can be sent again after a
//! refresh); the provider's answer comes back as it is, marked `X-Latchkey-Upstream`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;

use latchkey::model::{AuditAction, ConnectorUid, ConsumerId, InstallationId, SubjectType};
use latchkey::proxy::{forward, forwardable, ProxyBody, ProxyCall, ProxyPath, MAX_RETRIES};
use latchkey::token::issue::SubjectInput;
use latchkey::Ports;

use crate::audit::{attach, Facts, RequestOrigin};
use crate::error::{ApiError, ErrorCode};
use crate::extract::TokenCaller;

/// A request body up to this size is read whole (and can be replayed after a refresh).
const REPLAYABLE_BYTES: usize = 1024 * 1024;
/// The largest request body the proxy forwards (API Gateway's own limit).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// The largest answer it streams back.
pub const MAX_RESPONSE_BYTES: u64 = 100 * 1024 * 1024;
/// The header that says whose connection: `user:<id>` or `app`.
pub const SUBJECT_HEADER: &str = "x-latchkey-subject";
/// The header that names an installation.
pub const INSTALLATION_HEADER: &str = "x-latchkey-installation-id";
/// The header that asks for retries of 429 and 503 (0 to 3; default 0).
pub const RETRIES_HEADER: &str = "x-latchkey-retries";

/// `ANY /v1/proxy/{connector}/{path}`.
#[utoipa::path(method(get, post, put, patch, delete), path = "/v1/proxy/{connector}/{path}", tag = "proxy",
    params(
        ("connector" = String, Path, description = "The connector uid, URL-encoded as one segment (slack%2Facme-slack)"),
        ("path" = String, Path, description = "The path below the provider's API base, any depth; any method is proxied (GET, POST, PUT, PATCH, DELETE)"),
        ("x-latchkey-subject" = String, Header, description = "Whose connection: `user:<id>` or `app`"),
        ("x-latchkey-installation-id" = Option<String>, Header, description = "The installation, for app connections with several"),
        ("x-latchkey-retries" = Option<u8>, Header, description = "Retries of 429 and 503 honouring Retry-After (0 to 3, default 0)"),
    ),
    request_body(content = Option<String>, content_type = "application/octet-stream",
        description = "Any body, with its Content-Type, streamed to the provider unchanged (at most 10 MiB)"),
    security(("secret_key" = []), ("connection_token" = []), ("oidc" = [])),
    responses(
        (status = 200, description = "The provider's answer, whatever its status, marked X-Latchkey-Upstream: true", headers(("X-Latchkey-Upstream" = String, description = "true: the answer is the provider's"))),
        (status = 400, description = "invalid_request, proxy_path_invalid", body = crate::error::ErrorBody),
        (status = 401, description = "unauthenticated", body = crate::error::ErrorBody),
        (status = 403, description = "client_not_linked_to_project, client_not_enabled_for_environment, subject_not_allowed, destination_not_allowed", body = crate::error::ErrorBody),
        (status = 404, description = "connector_not_found", body = crate::error::ErrorBody),
        (status = 409, description = "connector_not_proxyable, user_authorization_required, connector_installation_required, connection_configuration_required, token_refresh_failed", body = crate::error::ErrorBody),
        (status = 413, description = "payload_too_large", body = crate::error::ErrorBody),
        (status = 502, description = "upstream_unreachable", body = crate::error::ErrorBody),
    ))]
pub async fn proxy(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    TokenCaller(caller): TokenCaller,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let mut facts = Facts::of_caller(&origin, &caller);
    facts.connector = parse_path(&uri).ok().map(|(connector, _)| connector);
    match call(&ports, &caller, method.clone(), uri, headers, body).await {
        Ok((response, proxied)) => {
            facts.connection_id = Some(proxied.connection_id.clone());
            let duration_ms = started.elapsed().as_millis() as u64;
            let mut event = facts.event(AuditAction::ProxyCall, "ok");
            event.detail = latchkey::audit::proxy_detail(method.as_str(), &proxied.host, &proxied.path, response.status().as_u16(), duration_ms);
            event.detail.insert("attempts".into(), proxied.attempts.into());
            attach(response, event)
        }
        Err(error) => {
            let event = facts.event(AuditAction::ProxyCall, error.code.as_str());
            attach(error, event)
        }
    }
}

/// What the trail keeps of a proxied call.
struct Call {
    connection_id: latchkey::model::ConnectionId,
    host: String,
    path: String,
    attempts: u8,
}

/// Parses the request, forwards it, and makes the provider's answer ready to stream back.
async fn call(ports: &Ports, caller: &latchkey::model::Caller, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Result<(Response, Call), ApiError> {
    let parsed = parse_path(&uri).and_then(|(connector, path)| Ok((connector, path, subject(&headers)?, installation(&headers)?, retries(&headers)?)));
    let (connector, path, subject, installation_id, retries) = match parsed {
        Ok(parsed) => parsed,
        Err(refused) => {
            // Read what the client sent before refusing, so its kept-alive connection stays usable
            // (an unread body would make the server drop it under the client's next request).
            let _ = read_body(body).await;
            return Err(refused);
        }
    };
    let call =
        ProxyCall { connector, subject, installation_id, method, path, query: uri.query().map(str::to_owned), retries, headers, body: read_body(body).await? };
    let proxied = forward(ports, caller, call).await?;
    let facts = Call { connection_id: proxied.connection_id, host: proxied.host, path: proxied.path, attempts: proxied.attempts };
    let response = proxied.response;
    let mut answer = Response::builder().status(response.status().as_u16());
    if let Some(headers) = answer.headers_mut() {
        headers.extend(forwardable(response.headers()));
        headers.insert("x-latchkey-upstream", HeaderValue::from_static("true"));
    }
    let mut streamed = 0u64;
    let body = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(|_| std::io::Error::other("the provider's answer broke off"))?;
        streamed += chunk.len() as u64;
        if streamed > MAX_RESPONSE_BYTES {
            return Err(std::io::Error::other("the provider's answer is larger than the proxy passes"));
        }
        Ok::<Bytes, std::io::Error>(chunk)
    });
    let answer = answer.body(Body::from_stream(body)).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((answer, facts))
}

/// The connector uid and the path below it, from the raw (still percent-encoded) request path.
fn parse_path(uri: &Uri) -> Result<(ConnectorUid, ProxyPath), ApiError> {
    let invalid = |message: String| ApiError::new(ErrorCode::ProxyPathInvalid, message);
    let rest = uri.path().strip_prefix("/v1/proxy/").ok_or_else(|| invalid("not a proxy path".into()))?;
    let (connector, path) = rest.split_once('/').unwrap_or((rest, ""));
    let connector = percent_encoding::percent_decode_str(connector).decode_utf8().map_err(|_| invalid("the connector is not UTF-8".into()))?;
    let connector = ConnectorUid::parse(&connector).map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    Ok((connector, ProxyPath::parse(path).map_err(invalid)?))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers.get(name).map(|v| v.to_str().map_err(|_| ApiError::new(ErrorCode::InvalidRequest, format!("{name} is not text")))).transpose()
}

fn subject(headers: &HeaderMap) -> Result<SubjectInput, ApiError> {
    let invalid = || ApiError::new(ErrorCode::InvalidRequest, format!("{SUBJECT_HEADER} must be `user:<id>` or `app`"));
    match header(headers, SUBJECT_HEADER)?.ok_or_else(invalid)? {
        "app" => Ok(SubjectInput { kind: SubjectType::App, id: None }),
        other => {
            let id = other.strip_prefix("user:").ok_or_else(invalid)?;
            let id = ConsumerId::parse(id).map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.to_string()))?;
            Ok(SubjectInput { kind: SubjectType::User, id: Some(id) })
        }
    }
}

fn installation(headers: &HeaderMap) -> Result<Option<InstallationId>, ApiError> {
    header(headers, INSTALLATION_HEADER)?.map(|raw| InstallationId::parse(raw).map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.to_string()))).transpose()
}

fn retries(headers: &HeaderMap) -> Result<u8, ApiError> {
    match header(headers, RETRIES_HEADER)? {
        None => Ok(0),
        Some(raw) => raw
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= MAX_RETRIES)
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, format!("{RETRIES_HEADER} must be 0 to {MAX_RETRIES}"))),
    }
}

/// Reads up to [`REPLAYABLE_BYTES`]; a longer body streams on from there, cut off at
/// [`MAX_REQUEST_BYTES`].
async fn read_body(body: Body) -> Result<ProxyBody, ApiError> {
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    while head.len() <= REPLAYABLE_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(ApiError::new(ErrorCode::InvalidRequest, "the request body broke off")),
            None => return Ok(ProxyBody::Replayable(Bytes::from(head))),
        }
    }
    let mut sent = head.len();
    let rest = stream.map(move |chunk| {
        let chunk = chunk.map_err(|_| std::io::Error::other("the request body broke off"))?;
        sent += chunk.len();
        if sent > MAX_REQUEST_BYTES {
            return Err(std::io::Error::other("the request body is larger than the proxy forwards"));
        }
        Ok::<Bytes, std::io::Error>(chunk)
    });
    let whole = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(head)) }).chain(rest);
    Ok(ProxyBody::streaming(whole))
}
