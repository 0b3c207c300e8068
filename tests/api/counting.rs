//! An item store wrapper that counts calls, for the warm-path budget (reads per request).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use latchkey::store::{DeleteCondition, Item, ItemStore, Key, StoreError};

/// Counts of store calls by kind.
#[derive(Debug, Default)]
pub struct Counts {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub queries: AtomicU64,
}

impl Counts {
    /// (reads, writes) so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (self.reads(), self.writes())
    }

    /// Reads (gets and queries) so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// Writes (puts, deletes and takes) so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Queries (partition reads) so far, and gets: every read that could be a reread of a list.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }
}

/// Forwards to `inner`, counting.
#[derive(Debug)]
pub struct CountingStore {
    pub inner: Arc<dyn ItemStore>,
    pub counts: Arc<Counts>,
}

impl CountingStore {
    fn read(&self) {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self) {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read();
        self.inner.get(key).await
    }
    async fn put_if_absent(&self, item: &Item) -> Result<(), StoreError> {
        self.write();
        self.inner.put_if_absent(item).await
    }
    async fn put_if_version(&self, item: &Item) -> Result<u64, StoreError> {
        self.write();
        self.inner.put_if_version(item).await
    }
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.write();
        self.inner.put(item).await
    }
    async fn delete_if(&self, key: &Key, condition: DeleteCondition) -> Result<(), StoreError> {
        self.write();
        self.inner.delete_if(key, condition).await
    }
    async fn take(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.write();
        self.inner.take(key).await
    }
    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.read();
        self.counts.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(pk, sk_prefix).await
    }
}
