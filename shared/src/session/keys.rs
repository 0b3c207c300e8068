//! The deployment's signing keys for session JWTs and authorize links.
//!
//! Each key is 256 random bits sealed under the `deployment` scope and stored under
//! `SIGNING_KEYS` / `KEY#{created_at}#{kid}`, so a query lists them oldest first. Rotation adds a
//! key; it never deletes one a live token may still name.

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
    /// When it was made; the newest signs.
    pub created_at: Timestamp,
}

impl SigningKey {
    fn key_of(created_at: Timestamp, kid: &str) -> Key {
        Key::new(PARTITION, format!("KEY#{:020}#{kid}", created_at.0))
    }

    fn binding(created_at: Timestamp, kid: &str) -> Binding {
        Binding::new("deployment", &Self::key_of(created_at, kid), "secret")
    }
}

impl Record for SigningKey {
    fn key(&self) -> Key {
        Self::key_of(self.created_at, &self.kid)
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
        let secret = state.keyring.open(&SigningKey::binding(key.created_at, &key.kid), &key.secret).await?;
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
    let kid = random_id("sk");
    let created_at = state.clock.now();
    let secret = zeroize::Zeroizing::new(random_bytes(32));
    let sealed = state.keyring.seal(&SigningKey::binding(created_at, &kid), &secret).await?;
    let record = SigningKey { kid: kid.clone(), secret: sealed, created_at };
    match state.store.put_if_absent(&record.to_item()?).await {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    state.caches.signing_keys.remove(&());
    Ok(kid)
}
