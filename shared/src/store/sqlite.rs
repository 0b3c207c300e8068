//! The embedded adapter of the item store: one SQLite file (or memory), for the local server.
//!
//! Each port operation is one SQL statement, so its condition and its write are atomic the same
//! way DynamoDB's are; `take` is `DELETE ... RETURNING`. A file has one writing connection and a
//! few reading ones: writes run on tokio's blocking pool (a write may wait for another process's
//! lock, up to the busy timeout), reads run in place on whichever reader is free (under WAL a read
//! never waits for a writer, a few microseconds of page-cache read cost less than a hand-off to
//! another thread, and one reader per core keeps the runtime's workers from queueing on one lock).
//! Several processes may share one file, which is how the local server and the CLI coexist.
//!
//! The due index is a partial index on `(due_queue, due_at)` holding only rows that have a due
//! time, the embedded twin of the DynamoDB adapter's sparse secondary index.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};

use super::{check_attrs, DeleteCondition, Due, DueItem, DueQueue, Item, ItemStore, Key, QueryPage, StoreError};
use crate::clock::{Clock, Timestamp};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER,
    attrs TEXT NOT NULL,
    due_queue TEXT,
    due_at INTEGER,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
";

/// Files written before the due index get its columns (the index itself is created after).
const DUE_COLUMNS: &str = "ALTER TABLE items ADD COLUMN due_queue TEXT; ALTER TABLE items ADD COLUMN due_at INTEGER;";
const DUE_INDEX: &str = "CREATE INDEX IF NOT EXISTS items_due ON items (due_queue, due_at) WHERE due_queue IS NOT NULL;";

/// How a reading connection reads: through a memory map of up to 256 MiB (address space only).
const READER_PRAGMAS: &str = "PRAGMA mmap_size = 268435456;";

/// The columns every read selects, in the order [`decode`] reads them.
const COLUMNS: &str = "pk, sk, version, expires_at, attrs, due_queue, due_at";

/// The item store on an embedded SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    /// Reads, in place, on the first free one.
    readers: Arc<[Mutex<Connection>]>,
    /// Where the next read starts looking for a free reader.
    next_reader: Arc<AtomicUsize>,
    /// Writes, on the blocking pool (in memory, the only connection: readers go through it too).
    writer: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let writer = Connection::open(path).map_err(sql_error)?;
        writer.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;").map_err(sql_error)?;
        let writer = Self::prepared(writer)?;
        let count = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        let readers = (0..count)
            .map(|_| {
                let reader = Connection::open(path).map_err(sql_error)?;
                reader.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql_error)?;
                // Pages read through a memory map rather than a copy per `pread`: every write (the
                // audit queue's, several a second under load) empties each reader's page cache.
                reader.execute_batch(READER_PRAGMAS).map_err(sql_error)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self { readers: readers.into(), next_reader: Arc::default(), writer: Arc::new(Mutex::new(writer)), clock })
    }

    /// A private in-memory database, gone when the store is dropped. A second connection would
    /// open a second database, so reads and writes share one.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let connection = Arc::new(Mutex::new(Self::prepared(Connection::open_in_memory().map_err(sql_error)?)?));
        Ok(Self { readers: Arc::new([]), next_reader: Arc::default(), writer: connection, clock })
    }

    fn prepared(connection: Connection) -> Result<Connection, StoreError> {
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql_error)?;
        connection.execute_batch(SCHEMA).map_err(sql_error)?;
        let has_due: bool = connection
            .prepare("SELECT 1 FROM pragma_table_info('items') WHERE name = 'due_queue'")
            .and_then(|mut statement| statement.exists([]))
            .map_err(sql_error)?;
        if !has_due {
            // Another process opening the same file may add them first.
            match connection.execute_batch(DUE_COLUMNS) {
                Err(e) if !e.to_string().contains("duplicate column") => return Err(sql_error(e)),
                _ => {}
            }
        }
        connection.execute_batch(DUE_INDEX).map_err(sql_error)?;
        Ok(connection)
    }

    /// Runs the read `work` in place on the reading connection.
    fn read<T>(&self, work: impl FnOnce(&Connection, i64) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let poisoned = |_| StoreError::Unavailable("store lock poisoned".into());
        let now = self.clock.now().0;
        if self.readers.is_empty() {
            return work(&*self.writer.lock().map_err(poisoned)?, now);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        let free = (0..count).find_map(|i| self.readers[(start + i) % count].try_lock().ok());
        let connection = match free {
            Some(connection) => connection,
            None => self.readers[start % count].lock().map_err(poisoned)?,
        };
        work(&connection, now)
    }

    /// Runs the write `work` on the blocking pool with the connection and the current time: a write
    /// may wait for another process's lock (up to the busy timeout).
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.writer);
        let now = self.clock.now().0;
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().map_err(|_| StoreError::Unavailable("store lock poisoned".into()))?;
            work(&connection, now)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

