//! Per-instance caches with a time to live: callers by credential hash, connectors by uid.
//!
//! They keep the warm token path at one store read. The price is staleness bounded by the TTL: a
//! revoked secret key or a changed connector takes effect within a minute on every instance.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::caller::Caller;
use crate::model::{Connector, ConnectorUid};

/// A bounded map whose entries expire.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// A cache whose entries live `ttl`, holding at most `max_entries`.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    /// The live value for `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    /// Remembers `value`; when full, drops expired entries first, then everything (a simple bound
    /// that never grows past `max_entries`).
    pub fn insert(&self, key: K, value: V) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.max_entries {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

/// The caches of one instance.
#[derive(Debug)]
pub struct Caches {
    /// Authenticated callers by the SHA-256 of their credential.
    pub callers: TtlCache<String, Caller>,
    /// Connectors by uid.
    pub connectors: TtlCache<ConnectorUid, Connector>,
    /// Trusted issuers' key sets.
    pub jwks: super::oidc::JwksCache,
    /// The deployment's signing keys, opened.
    pub signing_keys: TtlCache<(), Vec<crate::session::keys::OpenKey>>,
    /// The projects trusting an issuer (by the issuer's hash), with their trust settings.
    pub trusts: TtlCache<String, Vec<(crate::model::TrustedIssuer, crate::model::Project)>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            callers: TtlCache::new(Duration::from_secs(60), 10_000),
            connectors: TtlCache::new(Duration::from_secs(30), 1_000),
            jwks: Default::default(),
            trusts: TtlCache::new(Duration::from_secs(60), 1_000),
            signing_keys: TtlCache::new(Duration::from_secs(60), 1),
        }
    }
}
