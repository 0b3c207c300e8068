//! Every page state people see, checked by axe-core in headless Chromium (light and dark): the
//! Connect page for a link token (the list, search with and without results, the key and password
//! forms, a connector that asks for a subdomain, modal and page mode), a session's overview with
//! connections in each state (and the configuration step), a deep link, the authorize
//! confirmation, the result pages (success and exit; in page mode a result is a redirect to the
//! app, so there is none to check) and the error pages. Any
//! violation fails the test with its rule id; so does a search whose result the live region does
//! not announce.

use std::process::Command;

use latchkey::admin::{self, NewConnector, NewProject};
use latchkey::model::{AuthMode, Connection, ConnectionState, Project, Stored};
use latchkey::SecretString;
use serde_json::{json, Value};

use crate::helpers::{workspace_root, TestApp};
use crate::link_helpers::APP_ORIGIN;

const CONSUMER: &str = "user-1";

/// A project with every kind of connector the page renders differently; returns its key.
async fn arrange(app: &TestApp) -> (latchkey::model::ProjectId, String) {
    let new = NewProject { name: "Acme CRM".into(), environments: Vec::new(), allowed_origins: vec![APP_ORIGIN.into()] };
    let project = admin::create_project(&app.state, new).await.unwrap();
    let (_, key) = admin::create_secret_key(&app.state, &project.id, "production").await.unwrap();
    for (uid, provider) in [("slack/acme", "slack"), ("zendesk/acme", "zendesk"), ("xero/acme", "xero"), ("hubspot/acme", "hubspot")] {
        admin::create_catalog_connector(&app.state, uid, provider, Some("client".into()), Some(SecretString::new("secret")), vec![]).await.unwrap();
    }
    for (uid, name, auth_mode) in [("keys/acme", "Acme API", AuthMode::ApiKey), ("basic/acme", "Acme Basic", AuthMode::Basic)] {
        let new = NewConnector {
            uid: uid.into(),
            display_name: Some(name.into()),
            auth_mode,
            oauth: None,
            client_id: None,
            client_secret: None,
            default_scopes: vec![],
            fields: vec![],
        };
        admin::create_connector(&app.state, new).await.unwrap();
    }
    for uid in ["slack/acme", "zendesk/acme", "xero/acme", "hubspot/acme", "keys/acme", "basic/acme"] {
        admin::link_connector(&app.state, uid, &project.id, &["production".into()]).await.unwrap();
    }
    (project.id, key.expose().to_owned())
}

