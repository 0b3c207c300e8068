//! Lambda function `latchkey-webhook-delivery`: consumes the webhook queue.
//!
//! Each SQS message names one delivery of the log; a delivery that is still pending after its
//! attempt is reported as a batch item failure, so SQS hands it back after the visibility timeout
//! (and to the dead-letter queue after the last try).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey::events::deliver_queued;
use latchkey_bootstrap::{build, telemetry, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    let ports = &ports;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let mut response = SqsBatchResponse::default();
        for record in event.payload.records {
            let settled = deliver_queued(ports, record.body.as_deref().unwrap_or_default()).await;
            if !settled {
                response.add_failure(record.message_id.unwrap_or_default());
            }
        }
        Ok::<_, Error>(response)
    }))
    .await
}
