//! Connectors: a provider configured for this deployment, how it authorizes, and the project
//! environments that may use it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConnectorUid, EnvironmentName, ProjectId, Record};
use crate::clock::Timestamp;
use crate::keyring::{Binding, Sealed};
use crate::store::Key;

/// One project's permission to use a connector, in some of its environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectLink {
    /// The project.
    pub project_id: ProjectId,
    /// The environments of that project that may use the connector.
    pub environments: Vec<EnvironmentName>,
}

/// How a connector's connections are authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// OAuth 2.0 authorization code, with PKCE where the provider allows it.
    #[default]
    OAuth2,
    /// An API key the end user pastes.
    ApiKey,
    /// A username and password (HTTP basic).
    Basic,
    /// OAuth 2.0 client credentials: the app's own token, no end user.
    ClientCredentials,
    /// A GitHub App: an RS256 app JWT (iss = the app id in `client_id`, key = the sealed
    /// `client_secret` PEM) exchanged at `token_url` (`.../app/installations/{installation_id}/access_tokens`).
    GithubApp,
    /// The JWT-bearer grant (RFC 7523): an RS256 assertion (iss = `client_id`, sub = the subject,
    /// aud = `token_url`) signed with the sealed `client_secret` PEM.
    JwtBearer,
}

impl AuthMode {
    /// Modes that need no person: their connections are created on first use.
    pub fn is_machine(self) -> bool {
        matches!(self, AuthMode::ClientCredentials | AuthMode::GithubApp | AuthMode::JwtBearer)
    }

    /// Modes configured with OAuth endpoints.
    pub fn uses_endpoints(self) -> bool {
        !matches!(self, AuthMode::ApiKey | AuthMode::Basic)
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 section 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// Client id and secret in the form body.
    ClientSecretPost,
}

fn default_separator() -> String {
    " ".into()
}

fn yes() -> bool {
    true
}

/// The OAuth 2.0 endpoints and quirks of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthEndpoints {
    /// Where the browser is sent to authorize.
    pub authorize_url: String,
    /// Where codes and refresh tokens are redeemed.
    pub token_url: String,
    /// RFC 7009 revocation endpoint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<String>,
    /// The issuer; when set, an `iss` in the authorization response must equal it (RFC 9207).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Whether the provider always sends `iss`; then a response without it is refused.
    #[serde(default)]
    pub requires_iss: bool,
    /// How scopes are joined in the authorize URL.
    #[serde(default = "default_separator")]
    pub scope_separator: String,
    /// Whether to use PKCE S256 (on unless the provider cannot).
    #[serde(default = "yes")]
    pub pkce: bool,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub token_auth: TokenAuthMethod,
    /// Extra parameters the provider wants on the authorize URL (`access_type=offline`).
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Lifetime assumed when a token response has no `expires_in`.
    #[serde(default = "default_lifetime")]
    pub default_token_lifetime_secs: i64,
    /// How long before expiry a token is refreshed.
    #[serde(default = "default_buffer")]
    pub refresh_buffer_secs: i64,
}

/// Five minutes: a token handed out has at least this long to live.
pub const DEFAULT_REFRESH_BUFFER_SECS: i64 = 300;

fn default_buffer() -> i64 {
    DEFAULT_REFRESH_BUFFER_SECS
}

/// One hour: what Latchkey assumes when a provider does not say how long a token lives. Assuming
/// "never" would hand out dead tokens; an hour makes a refresh happen while a refresh token works.
pub const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 3600;

fn default_lifetime() -> i64 {
    DEFAULT_TOKEN_LIFETIME_SECS
}

/// A value the end user gives before authorizing (a subdomain, a region, an instance host), which
/// the connector's URLs name as `{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionField {
    /// The placeholder name: lowercase letters, digits and `_`.
    pub name: String,
    /// The label people see ("Zendesk subdomain").
    pub label: String,
}

/// A call after the token response that a provider needs to complete a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PostAuthorization {
    /// GET `url` with the token: a list of resources (Atlassian sites); the first one's `id` is
    /// stored as `field`, the whole list as `resources`.
    AccessibleResources {
        /// The endpoint.
        url: String,
        /// The metadata name of the chosen id.
        field: String,
    },
    /// GET `url` with the token: a list of tenants (Xero connections); the first one's `tenantId`
    /// is stored as `field`, the whole list as `tenants`.
    TenantList {
        /// The endpoint.
        url: String,
        /// The metadata name of the chosen id.
        field: String,
    },
    /// POST the token to the introspection endpoint (RFC 7662) to learn its expiry, for providers
    /// whose token response has none (Salesforce).
    IntrospectionExpiry {
        /// The introspection endpoint.
        url: String,
    },
    /// GET `url` with the token; `path` of the answer is stored as `field` (DocuSign's base URI,
    /// Mailchimp's data centre).
    Userinfo {
        /// The endpoint.
        url: String,
        /// The metadata name.
        field: String,
        /// Dot path in the answer.
        path: String,
    },
}

/// A provider configured with a client: `slack/acme-slack` with its client id and sealed secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    /// `provider/name`.
    pub uid: ConnectorUid,
    /// The catalog entry it uses (`slack`).
    pub provider: String,
    /// The name people see on the Connect page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// How its connections are authorized.
    #[serde(default)]
    pub auth_mode: AuthMode,
    /// Endpoints for OAuth 2.0 connectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthEndpoints>,
    /// The OAuth client id (not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The OAuth client secret, sealed under this connector's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Sealed>,
    /// Scopes asked for when a link names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Values the end user gives before authorizing, used in the connector's URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ConnectionField>,
    /// Where the tokens sit in the provider's token response.
    #[serde(default)]
    pub token_response: crate::catalog::TokenMapping,
    /// Non-secret values callers need: name → dot path in the token response, or
    /// `query:<param>` for a callback query parameter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata_paths: BTreeMap<String, String>,
    /// An extra call after the token that completes the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_authorization: Option<PostAuthorization>,
    /// Which project environments may use it.
    #[serde(default)]
    pub links: Vec<ProjectLink>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Connector {
    /// The partition that holds every connector.
    pub const PARTITION: &'static str = "CONNECTORS";

    /// The key of connector `uid`.
    pub fn key_of(uid: &ConnectorUid) -> Key {
        Key::new(Self::PARTITION, format!("CONNECTOR#{uid}"))
    }

    /// The binding its client secret is sealed with.
    pub fn client_secret_binding(uid: &ConnectorUid) -> Binding {
        Binding::new(format!("connector:{uid}"), &Self::key_of(uid), "client_secret")
    }

    /// The link for `project_id`, if the project may use this connector at all.
    pub fn link_for(&self, project_id: &ProjectId) -> Option<&ProjectLink> {
        self.links.iter().find(|link| &link.project_id == project_id)
    }

    /// Whether `project_id` may use it in `environment`.
    pub fn usable_by(&self, project_id: &ProjectId, environment: &EnvironmentName) -> bool {
        self.link_for(project_id).is_some_and(|link| link.environments.contains(environment))
    }

    /// The name to show people.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(self.uid.as_str())
    }
}

impl Record for Connector {
    fn key(&self) -> Key {
        Self::key_of(&self.uid)
    }
}
