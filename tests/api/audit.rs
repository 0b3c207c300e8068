//! The audit trail: every credential use and change is in it, with who, from where and how it
//! ended (refusals included); it pages newest first; it holds no secret; the CLI's changes are in
//! it and an export reads it whole.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, Agent};

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app.http.post(app.url(path)).bearer_auth(key).header("user-agent", "audit-test/1").json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn trail(app: &TestApp, key: &str, query: &str) -> Value {
    let response = app.http.get(app.url(&format!("/v1/audit{query}"))).bearer_auth(key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every page of the trail, newest first.
async fn whole_trail(app: &TestApp, key: &str) -> Vec<Value> {
    let (mut events, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = trail(app, key, &format!("?limit=7&cursor={cursor}")).await;
        events.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return events,
        }
    }
}

#[tokio::test]
async fn every_credential_use_and_change_is_in_the_trail_with_its_outcome_and_no_secret() {
    // Arrange
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let key = project.secret_key.clone();

    // Act: a connection made on the Connect page, exchanged, used, refused, revoked, imported, deleted.
    let token = link::link_token(&app, &key, "bob").await;
    let form = [("link_token", token.as_str()), ("connector", "keys/acme"), ("mode", "page"), ("api_key", "bobs-secret-api-key")];
    let done = Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/credentials"), Some(&form)).await;
    let public = link::redirect_param(&done, "public_token").unwrap();
    let (_, exchanged) = post(&app, &key, "/v1/link/exchange", json!({"public_token": public})).await;
    let access_token = exchanged["access_token"].as_str().unwrap().to_owned();
    let connection_id = exchanged["connection_id"].as_str().unwrap().to_owned();
    let (issued, _) = post(&app, &access_token, "/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "bob"}})).await;
    let (refused, _) = post(&app, &key, "/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "bob"}})).await;
    post(&app, &key, "/v1/access-tokens/revoke", json!({"access_token": access_token})).await;
    let import = json!({"consumer_id": "carol", "connector": "keys/acme", "credentials": {"api_key": "carols-secret-api-key"}});
    let (imported, _) = post(&app, &key, "/v1/connections/import", import).await;
    let deleted = app.http.delete(app.url(&format!("/v1/connections/{connection_id}"))).bearer_auth(&key).send().await.unwrap().status();
    assert_eq!((issued, refused, imported, deleted.as_u16()), (200, 403, 201, 200));

    // Assert
    let events = whole_trail(&app, &key).await;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["outcome"].as_str().unwrap().to_owned(), e["actor_kind"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("connection_deleted", "ok", "secret_key"),
        ("credentials_imported", "ok", "secret_key"),
        ("access_token_revoked", "ok", "secret_key"),
        ("token_issued", "subject_not_allowed", "secret_key"),
        ("token_issued", "ok", "connection_token"),
        ("access_token_issued", "ok", "secret_key"),
        ("connection_created", "ok", "end_user"),
    ];
    let expected: Vec<(String, String, String)> = expected.iter().map(|(a, o, k)| (a.to_string(), o.to_string(), k.to_string())).collect();
    assert_eq!(summary, expected, "newest first, one per action, none missing and none extra");
    let issued = &events[4];
    assert_eq!((issued["connection_id"].as_str(), issued["connector"].as_str()), (Some(connection_id.as_str()), Some("keys/acme")));
    assert_eq!((issued["source_ip"].as_str(), issued["user_agent"].as_str()), (Some("127.0.0.1"), Some("audit-test/1")));
    assert_eq!((issued["detail"]["route"].as_str(), issued["detail"]["status"].as_u64()), (Some("/v1/token/{connector}"), Some(200)));
    assert_eq!(events[6]["actor_id"], "bob", "the end user who connected");
    let raw = serde_json::to_string(&events).unwrap();
    for secret in [key.as_str(), access_token.as_str(), "bobs-secret-api-key", "carols-secret-api-key", public.as_str()] {
        assert!(!raw.contains(secret), "a secret is in the audit trail");
    }
    let filtered = trail(&app, &key, &format!("?action=token_issued&connection_id={connection_id}")).await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1, "the refusal named no connection");
    let bad = app.http.get(app.url("/v1/audit?action=nonsense")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let user_key = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("bob".into())).await.unwrap().1;
    let denied = app.http.get(app.url("/v1/audit")).bearer_auth(user_key.expose()).send().await.unwrap();
    assert_eq!(denied.status(), 403, "a key bound to one end user does not read the project's trail");
}

#[tokio::test]
async fn the_trail_pages_newest_first_without_losing_or_repeating_an_event() {
    // Arrange: 120 refused token requests (each one event).
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    for _ in 0..120 {
        post(&app, &project.secret_key, "/v1/token/keys%2Fnone", json!({"subject": {"type": "app"}})).await;
    }

    // Act
    let events = whole_trail(&app, &project.secret_key).await;

    // Assert
    assert_eq!(events.len(), 120);
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 120, "no event twice");
    assert!(events.windows(2).all(|w| w[0]["at_ms"].as_i64() >= w[1]["at_ms"].as_i64()), "newest first");
    assert!(events.iter().all(|e| e["outcome"] == "connector_not_found"));
}

#[test]
fn the_operators_changes_are_in_the_trail_and_an_export_reads_it_whole() {
    use crate::cli::{json, latchkey};
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = json(&latchkey(d, &["--json", "projects", "create", "--name", "Acme"], &[], None))[0]["id"].as_str().unwrap().to_owned();
    let key = json(&latchkey(d, &["--json", "keys", "create", "--project", &project, "--environment", "production"], &[], None));
    let key_id = key["key_id"].as_str().unwrap().to_owned();

    // Act
    latchkey(d, &["keys", "revoke", "--project", &project, "--key-id", &key_id], &[], None);
    latchkey(d, &["keys", "revoke", "--project", &project, "--key-id", "key_missing"], &[], None);
    let export = latchkey(d, &["audit", "export", "--project", &project], &[], None);
    let listed = json(&latchkey(d, &["--json", "audit", "list", "--project", &project, "--action", "secret_key_revoked"], &[], None));

    // Assert
    let lines: Vec<Value> = String::from_utf8_lossy(&export.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let actions: Vec<(&str, &str, &str)> =
        lines.iter().map(|e| (e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap(), e["actor_kind"].as_str().unwrap())).collect();
    assert_eq!(actions, vec![("secret_key_revoked", "exit_3", "operator"), ("secret_key_revoked", "ok", "operator"), ("secret_key_created", "ok", "operator")]);
    assert_eq!(lines[1]["detail"]["key_id"], key_id.as_str());
    let listed_ids: Vec<&Value> = listed["data"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    assert_eq!(listed_ids, vec![&lines[0]["id"], &lines[1]["id"]], "the listing and the export agree");
    assert!(!String::from_utf8_lossy(&export.stdout).contains(key["secret_key"].as_str().unwrap_or("lk_sk_")));
}