/// The consumer's connections, one in each state the overview shows: callable, invalid,
/// disconnected, and authorized with a tenant to choose (the configuration step).
async fn connections(app: &TestApp, key: &str, project: &latchkey::model::ProjectId) {
    for (connector, credentials) in [
        ("keys/acme", json!({"api_key": "k"})),
        ("hubspot/acme", json!({"access_token": "a", "expires_in": 3600})),
        ("slack/acme", json!({"access_token": "a", "expires_in": 3600})),
        ("xero/acme", json!({"access_token": "a", "expires_in": 3600})),
    ] {
        let body = json!({"consumer_id": CONSUMER, "connector": connector, "credentials": credentials});
        let imported = app.http.post(app.url("/v1/connections/import")).bearer_auth(key).json(&body).send().await.unwrap();
        assert_eq!(imported.status(), 201, "import {connector}");
    }
    let store = app.state.store.as_ref();
    for mut stored in Stored::<Connection>::query(store, &Project::partition_of(project), Connection::SK_PREFIX).await.unwrap() {
        stored.record.state = match stored.record.connector.as_str() {
            "hubspot/acme" => ConnectionState::Invalid,
            "slack/acme" => ConnectionState::Added,
            "xero/acme" => {
                let tenants = json!([{"id": "t-1", "name": "Acme Ltd"}, {"id": "t-2", "name": "Acme Holdings"}]);
                stored.record.metadata.insert("tenants".into(), tenants);
                ConnectionState::Authorized
            }
            _ => continue,
        };
        stored.save(store).await.unwrap();
    }
}

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> Value {
    let response = app.http.post(app.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

/// A fresh link token for the consumer (each form submission uses its own). A full page returns to
/// the app, so the link names where.
async fn link_token(app: &TestApp, key: &str) -> String {
    let body = json!({"end_user": {"id": CONSUMER}, "redirect_url": format!("{APP_ORIGIN}/done")});
    post(app, key, "/v1/link/token", body).await["link_token"].as_str().unwrap().to_owned()
}

/// A session for `consumer` that returns to the app; its token.
async fn session(app: &TestApp, key: &str, consumer: &str) -> String {
    let body = json!({"consumer_id": consumer, "redirect_uri": format!("{APP_ORIGIN}/done")});
    post(app, key, "/v1/sessions", body).await["session_token"].as_str().unwrap().to_owned()
}

/// Every state: a name, a URL, and what a person does there before the check.
async fn states(app: &TestApp, key: &str) -> Value {
    let list = app.url(&format!("/connect?link_token={}", link_token(app, key).await));
    let modal = |token: String| app.url(&format!("/connect?link_token={token}&mode=modal&origin={APP_ORIGIN}"));
    let jwt = session(app, key, CONSUMER).await;
    let listed = app.http.get(app.url(&format!("/v1/connections?consumer_id={CONSUMER}"))).bearer_auth(key).send().await.unwrap();
    let listed: Value = listed.json().await.unwrap();
    let authorize = listed["data"].as_array().unwrap().iter().find_map(|c| c["authorize_url"].as_str()).expect("an authorize link").to_owned();
    let open_key = json!({"click": "summary[data-connector='keys/acme']"});
    let paste = [open_key.clone(), json!({"fill": "#key-keys\\/acme", "value": "typed-by-a-person"}), json!({"submit": "#key-keys\\/acme ~ button"})];
    let blank = [open_key.clone(), json!({"unrequire": "#key-keys\\/acme"}), json!({"submit": "#key-keys\\/acme ~ button"})];
    let overview = app.url(&format!("/connect?jwt={jwt}"));
    json!([
        {"name": "connect: the connectors (page)", "url": list},
        {"name": "connect: the connectors (modal)", "url": modal(link_token(app, key).await)},
        {"name": "connect: search with results", "url": list,
         "steps": [{"fill": "#search", "value": "ac"}, {"text": "#search-status", "is": "3 integrations match."}]},
        {"name": "connect: search without results", "url": list,
         "steps": [{"fill": "#search", "value": "nothing-matches"}, {"text": "#search-status", "is": "No integration matches."}]},
        {"name": "connect: the API-key form", "url": list, "steps": [open_key]},
        {"name": "connect: the password form", "url": list, "steps": [{"click": "summary[data-connector='basic/acme']"}]},
        {"name": "session: the overview", "url": overview},
        {"name": "session: a deep link", "url": app.url(&format!("/connect/accounting/xero?jwt={jwt}"))},
        {"name": "authorize: the confirmation", "url": authorize},
        {"name": "result: success (modal)", "url": modal(link_token(app, key).await), "steps": paste},
        {"name": "result: exit (modal)", "url": modal(link_token(app, key).await), "steps": blank},
        {"name": "error: an unknown link", "url": app.url("/connect?link_token=lk_link_unknown")},
        {"name": "error: a bad request", "url": app.url("/connect")},
    ])
}

/// Runs the axe driver over `states`; its JSON answer.
fn audit(states: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("states.json");
    std::fs::write(&file, states.to_string()).unwrap();
    let mut command = Command::new("node");
    command.current_dir(workspace_root().join("tests/e2e")).arg("a11y.mjs").arg("--states").arg(&file);
    if let Ok(shots) = std::env::var("LATCHKEY_SCREENSHOTS") {
        command.args(["--screenshots", &shots]);
    }
    let output = command.output().expect("run the axe driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("axe driver: {stdout} {}", String::from_utf8_lossy(&output.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn axe_finds_no_violation_on_any_page_state() {
    // Arrange
    let app = TestApp::spawn().await;
    let (project, key) = arrange(&app).await;
    connections(&app, &key, &project).await;
    let states = states(&app, &key).await;

    // Act
    let found = tokio::task::spawn_blocking(move || audit(&states)).await.unwrap();

    // Assert: every state reached in both schemes, and nothing found on any.
    let results = found["results"].as_array().expect("results");
    assert_eq!(results.len(), 26, "{found}");
    let mut problems = Vec::new();
    for result in results {
        let name = result["name"].as_str().unwrap_or_default();
        if let Some(error) = result["error"].as_str() {
            problems.push(format!("{name}: not reached: {error}"));
        }
        for violation in result["violations"].as_array().into_iter().flatten() {
            problems.push(format!("{name}: {} ({}): {} at {}", violation["id"], violation["impact"], violation["help"], violation["targets"]));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
