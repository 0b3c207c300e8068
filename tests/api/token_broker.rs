//! The token broker over HTTP: fresh provider tokens, every error code, the warm-path budget, and
//! single-flight refresh (in one process and across four).

use latchkey::model::{Connection, Record, Stored};
use latchkey::Clock;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::instances::ServeProcess;
use crate::link_helpers::{self as link, redirect_param, Agent};
use crate::provider::Provider;

const URL: &str = "/v1/token/oidc%2Ftest";

struct Connected {
    app: TestApp,
    provider: Provider,
    project: link::Linked,
    access_token: String,
    connection_id: String,
}

async fn connected(backend: Backend) -> Connected {
    let app = TestApp::spawn_on(backend).await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    let done = agent.callback(&app, &callback).await;
    let public_token = redirect_param(&done, "public_token").expect("connected");
    let body: Value = link::exchange(&app, &project.secret_key, &public_token).await.json().await.unwrap();
    Connected {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        connection_id: body["connection_id"].as_str().unwrap().to_owned(),
        app,
        provider,
        project,
    }
}

async fn ask(app: &TestApp, credential: &str, path: &str, body: Value) -> (u16, Value, Option<String>) {
    let response = app.http.post(app.url(path)).bearer_auth(credential).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), retry_after)
}

fn user(id: &str) -> Value {
    json!({"subject": {"type": "user", "id": id}})
}

/// Moves the connection's one-hour token to expire `seconds_from_now` (as if time had passed at
/// the provider).
async fn set_expiry(c: &Connected, seconds_from_now: i64) {
    let connection =
        latchkey::link::token::resolve_connection(&c.app.state, &latchkey::model::ConnectionId::parse(&c.connection_id).unwrap()).await.unwrap().unwrap();
    let mut stored = Stored::<Connection>::get(c.app.state.store.as_ref(), &connection.key()).await.unwrap().unwrap();
    stored.record.token_expires_at = Some(c.app.clock.now().plus_secs(seconds_from_now));
    stored.record.token_issued_at = Some(c.app.clock.now().plus_secs(seconds_from_now - 3600));
    stored.save(c.app.state.store.as_ref()).await.unwrap();
}

#[tokio::test]
async fn a_connection_token_gets_a_fresh_provider_token() {
    let c = connected(Backend::Local).await;
    let (status, body, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    assert_eq!(status, 200, "{body}");
    let issued = c.provider.issued().await;
    assert!(issued["access_tokens"].as_array().unwrap().contains(&body["access_token"]), "a real provider token");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["connector"], json!({"uid": "oidc/test", "provider": "oidc"}));
    assert_eq!(body["connection_id"], c.connection_id);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(body["scopes"].as_array().unwrap().contains(&json!("contacts.read")));
    // This connector cannot narrow: the scopes asked are not echoed back as if it had.
    let narrow = json!({"subject": {"type": "user", "id": "user-1"}, "scopes": ["contacts.read"]});
    let (status, refused, _) = ask(&c.app, &c.access_token, URL, narrow.clone()).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("narrowing_unsupported")), "{refused}");
    let broader = json!({"subject": {"type": "user", "id": "user-1"}, "scopes": ["contacts.read"], "allow_broader": true});
    let (status, full, _) = ask(&c.app, &c.access_token, URL, broader).await;
    assert_eq!((status, full["scopes"].clone()), (200, body["scopes"].clone()));
}

