//! The outbound port: every request Latchkey makes (provider token calls, refreshes, revocation,
//! post-authorization calls, OIDC discovery and JWKS, webhooks) goes through one [`Outbound`], and
//! so through one [`OutboundPolicy`]:
//!
//! - https only;
//! - no IP-literal hosts, and no name that resolves to a loopback, private, link-local, CGNAT,
//!   multicast, unspecified or cloud-metadata address. The check runs in the resolver the client
//!   connects with, on the very addresses it connects to, so a name that changes its answer
//!   between a check and the connection (DNS rebinding) cannot slip through;
//! - no proxy, no redirects followed (a redirect would resend credentials elsewhere);
//! - timeouts, retries with backoff on 5xx and 429 for provider calls;
//! - answers read up to a cap, never more.
//!
//! An operator may allow named hosts explicitly (`LATCHKEY_OUTBOUND_ALLOW`: an internal identity
//! provider, or the loopback fixtures the tests run); plain http is accepted for those hosts only.
//! Nothing a tenant or an end user sends can widen the policy.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use crate::secret::SecretString;

/// The most of an answer Latchkey reads from a provider or a webhook receiver.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Where outbound requests may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Hosts the operator allows whatever they resolve to, as `host` (any port) or `host:port`,
    /// lower case; plain http is accepted for these.
    pub allowed_hosts: Vec<String>,
}

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound request refused: {0}")]
pub struct Refused(pub String);

impl OutboundPolicy {
    /// Whether the operator allowed `host` (on `port`).
    fn allows_host(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        self.allowed_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            allowed == host || port.is_some_and(|p| allowed == format!("{host}:{p}") || allowed == format!("[{host}]:{p}"))
        })
    }

    /// Checks a URL before anything is sent to it: the scheme, that it names a host, no
    /// credentials, and no IP literal unless allowed. Names are checked again as they resolve.
    pub fn check(&self, raw: &str) -> Result<url::Url, Refused> {
        let url = url::Url::parse(raw).map_err(|_| Refused("not a URL".into()))?;
        let host = url.host_str().ok_or_else(|| Refused("no host".into()))?.to_owned();
        let allowed = self.allows_host(&host, url.port_or_known_default());
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            other => return Err(Refused(format!("{other}:// is not https"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("credentials in the URL".into()));
        }
        if !allowed {
            if let Some(ip) = ip_literal(&url) {
                return Err(Refused(format!("an IP address ({})", describe_ip(ip))));
            }
        }
        Ok(url)
    }

    /// Whether a name may resolve to `ip`: only public unicast addresses, unless the name is one
    /// the operator allowed.
    fn may_connect(&self, name: &str, ip: IpAddr) -> bool {
        self.allows_host(name, None) || is_public(ip)
    }
}

fn ip_literal(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn describe_ip(ip: IpAddr) -> &'static str {
    if is_public(ip) {
        "public"
    } else {
        "loopback, private, link-local or reserved"
    }
}

/// Whether `ip` is a public unicast address: not loopback, private (RFC 1918, fc00::/7), link-local
/// (169.254/16 with the cloud metadata endpoints, fe80::/10), CGNAT (100.64/10), multicast,
/// broadcast, documentation, benchmarking, reserved or unspecified, nor an IPv4 one of those
/// wrapped in IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || (first == 0x0064 && v6.segments()[1] == 0xff9b)
                || v6.segments()[..6].iter().all(|s| *s == 0))
        }
    }
}

