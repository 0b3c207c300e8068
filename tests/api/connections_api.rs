//! The connections API and webhooks: per-consumer states, authorize links, import, delete with
//! revocation, and signed webhook deliveries retried after failures.

use std::sync::{Arc, Mutex};

use latchkey::model::Stored;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, redirect_param, Agent, APP_ORIGIN};
use crate::provider::Provider;

async fn arrange() -> (TestApp, Provider, link::Linked) {
    let app = TestApp::spawn().await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    link::api_key_connector(&app, "keys/acme", Some("Acme API"), &project.project_id).await;
    (app, provider, project)
}

async fn connect(app: &TestApp, key: &str, user: &str) -> String {
    let token = link::link_token(app, key, user).await;
    let mut agent = Agent::default();
    let callback = agent.authorize(app, &token).await;
    let public_token = redirect_param(&agent.callback(app, &callback).await, "public_token").unwrap();
    let body: Value = link::exchange(app, key, &public_token).await.json().await.unwrap();
    body["connection_id"].as_str().unwrap().to_owned()
}

async fn list(app: &TestApp, key: &str, consumer: &str) -> Value {
    let response = app.http.get(app.url("/v1/connections")).bearer_auth(key).header("x-latchkey-consumer-id", consumer).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["data"].clone()
}

fn by_connector<'a>(views: &'a Value, uid: &str) -> &'a Value {
    views.as_array().unwrap().iter().find(|v| v["connector"] == uid).unwrap()
}

#[tokio::test]
async fn a_consumers_connections_show_their_states_and_an_authorize_link_connects_them() {
    // Arrange
    let (app, _provider, project) = arrange().await;
    let key = project.secret_key.as_str();
    let connection_id = connect(&app, key, "user-1").await;

    // Act
    let mine = list(&app, key, "user-1").await;
    let theirs = list(&app, key, "user-2").await;
    let no_consumer = app.http.get(app.url("/v1/connections")).bearer_auth(key).send().await.unwrap();

    // Assert: states per consumer.
    let oidc = by_connector(&mine, "oidc/test");
    assert_eq!((oidc["state"].as_str(), oidc["id"].as_str()), (Some("callable"), Some(connection_id.as_str())));
    assert_eq!(oidc["auth_type"], "oauth2");
    assert!(oidc["revoke_url"].as_str().unwrap().ends_with(&connection_id));
    assert_eq!(by_connector(&mine, "keys/acme")["state"], "available");
    assert_eq!(by_connector(&theirs, "oidc/test")["state"], "available");
    assert_eq!(no_consumer.status(), 400);

    // Act / Assert: user-2's authorize link, with an appended redirect_uri, connects user-2.
    let authorize = by_connector(&theirs, "oidc/test")["authorize_url"].as_str().unwrap().to_owned();
    let evil = format!("{authorize}&redirect_uri={}", urlencode("https://evil.example/back"));
    let refused = Agent::default().send(&app, reqwest::Method::GET, &evil, None).await;
    assert_eq!((refused.status().as_u16(), link::page_code(refused).await.as_str()), (400, "redirect_url_not_allowed"));
    let url = format!("{authorize}&redirect_uri={}", urlencode(&format!("{APP_ORIGIN}/back")));
    let mut agent = Agent::default();
    let start = agent.confirm(&app, &url).await;
    assert_eq!(start.status(), 303);
    let mut location = start.headers()["location"].to_str().unwrap().to_owned();
    while !location.starts_with(&app.base) {
        let next = agent.send(&app, reqwest::Method::GET, &location, None).await;
        location = url::Url::parse(&location).unwrap().join(next.headers()["location"].to_str().unwrap()).unwrap().to_string();
    }
    let done = agent.callback(&app, &location).await;
    assert!(done.headers()["location"].to_str().unwrap().starts_with(&format!("{APP_ORIGIN}/back?public_token=")));
    assert_eq!(by_connector(&list(&app, key, "user-2").await, "oidc/test")["state"], "callable");
}

