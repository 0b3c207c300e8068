//! Connectors: a provider configured for this deployment, and the project environments that may
//! use it.

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

/// A provider configured with a client: `slack/acme-slack` with its client id and sealed secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    /// `provider/name`.
    pub uid: ConnectorUid,
    /// The catalog entry it uses (`slack`).
    pub provider: String,
    /// The OAuth client id (not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The OAuth client secret, sealed under this connector's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Sealed>,
    /// Scopes asked for when a link names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
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
}

impl Record for Connector {
    fn key(&self) -> Key {
        Self::key_of(&self.uid)
    }
}
