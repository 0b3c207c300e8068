//! The baseline for init time with the AWS configuration: the init a user's own minimal function
//! would pay to reach DynamoDB and KMS. A hello-world `lambda_runtime` function, built with the same
//! profile, that in init loads the AWS SDK configuration from the environment and builds the
//! DynamoDB and KMS clients with the calls `latchkey_bootstrap::{aws_sdk_config, dynamodb_client,
//! kms_client}` make (the same crates, features and rustls client, written out here as a user
//! would), then makes one strongly consistent `GetItem` for a key no record uses, as Latchkey's
//! init warms its store. It answers every event with the event.
//!
//! Reads `LATCHKEY_TABLE`, `LATCHKEY_DYNAMODB_ENDPOINT` and `LATCHKEY_KMS_ENDPOINT` (the
//! endpoints optional), as the functions do.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let table = std::env::var("LATCHKEY_TABLE").map_err(|_| "LATCHKEY_TABLE is not set")?;
    let endpoint = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&aws);
    if let Some(url) = endpoint("LATCHKEY_DYNAMODB_ENDPOINT") {
        dynamodb = dynamodb.endpoint_url(url);
    }
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
    let mut kms = aws_sdk_kms::config::Builder::from(&aws);
    if let Some(url) = endpoint("LATCHKEY_KMS_ENDPOINT") {
        kms = kms.endpoint_url(url);
    }
    let _kms = aws_sdk_kms::Client::from_conf(kms.build());
    // One read of a key no record uses: DNS, TCP, (TLS on AWS), credentials, one round trip.
    dynamodb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("HELLO-AWS".into()))
        .key("sk", AttributeValue::S("HELLO-AWS".into()))
        .consistent_read(true)
        .send()
        .await?;
    run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
