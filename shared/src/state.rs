//! `AppState`: the ports wired together, built once per process.
//!
//! On Lambda, `main` builds it during init (clients, configuration, the provider HTTP client) and
//! every invocation borrows it; locally the server builds it over the embedded adapters.

use std::sync::{Arc, OnceLock};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, KeyringConfig, StoreConfig};
use crate::events::Outbox;
use crate::keyring::{KeyProvider, Keyring, KmsKeyProvider, LocalKeyProvider};
use crate::oauth::{ProviderClient, RetryPolicy};
use crate::store::{DynamoStore, ItemStore, SqliteStore};
use crate::token::cache::Caches;

/// The ports every handler works over.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration it was built from.
    pub config: Arc<Config>,
    /// The item store.
    pub store: Arc<dyn ItemStore>,
    /// Envelope encryption.
    pub keyring: Keyring,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The HTTP client for providers (no redirects, timeouts, retries).
    pub provider: ProviderClient,
    /// Per-instance caches of callers and connectors (the warm token path).
    pub caches: Arc<Caches>,
    /// Where webhook deliveries wait.
    pub outbox: Outbox,
    /// The HTTP client webhooks are sent with, built on first use: only the functions that deliver
    /// webhooks pay for loading the trusted roots a second time.
    webhook_http: Arc<OnceLock<reqwest::Client>>,
}

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The keyring could not be set up.
    #[error(transparent)]
    Keyring(#[from] crate::keyring::KeyringError),
}

impl AppState {
    /// Builds the state `config` describes, on the wall clock.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the state `config` describes, on `clock`.
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartupError> {
        let needs_aws =
            matches!(config.store, StoreConfig::Dynamo { .. }) || matches!(config.keyring, KeyringConfig::Kms { .. }) || config.webhook_queue_url.is_some();
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
            KeyringConfig::Kms { key_id, endpoint } => {
                Arc::new(KmsKeyProvider::new(kms_client(aws.as_ref().expect("loaded above"), endpoint.as_deref()), key_id))
            }
        };
        let queue = config.webhook_queue_url.clone().map(|url| {
            let mut builder = aws_sdk_sqs::config::Builder::from(aws.as_ref().expect("loaded above"));
            if let Some(endpoint) = &config.sqs_endpoint {
                builder = builder.endpoint_url(endpoint);
            }
            Outbox::sqs(aws_sdk_sqs::Client::from_conf(builder.build()), url)
        });
        // The store's first call waits on the network while the provider client loads its trusted
        // roots and the catalog is parsed: init pays for the longer of the two, not their sum.
        let warming = tokio::spawn(warm_store(store.clone()));
        let _ = crate::catalog::providers();
        let mut state = Self::from_parts(config, store, provider, clock);
        if let Some(queue) = queue {
            state.outbox = queue;
        }
        let _ = warming.await;
        Ok(state)
    }

    /// The HTTP client webhooks are sent with (no redirects, short timeout).
    pub fn webhook_http(&self) -> &reqwest::Client {
        self.webhook_http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .expect("the TLS backend initialises")
        })
    }

    /// Wires already-built ports (tests and benchmarks wrap them to count calls).
    pub fn from_parts(config: Config, store: Arc<dyn ItemStore>, provider: Arc<dyn KeyProvider>, clock: Arc<dyn Clock>) -> Self {
        let keyring = Keyring::new(provider, config.key_cache);
        Self {
            config: Arc::new(config),
            store,
            keyring,
            clock,
            provider: ProviderClient::new(RetryPolicy::default()),
            caches: Arc::new(Caches::default()),
            outbox: Outbox::sweep_only(),
            webhook_http: Arc::new(OnceLock::new()),
        }
    }

    /// The same state with an in-process webhook worker (the local server; Lambdas rely on the
    /// scheduled sweep instead, since a frozen instance runs no background task).
    pub fn with_webhook_worker(mut self) -> Self {
        self.outbox = Outbox::start_worker(&self);
        self
    }
}

/// Opens the store's connection (DNS, TCP, TLS, AWS credentials) during init with one read of a
/// key no record uses, so the first request starts on a warm connection. It gives up after a second
/// (an unreachable endpoint would otherwise hold init through the SDK's retries) and a failure is
/// only logged: the store may be back by the time a request needs it, and that request will say
/// so if not.
async fn warm_store(store: Arc<dyn ItemStore>) {
    let probe = crate::store::Key::new("WARMUP", "WARMUP");
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