#[async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read(|db, now| {
            db.prepare_cached(&format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2 AND (expires_at IS NULL OR expires_at > ?3)"))
                .and_then(|mut statement| statement.query_row(params![key.pk, key.sk, now], decode).optional())
                .map_err(sql_error)?
                .transpose()
        })
    }

    async fn put_if_absent(&self, item: &Item) -> Result<(), StoreError> {
        let Encoded { key, expires_at, attrs, due_queue, due_at } = encode(item)?;
        let changed = self
            .run(move |db, now| {
                db.prepare_cached(
                    "INSERT INTO items (pk, sk, version, expires_at, attrs, due_queue, due_at) VALUES (?1, ?2, 1, ?3, ?4, ?6, ?7)
                     ON CONFLICT (pk, sk) DO UPDATE
                        SET version = 1, expires_at = excluded.expires_at, attrs = excluded.attrs,
                            due_queue = excluded.due_queue, due_at = excluded.due_at
                        WHERE items.expires_at IS NOT NULL AND items.expires_at <= ?5",
                )
                .and_then(|mut statement| statement.execute(params![key.pk, key.sk, expires_at, attrs, now, due_queue, due_at]))
                .map_err(sql_error)
            })
            .await?;
        expect_one(changed)
    }

    async fn put_if_version(&self, item: &Item) -> Result<u64, StoreError> {
        let Encoded { key, expires_at, attrs, due_queue, due_at } = encode(item)?;
        let expected = item.version as i64;
        let changed = self
            .run(move |db, now| {
                db.prepare_cached(
                    "UPDATE items SET version = ?3 + 1, expires_at = ?4, attrs = ?5, due_queue = ?7, due_at = ?8
                     WHERE pk = ?1 AND sk = ?2 AND version = ?3 AND (expires_at IS NULL OR expires_at > ?6)",
                )
                .and_then(|mut statement| statement.execute(params![key.pk, key.sk, expected, expires_at, attrs, now, due_queue, due_at]))
                .map_err(sql_error)
            })
            .await?;
        expect_one(changed)?;
        Ok(item.version + 1)
    }

    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let Encoded { key, expires_at, attrs, due_queue, due_at } = encode(item)?;
        let version = item.version as i64;
        self.run(move |db, _| {
            db.prepare_cached("INSERT OR REPLACE INTO items (pk, sk, version, expires_at, attrs, due_queue, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .and_then(|mut statement| statement.execute(params![key.pk, key.sk, version, expires_at, attrs, due_queue, due_at]))
                .map_err(sql_error)
        })
        .await
        .map(|_| ())
    }

    async fn delete_if(&self, key: &Key, condition: DeleteCondition) -> Result<(), StoreError> {
        let key = key.clone();
        let changed = self
            .run(move |db, now| {
                match condition {
                    DeleteCondition::Exists => db
                        .prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2 AND (expires_at IS NULL OR expires_at > ?3)")
                        .and_then(|mut statement| statement.execute(params![key.pk, key.sk, now])),
                    DeleteCondition::Version(version) => db
                        .prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2 AND version = ?3")
                        .and_then(|mut statement| statement.execute(params![key.pk, key.sk, version as i64])),
                }
                .map_err(sql_error)
            })
            .await?;
        expect_one(changed)
    }

    async fn take(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.run(move |db, now| {
            db.prepare_cached(&format!("DELETE FROM items WHERE pk = ?1 AND sk = ?2 AND (expires_at IS NULL OR expires_at > ?3) RETURNING {COLUMNS}"))
                .and_then(|mut statement| statement.query_row(params![key.pk, key.sk, now], decode).optional())
                .map_err(sql_error)?
                .transpose()
        })
        .await
    }

    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.read(|db, now| {
            let mut statement = db
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM items
                     WHERE pk = ?1 AND substr(sk, 1, length(?2)) = ?2 AND (expires_at IS NULL OR expires_at > ?3)
                     ORDER BY sk"
                ))
                .map_err(sql_error)?;
            let rows = statement.query_map(params![pk, sk_prefix, now], decode).map_err(sql_error)?;
            rows.map(|row| row.map_err(sql_error)?).collect()
        })
    }

    async fn query_page(&self, pk: &str, sk_prefix: &str, after: Option<&str>, limit: usize) -> Result<QueryPage, StoreError> {
        let limit = limit.max(1);
        let mut items: Vec<Item> = self.read(|db, now| {
            let mut statement = db
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM items
                     WHERE pk = ?1 AND substr(sk, 1, length(?2)) = ?2 AND sk > ?3 AND (expires_at IS NULL OR expires_at > ?4)
                     ORDER BY sk LIMIT ?5"
                ))
                .map_err(sql_error)?;
            // One more than asked says whether another page follows.
            let rows = statement.query_map(params![pk, sk_prefix, after.unwrap_or_default(), now, (limit + 1) as i64], decode).map_err(sql_error)?;
            rows.map(|row| row.map_err(sql_error)?).collect::<Result<_, _>>()
        })?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(|item| item.key.sk.clone()) } else { None };
        Ok(QueryPage { items, next })
    }

    async fn due(&self, queue: DueQueue, until: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        self.read(|db, now| {
            let mut statement = db
                .prepare_cached(
                    "SELECT pk, sk, due_at FROM items INDEXED BY items_due
                     WHERE due_queue = ?1 AND due_at <= ?2 AND (expires_at IS NULL OR expires_at > ?3)
                     ORDER BY due_at LIMIT ?4",
                )
                .map_err(sql_error)?;
            let rows = statement
                .query_map(params![queue.as_str(), until.0, now, limit as i64], |row| {
                    Ok(DueItem { key: Key::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?), at: Timestamp(row.get(2)?) })
                })
                .map_err(sql_error)?;
            rows.map(|row| row.map_err(sql_error)).collect()
        })
    }
}

