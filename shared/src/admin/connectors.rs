//! Creating, listing, updating and deleting connectors, and linking them to project environments.

use super::{project, AdminError};
use crate::model::{
    AuthMode, ConnectionField, Connector, ConnectorUid, EnvironmentName, OAuthEndpoints, PostAuthorization, ProjectId, ProjectLink, Record, Stored,
};
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::{DeleteCondition, StoreError};

/// What an operator gives to create a connector.
#[derive(Debug, Clone)]
pub struct NewConnector {
    /// `provider/name`.
    pub uid: String,
    /// The name people see on the Connect page.
    pub display_name: Option<String>,
    /// How connections are authorized.
    pub auth_mode: AuthMode,
    /// OAuth 2.0 endpoints (required for `oauth2`).
    pub oauth: Option<OAuthEndpoints>,
    /// The OAuth client id, if the provider uses one.
    pub client_id: Option<String>,
    /// The OAuth client secret; sealed before it is stored.
    pub client_secret: Option<SecretString>,
    /// Scopes asked for when a link names none.
    pub default_scopes: Vec<String>,
    /// Values the end user gives before authorizing (`{subdomain}` in the URLs).
    pub fields: Vec<ConnectionField>,
}

/// What an operator may change on a connector; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectorChanges {
    /// A new display name.
    pub display_name: Option<String>,
    /// New OAuth 2.0 endpoints.
    pub oauth: Option<OAuthEndpoints>,
    /// A new client id.
    pub client_id: Option<String>,
    /// A new client secret (rotation).
    pub client_secret: Option<SecretString>,
    /// New default scopes.
    pub default_scopes: Option<Vec<String>>,
    /// How long before expiry tokens are refreshed (capped at a third of each token's lifetime).
    pub refresh_buffer_secs: Option<i64>,
    /// What a revocation at the provider ends.
    pub revocation_scope: Option<crate::model::RevocationScope>,
    /// How its tokens can be narrowed (replacing the list; empty: not at all).
    pub narrowing: Option<Vec<crate::model::Narrowing>>,
}

fn check_client_id(client_id: &str) -> Result<(), AdminError> {
    if client_id.is_empty() || client_id.len() > 512 || client_id.chars().any(char::is_control) {
        return Err(AdminError::Invalid("client id must be 1 to 512 printable characters".into()));
    }
    Ok(())
}

