//! The item store port: a DynamoDB-shaped key-value store with conditional writes.
//!
//! Every record Latchkey keeps lives in one table of [`Item`]s addressed by a partition key and a
//! sort key. The port offers exactly the operations the flows need and that DynamoDB can do in one
//! round trip each, so the embedded adapter cannot promise anything the AWS one cannot keep:
//!
//! - `get`, `query` (partition key and sort-key prefix);
//! - `put_if_absent` (create), `put_if_version` (optimistic lock), `put` (overwrite);
//! - `delete_if` and `take`, which reads and deletes in one atomic step so that one-time tokens are
//!   consumed exactly once however many callers race for them.
//!
//! Expiry is part of the port: an item whose `expires_at` has passed is treated as absent by every
//! read and every condition, because DynamoDB's TTL deletion can lag by up to two days.

mod dynamo;
mod records;
mod sqlite;

pub use dynamo::DynamoStore;
pub use records::RecordError;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use crate::model::{Item, Key, RESERVED_ATTRIBUTES};

/// What must hold for `delete_if` to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteCondition {
    /// The item exists and has not expired.
    Exists,
    /// The item exists at exactly this version.
    Version(u64),
}

/// The item store's failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write or delete found the item in another state than it required.
    #[error("the item was not in the state the write required")]
    ConditionFailed,
    /// The item is larger than the store accepts (DynamoDB's 400 KB): the caller's input is too big.
    #[error("{0} is too large to store")]
    TooLarge(String),
    /// The backing store could not be reached or refused the call.
    #[error("item store unavailable: {0}")]
    Unavailable(String),
    /// An item could not be encoded or decoded.
    #[error("item could not be encoded or decoded: {0}")]
    Codec(String),
}

/// The item store port. See the module documentation for the semantics every adapter keeps.
#[async_trait]
pub trait ItemStore: Send + Sync + std::fmt::Debug {
    /// The live item at `key`, if any.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Writes `item` at version 1 unless a live item is already there
    /// (`StoreError::ConditionFailed`). An expired item still awaiting TTL counts as absent.
    async fn put_if_absent(&self, item: &Item) -> Result<(), StoreError>;

    /// Writes `item` at version `item.version + 1` if the live item there is at `item.version`;
    /// returns the new version. Otherwise `StoreError::ConditionFailed` and nothing changes.
    async fn put_if_version(&self, item: &Item) -> Result<u64, StoreError>;

    /// Writes `item` as it is, whatever was there before.
    async fn put(&self, item: &Item) -> Result<(), StoreError>;

    /// Deletes the item at `key` if `condition` holds; otherwise `StoreError::ConditionFailed`.
    async fn delete_if(&self, key: &Key, condition: DeleteCondition) -> Result<(), StoreError>;

    /// Reads and deletes the live item at `key` in one atomic step. Of any number of concurrent
    /// callers, exactly one gets `Some`.
    async fn take(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Every live item in partition `pk` whose sort key starts with `sk_prefix`, in sort-key order.
    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError>;
}

/// The largest item either adapter stores: DynamoDB's limit, which the embedded store keeps too so
/// that nothing works locally that would fail on AWS.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Rejects record attributes that would overwrite the store's own.
fn check_attrs(attrs: &Map<String, Value>) -> Result<(), StoreError> {
    match RESERVED_ATTRIBUTES.iter().find(|name| attrs.contains_key(**name)) {
        Some(name) => Err(StoreError::Codec(format!("attribute `{name}` is reserved by the store"))),
        None => Ok(()),
    }
}
