//! Lambda function `latchkey-scheduled-sweep`: run by an EventBridge schedule.
//!
//! Each invocation refreshes connections before they expire, keeps idle refresh tokens alive,
//! spends the failure budget of dead connections, and retries due webhook deliveries.

// The sweep future nests every flow it may run (refresh, webhook delivery) deeply.
#![recursion_limit = "256"]

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey::token::background::{sweep, SweepReport};
use latchkey_bootstrap::{build, telemetry, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    let ports = &ports;
    run(service_fn(move |_event: LambdaEvent<EventBridgeEvent>| async move { Ok::<SweepReport, Error>(sweep(ports).await) })).await
}
