//! Typed records over the item store: serde turns a record into an item's attributes and back.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::keyring::KeyringError;
use crate::store::{Item, ItemStore, Key, StoreError};

/// A record of the single table: it knows its own key.
pub trait Record: Serialize + DeserializeOwned {
    /// Where this record lives.
    fn key(&self) -> Key;

    /// The record as a version-1 item.
    fn to_item(&self) -> Result<Item, RecordError> {
        match serde_json::to_value(self).map_err(|e| RecordError::Corrupt(e.to_string()))? {
            Value::Object(attrs) => Ok(Item::new(self.key(), attrs)),
            _ => Err(RecordError::Corrupt("a record must serialize to an object".into())),
        }
    }
}

/// A record as read, with the version its next conditional write must name.
#[derive(Debug, Clone)]
pub struct Stored<R> {
    /// The record.
    pub record: R,
    /// Its item's version.
    pub version: u64,
}

impl<R: Record> Stored<R> {
    /// Decodes an item.
    pub fn from_item(item: Item) -> Result<Self, RecordError> {
        let record = serde_json::from_value(Value::Object(item.attrs)).map_err(|e| RecordError::Corrupt(e.to_string()))?;
        Ok(Self { record, version: item.version })
    }

    /// Reads the record at `key`.
    pub async fn get(store: &dyn ItemStore, key: &Key) -> Result<Option<Self>, RecordError> {
        store.get(key).await?.map(Self::from_item).transpose()
    }

    /// Reads every record in a partition under a sort-key prefix.
    pub async fn query(store: &dyn ItemStore, pk: &str, sk_prefix: &str) -> Result<Vec<Self>, RecordError> {
        store.query(pk, sk_prefix).await?.into_iter().map(Self::from_item).collect()
    }

    /// Writes the record back if nobody changed it since it was read; returns the new version.
    pub async fn save(&mut self, store: &dyn ItemStore) -> Result<(), RecordError> {
        let mut item = self.record.to_item()?;
        item.version = self.version;
        self.version = store.put_if_version(&item).await?;
        Ok(())
    }
}

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
