//! The records of the built-in sandbox provider (`crate::sandbox`): its clients, the authorization
//! requests waiting on its consent page, its codes, grants, refresh and access tokens. Every
//! secret it issues is stored only as its SHA-256, like Latchkey's own tokens, and the short-lived
//! ones expire on their own.

use serde::{Deserialize, Serialize};

use super::{Key, Record};
use crate::clock::Timestamp;

/// What a sandbox client's switches make the sandbox do, to show how Latchkey behaves when a
/// provider misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSwitches {
    /// Every authorization is refused with `access_denied`, without a consent page.
    #[serde(default)]
    pub deny: bool,
    /// Every refresh is refused with `invalid_grant` (the grant itself is left alone).
    #[serde(default)]
    pub fail_refresh: bool,
    /// The token, revocation and API endpoints answer 503.
    #[serde(default)]
    pub unavailable: bool,
}

/// A client registered with the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxClient {
    /// Its `client_id` (`sbx_client_...`).
    pub client_id: String,
    /// What the consent page calls it.
    pub name: String,
    /// SHA-256 of its secret (256 random bits: a fast hash is enough).
    pub secret_hash: String,
    /// The exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// The issuer its authorization responses name (`iss`, RFC 9207).
    pub issuer: String,
    /// How long its access tokens live (30 seconds at least).
    pub access_token_lifetime_secs: i64,
    /// Its switches.
    #[serde(default)]
    pub switches: SandboxSwitches,
    /// When it was registered.
    pub created_at: Timestamp,
}

impl SandboxClient {
    /// The partition of every sandbox client.
    pub const PARTITION: &'static str = "SANDBOX_CLIENTS";

    /// The key of client `client_id`.
    pub fn key_of(client_id: &str) -> Key {
        Key::new(Self::PARTITION, format!("CLIENT#{client_id}"))
    }
}

impl Record for SandboxClient {
    fn key(&self) -> Key {
        Self::key_of(&self.client_id)
    }
}

/// An authorization request shown on the consent page, waiting for the person's answer; stored
/// under the hash of the request id the page's form carries, and bound to the browser that
/// opened it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxPending {
    /// SHA-256 of the request id.
    pub hash: String,
    /// SHA-256 of the browser-binding cookie set with the consent page.
    pub browser_hash: String,
    /// The client.
    pub client_id: String,
    /// The redirect URI, one of the client's.
    pub redirect_uri: String,
    /// The client's `state`, given back as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
}

impl SandboxPending {
    /// Ten minutes to answer.
    pub const LIFETIME_SECS: i64 = 600;

    /// The key of the request whose id hashes to `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("SANDBOX_PENDING#{hash}"), "SANDBOX_PENDING")
    }
}

impl Record for SandboxPending {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}

/// An authorization code, redeemable once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxCode {
    /// SHA-256 of the code.
    pub hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The PKCE S256 challenge its verifier must match.
    pub code_challenge: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The sandbox account that approved.
    pub account: String,
}

impl SandboxCode {
    /// Two minutes to redeem it.
    pub const LIFETIME_SECS: i64 = 120;

    /// The key of the code whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("SANDBOX_CODE#{hash}"), "SANDBOX_CODE")
    }
}

impl Record for SandboxCode {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}

/// What a redeemed code became, kept for a while so that a second redemption revokes the grant
/// (RFC 6749 section 4.1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxCodeUsed {
    /// SHA-256 of the code.
    pub hash: String,
    /// The grant it started.
    pub grant_id: String,
}

impl SandboxCodeUsed {
    /// The key of the used code whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("SANDBOX_CODE#{hash}"), "SANDBOX_CODE_USED")
    }
}

impl Record for SandboxCodeUsed {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}

/// One authorization of a client by an account: its refresh tokens rotate within it, and
/// revoking it ends every token it issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxGrant {
    /// `sbx_grant_...`.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The account that approved.
    pub account: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// Revoked (by the client, or on a reused refresh token or code).
    #[serde(default)]
    pub revoked: bool,
    /// Refreshes so far.
    #[serde(default)]
    pub refreshes: u32,
    /// When it was granted.
    pub created_at: Timestamp,
}

impl SandboxGrant {
    /// The key of grant `grant_id`.
    pub fn key_of(grant_id: &str) -> Key {
        Key::new(format!("SANDBOX_GRANT#{grant_id}"), "SANDBOX_GRANT")
    }
}

impl Record for SandboxGrant {
    fn key(&self) -> Key {
        Self::key_of(&self.grant_id)
    }
}

/// A refresh token: usable once, then kept as used so a second use is seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxRefresh {
    /// SHA-256 of the token.
    pub hash: String,
    /// Its grant.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Spent by a refresh; presenting it again is reuse.
    #[serde(default)]
    pub used: bool,
}

impl SandboxRefresh {
    /// Thirty days unused and a refresh token dies.
    pub const LIFETIME_SECS: i64 = 30 * 24 * 3600;

    /// The key of the refresh token whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("SANDBOX_REFRESH#{hash}"), "SANDBOX_REFRESH")
    }
}

impl Record for SandboxRefresh {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}

/// An access token of the sandbox's API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxAccess {
    /// SHA-256 of the token.
    pub hash: String,
    /// Its grant.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// What it may do (the grant's scopes, or fewer after a narrowed refresh).
    pub scopes: Vec<String>,
    /// The account it acts for.
    pub account: String,
    /// When it stops working.
    pub valid_until: Timestamp,
}

impl SandboxAccess {
    /// The key of the access token whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("SANDBOX_ACCESS#{hash}"), "SANDBOX_ACCESS")
    }
}

impl Record for SandboxAccess {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}
