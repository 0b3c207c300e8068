//! The outbox port: where a webhook delivery waits to be attempted, off the request path. On AWS an
//! SQS queue that the delivery function consumes; locally an in-process queue that a worker drains;
//! or nowhere, in which case the scheduled sweep finds pending deliveries itself.

use tokio::sync::mpsc;

use crate::model::Key;

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
