//! Lambda function `latchkey-webhook-delivery`: consumes the webhook queue.
//!
//! Each SQS message names one delivery of the log; a delivery that is still pending after its
//! attempt is reported as a batch item failure, so SQS hands it back after the visibility timeout
//! (and to the dead-letter queue after the last try).
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey::config::Config;
use latchkey::events::deliver_queued;
use latchkey::AppState;
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey::telemetry::init();
    let state = AppState::build(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let mut failures = Vec::new();
        for record in event.payload["Records"].as_array().into_iter().flatten() {
            let body = record["body"].as_str().unwrap_or_default();
            if !deliver_queued(state, body).await {
                failures.push(json!({"itemIdentifier": record["messageId"]}));
            }
        }
        Ok::<_, Error>(json!({"batchItemFailures": failures}))
    }))
    .await
}
