//! The proxy: `ANY /v1/proxy/{connector}/{path}`, a provider API call with the connection's
//! credential injected by Latchkey, so the caller never holds the provider token.

use std::fmt;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::{Client, Error, Subject};

/// The most retries of a 429 or 503 the proxy takes (`x-latchkey-retries`).
pub const MAX_PROXY_RETRIES: u8 = 3;

/// A call to make through the proxy: method, subject, and what goes to the provider.
#[derive(Clone)]
pub struct ProxyRequest {
    method: Method,
    subject: Subject,
    installation_id: Option<String>,
    retries: u8,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl ProxyRequest {
    /// A `method` call for `subject`'s connection, without a body.
    pub fn new(method: Method, subject: Subject) -> Self {
        Self { method, subject, installation_id: None, retries: 0, headers: HeaderMap::new(), body: Vec::new() }
    }

    /// The installation, for app connections with several (`x-latchkey-installation-id`).
    pub fn installation(mut self, id: impl Into<String>) -> Self {
        self.installation_id = Some(id.into());
        self
    }

    /// Retries of a 429 or 503 from the provider, honouring its `Retry-After`: 0 (the default) to
    /// [`MAX_PROXY_RETRIES`] (`x-latchkey-retries`).
    pub fn retries(mut self, retries: u8) -> Self {
        self.retries = retries;
        self
    }

    /// A header for the provider (hop-by-hop headers, cookies and `x-latchkey-*` are not
    /// forwarded; `Authorization` is Latchkey's).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The body, sent to the provider as is (at most 10 MiB).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with `content-type: application/json` unless a header says otherwise.
    pub fn json(mut self, value: &Value) -> Self {
        self.body = value.to_string().into_bytes();
        if !self.headers.contains_key(CONTENT_TYPE) {
            self.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self
    }

    fn subject_header(&self) -> Result<HeaderValue, Error> {
        let value = match &self.subject {
            Subject::User(id) => format!("user:{id}"),
            Subject::App => "app".to_owned(),
        };
        HeaderValue::from_str(&value).map_err(|_| Error::InvalidRequest("the subject cannot travel in a header".into()))
    }
}

impl fmt::Debug for ProxyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and the body may be the caller's secrets: names and a length only.
        f.debug_struct("ProxyRequest")
            .field("method", &self.method)
            .field("subject", &self.subject)
            .field("installation_id", &self.installation_id)
            .field("retries", &self.retries)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The provider's answer, whatever its status (Latchkey marked it `X-Latchkey-Upstream: true`).
#[derive(Clone)]
pub struct ProxyResponse {
    /// The provider's status.
    pub status: u16,
    /// The provider's headers (hop-by-hop ones removed), and `x-latchkey-upstream`.
    pub headers: HeaderMap,
    /// The provider's body.
    pub body: Vec<u8>,
}

impl ProxyResponse {
    /// Whether the provider answered 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl fmt::Debug for ProxyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyResponse")
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Whether a path segment is `.` or `..`, plain or percent-encoded: the server refuses them, and a
/// URL parser would resolve them before the request left.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = percent_decode(segment);
    decoded == b"." || decoded == b".."
}

fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

impl Client {
    /// Calls the provider through Latchkey's proxy: `path` below the connector's API base, as the
    /// provider spells it (its segments percent-encoded by the caller; a query may follow).
    ///
    /// The provider's answer comes back whatever its status (a 404 from the provider is an
    /// `Ok`); Latchkey's own refusals are the typed [`Error`]: [`Error::ConnectorNotProxyable`],
    /// [`Error::ProxyPathInvalid`], [`Error::DestinationNotAllowed`],
    /// [`Error::UpstreamUnreachable`], [`Error::PayloadTooLarge`] and the token broker's.
    pub async fn proxy(&self, connector: &str, path: &str, request: ProxyRequest) -> Result<ProxyResponse, Error> {
        if connector.is_empty() {
            return Err(Error::InvalidRequest("the connector is empty".into()));
        }
        if request.retries > MAX_PROXY_RETRIES {
            return Err(Error::InvalidRequest(format!("x-latchkey-retries must be 0 to {MAX_PROXY_RETRIES}")));
        }
        let trimmed = path.trim_start_matches('/');
        let (path, query) = match trimmed.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (trimmed, None),
        };
        if path.split('/').any(is_dot_segment) {
            return Err(Error::ProxyPathInvalid("the proxied path may not contain . or .. segments".into()));
        }
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|_| Error::Transport("base URL cannot have a path".into()))?.pop_if_empty().extend(["v1", "proxy", connector]);
        let joined = format!("{}/{path}", url.path());
        url.set_path(&joined);
        url.set_query(query.filter(|q| !q.is_empty()));

        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            if !name.as_str().starts_with("x-latchkey-") {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert("x-latchkey-subject", request.subject_header()?);
        if let Some(installation) = &request.installation_id {
            let value = HeaderValue::from_str(installation).map_err(|_| Error::InvalidRequest("the installation id cannot travel in a header".into()))?;
            headers.insert("x-latchkey-installation-id", value);
        }
        headers.insert("x-latchkey-retries", HeaderValue::from(u16::from(request.retries)));
        let mut sent = self.http.request(request.method.clone(), url).headers(headers);
        if !request.body.is_empty() {
            sent = sent.body(request.body);
        }
        let response = self.execute(sent).await?;
        let status = response.status().as_u16();
        let upstream = response.headers().get("x-latchkey-upstream").is_some_and(|v| v.as_bytes() == b"true");
        if upstream {
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|_| Error::Transport("the provider's answer broke off".into()))?;
            return Ok(ProxyResponse { status, headers, body: body.to_vec() });
        }
        // Not the provider's: Latchkey's own error, or something in between that is neither.
        let retry_after = super::retry_after(response.headers());
        let body: Value = response.json().await.map_err(|_| Error::Transport(format!("HTTP {status} without a JSON body")))?;
        if body["error"]["code"].is_string() {
            return Err(Error::from_response(status, &body, retry_after));
        }
        Err(Error::Transport(format!("HTTP {status} from the proxy without X-Latchkey-Upstream or an error")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_found_plain_and_encoded() {
        for dot in [".", "..", "%2e", "%2E%2e", ".%2e"] {
            assert!(is_dot_segment(dot), "{dot}");
        }
        for fine in ["", "a", "...", "a.b", "%2e%2e%2e", "%2", "%"] {
            assert!(!is_dot_segment(fine), "{fine}");
        }
    }

    #[test]
    fn debug_shows_neither_header_values_nor_the_body() {
        let request = ProxyRequest::new(Method::POST, Subject::User("u".into()))
            .header(HeaderName::from_static("x-api-key"), HeaderValue::from_static("caller-secret"))
            .body("body-secret");
        let shown = format!("{request:?}");
        assert!(shown.contains("x-api-key") && shown.contains("body_bytes: 11"), "{shown}");
        assert!(!shown.contains("caller-secret") && !shown.contains("body-secret"), "{shown}");
        let response = ProxyResponse { status: 200, headers: HeaderMap::new(), body: b"provider-secret".to_vec() };
        assert!(!format!("{response:?}").contains("provider-secret"));
    }
}
