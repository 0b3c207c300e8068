//! A client for Latchkey's token broker, its proxy, the connections listing and the audit trail.
//!
//! ```no_run
//! # async fn run() -> Result<(), latchkey_client::Error> {
//! use latchkey_client::{Client, TokenParams};
//! let latchkey = Client::new("https://auth.example.com", std::env::var("LATCHKEY_TOKEN").unwrap())?;
//! let token = latchkey.get_token("slack/acme-slack", &TokenParams::user("user-123")).await?;
//! // use token.access_token() at Slack
//! # Ok(()) }
//! ```
//!
//! Tokens are cached in process until their `expires_at` minus a buffer (one minute by default),
//! so a hot loop asks Latchkey once per token lifetime, per narrowing: [`TokenParams`] can ask for a
//! token narrowed to scopes, resources (RFC 8707) or authorization details (RFC 9396), and
//! whether a broader one will do where the provider cannot narrow. Every error code of the broker
//! is its own [`Error`] variant. [`Client::list_connections`] reads a consumer's connections a
//! page at a time; [`Client::all_connections`] follows the pages.
//!
//! [`Client::proxy`] calls the provider's API through Latchkey, which injects the credential, and
//! returns the provider's answer whatever its status; [`Client::audit_list`] and
//! [`Client::all_audit`] read the audit trail; [`Client::revoke_access_token`] revokes a connection
//! access token; [`verify_webhook`] checks a webhook's `Latchkey-Signature`.
//!
//! ```no_run
//! # async fn run(latchkey: latchkey_client::Client) -> Result<(), latchkey_client::Error> {
//! use latchkey_client::{AuditParams, Method, ProxyRequest, Subject};
//! let request = ProxyRequest::new(Method::POST, Subject::User("user-123".into()))
//!     .json(&serde_json::json!({"channel": "C1", "text": "hi"}))
//!     .retries(2);
//! let answer = latchkey.proxy("slack/acme-slack", "/api/chat.postMessage", request).await?;
//! println!("{} {}", answer.status, answer.text());
//! for event in latchkey.all_audit(&AuditParams::default().action("proxy_call").limit(100)).await? {
//!     println!("{} {} {:?} {}", event.at_ms, event.actor_id, event.connector, event.outcome);
//! }
//! # Ok(()) }
//! ```

mod audit;
mod connections;
mod error;
mod proxy;
mod webhook;

pub use audit::{AuditEvent, AuditParams};
pub use connections::{Connection, Page};
pub use error::Error;
pub use proxy::{ProxyRequest, ProxyResponse, MAX_PROXY_RETRIES};
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::Method;
pub use webhook::{
    parse_signature_header, sign_webhook, verify_webhook, VerifyOptions, WebhookError, WebhookEvent, WebhookFailure, WebhookHeaders, DEFAULT_TOLERANCE_SECONDS,
};

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Whose token to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An end user's own grant.
    User(String),
    /// The tenant-wide installation.
    App,
}

/// What to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenParams {
    /// Whose token.
    pub subject: Subject,
    /// Which installation, for apps installed more than once.
    pub installation_id: Option<String>,
    /// Scopes to narrow the token to (a subset of what was granted; for a GitHub App,
    /// permissions such as `contents:read`).
    pub scopes: Option<Vec<String>>,
    /// RFC 8707 resource indicators to narrow the token to.
    pub resources: Option<Vec<String>>,
    /// RFC 9396 authorization details to narrow the token to.
    pub authorization_details: Option<AuthorizationDetails>,
    /// Take the connection's full token where the provider cannot narrow it as asked, instead of
    /// [`Error::NarrowingUnsupported`].
    pub allow_broader: bool,
}

/// RFC 9396 authorization details: a list of JSON objects, each with a `type`, kept as canonical
/// JSON so that equal lists make one cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthorizationDetails(String);

impl AuthorizationDetails {
    /// The details, as the broker is sent them.
    pub fn new(details: &[Value]) -> Self {
        // serde_json's maps keep their keys sorted: the text is canonical.
        Self(Value::Array(details.to_vec()).to_string())
    }

    fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl TokenParams {
    /// A user's token.
    pub fn user(id: impl Into<String>) -> Self {
        Self::of(Subject::User(id.into()))
    }

    /// The app's token.
    pub fn app() -> Self {
        Self::of(Subject::App)
    }

    fn of(subject: Subject) -> Self {
        Self { subject, installation_id: None, scopes: None, resources: None, authorization_details: None, allow_broader: false }
    }

    /// Narrowed to `scopes`.
    pub fn with_scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = Some(sorted(scopes));
        self
    }

    /// Narrowed to the resources (RFC 8707) `resources` name.
    pub fn with_resources(mut self, resources: &[&str]) -> Self {
        self.resources = Some(sorted(resources));
        self
    }

    /// Narrowed to authorization details (RFC 9396), such as
    /// `json!({"type": "github_app_installation", "repositories": ["acme/widgets"], "permissions": ["contents:read"]})`.
    pub fn with_authorization_details(mut self, details: &[Value]) -> Self {
        self.authorization_details = Some(AuthorizationDetails::new(details));
        self
    }

    /// Takes the full token where the provider cannot narrow (its `scopes` say what it can do).
    pub fn allowing_broader(mut self) -> Self {
        self.allow_broader = true;
        self
    }

