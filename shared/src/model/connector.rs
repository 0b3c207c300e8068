//! Connectors: a provider configured for this deployment, how it authorizes, and the project
//! environments that may use it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Key;
use super::{Binding, Sealed};
use super::{ConnectorUid, EnvironmentName, ProjectId, Record};
use crate::clock::Timestamp;

/// One project's permission to use a connector, in some of its environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectLink {
    /// The project.
    pub project_id: ProjectId,
    /// The environments of that project that may use the connector.
    pub environments: Vec<EnvironmentName>,
}

/// How a connector's connections are authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// How long before expiry a token is refreshed (at most a third of the token's lifetime, so a
    /// fresh token is never due at once).
    #[serde(default = "default_buffer")]
    pub refresh_buffer_secs: i64,
    /// What revoking one token takes with it at the provider.
    #[serde(default)]
    pub revocation_scope: RevocationScope,
}

/// What a revocation at the provider ends (RFC 7009 leaves it to the provider).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationScope {
    /// The token and the tokens issued with it; a later authorization of the same account is a
    /// grant of its own. A grant replaced by a new link is revoked.
    #[default]
    Token,
    /// Every token of the account's authorization of the client (Google, Zoom): a new link of the
    /// same account may share it, so a replaced grant is not revoked, or the new one would die too.
    Grant,
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

/// A value a connection needs (a subdomain, a data centre, an instance URL), which the connector's
/// URLs name as `{name}`. Its kind says what a value may be and which part of a URL it may fill,
/// so a value can never move a request to a host the connector does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawField", into = "RawField")]
pub struct ConnectionField {
    /// The placeholder name: lowercase letters, digits and `_`.
    pub name: String,
    /// The label people see ("Zendesk subdomain").
    pub label: String,
    /// What a value may be.
    pub kind: FieldKind,
    /// Where the value comes from when the end user does not type it: a dot path in the token
    /// response (`instance_url`), or `query:<param>` for a callback parameter.
    pub from: Option<String>,
}

impl ConnectionField {
    /// Whether the end user types the value on the Connect page.
    pub fn entered_by_user(&self) -> bool {
        self.from.is_none()
    }

    /// Whether the value arrives in the callback's query, which the end user's browser carries and
    /// so can forge: it is end-user supplied, however it looks.
    pub fn from_callback(&self) -> bool {
        self.from.as_deref().is_some_and(|f| f.starts_with("query:"))
    }
}

/// What a connection field's value may be, and so which part of a URL it may fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// One DNS label, filling the left-most label of a host before a fixed suffix.
    Label,
    /// One of a fixed list, filling any part of a host.
    Choice(Vec<String>),
    /// A DNS name ending in one of the suffixes, filling a whole host.
    Host(Vec<String>),
    /// An https origin whose host ends in one of the suffixes, filling the start of a URL.
    Url(Vec<String>),
    /// One path segment (digits only when `numeric`), filling a whole segment.
    Segment {
        /// Digits only.
        numeric: bool,
    },
}

/// A field as it is written in the catalog and stored: flat, with `kind` and its parameters. A
/// field stored before kinds existed has none, and is read as the strictest kind, `label`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawField {
    name: String,
    label: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    choices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    suffixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
}

impl TryFrom<RawField> for ConnectionField {
    type Error = String;

    fn try_from(raw: RawField) -> Result<Self, Self::Error> {
        let kind = match raw.kind.as_deref().unwrap_or("label") {
            "label" => FieldKind::Label,
            "choice" => FieldKind::Choice(raw.choices),
            "host" => FieldKind::Host(raw.suffixes),
            "url" => FieldKind::Url(raw.suffixes),
            "segment" => match raw.format.as_deref() {
                None => FieldKind::Segment { numeric: false },
                Some("numeric") => FieldKind::Segment { numeric: true },
                Some(other) => return Err(format!("field {}: unknown segment format {other:?}", raw.name)),
            },
            other => return Err(format!("field {}: unknown kind {other:?}", raw.name)),
        };
        Ok(Self { name: raw.name, label: raw.label, kind, from: raw.from })
    }
}

impl From<ConnectionField> for RawField {
    fn from(field: ConnectionField) -> Self {
        let mut raw = RawField { name: field.name, label: field.label, kind: None, choices: Vec::new(), suffixes: Vec::new(), format: None, from: field.from };
        raw.kind = Some(
            match field.kind {
                FieldKind::Label => "label",
                FieldKind::Choice(choices) => {
                    raw.choices = choices;
                    "choice"
                }
                FieldKind::Host(suffixes) => {
                    raw.suffixes = suffixes;
                    "host"
                }
                FieldKind::Url(suffixes) => {
                    raw.suffixes = suffixes;
                    "url"
                }
                FieldKind::Segment { numeric } => {
                    raw.format = numeric.then(|| "numeric".to_owned());
                    "segment"
                }
            }
            .to_owned(),
        );
        raw
    }
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

/// Where each field of Latchkey's token set sits in the provider's token response (dot paths);
/// `None` where the provider sends no such field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMapping {
    /// Path of the access token (`authed_user.access_token` for Slack user tokens).
    pub access_token: Option<String>,
    /// Path of the refresh token.
    pub refresh_token: Option<String>,
    /// Path of the lifetime in seconds.
    pub expires_in: Option<String>,
    /// Path of the granted scopes.
    pub scope: Option<String>,
    /// Path of a second, user-level token some providers send beside the app's (Slack's
    /// `authed_user.access_token`).
    #[serde(default)]
    pub user_access_token: Option<String>,
}

impl Default for TokenMapping {
    fn default() -> Self {
        Self {
            access_token: Some("access_token".into()),
            refresh_token: Some("refresh_token".into()),
            expires_in: Some("expires_in".into()),
            scope: Some("scope".into()),
            user_access_token: None,
        }
    }
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
    pub token_response: TokenMapping,
    /// Non-secret values callers need: name → dot path in the token response, or
    /// `query:<param>` for a callback query parameter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata_paths: BTreeMap<String, String>,
    /// An extra call after the token that completes the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_authorization: Option<PostAuthorization>,
    /// How the proxy calls the provider's API; none: the connector cannot be proxied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<super::ApiSpec>,
    /// The ways its tokens can be narrowed to fewer rights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub narrowing: Vec<super::Narrowing>,
    /// What the Connect page's form calls an API key, user name or password (`Account SID`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credential_labels: BTreeMap<String, String>,
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
