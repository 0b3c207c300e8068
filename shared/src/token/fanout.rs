//! Refreshing the connections the sweep found due, many at once but never many of one connector.
//!
//! Each due connection is read again and refreshed only if it is still due, under the same
//! single-flight lease as on-demand refreshes ([`force_refresh`]), so a connection found twice (two
//! passes, a duplicate message, a request racing the sweep) is refreshed once. Work is spread
//! over *lanes*: each connector gets at most `refresh_concurrency_per_connector` of them, and a lane
//! refreshes its connections one after another, so a provider that is slow or rate limiting holds
//! up its own connections and no one else's. Locally [`refresh_all`] runs the lanes in this process
//! under a total bound; on AWS the lanes are the message groups of the refresh queue, and
//! [`refresh_messages`] is the worker function's batch.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Semaphore;

use super::refresh::force_refresh;
use super::TokenError;
use crate::events::{self, EventType};
use crate::model::{AuthMode, Connection, ConnectionState, Connector, ConnectorUid, Key, Record, Stored};
use crate::outbox::QueuedRefresh;
use crate::ports::Ports;

/// Refresh failures in a row after which a connection is declared invalid.
pub const FAILURE_BUDGET: u32 = 5;

/// What happened to one due connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not due any more (refreshed meanwhile, gone, changed), or nothing the sweep can do.
    Skipped,
    /// Refreshed.
    Refreshed,
    /// The refresh failed (provider down); tried again once its cooldown ends.
    Failed,
    /// Declared invalid (refused, or out of failure budget).
    Invalidated,
}

/// Counts of outcomes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Refreshed.
    pub refreshed: usize,
    /// Failed, to be tried again.
    pub failed: usize,
    /// Declared invalid.
    pub invalidated: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Skipped => {}
            Outcome::Refreshed => self.refreshed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Invalidated => self.invalidated += 1,
        }
    }
}

/// Refreshes the connection at `key` if it is still due: one read when it is not.
pub async fn refresh_due(ports: &Ports, key: &Key) -> Outcome {
    if !key.sk.starts_with(Connection::SK_PREFIX) {
        return Outcome::Skipped;
    }
    let Ok(Some(stored)) = Stored::<Connection>::get(ports.store.as_ref(), key).await else { return Outcome::Skipped };
    let now = ports.clock.now();
    if stored.record.background_due().is_none_or(|at| at > now) {
        return Outcome::Skipped;
    }
    let Some(connector) = connector(ports, &stored.record.connector).await else {
        tracing::warn!(connection_id = %stored.record.id, connector = %stored.record.connector, "due connection of a connector that is gone");
        return Outcome::Skipped;
    };
    if connector.auth_mode != AuthMode::OAuth2 {
        // Written before connections said whether they are refreshable: say it now, which takes
        // the connection out of the due index for good.
        let mut stored = stored;
        stored.record.refreshable = false;
        let _ = stored.save(ports.store.as_ref()).await;
        return Outcome::Skipped;
    }
    match force_refresh(ports, &connector, stored.clone()).await {
        Ok(_) => Outcome::Refreshed,
        Err(TokenError::TokenRefreshFailed { .. }) => Outcome::Invalidated,
        Err(_) => spend_failure_budget(ports, &stored.record).await,
    }
}

/// The connector, as the token path reads it; a store failure skips the lane this pass.
async fn connector(ports: &Ports, uid: &ConnectorUid) -> Option<std::sync::Arc<Connector>> {
    super::issue::connector(ports, uid).await.ok().flatten()
}

/// Reads each connector once before the lanes start, so lanes that start together do not each
/// miss the cache: a pass reads a connector once, however many of its connections are due.
async fn warm_connectors(ports: &Ports, uids: impl Iterator<Item = &String>) {
    for uid in uids.filter_map(|uid| ConnectorUid::parse(uid).ok()) {
        connector(ports, &uid).await;
    }
}

/// After a failed refresh: a connection out of failure budget is declared invalid.
async fn spend_failure_budget(ports: &Ports, connection: &Connection) -> Outcome {
    let Ok(Some(mut current)) = Stored::<Connection>::get(ports.store.as_ref(), &connection.key()).await else { return Outcome::Failed };
    if current.record.refresh_failures < FAILURE_BUDGET || current.record.state != ConnectionState::Callable {
        return Outcome::Failed;
    }
    current.record.state = ConnectionState::Invalid;
    current.record.updated_at = ports.clock.now();
    if current.save(ports.store.as_ref()).await.is_err() {
        return Outcome::Failed;
    }
    events::emit(ports, EventType::ConnectionInvalid, &current.record, serde_json::json!({"reason": "failure_budget"})).await;
    Outcome::Invalidated
}

/// Refreshes every connection of `keys` that is still due, in this process: at most
/// `refresh_concurrency_per_connector` at once per connector and `refresh_concurrency` in all.
pub async fn refresh_all(ports: &Ports, keys: Vec<Key>) -> Tally {
    let per_connector = ports.settings.refresh_concurrency_per_connector.max(1);
    let total = Semaphore::new(ports.settings.refresh_concurrency.max(1));
    let mut by_connector: BTreeMap<String, VecDeque<Key>> = BTreeMap::new();
    for key in keys {
        by_connector.entry(Connection::connector_in_key(&key).unwrap_or_default().to_owned()).or_default().push_back(key);
    }
    warm_connectors(ports, by_connector.keys()).await;
    let queues: Vec<(usize, Mutex<VecDeque<Key>>)> = by_connector.into_values().map(|queue| (queue.len().min(per_connector), Mutex::new(queue))).collect();
    let tally = Mutex::new(Tally::default());
    let lanes = queues.iter().flat_map(|(lanes, queue)| (0..*lanes).map(move |_| queue)).map(|queue| async {
        loop {
            let Some(key) = queue.lock().ok().and_then(|mut q| q.pop_front()) else { return };
            let Ok(_permit) = total.acquire().await else { return };
            let outcome = refresh_due(ports, &key).await;
            if let Ok(mut tally) = tally.lock() {
                tally.add(outcome);
            }
        }
    });
    futures::future::join_all(lanes).await;
    tally.into_inner().unwrap_or_default()
}

/// One batch of the refresh queue (the worker function): messages of one group (one lane of one
/// connector) one after another, groups side by side. A message that cannot be read is dropped;
/// nothing is handed back to the queue, since what is still due stays due in the store and the
/// next pass finds it.
pub async fn refresh_messages(ports: &Ports, messages: Vec<(String, String)>) -> Tally {
    let mut groups: BTreeMap<String, Vec<Key>> = BTreeMap::new();
    for (group, body) in messages {
        match serde_json::from_str::<QueuedRefresh>(&body) {
            Ok(queued) => groups.entry(group).or_default().push(Key::new(queued.pk, queued.sk)),
            Err(_) => tracing::warn!("unreadable refresh message dropped"),
        }
    }
    let connectors: std::collections::BTreeSet<String> =
        groups.values().flatten().filter_map(|key| Connection::connector_in_key(key).map(str::to_owned)).collect();
    warm_connectors(ports, connectors.iter()).await;
    let lanes = groups.into_values().map(|keys| async move {
        let mut tally = Tally::default();
        for key in keys {
            tally.add(refresh_due(ports, &key).await);
        }
        tally
    });
    futures::future::join_all(lanes).await.into_iter().fold(Tally::default(), |mut all, lane| {
        all.refreshed += lane.refreshed;
        all.failed += lane.failed;
        all.invalidated += lane.invalidated;
        all
    })
}