/// Endpoint URLs must be https, except on loopback (local providers and tests).
fn check_endpoint(name: &str, raw: &str) -> Result<(), AdminError> {
    let invalid = || AdminError::Invalid(format!("{name} must be an https URL (http only on 127.0.0.1 or localhost), not {raw:?}"));
    let url = url::Url::parse(raw).map_err(|_| invalid())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() == "https" || (url.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn check_fields(fields: &[ConnectionField]) -> Result<(), AdminError> {
    for (i, field) in fields.iter().enumerate() {
        let name_ok = !field.name.is_empty() && field.name.len() <= 32 && field.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(AdminError::Invalid(format!("field name {:?} must be 1 to 32 of a-z, 0-9 and _", field.name)));
        }
        check_display_name(&field.label)?;
        crate::fields::check_field(field).map_err(AdminError::Invalid)?;
        if fields[..i].iter().any(|f| f.name == field.name) {
            return Err(AdminError::Invalid(format!("field {} is named twice", field.name)));
        }
    }
    Ok(())
}

/// Every `{placeholder}` of `url` must be a field, placed where its kind may go; the URL filled with
/// sample values must be https (http only on loopback).
fn check_template(name: &str, url: &str, fields: &[ConnectionField]) -> Result<(), AdminError> {
    crate::fields::check_template(url, fields).map_err(|why| AdminError::Invalid(format!("{name}: {why}")))?;
    // `{installation_id}` is filled from the request (GitHub Apps); the rest are the connector's fields.
    let samples =
        fields.iter().map(|f| (f.name.clone(), crate::fields::sample(f))).chain([(crate::fields::INSTALLATION_ID.to_owned(), "1".to_owned())]).collect();
    let filled = crate::fields::fill(url, &samples).map_err(|e| AdminError::Invalid(format!("{name}: {e}")))?;
    check_endpoint(name, filled.as_str())
}

fn check_oauth(oauth: &OAuthEndpoints, fields: &[ConnectionField]) -> Result<(), AdminError> {
    check_template("authorize URL", &oauth.authorize_url, fields)?;
    check_template("token URL", &oauth.token_url, fields)?;
    if let Some(revoke) = &oauth.revoke_url {
        check_template("revoke URL", revoke, fields)?;
    }
    if oauth.scope_separator.is_empty() || oauth.scope_separator.len() > 3 {
        return Err(AdminError::Invalid("scope separator must be 1 to 3 characters".into()));
    }
    if oauth.default_token_lifetime_secs <= 0 {
        return Err(AdminError::Invalid("default token lifetime must be positive".into()));
    }
    if !(0..=MAX_REFRESH_BUFFER_SECS).contains(&oauth.refresh_buffer_secs) {
        return Err(AdminError::Invalid(format!("refresh buffer must be 0 to {MAX_REFRESH_BUFFER_SECS} seconds")));
    }
    Ok(())
}

/// The proxy's base URL is a template like the endpoints (fields only where their kinds allow),
/// and its headers are names and fixed values, never a place for a secret.
fn check_api(api: &crate::model::ApiSpec, fields: &[ConnectionField]) -> Result<(), AdminError> {
    check_template("API base URL", &api.base_url, fields)?;
    api.check().map_err(AdminError::Invalid)
}

/// One day: a longer buffer would refresh day-long tokens the moment they arrive (the lifetime cap
/// stops that anyway, but a larger value is always a mistake).
pub const MAX_REFRESH_BUFFER_SECS: i64 = 24 * 3600;

/// Each way must fit the connector's auth mode (a refresh narrows only an OAuth 2.0 grant).
fn check_narrowing(mode: AuthMode, ways: &[crate::model::Narrowing]) -> Result<(), AdminError> {
    match ways.iter().find(|way| !way.applies_to(mode)) {
        Some(way) => Err(AdminError::Invalid(format!("narrowing {} does not apply to a {mode:?} connector", way.as_str()))),
        None => Ok(()),
    }
}

fn check_display_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.len() > 80 || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid("display name must be 1 to 80 printable characters".into()));
    }
    Ok(())
}

fn check_scopes(scopes: &[String]) -> Result<(), AdminError> {
    match scopes.iter().find(|s| s.is_empty() || s.len() > 200 || s.chars().any(|c| c.is_whitespace() || c.is_control())) {
        Some(bad) => Err(AdminError::Invalid(format!("invalid scope {bad:?}: scopes are non-empty and have no spaces"))),
        None => Ok(()),
    }
}

fn check_secret(secret: &SecretString) -> Result<(), AdminError> {
    if secret.expose().is_empty() || secret.expose().len() > 4096 {
        return Err(AdminError::Invalid("client secret must be 1 to 4096 characters".into()));
    }
    Ok(())
}

/// Reads a connector that must exist.
pub async fn connector(ports: &Ports, uid: &ConnectorUid) -> Result<Stored<Connector>, AdminError> {
    Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(uid)).await?.ok_or_else(|| AdminError::NotFound(format!("connector {uid}")))
}

/// A provider's response quirks, usually from the catalog.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// Where the tokens sit in its token response.
    pub token_response: crate::catalog::TokenMapping,
    /// Metadata to keep: name → path (`query:` for callback parameters).
    pub metadata_paths: std::collections::BTreeMap<String, String>,
    /// The call that completes a connection.
    pub post_authorization: Option<PostAuthorization>,
    /// How the proxy calls the provider's API.
    pub api: Option<crate::model::ApiSpec>,
    /// How its tokens can be narrowed.
    pub narrowing: Vec<crate::model::Narrowing>,
    /// What the Connect page's form calls the credential's parts.
    pub credential_labels: std::collections::BTreeMap<String, String>,
}