/// An item in the columns it is stored in.
struct Encoded {
    key: Key,
    expires_at: Option<i64>,
    attrs: String,
    due_queue: Option<&'static str>,
    due_at: Option<i64>,
}

fn encode(item: &Item) -> Result<Encoded, StoreError> {
    check_attrs(&item.attrs)?;
    let attrs = serde_json::to_string(&item.attrs).map_err(|e| StoreError::Codec(e.to_string()))?;
    if attrs.len() + item.key.pk.len() + item.key.sk.len() > super::MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge("the record".into()));
    }
    let (due_queue, due_at) = item.due.map_or((None, None), |due| (Some(due.queue.as_str()), Some(due.at.0)));
    Ok(Encoded { key: item.key.clone(), expires_at: item.expires_at.map(|t| t.0), attrs, due_queue, due_at })
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Item, StoreError>> {
    let key = Key::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?);
    let version = row.get::<_, i64>(2)? as u64;
    let expires_at = row.get::<_, Option<i64>>(3)?.map(Timestamp);
    let attrs = row.get::<_, String>(4)?;
    let queue = row.get::<_, Option<String>>(5)?.and_then(|q| DueQueue::parse(&q));
    let due = queue.zip(row.get::<_, Option<i64>>(6)?).map(|(queue, at)| Due { queue, at: Timestamp(at) });
    Ok(serde_json::from_str::<Map<String, Value>>(&attrs)
        .map(|attrs| Item { key, version, expires_at, attrs, due })
        .map_err(|e| StoreError::Codec(e.to_string())))
}

fn expect_one(changed: usize) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::ConditionFailed)
    }
}

fn sql_error(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {error}"))
}
