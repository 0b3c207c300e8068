//! The short-lived records of the link flow: link tokens, OAuth flows (the `state`), public tokens
//! and the connection access tokens they are exchanged for. Each is stored under the SHA-256 of its
//! token, never the token, and expires on its own.

use serde::{Deserialize, Serialize};

use super::Key;
use super::{Binding, Sealed};
use super::{ConnectionId, ConnectorUid, EndUser, EnvironmentName, ProjectId, Record};
use crate::clock::Timestamp;
use crate::secret::{random_token, SecretString};

/// Mints a prefixed token with 256 random bits.
pub fn mint_token(prefix: &str) -> SecretString {
    SecretString::new(format!("{prefix}{}", random_token(32).expose()))
}

/// How the Connect page was opened, which decides how its result travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConnectMode {
    /// Inside the SDK's modal: results go back by `postMessage`.
    Modal,
    /// As a full page: results go to the link's `redirect_url`.
    #[default]
    Page,
}

/// A link token: lets one end user's browser open the Connect page for a project environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkToken {
    /// SHA-256 of the token.
    pub hash: String,
    /// The project.
    pub project_id: ProjectId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The end user.
    pub end_user: EndUser,
    /// Connectors the page may offer; empty means every connector linked to the project environment.
    #[serde(default)]
    pub connectors: Vec<ConnectorUid>,
    /// Update mode: the connection to re-authorize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<ConnectionId>,
    /// Where a full-page Connect sends the browser when done (checked against the allowlist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The session it stands for, when the page was opened with a session token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<super::SessionClaims>,
    /// The language the app asked the page to speak (a BCP 47 tag), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// When it was minted.
    pub created_at: Timestamp,
    /// When it stops working.
    pub valid_until: Timestamp,
}

impl LinkToken {
    /// Token prefix.
    pub const PREFIX: &'static str = "lk_link_";

    /// The key of the link token whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("LINK_TOKEN#{hash}"), "LINK_TOKEN")
    }

    /// Whether the Connect page may offer `connector`.
    pub fn allows(&self, connector: &ConnectorUid) -> bool {
        self.connectors.is_empty() || self.connectors.contains(connector)
    }
}

impl Record for LinkToken {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}

/// An OAuth authorization in progress, stored under the hash of its `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthFlow {
    /// SHA-256 of the `state`.
    pub state_hash: String,
    /// SHA-256 of the browser-binding cookie set when the flow started.
    pub browser_hash: String,
    /// The link token that started it.
    pub link_token_hash: String,
    /// The project.
    pub project_id: ProjectId,
    /// The connector being authorized.
    pub connector: ConnectorUid,
    /// The exact redirect URI sent in the authorize request (and again at the token endpoint).
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The PKCE verifier, sealed; absent for providers without PKCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce_verifier: Option<Sealed>,
    /// How the Connect page was opened.
    pub mode: ConnectMode,
    /// The app origin results are posted to, in modal mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The values the end user gave for the connector's fields.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
    /// The link's redirect URL, so a result still finds its way when the link has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The link's language, so the result page speaks it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The connector's name as the page showed it, for the result page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_name: Option<String>,
    /// When it started.
    pub created_at: Timestamp,
}

impl OAuthFlow {
    /// How long a person has to finish at the provider.
    pub const LIFETIME_SECS: i64 = 600;

    /// The key of the flow whose state hashes to `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("OAUTH_STATE#{hash}"), "OAUTH_STATE")
    }

    /// The binding of its PKCE verifier.
    pub fn verifier_binding(project_id: &ProjectId, state_hash: &str) -> Binding {
        Binding::new(format!("project:{project_id}"), &Self::key_of(state_hash), "pkce_verifier")
    }
}

impl Record for OAuthFlow {
    fn key(&self) -> Key {
        Self::key_of(&self.state_hash)
    }
}

/// A one-time public token: what the browser hands the app's backend after a successful link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicToken {
    /// SHA-256 of the token.
    pub hash: String,
    /// The project.
    pub project_id: ProjectId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The connection it stands for.
    pub connection_id: ConnectionId,
    /// Its connector.
    pub connector: ConnectorUid,
    /// The end user.
    pub end_user: EndUser,
    /// The connection's grant generation when the link finished.
    #[serde(default)]
    pub grant_generation: u32,
}

impl PublicToken {
    /// Token prefix.
    pub const PREFIX: &'static str = "lk_public_";
    /// Thirty minutes to exchange it.
    pub const LIFETIME_SECS: i64 = 1800;

    /// The key of the public token whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("PUBLIC_TOKEN#{hash}"), "PUBLIC_TOKEN")
    }
}

impl Record for PublicToken {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}

/// A connection access token: the app backend's credential for one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionAccessToken {
    /// SHA-256 of the token.
    pub hash: String,
    /// The project.
    pub project_id: ProjectId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The connection it opens.
    pub connection_id: ConnectionId,
    /// The connection's natural sort key, so the token path reads it directly.
    pub connection_sk: String,
    /// When it was minted.
    pub created_at: Timestamp,
    /// When it stops working, if the app asked for an expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// The connection's grant generation when it was minted: a re-link moves it, and the token
    /// dies with the grant it was minted for.
    #[serde(default)]
    pub grant_generation: u32,
}

impl ConnectionAccessToken {
    /// Token prefix.
    pub const PREFIX: &'static str = "lk_conn_";

    /// The key of the access token whose hash is `hash`.
    pub fn key_of(hash: &str) -> Key {
        Key::new(format!("ACCESS_TOKEN#{hash}"), "ACCESS_TOKEN")
    }
}

impl ConnectionAccessToken {
    /// Whether it still works at `now` (its own expiry; the connection's checks come later).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.valid_until.is_none_or(|at| at > now)
    }
}

impl Record for ConnectionAccessToken {
    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }
}