/// The resolver the outbound clients connect with: the system's answers, refused whole when any
/// of them is an address the policy forbids.
#[derive(Debug)]
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(bad) = addresses.iter().find(|a| !policy.may_connect(&name, a.ip())) {
                let reason = format!("{name} resolves to a {} address", describe_ip(bad.ip()));
                return Err(Box::new(Refused(reason)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

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

/// A provider's (or receiver's) answer.
#[derive(Debug, Clone)]
pub struct ProviderResponse {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` in seconds, if the provider sent one.
    pub retry_after: Option<u64>,
    /// The body (may hold tokens: never log it).
    pub body: Bytes,
}

/// The destination could not be reached, kept failing, or was refused by the policy.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The policy refused the destination; nothing was sent.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// No answer: connection refused, DNS, timeout, or an answer over the size cap.
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

/// The outbound HTTP port.
///
/// Its connection pools are built once per instance, on first use rather than during init:
/// building one loads the system's trusted roots (a few milliseconds of file reads), and most
/// requests (a warm token, a link token) never call out.
#[derive(Debug, Clone)]
pub struct Outbound {
    policy: Arc<OutboundPolicy>,
    provider: Arc<OnceLock<reqwest::Client>>,
    webhook: Arc<OnceLock<reqwest::Client>>,
    proxy: Arc<OnceLock<reqwest::Client>>,
    retry: RetryPolicy,
}

impl Outbound {
    /// An outbound port under `policy`.
    pub fn new(policy: OutboundPolicy, retry: RetryPolicy) -> Self {
        Self { policy: Arc::new(policy), provider: Arc::default(), webhook: Arc::default(), proxy: Arc::default(), retry }
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    fn client(&self, timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver { policy: self.policy.clone() }))
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises")
    }

    fn provider_client(&self) -> &reqwest::Client {
        self.provider.get_or_init(|| self.client(Duration::from_secs(10)))
    }

    fn webhook_client(&self) -> &reqwest::Client {
        self.webhook.get_or_init(|| self.client(Duration::from_secs(5)))
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
        let url = self.policy.check(url)?;
        let mut attempt = 0;
        loop {
            let mut request = self.provider_client().post(url.clone()).header(reqwest::header::ACCEPT, "application/json").body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(authorization) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, sensitive(authorization)?);
            }
            let response = request.send().await.map_err(|e| describe(&e))?;
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
            let body = capped(response).await?;
            return Ok(ProviderResponse { status, retry_after, body });
        }
    }

    /// GETs a JSON document (a JWKS, a discovery document); no retries, it is fetched rarely.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, ProviderError> {
        self.get(url, None).await
    }

    /// GETs a JSON document with an `Authorization` value (an API call right after authorization).
    pub async fn get_json_with(&self, url: &str, authorization: &SecretString) -> Result<serde_json::Value, ProviderError> {
        self.get(url, Some(authorization)).await
    }

    async fn get(&self, url: &str, authorization: Option<&SecretString>) -> Result<serde_json::Value, ProviderError> {
        let url = self.policy.check(url)?;
        let mut request = self.provider_client().get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, sensitive(authorization)?);
        }
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(ProviderError::Unavailable { status, retry_after: None });
        }
        let body = capped(response).await?;
        serde_json::from_slice(&body).map_err(|_| ProviderError::Unreachable("unreadable response".into()))
    }

    /// Sends a proxied request under the policy, following no redirect, and answers as soon as the
    /// headers arrive: the caller streams the body. One attempt; the proxy decides about retries.
    pub async fn forward(
        &self,
        method: http::Method,
        url: &url::Url,
        headers: http::HeaderMap,
        body: reqwest::Body,
    ) -> Result<reqwest::Response, ProviderError> {
        let url = self.policy.check(url.as_str())?;
        let client = self.proxy.get_or_init(|| {
            // No total timeout: a large answer may take long to stream; a stalled one is cut by the
            // read timeout.
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(Arc::new(PolicyResolver { policy: self.policy.clone() }))
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(30))
                .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the TLS backend initialises")
        });
        client.request(method, url).headers(headers).body(body).send().await.map_err(|e| describe(&e))
    }

    /// POSTs a webhook: one attempt (the delivery log schedules the next), its answer's status.
    pub async fn post_webhook(&self, url: &str, headers: &[(&str, &str)], body: String) -> Result<u16, ProviderError> {
        let url = self.policy.check(url)?;
        let mut request = self.webhook_client().post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

fn sensitive(authorization: &SecretString) -> Result<reqwest::header::HeaderValue, ProviderError> {
    let mut value =
        reqwest::header::HeaderValue::from_str(authorization.expose()).map_err(|_| ProviderError::Unreachable("invalid authorization header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Reads an answer up to [`MAX_RESPONSE_BYTES`]; a larger one is refused, not truncated.
async fn capped(mut response: reqwest::Response) -> Result<Bytes, ProviderError> {
    if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(ProviderError::Unreachable("the answer is larger than Latchkey reads".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ProviderError::Unreachable("the answer is larger than Latchkey reads".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// A reqwest error without its URL (which may carry a code or token in its query); a refusal by
/// the resolver keeps its reason.
fn describe(error: &reqwest::Error) -> ProviderError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return ProviderError::Refused(refused.clone());
        }
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "unreadable response"
    } else {
        "request failed"
    };
    ProviderError::Unreachable(kind.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn urls_are_https_without_ip_literals_or_credentials_unless_the_operator_allows_the_host() {
        let policy = OutboundPolicy { allowed_hosts: vec!["127.0.0.1:8443".into(), "idp.internal".into()] };
        assert!(policy.check("https://api.example.com/x").is_ok());
        for bad in [
            "http://api.example.com/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://u:p@api.example.com/",
            "ftp://x.example/",
            "https://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:9000/",
        ] {
            assert!(policy.check(bad).is_err(), "{bad}");
        }
        assert!(policy.check("http://127.0.0.1:8443/token").is_ok());
        assert!(policy.check("http://idp.internal/token").is_ok());
    }
}
