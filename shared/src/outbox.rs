//! The outbox ports: where work waits off the request path.
//!
//! - [`Outbox`]: webhook deliveries. On AWS an SQS queue that the delivery function consumes;
//!   locally an in-process queue that a worker drains; or nowhere, in which case the scheduled
//!   sweep finds pending deliveries itself.
//! - [`RefreshQueue`]: connections the sweep found due. On AWS an SQS FIFO queue that the refresh
//!   worker function drains, one message group per connector lane, so at most that many refreshes
//!   of one connector run at once and a slow or rate-limiting provider holds up only its own
//!   groups; locally nowhere, and the sweep refreshes them itself in a bounded pool.

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::model::{Connection, DueItem, Key};

/// Where deliveries wait.
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
    /// No queue: deliveries wait for the sweep.
    pub fn sweep_only() -> Self {
        Self { sender: None, sqs: None }
    }

    /// Deliveries go to the SQS queue at `queue_url`; the delivery function attempts them.
    pub fn sqs(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { sender: None, sqs: Some((client, queue_url)) }
    }

    /// An in-process queue, and the receiving end a worker drains.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Key>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender: Some(sender), sqs: None }, receiver)
    }

    /// Whether deliveries go to a queue that retries them on its own (SQS, or the local worker).
    pub fn retries(&self) -> bool {
        self.sender.is_some() || self.sqs.is_some()
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

/// Batches of due refreshes in flight at once.
const SEND_CONCURRENCY: usize = 16;

/// Where connections found due wait to be refreshed.
#[derive(Debug, Clone, Default)]
pub struct RefreshQueue {
    sqs: Option<(aws_sdk_sqs::Client, String)>,
}

/// The message a due refresh travels as: the connection's key, nothing else.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct QueuedRefresh {
    /// Partition key of the connection.
    pub pk: String,
    /// Sort key of the connection.
    pub sk: String,
}

impl RefreshQueue {
    /// No queue: the sweep refreshes what is due itself.
    pub fn in_process() -> Self {
        Self { sqs: None }
    }

    /// Due connections go to the SQS FIFO queue at `queue_url`; the refresh worker drains it.
    pub fn sqs(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { sqs: Some((client, queue_url)) }
    }

    /// Whether due connections leave this process.
    pub fn is_remote(&self) -> bool {
        self.sqs.is_some()
    }

    /// The message group of a connection: its connector and one of `lanes` lanes. A FIFO queue
    /// hands out one group's messages one batch at a time, so `lanes` bounds how many of one
    /// connector's refreshes run at once.
    pub fn group_of(key: &Key, lanes: usize) -> String {
        let connector: String = Connection::connector_in_key(key).unwrap_or("-").chars().take(100).collect();
        format!("{connector}#{}", key.stable_hash() % lanes.max(1) as u64)
    }

    /// Queues `due` in batches of ten, several batches in flight; answers how many were queued. A
    /// batch the queue refuses stays due in the store, and the next pass finds it again.
    pub async fn send(&self, due: &[DueItem], lanes: usize) -> usize {
        let Some((client, queue_url)) = &self.sqs else { return 0 };
        let batches: Vec<Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry>> = due.chunks(10).map(|batch| Self::entries(batch, lanes)).collect();
        // Owned batches and clients: a future that borrowed them would not be `Send` for the
        // spawned sweep. Tens of thousands due in a pass would take minutes one batch at a time.
        let sends = batches.into_iter().map(|entries| Self::send_batch(client.clone(), queue_url.clone(), entries));
        futures::stream::iter(sends).buffer_unordered(SEND_CONCURRENCY).fold(0, |queued, sent| async move { queued + sent }).await
    }

    fn entries(batch: &[DueItem], lanes: usize) -> Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry> {
        let entries = batch.iter().enumerate().filter_map(|(i, item)| {
            let body = serde_json::to_string(&QueuedRefresh { pk: item.key.pk.clone(), sk: item.key.sk.clone() }).ok()?;
            // The same connection due at the same time is one message, however many passes find it.
            let dedup = Sha256::digest(format!("{}\n{}\n{}", item.key.pk, item.key.sk, item.at.0));
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .message_group_id(Self::group_of(&item.key, lanes))
                .message_deduplication_id(crate::secret::hex_lower(&dedup))
                .build()
                .ok()
        });
        entries.collect()
    }

    async fn send_batch(client: aws_sdk_sqs::Client, queue_url: String, entries: Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry>) -> usize {
        match client.send_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await {
            Ok(output) => {
                if !output.failed().is_empty() {
                    tracing::warn!(failed = output.failed().len(), "the refresh queue refused some messages; they stay due");
                }
                output.successful().len()
            }
            Err(error) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "could not queue due refreshes; they stay due");
                0
            }
        }
    }
}
