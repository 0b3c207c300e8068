//! The connections API (Apideck Vault's): a consumer's connections with their states, one
//! connection, deleting one (revoking it at the provider, RFC 7009), and importing existing tokens.
//!
//! States and every transition between them (each reached by a test):
//!
//! | from        | to           | when                                                              |
//! |-------------|--------------|-------------------------------------------------------------------|
//! | available   | callable     | the consumer authorizes (link, session, authorize link) or an import |
//! | available   | authorized   | authorized, but the provider offers several tenants/sites         |
//! | authorized  | callable     | the consumer chooses one (session page, `PATCH /v1/connections/{id}`) |
//! | callable    | invalid      | the provider refuses a refresh, or the sweep's failure budget runs out |
//! | invalid     | callable     | the consumer authorizes again (update mode, reauthorize)         |
//! | callable    | added        | disconnected: revoked at the provider, credentials forgotten      |
//! | added       | callable     | reauthorized                                                      |
//! | any         | (deleted)    | `DELETE /v1/connections/{id}` or the session's delete: revoked and removed |
//!
//! `available` is not stored: it is a connector the consumer has no connection to.

mod authorize;
pub mod import;
mod revoke;

pub use authorize::{authorize_link, AuthorizeClaims, AUTHORIZE_AUDIENCE};
pub use import::{import_connection, ImportRequest};
pub use revoke::{delete_connection, disconnect_connection};

use serde_json::{json, Value};

use crate::link::LinkError;
use crate::model::{AuthMode, Connection, ConnectionState, Connector, Project, SecretKeyLookup, Stored};
use crate::state::AppState;

/// The wire name of an auth mode.
pub fn auth_type(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::OAuth2 => "oauth2",
        AuthMode::ApiKey => "api_key",
        AuthMode::Basic => "basic",
        AuthMode::ClientCredentials => "client_credentials",
        AuthMode::GithubApp => "github_app",
        AuthMode::JwtBearer => "jwt_bearer",
    }
}

/// A connection as the API shows it (never its credentials).
pub fn view(connector: &Connector, connection: Option<&Connection>, authorize_url: Option<String>, base: &str) -> Value {
    let state = connection.map_or(ConnectionState::Available, |c| c.state);
    json!({
        "id": connection.map(|c| c.id.clone()),
        "connector": connector.uid,
        "name": connector.name(),
        "provider": connector.provider,
        "auth_type": auth_type(connector.auth_mode),
        "state": state,
        "consumer_id": connection.and_then(|c| c.subject.id.clone()),
        "scopes": connection.map(|c| c.scopes.clone()).unwrap_or_default(),
        "metadata": connection.map(|c| Value::Object(c.metadata.clone())).unwrap_or(json!({})),
        "authorize_url": authorize_url,
        "revoke_url": connection.map(|c| format!("{base}/v1/connections/{}", c.id)),
        "created_at": connection.map(|c| c.created_at.to_rfc3339()),
        "updated_at": connection.map(|c| c.updated_at.to_rfc3339()),
    })
}

/// Checks a consumer id.
pub fn consumer(raw: Option<&str>) -> Result<String, LinkError> {
    match raw.map(str::trim) {
        Some(id) if !id.is_empty() && id.len() <= 256 && !id.chars().any(char::is_control) => Ok(id.to_owned()),
        _ => Err(LinkError::InvalidRequest("give the consumer id (header x-latchkey-consumer-id or consumer_id)".into())),
    }
}

/// Every connector the caller's project environment may use, with this consumer's connection to
/// it if one exists: two store calls (the connectors, the environment's connections).
pub async fn list(state: &AppState, caller: &SecretKeyLookup, consumer_id: &str, base: &str) -> Result<Vec<Value>, LinkError> {
    let connectors: Vec<Connector> = Stored::<Connector>::query(state.store.as_ref(), Connector::PARTITION, "CONNECTOR#")
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|c| c.usable_by(&caller.project_id, &caller.environment) && !c.auth_mode.is_machine())
        .collect();
    let prefix = Connection::consumer_prefix(&caller.environment, consumer_id);
    let connections: Vec<Connection> = Stored::<Connection>::query(state.store.as_ref(), &Project::partition_of(&caller.project_id), &prefix)
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|c| c.subject.id.as_deref() == Some(consumer_id))
        .collect();
    let mut views = Vec::new();
    for connector in &connectors {
        let connection = connections.iter().find(|c| c.connector == connector.uid);
        let link = authorize_link(state, caller, consumer_id, connector, base).await?;
        views.push(view(connector, connection, Some(link), base));
    }
    Ok(views)
}

/// The caller's connection `id`, with its connector.
pub async fn find(state: &AppState, caller: &SecretKeyLookup, id: &str) -> Result<(Connection, Connector), LinkError> {
    let connection = crate::link::token::resolve_connection(state, id)
        .await?
        .filter(|c| c.project_id == caller.project_id && c.environment == caller.environment)
        .ok_or(LinkError::ConnectionNotFound)?;
    let connector = Stored::<Connector>::get(state.store.as_ref(), &Connector::key_of(&connection.connector))
        .await?
        .map(|s| s.record)
        .ok_or(LinkError::ConnectorNotAllowed)?;
    Ok((connection, connector))
}
