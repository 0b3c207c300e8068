//! Typed records: serde turns a record into an item's attributes and back. Reading and writing
//! them is the item store's work (`crate::store`); a record only knows its key and its shape.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{Due, Item, Key};

/// A stored record could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored record is malformed: {0}")]
pub struct CorruptRecord(pub String);

/// A record of the single table: it knows its own key.
pub trait Record: Serialize + DeserializeOwned {
    /// Where this record lives.
    fn key(&self) -> Key;

    /// When the record's next background action is due, derived from its own fields; none for
    /// records that have no background work.
    fn due(&self) -> Option<Due> {
        None
    }

    /// The record as a version-1 item, with its due time: every write goes through here, so the
    /// store's due index follows every change of the fields it is derived from.
    fn to_item(&self) -> Result<Item, CorruptRecord> {
        match serde_json::to_value(self).map_err(|e| CorruptRecord(e.to_string()))? {
            Value::Object(attrs) => Ok(Item { due: self.due(), ..Item::new(self.key(), attrs) }),
            _ => Err(CorruptRecord("a record must serialize to an object".into())),
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
    pub fn from_item(item: Item) -> Result<Self, CorruptRecord> {
        let record = serde_json::from_value(Value::Object(item.attrs)).map_err(|e| CorruptRecord(e.to_string()))?;
        Ok(Self { record, version: item.version })
    }
}
