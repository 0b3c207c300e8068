//! Webhook subscriptions, event types and the delivery log.

use serde::{Deserialize, Serialize};

use super::{Binding, Sealed};
use super::{Due, DueQueue, Key};
use super::{Project, ProjectId, Record};
use crate::clock::Timestamp;

/// The events Latchkey sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// A connection was made.
    #[serde(rename = "connection.created")]
    ConnectionCreated,
    /// A connection was re-authorized or changed.
    #[serde(rename = "connection.updated")]
    ConnectionUpdated,
    /// A connection can issue tokens.
    #[serde(rename = "connection.callable")]
    ConnectionCallable,
    /// A connection needs a new authorization.
    #[serde(rename = "connection.invalid")]
    ConnectionInvalid,
    /// A connection was deleted.
    #[serde(rename = "connection.deleted")]
    ConnectionDeleted,
    /// A refresh failed.
    #[serde(rename = "token_refresh.failed")]
    TokenRefreshFailed,
    /// A refresh worked after failures.
    #[serde(rename = "token_refresh.recovered")]
    TokenRefreshRecovered,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 7] = [
        EventType::ConnectionCreated,
        EventType::ConnectionUpdated,
        EventType::ConnectionCallable,
        EventType::ConnectionInvalid,
        EventType::ConnectionDeleted,
        EventType::TokenRefreshFailed,
        EventType::TokenRefreshRecovered,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConnectionCreated => "connection.created",
            EventType::ConnectionUpdated => "connection.updated",
            EventType::ConnectionCallable => "connection.callable",
            EventType::ConnectionInvalid => "connection.invalid",
            EventType::ConnectionDeleted => "connection.deleted",
            EventType::TokenRefreshFailed => "token_refresh.failed",
            EventType::TokenRefreshRecovered => "token_refresh.recovered",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

/// A URL a project's events are sent to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// `wh_...`
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret, sealed under the project's scope.
    pub secret: Sealed,
    /// The events it wants; all when empty.
    #[serde(default)]
    pub events: Vec<EventType>,
}

impl Webhook {
    /// Whether it wants `event`.
    pub fn wants(&self, event: EventType) -> bool {
        self.events.is_empty() || self.events.contains(&event)
    }

    /// The binding of its secret.
    pub fn secret_binding(project_id: &ProjectId, webhook_id: &str) -> Binding {
        Binding::new(format!("project:{project_id}"), &Project::key_of(project_id), format!("webhook:{webhook_id}"))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet accepted; will be tried (again).
    Pending,
    /// Accepted with a 2xx.
    Delivered,
    /// Given up after every attempt.
    Failed,
}

/// One event for one webhook: the delivery log's entry, and the work item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The project.
    pub project_id: ProjectId,
    /// The event id (the receiver's idempotency key).
    pub event_id: String,
    /// The event type.
    pub event: EventType,
    /// The webhook.
    pub webhook_id: String,
    /// Its URL when the event happened.
    pub url: String,
    /// The exact body sent on every attempt.
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// The last HTTP status, if any answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// The last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When to try next (pending only).
    pub next_attempt_at: Timestamp,
    /// When the event happened.
    pub created_at: Timestamp,
}

impl Delivery {
    /// Attempts before giving up.
    pub const MAX_ATTEMPTS: u32 = 6;
    /// The log keeps deliveries for 30 days.
    pub const KEPT_SECS: i64 = 30 * 24 * 3600;

    /// A pending delivery of `body` to `hook`.
    pub fn new(project_id: &ProjectId, event_id: &str, event: EventType, hook: &Webhook, body: String, now: Timestamp) -> Self {
        Self {
            project_id: project_id.clone(),
            event_id: event_id.to_owned(),
            event,
            webhook_id: hook.id.clone(),
            url: hook.url.clone(),
            body,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status: None,
            last_error: None,
            next_attempt_at: now,
            created_at: now,
        }
    }

    /// The sort-key prefix of a project's delivery log.
    pub const SK_PREFIX: &'static str = "DELIVERY#";
}

impl Record for Delivery {
    fn key(&self) -> Key {
        Key::new(Project::partition_of(&self.project_id), format!("{}{}#{}#{}", Self::SK_PREFIX, self.created_at.0, self.event_id, self.webhook_id))
    }

    /// A pending delivery is due at its next attempt; a settled one is in no index, so the log
    /// never has to be read to find work.
    fn due(&self) -> Option<Due> {
        (self.status == DeliveryStatus::Pending).then_some(Due { queue: DueQueue::Webhook, at: self.next_attempt_at })
    }
}
