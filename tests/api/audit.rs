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
    assert_eq!((issued["detail"]["status"].as_u64(), issued["detail"]["route"].as_str()), (Some(200), None), "a token issued implies its route");
    assert!(issued["detail"]["micros"].as_u64().is_some());
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

#[test]
fn a_shared_connectors_rotated_secret_and_deletion_reach_the_trail_of_every_project_linked_to_it() {
    use crate::cli::{json, latchkey};
    // Arrange: one connector linked to two projects, a third project not linked.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = |name: &str| json(&latchkey(d, &["--json", "projects", "create", "--name", name], &[], None))[0]["id"].as_str().unwrap().to_owned();
    let (acme, globex, initech) = (project("Acme"), project("Globex"), project("Initech"));
    let create = ["connectors", "create", "--uid", "slack/shared-slack", "--client-id", "cid", "--client-secret-stdin"];
    assert!(latchkey(d, &create, &[], Some("first-secret-value\n")).status.success());
    for linked in [&acme, &globex] {
        assert!(latchkey(d, &["connectors", "link", "--uid", "slack/shared-slack", "--project", linked, "--environment", "production"], &[], None)
            .status
            .success());
    }

    // Act
    let rotate = ["connectors", "update", "--uid", "slack/shared-slack", "--client-secret-stdin"];
    assert!(latchkey(d, &rotate, &[], Some("rotated-secret-value\n")).status.success());
    assert!(latchkey(d, &["connectors", "delete", "--uid", "slack/shared-slack"], &[], None).status.success());

    // Assert
    let trail = |project: &str| String::from_utf8_lossy(&latchkey(d, &["audit", "export", "--project", project], &[], None).stdout).into_owned();
    for linked in [&acme, &globex] {
        let text = trail(linked);
        let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, vec!["connector_deleted", "connector_changed", "connector_linked"], "{text}");
        assert_eq!(events[1]["detail"]["changed"], json!(["client_secret"]));
        assert_eq!(events[1]["connector"], "slack/shared-slack");
        assert!(events[..2].iter().all(|e| e["actor_kind"] == "operator" && e["outcome"] == "ok"));
        assert!(!text.contains("secret-value"), "a client secret in the trail: {text}");
    }
    assert_eq!(trail(&initech), "", "a project that never used the connector hears nothing of it");
}

/// A CloudWatch Logs subscription's event for `lines`, as Lambda receives it: gzip, then base64.
fn subscription_event(lines: &[String]) -> Value {
    use base64::Engine;
    use std::io::Write;
    let log_events: Vec<Value> = lines.iter().enumerate().map(|(i, line)| json!({"id": i.to_string(), "timestamp": 0, "message": line})).collect();
    let payload = json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/latchkey-issue-token",
        "logStream": "test", "subscriptionFilters": ["audit"], "logEvents": log_events});
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(payload.to_string().as_bytes()).unwrap();
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gzip.finish().unwrap())}})
}

