//! The world the page checks run in (the accessibility check and the screenshots): a project with
//! an app name and a logo, every kind of connector the Connect page renders differently, three
//! sandbox connectors (one that works, one switched to deny, one switched to answer 503), a
//! consumer's connections in each state a session shows, and the links that open each state.

use latchkey::admin::{self, Branding, NewConnector, NewProject, SandboxConnector};
use latchkey::model::{AuthMode, Connection, ConnectionState, LinkToken, Project, ProjectId, Record, Stored};
use latchkey::sandbox::clients::{change_client, ClientChanges};
use latchkey::{Clock, SecretString};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{workspace_root, TestApp};
use crate::link_helpers::APP_ORIGIN;

pub const CONSUMER: &str = "user-1";

/// The connectors a plain list shows (the sandbox's misbehaving twins only where they are meant).
pub const LISTED: [&str; 7] = ["slack/acme", "zendesk/acme", "xero/acme", "hubspot/acme", "keys/acme", "basic/acme", "sandbox/ok"];

/// Serves the app's logo (an SVG) on a loopback port, as an app's own site would.
pub async fn logo_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 40 40'><rect width='40' height='40' rx='9' fill='#0f766e'/>\
                   <path d='M11 28 20 11l9 17h-5l-4-8-4 8z' fill='#fff'/></svg>";
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request).await;
            let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: image/svg+xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{svg}", svg.len());
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    format!("{origin}/logo.svg")
}

/// The project and every connector; returns the project and its key.
pub async fn arrange(app: &TestApp) -> (ProjectId, String) {
    let new = NewProject { name: "acme-crm-prod".into(), environments: Vec::new(), allowed_origins: vec![APP_ORIGIN.into()] };
    let project = admin::create_project(&app.state, new).await.unwrap();
    let branding = Branding { display_name: Some("Acme CRM".into()), logo_url: Some(logo_server().await) };
    admin::set_branding(&app.state, &project.id, branding).await.unwrap();
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
    for (name, changes) in [
        ("ok", ClientChanges::default()),
        ("deny", ClientChanges { deny: Some(true), ..Default::default() }),
        ("down", ClientChanges { unavailable: Some(true), ..Default::default() }),
    ] {
        let spec = SandboxConnector { uid: format!("sandbox/{name}"), base_url: app.base.clone(), other_bases: vec![], access_token_lifetime_secs: 3600 };
        let (_, client) = admin::create_sandbox_connector(&app.state, spec).await.unwrap();
        change_client(&app.state, &client.client_id, changes).await.unwrap();
    }
    for uid in LISTED.iter().chain(&["sandbox/deny", "sandbox/down"]) {
        admin::link_connector(&app.state, uid, &project.id, &["production".into()]).await.unwrap();
    }
    (project.id, key.expose().to_owned())
}

/// The consumer's connections, one in each state the overview shows: callable, invalid,
/// disconnected, and authorized with a tenant to choose (the configuration step).
pub async fn connections(app: &TestApp, key: &str, project: &ProjectId) {
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

pub async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> Value {
    let response = app.http.post(app.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

/// A link token for the consumer offering `connectors`, in `lang` if given, that returns to the
/// app when opened as a full page.
pub async fn link(app: &TestApp, key: &str, connectors: &[&str], lang: Option<&str>) -> String {
    let mut body = json!({"end_user": {"id": CONSUMER}, "redirect_url": format!("{APP_ORIGIN}/done"), "connectors": connectors});
    if let Some(lang) = lang {
        body["lang"] = json!(lang);
    }
    post(app, key, "/v1/link/token", body).await["link_token"].as_str().unwrap().to_owned()
}

/// The Connect page for `token` as a full page, or inside the app's modal.
pub fn page_url(app: &TestApp, token: &str, modal: bool) -> String {
    match modal {
        true => app.url(&format!("/connect?link_token={token}&mode=modal&origin={APP_ORIGIN}")),
        false => app.url(&format!("/connect?link_token={token}")),
    }
}

/// A link token of the project that expired a minute ago, stored as a live one would be.
pub async fn expired_link(app: &TestApp, project: &ProjectId) -> String {
    let token = latchkey::model::link::mint_token(LinkToken::PREFIX);
    let now = app.clock.now();
    let record = LinkToken {
        hash: token.sha256_hex(),
        project_id: project.clone(),
        environment: latchkey::model::EnvironmentName::parse("production").unwrap(),
        end_user: latchkey::model::EndUser { id: latchkey::model::ConsumerId::parse(CONSUMER).unwrap(), email: None, display_name: None },
        connectors: Vec::new(),
        connection_id: None,
        redirect_url: Some(format!("{APP_ORIGIN}/done")),
        session: None,
        lang: None,
        created_at: now.plus_secs(-4 * 3600),
        valid_until: now.plus_secs(-60),
    };
    app.state.store.put(&record.to_item().unwrap()).await.unwrap();
    token.expose().to_owned()
}

/// What a person does to reach the sandbox's outcomes from a modal Connect page: the provider's
/// window opens in the same tab (no opener to relay to), Connect, then Allow where asked.
pub fn through_the_sandbox(connector: &str, approve: bool) -> Vec<Value> {
    let mut steps = vec![json!({"untarget": "form[action='/connect/oauth/start']"}), json!({"submit": format!("button[data-connector='{connector}']")})];
    if approve {
        steps.push(json!({"submit": "#approve"}));
    }
    steps.push(json!({"wait": "#result-text"}));
    steps
}

/// Runs a driver of `tests/e2e` with the states file; its JSON answer.
pub fn drive(script: &str, states: &Value, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("states.json");
    std::fs::write(&file, states.to_string()).unwrap();
    let output = std::process::Command::new("node")
        .current_dir(workspace_root().join("tests/e2e"))
        .arg(script)
        .arg("--states")
        .arg(&file)
        .args(extra)
        .output()
        .expect("run the browser driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|_| panic!("{script}: {stdout} {}", String::from_utf8_lossy(&output.stderr)))
}
