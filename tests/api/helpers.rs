//! Shared arrangements: the real DynamoDB- and KMS-API server the test command started, fresh
//! stores and keyrings, and the app on a loopback port.

use std::path::PathBuf;
use std::sync::Arc;

use latchkey::keyring::{CachePolicy, DataKey, KeyProvider, Keyring, KmsKeyProvider, LocalKeyProvider};
use latchkey::settings::Settings;
use latchkey::store::{DynamoStore, SqliteStore};
use latchkey::{Clock, ManualClock, Ports};

/// The DynamoDB/KMS-API server (moto_server) the test command started on loopback.
pub fn moto_endpoint() -> String {
    std::env::var("LATCHKEY_TEST_MOTO_ENDPOINT")
        .expect("LATCHKEY_TEST_MOTO_ENDPOINT is not set: run the tests with `bash scripts/test.sh`, which starts moto_server")
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    latchkey::secret::random_id(prefix).replace('_', "-")
}

/// AWS configuration pointed at moto.
pub async fn aws() -> aws_config::SdkConfig {
    latchkey_bootstrap::aws_sdk_config().await
}

/// A fresh DynamoDB table on moto, and the store over it.
pub async fn dynamo_store(clock: Arc<dyn Clock>) -> DynamoStore {
    let client = latchkey_bootstrap::dynamodb_client(&aws().await, Some(&moto_endpoint()));
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
    let client = latchkey_bootstrap::kms_client(&aws().await, Some(&moto_endpoint()));
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

/// The settings tests run on: webhooks retried quickly.
pub fn test_settings() -> Settings {
    Settings { webhook_retry_base: std::time::Duration::from_millis(50), outbound_allowed_hosts: vec![FIXTURE_HOST.into()], ..Settings::default() }
}

/// Where the provider fixtures listen, and the one host the outbound policy lets tests reach over
/// plain http. Attackers' listeners sit on another loopback address, which the policy refuses.
pub const FIXTURE_HOST: &str = "127.0.0.1";

/// The app on a loopback port over the embedded store, with a clock the test can move.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The ports the server runs on, for arranging records directly.
    pub state: Ports,
    /// The server's clock.
    pub clock: ManualClock,
    /// An HTTP client that follows no redirects.
    pub http: reqwest::Client,
    /// Keeps the data folder alive while the app runs.
    pub dir: tempfile::TempDir,
    /// The DynamoDB table, on the AWS backend.
    pub table: Option<String>,
    /// Store calls the app has made.
    pub store_counts: Arc<crate::counting::Counts>,
    /// The KMS provider, on the AWS backend (it counts its calls).
    pub kms: Option<KmsKeyProvider>,
}

/// Which adapters the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite and a local master key.
    Local,
    /// DynamoDB and KMS on the loopback moto_server.
    Aws,
}

