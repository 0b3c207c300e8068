//! Importing existing tokens (migrating from another system).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::link::connection::{store_connection, Grant};
use crate::link::LinkError;
use crate::model::{AuthMode, Connection, Connector, ConnectorUid, ConsumerId, EndUser, Scope, SecretKeyLookup, Stored};
use crate::oauth::Credentials;
use crate::ports::Ports;

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
    /// Provider values callers need (instance URL, tenant id).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// Credentials to import; which are required depends on the connector's auth type.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedCredentials {
    /// OAuth access token.
    #[serde(default)]
    pub access_token: Option<String>,
    /// OAuth refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token has left (unknown: Latchkey refreshes it on first use).
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// An API key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// A basic-auth username.
    #[serde(default)]
    pub username: Option<String>,
    /// A basic-auth password.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for ImportedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportedCredentials([redacted])")
    }
}

fn given(value: Option<String>, what: &str) -> Result<String, LinkError> {
    value.filter(|v| !v.is_empty() && v.len() <= 8192).ok_or_else(|| LinkError::InvalidRequest(format!("credentials.{what} is required for this connector")))
}

/// Seals the imported credentials into the consumer's connection (created, or replaced).
pub async fn import_connection(ports: &Ports, caller: &SecretKeyLookup, request: ImportRequest) -> Result<Connection, LinkError> {
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
    let imported = request.credentials;
    let now = ports.clock.now();
    let (credentials, expires) = match connector.auth_mode {
        AuthMode::ApiKey => (Credentials::api_key(given(imported.api_key, "api_key")?), None),
        AuthMode::Basic => (Credentials::basic(given(imported.username, "username")?, given(imported.password, "password")?), None),
        AuthMode::OAuth2 => {
            let mut credentials = Credentials::default();
            credentials.access_token = Some(given(imported.access_token, "access_token")?);
            credentials.refresh_token = imported.refresh_token.filter(|t| !t.is_empty());
            credentials.token_type = Some("Bearer".into());
            // Unknown expiry: treat the token as expiring now, so the first use refreshes it.
            (credentials, Some(now.plus_secs(imported.expires_in.unwrap_or(0).clamp(0, 365 * 24 * 3600))))
        }
        _ => return Err(LinkError::InvalidRequest("machine connectors need no import".into())),
    };
    let end_user = EndUser { id: consumer_id, email: None, display_name: None };
    let grant = Grant { credentials, token_expires_at: expires, scopes: request.scopes, metadata: request.metadata, ready: true };
    store_connection(ports, &caller.project_id, &caller.environment, &end_user, &connector, grant).await
}
