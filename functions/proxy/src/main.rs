//! Lambda function `latchkey-proxy`: ANY /v1/proxy/{connector}/{path+}, provider API calls with
//! the connection's credential injected.
//!
//! Init builds the ports once; every invocation borrows them. API Gateway and Lambda buffer bodies
//! (10 MB in, 6 MB out); the local server streams them.

use latchkey_bootstrap::{build, telemetry, Config};
use latchkey_http::{router, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    lambda_http::run(router(ports, Some(Function::Proxy))).await
}
