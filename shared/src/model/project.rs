//! Projects: the tenants of one Latchkey deployment.

use serde::{Deserialize, Serialize};

use super::{EnvironmentName, ProjectId, Record};
use crate::clock::Timestamp;
use crate::store::Key;

/// The environments a project gets when none are named.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["production", "preview", "development"];

/// A tenant: one SaaS app, with its environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// `prj_...`
    pub id: ProjectId,
    /// A human name, for operators.
    pub name: String,
    /// The environments its secret keys and connections belong to.
    pub environments: Vec<EnvironmentName>,
    /// Origins (`https://app.example.com`) that redirect and return URLs may point to.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Project {
    /// The partition that holds every project.
    pub const PARTITION: &'static str = "PROJECTS";

    /// The key of the project `id`.
    pub fn key_of(id: &ProjectId) -> Key {
        Key::new(Self::PARTITION, format!("PROJECT#{id}"))
    }

    /// The partition holding this project's own records (secret keys, connections).
    pub fn partition_of(id: &ProjectId) -> String {
        format!("PROJECT#{id}")
    }

    /// Whether `environment` is one of this project's.
    pub fn has_environment(&self, environment: &EnvironmentName) -> bool {
        self.environments.contains(environment)
    }
}

impl Record for Project {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
}
