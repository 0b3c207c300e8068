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
use crate::model::{Record, Stored};
use crate::ports::Ports;
use crate::secret::{random_bytes, random_id};
use crate::store::RecordError;
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

pub use crate::cache::OpenKey;

/// Every key, opened (cached per instance for a minute).
async fn all(ports: &Ports) -> Result<Vec<OpenKey>, RecordError> {
    if let Some(keys) = ports.caches.signing_keys.get(&(), ports.clock.now()) {
        return Ok(keys);
    }
    let mut keys = Vec::new();
    for stored in Stored::<SigningKey>::query(ports.store.as_ref(), PARTITION, "KEY#").await? {
        let key = stored.record;
        let secret = ports.keyring.open(&SigningKey::binding(key.sequence), &key.secret).await?;
        keys.push(OpenKey { kid: key.kid, secret: Arc::new(secret) });
    }
    ports.caches.signing_keys.insert((), keys.clone(), ports.clock.now());
    Ok(keys)
}

/// The key new tokens are signed with; the first one is made on first use.
pub async fn current(ports: &Ports) -> Result<OpenKey, RecordError> {
    if let Some(key) = all(ports).await?.pop() {
        return Ok(key);
    }
    rotate(ports).await?;
    all(ports).await?.pop().ok_or_else(|| RecordError::Corrupt("no signing key after creating one".into()))
}

/// The key named `kid`, if it exists.
pub async fn find(ports: &Ports, kid: &str) -> Result<Option<OpenKey>, RecordError> {
    let found = all(ports).await?.into_iter().find(|k| k.kid == kid);
    // Another instance may have rotated since this one cached the list: read it again, but at most
    // once every few seconds, so a token with a made-up kid cannot make every request reread.
    if found.is_none() && ports.caches.signing_keys_reread.allow(ports.clock.now(), REREAD_SECS) {
        ports.caches.signing_keys.remove(&());
        return Ok(all(ports).await?.into_iter().find(|k| k.kid == kid));
    }
    Ok(found)
}

/// At most one reread of the keys per this many seconds for unknown kids.
const REREAD_SECS: i64 = 5;

/// Adds a new signing key; returns its id. Tokens signed with older keys keep verifying.
pub async fn rotate(ports: &Ports) -> Result<String, RecordError> {
    for _ in 0..5 {
        let existing = Stored::<SigningKey>::query(ports.store.as_ref(), PARTITION, "KEY#").await?;
        let sequence = existing.last().map_or(1, |k| k.record.sequence + 1);
        let kid = random_id("sk");
        let secret = zeroize::Zeroizing::new(random_bytes(32));
        let sealed = ports.keyring.seal(&SigningKey::binding(sequence), &secret).await?;
        let record = SigningKey { kid: kid.clone(), secret: sealed, sequence, created_at: ports.clock.now() };
        match ports.store.put_if_absent(&record.to_item()?).await {
            Ok(()) => {
                ports.caches.signing_keys.remove(&());
                return Ok(kid);
            }
            // Another rotation took this sequence number: take the next one.
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RecordError::Corrupt("could not claim a signing-key sequence number".into()))
}
