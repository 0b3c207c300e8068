//! The deployment's signing keys for session JWTs and authorize links.
//!
//! Each key is 256 random bits sealed under the `deployment` scope and stored under
//! `SIGNING_KEYS` / `KEY#{sequence}`, so a query lists them oldest first; the sequence is claimed
//! with a conditional write, so two rotations cannot both become "newest". Rotation adds a key; it
//! never deletes one a live token may still name.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::keyring::{Binding, Sealed};
use crate::model::{Record, RecordError, Stored};
use crate::secret::{random_bytes, random_id, SecretBytes};
use crate::state::AppState;
use crate::store::{Key, StoreError};

const PARTITION: &str = "SIGNING_KEYS";

/// A stored signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKey {
    /// Its id, named in each token's header.
    pub kid: String,
    /// The key, sealed.
    pub secret: Sealed,
    /// Its place in the rotation order; the highest signs.
    pub sequence: u64,
    /// When it was made.
    pub created_at: Timestamp,
}

impl SigningKey {
    fn key_of(sequence: u64) -> Key {
        Key::new(PARTITION, format!("KEY#{sequence:010}"))
    }

    fn binding(sequence: u64) -> Binding {
        Binding::new("deployment", &Self::key_of(sequence), "secret")
    }
}

impl Record for SigningKey {
    fn key(&self) -> Key {
        Self::key_of(self.sequence)
    }
}

/// An opened key.
#[derive(Debug, Clone)]
pub struct OpenKey {
    /// Its id.
    pub kid: String,
    /// The secret.
    pub secret: Arc<SecretBytes>,
}

/// Every key, opened (cached per instance for a minute).
async fn all(state: &AppState) -> Result<Vec<OpenKey>, RecordError> {
    if let Some(keys) = state.caches.signing_keys.get(&()) {
        return Ok(keys);
    }
    let mut keys = Vec::new();
    for stored in Stored::<SigningKey>::query(state.store.as_ref(), PARTITION, "KEY#").await? {
        let key = stored.record;
        let secret = state.keyring.open(&SigningKey::binding(key.sequence), &key.secret).await?;
        keys.push(OpenKey { kid: key.kid, secret: Arc::new(secret) });
    }
    state.caches.signing_keys.insert((), keys.clone());
    Ok(keys)
}

/// The key new tokens are signed with; the first one is made on first use.
pub async fn current(state: &AppState) -> Result<OpenKey, RecordError> {
    if let Some(key) = all(state).await?.pop() {
        return Ok(key);
    }
    rotate(state).await?;
    all(state).await?.pop().ok_or_else(|| RecordError::Corrupt("no signing key after creating one".into()))
}

/// The key named `kid`, if it exists.
pub async fn find(state: &AppState, kid: &str) -> Result<Option<OpenKey>, RecordError> {
    let found = all(state).await?.into_iter().find(|k| k.kid == kid);
    if found.is_none() {
        // Another instance may have rotated since this one cached the list.
        state.caches.signing_keys.remove(&());
        return Ok(all(state).await?.into_iter().find(|k| k.kid == kid));
    }
    Ok(found)
}

/// Adds a new signing key; returns its id. Tokens signed with older keys keep verifying.
pub async fn rotate(state: &AppState) -> Result<String, RecordError> {
    for _ in 0..5 {
        let existing = Stored::<SigningKey>::query(state.store.as_ref(), PARTITION, "KEY#").await?;
        let sequence = existing.last().map_or(1, |k| k.record.sequence + 1);
        let kid = random_id("sk");
        let secret = zeroize::Zeroizing::new(random_bytes(32));
        let sealed = state.keyring.seal(&SigningKey::binding(sequence), &secret).await?;
        let record = SigningKey { kid: kid.clone(), secret: sealed, sequence, created_at: state.clock.now() };
        match state.store.put_if_absent(&record.to_item()?).await {
            Ok(()) => {
                state.caches.signing_keys.remove(&());
                return Ok(kid);
            }
            // Another rotation took this sequence number: take the next one.
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RecordError::Corrupt("could not claim a signing-key sequence number".into()))
}
