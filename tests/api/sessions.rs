//! Sessions (Apideck Vault's flow): creating them, the hosted page with a session (overview with
//! states, deep links, isolation, auto-redirect, reauthorize / disconnect / delete), signing-key
//! rotation, and the background sweep.

use latchkey::model::{Connection, ConnectionState, Stored};
use latchkey::{Clock, SecretString};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, redirect_param, Agent, APP_ORIGIN};
use crate::provider::Provider;

async fn arrange() -> (TestApp, Provider, link::Linked) {
    let app = TestApp::spawn().await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    latchkey::admin::create_catalog_connector(&app.state, "hubspot/acme", "hubspot", Some("cid".into()), Some(SecretString::new("s")), vec![]).await.unwrap();
    latchkey::admin::link_connector(&app.state, "hubspot/acme", &project.project_id, &["production".into()]).await.unwrap();
    (app, provider, project)
}

async fn session(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let response = app.http.post(app.url("/v1/sessions")).bearer_auth(key).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn jwt(app: &TestApp, key: &str, settings: Value) -> String {
    let (status, body) = session(app, key, json!({"consumer_id": "user-1", "redirect_uri": format!("{APP_ORIGIN}/done"), "settings": settings})).await;
    assert_eq!(status, 201, "{body}");
    body["session_token"].as_str().unwrap().to_owned()
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.http.get(app.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Authorizes oidc/test from a session page; returns the callback's response.
async fn authorize(app: &TestApp, token: &str) -> reqwest::Response {
    let mut agent = Agent::default();
    let callback = agent.authorize(app, token).await;
    agent.callback(app, &callback).await
}

#[tokio::test]
async fn sessions_are_validated_and_signed() {
    let (app, _provider, project) = arrange().await;
    let key = project.secret_key.as_str();
    let ok = json!({"consumer_id": "user-1", "redirect_uri": format!("{APP_ORIGIN}/done")});
    let (status, body) = session(&app, key, ok.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["url"].as_str().unwrap().starts_with(&app.url("/connect?jwt=eyJ")));
    assert_eq!(body["session_token"].as_str().unwrap().split('.').count(), 3);
    for (bad, code) in [
        (json!({"consumer_id": "u", "redirect_uri": "https://evil.example/done"}), "redirect_url_not_allowed"),
        (json!({"consumer_id": "u", "redirect_uri": format!("{APP_ORIGIN}/d"), "settings": {"session_length": "8d"}}), "invalid_request"),
        (json!({"consumer_id": "u", "redirect_uri": format!("{APP_ORIGIN}/d"), "settings": {"allow_actions": ["explode"]}}), "invalid_json"),
        (json!({"consumer_id": "u", "redirect_uri": format!("{APP_ORIGIN}/d"), "settings": {"unified_apis": ["nonsense"]}}), "invalid_request"),
        (json!({"consumer_id": "u", "redirect_uri": format!("{APP_ORIGIN}/d"), "theme": {"primary_color": "red"}}), "invalid_request"),
        (json!({"redirect_uri": format!("{APP_ORIGIN}/d")}), "invalid_request"),
    ] {
        let (status, answer) = session(&app, key, bad.clone()).await;
        assert_eq!((status, answer["error"]["code"].as_str().unwrap()), (400, code), "{bad}");
    }
    let with_header = app
        .http
        .post(app.url("/v1/sessions"))
        .bearer_auth(key)
        .header("x-latchkey-consumer-id", "user-7")
        .json(&json!({"redirect_uri": format!("{APP_ORIGIN}/done"), "settings": {"session_length": "30m"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 201);
}

#[tokio::test]
async fn the_overview_shows_states_and_acts_on_connections() {
    // Arrange
    let (app, _provider, project) = arrange().await;
    let token = jwt(&app, &project.secret_key, json!({})).await;

    // Act: connect from the session (no auto_redirect: the result is shown, not redirected).
    let done = authorize(&app, &token).await;
    let (_, overview) = page(&app, &format!("/connect?jwt={token}")).await;

    // Assert
    assert_eq!(done.status(), 200);
    assert!(overview.contains("data-uid=\"oidc/test\"") && overview.contains("data-state=\"callable\""), "{overview}");
    assert!(overview.contains("data-action=\"disconnect\"") && overview.contains("data-action=\"delete\""));

    // Disconnect: revoked, credentials gone, state added; the broker asks for a new authorization.
    let form = [("jwt", token.as_str()), ("connector", "oidc/test"), ("action", "disconnect")];
    let after = Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/actions"), Some(&form)).await;
    assert_eq!(after.status(), 303);
    let (_, overview) = page(&app, &format!("/connect?jwt={token}")).await;
    assert!(overview.contains("data-state=\"added\""), "{overview}");

    // Reauthorize: callable again.
    let mut agent = Agent::default();
    let form = [("jwt", token.as_str()), ("connector", "oidc/test"), ("action", "reauthorize")];
    let start = agent.send(&app, reqwest::Method::POST, &app.url("/connect/actions"), Some(&form)).await;
    assert_eq!(start.status(), 303);
    let mut location = start.headers()["location"].to_str().unwrap().to_owned();
    while !location.starts_with(&app.base) {
        let next = agent.send(&app, reqwest::Method::GET, &location, None).await;
        location = url::Url::parse(&location).unwrap().join(next.headers()["location"].to_str().unwrap()).unwrap().to_string();
    }
    assert_eq!(agent.callback(&app, &location).await.status(), 200);
    let (_, overview) = page(&app, &format!("/connect?jwt={token}")).await;
    assert!(overview.contains("data-state=\"callable\""));

    // Delete: gone.
    let form = [("jwt", token.as_str()), ("connector", "oidc/test"), ("action", "delete")];
    Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/actions"), Some(&form)).await;
    let partition = latchkey::model::Project::partition_of(&project.project_id);
    assert!(Stored::<Connection>::query(app.state.store.as_ref(), &partition, Connection::SK_PREFIX).await.unwrap().is_empty());
}

#[tokio::test]
async fn actions_the_session_does_not_allow_are_refused() {
    let (app, _provider, project) = arrange().await;
    let token = jwt(&app, &project.secret_key, json!({"allow_actions": ["reauthorize"]})).await;
    authorize(&app, &token).await;
    let form = [("jwt", token.as_str()), ("connector", "oidc/test"), ("action", "delete")];
    let refused = Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/actions"), Some(&form)).await;
    assert_eq!(refused.status(), 400);
    let (_, overview) = page(&app, &format!("/connect?jwt={token}")).await;
    assert!(!overview.contains("data-action=\"delete\"") && overview.contains("data-state=\"callable\""));
}

#[tokio::test]
async fn auto_redirect_returns_to_the_app_once_callable() {
    let (app, _provider, project) = arrange().await;
    let token = jwt(&app, &project.secret_key, json!({"auto_redirect": true})).await;
    let done = authorize(&app, &token).await;
    assert_eq!(done.status(), 303);
    assert!(redirect_param(&done, "public_token").is_some());
    assert!(done.headers()["location"].to_str().unwrap().starts_with(&format!("{APP_ORIGIN}/done?")));
}

#[tokio::test]
async fn deep_links_show_one_connector_and_isolation_hides_the_way_back() {
    let (app, _provider, project) = arrange().await;
    let open = jwt(&app, &project.secret_key, json!({})).await;
    let isolated = jwt(&app, &project.secret_key, json!({"isolation_mode": true})).await;

    let (status, deep) = page(&app, &format!("/connect/crm/hubspot?jwt={open}")).await;
    let (_, walled) = page(&app, &format!("/connect/crm/hubspot?jwt={isolated}")).await;
    let (missing, _) = page(&app, &format!("/connect/crm/salesforce?jwt={open}")).await;

    assert_eq!(status, 200);
    assert!(deep.contains("HubSpot") && !deep.contains("data-uid=\"oidc/test\""), "only the deep-linked connector");
    assert!(deep.contains("id=\"back\""), "a way back to the overview");
    assert!(deep.contains("id=\"sidebar\"") && deep.contains("Test Provider</a>"), "the sidebar lists the others");
    assert!(!walled.contains("id=\"back\"") && !walled.contains("id=\"sidebar\""), "isolation mode hides both");
    assert_eq!(missing, 403);
    let bare = jwt(&app, &project.secret_key, json!({"show_sidebar": false})).await;
    let (_, no_sidebar) = page(&app, &format!("/connect/crm/hubspot?jwt={bare}")).await;
    assert!(no_sidebar.contains("id=\"back\"") && !no_sidebar.contains("id=\"sidebar\""));
}

#[tokio::test]
async fn a_sessions_theme_names_the_app_and_shows_its_logo_and_colour() {
    let (app, _provider, project) = arrange().await;
    let theme = json!({"name": "Acme CRM", "logo": format!("{APP_ORIGIN}/logo.png"), "primary_color": "#aa3300"});
    let body = json!({"consumer_id": "user-1", "redirect_uri": format!("{APP_ORIGIN}/done"), "theme": theme});
    let (_, created) = session(&app, &project.secret_key, body).await;
    let response = app.http.get(created["url"].as_str().unwrap()).send().await.unwrap();
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = response.text().await.unwrap();
    assert!(html.contains("Connect an account to Acme CRM"), "the page names the app");
    assert!(html.contains(&format!("src=\"{APP_ORIGIN}/logo.png\"")) && csp.contains(&format!("img-src 'self' data: {APP_ORIGIN}")), "{csp}");
    assert!(html.contains("--accent:#aa3300"));
    let bad_logo = json!({"consumer_id": "u", "redirect_uri": format!("{APP_ORIGIN}/done"), "theme": {"logo": "https://evil.example/x.png"}});
    assert_eq!(session(&app, &project.secret_key, bad_logo).await.0, 400);
}

#[tokio::test]
async fn rotating_the_signing_key_keeps_live_sessions_working() {
    let (app, _provider, project) = arrange().await;
    let before = jwt(&app, &project.secret_key, json!({})).await;
    latchkey::session::keys::rotate(&app.state).await.unwrap();
    let after = jwt(&app, &project.secret_key, json!({})).await;
    let kid = |t: &str| {
        use base64::Engine;
        let header: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    assert_ne!(kid(&before), kid(&after), "new sessions use the new key");
    assert_eq!(page(&app, &format!("/connect?jwt={before}")).await.0, 200, "old sessions still open");
    app.clock.advance(3601);
    let fresh = jwt(&app, &project.secret_key, json!({})).await;
    assert_eq!(page(&app, &format!("/connect?jwt={after}")).await.0, 410, "an expired session does not open");
    assert_eq!(page(&app, &format!("/connect?jwt={fresh}")).await.0, 200);
    let forged = format!("{}x", &fresh[..fresh.len() - 1]);
    assert_eq!(page(&app, &format!("/connect?jwt={forged}")).await.0, 410);
}

/// Moves the connection of `user-1` to expire `secs` from now, as a one-hour token.
async fn expire_in(app: &TestApp, project: &link::Linked, secs: i64) {
    let partition = latchkey::model::Project::partition_of(&project.project_id);
    let mut stored = Stored::<Connection>::query(app.state.store.as_ref(), &partition, Connection::SK_PREFIX).await.unwrap().remove(0);
    stored.record.token_expires_at = Some(app.clock.now().plus_secs(secs));
    stored.record.token_issued_at = Some(app.clock.now().plus_secs(secs - 3600));
    stored.save(app.state.store.as_ref()).await.unwrap();
}

async fn the_connection(app: &TestApp, project: &link::Linked) -> Connection {
    let partition = latchkey::model::Project::partition_of(&project.project_id);
    Stored::<Connection>::query(app.state.store.as_ref(), &partition, Connection::SK_PREFIX).await.unwrap().remove(0).record
}

#[tokio::test]
async fn the_sweep_refreshes_ahead_of_expiry_keeps_idle_tokens_alive_and_spends_a_failure_budget() {
    // Arrange: a connection that expires in ten minutes.
    let (app, provider, project) = arrange().await;
    let token = jwt(&app, &project.secret_key, json!({})).await;
    authorize(&app, &token).await;
    expire_in(&app, &project, 600).await;

    // Refresh ahead of expiry.
    let report = latchkey::token::background::sweep(&app.state).await;
    assert_eq!(report.refreshed, 1, "{report:?}");
    assert_eq!(provider.issued().await["refresh_grants"], 1);
    assert!(latchkey::token::background::sweep(&app.state).await.refreshed == 0, "nothing left to do");

    // Keep alive: valid for a month, but untouched for a week.
    expire_in(&app, &project, 30 * 86400).await;
    app.clock.advance(8 * 86400);
    assert_eq!(latchkey::token::background::sweep(&app.state).await.refreshed, 1);
    assert_eq!(provider.issued().await["refresh_grants"], 2);

    // The provider goes down: failures until the budget is spent, then invalid.
    provider.fail_token_endpoint(503, 1000).await;
    expire_in(&app, &project, 60).await;
    let mut invalidated = 0;
    for _ in 0..latchkey::token::background::FAILURE_BUDGET + 1 {
        invalidated += latchkey::token::background::sweep(&app.state).await.invalidated;
        app.clock.advance(1200);
    }
    assert_eq!(invalidated, 1);
    assert_eq!(the_connection(&app, &project).await.state, ConnectionState::Invalid);
}
