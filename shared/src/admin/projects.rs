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
        display_name: None,
        logo_url: None,
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
    if trust.bound_claims.is_empty() && !trust.allow_unbound {
        return Err(AdminError::Invalid(
            "bind at least one claim (--claim sub=repo:acme/*): an issuer signs tokens for anyone who asks for this audience, \
             and without a bound claim every one of them could ask for this project's tokens; pass --allow-unbound-claims only if \
             every token the issuer signs for the audience is yours"
                .into(),
        ));
    }
    let claim_name =
        |c: &str| !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' || ch == ':' || ch == '.');
    if trust.bound_claims.len() > 16 || trust.bound_claims.iter().any(|(name, value)| !claim_name(name) || value.is_empty() || value.len() > 512) {
        return Err(AdminError::Invalid("bound claims: at most 16, each a claim name and a value or pattern of 1 to 512 characters".into()));
    }
    if trust.user_claim.as_deref().is_some_and(|c| !claim_name(c)) {
        return Err(AdminError::Invalid("the user claim must be a claim name".into()));
    }
    let mut stored = super::project(ports, project_id).await?;
    stored.record.trusted_issuers.retain(|t| t.issuer != trust.issuer);
    stored.record.trusted_issuers.push(trust.clone());
    forget_trust(ports, &trust.issuer);
    let index = IssuerTrust { issuer_hash: crate::SecretString::new(trust.issuer.clone()).sha256_hex(), project_id: project_id.clone(), trust };
    ports.store.put(&index.to_item()?).await?;
    stored.save(ports.store.as_ref()).await?;
    Ok(stored.record)
}

/// Stops trusting `issuer` for the project: its tokens stop working at once in this process, and
/// within the trust cache's bound everywhere else.
pub async fn distrust_issuer(ports: &Ports, project_id: &ProjectId, issuer: &str) -> Result<Project, AdminError> {
    let mut stored = super::project(ports, project_id).await?;
    let before = stored.record.trusted_issuers.len();
    stored.record.trusted_issuers.retain(|t| t.issuer != issuer);
    if stored.record.trusted_issuers.len() == before {
        return Err(AdminError::NotFound(format!("trusted issuer {issuer} of project {project_id}")));
    }
    stored.save(ports.store.as_ref()).await?;
    let hash = crate::SecretString::new(issuer.to_owned()).sha256_hex();
    let index = IssuerTrust::partition_of(&hash);
    let _ = ports.store.delete_if(&crate::model::Key::new(index, format!("PROJECT#{project_id}")), crate::store::DeleteCondition::Exists).await;
    forget_trust(ports, issuer);
    Ok(stored.record)
}

/// Changes a project's allowed origins (where redirect and return URLs may point); in effect at
/// once, since every flow reads the project itself.
pub async fn set_allowed_origins(ports: &Ports, project_id: &ProjectId, origins: &[String]) -> Result<Project, AdminError> {
    let parsed = origins.iter().map(|o| parse_origin(o)).collect::<Result<Vec<_>, _>>()?;
    let mut stored = super::project(ports, project_id).await?;
    stored.record.allowed_origins = parsed;
    stored.save(ports.store.as_ref()).await?;
    Ok(stored.record)
}

/// How the Connect page shows a project: the app's name and logo, as its end users know them.
#[derive(Debug, Clone, Default)]
pub struct Branding {
    /// The app's name (`None` leaves it; an empty string removes it).
    pub display_name: Option<String>,
    /// The app's logo URL (`None` leaves it; an empty string removes it).
    pub logo_url: Option<String>,
}

/// A logo the page may show: an https URL (http only on loopback), no credentials, at most 2048
/// characters. The page's Content-Security-Policy allows images from its origin only.
pub fn parse_logo_url(raw: &str) -> Result<String, AdminError> {
    let invalid = || AdminError::Invalid(format!("invalid logo URL {raw:?}: give an https URL (http only on 127.0.0.1 or localhost)"));
    let url = url::Url::parse(raw).map_err(|_| invalid())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || raw.len() > 2048 || !url.username().is_empty() || url.password().is_some() || url.host_str().is_none() {
        return Err(invalid());
    }
    Ok(url.to_string())
}

/// Sets (or removes) the app name and logo the Connect page shows for a project.
pub async fn set_branding(ports: &Ports, project_id: &ProjectId, branding: Branding) -> Result<Project, AdminError> {
    let display_name = match branding.display_name.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(name) if name.chars().count() > 80 || name.chars().any(char::is_control) => {
            return Err(AdminError::Invalid("display name must be 1 to 80 printable characters".into()));
        }
        Some(name) => Some(Some(name.to_owned())),
        None => None,
    };
    let logo_url = match branding.logo_url.as_deref() {
        Some("") => Some(None),
        Some(raw) => Some(Some(parse_logo_url(raw)?)),
        None => None,
    };
    let mut stored = super::project(ports, project_id).await?;
    if let Some(name) = display_name {
        stored.record.display_name = name;
    }
    if let Some(logo) = logo_url {
        stored.record.logo_url = logo;
    }
    stored.save(ports.store.as_ref()).await?;
    Ok(stored.record)
}

fn forget_trust(ports: &Ports, issuer: &str) {
    ports.caches.trusts.remove(&crate::SecretString::new(issuer.to_owned()).sha256_hex());
}

#[cfg(test)]
mod tests {
    use super::{parse_logo_url, parse_origin};

    #[test]
    fn logos_are_https_urls_without_credentials() {
        assert!(parse_logo_url("https://cdn.acme.test/logo.svg").is_ok());
        assert!(parse_logo_url("http://127.0.0.1:8080/logo.png").is_ok());
        for bad in ["http://cdn.acme.test/logo.png", "javascript:alert(1)", "data:image/png;base64,AAAA", "https://u:p@cdn.acme.test/l.png", "logo.png"] {
            assert!(parse_logo_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_are_bare_scheme_host_port() {
        assert_eq!(parse_origin("https://app.example.com").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin("http://127.0.0.1:3000").unwrap(), "http://127.0.0.1:3000");
        for bad in ["app.example.com", "https://app.example.com/path", "javascript:alert(1)", "https://u@x.com", "ftp://x.com", "https://x.com?a=1"] {
            assert!(parse_origin(bad).is_err(), "{bad} should be refused");
        }
    }
}
