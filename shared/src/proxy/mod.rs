//! The proxy: a caller's request forwarded to the provider's API with the connection's credential
//! injected, so the app never holds a provider token. The caller is checked exactly as for
//! `/v1/token` (the same function issues the credential), the request goes only below the
//! connector's API base (filled from the connection's checked fields) and through the outbound
//! policy, and a 401 from the provider triggers one single-flight refresh and one retry.

mod inject;
pub mod path;

use std::time::{Duration, Instant};

use bytes::Bytes;

pub use inject::forwardable;
pub use path::ProxyPath;

use crate::model::{ApiSpec, AuthMode, Connection, ConnectionId, ConnectorUid, InstallationId, Record, Stored};
use crate::outbound::ProviderError;
use crate::ports::Ports;
use crate::token::caller::Caller;
use crate::token::issue::{issue_in_context, Issued, SubjectInput, TokenRequest};
use crate::token::TokenError;

/// Retries of a 429 or 503 a caller may ask for.
pub const MAX_RETRIES: u8 = 3;
/// How long a proxied call may spend waiting out `Retry-After`s, in all.
const RETRY_BUDGET: Duration = Duration::from_secs(20);

/// A request to proxy, parsed at the edge.
pub struct ProxyCall {
    /// The connector.
    pub connector: ConnectorUid,
    /// Whose connection.
    pub subject: SubjectInput,
    /// The installation, for app connections with several.
    pub installation_id: Option<InstallationId>,
    /// The method, as the caller sent it.
    pub method: http::Method,
    /// Below the API base.
    pub path: ProxyPath,
    /// The query, as sent (the credential may be added to it).
    pub query: Option<String>,
    /// The caller's headers; only [`forwardable`] ones cross.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: ProxyBody,
    /// Retries of 429 and 503 the caller asked for (`X-Latchkey-Retries`).
    pub retries: u8,
}

/// A request body: small enough to have been read whole (so it can be sent again after a
/// refresh), or streamed through once.
pub enum ProxyBody {
    /// Read whole.
    Replayable(Bytes),
    /// Streamed.
    Streaming(reqwest::Body),
}

impl ProxyBody {
    /// A body streamed from `chunks`.
    pub fn streaming<S>(chunks: S) -> ProxyBody
    where
        S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        ProxyBody::Streaming(reqwest::Body::wrap_stream(chunks))
    }
}

/// The provider's answer, to stream back, and what the audit records of the call.
pub struct Proxied {
    /// The answer; its body is not read yet.
    pub response: reqwest::Response,
    /// The connection whose credential was used.
    pub connection_id: ConnectionId,
    /// The provider host called.
    pub host: String,
    /// The path called, without its query.
    pub path: String,
    /// Requests sent (1 unless a refresh or a retry happened).
    pub attempts: u8,
}

/// Why a call was not proxied.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The path or a header is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The connector declares no API to call.
    #[error("connector {0} has no API Latchkey can proxy")]
    NotProxyable(String),
    /// The caller may not have the credential (the token route's own refusals).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The outbound policy refused the destination; nothing was sent.
    #[error("{0}")]
    DestinationNotAllowed(String),
    /// The provider could not be reached.
    #[error("{0}")]
    Unreachable(String),
}

impl From<ProviderError> for ProxyError {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::Refused(refused) => ProxyError::DestinationNotAllowed(refused.0),
            other => ProxyError::Unreachable(other.to_string()),
        }
    }
}

