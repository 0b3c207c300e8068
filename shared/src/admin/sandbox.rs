//! The sandbox as a connector: a client registered with this deployment's own sandbox provider, and
//! a connector made from the catalog's `sandbox` entry pointed at it. The entry's URLs name a
//! placeholder origin (a `.invalid` name, which never resolves); only here do they become the
//! deployment's.

use super::{create_connector_with, AdminError, NewConnector, Quirks};
use crate::model::{AuthMode, Connector, SandboxClient};
use crate::ports::Ports;
use crate::sandbox::clients::{create_client, NewClient};
use crate::sandbox::SandboxError;

/// The origin the catalog's `sandbox` entry names in place of the deployment's.
pub const SANDBOX_CATALOG_ORIGIN: &str = "https://sandbox.latchkey.invalid";

/// A sandbox connector to make.
#[derive(Debug, Clone)]
pub struct SandboxConnector {
    /// `sandbox/<name>`.
    pub uid: String,
    /// The deployment's base URL (`http://127.0.0.1:8080`, `https://auth.example.com`).
    pub base_url: String,
    /// Other base URLs the browser may use for the same deployment (`http://localhost:8080`):
    /// their callbacks are registered too.
    pub other_bases: Vec<String>,
    /// How long the sandbox's access tokens live (30 seconds at least).
    pub access_token_lifetime_secs: i64,
}

impl From<SandboxError> for AdminError {
    fn from(error: SandboxError) -> Self {
        match error {
            SandboxError::NotFound(what) => AdminError::NotFound(format!("sandbox client {what}")),
            SandboxError::Record(e) => AdminError::Record(e),
            other => AdminError::Invalid(other.to_string()),
        }
    }
}

fn base(raw: &str) -> Result<String, AdminError> {
    let base = raw.trim_end_matches('/');
    let url = url::Url::parse(base).map_err(|_| AdminError::Invalid(format!("invalid base URL {raw:?}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.host_str().is_none() {
        return Err(AdminError::Invalid(format!("the base URL must be an http(s) URL, not {raw:?}")));
    }
    Ok(base.to_owned())
}

/// Registers a sandbox client for this deployment and creates its connector (not yet linked to a
/// project); the client's secret goes, sealed, into the connector only.
pub async fn create_sandbox_connector(ports: &Ports, spec: SandboxConnector) -> Result<(Connector, SandboxClient), AdminError> {
    let entry = crate::catalog::provider("sandbox").ok_or_else(|| AdminError::NotFound("provider sandbox in the catalog".into()))?;
    let base_url = base(&spec.base_url)?;
    let others = spec.other_bases.iter().map(|b| base(b)).collect::<Result<Vec<_>, _>>()?;
    let issuer = format!("{base_url}/sandbox");
    let redirect_uris = std::iter::once(&base_url).chain(&others).map(|b| format!("{b}/v1/oauth/callback")).collect();
    let name = spec.uid.split_once('/').map_or(spec.uid.as_str(), |(_, n)| n);
    let new_client =
        NewClient { name: format!("Latchkey ({name})"), redirect_uris, issuer: issuer.clone(), access_token_lifetime_secs: spec.access_token_lifetime_secs };
    let (client, secret) = create_client(ports, new_client).await?;
    let rebase = |url: &str| url.replacen(SANDBOX_CATALOG_ORIGIN, &base_url, 1);
    let mut oauth = entry.endpoints().ok_or_else(|| AdminError::Invalid("the catalog's sandbox entry has no endpoints".into()))?;
    oauth.authorize_url = rebase(&oauth.authorize_url);
    oauth.token_url = rebase(&oauth.token_url);
    oauth.revoke_url = oauth.revoke_url.as_deref().map(rebase);
    oauth.issuer = Some(issuer);
    let mut quirks = Quirks::of(entry);
    if let Some(api) = quirks.api.as_mut() {
        api.base_url = rebase(&api.base_url);
    }
    let new = NewConnector {
        uid: spec.uid,
        display_name: Some(entry.name.clone()),
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some(client.client_id.clone()),
        client_secret: Some(secret),
        default_scopes: entry.default_scopes.clone(),
        fields: Vec::new(),
    };
    let connector = create_connector_with(ports, new, quirks, Some("sandbox")).await?;
    Ok((connector, client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_entry_names_only_the_placeholder_origin() {
        let entry = crate::catalog::provider("sandbox").expect("the sandbox is in the catalog");
        let urls = [&entry.authorize_url, &entry.token_url, &entry.revoke_url].into_iter().flatten().chain(entry.api.as_ref().map(|a| &a.base_url));
        for url in urls {
            assert!(url.starts_with(&format!("{SANDBOX_CATALOG_ORIGIN}/sandbox/")), "{url}");
        }
        assert!(entry.pkce && entry.sends_iss && entry.rotates_refresh_token);
    }
}