impl Quirks {
    /// The quirks a catalog entry describes.
    pub fn of(entry: &crate::catalog::ProviderEntry) -> Self {
        let post_authorization = entry.post_authorization.as_ref().and_then(|p| {
            let url = p.get("url").and_then(|u| u.as_str()).map(str::to_owned);
            let field = p.get("field").and_then(|u| u.as_str()).unwrap_or("resource_id").to_owned();
            match (p.get("kind").and_then(|k| k.as_str()), url) {
                (Some("accessible_resources"), Some(url)) => Some(PostAuthorization::AccessibleResources { url, field }),
                (Some("tenant_list"), Some(url)) => Some(PostAuthorization::TenantList { url, field }),
                (Some("userinfo" | "metadata"), Some(url)) => Some(PostAuthorization::Userinfo { url, path: field.clone(), field }),
                (Some("introspection_expiry"), _) => entry.introspection_url.clone().map(|url| PostAuthorization::IntrospectionExpiry { url }),
                _ => None,
            }
        });
        Self {
            token_response: entry.token_response.clone().unwrap_or_default(),
            metadata_paths: entry.metadata.clone(),
            post_authorization,
            api: entry.api.clone(),
            narrowing: entry.narrowing.clone(),
            credential_labels: entry.credential_labels.clone().unwrap_or_default(),
        }
    }
}

/// Creates a connector for catalog provider `provider`: the entry gives the auth mode, endpoints,
/// default scopes, fields and quirks; the operator gives the client (and may narrow the scopes).
pub async fn create_catalog_connector(
    ports: &Ports,
    uid: &str,
    provider: &str,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scopes: Vec<String>,
) -> Result<Connector, AdminError> {
    let entry = crate::catalog::provider(provider).ok_or_else(|| AdminError::NotFound(format!("provider {provider} in the catalog")))?;
    if provider == "sandbox" {
        // Its catalog URLs name a placeholder: the sandbox lives in each deployment.
        return Err(AdminError::Invalid("sandbox connectors point at this deployment's own sandbox: use `latchkey sandbox connector`".into()));
    }
    let auth_mode = entry.mode().ok_or_else(|| AdminError::Invalid(format!("provider {provider} has an unknown auth mode")))?;
    let new = NewConnector {
        uid: uid.to_owned(),
        display_name: Some(entry.name.clone()),
        auth_mode,
        oauth: if auth_mode.uses_endpoints() { entry.endpoints() } else { None },
        client_id,
        client_secret,
        default_scopes: if scopes.is_empty() { entry.default_scopes.clone() } else { scopes },
        fields: entry.connection_fields.clone(),
    };
    let mut connector = create_connector_with(ports, new, Quirks::of(entry), Some(provider)).await?;
    connector.provider = provider.to_owned();
    Ok(connector)
}

/// Creates a connector, sealing its client secret.
pub async fn create_connector(ports: &Ports, new: NewConnector) -> Result<Connector, AdminError> {
    create_connector_with(ports, new, Quirks::default(), None).await
}

/// Creates a connector with explicit response quirks (a custom provider that behaves like a known
/// one, or a catalog provider behind a proxy).
pub async fn create_connector_with(ports: &Ports, new: NewConnector, quirks: Quirks, provider: Option<&str>) -> Result<Connector, AdminError> {
    let uid = ConnectorUid::parse(&new.uid)?;
    check_new_connector(&new, &quirks)?;
    let client_secret = match &new.client_secret {
        Some(secret) => Some(ports.keyring.seal_str(&Connector::client_secret_binding(&uid), secret).await.map_err(crate::store::RecordError::from)?),
        None => None,
    };
    let now = ports.clock.now();
    let connector = Connector {
        provider: provider.unwrap_or(uid.provider()).to_owned(),
        uid,
        display_name: new.display_name,
        auth_mode: new.auth_mode,
        oauth: new.oauth,
        client_id: new.client_id,
        client_secret,
        default_scopes: new.default_scopes,
        fields: new.fields,
        token_response: quirks.token_response,
        metadata_paths: quirks.metadata_paths,
        post_authorization: quirks.post_authorization,
        api: quirks.api,
        narrowing: quirks.narrowing,
        credential_labels: quirks.credential_labels,
        links: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    match ports.store.put_if_absent(&connector.to_item()?).await {
        Ok(()) => Ok(connector),
        Err(StoreError::ConditionFailed) => Err(AdminError::Conflict(format!("connector {}", connector.uid))),
        Err(e) => Err(e.into()),
    }
}

/// Everything a new connector is refused for before anything is sealed or stored.
fn check_new_connector(new: &NewConnector, quirks: &Quirks) -> Result<(), AdminError> {
    if let Some(client_id) = &new.client_id {
        check_client_id(client_id)?;
    }
    if let Some(name) = &new.display_name {
        check_display_name(name)?;
    }
    check_fields(&new.fields)?;
    let oauth_mode = new.auth_mode.uses_endpoints();
    match (oauth_mode, &new.oauth) {
        (true, Some(oauth)) => check_oauth(oauth, &new.fields)?,
        (true, None) => return Err(AdminError::Invalid("an oauth2 connector needs its authorize and token URLs".into())),
        (false, Some(_)) => return Err(AdminError::Invalid("only oauth2 connectors have OAuth endpoints".into())),
        (false, None) => {}
    }
    if oauth_mode && new.client_id.is_none() {
        return Err(AdminError::Invalid("an oauth2 connector needs a client id".into()));
    }
    if matches!(new.auth_mode, AuthMode::GithubApp | AuthMode::JwtBearer) {
        let pem = new.client_secret.as_ref().map(|s| s.expose()).unwrap_or_default();
        if jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).is_err() {
            return Err(AdminError::Invalid("this connector signs with an RSA private key: give its PEM as the client secret".into()));
        }
    }
    if let Some(secret) = &new.client_secret {
        check_secret(secret)?;
    }
    check_scopes(&new.default_scopes)?;
    check_narrowing(new.auth_mode, &quirks.narrowing)?;
    if let Some(api) = &quirks.api {
        check_api(api, &new.fields)?;
    }
    Ok(())
}

