//! Lambda function `latchkey-operator-api`: the operator routes (creating connectors with the operator token).
//!
//! Init builds the ports once (configuration, AWS clients, the key cache); every invocation borrows
//! them. The router is the core's, limited to this function's routes of the route table.

use latchkey_bootstrap::{build, telemetry, Config};
use latchkey_http::{router, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    lambda_http::run(router(ports, Some(Function::OperatorApi))).await
}
