//! Deleting a connection: revoked at the provider first where it has an RFC 7009 endpoint, then
//! removed, then announced.

use super::find;
use crate::events::{self, EventType};
use crate::link::LinkError;
use crate::model::{Connection, ConnectionId, Connector, Record, Scope};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::store::DeleteCondition;
use crate::token::revocation;

/// Deletes connection `id` if `scope` reaches it; returns whether the provider confirmed the revocation.
pub async fn delete_connection(ports: &Ports, scope: &Scope, id: &ConnectionId) -> Result<bool, LinkError> {
    let (connection, connector) = find(ports, scope, id).await?;
    let revoked = revoke(ports, &connection, &connector).await;
    match ports.store.delete_if(&connection.key(), DeleteCondition::Exists).await {
        Ok(()) | Err(crate::store::StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    let _ = ports.store.delete_if(&Connection::id_key(&connection.id), DeleteCondition::Exists).await;
    events::emit(ports, EventType::ConnectionDeleted, &connection, serde_json::json!({"revoked": revoked})).await;
    tracing::info!(connection_id = %connection.id, revoked, "connection deleted");
    Ok(revoked)
}

/// Opens the connection's credentials and revokes them at the provider (see [`revocation::revoke`]).
async fn revoke(ports: &Ports, connection: &Connection, connector: &Connector) -> bool {
    let Some(sealed) = &connection.credentials else { return false };
    let Ok(opened) = ports.keyring.open(&connection.credentials_binding(), sealed).await else { return false };
    let Some(credentials) = Credentials::from_opened(opened.expose()) else { return false };
    revocation::revoke(ports, connection, connector, &credentials).await
}

/// Disconnects the caller's connection `id`: revoked at the provider, credentials forgotten, state
/// `added` (it can be authorized again; its id and settings stay).
pub async fn disconnect_connection(ports: &Ports, scope: &Scope, id: &ConnectionId) -> Result<(), LinkError> {
    let (connection, connector) = find(ports, scope, id).await?;
    let revoked = revoke(ports, &connection, &connector).await;
    let mut stored = crate::model::Stored::<Connection>::get(ports.store.as_ref(), &connection.key()).await?.ok_or(LinkError::ConnectionNotFound)?;
    stored.record.credentials = None;
    stored.record.token_expires_at = None;
    stored.record.state = crate::model::ConnectionState::Added;
    stored.record.updated_at = ports.clock.now();
    stored.save(ports.store.as_ref()).await?;
    events::emit(ports, EventType::ConnectionUpdated, &stored.record, serde_json::json!({"disconnected": true, "revoked": revoked})).await;
    Ok(())
}
