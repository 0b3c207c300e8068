//! The background sweep, run on a schedule (an EventBridge rule on AWS, a timer in the local
//! server, `latchkey sweep` by hand): it refreshes connections before they expire, keeps alive
//! refresh tokens that die when unused, declares a connection invalid once it has failed too often,
//! and retries webhook deliveries that are due.
//!
//! A pass reads only what is due: each connection carries the time its next background action is
//! due ([`Connection::background_due`]), the store indexes it, and the pass asks the index for what
//! is due now ([`crate::store::ItemStore::due`]); connections with nothing to do are never read.
//! On AWS the pass only hands the due keys to the refresh queue, which the refresh worker drains in
//! parallel; locally it refreshes them in a bounded pool ([`super::fanout`]). Either way a refresh
//! takes the same lease as an on-demand one, so a sweep and a token request never refresh twice.
//!
//! Refreshing ahead of expiry pays only for tokens that outlive the time between passes: a
//! 60-second token refreshed by one pass is dead long before the next, so refreshing it would burn
//! a provider call per pass for nothing. The sweep therefore refreshes ahead only tokens that live
//! at least twice its window, which is at most once per lifetime; shorter ones are refreshed on
//! demand, and every token is still kept alive when idle.

use serde::Serialize;

use super::fanout;
use crate::events;
use crate::model::{Connection, DueQueue};
use crate::ports::Ports;

pub use super::fanout::FAILURE_BUDGET;
pub use crate::model::{KEEP_ALIVE_SECS, REFRESH_AHEAD_WINDOW_SECS as WINDOW_SECS};

/// The most connections one pass takes from the index; the rest (the latest due) wait for the next.
/// A million connections with one-hour tokens make about 83,000 due per five-minute pass.
pub const MAX_DUE_PER_PASS: usize = 200_000;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Connections found due.
    pub connections: usize,
    /// Refreshed (in this process).
    pub refreshed: usize,
    /// Refresh failed (provider down); tried again later.
    pub failed: usize,
    /// Declared invalid (refused, or out of failure budget).
    pub invalidated: usize,
    /// Handed to the refresh queue (on AWS) for the refresh worker.
    pub queued: usize,
    /// Webhook deliveries tried or queued again.
    pub deliveries: usize,
}

/// Runs one pass: what is due now, and nothing else.
pub async fn sweep(ports: &Ports) -> SweepReport {
    let mut report = SweepReport::default();
    let now = ports.clock.now();
    let due = match ports.store.due(DueQueue::Refresh, now, MAX_DUE_PER_PASS).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "the sweep could not read what is due");
            Vec::new()
        }
    };
    report.connections = due.len();
    if ports.refresh_queue.is_remote() {
        report.queued = ports.refresh_queue.send(&due, ports.settings.refresh_concurrency_per_connector).await;
    } else {
        let tally = fanout::refresh_all(ports, due.into_iter().map(|d| d.key).collect()).await;
        (report.refreshed, report.failed, report.invalidated) = (tally.refreshed, tally.failed, tally.invalidated);
    }
    report.deliveries = events::deliver_due(ports).await;
    tracing::info!(?report, "sweep done");
    report
}

/// Whether the sweep refreshes `connection` ahead of expiry now (see
/// [`Connection::refresh_ahead`]): its token expires within the window and lives long enough (or
/// for an unknown time, as an imported one) that the new token will outlive the next passes.
pub fn refresh_ahead(connection: &Connection, now: crate::clock::Timestamp) -> bool {
    connection.refresh_ahead(now)
}
