//! The background sweep, run on a schedule (an EventBridge rule on AWS, a timer in the local
//! server, `latchkey sweep` by hand): it refreshes connections before they expire, keeps alive
//! refresh tokens that die when unused, declares a connection invalid once it has failed too often,
//! and retries webhook deliveries that are due. Refreshes take the same lease as on-demand ones,
//! so a sweep and a token request never refresh twice.
//!
//! Refreshing ahead of expiry pays only for tokens that outlive the time between passes: a
//! 60-second token refreshed by one pass is dead long before the next, so refreshing it would burn
//! a provider call per pass for nothing. The sweep therefore refreshes ahead only tokens that live
//! at least twice its window, which is at most once per lifetime; shorter ones are refreshed on
//! demand, and every token is still kept alive when idle.

use serde::Serialize;

use super::refresh::force_refresh;
use super::TokenError;
use crate::events::{self, EventType};
use crate::model::{AuthMode, Connection, ConnectionState, Connector, Project, Stored};
use crate::ports::Ports;

/// Refresh ahead what expires within this window (longer than the 5 minutes between passes on AWS).
pub const WINDOW_SECS: i64 = 15 * 60;
/// Refresh a connection not refreshed for this long, so idle refresh tokens stay alive.
pub const KEEP_ALIVE_SECS: i64 = 7 * 24 * 3600;
/// Refresh failures in a row after which a connection is declared invalid.
pub const FAILURE_BUDGET: u32 = 5;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Connections looked at.
    pub connections: usize,
    /// Refreshed.
    pub refreshed: usize,
    /// Refresh failed (provider down); tried again later.
    pub failed: usize,
    /// Declared invalid (refused, or out of failure budget).
    pub invalidated: usize,
    /// Webhook deliveries tried.
    pub deliveries: usize,
}

/// Runs one sweep over every project.
pub async fn sweep(ports: &Ports) -> SweepReport {
    let mut report = SweepReport::default();
    let projects = Stored::<Project>::query(ports.store.as_ref(), Project::PARTITION, "PROJECT#").await.unwrap_or_default();
    for project in &projects {
        let partition = Project::partition_of(&project.record.id);
        let Ok(connections) = Stored::<Connection>::query(ports.store.as_ref(), &partition, Connection::SK_PREFIX).await else { continue };
        for stored in connections {
            report.connections += 1;
            sweep_one(ports, stored, &mut report).await;
        }
    }
    report.deliveries = events::deliver_due(ports).await;
    tracing::info!(?report, "sweep done");
    report
}

async fn sweep_one(ports: &Ports, stored: Stored<Connection>, report: &mut SweepReport) {
    let connection = &stored.record;
    let now = ports.clock.now();
    if connection.state != ConnectionState::Callable || connection.refresh_retry_at.is_some_and(|at| at > now) {
        return;
    }
    let Ok(Some(connector)) = Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(&connection.connector)).await else { return };
    let connector = connector.record;
    if connector.auth_mode != AuthMode::OAuth2 || connection.credentials.is_none() {
        return;
    }
    let outcome = match refresh_ahead(connection, now) || now.0 - connection.updated_at.0 >= KEEP_ALIVE_SECS {
        true => Some(force_refresh(ports, &connector, stored.clone()).await.map(|_| ())),
        false => None,
    };
    match outcome {
        None => {}
        Some(Ok(())) => report.refreshed += 1,
        Some(Err(TokenError::TokenRefreshFailed { .. })) => report.invalidated += 1,
        Some(Err(_)) => {
            report.failed += 1;
            if let Ok(Some(mut current)) = Stored::<Connection>::get(ports.store.as_ref(), &crate::model::Record::key(&stored.record)).await {
                if current.record.refresh_failures >= FAILURE_BUDGET && current.record.state == ConnectionState::Callable {
                    current.record.state = ConnectionState::Invalid;
                    current.record.updated_at = ports.clock.now();
                    if current.save(ports.store.as_ref()).await.is_ok() {
                        report.invalidated += 1;
                        events::emit(ports, EventType::ConnectionInvalid, &current.record, serde_json::json!({"reason": "failure_budget"})).await;
                    }
                }
            }
        }
    }
}

/// Whether the sweep refreshes `connection` ahead of expiry now: its token expires within the
/// window and lives long enough (or for an unknown time, as an imported one) that the new token
/// will outlive the next passes.
pub fn refresh_ahead(connection: &Connection, now: crate::clock::Timestamp) -> bool {
    let lives_long = connection.token_lifetime_secs().is_none_or(|lifetime| lifetime >= 2 * WINDOW_SECS);
    lives_long && connection.token_expires_at.is_some_and(|at| at.0 - WINDOW_SECS <= now.0)
}
