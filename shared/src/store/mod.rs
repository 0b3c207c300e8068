//! The item store port: a DynamoDB-shaped key-value store with conditional writes.
//!
//! Every record Latchkey keeps lives in one table of [`Item`]s addressed by a partition key and a
//! sort key. The port offers exactly the operations the flows need and that DynamoDB can do in one
//! round trip each, so the embedded adapter cannot promise anything the AWS one cannot keep:
//!
//! - `get`, `query` (partition key and sort-key prefix), `query_page` (the same, a page at a time);
//! - `put_if_absent` (create), `put_if_version` (optimistic lock), `put` (overwrite);
//! - `delete_if` and `take`, which reads and deletes in one atomic step so that one-time tokens are
//!   consumed exactly once however many callers race for them;
//! - `due`: the keys of items whose background work is due, soonest first, read from an index
//!   ordered by due time (a sparse global secondary index on DynamoDB, a partial index on SQLite),
//!   so finding work reads only what is due.
//!
//! Expiry is part of the port: an item whose `expires_at` has passed is treated as absent by every
//! read and every condition, because DynamoDB's TTL deletion can lag by up to two days.

mod cursor;
mod dynamo;
mod records;
mod sqlite;

pub use cursor::{BadCursor, Cursor};
pub use dynamo::DynamoStore;
pub use records::RecordError;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::clock::Timestamp;
pub use crate::model::{Due, DueItem, DueQueue, Item, Key, RESERVED_ATTRIBUTES};

/// What must hold for `delete_if` to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteCondition {
    /// The item exists and has not expired.
    Exists,
    /// The item exists at exactly this version.
    Version(u64),
}

/// One page of a partition, in sort-key order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryPage {
    /// The live items of the page (expired ones are left out, so a page may hold fewer than asked).
    pub items: Vec<Item>,
    /// The sort key to pass as `after` for the next page; `None` when nothing follows.
    pub next: Option<String>,
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

    /// The live item at `key`, if any, possibly as it was up to about a second ago (DynamoDB's
    /// eventually consistent read, at half a strong read's cost). Only for reads a staleness cannot
    /// harm: the warm token read, whose every change goes through a conditional write on the
    /// item's version (a stale version fails it, and the writer rereads strongly). Adapters without
    /// such reads answer as `get` does.
    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get(key).await
    }

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

    /// At most `limit` (at least 1) items of partition `pk` whose sort key starts with `sk_prefix`
    /// and comes after `after` (which must itself start with `sk_prefix`), in sort-key order.
    async fn query_page(&self, pk: &str, sk_prefix: &str, after: Option<&str>, limit: usize) -> Result<QueryPage, StoreError>;

    /// The keys of at most `limit` live items of `queue` due at or before `until`, soonest first.
    /// Read from the due index, which may lag a write by a moment on DynamoDB: whoever acts on a
    /// key reads the item again and checks it is still due.
    async fn due(&self, queue: DueQueue, until: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError>;
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
