//! The baseline for init time: the smallest `lambda_runtime` function, built with the same profile
//! as Latchkey's functions. It answers every event with the event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
