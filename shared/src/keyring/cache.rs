//! The in-memory cache of unwrapped data keys.
//!
//! Without it every seal would cost a `GenerateDataKey` and every open a `Decrypt`: a round trip
//! to KMS and a charge per call on the token hot path. Entries are bounded by age and by number of
//! uses (the AWS Encryption SDK's caching policy), and the cache by entry count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::DataKey;

/// Limits on how long and how often a cached data key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// A data key older than this is not used again from the cache.
    pub max_age: Duration,
    /// A data key used this many times is not used again from the cache.
    pub max_uses: u64,
    /// At most this many data keys are kept; the oldest goes first.
    pub max_entries: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), max_uses: 10_000, max_entries: 1_000 }
    }
}

#[derive(Debug)]
struct Entry {
    key: DataKey,
    wrapped: Vec<u8>,
    created: Instant,
    uses: u64,
}

#[derive(Debug, Default)]
struct Entries {
    /// Per scope, the data key new seals use.
    sealing: HashMap<String, Entry>,
    /// Per (scope, wrapped key), the unwrapped key.
    opening: HashMap<(String, Vec<u8>), Entry>,
}

#[derive(Debug)]
pub(super) struct DataKeyCache {
    policy: CachePolicy,
    entries: Mutex<Entries>,
}

impl DataKeyCache {
    pub(super) fn new(policy: CachePolicy) -> Self {
        Self { policy, entries: Mutex::new(Entries::default()) }
    }

    pub(super) fn sealing_key(&self, scope: &str) -> Option<(DataKey, Vec<u8>)> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.sealing.get_mut(scope)?;
        self.spend(entry).then(|| (entry.key.clone(), entry.wrapped.clone()))
    }

    pub(super) fn insert_sealing_key(&self, scope: &str, key: DataKey, wrapped: Vec<u8>) {
        let Ok(mut entries) = self.entries.lock() else { return };
        // A key this process wrapped also opens what it sealed, without a Decrypt.
        let opening = Entry { key: key.clone(), wrapped: wrapped.clone(), created: Instant::now(), uses: 0 };
        Self::bounded_insert(&mut entries.opening, (scope.to_owned(), wrapped.clone()), opening, self.policy.max_entries);
        let sealing = Entry { key, wrapped, created: Instant::now(), uses: 1 };
        Self::bounded_insert(&mut entries.sealing, scope.to_owned(), sealing, self.policy.max_entries);
    }

    pub(super) fn opening_key(&self, scope: &str, wrapped: &[u8]) -> Option<DataKey> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.opening.get_mut(&(scope.to_owned(), wrapped.to_vec()))?;
        self.spend(entry).then(|| entry.key.clone())
    }

    pub(super) fn insert_opening_key(&self, scope: &str, wrapped: &[u8], key: DataKey) {
        let Ok(mut entries) = self.entries.lock() else { return };
        let entry = Entry { key, wrapped: wrapped.to_vec(), created: Instant::now(), uses: 1 };
        Self::bounded_insert(&mut entries.opening, (scope.to_owned(), wrapped.to_vec()), entry, self.policy.max_entries);
    }

    /// Counts one use of `entry`; false if the policy no longer allows using it.
    fn spend(&self, entry: &mut Entry) -> bool {
        if entry.created.elapsed() >= self.policy.max_age || entry.uses >= self.policy.max_uses {
            return false;
        }
        entry.uses += 1;
        true
    }

    fn bounded_insert<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Entry>, key: K, entry: Entry, max: usize) {
        if max == 0 {
            return;
        }
        if map.len() >= max && !map.contains_key(&key) {
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(key, entry);
    }
}
