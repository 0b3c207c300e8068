//! Shared arrangements: the real DynamoDB- and KMS-API server the test command started, fresh
//! stores and keyrings, and the app on a loopback port.

use std::path::PathBuf;
use std::sync::Arc;

use latchkey::config::{Config, KeyringConfig, StoreConfig};
use latchkey::keyring::{CachePolicy, KeyProvider, Keyring, KmsKeyProvider, LocalKeyProvider, DataKey};
use latchkey::store::{DynamoStore, SqliteStore};
use latchkey::{AppState, Clock, ManualClock};

/// The DynamoDB/KMS-API server (moto_server) the test command started on loopback.
pub fn moto_endpoint() -> String {
    std::env::var("LATCHKEY_TEST_MOTO_ENDPOINT").expect(
        "LATCHKEY_TEST_MOTO_ENDPOINT is not set: run the tests with `bash scripts/test.sh`, which starts moto_server",
    )
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    latchkey::secret::random_id(prefix).replace('_', "-")
}

/// AWS configuration pointed at moto.
pub async fn aws() -> aws_config::SdkConfig {
    latchkey::state::aws_sdk_config().await
}

/// A fresh DynamoDB table on moto, and the store over it.
pub async fn dynamo_store(clock: Arc<dyn Clock>) -> DynamoStore {
    let client = latchkey::state::dynamodb_client(&aws().await, Some(&moto_endpoint()));
    let store = DynamoStore::new(client, unique("table"), clock);
    store.create_table().await.expect("create table on moto");
    store
}

/// A fresh in-memory embedded store.
pub fn sqlite_store(clock: Arc<dyn Clock>) -> SqliteStore {
    SqliteStore::in_memory(clock).expect("open sqlite")
}

/// A new KMS key on moto, and a provider over it.
pub async fn kms_provider() -> KmsKeyProvider {
    let client = latchkey::state::kms_client(&aws().await, Some(&moto_endpoint()));
    let key = client.create_key().send().await.expect("create KMS key on moto");
    let key_id = key.key_metadata().expect("key metadata").key_id().to_owned();
    KmsKeyProvider::new(client, key_id)
}

/// A provider over a random local master key.
pub fn local_provider() -> LocalKeyProvider {
    LocalKeyProvider::new(DataKey::generate())
}

/// A keyring over `provider` with the default cache policy.
pub fn keyring(provider: Arc<dyn KeyProvider>) -> Keyring {
    Keyring::new(provider, CachePolicy::default())
}

/// A local configuration rooted in `dir`.
pub fn local_config(dir: &std::path::Path) -> Config {
    Config {
        store: StoreConfig::Sqlite { path: dir.join("latchkey.sqlite3") },
        keyring: KeyringConfig::Local { key_file: dir.join("master.key"), key: None },
        key_cache: CachePolicy::default(),
        public_url: None,
    }
}

/// The app on a loopback port over the embedded store, with a clock the test can move.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The state the server runs on, for arranging records directly.
    pub state: AppState,
    /// The server's clock.
    pub clock: ManualClock,
    /// An HTTP client that follows no redirects.
    pub http: reqwest::Client,
    /// Keeps the data folder alive while the app runs.
    pub dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts the app.
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::starting_now();
        let state = AppState::build_with_clock(local_config(dir.path()), Arc::new(clock.clone()))
            .await
            .expect("build local state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(latchkey::http::server::serve(state.clone(), listener));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        TestApp { base, state, clock, http, dir }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// The path of a binary of this workspace, built beside this test binary.
pub fn workspace_binary(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().expect("test binary path");
    let profile_dir = test_exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = profile_dir.join(name);
    assert!(path.exists(), "{} is not built: run the whole workspace's tests (`cargo nextest run --workspace`)", path.display());
    path
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}
