//! Projects: the tenants of one Latchkey deployment.

use serde::{Deserialize, Serialize};

use super::Key;
use super::{EnvironmentName, ProjectId, Record};
use crate::clock::Timestamp;

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
    /// Where its events are sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<super::Webhook>,
    /// OIDC issuers whose tokens may call the token broker for this project.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// An OIDC issuer a project trusts (a CI system, the app's own identity provider), as RFC 8725 asks:
/// a pinned issuer, audience and JWKS, and an algorithm allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// The exact `iss`.
    pub issuer: String,
    /// The `aud` its tokens must carry for Latchkey.
    pub audience: String,
    /// Where its signing keys are published; keys come from here only.
    pub jwks_url: String,
    /// The claim that names the environment (`environment` by default).
    pub environment_claim: String,
    /// Accepted algorithms (asymmetric only).
    pub algorithms: Vec<String>,
}

/// Points from an issuer to a project that trusts it (tokens are routed by their `iss`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuerTrust {
    /// SHA-256 of the issuer.
    pub issuer_hash: String,
    /// The project.
    pub project_id: ProjectId,
    /// Its trust settings.
    pub trust: TrustedIssuer,
}

impl IssuerTrust {
    /// The partition of every project trusting the issuer whose hash is `hash`.
    pub fn partition_of(hash: &str) -> String {
        format!("TRUSTED_ISSUER#{hash}")
    }
}

impl Record for IssuerTrust {
    fn key(&self) -> Key {
        Key::new(Self::partition_of(&self.issuer_hash), format!("PROJECT#{}", self.project_id))
    }
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
