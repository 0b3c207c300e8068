//! Lambda function `latchkey-refresh-worker`: drains the refresh queue the sweep fills.
//!
//! Each SQS message names one connection found due; its message group is one lane of one
//! connector, so SQS runs at most that connector's lanes at once and a slow provider holds up
//! only its own groups. Every message is acknowledged: a refresh that failed left its outcome (a
//! cooldown, a failure count) on the connection, which stays due, and the next pass finds it.
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey::token::fanout::refresh_messages;
use latchkey_bootstrap::{build, telemetry, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    let ports = &ports;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let messages = event.payload.records.into_iter().map(|r| (r.attributes.get("MessageGroupId").cloned().unwrap_or_default(), r.body.unwrap_or_default()));
        refresh_messages(ports, messages.collect()).await;
        Ok::<(), Error>(())
    }))
    .await
}
