//! Exchanging a public token for a connection access token.

use super::LinkError;
use crate::model::link::mint_token;
use crate::model::{Connection, ConnectionAccessToken, ConnectionIdIndex, EndUser, PublicToken, Record, SecretKeyLookup, Stored};
use crate::secret::SecretString;
use crate::state::AppState;

/// What an exchange returns: the access token is shown this once.
#[derive(Debug)]
pub struct Exchanged {
    /// The connection.
    pub connection_id: String,
    /// The connection access token.
    pub access_token: SecretString,
    /// Its connector.
    pub connector: String,
    /// The end user.
    pub end_user: EndUser,
}

/// Consumes `raw` exactly once and mints an access token for its connection. A token of another
/// project or environment is refused without being consumed, so it still works for its owner.
pub async fn exchange_public_token(state: &AppState, caller: &SecretKeyLookup, raw: &str) -> Result<Exchanged, LinkError> {
    if !raw.starts_with(PublicToken::PREFIX) || raw.len() > 128 {
        return Err(LinkError::PublicTokenInvalid);
    }
    let key = PublicToken::key_of(&SecretString::new(raw.to_owned()).sha256_hex());
    let peek = Stored::<PublicToken>::get(state.store.as_ref(), &key).await?.ok_or(LinkError::PublicTokenInvalid)?;
    if peek.record.project_id != caller.project_id || peek.record.environment != caller.environment {
        return Err(LinkError::PublicTokenInvalid);
    }
    let taken = state.store.take(&key).await?.ok_or(LinkError::PublicTokenInvalid)?;
    let public = Stored::<PublicToken>::from_item(taken)?.record;
    let index =
        Stored::<ConnectionIdIndex>::get(state.store.as_ref(), &Connection::id_key(&public.connection_id)).await?.ok_or(LinkError::ConnectionNotFound)?;
    let access_token = mint_token(ConnectionAccessToken::PREFIX);
    let record = ConnectionAccessToken {
        hash: access_token.sha256_hex(),
        project_id: public.project_id,
        environment: public.environment,
        connection_id: public.connection_id.clone(),
        connection_sk: index.record.connection_sk,
        created_at: state.clock.now(),
    };
    state.store.put_if_absent(&record.to_item()?).await?;
    Ok(Exchanged { connection_id: public.connection_id, access_token, connector: public.connector.to_string(), end_user: public.end_user })
}
