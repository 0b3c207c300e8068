//! The HTTP client Latchkey talks to providers with, built once per process.
//!
//! It follows no redirects (a token endpoint that redirects is misconfigured or hostile, and a
//! redirect would resend credentials), bounds every call with timeouts, and retries 5xx and 429
//! answers with exponential backoff, honouring a short `Retry-After`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use crate::secret::SecretString;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubles each time.
    pub base_delay: Duration,
    /// The longest wait, including one asked for by `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { retries: 2, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(2) }
    }
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct ProviderResponse {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` in seconds, if the provider sent one.
    pub retry_after: Option<u64>,
    /// The body (may hold tokens: never log it).
    pub body: Bytes,
}

/// The provider could not be reached, or kept failing.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer: connection refused, DNS, timeout.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// 5xx or 429 after every retry.
    #[error("the provider kept answering {status}")]
    Unavailable {
        /// The last status.
        status: u16,
        /// The last `Retry-After`, if any.
        retry_after: Option<u64>,
    },
}

/// The provider HTTP client.
///
/// Its connection pool is built once per instance, on the first provider call rather than during
/// init: building it loads the system's trusted roots (a few milliseconds of file reads), and most
/// requests (a warm token, a link token) never call a provider, while the one that does is about to
/// wait on the network anyway. Provider hosts are unknown until then, so there is nothing to warm.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    http: Arc<OnceLock<reqwest::Client>>,
    retry: RetryPolicy,
}

impl ProviderClient {
    /// A client with a 5 s connect and 10 s total timeout.
    pub fn new(retry: RetryPolicy) -> Self {
        Self { http: Arc::new(OnceLock::new()), retry }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the TLS backend initialises")
        })
    }

    /// POSTs a form, with HTTP basic client authentication when `basic` is given.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)], basic: Option<(&str, &SecretString)>) -> Result<ProviderResponse, ProviderError> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let authorization = basic.map(|(id, secret)| {
            // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
            use base64::Engine;
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = zeroize::Zeroizing::new(format!("{}:{}", encode(id), encode(secret.expose())));
            SecretString::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())))
        });
        self.post(url, &[("content-type", "application/x-www-form-urlencoded")], authorization.as_ref(), body).await
    }

    /// POSTs `body` with `headers` and an optional `Authorization` value, retrying 5xx and 429.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&SecretString>,
        body: String,
    ) -> Result<ProviderResponse, ProviderError> {
        let mut attempt = 0;
        loop {
            let mut request = self.http().post(url).header(reqwest::header::ACCEPT, "application/json").body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(authorization) = authorization {
                let mut value = reqwest::header::HeaderValue::from_str(authorization.expose())
                    .map_err(|_| ProviderError::Unreachable("invalid authorization header".into()))?;
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            let response = request.send().await.map_err(|e| ProviderError::Unreachable(describe(&e)))?;
            let status = response.status().as_u16();
            let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
            let retryable = status >= 500 || status == 429;
            if retryable && attempt < self.retry.retries {
                let backoff = self.retry.base_delay * 2u32.pow(attempt);
                let wait = retry_after.map(Duration::from_secs).unwrap_or(backoff).min(self.retry.max_delay);
                tracing::info!(status, attempt, wait_ms = wait.as_millis() as u64, "provider busy, retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            if retryable {
                return Err(ProviderError::Unavailable { status, retry_after });
            }
            let body = response.bytes().await.map_err(|e| ProviderError::Unreachable(describe(&e)))?;
            return Ok(ProviderResponse { status, retry_after, body });
        }
    }
}

impl ProviderClient {
    /// GETs a JSON document (a JWKS, a discovery document); no retries, it is fetched rarely.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, ProviderError> {
        self.get(url, None).await
    }

    /// GETs a JSON document with an `Authorization` value (an API call right after authorization).
    pub async fn get_json_with(&self, url: &str, authorization: &SecretString) -> Result<serde_json::Value, ProviderError> {
        self.get(url, Some(authorization)).await
    }

    async fn get(&self, url: &str, authorization: Option<&SecretString>) -> Result<serde_json::Value, ProviderError> {
        let mut request = self.http().get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(authorization) = authorization {
            let mut value = reqwest::header::HeaderValue::from_str(authorization.expose())
                .map_err(|_| ProviderError::Unreachable("invalid authorization header".into()))?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|e| ProviderError::Unreachable(describe(&e)))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(ProviderError::Unavailable { status, retry_after: None });
        }
        response.json().await.map_err(|e| ProviderError::Unreachable(describe(&e)))
    }
}

/// A reqwest error without its URL (which may carry a code or token in its query).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "unreadable response"
    } else {
        "request failed"
    };
    kind.to_owned()
}