/// Forwards `call` for `caller`.
pub async fn forward(ports: &Ports, caller: &Caller, mut call: ProxyCall) -> Result<Proxied, ProxyError> {
    let started = Instant::now();
    let mut issued = issue(ports, caller, &call).await?;
    let (replay, mut streaming) = match std::mem::replace(&mut call.body, ProxyBody::Replayable(Bytes::new())) {
        ProxyBody::Replayable(bytes) => (Some(bytes), None),
        ProxyBody::Streaming(body) => (None, Some(body)),
    };
    let replayable = replay.is_some();
    let (mut attempts, mut refreshed, mut retried) = (0u8, false, 0u8);
    loop {
        let api = issued.connector.api.clone().ok_or_else(|| ProxyError::NotProxyable(issued.connector.uid.to_string()))?;
        let url = target(&api, &issued.connection, &call)?;
        let body = match (&replay, streaming.take()) {
            (Some(bytes), _) => reqwest::Body::from(bytes.clone()),
            (None, Some(body)) => body,
            (None, None) => reqwest::Body::from(Bytes::new()),
        };
        let (url, headers) = with_credential(&api, &issued, url, &call.headers)?;
        attempts += 1;
        let response = ports.outbound.forward(call.method.clone(), &url, headers, body).await?;
        let status = response.status().as_u16();
        if status == 401 && !refreshed && refreshable(&issued) {
            refreshed = true;
            issued = after_rejection(ports, caller, &call, issued).await?;
            if replayable {
                continue;
            }
        }
        if (status == 429 || status == 503) && retried < call.retries.min(MAX_RETRIES) && replayable {
            let wait = retry_after(&response);
            if started.elapsed() + wait <= RETRY_BUDGET {
                retried += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let path = url.path().to_owned();
        return Ok(Proxied { response, connection_id: issued.connection.id.clone(), host, path, attempts });
    }
}

async fn issue(ports: &Ports, caller: &Caller, call: &ProxyCall) -> Result<Issued, ProxyError> {
    let request = TokenRequest {
        subject: call.subject.clone(),
        installation_id: call.installation_id.clone(),
        scopes: None,
        resources: None,
        authorization_details: None,
        allow_broader: None,
    };
    Ok(issue_in_context(ports, caller, &call.connector, request).await?)
}

/// The URL below the API base, the base filled from the connection's checked fields only.
fn target(api: &ApiSpec, connection: &Connection, call: &ProxyCall) -> Result<url::Url, ProxyError> {
    let base = crate::fields::fill(&api.base_url, &connection.fields).map_err(|e| ProxyError::Invalid(format!("the API base cannot be filled: {e}")))?;
    path::below(&base, &call.path, call.query.as_deref()).map_err(ProxyError::Invalid)
}

/// The caller's forwardable headers, the connector's fixed ones, and the credential.
fn with_credential(api: &ApiSpec, issued: &Issued, mut url: url::Url, caller_headers: &http::HeaderMap) -> Result<(url::Url, http::HeaderMap), ProxyError> {
    let mut headers = forwardable(caller_headers);
    for (name, value) in &api.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| ProxyError::NotProxyable(issued.connector.uid.to_string()))?;
        let value = http::HeaderValue::from_str(value).map_err(|_| ProxyError::NotProxyable(issued.connector.uid.to_string()))?;
        headers.insert(name, value);
    }
    match inject::credential(&api.auth, issued.connector.auth_mode, &issued.token.access_token).map_err(ProxyError::Invalid)? {
        inject::Credential::Header(name, value) => {
            headers.insert(name, value);
        }
        inject::Credential::Query(name, value) => {
            url.query_pairs_mut().append_pair(&name, value.expose());
        }
    }
    Ok((url, headers))
}

fn refreshable(issued: &Issued) -> bool {
    !matches!(issued.connector.auth_mode, AuthMode::ApiKey | AuthMode::Basic)
}

/// The provider said the token is no good: refresh it once (single-flight: of many callers
/// rejected at once, one refreshes), then issue again.
async fn after_rejection(ports: &Ports, caller: &Caller, call: &ProxyCall, issued: Issued) -> Result<Issued, ProxyError> {
    let key = issued.connection.key();
    let stored = Stored::<Connection>::get_eventually(ports.store.as_ref(), &key).await.map_err(TokenError::from)?.ok_or(TokenError::Unauthenticated)?;
    crate::token::refresh::refresh_rejected(ports, &issued.connector, stored, issued.connection.token_issued_at).await?;
    issue(ports, caller, call).await
}

/// `Retry-After` in seconds (an HTTP date counts as one second), at most the whole budget.
fn retry_after(response: &reqwest::Response) -> Duration {
    let seconds = response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(1);
    Duration::from_secs(seconds).min(RETRY_BUDGET)
}