#[tokio::test]
async fn every_refusal_has_its_code_and_status() {
    // Arrange
    let c = connected(Backend::Local).await;
    let state = &c.app.state;
    let preview_key = latchkey::admin::create_secret_key(state, &c.project.project_id, "preview").await.unwrap().1;
    let bob_key = latchkey::admin::create_user_secret_key(state, &c.project.project_id, "production", Some("bob".into())).await.unwrap().1;
    let unlinked = latchkey::admin::NewConnector {
        uid: "keys/unlinked".into(),
        display_name: None,
        auth_mode: latchkey::model::AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: vec![],
        fields: vec![],
    };
    latchkey::admin::create_connector(state, unlinked).await.unwrap();
    let key = c.project.secret_key.as_str();

    // Act / Assert: each check, in order.
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("", URL, user("user-1"), 401, "unauthenticated"),
        ("lk_sk_not_a_real_key", URL, user("user-1"), 401, "unauthenticated"),
        ("a.b.c", URL, user("user-1"), 401, "unauthenticated"),
        (key, "/v1/token/nope%2Fnothing", user("user-1"), 404, "connector_not_found"),
        (key, "/v1/token/not-a-uid", user("user-1"), 404, "connector_not_found"),
        (key, "/v1/token/keys%2Funlinked", json!({"subject": {"type": "app"}}), 403, "client_not_linked_to_project"),
        (preview_key.expose(), URL, json!({"subject": {"type": "app"}}), 403, "client_not_enabled_for_environment"),
        (key, URL, user("user-1"), 403, "subject_not_allowed"),
        (&c.access_token, URL, user("someone-else"), 403, "subject_not_allowed"),
        (key, URL, json!({"subject": {"type": "app"}}), 409, "connector_installation_required"),
        (bob_key.expose(), URL, user("bob"), 409, "user_authorization_required"),
        (&c.access_token, URL, json!({"subject": {"type": "user", "id": "user-1"}, "scopes": ["contacts.write"]}), 403, "scope_not_granted"),
        (key, URL, json!({"subject": {"type": "robot"}}), 400, "invalid_json"),
    ];
    for (credential, path, body, status, code) in cases {
        let (got, answer, _) = ask(&c.app, credential, path, body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str().unwrap_or_default()), (status, code), "{path} {body}: {answer}");
    }
    let (_, hint, _) = ask(&c.app, bob_key.expose(), URL, user("bob")).await;
    assert_eq!(hint["error"]["details"]["link_token_request"], json!({"end_user": {"id": "bob"}, "connectors": ["oidc/test"]}));
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_and_the_rotated_refresh_token_kept() {
    let c = connected(Backend::Local).await;
    let (_, first, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    set_expiry(&c, 60).await; // inside the five-minute buffer

    let (status, second, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    set_expiry(&c, -10).await;
    let (_, third, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;

    assert_eq!(status, 200, "{second}");
    assert_ne!(first["access_token"], second["access_token"]);
    assert_ne!(second["access_token"], third["access_token"], "the rotated refresh token was stored and works");
    assert_eq!(c.provider.issued().await["refresh_grants"], 2);
}

#[tokio::test]
async fn fifty_concurrent_requests_on_an_expired_token_refresh_once() {
    let c = connected(Backend::Local).await;
    set_expiry(&c, -10).await;
    let requests = (0..50).map(|_| ask(&c.app, &c.access_token, URL, user("user-1")));
    let answers = futures::future::join_all(requests).await;
    assert!(answers.iter().all(|(s, _, _)| *s == 200), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    let tokens: std::collections::HashSet<String> = answers.iter().map(|(_, b, _)| b["access_token"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tokens.len(), 1, "everyone got the one refreshed token");
    assert_eq!(c.provider.issued().await["refresh_grants"], 1);
    let metrics = c.app.metrics_text();
    assert!(metrics.contains("latchkey_refreshes_total{connector=\"oidc/test\",outcome=\"refreshed\"} 1\n"), "{metrics}");
    let answered: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("latchkey_token_latency_seconds_count{status_class=\"2xx\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(answered >= 50, "every answered token request is timed: {metrics}");
}

#[tokio::test]
async fn a_revoked_grant_fails_the_refresh_and_invalidates_the_connection() {
    // Arrange: the refresh token dies at the provider (a rotated token replayed revokes the grant).
    let c = connected(Backend::Local).await;
    let connection =
        latchkey::link::token::resolve_connection(&c.app.state, &latchkey::model::ConnectionId::parse(&c.connection_id).unwrap()).await.unwrap().unwrap();
    let opened = c.app.state.keyring.open(&connection.credentials_binding(), connection.credentials.as_ref().unwrap()).await.unwrap();
    let refresh_token = latchkey::oauth::Credentials::from_opened(opened.expose()).unwrap().refresh_token.clone().unwrap();
    let revoked = reqwest::Client::new()
        .post(&c.provider.revocation_endpoint)
        .basic_auth("latchkey-auto", Some("auto-secret"))
        .form(&[("token", refresh_token.as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    set_expiry(&c, -10).await;

    // Act
    let (status, failed, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    let (after_status, after, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;

    // Assert
    assert_eq!((status, failed["error"]["code"].as_str().unwrap()), (409, "token_refresh_failed"), "{failed}");
    assert_eq!(failed["error"]["details"]["link_token_request"]["connection_id"], c.connection_id);
    assert_eq!((after_status, after["error"]["code"].as_str().unwrap()), (409, "user_authorization_required"));
    let connection =
        latchkey::link::token::resolve_connection(&c.app.state, &latchkey::model::ConnectionId::parse(&c.connection_id).unwrap()).await.unwrap().unwrap();
    assert_eq!(connection.state, latchkey::model::ConnectionState::Invalid);

    // invalid → callable: the user authorizes again in update mode; the same connection works
    // again, through the access token of its new grant (the old one died with the old grant).
    let body = json!({"end_user": {"id": "user-1"}, "connection_id": c.connection_id, "redirect_url": format!("{}/done", link::APP_ORIGIN)});
    let update: Value = link::link_token_response(&c.app, &c.project.secret_key, body).await.json().await.unwrap();
    let mut agent = Agent::default();
    let callback = agent.authorize(&c.app, update["link_token"].as_str().unwrap()).await;
    let public_token = redirect_param(&agent.callback(&c.app, &callback).await, "public_token").expect("re-authorized");
    let exchanged: Value = link::exchange(&c.app, &c.project.secret_key, &public_token).await.json().await.unwrap();
    assert_eq!(exchanged["connection_id"], c.connection_id, "the same connection");
    let (status, answer, _) = ask(&c.app, exchanged["access_token"].as_str().unwrap(), URL, user("user-1")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    assert_eq!(status, 401, "the access token of the replaced grant stays dead");
}

#[tokio::test]
async fn a_provider_outage_answers_503_then_cools_down_without_calling_it() {
    let c = connected(Backend::Local).await;
    set_expiry(&c, -10).await;
    c.provider.fail_token_endpoint(503, 3).await;

    let (status, body, retry_after) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    let (again, _, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;

    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (503, "upstream_unavailable"), "{body}");
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(again, 503, "the cooldown answers without calling the provider");
    // The three failures the provider was told to give were all spent by the first request's
    // retries; a provider call during the cooldown would have succeeded.
    assert_eq!(c.provider.issued().await["refresh_grants"], 0);
    c.app.clock.advance(16);
    let (recovered, _, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    assert_eq!(recovered, 200);
}

#[tokio::test]
async fn a_rate_limited_refresh_answers_429_with_retry_after() {
    let c = connected(Backend::Local).await;
    set_expiry(&c, -10).await;
    c.provider.fail_token_endpoint(429, 3).await;
    let (status, body, retry_after) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (429, "rate_limited"), "{body}");
    assert!(retry_after.is_some());
}

#[tokio::test]
async fn a_warm_request_reads_the_store_once_and_calls_kms_never() {
    // Arrange: on DynamoDB and KMS (moto), one request to warm the instance's caches.
    let c = connected(Backend::Aws).await;
    let (status, _, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
    assert_eq!(status, 200);
    let kms = c.app.kms.as_ref().unwrap();
    let (reads_before, writes_before) = c.app.store_counts.snapshot();
    let kms_before = kms.call_count();

    // Act
    for _ in 0..10 {
        let (status, _, _) = ask(&c.app, &c.access_token, URL, user("user-1")).await;
        assert_eq!(status, 200);
    }

    // Assert
    let (reads, writes) = c.app.store_counts.snapshot();
    assert_eq!(reads - reads_before, 10, "one read per warm request");
    assert_eq!(writes - writes_before, 0);
    assert_eq!(kms.call_count() - kms_before, 0, "no KMS call on the warm path");
}

#[tokio::test]
async fn api_key_connections_return_their_key_and_client_credentials_need_no_user() {
    // Arrange: an API-key connection made on the Connect page, and a client-credentials connector.
    let c = connected(Backend::Local).await;
    let state = &c.app.state;
    let api = latchkey::admin::NewConnector {
        uid: "keys/acme".into(),
        display_name: None,
        auth_mode: latchkey::model::AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: vec![],
        fields: vec![],
    };
    latchkey::admin::create_connector(state, api).await.unwrap();
    latchkey::admin::link_connector(state, "keys/acme", &c.project.project_id, &["production".into()]).await.unwrap();
    let mut service = link_connector_template(&c.provider);
    service.uid = "oidc/service".into();
    latchkey::admin::create_connector(state, service).await.unwrap();
    latchkey::admin::link_connector(state, "oidc/service", &c.project.project_id, &["production".into()]).await.unwrap();
    let token = link::link_token(&c.app, &c.project.secret_key, "user-1").await;
    let form = [("link_token", token.as_str()), ("connector", "keys/acme"), ("api_key", "acme-key-123")];
    let saved = Agent::default().send(&c.app, reqwest::Method::POST, &c.app.url("/connect/credentials"), Some(&form)).await;
    let public_token = redirect_param(&saved, "public_token").expect("saved");
    let exchanged: Value = link::exchange(&c.app, &c.project.secret_key, &public_token).await.json().await.unwrap();

    // Act
    let (status, key, _) = ask(&c.app, exchanged["access_token"].as_str().unwrap(), "/v1/token/keys%2Facme", user("user-1")).await;
    let (cc_status, cc, _) = ask(&c.app, &c.project.secret_key, "/v1/token/oidc%2Fservice", json!({"subject": {"type": "app"}})).await;
    let (_, cc_again, _) = ask(&c.app, &c.project.secret_key, "/v1/token/oidc%2Fservice", json!({"subject": {"type": "app"}})).await;

    // Assert
    assert_eq!((status, key["access_token"].as_str().unwrap(), key["token_type"].as_str().unwrap()), (200, "acme-key-123", "api_key"));
    assert!(key["expires_at"].is_null());
    assert_eq!(cc_status, 200, "{cc}");
    assert_eq!(cc["access_token"], cc_again["access_token"], "cached in the app connection until it expires");
    assert_eq!(c.provider.issued().await["client_credentials_grants"], 1);
}

pub(crate) fn link_connector_template(provider: &Provider) -> latchkey::admin::NewConnector {
    latchkey::admin::NewConnector {
        uid: String::new(),
        display_name: None,
        auth_mode: latchkey::model::AuthMode::ClientCredentials,
        oauth: Some(latchkey::model::OAuthEndpoints {
            authorize_url: provider.authorization_endpoint.clone(),
            token_url: provider.token_endpoint.clone(),
            revoke_url: None,
            issuer: Some(provider.issuer.clone()),
            requires_iss: false,
            scope_separator: " ".into(),
            pkce: true,
            token_auth: latchkey::model::TokenAuthMethod::ClientSecretBasic,
            authorize_params: Default::default(),
            default_token_lifetime_secs: 3600,
            refresh_buffer_secs: 300,
            revocation_scope: Default::default(),
        }),
        client_id: Some("latchkey-service".into()),
        client_secret: Some(latchkey::SecretString::new("service-secret")),
        default_scopes: vec!["contacts.read".into()],
        fields: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_requests_from_four_processes_refresh_an_expired_token_once() {
    // Arrange: four server processes sharing the table and the key, and an expired token.
    let c = connected(Backend::Aws).await;
    let instances: Vec<ServeProcess> = (0..4).map(|_| ServeProcess::beside(&c.app)).collect();
    set_expiry(&c, -10).await;
    let client = reqwest::Client::new();

    // Act: 50 concurrent requests at each process.
    let requests = instances
        .iter()
        .flat_map(|instance| (0..50).map(|_| client.post(format!("{}{URL}", instance.base)).bearer_auth(&c.access_token).json(&user("user-1")).send()));
    let responses = futures::future::join_all(requests).await;
    let mut tokens = std::collections::HashSet::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        tokens.insert(response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned());
    }

    // Assert: one refresh at the provider, one token for everyone, and refresh still works after.
    assert_eq!(c.provider.issued().await["refresh_grants"], 1);
    assert_eq!(tokens.len(), 1);
    set_expiry(&c, -10).await;
    let again = client.post(format!("{}{URL}", instances[2].base)).bearer_auth(&c.access_token).json(&user("user-1")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(c.provider.issued().await["refresh_grants"], 2);
}

#[tokio::test]
async fn the_rust_client_caches_tokens_and_types_every_error() {
    use latchkey_client::{Client, Error, TokenParams};
    // Arrange
    let c = connected(Backend::Local).await;
    let client = Client::new(&c.app.base, c.access_token.clone()).unwrap();
    let bob_key = latchkey::admin::create_user_secret_key(&c.app.state, &c.project.project_id, "production", Some("bob".into())).await.unwrap().1;
    let as_bob = Client::new(&c.app.base, bob_key.expose()).unwrap();
    let as_project = Client::new(&c.app.base, c.project.secret_key.clone()).unwrap();

    // Act
    let first = client.get_token("oidc/test", &TokenParams::user("user-1")).await.unwrap();
    let (reads, _) = c.app.store_counts.snapshot();
    let second = client.get_token("oidc/test", &TokenParams::user("user-1")).await.unwrap();
    let (reads_after, _) = c.app.store_counts.snapshot();

    // Assert
    assert_eq!(first.access_token(), second.access_token());
    assert_eq!(reads_after, reads, "the second token came from the client's cache");
    assert!(first.expires_at.is_some());
    assert!(!format!("{first:?}").contains(first.access_token()), "Debug redacts the token");
    assert!(matches!(as_project.get_token("oidc/test", &TokenParams::user("user-1")).await, Err(Error::SubjectNotAllowed(_))));
    assert!(matches!(as_project.get_token("nope/nothing", &TokenParams::app()).await, Err(Error::ConnectorNotFound(_))));
    assert!(matches!(as_project.get_token("oidc/test", &TokenParams::app()).await, Err(Error::ConnectorInstallationRequired { .. })));
    match as_bob.get_token("oidc/test", &TokenParams::user("bob")).await {
        Err(Error::UserAuthorizationRequired { details }) => assert_eq!(details["link_token_request"]["end_user"]["id"], "bob"),
        other => panic!("{other:?}"),
    }
    let narrowed = TokenParams::user("user-1").with_scopes(&["contacts.write"]);
    assert_eq!(client.get_token("oidc/test", &narrowed).await.unwrap_err(), Error::ScopeNotGranted { missing: vec!["contacts.write".into()] });
    let bad = Client::new(&c.app.base, "lk_sk_nope").unwrap();
    assert!(matches!(bad.get_token("oidc/test", &TokenParams::app()).await, Err(Error::Unauthenticated(_))));
}

#[tokio::test]
async fn a_caller_that_waits_too_long_on_another_refresh_is_told_so_not_that_the_provider_failed() {
    // Arrange: another instance holds the refresh lease of a due token, and never finishes.
    let c = connected(Backend::Local).await;
    set_expiry(&c, -10).await;
    let connection =
        latchkey::link::token::resolve_connection(&c.app.state, &latchkey::model::ConnectionId::parse(&c.connection_id).unwrap()).await.unwrap().unwrap();
    let mut stored = Stored::<Connection>::get(c.app.state.store.as_ref(), &connection.key()).await.unwrap().unwrap();
    stored.record.refresh_lease = Some(latchkey::model::RefreshLease { holder: "lease_elsewhere".into(), until: c.app.clock.now().plus_secs(45) });
    stored.save(c.app.state.store.as_ref()).await.unwrap();

    // Act: a caller waits; the clock moves past the wait bound.
    let waiting = {
        let (http, url, credential) = (c.app.http.clone(), c.app.url(URL), c.access_token.clone());
        tokio::spawn(async move { http.post(url).bearer_auth(credential).json(&user("user-1")).send().await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    c.app.clock.advance(21);
    let response = waiting.await.unwrap();

    // Assert: its own code, a retry hint of what is left of the lease, and no provider call.
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<i64>().unwrap());
    let (status, body) = (response.status().as_u16(), response.json::<Value>().await.unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("refresh_wait_timeout")), "{body}");
    assert!(retry_after.is_some_and(|r| (1..=24).contains(&r)), "{retry_after:?}");
    assert_eq!(c.provider.issued().await["refresh_grants"], 0);
}
