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
    /// The app's name as its end users know it, shown on the Connect page (`name` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The app's logo, shown on the Connect page: an https URL (http only on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
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
    /// Claims every token must carry, by name: an exact value, or a pattern where `*` stands for
    /// any run of characters (`repo:acme/*`). A multi-tenant issuer (GitHub Actions) signs tokens
    /// for anyone who asks for the audience; these claims say which of them are this project's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub bound_claims: std::collections::BTreeMap<String, String>,
    /// The operator said, explicitly, that every token this issuer signs for the audience is theirs.
    #[serde(default)]
    pub allow_unbound: bool,
    /// When set, a token may ask only for the end user this claim names (`sub`, `email`); when not,
    /// for any user of the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_claim: Option<String>,
}

impl TrustedIssuer {
    /// Whether `claims` satisfy every bound claim (strings, or numbers read as their digits).
    pub fn binds(&self, claims: &serde_json::Value) -> bool {
        self.bound_claims.iter().all(|(name, pattern)| {
            let value = match claims.get(name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => return false,
            };
            glob_matches(pattern, &value)
        })
    }
}

/// Whether `value` matches `pattern`, where `*` stands for any run of characters and everything
/// else for itself.
pub fn glob_matches(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = parts.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
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

    /// The name the Connect page shows for the app.
    pub fn app_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
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

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_whole_values() {
        assert!(glob_matches("repo:acme/*", "repo:acme/app:ref:refs/heads/main"));
        assert!(glob_matches("repo:acme/*:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main"));
        assert!(!glob_matches("repo:acme/*", "repo:evil/acme/x"));
        assert!(!glob_matches("repo:acme/app", "repo:acme/app2"));
        assert!(glob_matches("1234", "1234") && !glob_matches("1234", "12345"));
        assert!(!glob_matches("a*b", "ab-c"));
    }
}
