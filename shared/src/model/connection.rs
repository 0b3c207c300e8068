//! Connections: one authorized account at a connector.

use serde::{Deserialize, Serialize};

use super::{ConnectorUid, EnvironmentName, Project, ProjectId, Record};
use crate::clock::Timestamp;
use crate::keyring::{Binding, Sealed};
use crate::store::Key;

/// Whose grant a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// One end user's own grant.
    User,
    /// A tenant-wide installation (a Slack workspace, a GitHub organisation).
    App,
}

/// The subject a connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subject {
    /// `user` or `app`.
    #[serde(rename = "type")]
    pub kind: SubjectType,
    /// The end user's id in the app (for `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Where a connection stands (the states of Apideck Vault's connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// The connector can be used but nothing is set up yet.
    Available,
    /// Set up, waiting for authorization or required settings.
    Added,
    /// Authorized at the provider, but required settings are missing.
    Authorized,
    /// Ready: tokens can be issued.
    Callable,
    /// The grant no longer works (revoked, refresh failed); needs a new authorization.
    Invalid,
}

/// One authorized account at a connector, with its sealed credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// `conn_...`
    pub id: String,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// The project environment it belongs to.
    pub environment: EnvironmentName,
    /// The connector it authorizes.
    pub connector: ConnectorUid,
    /// Whose grant it is.
    pub subject: Subject,
    /// The provider's installation id, for app installations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
    /// Where it stands.
    pub state: ConnectionState,
    /// The provider credentials (tokens, API key), sealed under the project's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Sealed>,
    /// Scopes the provider granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// What the provider returned that callers need (instance URL, tenant id).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Connection {
    /// The key of connection `id` of `project_id`.
    pub fn key_of(project_id: &ProjectId, id: &str) -> Key {
        Key::new(Project::partition_of(project_id), format!("CONNECTION#{id}"))
    }

    /// The sort-key prefix of every connection in a project partition.
    pub const SK_PREFIX: &'static str = "CONNECTION#";

    /// The binding its credentials are sealed with.
    pub fn credentials_binding(&self) -> Binding {
        Binding::new(format!("project:{}", self.project_id), &self.key(), "credentials")
    }
}

impl Record for Connection {
    fn key(&self) -> Key {
        Self::key_of(&self.project_id, &self.id)
    }
}
