//! Lambda function `latchkey-scheduled-sweep`: run by an EventBridge schedule.
//!
//! Each invocation refreshes connections before they expire, keeps idle refresh tokens alive,
//! spends the failure budget of dead connections, and retries due webhook deliveries.

// The sweep future nests every flow it may run (refresh, webhook delivery) deeply.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey::config::Config;
use latchkey::token::background::sweep;
use latchkey::AppState;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey::telemetry::init();
    let state = AppState::build(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = sweep(state).await;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