/// Every connector, by uid.
pub async fn list_connectors(ports: &Ports) -> Result<Vec<Connector>, AdminError> {
    let stored = Stored::<Connector>::query(ports.store.as_ref(), Connector::PARTITION, "CONNECTOR#").await?;
    Ok(stored.into_iter().map(|s| s.record).collect())
}

/// Changes a connector's client or default scopes (optimistic lock: a concurrent change wins, this
/// one fails with a conflict and changes nothing).
pub async fn update_connector(ports: &Ports, uid: &str, changes: ConnectorChanges) -> Result<Connector, AdminError> {
    let uid = ConnectorUid::parse(uid)?;
    if let Some(client_id) = &changes.client_id {
        check_client_id(client_id)?;
    }
    if let Some(secret) = &changes.client_secret {
        check_secret(secret)?;
    }
    if let Some(scopes) = &changes.default_scopes {
        check_scopes(scopes)?;
    }
    if let Some(name) = &changes.display_name {
        check_display_name(name)?;
    }
    let mut stored = connector(ports, &uid).await?;
    let tuned = changes.refresh_buffer_secs.is_some() || changes.revocation_scope.is_some();
    if let Some(mut oauth) = changes.oauth.or_else(|| stored.record.oauth.clone().filter(|_| tuned)) {
        if !stored.record.auth_mode.uses_endpoints() {
            return Err(AdminError::Invalid("only oauth2 connectors have OAuth endpoints".into()));
        }
        oauth.refresh_buffer_secs = changes.refresh_buffer_secs.unwrap_or(oauth.refresh_buffer_secs);
        oauth.revocation_scope = changes.revocation_scope.unwrap_or(oauth.revocation_scope);
        check_oauth(&oauth, &stored.record.fields)?;
        stored.record.oauth = Some(oauth);
    } else if tuned {
        return Err(AdminError::Invalid("only connectors with OAuth endpoints have a refresh buffer or a revocation scope".into()));
    }
    if let Some(name) = changes.display_name {
        stored.record.display_name = Some(name);
    }
    if let Some(client_id) = changes.client_id {
        stored.record.client_id = Some(client_id);
    }
    if let Some(secret) = &changes.client_secret {
        let sealed = ports.keyring.seal_str(&Connector::client_secret_binding(&uid), secret).await.map_err(crate::store::RecordError::from)?;
        stored.record.client_secret = Some(sealed);
    }
    if let Some(scopes) = changes.default_scopes {
        stored.record.default_scopes = scopes;
    }
    if let Some(mut ways) = changes.narrowing {
        check_narrowing(stored.record.auth_mode, &ways)?;
        ways.sort();
        ways.dedup();
        stored.record.narrowing = ways;
    }
    stored.record.updated_at = ports.clock.now();
    save(ports, &mut stored).await?;
    Ok(stored.record)
}

