//! Lambda function `latchkey-sandbox`: the sandbox OAuth 2.0 provider (its authorization, token and revocation endpoints, consent page and API).
//!
//! Init builds the ports once (configuration, AWS clients, the key cache); every invocation borrows
//! them. The router is the core's, limited to this function's routes of the route table.

use latchkey_bootstrap::{build, telemetry, Config};
use latchkey_http::{router, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    lambda_http::run(router(ports, Some(Function::Sandbox))).await
}
