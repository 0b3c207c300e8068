//! Delivering: one attempt at a time, the log updated after each, backoff between them.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::model::{Delivery, DeliveryStatus, Webhook};
use crate::model::{Project, Stored};
use crate::secret::{hex_lower, SecretString};
use crate::state::AppState;
use crate::store::Key;

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &SecretString, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex_lower(&mac.finalize().into_bytes()))
}

/// Where deliveries wait: an SQS queue that the delivery Lambda consumes (AWS), an in-process
/// queue with a worker (local server), or nothing, in which case the scheduled sweep picks them up
/// from the log.
#[derive(Debug, Clone)]
pub struct Outbox {
    sender: Option<mpsc::UnboundedSender<Key>>,
    sqs: Option<(aws_sdk_sqs::Client, String)>,
}

/// The message a queued delivery travels as: the key of its log entry (never the body or secret).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct QueuedDelivery {
    /// Partition key of the delivery.
    pub pk: String,
    /// Sort key of the delivery.
    pub sk: String,
}

impl Outbox {
    /// No worker: deliveries wait for [`deliver_due`].
    pub fn sweep_only() -> Self {
        Self { sender: None, sqs: None }
    }

    /// Deliveries go to the SQS queue at `queue_url`; the delivery function attempts them.
    pub fn sqs(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { sender: None, sqs: Some((client, queue_url)) }
    }

    /// An in-process worker over `state` (spawned on the current runtime).
    pub fn start_worker(state: &AppState) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Key>();
        let worker_state = state.clone();
        tokio::spawn(async move {
            while let Some(key) = receiver.recv().await {
                let state = worker_state.clone();
                // Each delivery runs on its own, so one slow receiver does not hold up the rest.
                tokio::spawn(async move { deliver_with_retries(&state, key).await });
            }
        });
        Self { sender: Some(sender), sqs: None }
    }

    /// Queues the delivery at `key`. A queue that cannot be reached leaves the delivery pending in
    /// the log, where the sweep finds it.
    pub async fn send(&self, key: Key) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(key);
        } else if let Some((client, queue_url)) = &self.sqs {
            let body = serde_json::to_string(&QueuedDelivery { pk: key.pk, sk: key.sk }).unwrap_or_default();
            if let Err(error) = client.send_message().queue_url(queue_url).message_body(body).send().await {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "could not queue a webhook delivery");
            }
        }
    }
}

/// Attempts the delivery a queue message names (the delivery function's work). `Ok(true)` when
/// it is settled (delivered, given up, or gone); `Ok(false)` when it should be retried.
pub async fn deliver_queued(state: &AppState, message: &str) -> bool {
    let Ok(queued) = serde_json::from_str::<QueuedDelivery>(message) else {
        tracing::warn!("unreadable delivery message dropped");
        return true;
    };
    !matches!(attempt(state, &Key::new(queued.pk, queued.sk)).await, Some(DeliveryStatus::Pending))
}

/// The wait before attempt `attempt` (1-based, after the first): base × 2^(attempt-2).
fn backoff(state: &AppState, attempt: u32) -> Duration {
    state.config.webhook_retry_base * 2u32.pow(attempt.saturating_sub(2).min(10))
}

async fn deliver_with_retries(state: &AppState, key: Key) {
    loop {
        match attempt(state, &key).await {
            Some(DeliveryStatus::Pending) => {
                let attempts = Stored::<Delivery>::get(state.store.as_ref(), &key).await.ok().flatten().map_or(1, |d| d.record.attempts);
                tokio::time::sleep(backoff(state, attempts + 1)).await;
            }
            _ => return,
        }
    }
}

/// Tries every pending delivery that is due, once (the scheduled sweep). Returns how many it tried.
pub async fn deliver_due(state: &AppState) -> usize {
    let mut tried = 0;
    let Ok(projects) = crate::admin::list_projects(state).await else { return 0 };
    for project in projects.iter().filter(|p| !p.webhooks.is_empty()) {
        let partition = Project::partition_of(&project.id);
        let Ok(deliveries) = Stored::<Delivery>::query(state.store.as_ref(), &partition, Delivery::SK_PREFIX).await else { continue };
        let now = state.clock.now();
        for delivery in deliveries.into_iter().filter(|d| d.record.status == DeliveryStatus::Pending && d.record.next_attempt_at <= now) {
            attempt(state, &crate::model::Record::key(&delivery.record)).await;
            tried += 1;
        }
    }
    tried
}

/// One attempt; the log records it. Returns the delivery's status after it (None if it vanished).
async fn attempt(state: &AppState, key: &Key) -> Option<DeliveryStatus> {
    let mut stored = Stored::<Delivery>::get(state.store.as_ref(), key).await.ok()??;
    if stored.record.status != DeliveryStatus::Pending {
        return Some(stored.record.status);
    }
    let project = Stored::<Project>::get(state.store.as_ref(), &Project::key_of(&stored.record.project_id)).await.ok()??;
    let hook = project.record.webhooks.iter().find(|h| h.id == stored.record.webhook_id)?;
    let secret = state.keyring.open_str(&Webhook::secret_binding(&project.record.id, &hook.id), &hook.secret).await.ok()?;
    let now = state.clock.now();
    let signature = sign(&secret, now.0, &stored.record.body);
    let result = state
        .webhook_http()
        .post(&stored.record.url)
        .header("content-type", "application/json")
        .header("latchkey-event-id", &stored.record.event_id)
        .header("latchkey-event", stored.record.event.as_str())
        .header("latchkey-signature", signature)
        .body(stored.record.body.clone())
        .send()
        .await;
    let delivery = &mut stored.record;
    delivery.attempts += 1;
    match result {
        Ok(response) if response.status().is_success() => {
            delivery.status = DeliveryStatus::Delivered;
            delivery.last_status = Some(response.status().as_u16());
            delivery.last_error = None;
        }
        Ok(response) => {
            delivery.last_status = Some(response.status().as_u16());
            delivery.last_error = Some(format!("HTTP {}", response.status().as_u16()));
        }
        Err(e) => {
            delivery.last_status = None;
            delivery.last_error = Some(if e.is_timeout() { "timed out".into() } else { "connection failed".into() });
        }
    }
    if delivery.status == DeliveryStatus::Pending {
        if delivery.attempts >= Delivery::MAX_ATTEMPTS {
            delivery.status = DeliveryStatus::Failed;
        } else {
            let wait = backoff(state, delivery.attempts + 1).as_secs().max(1) as i64;
            delivery.next_attempt_at = now.plus_secs(wait);
        }
    }
    tracing::info!(event_id = %delivery.event_id, webhook = %delivery.webhook_id, attempts = delivery.attempts, status = ?delivery.status, "webhook attempt");
    let status = delivery.status;
    let mut item = crate::model::Record::to_item(&stored.record).ok()?;
    item.version = stored.version;
    item.expires_at = Some(stored.record.created_at.plus_secs(Delivery::KEPT_SECS));
    state.store.put_if_version(&item).await.ok()?;
    Some(status)
}