impl TestApp {
    /// Starts the app over the embedded store.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::Local).await
    }

    /// Starts the app over `backend`.
    pub async fn spawn_on(backend: Backend) -> TestApp {
        latchkey_bootstrap::telemetry::init();
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::starting_now();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        // Links are built from the address the app listens on, as `latchkey serve` does.
        let settings = Settings { allowed_hosts: vec![base.trim_start_matches("http://").to_owned()], ..test_settings() };
        let counts = Arc::new(crate::counting::Counts::default());
        let count = |inner: Arc<dyn latchkey::store::ItemStore>| Arc::new(crate::counting::CountingStore { inner, counts: counts.clone() });
        let (state, table, kms) = match backend {
            Backend::Local => {
                let store = SqliteStore::open(&dir.path().join("latchkey.sqlite3"), Arc::new(clock.clone())).expect("sqlite");
                let provider = LocalKeyProvider::load_or_create(&dir.path().join("master.key")).expect("master key");
                (Ports::new(settings, count(Arc::new(store)), keyring(Arc::new(provider)), Arc::new(clock.clone())), None, None)
            }
            Backend::Aws => {
                let store = dynamo_store(Arc::new(clock.clone())).await;
                let table = store.table().to_owned();
                let provider = kms_provider().await;
                let state = Ports::new(settings, count(Arc::new(store)), keyring(Arc::new(provider.clone())), Arc::new(clock.clone()));
                (state, Some(table), Some(provider))
            }
        };
        // Locally, audit events are filed at once, so a test reads them right after the request; on
        // AWS only the log line is written, as on Lambda, where a subscription files it.
        let sink = if table.is_some() { latchkey::audit::AuditSink::Log } else { latchkey::audit::AuditSink::Direct };
        // Counted as the local server counts them, so a test can see a metric move (the webhook
        // worker gets its own copy of the ports: the sink first).
        let state = state.with_metrics(latchkey::metrics::MetricsSink::Registry(Default::default()));
        let state = latchkey::events::with_worker(state).with_audit(sink);
        tokio::spawn(latchkey_http::server::serve(listener, latchkey_http::router(state.clone(), None), std::future::pending()));
        // A hung request fails its test with a timeout instead of stalling the run.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(std::time::Duration::from_secs(30)).build().expect("client");
        TestApp { base, state, clock, http, dir, table, store_counts: counts, kms }
    }

    /// The metrics counted so far, as `/metrics` shows them.
    pub fn metrics_text(&self) -> String {
        match &self.state.metrics {
            latchkey::metrics::MetricsSink::Registry(registry) => registry.render(),
            _ => String::new(),
        }
    }

    /// Which adapters it runs on.
    pub fn backend(&self) -> Backend {
        if self.table.is_some() {
            Backend::Aws
        } else {
            Backend::Local
        }
    }

    /// Everything the store holds, as raw as it is stored: the SQLite file and its write-ahead
    /// log, or a scan of the DynamoDB table.
    pub async fn raw_store(&self) -> String {
        match &self.table {
            None => {
                let mut raw = String::new();
                for name in ["latchkey.sqlite3", "latchkey.sqlite3-wal"] {
                    raw.push_str(&String::from_utf8_lossy(&std::fs::read(self.dir.path().join(name)).unwrap_or_default()));
                }
                raw
            }
            Some(table) => {
                let client = latchkey_bootstrap::dynamodb_client(&aws().await, Some(&moto_endpoint()));
                format!("{:?}", client.scan().table_name(table).send().await.expect("scan").items())
            }
        }
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

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback").local_addr().expect("address").port()
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

/// Starts a fixture process and reads the JSON line it prints when ready. A process that has not
/// answered within 30 seconds is killed and started once more; a second silence fails the test with
/// a message instead of hanging it.
pub fn spawn_ready(mut make: impl FnMut() -> std::process::Command, what: &str) -> (std::process::Child, serde_json::Value) {
    use std::io::BufRead;
    for attempt in 1..=2 {
        let mut command = make();
        command.stdout(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        match receiver.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) if !line.trim().is_empty() => {
                let ready = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{what} printed {line:?}"));
                return (child, ready);
            }
            outcome => {
                eprintln!("{what} did not become ready (attempt {attempt}): {outcome:?}");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    panic!("{what} did not become ready twice");
}

/// `latchkey serve` alone, as a newcomer starts it: a fresh data folder, a free loopback port, no
/// `LATCHKEY_*` variable of the test environment (so no outbound allowance it did not make
/// itself) but `extra`; its first-start banner. Killed when dropped.
pub struct Served {
    child: std::process::Child,
    /// What it printed on its first start (`--json`).
    pub banner: serde_json::Value,
    /// Its data folder, for CLI commands run beside it.
    pub dir: tempfile::TempDir,
}

impl Served {
    /// Starts it.
    pub fn start(extra: &[(&str, &str)]) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, banner) = spawn_ready(
            || {
                let mut command = std::process::Command::new(workspace_binary("latchkey"));
                for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("LATCHKEY_")) {
                    command.env_remove(name);
                }
                command
                    .args(["--json", "serve", "--bind", "127.0.0.1:0"])
                    .env("LATCHKEY_DATA_DIR", dir.path())
                    .env("RUST_LOG", "warn")
                    .envs(extra.iter().copied())
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
                command
            },
            "latchkey serve",
        );
        Served { child, banner, dir }
    }

    /// Where it listens (`http://127.0.0.1:PORT`).
    pub fn base(&self) -> &str {
        self.banner["listening"].as_str().expect("listening")
    }

    /// The demo secret key it printed.
    pub fn secret_key(&self) -> &str {
        self.banner["demo_secret_key"].as_str().expect("a demo key on first start")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
