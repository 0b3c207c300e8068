//! Narrowed tokens: a token minted with fewer rights than its connection's grant, cached in an
//! item of its own per (connection, narrowing) so the connection item, and the plain token path
//! that reads only it, never grow or change because of them.
//!
//! | record         | pk                          | sk                            | expires             |
//! |----------------|-----------------------------|-------------------------------|---------------------|
//! | narrowed token | `NARROWED#{connection_id}`  | `NARROWING#{sha256(ask)}`     | with its token      |
//!
//! The item carries its own sealed token, expiry and lease (single-flight per narrowing), and the
//! grant generation of the connection it was minted from: after a new link, or once the connection
//! is gone, it is never served again.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Binding, ConnectionId, Granted, Key, Narrowing, ProjectId, Record, RefreshLease, Sealed};
use crate::clock::Timestamp;

/// Why the last attempt to mint a narrowed token failed, remembered briefly so that callers
/// waiting on it do not each call the provider again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MintFailure {
    /// The provider refused to narrow (`invalid_scope`, `invalid_target`, a GitHub 422).
    Refused {
        /// The provider's error code.
        error: String,
    },
    /// The provider was down.
    Unavailable,
    /// The provider was rate limiting.
    RateLimited,
}

/// A narrowed token and the lease on minting the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NarrowedToken {
    /// The connection whose grant it narrows.
    pub connection_id: ConnectionId,
    /// Its project (the sealing scope).
    pub project_id: ProjectId,
    /// The hash of the ask ([`super::NarrowingAsk::hash`]).
    pub narrowing: String,
    /// The connection's grant generation when it was minted.
    #[serde(default)]
    pub grant_generation: u32,
    /// The access token and its type, sealed under the project's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Sealed>,
    /// When the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<Timestamp>,
    /// When it was obtained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_issued_at: Option<Timestamp>,
    /// The provider did not say when it expires.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token_expiry_assumed: bool,
    /// What the token can do.
    #[serde(default)]
    pub granted: Granted,
    /// How it was narrowed.
    #[serde(default)]
    pub ways: Vec<Narrowing>,
    /// What the provider said of it that callers need (a GitHub token's permissions), laid over
    /// the connection's metadata when it is handed out.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Who is minting the next token, and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<RefreshLease>,
    /// The last attempt's failure, answered to everyone until `retry_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<MintFailure>,
    /// When the failure stops being answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl NarrowedToken {
    /// Where the narrowed token for `narrowing` of connection `connection_id` lives.
    pub fn key_of(connection_id: &ConnectionId, narrowing: &str) -> Key {
        Key::new(format!("NARROWED#{connection_id}"), format!("NARROWING#{narrowing}"))
    }

    /// A record with nothing minted yet.
    pub fn empty(connection_id: ConnectionId, project_id: ProjectId, narrowing: String, grant_generation: u32, now: Timestamp) -> Self {
        Self {
            connection_id,
            project_id,
            narrowing,
            grant_generation,
            credentials: None,
            token_expires_at: None,
            token_issued_at: None,
            token_expiry_assumed: false,
            granted: Granted::default(),
            ways: Vec::new(),
            metadata: Map::new(),
            lease: None,
            failure: None,
            retry_at: None,
            updated_at: now,
        }
    }

    /// The binding its token is sealed with.
    pub fn credentials_binding(&self) -> Binding {
        Binding::new(format!("project:{}", self.project_id), &self.key(), "credentials")
    }

    /// How long its token lives, when both ends are known.
    pub fn token_lifetime_secs(&self) -> Option<i64> {
        match (self.token_issued_at, self.token_expires_at) {
            (Some(issued), Some(expires)) if expires.0 > issued.0 => Some(expires.0 - issued.0),
            _ => None,
        }
    }

    /// When the item may go: once neither its token nor its lease nor its failure is of use.
    pub fn expires_at(&self) -> Option<Timestamp> {
        [self.token_expires_at, self.lease.as_ref().map(|l| l.until), self.retry_at].into_iter().flatten().max()
    }
}

impl Record for NarrowedToken {
    fn key(&self) -> Key {
        Self::key_of(&self.connection_id, &self.narrowing)
    }
}
