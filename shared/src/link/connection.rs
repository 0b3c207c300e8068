//! Storing the connection a link produced, and minting the one-time public token for it.

use serde_json::{Map, Value};

use super::LinkError;
use crate::clock::Timestamp;
use crate::events::{self, EventType};
use crate::model::link::mint_token;
use crate::model::{Connection, ConnectionId, ConnectionIdIndex, ConnectionState, Connector, LinkToken, PublicToken, Record, Stored, Subject};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::StoreError;
use crate::token::revocation;

/// A connection stored, and the public token the browser hands the app.
#[derive(Debug)]
pub struct Connected {
    /// The connection.
    pub connection: Connection,
    /// The one-time public token.
    pub public_token: SecretString,
}

/// Creates the end user's connection at `connector`, or updates the one they already have there
/// (a second link, or update mode), with freshly sealed credentials; then mints its public token.
pub async fn save_connection(ports: &Ports, link: &LinkToken, connector: &Connector, grant: Grant) -> Result<Connected, LinkError> {
    let connection = store_connection(ports, &link.project_id, &link.environment, &link.end_user, connector, grant).await?;
    let public_token = mint_public_token(ports, link, &connection).await?;
    Ok(Connected { connection, public_token })
}

/// What an authorization (or an import) produced.
pub struct Grant {
    /// The credentials to seal.
    pub credentials: Credentials,
    /// When the access token expires.
    pub token_expires_at: Option<Timestamp>,
    /// When the access token was obtained (its lifetime runs from here to `token_expires_at`).
    pub token_issued_at: Option<Timestamp>,
    /// Whether that expiry is Latchkey's assumption (the provider gave no lifetime).
    pub expiry_assumed: bool,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// What callers need from the provider.
    pub metadata: Map<String, Value>,
    /// The connector's field values, checked against their kinds.
    pub fields: std::collections::BTreeMap<String, String>,
    /// Metadata and fields whose values came through the end user's browser.
    pub end_user_supplied: Vec<String>,
    /// Callable now, or `authorized` until the consumer finishes the configuration step.
    pub ready: bool,
}

/// Creates or updates `end_user`'s connection at `connector` with `grant`, callable, and emits its
/// events. A grant it replaces is revoked at the provider once the new one is stored.
pub async fn store_connection(
    ports: &Ports,
    project_id: &crate::model::ProjectId,
    environment: &crate::model::EnvironmentName,
    end_user: &crate::model::EndUser,
    connector: &Connector,
    grant: Grant,
) -> Result<Connection, LinkError> {
    let subject = Subject::user(end_user.id.clone());
    let key = Connection::key_of(project_id, environment, &connector.uid, &subject, None);
    // Two attempts: a concurrent writer of the same connection (a double click) makes the first
    // conditional write fail; the second reads what it wrote and updates it.
    for _ in 0..2 {
        let now = ports.clock.now();
        let (mut connection, version) = match Stored::<Connection>::get(ports.store.as_ref(), &key).await? {
            Some(stored) => (stored.record, Some(stored.version)),
            None => {
                let id = ConnectionId::generate();
                (Connection::new(id, project_id.clone(), environment.clone(), connector.uid.clone(), subject.clone(), None, now), None)
            }
        };
        let replaced = connection.credentials.take();
        connection.end_user = Some(end_user.clone());
        connection.credentials = Some(ports.keyring.seal(&connection.credentials_binding(), &grant.credentials.to_sealable()).await?);
        apply_grant(&mut connection, connector, &grant, version.is_some(), now);
        match write(ports, connection.to_item()?, version).await {
            Ok(()) => {
                announce(ports, &connection, version.is_none(), grant.ready).await?;
                if let Some(sealed) = replaced {
                    revoke_replaced(ports, &connection, connector, &sealed, &grant.credentials).await;
                }
                return Ok(connection);
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(LinkError::Record(StoreError::ConditionFailed.into()))
}

/// Sets what `grant` decides on `connection` (all but the sealed credentials): a new grant starts
/// its refresh state afresh, and an existing connection counts one more generation.
fn apply_grant(connection: &mut Connection, connector: &Connector, grant: &Grant, existed: bool, now: Timestamp) {
    connection.state = if grant.ready { ConnectionState::Callable } else { ConnectionState::Authorized };
    connection.token_expires_at = grant.token_expires_at;
    connection.token_issued_at = grant.token_issued_at;
    connection.token_expiry_assumed = grant.expiry_assumed;
    if existed {
        connection.grant_generation += 1;
    }
    connection.scopes = grant.scopes.clone();
    connection.refresh_lease = None;
    connection.refresh_failures = 0;
    connection.refresh_retry_at = None;
    connection.refreshable = connector.auth_mode == crate::model::AuthMode::OAuth2 && grant.credentials.refresh_token.is_some();
    connection.metadata.extend(grant.metadata.clone());
    connection.fields = grant.fields.clone();
    connection.end_user_supplied = grant.end_user_supplied.clone();
    connection.updated_at = now;
}

/// Writes a connection's `item`: created if `version` is none, else only over that version.
async fn write(ports: &Ports, mut item: crate::model::Item, version: Option<u64>) -> Result<(), StoreError> {
    match version {
        Some(version) => {
            item.version = version;
            ports.store.put_if_version(&item).await.map(|_| ())
        }
        None => ports.store.put_if_absent(&item).await,
    }
}

/// After a write: the id index, the log line and the webhook events.
async fn announce(ports: &Ports, connection: &Connection, created: bool, ready: bool) -> Result<(), LinkError> {
    ports.store.put(&ConnectionIdIndex::of(connection).to_item()?).await?;
    tracing::info!(connection_id = %connection.id, connector = %connection.connector, created, "connection saved");
    let change = if created { EventType::ConnectionCreated } else { EventType::ConnectionUpdated };
    events::emit(ports, change, connection, serde_json::json!({})).await;
    if ready {
        events::emit(ports, EventType::ConnectionCallable, connection, serde_json::json!({})).await;
    }
    Ok(())
}

/// Revokes the grant the new one replaced (see [`revocation::revoke_replaced`]). The old
/// credentials were sealed under the same binding, which the new write did not change.
async fn revoke_replaced(ports: &Ports, connection: &Connection, connector: &Connector, sealed: &crate::model::Sealed, new: &Credentials) {
    let Ok(opened) = ports.keyring.open(&connection.credentials_binding(), sealed).await else { return };
    if let Some(old) = Credentials::from_opened(opened.expose()) {
        revocation::revoke_replaced(ports, connection, connector, &old, new).await;
    }
}

async fn mint_public_token(ports: &Ports, link: &LinkToken, connection: &Connection) -> Result<SecretString, LinkError> {
    let token = mint_token(PublicToken::PREFIX);
    let record = PublicToken {
        hash: token.sha256_hex(),
        project_id: connection.project_id.clone(),
        environment: connection.environment.clone(),
        connection_id: connection.id.clone(),
        connector: connection.connector.clone(),
        end_user: link.end_user.clone(),
        grant_generation: connection.grant_generation,
    };
    let expires = ports.clock.now().plus_secs(PublicToken::LIFETIME_SECS);
    ports.store.put_if_absent(&record.to_item()?.expiring_at(expires)).await?;
    Ok(token)
}