/// Deletes a connector.
pub async fn delete_connector(ports: &Ports, uid: &str) -> Result<Connector, AdminError> {
    let uid = ConnectorUid::parse(uid)?;
    let stored = connector(ports, &uid).await?;
    ports.caches.connectors.remove(&uid);
    match ports.store.delete_if(&stored.record.key(), DeleteCondition::Version(stored.version)).await {
        Ok(()) => Ok(stored.record),
        Err(StoreError::ConditionFailed) => Err(AdminError::Conflict(format!("a concurrent change to connector {uid}"))),
        Err(e) => Err(e.into()),
    }
}

/// Lets `project_id` use the connector in `environments` (replacing any earlier link of that project).
pub async fn link_connector(ports: &Ports, uid: &str, project_id: &ProjectId, environments: &[String]) -> Result<Connector, AdminError> {
    let uid = ConnectorUid::parse(uid)?;
    if environments.is_empty() {
        return Err(AdminError::Invalid("name at least one environment to link".into()));
    }
    let project = project(ports, project_id).await?.record;
    let mut parsed = Vec::new();
    for raw in environments {
        let environment = EnvironmentName::parse(raw)?;
        if !project.has_environment(&environment) {
            return Err(AdminError::NotFound(format!("environment {environment} in project {project_id}")));
        }
        if !parsed.contains(&environment) {
            parsed.push(environment);
        }
    }
    let mut stored = connector(ports, &uid).await?;
    stored.record.links.retain(|link| &link.project_id != project_id);
    stored.record.links.push(ProjectLink { project_id: project_id.clone(), environments: parsed });
    stored.record.updated_at = ports.clock.now();
    save(ports, &mut stored).await?;
    Ok(stored.record)
}

/// Removes a project's link to the connector.
pub async fn unlink_connector(ports: &Ports, uid: &str, project_id: &ProjectId) -> Result<Connector, AdminError> {
    let uid = ConnectorUid::parse(uid)?;
    let mut stored = connector(ports, &uid).await?;
    if stored.record.link_for(project_id).is_none() {
        return Err(AdminError::NotFound(format!("link from connector {uid} to project {project_id}")));
    }
    stored.record.links.retain(|link| &link.project_id != project_id);
    stored.record.updated_at = ports.clock.now();
    save(ports, &mut stored).await?;
    Ok(stored.record)
}

/// Writes a changed connector; this process stops using its cached copy at once (every other
/// instance within the connector cache's bound).
async fn save(ports: &Ports, stored: &mut Stored<Connector>) -> Result<(), AdminError> {
    ports.caches.connectors.remove(&stored.record.uid);
    match stored.save(ports.store.as_ref()).await {
        Ok(()) => Ok(()),
        Err(crate::store::RecordError::Store(StoreError::ConditionFailed)) => {
            Err(AdminError::Conflict(format!("a concurrent change to connector {}", stored.record.uid)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Records a GitHub App installation for a project environment (and one end user, or the app):
/// only recorded installations can be asked for tokens, so nobody can name another tenant's.
pub async fn record_installation(
    ports: &Ports,
    uid: &str,
    project_id: &ProjectId,
    environment: &str,
    installation_id: &str,
    user: Option<&str>,
) -> Result<crate::model::Connection, AdminError> {
    let uid = ConnectorUid::parse(uid)?;
    let environment = EnvironmentName::parse(environment)?;
    let installation = crate::model::InstallationId::parse(installation_id)?;
    if !installation.is_numeric() {
        return Err(AdminError::Invalid("a GitHub App installation id is a number".into()));
    }
    let subject = match user {
        Some(user) => crate::model::Subject::user(crate::model::ConsumerId::parse(user)?),
        None => crate::model::Subject::app(),
    };
    let connector = connector(ports, &uid).await?.record;
    if connector.auth_mode != AuthMode::GithubApp {
        return Err(AdminError::Invalid(format!("connector {uid} is not a GitHub App")));
    }
    if !connector.usable_by(project_id, &environment) {
        return Err(AdminError::Invalid(format!("connector {uid} is not linked to {project_id} in {environment}")));
    }
    let place = crate::model::Scope { project_id: project_id.clone(), environment, consumer: None };
    let stored = crate::token::issue::install_machine_connection(ports, &place, &connector, &subject, Some(&installation)).await.map_err(|e| match e {
        crate::token::TokenError::Record(e) => AdminError::Record(e),
        other => AdminError::Invalid(other.to_string()),
    })?;
    Ok(stored.record)
}
