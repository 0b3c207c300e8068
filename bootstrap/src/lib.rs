//! The wiring (layer 7): configuration from the environment, the adapters it names built once per
//! process, and the logging setup. Every Lambda's `main`, the CLI and the local server start here;
//! nothing below imports it.

pub mod config;
pub mod telemetry;

use std::sync::Arc;

use latchkey::clock::{Clock, SystemClock};
use latchkey::keyring::{KeyProvider, Keyring, KmsKeyProvider, LocalKeyProvider};
use latchkey::outbox::{Outbox, RefreshQueue};
use latchkey::store::{DynamoStore, ItemStore, SqliteStore};
use latchkey::Ports;

pub use config::{Config, ConfigError, KeyringConfig, StoreConfig};

/// Why the ports could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] latchkey::store::StoreError),
    /// The keyring could not be set up.
    #[error(transparent)]
    Keyring(#[from] latchkey::keyring::KeyringError),
}

/// Builds the ports `config` describes, on the wall clock.
pub async fn build(config: Config) -> Result<Ports, StartupError> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// Builds the ports `config` describes, on `clock`.
pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Ports, StartupError> {
    let needs_aws = matches!(config.store, StoreConfig::Dynamo { .. })
        || matches!(config.keyring, KeyringConfig::Kms { .. })
        || config.webhook_queue_url.is_some()
        || config.refresh_queue_url.is_some();
    let aws = if needs_aws { Some(aws_sdk_config().await) } else { None };
    let store: Arc<dyn ItemStore> = match &config.store {
        StoreConfig::Sqlite { path } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| ConfigError(format!("cannot create {}: {e}", parent.display())))?;
            }
            Arc::new(SqliteStore::open(path, clock.clone())?)
        }
        StoreConfig::Dynamo { table, endpoint } => {
            let client = dynamodb_client(aws.as_ref().expect("loaded above"), endpoint.as_deref());
            Arc::new(DynamoStore::new(client, table, clock.clone()))
        }
    };
    let provider: Arc<dyn KeyProvider> = match &config.keyring {
        KeyringConfig::Local { key: Some(key), .. } => Arc::new(LocalKeyProvider::from_base64(key.expose())?),
        KeyringConfig::Local { key_file, key: None } => Arc::new(LocalKeyProvider::load_or_create(key_file)?),
        KeyringConfig::Kms { key_id, endpoint } => Arc::new(KmsKeyProvider::new(kms_client(aws.as_ref().expect("loaded above"), endpoint.as_deref()), key_id)),
    };
    let sqs = || {
        let mut builder = aws_sdk_sqs::config::Builder::from(aws.as_ref().expect("loaded above"));
        if let Some(endpoint) = &config.sqs_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        aws_sdk_sqs::Client::from_conf(builder.build())
    };
    // One client for both queues: clones share its connections.
    let client = (config.webhook_queue_url.is_some() || config.refresh_queue_url.is_some()).then(sqs);
    let queue = config.webhook_queue_url.clone().zip(client.clone()).map(|(url, client)| Outbox::sqs(client, url));
    let refresh_queue = config.refresh_queue_url.clone().zip(client).map(|(url, client)| RefreshQueue::sqs(client, url));
    // The store's first call waits on the network while the catalog is parsed: init pays for the
    // longer of the two, not their sum.
    let warming = tokio::spawn(warm_store(store.clone()));
    let _ = latchkey::catalog::providers();
    let mut ports = Ports::new(config.settings, store, Keyring::new(provider, config.key_cache), clock);
    if let Some(queue) = queue {
        ports = ports.with_outbox(queue);
    }
    if let Some(queue) = refresh_queue {
        ports = ports.with_refresh_queue(queue);
    }
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch reads the metrics from the log as it ingests it: no API call, no wait.
        ports = ports.with_metrics(latchkey::metrics::MetricsSink::Emf);
    }
    let _ = warming.await;
    Ok(ports)
}

/// Opens the store's connection (DNS, TCP, TLS, AWS credentials) during init with one read of a
/// key no record uses, so the first request starts on a warm connection. It gives up after a second
/// (an unreachable endpoint would otherwise hold init through the SDK's retries) and a failure is
/// only logged: the store may be back by the time a request needs it, and that request will say
/// so if not.
async fn warm_store(store: Arc<dyn ItemStore>) {
    let probe = latchkey::store::Key::new("WARMUP", "WARMUP");
    match tokio::time::timeout(std::time::Duration::from_secs(1), store.get(&probe)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the store did not answer during init"),
        Err(_) => tracing::warn!("the store did not answer within a second during init"),
    }
}

/// The shared AWS configuration (region, credentials) from the environment, loaded once per process.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A DynamoDB client from the shared AWS configuration, with an optional endpoint override.
pub fn dynamodb_client(aws: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(aws);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// A KMS client from the shared AWS configuration, with an optional endpoint override.
pub fn kms_client(aws: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_kms::Client {
    let mut builder = aws_sdk_kms::config::Builder::from(aws);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_kms::Client::from_conf(builder.build())
}
