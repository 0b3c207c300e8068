//! Webhooks: what happened to a project's connections, delivered to its URLs off the request path.
//!
//! [`emit`] records a delivery per subscribed webhook in the project's delivery log and hands it
//! to the [`crate::outbox::Outbox`]: on AWS an SQS queue consumed by the delivery function ([`deliver_queued`];
//! SQS redelivers what failed, a dead-letter queue keeps what never succeeds); locally an
//! in-process queue whose worker delivers with retries and backoff. The scheduled sweep
//! ([`deliver_due`]) retries whatever is still pending either way. Every request
//! is signed (`Latchkey-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`) and carries
//! `Latchkey-Event-Id`, the same on every retry, so a receiver can drop duplicates.

mod delivery;

pub use crate::model::{Delivery, DeliveryStatus, EventType, Webhook};
pub use delivery::{deliver_due, deliver_queued, sign, with_worker};

use serde_json::{json, Value};

use crate::model::{Connection, Project, Record, Stored};
use crate::ports::Ports;
use crate::secret::random_id;

/// Records and queues `event` for every webhook of the connection's project that wants it. Never
/// fails the caller: a webhook problem is logged, not returned.
pub async fn emit(ports: &Ports, event: EventType, connection: &Connection, extra: Value) {
    if let Err(error) = try_emit(ports, event, connection, extra).await {
        tracing::warn!(event = event.as_str(), %error, "could not record a webhook event");
    }
}

async fn try_emit(ports: &Ports, event: EventType, connection: &Connection, extra: Value) -> Result<(), crate::store::RecordError> {
    let Some(project) = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&connection.project_id)).await? else {
        return Ok(());
    };
    let hooks: Vec<&Webhook> = project.record.webhooks.iter().filter(|h| h.wants(event)).collect();
    if hooks.is_empty() {
        return Ok(());
    }
    let now = ports.clock.now();
    let event_id = random_id("evt");
    let mut data = json!({
        "connection_id": connection.id,
        "connector": connection.connector,
        "environment": connection.environment,
        "subject": connection.subject,
        "state": connection.state,
    });
    if let (Some(map), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    let body = json!({"id": event_id, "type": event.as_str(), "created_at": now.to_rfc3339(), "project_id": project.record.id, "data": data});
    for hook in hooks {
        let delivery = Delivery::new(&project.record.id, &event_id, event, hook, body.to_string(), now);
        ports.store.put(&delivery.to_item()?.expiring_at(now.plus_secs(Delivery::KEPT_SECS))).await?;
        ports.outbox.send(delivery.key()).await;
    }
    Ok(())
}
