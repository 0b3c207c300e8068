//! Per-instance caches that keep the warm token path at one store read: callers by credential
//! hash, connectors by uid, the projects trusting an OIDC issuer, the issuers' key sets, and the
//! deployment's signing keys.
//!
//! Whatever an operator can take away (a secret key, a connection token, a connector's project
//! link, a trusted issuer) is cached for at most [`REVOCABLE_TTL_SECS`], so a change made on one
//! instance takes effect on every other within that bound; the instance that makes a change
//! forgets its own copy at once. Entries age by the clock port, so tests move time instead of
//! waiting. A full cache evicts its oldest entry, never everything: a flood of made-up credentials
//! or issuers cannot flush what other requests rely on.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use jsonwebtoken::jwk::JwkSet;

use crate::clock::Timestamp;
use crate::model::{Caller, Connector, ConnectorUid, Project, TrustedIssuer};
use crate::secret::SecretBytes;

/// How long anything an operator can revoke is trusted from the cache. The stated bound for
/// operator changes to reach every instance is 5 seconds; an entry is used for at most 4 of them.
pub const REVOCABLE_TTL_SECS: i64 = 4;

/// A bounded map whose entries expire.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl_secs: i64,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Timestamp, V)>>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// A cache whose entries live `ttl_secs`, holding at most `max_entries`.
    pub fn new(ttl_secs: i64, max_entries: usize) -> Self {
        Self { ttl_secs, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    /// The live value for `key` at `now`.
    pub fn get(&self, key: &K, now: Timestamp) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(at, _)| now.0 - at.0 < self.ttl_secs).map(|(_, v)| v.clone())
    }

    /// Remembers `value` as of `now`. When full, expired entries go first, then the oldest one.
    pub fn insert(&self, key: K, value: V, now: Timestamp) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if self.max_entries == 0 {
            return;
        }
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            let ttl = self.ttl_secs;
            entries.retain(|_, (at, _)| now.0 - at.0 < ttl);
            if entries.len() >= self.max_entries {
                if let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (now, value));
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    /// Forgets every entry whose value `matches`.
    pub fn remove_where(&self, matches: impl Fn(&V) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (_, value)| !matches(value));
        }
    }

    /// How many entries it holds, live or not.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The caches of one instance.
#[derive(Debug)]
pub struct Caches {
    /// Authenticated callers by the SHA-256 of their credential.
    pub callers: TtlCache<String, Caller>,
    /// Connectors by uid, shared: a connector is large, and a warm token only reads it.
    pub connectors: TtlCache<ConnectorUid, std::sync::Arc<Connector>>,
    /// Trusted issuers' key sets.
    pub jwks: JwksCache,
    /// The deployment's signing keys, opened.
    pub signing_keys: TtlCache<(), Vec<OpenKey>>,
    /// The projects trusting an issuer (by the issuer's hash), with their trust settings.
    pub trusts: TtlCache<String, Vec<(TrustedIssuer, Project)>>,
    /// Issuers (by hash) no project trusts, kept apart so they cannot crowd out trusted ones.
    pub untrusted: TtlCache<String, ()>,
    /// When an unknown signing key id last caused a reread of the keys.
    pub signing_keys_reread: RateGate,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            callers: TtlCache::new(REVOCABLE_TTL_SECS, 10_000),
            connectors: TtlCache::new(REVOCABLE_TTL_SECS, 1_000),
            jwks: JwksCache::default(),
            trusts: TtlCache::new(REVOCABLE_TTL_SECS, 1_000),
            untrusted: TtlCache::new(REVOCABLE_TTL_SECS, 10_000),
            signing_keys_reread: RateGate::default(),
            // Signing keys are only ever added, and an unknown kid triggers a reread (at most one a
            // minute), so they keep a minute.
            signing_keys: TtlCache::new(60, 1),
        }
    }
}

/// Lets something happen at most once per interval (a reread that requests could otherwise set off
/// on every call).
#[derive(Debug, Default)]
pub struct RateGate {
    last: std::sync::atomic::AtomicI64,
}

impl RateGate {
    /// Whether it may happen at `now`, at most once per `every_secs`; if so, it counts as happened.
    pub fn allow(&self, now: Timestamp, every_secs: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now.0 - last < every_secs {
            return false;
        }
        self.last.compare_exchange(last, now.0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// JWKS documents by URL, with when they were fetched.
#[derive(Debug, Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, (Timestamp, JwkSet)>>,
}

impl JwksCache {
    /// The set fetched from `url`, with when.
    pub fn get(&self, url: &str) -> Option<(Timestamp, JwkSet)> {
        self.sets.lock().ok()?.get(url).cloned()
    }

    /// Remembers the set fetched from `url` at `at`.
    pub fn put(&self, url: &str, at: Timestamp, set: JwkSet) {
        if let Ok(mut sets) = self.sets.lock() {
            sets.insert(url.to_owned(), (at, set));
        }
    }
}

/// An opened signing key of the deployment (sessions, authorize links).
#[derive(Debug, Clone)]
pub struct OpenKey {
    /// Its id.
    pub kid: String,
    /// The secret.
    pub secret: std::sync::Arc<SecretBytes>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_by_the_clock_and_a_full_cache_evicts_only_the_oldest() {
        let cache: TtlCache<u32, u32> = TtlCache::new(4, 3);
        cache.insert(1, 10, Timestamp(100));
        assert_eq!(cache.get(&1, Timestamp(103)), Some(10));
        assert_eq!(cache.get(&1, Timestamp(104)), None);
        cache.insert(2, 20, Timestamp(101));
        cache.insert(3, 30, Timestamp(102));
        cache.insert(4, 40, Timestamp(102));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&1, Timestamp(102)), None, "the oldest went");
        assert_eq!((cache.get(&2, Timestamp(102)), cache.get(&3, Timestamp(102))), (Some(20), Some(30)));
    }
}
