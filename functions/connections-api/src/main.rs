//! Lambda function `latchkey-connections-api`: the connections API.
//!
//! Init builds the state once (configuration, AWS clients, the key cache); every invocation
//! borrows it. The handler itself lives in the core crate's route table.

use lambda_http::{run, service_fn, Error, Request};
use latchkey::config::Config;
use latchkey::http::{handle_function, Function};
use latchkey::AppState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    latchkey::telemetry::init();
    let state = AppState::build(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |request: Request| async move { Ok::<_, Error>(handle_function(state, Function::ConnectionsApi, request).await) })).await
}