#[tokio::test]
async fn on_lambda_a_request_is_one_log_line_with_its_event_and_metrics_and_audit_ingest_files_it() {
    // Arrange: the issue-token function on DynamoDB and KMS (moto), its standard output kept as
    // CloudWatch would keep it.
    use crate::lambda_emulator::{Call, Emulator};
    let app = TestApp::spawn_on(crate::helpers::Backend::Aws).await;
    let project = link::project(&app, "Lines").await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let import = json!({"consumer_id": "user-9", "connector": "keys/acme", "credentials": {"api_key": "acme-key-lines-9"}});
    assert_eq!(post(&app, &project.secret_key, "/v1/connections/import", import).await.0, 201);
    let (_, user_key) = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-9".into())).await.unwrap();
    let env = crate::lambdas::lambda_env(&app, &crate::helpers::moto_endpoint());
    let emulator = Emulator::start().await;
    let log = app.dir.path().join("issue-token.log");
    let function = latchkey_http::Function::IssueToken.binary_name();
    let instance = emulator.start_function_writing(function, &env, std::fs::File::create(&log).unwrap().into());
    let host = app.base.trim_start_matches("http://").to_owned();
    let body = json!({"subject": {"type": "user", "id": "user-9"}});

    // Act: a token issued, a refused caller; then the log's lines through audit-ingest.
    let issued = emulator.invoke(function, &Call::post("/v1/token/keys%2Facme", body.clone()).bearer(user_key.expose()).event(&host)).await;
    let refused = emulator.invoke(function, &Call::post("/v1/token/keys%2Facme", body).bearer("lk_sk_made_up_key").event(&host)).await;
    drop(instance);
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().filter(|l| l.starts_with('{')).map(str::to_owned).collect();
    let _ingest = emulator.start_function("latchkey-audit-ingest", &env);
    let filed = emulator.invoke_raw("latchkey-audit-ingest", &subscription_event(&lines)).await;

    // Assert: one line per request; the token's carries its event and its latency, the refusal its code.
    assert_eq!((issued.status, refused.status), (200, 401), "{}", refused.body);
    let parsed: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let with_event: Vec<&Value> = parsed.iter().filter(|l| l["audit"].is_object()).collect();
    assert_eq!(with_event.len(), 1, "{lines:#?}");
    let event_line = with_event[0];
    assert_eq!(event_line["audit"]["action"], "token_issued");
    assert!(event_line["audit"]["id"].as_str().unwrap().starts_with("aud_"), "the subscription filter matches `aud_*`");
    // The token's latency is not repeated in EMF: the template's metric filter reads it from the event.
    assert!(event_line.get("_aws").is_none() && event_line.get("TokenLatency").is_none(), "{event_line}");
    let filter = token_latency_filter();
    let at = |path: &str| path.trim_start_matches("$.").split('.').fold(event_line, |value, key| &value[key]);
    assert_eq!(filter["FilterPattern"].as_str(), Some(r#"{ $.audit.action = "token_issued" }"#));
    assert_eq!(at("$.audit.action"), "token_issued");
    let transform = &filter["MetricTransformations"][0];
    assert!(at(transform["MetricValue"].as_str().unwrap()).as_u64().is_some_and(|micros| micros > 0), "{event_line}");
    assert_eq!(at(transform["Dimensions"][0]["Value"].as_str().unwrap()), "ok");
    assert_eq!((transform["MetricName"].as_str(), transform["Unit"].as_str()), (Some("TokenLatency"), Some("Microseconds")));
    // A refusal has no event: its line carries the same metric, with the same unit and dimension, in EMF.
    let refusal = parsed.iter().find(|l| l["AuthRefusals"].is_number()).expect("a line for the refusal");
    assert_eq!((refusal["Code"].as_str(), refusal["status"].as_u64()), (Some("unauthenticated"), Some(401)));
    assert_eq!(refusal["Outcome"].as_str(), Some("unauthenticated"));
    assert!(refusal["TokenLatency"].as_f64().is_some());
    let directives = refusal["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    let latency = directives.iter().find(|d| d["Metrics"][0]["Name"] == "TokenLatency").expect("TokenLatency in EMF");
    assert_eq!((latency["Metrics"][0]["Unit"].as_str(), &latency["Dimensions"][0]), (Some("Microseconds"), &json!(["Outcome"])));
    for secret in ["acme-key-lines-9", user_key.expose(), "lk_sk_made_up_key"] {
        assert!(lines.iter().all(|l| !l.contains(secret)), "no secret in the log");
    }
    assert!(filed.is_null(), "audit-ingest succeeded: {filed}");
    let listed = trail(&app, &project.secret_key, "?action=token_issued").await;
    assert_eq!(listed["data"][0]["id"], event_line["audit"]["id"], "the line's event is in the trail: {listed}");
}

/// template.yaml's metric filter that derives token latency from the token function's audit lines.
fn token_latency_filter() -> serde_yaml::Value {
    let text = std::fs::read_to_string(crate::helpers::workspace_root().join("template.yaml")).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let filter = template["Resources"]["IssueTokenLatencyMetricFilter"]["Properties"].clone();
    // `!Ref IssueTokenLogGroup`, a tagged value.
    assert!(serde_yaml::to_string(&filter["LogGroupName"]).unwrap().contains("IssueTokenLogGroup"), "{filter:?}");
    filter
}
