//! Importing existing tokens (migrating from another system).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::link::connection::{store_connection, Grant};
use crate::link::LinkError;
use crate::model::{AuthMode, Connection, Connector, ConnectorUid, ConsumerId, EndUser, Scope, SecretKeyLookup, Stored};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::secret::SecretString;

/// The body of `POST /v1/connections/import`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The consumer (end user) the connection belongs to.
    pub consumer_id: String,
    /// The connector uid.
    pub connector: String,
    /// The credentials as the other system held them.
    pub credentials: ImportedCredentials,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Provider values callers need (instance URL, tenant id): at most 32 entries and 8 KB. Never
    /// read back to fill the connector's URLs; `fields` does that.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Values for the connector's fields (`{"subdomain": "acme"}`), each checked against its kind.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// The most metadata entries an import may carry.
pub const MAX_METADATA_ENTRIES: usize = 32;
/// The most metadata an import may carry, as JSON.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
/// The most scopes an import may name.
pub const MAX_SCOPES: usize = 100;

/// Credentials to import; which are required depends on the connector's auth type.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedCredentials {
    /// OAuth access token.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub access_token: Option<SecretString>,
    /// OAuth refresh token.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<SecretString>,
    /// Seconds the access token has left. Give this or `expires_at`; with neither, Latchkey
    /// refreshes the token on first use.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// When the access token expires (Unix seconds). One in the past is refreshed on first use,
    /// never served.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// An API key.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub api_key: Option<SecretString>,
    /// A basic-auth username.
    #[serde(default)]
    pub username: Option<String>,
    /// A basic-auth password.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

fn given(value: Option<&str>, what: &str) -> Result<String, LinkError> {
    match value {
        Some(v) if !v.is_empty() && v.len() <= 8192 => Ok(v.to_owned()),
        Some(_) => Err(LinkError::InvalidRequest(format!("credentials.{what} must be 1 to 8192 characters"))),
        None => Err(LinkError::InvalidRequest(format!("credentials.{what} is required for this connector"))),
    }
}

fn secret(value: &Option<SecretString>) -> Option<&str> {
    value.as_ref().map(SecretString::expose)
}

/// When an imported access token expires: as given, never extended; unknown counts as now, so the
/// first use refreshes it.
fn imported_expiry(imported: &ImportedCredentials, now: Timestamp) -> Result<Timestamp, LinkError> {
    const YEAR: i64 = 365 * 24 * 3600;
    match (imported.expires_in, imported.expires_at) {
        (Some(_), Some(_)) => Err(LinkError::InvalidRequest("give credentials.expires_in or credentials.expires_at, not both".into())),
        (Some(secs), None) if (0..=YEAR).contains(&secs) => Ok(now.plus_secs(secs)),
        (Some(_), None) => Err(LinkError::InvalidRequest(format!("credentials.expires_in must be 0 to {YEAR} seconds"))),
        (None, Some(at)) if (0..=now.0 + YEAR).contains(&at) => Ok(Timestamp(at)),
        (None, Some(_)) => Err(LinkError::InvalidRequest("credentials.expires_at must be Unix seconds at most a year ahead".into())),
        (None, None) => Ok(now),
    }
}

/// Checks what an import may carry besides credentials, before anything is read or written.
fn check_limits(request: &ImportRequest) -> Result<(), LinkError> {
    if request.metadata.len() > MAX_METADATA_ENTRIES || serde_json::to_vec(&request.metadata).map_or(true, |m| m.len() > MAX_METADATA_BYTES) {
        return Err(LinkError::InvalidRequest(format!("metadata may hold at most {MAX_METADATA_ENTRIES} entries and {MAX_METADATA_BYTES} bytes")));
    }
    if request.scopes.len() > MAX_SCOPES
        || request.scopes.iter().any(|s| s.is_empty() || s.len() > 200 || s.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(LinkError::InvalidRequest(format!("scopes lists at most {MAX_SCOPES} scopes, each 1 to 200 characters without spaces")));
    }
    Ok(())
}

/// Seals the imported credentials into the consumer's connection (created, or replaced).
pub async fn import_connection(ports: &Ports, caller: &SecretKeyLookup, request: ImportRequest) -> Result<Connection, LinkError> {
    check_limits(&request)?;
    let consumer_id = ConsumerId::parse(&request.consumer_id).map_err(|e| LinkError::InvalidRequest(e.to_string()))?;
    if !Scope::of_key(caller).allows(&consumer_id) {
        return Err(LinkError::SubjectNotAllowed);
    }
    let uid = ConnectorUid::parse(&request.connector).map_err(|e| LinkError::InvalidRequest(e.to_string()))?;
    let connector = Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(&uid))
        .await?
        .map(|s| s.record)
        .filter(|c| c.usable_by(&caller.project_id, &caller.environment))
        .ok_or(LinkError::ConnectorNotAllowed)?;
    let fields = crate::fields::check_given(&connector.fields, &request.fields)?;
    let imported = request.credentials;
    let now = ports.clock.now();
    let (credentials, expires) = match connector.auth_mode {
        AuthMode::ApiKey => (Credentials::api_key(given(secret(&imported.api_key), "api_key")?), None),
        AuthMode::Basic => (Credentials::basic(given(imported.username.as_deref(), "username")?, given(secret(&imported.password), "password")?), None),
        AuthMode::OAuth2 => {
            let mut credentials = Credentials::default();
            credentials.access_token = Some(given(secret(&imported.access_token), "access_token")?);
            credentials.refresh_token = secret(&imported.refresh_token).filter(|t| !t.is_empty()).map(str::to_owned);
            credentials.token_type = Some("Bearer".into());
            (credentials, Some(imported_expiry(&imported, now)?))
        }
        _ => return Err(LinkError::InvalidRequest("machine connectors need no import".into())),
    };
    let end_user = EndUser { id: consumer_id, email: None, display_name: None };
    let grant = Grant {
        credentials,
        token_expires_at: expires,
        token_issued_at: expires.map(|_| now),
        expiry_assumed: false,
        scopes: request.scopes,
        metadata: request.metadata,
        fields,
        end_user_supplied: Vec::new(),
        ready: true,
    };
    store_connection(ports, &caller.project_id, &caller.environment, &end_user, &connector, grant).await
}