    fn body(&self) -> Value {
        let subject = match &self.subject {
            Subject::User(id) => json!({"type": "user", "id": id}),
            Subject::App => json!({"type": "app"}),
        };
        let mut body = json!({"subject": subject});
        if let Some(installation) = &self.installation_id {
            body["installation_id"] = json!(installation);
        }
        if let Some(scopes) = &self.scopes {
            body["scopes"] = json!(scopes);
        }
        if let Some(resources) = &self.resources {
            body["resources"] = json!(resources);
        }
        if let Some(details) = &self.authorization_details {
            body["authorization_details"] = details.value();
        }
        if self.allow_broader {
            body["allow_broader"] = json!(true);
        }
        body
    }
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    items.sort();
    items.dedup();
    items
}

/// A provider token from Latchkey.
#[derive(Clone, Deserialize)]
pub struct ProviderToken {
    access_token: String,
    /// `Bearer`, `api_key` or `basic`.
    pub token_type: String,
    /// When it expires (absent for credentials that do not).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// What it can do: the provider's word, never the request echoed back.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The resources (RFC 8707) a narrowed token is limited to.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// The authorization details (RFC 9396) a narrowed token carries.
    #[serde(default)]
    pub authorization_details: Option<Vec<Value>>,
    /// The connection it came from.
    pub connection_id: String,
    /// The installation, for app connections.
    #[serde(default)]
    pub installation_id: Option<String>,
    /// `{uid, provider}`.
    pub connector: Value,
    /// What the provider returned that callers need (instance URL, tenant id).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl ProviderToken {
    /// The token to send to the provider.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }
}

impl fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderToken")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("connection_id", &self.connection_id)
            .finish_non_exhaustive()
    }
}

impl Drop for ProviderToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.access_token);
    }
}

/// How long a token without an expiry is reused before asking again (a rotated key shows up).
const NO_EXPIRY_REUSE: Duration = Duration::from_secs(300);

/// The token broker's client. Cheap to clone the `Arc` it lives in; build one per process.
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    credential: Zeroizing<String>,
    buffer: Duration,
    cache: Mutex<HashMap<(String, TokenParams), (ProviderToken, std::time::Instant)>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).field("credential", &"[redacted]").finish()
    }
}

impl Client {
    /// A client for Latchkey at `base_url`, authenticating with `credential` (a secret key, a
    /// connection access token or an OIDC token).
    pub fn new(base_url: &str, credential: impl Into<String>) -> Result<Self, Error> {
        let base = url::Url::parse(base_url).map_err(|_| Error::Transport(format!("invalid base URL {base_url:?}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self { http, base, credential: Zeroizing::new(credential.into()), buffer: Duration::from_secs(60), cache: Mutex::new(HashMap::new()) })
    }

    /// Reuse cached tokens only while they have more than `buffer` left (default one minute).
    pub fn with_buffer(mut self, buffer: Duration) -> Self {
        self.buffer = buffer;
        self
    }

    /// A provider token for `connector` (`slack/acme-slack`), from the cache while it is fresh.
    pub async fn get_token(&self, connector: &str, params: &TokenParams) -> Result<ProviderToken, Error> {
        let key = (connector.to_owned(), params.clone());
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let token = self.fetch(connector, params).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (token.clone(), std::time::Instant::now()));
        }
        Ok(token)
    }

    /// Forgets every cached token (after the provider refused one, say).
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    fn cached(&self, key: &(String, TokenParams)) -> Option<ProviderToken> {
        let cache = self.cache.lock().ok()?;
        let (token, fetched) = cache.get(key)?;
        let fresh = match token.expires_at {
            Some(at) => at - self.buffer > OffsetDateTime::now_utc(),
            None => fetched.elapsed() < NO_EXPIRY_REUSE,
        };
        fresh.then(|| token.clone())
    }

    /// Sends `request` with the credential; answers whatever came back.
    async fn execute(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        request
            .bearer_auth(self.credential.as_str())
            .send()
            .await
            .map_err(|e| Error::Transport(if e.is_timeout() { "timed out".into() } else { "request failed".into() }))
    }

    /// Sends `request` with the credential; answers the JSON body of a 200, or the typed error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, Error> {
        let response = self.execute(request).await?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body: Value = response.json().await.map_err(|_| Error::Transport(format!("HTTP {status} without a JSON body")))?;
        if status == 200 {
            return Ok(body);
        }
        Err(Error::from_response(status, &body, retry_after))
    }

    /// Revokes a connection access token (a secret key's call). Revoking a token that is unknown or
    /// already revoked is not an error (RFC 7009): the answer is `true` once the token no longer
    /// works.
    pub async fn revoke_access_token(&self, access_token: &str) -> Result<bool, Error> {
        if access_token.is_empty() {
            return Err(Error::InvalidRequest("the access token is empty".into()));
        }
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|_| Error::Transport("base URL cannot have a path".into()))?.pop_if_empty().extend(["v1", "access-tokens", "revoke"]);
        let answer = self.send(self.http.post(url).json(&json!({"access_token": access_token}))).await?;
        Ok(answer["revoked"].as_bool() == Some(true))
    }

    async fn fetch(&self, connector: &str, params: &TokenParams) -> Result<ProviderToken, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|_| Error::Transport("base URL cannot have a path".into()))?.extend(["v1", "token", connector]);
        let body = self.send(self.http.post(url).json(&params.body())).await?;
        serde_json::from_value(body).map_err(|e| Error::Transport(format!("unexpected token response: {e}")))
    }
}

/// `Retry-After` in seconds (Latchkey sends seconds, never a date).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}
