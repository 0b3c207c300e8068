//! Who is asking: a bearer credential authenticated into a [`Caller`], the binding it acts within.
//!
//! Secret keys and connection access tokens are found by the SHA-256 of what is presented (one
//! read), and cached per instance for [`crate::cache::CALLER_TTL`]; OIDC tokens are verified
//! every time, since they carry their own expiry.

use super::{oidc, TokenError};
use crate::model::secret_key::LookupRecord;
pub use crate::model::Caller;
use crate::model::{ConnectionAccessToken, SecretKey, SecretKeyLookup, Stored, SECRET_KEY_PREFIX};
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::{ItemStore, RecordError};

/// Authenticates a bearer credential.
pub async fn authenticate(ports: &Ports, presented: Option<SecretString>) -> Result<Caller, TokenError> {
    let presented = presented.ok_or(TokenError::Unauthenticated)?;
    let hash = presented.sha256_hex();
    if let Some(caller) = ports.caches.callers.get(&hash, ports.clock.now()) {
        return Ok(caller);
    }
    let raw = presented.expose();
    let caller = if raw.starts_with(SECRET_KEY_PREFIX) {
        secret_key_owner(ports.store.as_ref(), &presented).await?.map(Caller::SecretKey)
    } else if raw.starts_with(ConnectionAccessToken::PREFIX) && raw.len() <= 128 {
        let token = Stored::<ConnectionAccessToken>::get(ports.store.as_ref(), &ConnectionAccessToken::key_of(&hash)).await?;
        token.map(|s| s.record).filter(|t| t.is_live(ports.clock.now())).map(Caller::Connection)
    } else if raw.matches('.').count() == 2 {
        // OIDC tokens expire; they are verified every time rather than cached past their `exp`.
        return oidc::verify(ports, raw).await;
    } else {
        None
    };
    let caller = caller.ok_or(TokenError::Unauthenticated)?;
    ports.caches.callers.insert(hash, caller.clone(), ports.clock.now());
    Ok(caller)
}

/// Finds who a presented secret key belongs to: one read. `None` for unknown or revoked keys and
/// for anything that is not shaped like a key (no store read is spent on those).
pub async fn secret_key_owner(store: &dyn ItemStore, presented: &SecretString) -> Result<Option<SecretKeyLookup>, RecordError> {
    if !presented.expose().starts_with(SECRET_KEY_PREFIX) || presented.expose().len() > 128 {
        return Ok(None);
    }
    let key = SecretKey::lookup_key(&presented.sha256_hex());
    Ok(Stored::<LookupRecord>::get(store, &key).await?.map(|stored| stored.record.lookup))
}
