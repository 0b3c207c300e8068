//! Reading and writing typed records (`crate::model::Record`) through the item store.

use crate::keyring::KeyringError;
use crate::model::{CorruptRecord, Key, Record, Stored};

use super::{ItemStore, StoreError};

/// Failures of reading or writing records.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The store failed, or a condition did not hold.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening a secret field failed.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// A stored record could not be decoded.
    #[error("stored record is malformed: {0}")]
    Corrupt(String),
}

impl From<CorruptRecord> for RecordError {
    fn from(error: CorruptRecord) -> Self {
        RecordError::Corrupt(error.0)
    }
}

impl<R: Record> Stored<R> {
    /// Reads the record at `key`.
    pub async fn get(store: &dyn ItemStore, key: &Key) -> Result<Option<Self>, RecordError> {
        store.get(key).await?.map(Self::from_item).transpose().map_err(Into::into)
    }

    /// Reads the record at `key`, possibly a moment stale (see [`ItemStore::get_eventually`]).
    pub async fn get_eventually(store: &dyn ItemStore, key: &Key) -> Result<Option<Self>, RecordError> {
        store.get_eventually(key).await?.map(Self::from_item).transpose().map_err(Into::into)
    }

    /// Reads every record in a partition under a sort-key prefix.
    pub async fn query(store: &dyn ItemStore, pk: &str, sk_prefix: &str) -> Result<Vec<Self>, RecordError> {
        store.query(pk, sk_prefix).await?.into_iter().map(|item| Self::from_item(item).map_err(Into::into)).collect()
    }

    /// At most `limit` records of a partition under a sort-key prefix after `after`, and the sort
    /// key the next page starts after, if one follows.
    pub async fn query_page(
        store: &dyn ItemStore,
        pk: &str,
        sk_prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Self>, Option<String>), RecordError> {
        let page = store.query_page(pk, sk_prefix, after, limit).await?;
        let records = page.items.into_iter().map(|item| Self::from_item(item).map_err(Into::into)).collect::<Result<_, RecordError>>()?;
        Ok((records, page.next))
    }

    /// Writes the record back if nobody changed it since it was read; updates the version.
    pub async fn save(&mut self, store: &dyn ItemStore) -> Result<(), RecordError> {
        let mut item = self.record.to_item()?;
        item.version = self.version;
        self.version = store.put_if_version(&item).await?;
        Ok(())
    }
}
