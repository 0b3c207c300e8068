//! Sessions as their signed tokens carry them (Apideck Vault's shape): who the consumer is, how the
//! page behaves, how it looks, and what the consumer may do to a connection.

use serde::{Deserialize, Serialize};

use super::{ConsumerId, EnvironmentName, ProjectId};

/// What a consumer may do to an existing connection from a session's overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionAction {
    /// Authorize again.
    Reauthorize,
    /// Revoke the grant at the provider and forget the credentials; the connection stays `added`.
    Disconnect,
    /// Revoke and remove the connection.
    Delete,
}

impl SessionAction {
    /// Every action.
    pub const ALL: [SessionAction; 3] = [SessionAction::Reauthorize, SessionAction::Disconnect, SessionAction::Delete];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionAction::Reauthorize => "reauthorize",
            SessionAction::Disconnect => "disconnect",
            SessionAction::Delete => "delete",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// What the page may show about the consumer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerMetadata {
    /// Their account or company name.
    #[serde(default)]
    pub account_name: Option<String>,
    /// Their name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
}

/// A session's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// Send the browser to `redirect_uri` once a connection is callable.
    pub auto_redirect: bool,
    /// Deep links show only their connector, with no way back to the overview.
    pub isolation_mode: bool,
    /// Only these connectors (uids).
    pub allowed_connectors: Vec<String>,
    /// Only these unified APIs (catalog categories: crm, accounting, ...).
    pub unified_apis: Vec<String>,
    /// Seconds the session lasts (default 3600, at most a week); or a duration like "30m", "2h", "7d".
    #[schema(value_type = Option<String>)]
    pub session_length: Option<serde_json::Value>,
    /// Show the list of connectors beside a deep-linked one.
    pub show_sidebar: bool,
    /// Hide per-connection settings.
    pub hide_resource_settings: bool,
    /// What the consumer may do to an existing connection: reauthorize, disconnect, delete.
    pub allow_actions: Vec<SessionAction>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            auto_redirect: false,
            isolation_mode: false,
            allowed_connectors: Vec::new(),
            unified_apis: Vec::new(),
            session_length: None,
            show_sidebar: true,
            hide_resource_settings: false,
            allow_actions: SessionAction::ALL.to_vec(),
        }
    }
}

/// How the page looks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// The app's name, shown in the heading.
    #[serde(default)]
    pub name: Option<String>,
    /// The app's logo (an https URL on the project's allowlist, shown as an image).
    #[serde(default)]
    pub logo: Option<String>,
    /// `#rrggbb`.
    #[serde(default)]
    pub primary_color: Option<String>,
}

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Session id.
    pub sid: String,
    /// The consumer.
    pub sub: ConsumerId,
    /// The project.
    pub prj: ProjectId,
    /// The environment.
    pub env: EnvironmentName,
    /// Where to return.
    pub redirect_uri: String,
    /// Settings.
    pub settings: SessionSettings,
    /// Theme.
    #[serde(default)]
    pub theme: Option<Theme>,
    /// Consumer metadata.
    #[serde(default)]
    pub consumer_metadata: Option<ConsumerMetadata>,
    /// The language the page speaks (a BCP 47 tag), if the app chose one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// The audience of authorize links.
pub const AUTHORIZE_AUDIENCE: &str = "latchkey:authorize";

/// What an authorize link says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (epoch seconds).
    pub exp: i64,
    /// The consumer.
    pub sub: ConsumerId,
    /// The project.
    pub prj: ProjectId,
    /// The environment.
    pub env: EnvironmentName,
    /// The connector.
    pub connector: String,
}
