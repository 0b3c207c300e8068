//! Creating and listing projects.

use super::AdminError;
use crate::model::{EnvironmentName, IssuerTrust, Project, ProjectId, Record, Stored, TrustedIssuer, DEFAULT_ENVIRONMENTS};
use crate::ports::Ports;
use crate::store::StoreError;

/// What an operator gives to create a project.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    /// A human name.
    pub name: String,
    /// Its environments; the defaults (production, preview, development) when empty.
    pub environments: Vec<String>,
    /// Origins that redirect and return URLs may point to (`https://app.example.com`).
    pub allowed_origins: Vec<String>,
}

/// Checks that `raw` is a bare origin: scheme, host and optional port, nothing else.
pub fn parse_origin(raw: &str) -> Result<String, AdminError> {
    let invalid = || AdminError::Invalid(format!("invalid origin {raw:?}: give scheme://host[:port], e.g. https://app.example.com"));
    let url = url::Url::parse(raw).map_err(|_| invalid())?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() || !bare || url.password().is_some() {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

/// Creates a project.
pub async fn create_project(ports: &Ports, new: NewProject) -> Result<Project, AdminError> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AdminError::Invalid("project name must be 1 to 100 characters".into()));
    }
    let raw_environments: Vec<String> =
        if new.environments.is_empty() { DEFAULT_ENVIRONMENTS.iter().map(|e| e.to_string()).collect() } else { new.environments };
    let mut environments = Vec::new();
    for raw in &raw_environments {
        let environment = EnvironmentName::parse(raw)?;
        if environments.contains(&environment) {
            return Err(AdminError::Invalid(format!("environment {environment} is named twice")));
        }
        environments.push(environment);
    }
    let allowed_origins = new.allowed_origins.iter().map(|o| parse_origin(o)).collect::<Result<Vec<_>, _>>()?;
    let project = Project {
        id: ProjectId::generate(),
        name: name.to_owned(),
        environments,
        allowed_origins,
        trusted_issuers: Vec::new(),
        webhooks: Vec::new(),
        created_at: ports.clock.now(),
    };
    match ports.store.put_if_absent(&project.to_item()?).await {
        Ok(()) => Ok(project),
        Err(StoreError::ConditionFailed) => Err(AdminError::Conflict(format!("project {}", project.id))),
        Err(e) => Err(e.into()),
    }
}

/// Every project, by id.
pub async fn list_projects(ports: &Ports) -> Result<Vec<Project>, AdminError> {
    let stored = Stored::<Project>::query(ports.store.as_ref(), Project::PARTITION, "PROJECT#").await?;
    Ok(stored.into_iter().map(|s| s.record).collect())
}

/// Algorithms an OIDC issuer may sign with: asymmetric only, so a public key can never be used as
/// an HMAC secret (RFC 8725 3.1), and never `none`.
pub const OIDC_ALGORITHMS: [&str; 6] = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"];

/// Lets `issuer`'s tokens (audience `audience`, keys at `jwks_url`) call the token broker for the
/// project; the environment comes from `environment_claim`.
pub async fn trust_issuer(ports: &Ports, project_id: &ProjectId, trust: TrustedIssuer) -> Result<Project, AdminError> {
    let issuer = url::Url::parse(&trust.issuer).map_err(|_| AdminError::Invalid("the issuer must be a URL".into()))?;
    if !matches!(issuer.scheme(), "https" | "http") || trust.issuer.len() > 512 {
        return Err(AdminError::Invalid("the issuer must be an http(s) URL".into()));
    }
    let loopback = |u: &url::Url| matches!(u.host_str(), Some("127.0.0.1" | "localhost"));
    let jwks = url::Url::parse(&trust.jwks_url).map_err(|_| AdminError::Invalid("the JWKS URL must be a URL".into()))?;
    if !(jwks.scheme() == "https" || (jwks.scheme() == "http" && loopback(&jwks))) {
        return Err(AdminError::Invalid("the JWKS URL must be https (http only on loopback)".into()));
    }
    if trust.audience.is_empty() || trust.audience.len() > 512 {
        return Err(AdminError::Invalid("the audience must be 1 to 512 characters".into()));
    }
    if trust.environment_claim.is_empty() || trust.environment_claim.len() > 64 {
        return Err(AdminError::Invalid("the environment claim must be 1 to 64 characters".into()));
    }
    if trust.algorithms.is_empty() || trust.algorithms.iter().any(|a| !OIDC_ALGORITHMS.contains(&a.as_str())) {
        return Err(AdminError::Invalid(format!("algorithms must be among {}", OIDC_ALGORITHMS.join(", "))));
    }
    let mut stored = super::project(ports, project_id).await?;
    stored.record.trusted_issuers.retain(|t| t.issuer != trust.issuer);
    stored.record.trusted_issuers.push(trust.clone());
    let index = IssuerTrust { issuer_hash: crate::SecretString::new(trust.issuer.clone()).sha256_hex(), project_id: project_id.clone(), trust };
    ports.store.put(&index.to_item()?).await?;
    stored.save(ports.store.as_ref()).await?;
    Ok(stored.record)
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_bare_scheme_host_port() {
        assert_eq!(parse_origin("https://app.example.com").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin("http://127.0.0.1:3000").unwrap(), "http://127.0.0.1:3000");
        for bad in ["app.example.com", "https://app.example.com/path", "javascript:alert(1)", "https://u@x.com", "ftp://x.com", "https://x.com?a=1"] {
            assert!(parse_origin(bad).is_err(), "{bad} should be refused");
        }
    }
}
