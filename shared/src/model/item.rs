//! Items and their keys: the shape every record takes in the one table, and the shape the item
//! store port reads and writes.

use serde_json::{Map, Value};

use crate::clock::Timestamp;

/// The attribute names the store itself owns; record attributes must not use them.
pub const RESERVED_ATTRIBUTES: [&str; 6] = ["pk", "sk", "version", "expires_at", "due_pk", "due_at"];

/// The queues of background work the store indexes by due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DueQueue {
    /// Connections the sweep refreshes (ahead of expiry, or to keep an idle refresh token alive).
    Refresh,
    /// Webhook deliveries waiting for their next attempt.
    Webhook,
}

impl DueQueue {
    /// Every queue.
    pub const ALL: [DueQueue; 2] = [DueQueue::Refresh, DueQueue::Webhook];

    /// The name the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            DueQueue::Refresh => "REFRESH",
            DueQueue::Webhook => "WEBHOOK",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == raw)
    }
}

/// When an item's next background action is due, and in which queue. The store indexes it, so
/// the work is found without reading what is not due; an item without one is in no index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The queue.
    pub queue: DueQueue,
    /// Due at or after this instant.
    pub at: Timestamp,
}

/// An item found due: its key and when it fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    /// Where the item lives.
    pub key: Key,
    /// When it fell due.
    pub at: Timestamp,
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    /// A hash of the key that is the same in every process and version (FNV-1a), for spreading
    /// keys over shards and lanes.
    pub fn stable_hash(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.pk.bytes().chain([0]).chain(self.sk.bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

/// One stored item: its key, its version (for optimistic locking), an optional expiry and the
/// record's own attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Where the item lives.
    pub key: Key,
    /// Starts at 1 and grows by one on every `put_if_version`.
    pub version: u64,
    /// After this instant the item is gone for every read, whether or not TTL has deleted it.
    pub expires_at: Option<Timestamp>,
    /// The record's attributes (never one of [`RESERVED_ATTRIBUTES`]).
    pub attrs: Map<String, Value>,
    /// When its next background action is due (what the store's due index orders by).
    pub due: Option<Due>,
}

impl Item {
    /// A new item at version 1.
    pub fn new(key: Key, attrs: Map<String, Value>) -> Self {
        Self { key, version: 1, expires_at: None, attrs, due: None }
    }

    /// The same item with an expiry.
    pub fn expiring_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Whether the item is expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}
