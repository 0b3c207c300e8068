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
mod overview;
mod revoke;

pub use authorize::{authorize_link, AuthorizeClaims, AUTHORIZE_AUDIENCE};
pub use import::{import_connection, ImportRequest};
pub use overview::{act, Action};
pub use revoke::{delete_connection, disconnect_connection};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::link::LinkError;
use crate::model::{AuthMode, Connection, ConnectionId, Connector, ConnectorUid, ConsumerId, Project, Scope, SecretKeyLookup, Stored};
use crate::ports::Ports;
use crate::store::Cursor;

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

/// A connection as the API shows it (never its credentials); `id` is absent for a connector the
/// consumer has not connected (`available`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// `conn_...`, once connected.
    pub id: Option<String>,
    /// The connector uid.
    pub connector: String,
    /// Its name.
    pub name: String,
    /// The catalog provider.
    pub provider: String,
    /// `oauth2`, `api_key`, `basic`, ...
    pub auth_type: String,
    /// `available`, `added`, `authorized`, `callable` or `invalid`.
    pub state: String,
    /// The consumer.
    pub consumer_id: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Non-secret values from the provider.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Where the consumer's browser authorizes (again).
    pub authorize_url: Option<String>,
    /// `DELETE` this to revoke and remove the connection.
    pub revoke_url: Option<String>,
    /// RFC 3339.
    pub created_at: Option<String>,
    /// RFC 3339.
    pub updated_at: Option<String>,
}

/// The view of `connector` for a consumer, with their connection to it if any.
pub fn view(connector: &Connector, connection: Option<&Connection>, authorize_url: Option<String>, base: &str) -> ConnectionView {
    ConnectionView {
        id: connection.map(|c| c.id.to_string()),
        connector: connector.uid.to_string(),
        name: connector.name().to_owned(),
        provider: connector.provider.clone(),
        auth_type: auth_type(connector.auth_mode).to_owned(),
        state: connection.map_or("available", |c| c.state.as_str()).to_owned(),
        consumer_id: connection.and_then(|c| c.subject.id.as_ref().map(|u| u.to_string())),
        scopes: connection.map(|c| c.scopes.clone()).unwrap_or_default(),
        metadata: connection.map(|c| c.metadata.clone()).unwrap_or_default(),
        authorize_url,
        revoke_url: connection.map(|c| format!("{base}/v1/connections/{}", c.id)),
        created_at: connection.map(|c| c.created_at.to_rfc3339()),
        updated_at: connection.map(|c| c.updated_at.to_rfc3339()),
    }
}

/// One page of a listing: at most `limit` entries after where `cursor` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many at most.
    pub limit: usize,
    /// The previous page's `next_cursor`, as it came: read against the query it must belong to.
    pub cursor: Option<String>,
}

impl Page {
    /// The default page size.
    pub const DEFAULT_LIMIT: usize = 50;
    /// The largest page.
    pub const MAX_LIMIT: usize = 100;

    /// Parses `limit` (1 to 100, 50 by default) and keeps an opaque `cursor` from a previous page.
    pub fn parse(limit: Option<usize>, cursor: Option<&str>) -> Result<Self, LinkError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(LinkError::InvalidRequest(format!("limit must be 1 to {}", Self::MAX_LIMIT)));
        }
        Ok(Self { limit, cursor: cursor.filter(|c| !c.is_empty()).map(str::to_owned) })
    }
}

/// Every connector the caller's project environment may use, with this consumer's connection to
/// it if one exists, a page at a time: two store calls (the connectors, the consumer's
/// connections). A key bound to one end user lists that user only. Cursors are bound to the
/// project, environment and consumer: one from another listing is refused (`invalid_cursor`).
pub async fn list(
    ports: &Ports,
    key: &SecretKeyLookup,
    consumer: &ConsumerId,
    base: &str,
    page: Page,
) -> Result<(Vec<ConnectionView>, Option<String>), LinkError> {
    let scope = Scope::of_key(key);
    if !scope.allows(consumer) {
        return Err(LinkError::SubjectNotAllowed);
    }
    let cursors = Cursor::for_query(&format!("connections\n{}\n{}\n{consumer}", key.project_id, key.environment));
    let after = match &page.cursor {
        Some(raw) => Some(ConnectorUid::parse(&cursors.decode(raw)?).map_err(|_| crate::store::BadCursor)?),
        None => None,
    };
    let mut connectors: Vec<Connector> = Stored::<Connector>::query(ports.store.as_ref(), Connector::PARTITION, "CONNECTOR#")
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|c| c.usable_by(&key.project_id, &key.environment) && !c.auth_mode.is_machine())
        .filter(|c| after.as_ref().is_none_or(|after| &c.uid > after))
        .collect();
    connectors.sort_by(|a, b| a.uid.cmp(&b.uid));
    let more = connectors.len() > page.limit;
    connectors.truncate(page.limit);
    let prefix = Connection::consumer_prefix(&key.environment, consumer);
    let connections: Vec<Connection> = Stored::<Connection>::query(ports.store.as_ref(), &Project::partition_of(&key.project_id), &prefix)
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|c| c.subject.id.as_ref() == Some(consumer))
        .collect();
    let mut views = Vec::new();
    for connector in &connectors {
        let connection = connections.iter().find(|c| c.connector == connector.uid);
        let link = authorize_link(ports, key, consumer, connector, base).await?;
        views.push(view(connector, connection, Some(link), base));
    }
    let next = if more { connectors.last().map(|c| cursors.encode(c.uid.as_str())) } else { None };
    Ok((views, next))
}

/// The connection `id` if `scope` reaches it, with its connector.
pub async fn find(ports: &Ports, scope: &Scope, id: &ConnectionId) -> Result<(Connection, Connector), LinkError> {
    let connection = crate::link::token::resolve_connection(ports, id).await?.filter(|c| scope.reaches(c)).ok_or(LinkError::ConnectionNotFound)?;
    let connector = Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(&connection.connector))
        .await?
        .map(|s| s.record)
        .ok_or(LinkError::ConnectorNotAllowed)?;
    Ok((connection, connector))
}

/// One connection as the API shows it, with a fresh authorize link.
pub async fn get(ports: &Ports, key: &SecretKeyLookup, id: &ConnectionId, base: &str) -> Result<ConnectionView, LinkError> {
    let (connection, connector) = find(ports, &Scope::of_key(key), id).await?;
    let link = match &connection.subject.id {
        Some(consumer) => Some(authorize_link(ports, key, consumer, &connector, base).await?),
        None => None,
    };
    Ok(view(&connector, Some(&connection), link, base))
}

/// Finishes the configuration step of connection `id`: `field` must be the one its connector
/// waits for, `value` one of the offered choices.
pub async fn configure(ports: &Ports, key: &SecretKeyLookup, id: &ConnectionId, field: &str, value: &str) -> Result<Connection, LinkError> {
    let (connection, connector) = find(ports, &Scope::of_key(key), id).await?;
    if crate::link::post_authorization::choice_of(&connector).map(|(f, _)| f) != Some(field) {
        return Err(LinkError::InvalidRequest(format!("{field} is not a setting of this connection")));
    }
    crate::link::post_authorization::configure(ports, &connection.id, &key.project_id, value).await
}