#[tokio::test]
async fn deleting_a_connection_revokes_it_at_the_provider() {
    let (app, provider, project) = arrange().await;
    let key = project.secret_key.as_str();
    let connection_id = connect(&app, key, "user-1").await;
    let other = link::project(&app, "Other").await;
    let hidden = app.http.get(app.url(&format!("/v1/connections/{connection_id}"))).bearer_auth(&other.secret_key).send().await.unwrap();
    assert_eq!(hidden.status(), 404, "another project cannot see it");
    let got: Value = app.http.get(app.url(&format!("/v1/connections/{connection_id}"))).bearer_auth(key).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["data"]["state"], "callable");
    let connection =
        latchkey::link::token::resolve_connection(&app.state, &latchkey::model::ConnectionId::parse(&connection_id).unwrap()).await.unwrap().unwrap();
    let opened = app.state.keyring.open(&connection.credentials_binding(), connection.credentials.as_ref().unwrap()).await.unwrap();
    let refresh_token = latchkey::oauth::Credentials::from_opened(opened.expose()).unwrap().refresh_token.clone().unwrap();

    let deleted = app.http.delete(app.url(&format!("/v1/connections/{connection_id}"))).bearer_auth(key).send().await.unwrap();

    assert_eq!(deleted.status(), 200);
    assert_eq!(deleted.json::<Value>().await.unwrap()["data"]["revoked"], true);
    let gone = app.http.get(app.url(&format!("/v1/connections/{connection_id}"))).bearer_auth(key).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let refresh = reqwest::Client::new()
        .post(&provider.token_endpoint)
        .basic_auth("latchkey-auto", Some("auto-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400, "the provider no longer honours the refresh token");
    assert_eq!(by_connector(&list(&app, key, "user-1").await, "oidc/test")["state"], "available");
}

#[tokio::test]
async fn imported_tokens_become_a_callable_connection() {
    let (app, _provider, project) = arrange().await;
    let key = project.secret_key.as_str();
    let body = json!({"consumer_id": "user-9", "connector": "keys/acme", "credentials": {"api_key": "migrated-key"}});
    let imported = app.http.post(app.url("/v1/connections/import")).bearer_auth(key).json(&body).send().await.unwrap();
    assert_eq!(imported.status(), 201);
    let view: Value = imported.json().await.unwrap();
    assert_eq!(view["data"]["state"], "callable");
    let user_key = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-9".into())).await.unwrap().1;
    let token: Value = app
        .http
        .post(app.url("/v1/token/keys%2Facme"))
        .bearer_auth(user_key.expose())
        .json(&json!({"subject": {"type": "user", "id": "user-9"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["access_token"], "migrated-key");
    assert!(!app.raw_store().await.contains("migrated-key"));
    for bad in [
        json!({"consumer_id": "u", "connector": "keys/acme", "credentials": {}}),
        json!({"consumer_id": "u", "connector": "oidc/test", "credentials": {"api_key": "x"}}),
        json!({"consumer_id": "", "connector": "keys/acme", "credentials": {"api_key": "x"}}),
        json!({"consumer_id": "u", "connector": "keys/nope", "credentials": {"api_key": "x"}}),
    ] {
        let response = app.http.post(app.url("/v1/connections/import")).bearer_auth(key).json(&bad).send().await.unwrap();
        assert!(response.status().is_client_error(), "{bad}");
    }
}

/// A webhook receiver on loopback that fails its first `failures` requests with 500, verifies
/// signatures, and applies each event id once (as a receiver should).
pub(crate) struct Receiver {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Receiver {
    pub(crate) async fn start(failures: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            let mut seen = 0usize;
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut raw = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&raw);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| l.to_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                            .unwrap_or(0);
                        if raw.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&raw).into_owned();
                let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned()))
                        .unwrap_or_default()
                };
                log.lock().unwrap().push((header("latchkey-event-id"), header("latchkey-signature"), body.to_owned()));
                seen += 1;
                let status = if seen <= failures { "500 Internal Server Error" } else { "200 OK" };
                let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        Receiver { url, received }
    }

    /// How many requests arrived so far.
    pub(crate) fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

#[tokio::test]
async fn webhooks_are_signed_retried_after_500s_and_logged() {
    // Arrange: a webhook whose receiver fails twice.
    let (app, _provider, project) = arrange().await;
    let receiver = Receiver::start(2).await;
    let (_, secret) = latchkey::admin::add_webhook(&app.state, &project.project_id, &receiver.url, &["connection.created".into()]).await.unwrap();

    // Act
    connect(&app, &project.secret_key, "user-1").await;
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = latchkey::admin::list_deliveries(&app.state, &project.project_id).await.unwrap();
        if delivered.iter().all(|d| d.status == latchkey::events::DeliveryStatus::Delivered) && !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Assert: one event, three attempts, every one signed the same way, applied once.
    assert_eq!(delivered.len(), 1, "only the subscribed event");
    assert_eq!((delivered[0].attempts, delivered[0].status), (3, latchkey::events::DeliveryStatus::Delivered));
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let ids: std::collections::HashSet<&String> = received.iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids.len(), 1, "a retry carries the same event id, so the receiver applies it once");
    for (_, signature, body) in &received {
        let t: i64 = signature.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
        assert_eq!(signature, &latchkey::events::sign(&secret, t, body), "the signature verifies");
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["type"], "connection.created");
        assert_eq!(event["data"]["connector"], "oidc/test");
    }
    let metrics = app.metrics_text();
    assert!(metrics.contains("latchkey_webhook_deliveries_total{outcome=\"retrying\"} 2\n"), "{metrics}");
    assert!(metrics.contains("latchkey_webhook_deliveries_total{outcome=\"delivered\"} 1\n"), "{metrics}");
    assert!(!received[0].2.contains(&project.secret_key));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn on_aws_webhooks_travel_through_sqs_to_the_delivery_function() {
    // Arrange: a queue on the loopback moto_server, a connection, and a webhook that fails once.
    let (app, _provider, project) = arrange().await;
    connect(&app, &project.secret_key, "user-1").await;
    let receiver = Receiver::start(1).await;
    latchkey::admin::add_webhook(&app.state, &project.project_id, &receiver.url, &["connection.updated".into()]).await.unwrap();
    let sqs =
        aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&crate::helpers::aws().await).endpoint_url(crate::helpers::moto_endpoint()).build());
    let queue_url = sqs.create_queue().queue_name(crate::helpers::unique("hooks")).send().await.unwrap().queue_url.unwrap();
    let on_aws = app.state.clone();
    let on_aws = on_aws.with_outbox(latchkey::outbox::Outbox::sqs(sqs.clone(), queue_url.clone()));
    let connection = Stored::<latchkey::model::Connection>::query(
        app.state.store.as_ref(),
        &latchkey::model::Project::partition_of(&project.project_id),
        latchkey::model::Connection::SK_PREFIX,
    )
    .await
    .unwrap()
    .remove(0)
    .record;

    // Act: an event is queued, and the delivery function handles the message (twice: SQS hands a
    // failed one back).
    latchkey::events::emit(&on_aws, latchkey::events::EventType::ConnectionUpdated, &connection, json!({})).await;
    let received = sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
    let messages = received.messages.unwrap_or_default();
    let body = messages[0].body.clone().unwrap();
    let first = latchkey::events::deliver_queued(&app.state, &body).await;
    let second = latchkey::events::deliver_queued(&app.state, &body).await;

    // Assert
    assert_eq!(messages.len(), 1);
    assert!(!body.contains("whsec_") && !body.contains("connection_id"), "the message names the delivery, nothing else: {body}");
    assert_eq!((first, second), (false, true), "a failed attempt asks for a retry; the retry settles it");
    let log = latchkey::admin::list_deliveries(&app.state, &project.project_id).await.unwrap();
    let delivered = log.iter().find(|d| d.event == latchkey::events::EventType::ConnectionUpdated).unwrap();
    assert_eq!((delivered.attempts, delivered.status), (2, latchkey::events::DeliveryStatus::Delivered));
}
