//! Deleting a connection: revoked at the provider first where it has an RFC 7009 endpoint, then
//! removed, then announced.

use super::find;
use crate::events::{self, EventType};
use crate::link::LinkError;
use crate::model::{Connection, ConnectionId, Connector, Record, Scope, TokenAuthMethod};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::store::DeleteCondition;

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

/// RFC 7009: the refresh token (which takes its access tokens with it) or else the access token.
/// A failure is logged and reported, not fatal: the connection is deleted either way.
async fn revoke(ports: &Ports, connection: &Connection, connector: &Connector) -> bool {
    let (Some(oauth), Some(sealed)) = (&connector.oauth, &connection.credentials) else { return false };
    let Some(template) = &oauth.revoke_url else { return false };
    // Templated endpoints (a tenant's own host) are filled from the connection's checked fields.
    let revoke_url = match crate::fields::fill(template, &connection.fields) {
        Ok(url) => url.to_string(),
        Err(error) => {
            tracing::warn!(connection_id = %connection.id, %error, "revocation URL cannot be filled");
            return false;
        }
    };
    let Ok(opened) = ports.keyring.open(&connection.credentials_binding(), sealed).await else { return false };
    let Some(credentials) = Credentials::from_opened(opened.expose()) else { return false };
    let (token, hint) = match (&credentials.refresh_token, &credentials.access_token) {
        (Some(refresh), _) => (refresh.clone(), "refresh_token"),
        (None, Some(access)) => (access.clone(), "access_token"),
        _ => return false,
    };
    let Some(client_id) = connector.client_id.as_deref() else { return false };
    let secret = match &connector.client_secret {
        Some(s) => ports.keyring.open_str(&Connector::client_secret_binding(&connector.uid), s).await.ok(),
        None => None,
    };
    let mut form = vec![("token", token.as_str()), ("token_type_hint", hint)];
    let basic = match (oauth.token_auth, &secret) {
        (TokenAuthMethod::ClientSecretBasic, Some(secret)) => Some((client_id, secret)),
        (_, secret) => {
            form.push(("client_id", client_id));
            if let Some(secret) = secret {
                form.push(("client_secret", secret.expose()));
            }
            None
        }
    };
    match ports.outbound.post_form(&revoke_url, &form, basic).await {
        Ok(response) if response.status == 200 => true,
        Ok(response) => {
            tracing::warn!(connection_id = %connection.id, status = response.status, "revocation refused");
            false
        }
        Err(error) => {
            tracing::warn!(connection_id = %connection.id, %error, "revocation failed");
            false
        }
    }
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
