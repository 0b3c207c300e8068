//! An item store wrapper that counts calls and the items they read: the warm path's budget (reads
//! per request) in the tests, and the reads of a sweep pass in the tests and the harness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use latchkey::store::{DeleteCondition, DueItem, DueQueue, Item, ItemStore, Key, QueryPage, StoreError};
use latchkey::Timestamp;

/// Counts of store calls by kind.
#[derive(Debug, Default)]
pub struct Counts {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub queries: AtomicU64,
    /// Items the reads returned (a query of a thousand items is one read and a thousand items).
    pub items: AtomicU64,
}

impl Counts {
    /// (reads, writes) so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (self.reads(), self.writes())
    }

    /// Reads (gets, queries and due-index reads) so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// Writes (puts, deletes and takes) so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Queries (partition and due-index reads) so far: every read that could be a reread of a list.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }

    /// Items read so far.
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::SeqCst)
    }

    /// Starts counting again from zero.
    pub fn reset(&self) {
        for counter in [&self.reads, &self.writes, &self.queries, &self.items] {
            counter.store(0, Ordering::SeqCst);
        }
    }
}

/// Forwards to `inner`, counting.
#[derive(Debug)]
pub struct CountingStore {
    pub inner: Arc<dyn ItemStore>,
    pub counts: Arc<Counts>,
}

impl CountingStore {
    fn read(&self, items: usize) {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.counts.items.fetch_add(items as u64, Ordering::SeqCst);
    }
    fn query(&self, items: usize) {
        self.read(items);
        self.counts.queries.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self) {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let found = self.inner.get(key).await;
        self.read(found.as_ref().map_or(0, |f| usize::from(f.is_some())));
        found
    }
    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let found = self.inner.get_eventually(key).await;
        self.read(found.as_ref().map_or(0, |f| usize::from(f.is_some())));
        found
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
        let found = self.inner.query(pk, sk_prefix).await;
        self.query(found.as_ref().map_or(0, Vec::len));
        found
    }
    async fn query_page(&self, pk: &str, sk_prefix: &str, after: Option<&str>, limit: usize) -> Result<QueryPage, StoreError> {
        let found = self.inner.query_page(pk, sk_prefix, after, limit).await;
        self.query(found.as_ref().map_or(0, |page| page.items.len()));
        found
    }
    async fn due(&self, queue: DueQueue, until: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        let found = self.inner.due(queue, until, limit).await;
        self.query(found.as_ref().map_or(0, Vec::len));
        found
    }
}
