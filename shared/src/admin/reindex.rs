//! Putting what was stored before the due index into it: every connection and every pending
//! webhook delivery, read a page at a time and written back with its due time where the stored
//! item lacks it or has another. Items already right are left alone, so it can run again (and be
//! interrupted) safely; a connection written meanwhile already carries its due time. Run once
//! after upgrading: `latchkey table reindex`.

use serde::Serialize;

use super::AdminError;
use crate::model::{Connection, Delivery, Project, Record, Stored};
use crate::ports::Ports;
use crate::store::StoreError;

/// Items read per page.
const PAGE: usize = 500;

/// What a reindex rewrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reindexed {
    /// Items read.
    pub read: usize,
    /// Connections written back with their due time.
    pub connections: usize,
    /// Deliveries written back with their due time.
    pub deliveries: usize,
}

/// Rewrites every item of every project whose due time is missing or stale.
pub async fn reindex(ports: &Ports) -> Result<Reindexed, AdminError> {
    let mut done = Reindexed::default();
    let projects = Stored::<Project>::query(ports.store.as_ref(), Project::PARTITION, "PROJECT#").await?;
    for project in projects {
        let partition = Project::partition_of(&project.record.id);
        done.connections += reindex_prefix::<Connection>(ports, &partition, Connection::SK_PREFIX, &mut done.read).await?;
        done.deliveries += reindex_prefix::<Delivery>(ports, &partition, Delivery::SK_PREFIX, &mut done.read).await?;
    }
    Ok(done)
}

/// Rewrites the items of `R` under `prefix` whose stored due time is not the one `R` derives.
async fn reindex_prefix<R: Record>(ports: &Ports, partition: &str, prefix: &str, read: &mut usize) -> Result<usize, AdminError> {
    let mut written = 0;
    let mut after: Option<String> = None;
    loop {
        let page = ports.store.query_page(partition, prefix, after.as_deref(), PAGE).await?;
        *read += page.items.len();
        for item in page.items {
            let due = Stored::<R>::from_item(item.clone())?.record.due();
            if item.due == due {
                continue;
            }
            // Everything else (attributes, expiry) stays as stored; only the due time changes.
            match ports.store.put_if_version(&crate::model::Item { due, ..item }).await {
                Ok(_) => written += 1,
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(written),
        }
    }
}
