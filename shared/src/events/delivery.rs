//! Delivering: one attempt at a time, the log updated after each, backoff between them.

use std::time::Duration;

use futures::StreamExt;

use crate::model::{Delivery, DeliveryStatus, DueQueue, Project, Stored, Webhook};
use crate::outbound::ProviderError;
use crate::outbox::{Outbox, QueuedDelivery};
use crate::ports::Ports;
use crate::secret::{hex_lower, SecretString};
use crate::store::Key;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &SecretString, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex_lower(&mac.finalize().into_bytes()))
}

/// Starts an in-process delivery worker over `ports` (spawned on the current runtime) and returns
/// the ports with an outbox that feeds it: the local server's stand-in for SQS and its function.
pub fn with_worker(ports: Ports) -> Ports {
    let (outbox, mut receiver) = Outbox::channel();
    let worker_ports = ports.clone();
    tokio::spawn(async move {
        while let Some(key) = receiver.recv().await {
            let ports = worker_ports.clone();
            // Each delivery runs on its own, so one slow receiver does not hold up the rest.
            tokio::spawn(async move { deliver_with_retries(&ports, key).await });
        }
    });
    ports.with_outbox(outbox)
}

/// Attempts the delivery a queue message names (the delivery function's work). `Ok(true)` when
/// it is settled (delivered, given up, or gone); `Ok(false)` when it should be retried.
pub async fn deliver_queued(ports: &Ports, message: &str) -> bool {
    let Ok(queued) = serde_json::from_str::<QueuedDelivery>(message) else {
        tracing::warn!("unreadable delivery message dropped");
        return true;
    };
    !matches!(attempt(ports, &Key::new(queued.pk, queued.sk)).await, Some(DeliveryStatus::Pending))
}

/// The wait before attempt `attempt` (1-based, after the first): base × 2^(attempt-2).
fn backoff(ports: &Ports, attempt: u32) -> Duration {
    ports.settings.webhook_retry_base * 2u32.pow(attempt.saturating_sub(2).min(10))
}

async fn deliver_with_retries(ports: &Ports, key: Key) {
    loop {
        match attempt(ports, &key).await {
            Some(DeliveryStatus::Pending) => {
                let attempts = Stored::<Delivery>::get(ports.store.as_ref(), &key).await.ok().flatten().map_or(1, |d| d.record.attempts);
                tokio::time::sleep(backoff(ports, attempts + 1)).await;
            }
            _ => return,
        }
    }
}

/// A queue retries a delivery on its own; the sweep hands back to it only what it has lost (a
/// send that failed, a process that stopped): deliveries overdue by longer than this.
const QUEUE_GRACE_SECS: i64 = 120;
/// The most deliveries one pass takes from the index.
const MAX_DUE_PER_PASS: usize = 10_000;
/// Attempts in flight at once when the sweep delivers itself.
const CONCURRENT_ATTEMPTS: usize = 8;

/// Retries the pending deliveries that are due (the scheduled sweep), found through the due
/// index, never by reading the log: queued again where there is a queue, attempted here where
/// there is none. Returns how many.
pub async fn deliver_due(ports: &Ports) -> usize {
    let now = ports.clock.now();
    let until = if ports.outbox.retries() { now.plus_secs(-QUEUE_GRACE_SECS) } else { now };
    let due = match ports.store.due(DueQueue::Webhook, until, MAX_DUE_PER_PASS).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "the sweep could not read the deliveries due");
            return 0;
        }
    };
    let count = due.len();
    if ports.outbox.retries() {
        for item in due {
            ports.outbox.send(item.key).await;
        }
    } else {
        futures::stream::iter(due)
            .for_each_concurrent(CONCURRENT_ATTEMPTS, |item| async move {
                attempt(ports, &item.key).await;
            })
            .await;
    }
    count
}

/// One attempt; the log records it. Returns the delivery's status after it (None if it vanished).
async fn attempt(ports: &Ports, key: &Key) -> Option<DeliveryStatus> {
    let mut stored = Stored::<Delivery>::get(ports.store.as_ref(), key).await.ok()??;
    if stored.record.status != DeliveryStatus::Pending {
        return Some(stored.record.status);
    }
    let project = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&stored.record.project_id)).await.ok()??;
    let Some(hook) = project.record.webhooks.iter().find(|h| h.id == stored.record.webhook_id) else {
        // Removed since: nothing will ever deliver it, so it is settled (and leaves the due index).
        stored.record.status = DeliveryStatus::Failed;
        stored.record.last_error = Some("the webhook was removed".into());
        return save(ports, stored).await;
    };
    let secret = ports.keyring.open_str(&Webhook::secret_binding(&project.record.id, &hook.id), &hook.secret).await.ok()?;
    let now = ports.clock.now();
    let signature = sign(&secret, now.0, &stored.record.body);
    let event = stored.record.event.as_str();
    let headers = [
        ("content-type", "application/json"),
        ("latchkey-event-id", stored.record.event_id.as_str()),
        ("latchkey-event", event),
        ("latchkey-signature", signature.as_str()),
    ];
    let result = ports.outbound.post_webhook(&stored.record.url, &headers, stored.record.body.clone()).await;
    settle(ports, &mut stored.record, result, now);
    let outcome = match stored.record.status {
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Pending => "retrying",
        DeliveryStatus::Failed => "failed",
    };
    ports.metric(crate::metrics::Metric::WebhookDelivery { outcome });
    tracing::info!(event_id = %stored.record.event_id, webhook = %stored.record.webhook_id, attempts = stored.record.attempts, status = ?stored.record.status, "webhook attempt");
    save(ports, stored).await
}

/// Records an attempt's result on the delivery: delivered, pending with its next attempt, or failed.
fn settle(ports: &Ports, delivery: &mut Delivery, result: Result<u16, ProviderError>, now: crate::clock::Timestamp) {
    delivery.attempts += 1;
    match result {
        Ok(status) if (200..300).contains(&status) => {
            delivery.status = DeliveryStatus::Delivered;
            delivery.last_status = Some(status);
            delivery.last_error = None;
        }
        Ok(status) => {
            delivery.last_status = Some(status);
            delivery.last_error = Some(format!("HTTP {status}"));
        }
        Err(error) => {
            delivery.last_status = None;
            delivery.last_error = Some(match error {
                ProviderError::Refused(refused) => refused.to_string(),
                _ => "connection failed or timed out".into(),
            });
        }
    }
    if delivery.status == DeliveryStatus::Pending {
        if delivery.attempts >= Delivery::MAX_ATTEMPTS {
            delivery.status = DeliveryStatus::Failed;
        } else {
            let wait = backoff(ports, delivery.attempts + 1).as_secs().max(1) as i64;
            delivery.next_attempt_at = now.plus_secs(wait);
        }
    }
}

/// Writes the delivery back (its due time follows its status) if nobody else did meanwhile.
async fn save(ports: &Ports, stored: Stored<Delivery>) -> Option<DeliveryStatus> {
    let status = stored.record.status;
    let mut item = crate::model::Record::to_item(&stored.record).ok()?;
    item.version = stored.version;
    item.expires_at = Some(stored.record.created_at.plus_secs(Delivery::KEPT_SECS));
    ports.store.put_if_version(&item).await.ok()?;
    Some(status)
}
