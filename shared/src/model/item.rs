//! Items and their keys: the shape every record takes in the one table, and the shape the item
//! store port reads and writes.

use serde_json::{Map, Value};

use crate::clock::Timestamp;

/// The attribute names the store itself owns; record attributes must not use them.
pub const RESERVED_ATTRIBUTES: [&str; 4] = ["pk", "sk", "version", "expires_at"];

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
}

impl Item {
    /// A new item at version 1.
    pub fn new(key: Key, attrs: Map<String, Value>) -> Self {
        Self { key, version: 1, expires_at: None, attrs }
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
