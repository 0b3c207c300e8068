//! Operator changes reach every instance within the stated bound (5 seconds): each is made through
//! the CLI, in its own process, while a second `latchkey serve` process over the same store is
//! warm (its caches full). Before the change the warm process shows the old state; within the
//! bound it refuses, or adopts, the new one.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_test_support::relay::SecretRecorder;
use serde_json::{json, Value};

use crate::cli::{json as cli_json, latchkey};
use crate::helpers;

/// The bound README.md and SECURITY.md state.
const BOUND: Duration = Duration::from_secs(5);

/// A warm `latchkey serve` over the data folder `dir`.
struct Warm {
    child: Child,
    base: String,
    key: String,
    project: String,
    http: reqwest::Client,
}

impl Warm {
    fn start(dir: &Path) -> Warm {
        let mut child = Command::new(helpers::workspace_binary("latchkey"))
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .env("LATCHKEY_DATA_DIR", dir)
            .env_remove("LATCHKEY_STORE")
            .env_remove("LATCHKEY_KEYRING")
            .env("LATCHKEY_OUTBOUND_ALLOW", helpers::FIXTURE_HOST)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start latchkey serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let banner: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("banner {line:?}"));
        Warm {
            base: banner["listening"].as_str().unwrap().to_owned(),
            key: banner["demo_secret_key"].as_str().unwrap().to_owned(),
            project: banner["demo_project"].as_str().unwrap().to_owned(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            child,
        }
    }

