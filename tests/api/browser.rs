//! The link flow as a person lives it, in real headless Chromium (Debian's chromium, driven by
//! playwright-core): the example app's Connect button, Latchkey's modal, the provider's sign-in and
//! consent, `onSuccess`, and the example backend's exchange; and the modal by keyboard alone.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::{free_port, workspace_root, TestApp};
use crate::link_helpers as link;
use crate::provider::Provider;

/// The example app of `examples/link-app`, on a free loopback port.
struct ExampleApp {
    child: Child,
    url: String,
}

impl ExampleApp {
    fn start(port: u16, latchkey: &str, secret_key: &str) -> ExampleApp {
        let (child, ready) = crate::helpers::spawn_ready(
            || {
                let mut command = Command::new("node");
                command
                    .arg(workspace_root().join("examples/link-app/server.mjs"))
                    .env("PORT", port.to_string())
                    .env("LATCHKEY_URL", latchkey)
                    .env("LATCHKEY_SECRET_KEY", secret_key)
                    .stdin(Stdio::null())
                    .stderr(Stdio::inherit());
                command
            },
            "examples/link-app/server.mjs",
        );
        ExampleApp { url: ready["listening"].as_str().unwrap().to_owned(), child }
    }
}

impl Drop for ExampleApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the Playwright driver for `scenario`; returns what the page showed.
fn drive(app_url: &str, scenario: &str) -> Value {
    let shots = std::env::var("LATCHKEY_SCREENSHOTS").ok();
    let mut command = Command::new("node");
    command.current_dir(workspace_root().join("tests/e2e")).args(["link-browser.mjs", "--app", app_url, "--scenario", scenario]);
    if let Some(dir) = &shots {
        command.args(["--screenshots", dir]);
    }
    let output = command.output().expect("run the browser driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| panic!("driver output: {stdout} {}", String::from_utf8_lossy(&output.stderr)))
}

async fn arrange(client: &str, secret: &str) -> (TestApp, Provider, link::Linked, ExampleApp) {
    let app = TestApp::spawn().await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let new = latchkey::admin::NewProject { name: "Example".into(), environments: Vec::new(), allowed_origins: vec![origin] };
    let project = latchkey::admin::create_project(&app.state, new).await.unwrap();
    let (_, key) = latchkey::admin::create_secret_key(&app.state, &project.id, "production").await.unwrap();
    link::connector(&app, &provider, client, secret, &project.id).await;
    let example = ExampleApp::start(port, &app.base, key.expose());
    (app, provider, link::Linked { project_id: project.id, secret_key: key.expose().to_owned() }, example)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_connects_through_the_example_app_in_chromium() {
    // Arrange
    let (app, provider, project, example) = arrange("latchkey-browser", "browser-secret").await;

    // Act
    let shown = tokio::task::spawn_blocking({
        let url = example.url.clone();
        move || drive(&url, "approve")
    })
    .await
    .unwrap();

    // Assert: onSuccess fired, the backend exchanged the public token, the modal closed.
    assert!(shown["error"].is_null(), "{shown}");
    let status = shown["status"].as_str().unwrap();
    assert!(status.starts_with("Connected: conn_") && status.contains("oidc/test"), "{shown}");
    assert_eq!(shown["modalOpen"], false);
    let events: Vec<&str> = shown["events"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(events.contains(&"OPEN") && events.contains(&"SELECT_CONNECTOR"), "{events:?}");
    assert_eq!(shown["consoleErrors"], serde_json::json!([]));

    let stored: Value = reqwest::get(format!("{}/api/connections", example.url)).await.unwrap().json().await.unwrap();
    assert_eq!(stored.as_array().unwrap().len(), 1, "{stored}");
    let connection_id = stored[0]["connection_id"].as_str().unwrap();
    assert!(status.contains(connection_id));

    let issued = provider.issued().await;
    let raw = app.raw_store().await;
    for token in ["access_tokens", "refresh_tokens"].iter().flat_map(|k| issued[k].as_array().cloned().unwrap_or_default()) {
        assert!(!raw.contains(token.as_str().unwrap()), "a provider token is stored in plaintext");
    }
    assert_eq!(issued["code_grants"], 1);
    assert!(raw.contains(&project.project_id.to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_at_the_provider_reaches_on_exit_in_chromium() {
    let (_app, _provider, _project, example) = arrange("latchkey-browser", "browser-secret").await;
    let shown = tokio::task::spawn_blocking(move || drive(&example.url.clone(), "deny")).await.unwrap();
    assert!(shown["error"].is_null(), "{shown}");
    assert_eq!(shown["status"], "Not connected: access_denied", "{shown}");
    assert_eq!(shown["modalOpen"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_modal_keeps_focus_and_escape_inside_it_closes_it_in_chromium() {
    // Arrange
    let (_app, _provider, _project, example) = arrange("latchkey-browser", "browser-secret").await;

    // Act: Tab and Shift+Tab around the open modal, then Escape with focus inside the frame.
    let url = example.url.clone();
    let shown = tokio::task::spawn_blocking(move || drive(&url, "keyboard")).await.unwrap();

    // Assert: focus never left the frame; the frame relayed Escape, so the SDK closed the modal,
    // called onExit(null) ("Closed") and gave focus back to the button that opened it.
    assert!(shown["error"].is_null(), "{shown}");
    assert_eq!(shown["focusOutside"], serde_json::json!([]), "focus left the modal: {shown}");
    assert_eq!(shown["status"], "Closed", "{shown}");
    assert_eq!(shown["modalOpen"], false);
    assert_eq!(shown["focused"], "connect", "{shown}");
    assert_eq!(shown["consoleErrors"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_pastes_an_api_key_in_the_modal_in_chromium() {
    // Arrange: an API-key connector beside the OAuth one.
    let (app, _provider, project, example) = arrange("latchkey-browser", "browser-secret").await;
    let new = latchkey::admin::NewConnector {
        uid: "keys/acme".into(),
        display_name: Some("Acme API".into()),
        auth_mode: latchkey::model::AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: Vec::new(),
        fields: Vec::new(),
    };
    latchkey::admin::create_connector(&app.state, new).await.unwrap();
    latchkey::admin::link_connector(&app.state, "keys/acme", &project.project_id, &["production".into()]).await.unwrap();

    // Act
    let url = example.url.clone();
    let shown = tokio::task::spawn_blocking(move || drive(&url, "api-key")).await.unwrap();

    // Assert
    assert!(shown["error"].is_null(), "{shown}");
    assert!(shown["status"].as_str().unwrap().starts_with("Connected: conn_"), "{shown}");
    assert!(shown["status"].as_str().unwrap().contains("keys/acme"), "{shown}");
    assert!(!app.raw_store().await.contains("demo-key-typed-by-a-person"), "the key is sealed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_uses_a_session_in_chromium() {
    // Arrange: a project that returns to the example app, two sessions (auto-redirect; isolation).
    let (app, _provider, project, example) = arrange("latchkey-browser", "browser-secret").await;
    let session = |settings: serde_json::Value| {
        let (app, key, redirect) = (&app, project.secret_key.clone(), format!("{}/", example.url));
        async move {
            let body = serde_json::json!({"consumer_id": "user-1", "redirect_uri": redirect, "settings": settings});
            let created: Value = app.http.post(app.url("/v1/sessions")).bearer_auth(key).json(&body).send().await.unwrap().json().await.unwrap();
            created
        }
    };
    let overview = session(serde_json::json!({"auto_redirect": true})).await["url"].as_str().unwrap().to_owned();
    let isolated_token = session(serde_json::json!({"isolation_mode": true})).await["session_token"].as_str().unwrap().to_owned();
    let isolated = app.url(&format!("/connect/other/oidc?jwt={isolated_token}"));

    // Act
    let shots = std::env::var("LATCHKEY_SCREENSHOTS").ok();
    let redirect = example.url.clone();
    let shown = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("node");
        command.current_dir(workspace_root().join("tests/e2e")).args([
            "session-browser.mjs",
            "--session",
            &overview,
            "--isolated",
            &isolated,
            "--redirect",
            &redirect,
        ]);
        if let Some(dir) = &shots {
            command.args(["--screenshots", dir]);
        }
        let output = command.output().expect("run the session driver");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        serde_json::from_str::<Value>(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| panic!("driver: {stdout} {}", String::from_utf8_lossy(&output.stderr)))
    })
    .await
    .unwrap();

    // Assert
    assert!(shown["error"].is_null(), "{shown}");
    assert_eq!(shown["initialState"], "available");
    assert!(shown["redirectedTo"].as_str().unwrap().contains("public_token=lk_public_"), "{shown}");
    assert_eq!(shown["connectedState"], "callable");
    assert_eq!(shown["disconnectedState"], "added");
    assert_eq!(shown["reauthorizedState"], "callable");
    assert_eq!(shown["isolatedConnectors"], 1);
    assert_eq!(shown["isolatedHasBack"], false);
}
