//! Exchanging a public token for a connection access token, and revoking one.
//!
//! A connection access token is bound to its connection's id: it works for that connection only,
//! dies with it (deleted, or replaced by a new connection at the same place), may carry an expiry,
//! and can be revoked by its project environment's secret keys.

use super::LinkError;
use crate::model::link::mint_token;
use crate::model::{
    Connection, ConnectionAccessToken, ConnectionId, ConnectionIdIndex, ConnectorUid, EndUser, PublicToken, Record, Scope, SecretKeyLookup, Stored,
};
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::DeleteCondition;
use crate::Timestamp;

/// The longest lifetime an app may ask for a connection access token.
pub const MAX_ACCESS_TOKEN_SECS: i64 = 365 * 24 * 3600;

/// What an exchange returns: the access token is shown this once.
#[derive(Debug)]
pub struct Exchanged {
    /// The connection.
    pub connection_id: ConnectionId,
    /// The connection access token.
    pub access_token: SecretString,
    /// When it stops working, if it expires.
    pub expires_at: Option<Timestamp>,
    /// Its connector.
    pub connector: ConnectorUid,
    /// The end user.
    pub end_user: EndUser,
}

/// Consumes `raw` exactly once and mints an access token for its connection, living `expires_in`
/// seconds if given. A token of another project, environment or (for a key bound to one user)
/// consumer is refused without being consumed, so it still works for its owner.
pub async fn exchange_public_token(ports: &Ports, caller: &SecretKeyLookup, raw: &SecretString, expires_in: Option<i64>) -> Result<Exchanged, LinkError> {
    let lifetime = match expires_in {
        Some(secs) if !(60..=MAX_ACCESS_TOKEN_SECS).contains(&secs) => {
            return Err(LinkError::InvalidRequest(format!("expires_in must be 60 to {MAX_ACCESS_TOKEN_SECS} seconds")));
        }
        other => other,
    };
    let raw = raw.expose();
    if !raw.starts_with(PublicToken::PREFIX) || raw.len() > 128 {
        return Err(LinkError::PublicTokenInvalid);
    }
    let key = PublicToken::key_of(&SecretString::new(raw.to_owned()).sha256_hex());
    let peek = Stored::<PublicToken>::get(ports.store.as_ref(), &key).await?.ok_or(LinkError::PublicTokenInvalid)?;
    let scope = Scope::of_key(caller);
    if peek.record.project_id != caller.project_id || peek.record.environment != caller.environment || !scope.allows(&peek.record.end_user.id) {
        return Err(LinkError::PublicTokenInvalid);
    }
    let taken = ports.store.take(&key).await?.ok_or(LinkError::PublicTokenInvalid)?;
    let public = Stored::<PublicToken>::from_item(taken)?.record;
    let index =
        Stored::<ConnectionIdIndex>::get(ports.store.as_ref(), &Connection::id_key(&public.connection_id)).await?.ok_or(LinkError::ConnectionNotFound)?;
    let access_token = mint_token(ConnectionAccessToken::PREFIX);
    let now = ports.clock.now();
    let record = ConnectionAccessToken {
        hash: access_token.sha256_hex(),
        project_id: public.project_id,
        environment: public.environment,
        connection_id: public.connection_id.clone(),
        connection_sk: index.record.connection_sk,
        created_at: now,
        valid_until: lifetime.map(|secs| now.plus_secs(secs)),
        grant_generation: public.grant_generation,
    };
    let mut item = record.to_item()?;
    if let Some(at) = record.valid_until {
        item = item.expiring_at(at);
    }
    ports.store.put_if_absent(&item).await?;
    Ok(Exchanged { connection_id: public.connection_id, access_token, expires_at: record.valid_until, connector: public.connector, end_user: public.end_user })
}

/// Revokes a connection access token of the caller's project environment (for a key bound to one
/// user, of that user's connections). It stops working at once on this instance, and within the
/// caller cache's bound everywhere else. Unknown or foreign tokens are not an error (RFC 7009), and
/// a foreign one is left alone.
pub async fn revoke_access_token(ports: &Ports, caller: &SecretKeyLookup, raw: &SecretString) -> Result<(), LinkError> {
    if !raw.expose().starts_with(ConnectionAccessToken::PREFIX) || raw.expose().len() > 128 {
        return Ok(());
    }
    let hash = raw.sha256_hex();
    let key = ConnectionAccessToken::key_of(&hash);
    let Some(stored) = Stored::<ConnectionAccessToken>::get(ports.store.as_ref(), &key).await? else { return Ok(()) };
    let token = stored.record;
    if token.project_id != caller.project_id || token.environment != caller.environment {
        return Ok(());
    }
    if caller.user_id.is_some() {
        let connection = super::token::resolve_connection(ports, &token.connection_id).await?;
        if !connection.is_some_and(|c| Scope::of_key(caller).reaches(&c)) {
            return Ok(());
        }
    }
    match ports.store.delete_if(&key, DeleteCondition::Exists).await {
        Ok(()) | Err(crate::store::StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    ports.caches.callers.remove(&hash);
    tracing::info!(connection_id = %token.connection_id, "connection access token revoked");
    Ok(())
}