    async fn post(&self, credential: &str, path: &str, body: Value) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.base)).bearer_auth(credential).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` holds, and answers how long that took; fails past the bound (and a little
/// scheduling slack for the test itself).
async fn within_bound<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < BOUND + Duration::from_millis(900), "{what}: not seen within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn run(dir: &Path, args: &[&str]) -> Value {
    cli_json(&latchkey(dir, &[&["--json"][..], args].concat(), &[], None))
}

fn run_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Value {
    cli_json(&latchkey(dir, &[&["--json"][..], args].concat(), &[], Some(stdin)))
}

/// The demo project with an API-key connection for the app, asked for through the warm process.
async fn warm_with_connection(dir: &Path) -> Warm {
    let warm = Warm::start(dir);
    let imported = warm
        .http
        .post(format!("{}/v1/connections/import", warm.base))
        .bearer_auth(&warm.key)
        .json(&json!({"consumer_id": "user-1", "connector": "demo/api-key", "credentials": {"api_key": "k"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 201);
    warm
}

fn user_key(dir: &Path, project: &str) -> String {
    run(dir, &["keys", "create", "--project", project, "--environment", "development", "--user", "user-1"])["secret_key"].as_str().unwrap().to_owned()
}

async fn token(warm: &Warm, key: &str) -> (u16, Value) {
    warm.post(key, "/v1/token/demo%2Fapi-key", json!({"subject": {"type": "user", "id": "user-1"}})).await
}

#[tokio::test]
async fn unlinking_a_connector_from_a_project_or_an_environment_reaches_a_warm_process() {
    let dir = tempfile::tempdir().unwrap();
    let warm = warm_with_connection(dir.path()).await;
    let key = user_key(dir.path(), &warm.project);
    assert_eq!(token(&warm, &key).await.0, 200, "before: linked, and the connector cached");

    // Another environment only: production loses nothing, development loses the connector.
    run(dir.path(), &["connectors", "link", "--uid", "demo/api-key", "--project", &warm.project, "--environment", "production"]);
    within_bound("environment unlinked", || async { token(&warm, &key).await.1["error"]["code"] == "client_not_enabled_for_environment" }).await;

    run(dir.path(), &["connectors", "unlink", "--uid", "demo/api-key", "--project", &warm.project]);
    within_bound("project unlinked", || async { token(&warm, &key).await.1["error"]["code"] == "client_not_linked_to_project" }).await;
}

#[tokio::test]
async fn deleting_a_connector_reaches_a_warm_process() {
    let dir = tempfile::tempdir().unwrap();
    let warm = warm_with_connection(dir.path()).await;
    let key = user_key(dir.path(), &warm.project);
    assert_eq!(token(&warm, &key).await.0, 200);
    run(dir.path(), &["connectors", "delete", "--uid", "demo/api-key"]);
    within_bound("connector deleted", || async { token(&warm, &key).await.1["error"]["code"] == "connector_not_found" }).await;
}

#[tokio::test]
async fn a_rotated_client_secret_is_used_and_the_old_one_never_sent_again() {
    // Arrange: a client-credentials connector whose tokens live a second, so every request past
    // the first second fetches a new one with whatever secret the warm process holds.
    let dir = tempfile::tempdir().unwrap();
    let recorder = SecretRecorder::start(1).await.unwrap();
    let warm = Warm::start(dir.path());
    run_with_stdin(
        dir.path(),
        &[
            "connectors",
            "create",
            "--uid",
            "machine/acme",
            "--auth-mode",
            "client-credentials",
            "--authorize-url",
            &recorder.url,
            "--token-url",
            &recorder.url,
            "--client-id",
            "acme",
            "--client-secret-stdin",
            "--token-auth",
            "post",
        ],
        "old-secret",
    );
    run(dir.path(), &["connectors", "link", "--uid", "machine/acme", "--project", &warm.project, "--environment", "development"]);
    let ask = || async { warm.post(&warm.key, "/v1/token/machine%2Facme", json!({"subject": {"type": "app"}})).await.0 };
    assert_eq!(ask().await, 200);
    assert_eq!(recorder.secrets(), vec!["old-secret"]);

    // Act
    run_with_stdin(dir.path(), &["connectors", "update", "--uid", "machine/acme", "--client-secret-stdin"], "new-secret");
    let rotated = Instant::now();
    within_bound("new secret used", || async {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        ask().await == 200 && recorder.secrets().last().map(String::as_str) == Some("new-secret")
    })
    .await;

    // Assert: after the bound, the old secret never again.
    let seen_by_then = recorder.secrets().len();
    tokio::time::sleep(BOUND.saturating_sub(rotated.elapsed())).await;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(ask().await, 200);
    }
    assert!(recorder.secrets()[seen_by_then..].iter().all(|s| s == "new-secret"), "{:?}", recorder.secrets());
}

#[tokio::test]
async fn revoked_keys_and_connection_tokens_stop_working_on_a_warm_process() {
    let dir = tempfile::tempdir().unwrap();
    let warm = warm_with_connection(dir.path()).await;
    let created = run(dir.path(), &["keys", "create", "--project", &warm.project, "--environment", "development"]);
    let (key, key_id) = (created["secret_key"].as_str().unwrap().to_owned(), created["key_id"].as_str().unwrap().to_owned());
    let links = |credential: String| {
        let warm = &warm;
        async move { warm.post(&credential, "/v1/link/token", json!({"end_user": {"id": "u"}})).await.0 }
    };
    assert_eq!(links(key.clone()).await, 201, "before: the key works, and is cached");

    run(dir.path(), &["keys", "revoke", "--project", &warm.project, "--key-id", &key_id]);
    within_bound("key revoked", || links(key.clone()).then_is(401)).await;

    // A connection access token, revoked from the CLI's own process.
    let link_token = warm.post(&warm.key, "/v1/link/token", json!({"end_user": {"id": "user-9"}, "redirect_url": format!("{}/done", warm.base)})).await.1;
    let form = [("link_token", link_token["link_token"].as_str().unwrap()), ("mode", "page"), ("connector", "demo/api-key"), ("api_key", "k")];
    let done = warm
        .http
        .post(format!("{}/connect/credentials", warm.base))
        .header("origin", &warm.base)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    let public = url::Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "public_token").unwrap().1.into_owned();
    let exchanged = warm.post(&warm.key, "/v1/link/exchange", json!({"public_token": public})).await.1;
    let access = exchanged["access_token"].as_str().unwrap().to_owned();
    let own = || {
        let warm = &warm;
        let access = access.clone();
        async move { warm.post(&access, "/v1/token/demo%2Fapi-key", json!({"subject": {"type": "user", "id": "user-9"}})).await.0 }
    };
    assert_eq!(own().await, 200);
    run_with_stdin(dir.path(), &["connections", "revoke-token"], &access);
    within_bound("connection token revoked", || own().then_is(401)).await;
}

#[tokio::test]
async fn changed_allowed_origins_reach_a_warm_process() {
    let dir = tempfile::tempdir().unwrap();
    let warm = Warm::start(dir.path());
    let redirect = |origin: &str| json!({"end_user": {"id": "u"}, "redirect_url": format!("{origin}/done")});
    assert_eq!(warm.post(&warm.key, "/v1/link/token", redirect("http://127.0.0.1:3000")).await.0, 201);
    run(dir.path(), &["projects", "set-origins", "--project", &warm.project, "--allowed-origin", "https://app.example.test"]);
    within_bound("origin removed", || async {
        warm.post(&warm.key, "/v1/link/token", redirect("http://127.0.0.1:3000")).await.1["error"]["code"] == "redirect_url_not_allowed"
    })
    .await;
    assert_eq!(warm.post(&warm.key, "/v1/link/token", redirect("https://app.example.test")).await.0, 201, "and the new one adopted");
}

#[tokio::test]
async fn distrusting_an_issuer_or_changing_its_bound_claims_reaches_a_warm_process() {
    // Arrange: the demo project trusts an issuer for tokens of one repository owner.
    let dir = tempfile::tempdir().unwrap();
    let warm = warm_with_connection(dir.path()).await;
    let issuer = crate::oidc_callers::Issuer::start();
    let trust = |owner: &str| {
        run(
            dir.path(),
            &[
                "projects",
                "trust-issuer",
                "--project",
                &warm.project,
                "--issuer",
                &issuer.issuer,
                "--audience",
                "latchkey",
                "--jwks-url",
                &issuer.jwks_url,
                "--algorithm",
                "RS256",
                "--claim",
                &format!("repository_owner_id={owner}"),
            ],
        )
    };
    trust("4242");
    let jwt = issuer.sign(crate::oidc_callers::claims(&issuer, json!({"environment": "development"})), "k1", "RS256").await;
    let ask = || {
        let (warm, jwt) = (&warm, jwt.clone());
        async move { token(warm, &jwt).await.0 }
    };
    assert_eq!(ask().await, 200, "before: trusted, and the trust cached");

    // Act / Assert: the bound claim changes to another owner; then the issuer goes.
    trust("1111");
    within_bound("claims changed", || ask().then_is(401)).await;
    trust("4242");
    within_bound("claims restored", || ask().then_is(200)).await;
    run(dir.path(), &["projects", "distrust-issuer", "--project", &warm.project, "--issuer", &issuer.issuer]);
    within_bound("issuer removed", || ask().then_is(401)).await;
}

#[tokio::test]
async fn a_removed_webhook_receives_nothing_more() {
    // Arrange: a receiver on the fixtures' loopback address, subscribed through the CLI.
    let dir = tempfile::tempdir().unwrap();
    let warm = Warm::start(dir.path());
    let receiver = latchkey_test_support::attacker::Attacker::start(true).await;
    let added = run(dir.path(), &["webhooks", "add", "--project", &warm.project, "--url", &format!("http://{}/hook", receiver.host())]);
    let webhook = added["id"].as_str().unwrap().to_owned();
    let event = |user: &str| {
        let (warm, user) = (&warm, user.to_owned());
        async move {
            let body = json!({"consumer_id": user, "connector": "demo/api-key", "credentials": {"api_key": "k"}});
            warm.http.post(format!("{}/v1/connections/import", warm.base)).bearer_auth(&warm.key).json(&body).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(event("user-1").await, 201);
    // An import announces two events: connection.created and connection.callable.
    within_bound("delivered before", || async { receiver.received().len() >= 2 }).await;

    // Act
    run(dir.path(), &["webhooks", "remove", "--project", &warm.project, "--id", &webhook]);
    let delivered = receiver.received().len();
    assert_eq!(event("user-2").await, 201);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Assert
    assert_eq!(receiver.received().len(), delivered, "nothing after the removal");
}

/// `future.then_is(status)`: whether the status the future answers is `status`.
trait ThenIs {
    fn then_is(self, status: u16) -> impl std::future::Future<Output = bool>;
}

impl<F: std::future::Future<Output = u16>> ThenIs for F {
    async fn then_is(self, status: u16) -> bool {
        self.await == status
    }
}
