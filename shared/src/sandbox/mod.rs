//! The sandbox: a real OAuth 2.0 authorization server built into Latchkey, so a newcomer can run
//! the whole flow (authorization, code redemption, refresh, revocation, an API call) with no
//! provider account, and a test can make a provider misbehave on purpose.
//!
//! It keeps to the current security advice for authorization servers (RFC 9700): PKCE with S256
//! is required; redirect URIs match exactly; every authorization response names its issuer
//! (RFC 9207); codes work once, and a second redemption revokes what the first one issued;
//! refresh tokens rotate, and a refresh token presented twice revokes its grant (reuse
//! detection); RFC 7009 revocation. Its state lives in the item store (`crate::model::sandbox`),
//! so any number of processes or Lambdas agree, with every secret stored only as a SHA-256.
//!
//! - [`clients`]: registering clients and flipping their switches (deny, fail refresh, 503).
//! - [`authorize`]: the authorization request, the consent page's answer, the code.
//! - [`token`]: the token endpoint: code redemption and rotating refresh.
//! - [`api`]: bearer-checked API calls, and RFC 7009 revocation.

pub mod api;
pub mod authorize;
pub mod clients;
pub mod token;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Record, SandboxClient, Stored};
use crate::ports::Ports;
use crate::secret::{constant_time_eq, random_token, SecretString};
use crate::store::{RecordError, StoreError};

/// The scopes the sandbox knows.
pub const SCOPES: [&str; 2] = ["profile", "items:read"];
/// What an authorization without `scope` grants.
pub const DEFAULT_SCOPES: [&str; 1] = ["profile"];
/// The shortest access-token lifetime a client may have.
pub const MIN_LIFETIME_SECS: i64 = 30;
/// The longest.
pub const MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// The RFC 6749 error codes the sandbox answers with (section 5.2, and RFC 7009 2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthCode {
    /// A parameter is missing, repeated or malformed.
    InvalidRequest,
    /// The client is unknown or its secret is wrong.
    InvalidClient,
    /// The code or refresh token is invalid, expired, used, revoked or not this client's.
    InvalidGrant,
    /// A grant type the sandbox does not offer.
    UnsupportedGrantType,
    /// A scope the grant does not hold.
    InvalidScope,
}

impl OAuthCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::InvalidScope => "invalid_scope",
        }
    }
}

/// Why the sandbox refused. Descriptions never carry a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// An RFC 6749 error for the client (token and revocation endpoints).
    #[error("{description}")]
    OAuth {
        /// The code.
        error: OAuthCode,
        /// For the developer reading it.
        description: String,
    },
    /// An authorization request that cannot be answered at its redirect URI (an unknown client, a
    /// redirect URI it did not register): shown to the person instead (RFC 6749 4.1.2.1).
    #[error("{0}")]
    NotRedirectable(String),
    /// An operator's input is not acceptable (registering or changing a client).
    #[error("{0}")]
    Invalid(String),
    /// No such client.
    #[error("sandbox client {0} not found")]
    NotFound(String),
    /// The consent form's request is unknown, used, expired, or from another browser.
    #[error("This sign-in request has expired or was opened in another browser. Start again from the app.")]
    ConsentInvalid,
    /// The API's bearer token is missing, expired or revoked.
    #[error("the access token is missing, expired or revoked")]
    InvalidToken,
    /// The API's bearer token lacks the scope the call needs.
    #[error("the access token lacks the scope {0}")]
    InsufficientScope(&'static str),
    /// The client's `unavailable` switch is on.
    #[error("the sandbox is switched to be unavailable for this client")]
    Unavailable,
    /// The store failed.
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl SandboxError {
    fn oauth(error: OAuthCode, description: impl Into<String>) -> Self {
        SandboxError::OAuth { error, description: description.into() }
    }

    fn grant(description: impl Into<String>) -> Self {
        Self::oauth(OAuthCode::InvalidGrant, description)
    }
}

impl From<StoreError> for SandboxError {
    fn from(error: StoreError) -> Self {
        SandboxError::Record(error.into())
    }
}

impl From<crate::model::CorruptRecord> for SandboxError {
    fn from(error: crate::model::CorruptRecord) -> Self {
        SandboxError::Record(error.into())
    }
}

/// How a client authenticated: its id, and the secret from HTTP basic or the form.
#[derive(Debug, Default)]
pub struct ClientCredentials {
    /// The client id.
    pub client_id: Option<String>,
    /// The secret.
    pub secret: Option<SecretString>,
}

impl ClientCredentials {
    /// The credentials of an `Authorization: Basic` value (RFC 6749 2.3.1: each part
    /// form-urlencoded before base64), if it is one.
    pub fn from_basic(header: &str) -> Option<Self> {
        let (scheme, encoded) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = zeroize::Zeroizing::new(STANDARD.decode(encoded.trim()).ok()?);
        let text = std::str::from_utf8(&decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let decode = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        Some(Self { client_id: decode(id), secret: decode(secret).map(SecretString::new) })
    }
}

/// The client `credentials` name, if its secret is right: `invalid_client` otherwise, the same
/// answer for an unknown client and a wrong secret.
pub async fn authenticate_client(ports: &Ports, credentials: &ClientCredentials) -> Result<SandboxClient, SandboxError> {
    let refuse = || SandboxError::oauth(OAuthCode::InvalidClient, "client authentication failed");
    let (Some(id), Some(secret)) = (credentials.client_id.as_deref(), credentials.secret.as_ref()) else { return Err(refuse()) };
    if id.is_empty() || id.len() > 128 {
        return Err(refuse());
    }
    let client = clients::client(ports, id).await?.ok_or_else(refuse)?;
    if !constant_time_eq(secret.sha256_hex().as_bytes(), client.secret_hash.as_bytes()) {
        return Err(refuse());
    }
    Ok(client)
}

/// Whether `verifier` is an RFC 7636 code verifier whose S256 challenge is `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len()) && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// A fresh secret with the sandbox's prefix for its kind (`sbx_at_`, `sbx_rt_`, ...).
fn mint(prefix: &str) -> SecretString {
    SecretString::new(format!("{prefix}{}", random_token(32).expose()))
}

/// Writes a changed record back at its version, keeping an expiry (a plain `save` drops it).
async fn save_expiring<R: Record>(ports: &Ports, stored: &mut Stored<R>, at: crate::clock::Timestamp) -> Result<(), StoreError> {
    let mut item = stored.record.to_item().map_err(|e| StoreError::Codec(e.0))?.expiring_at(at);
    item.version = stored.version;
    stored.version = ports.store.put_if_version(&item).await?;
    Ok(())
}

/// The sandbox's RFC 8414 metadata, for an issuer of `{base}/sandbox`.
pub fn metadata(base: &str) -> serde_json::Value {
    let issuer = format!("{base}/sandbox");
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    })
}

#[cfg(test)]
mod tests;
