//! The background path grows with what is due, not with what is stored: a sweep pass reads the
//! due connections and a constant, however many others there are; refreshes run in lanes per
//! connector, so a provider that hangs holds up only its own; on AWS the pass hands the due keys to
//! a FIFO queue that the refresh worker (a real Lambda here) drains; webhook retries are found the
//! same way, never by reading the delivery log.

use std::time::Duration;

use latchkey::model::{Connection, Delivery, DeliveryStatus, EventType, Key, Record, Stored, Webhook};
use latchkey::token::background::sweep;
use latchkey::Clock;
use latchkey_test_support::fleet;
use latchkey_test_support::relay::TokenEndpoint;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::lambda_emulator::Emulator;
use crate::link_helpers as link;

/// An app with a project and `connectors` OAuth connectors, each at a token endpoint of its own.
async fn world(backend: Backend, connectors: &[&str]) -> (TestApp, link::Linked, Vec<TokenEndpoint>) {
    let app = TestApp::spawn_on(backend).await;
    let project = link::project(&app, "Fleet").await;
    let mut endpoints = Vec::new();
    for uid in connectors {
        let endpoint = TokenEndpoint::start().await.unwrap();
        fleet::oauth_connector(&app.state, uid, &endpoint.url, &project.project_id).await.unwrap();
        endpoints.push(endpoint);
    }
    (app, project, endpoints)
}

async fn seed(app: &TestApp, project: &link::Linked, connector: &str, count: usize, due_every: usize) -> Vec<Key> {
    let uid = latchkey::model::ConnectorUid::parse(connector).unwrap();
    fleet::seed(&app.state, &project.project_id, &uid, count, due_every, app.clock.now(), 8).await.unwrap()
}

/// One pass over `stored` connections of which `due` are due: its report, and the store calls
/// and items it read.
async fn counted_pass(app: &TestApp) -> (latchkey::token::background::SweepReport, u64, u64) {
    app.store_counts.reset();
    let report = sweep(&app.state).await;
    (report, app.store_counts.reads(), app.store_counts.items())
}

async fn reads_grow_with_the_due_only(backend: Backend, stored: usize, due_every: usize) {
    // Arrange
    let (app, project, endpoints) = world(backend, &["oauth/fleet"]).await;
    let due = seed(&app, &project, "oauth/fleet", stored, due_every).await.len();

    // Act
    let (report, reads, items) = counted_pass(&app).await;

    // Assert: each due connection is read once (and refreshed); the rest of the pass is a constant:
    // the two due-index reads (connections, deliveries) and the connector.
    assert_eq!((report.connections, report.refreshed), (due, due), "{report:?}");
    assert_eq!(endpoints[0].grants(), due as u64);
    assert!(reads <= due as u64 + 3, "{stored} stored, {due} due: {reads} store reads");
    assert!(items <= 2 * due as u64 + 1, "{stored} stored, {due} due: {items} items read (an index entry and the connection per due one)");

    // Act: as many again stored, none due; then a pass with nothing due.
    seed(&app, &project, "oauth/fleet", stored, 0).await;
    let (idle, idle_reads, idle_items) = counted_pass(&app).await;

    // Assert: nothing due, nothing read but the index, however many are stored.
    assert_eq!((idle.connections, idle.refreshed), (0, 0), "{idle:?}");
    assert_eq!((idle_reads, idle_items), (2, 0), "{} stored, none due", 2 * stored);
    assert_eq!(endpoints[0].grants(), due as u64, "refreshed once per lifetime, not per pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_over_a_thousand_connections_reads_the_ten_due_and_a_constant() {
    reads_grow_with_the_due_only(Backend::Local, 1000, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_a_pass_reads_the_due_and_a_constant() {
    reads_grow_with_the_due_only(Backend::Aws, 200, 50).await;
}

/// Waits (bounded, so a regression fails instead of hanging) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_hangs_holds_up_only_its_own_connectors_lanes() {
    // Arrange: two connectors with eight due connections each; at most two refreshes at once per
    // connector; the first connector's provider hangs.
    let (app, project, endpoints) = world(Backend::Local, &["oauth/slow", "oauth/fast"]).await;
    seed(&app, &project, "oauth/slow", 8, 1).await;
    seed(&app, &project, "oauth/fast", 8, 1).await;
    let settings = latchkey::settings::Settings { refresh_concurrency_per_connector: 2, ..(*app.state.settings).clone() };
    let ports = app.state.clone().with_settings(settings);
    let (slow, fast) = (&endpoints[0], &endpoints[1]);
    slow.hold();

    // Act
    let pass = tokio::spawn(async move { sweep(&ports).await });
    eventually("the fast connector's eight refreshes, the slow one's lanes waiting", || fast.grants() == 8 && slow.arrived() >= 2).await;
    let arrived_while_held = slow.arrived();
    slow.release();
    let report = pass.await.unwrap();

    // Assert: the fast connector finished while the slow one hung, and the slow one had exactly its
    // two lanes waiting on it, no more.
    assert_eq!(arrived_while_held, 2, "two lanes per connector");
    assert_eq!((report.connections, report.refreshed), (16, 16), "{report:?}");
    assert_eq!((slow.grants(), fast.grants()), (8, 8));
}

async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&crate::helpers::aws().await).endpoint_url(crate::helpers::moto_endpoint()).build())
}

/// The SQS event Lambda hands the worker for `messages`.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], group: impl Fn(&aws_sdk_sqs::types::Message) -> String) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": {"MessageGroupId": group(m), "ApproximateReceiveCount": "1"},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:refresh.fifo", "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({"Records": records})
}

#[tokio::test(flavor = "multi_thread")]
async fn on_aws_due_connections_fan_out_through_a_fifo_queue_to_the_refresh_worker() {
    // Arrange: 30 connections, 3 due, on DynamoDB; a FIFO queue on moto.
    let (app, project, endpoints) = world(Backend::Aws, &["oauth/fleet"]).await;
    let due = seed(&app, &project, "oauth/fleet", 30, 10).await;
    let sqs = sqs_client().await;
    let name = format!("{}.fifo", crate::helpers::unique("refresh"));
    let created = sqs.create_queue().queue_name(name).attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true").send().await.unwrap();
    let queue_url = created.queue_url.unwrap();
    let on_aws = app.state.clone().with_refresh_queue(latchkey::outbox::RefreshQueue::sqs(sqs.clone(), queue_url.clone()));

    // Act: the pass queues; the worker, a real Lambda, drains the messages (each twice, as SQS
    // may hand a message out again).
    let report = sweep(&on_aws).await;
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    let group = |m: &aws_sdk_sqs::types::Message| {
        m.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)).cloned().unwrap_or_default()
    };
    let emulator = Emulator::start().await;
    let function = "latchkey-refresh-worker";
    let _instance = emulator.start_function(function, &crate::lambdas::lambda_env(&app, &crate::helpers::moto_endpoint()));
    emulator.invoke_raw(function, &sqs_event(&messages, group)).await;
    emulator.invoke_raw(function, &sqs_event(&messages, group)).await;

    // Assert: the pass refreshed nothing itself; each message names one connection's key and
    // nothing else, in its connector's group; the worker refreshed each due connection once.
    assert_eq!((report.connections, report.queued, report.refreshed), (3, 3, 0), "{report:?}");
    assert_eq!(messages.len(), 3);
    for message in &messages {
        let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
        let key = Key::new(body["pk"].as_str().unwrap(), body["sk"].as_str().unwrap());
        assert!(due.contains(&key), "{body}");
        assert_eq!(body.as_object().unwrap().len(), 2, "the key, nothing else: {body}");
        assert!(group(message).starts_with("oauth/fleet#"), "{}", group(message));
    }
    assert_eq!(endpoints[0].grants(), 3, "three refreshes for six deliveries of three messages");
    for key in &due {
        let connection = Stored::<Connection>::get(app.state.store.as_ref(), key).await.unwrap().unwrap().record;
        assert!(connection.background_due().unwrap() > app.clock.now(), "refreshed, so no longer due");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_webhook_retries_are_found_through_the_index_never_the_log() {
    // Arrange: a project whose delivery log holds 300 settled deliveries and 3 pending ones due.
    let (app, project, _) = world(Backend::Local, &[]).await;
    let receiver = crate::connections_api::Receiver::start(0).await;
    let (hook, _) = latchkey::admin::add_webhook(&app.state, &project.project_id, &receiver.url, &[]).await.unwrap();
    let webhook: Webhook = hook;
    let now = app.clock.now();
    for i in 0..303 {
        let mut delivery = Delivery::new(&project.project_id, &format!("evt_{i}"), EventType::ConnectionUpdated, &webhook, json!({"n": i}).to_string(), now);
        if i >= 3 {
            delivery.status = DeliveryStatus::Delivered;
        }
        app.state.store.put(&delivery.to_item().unwrap().expiring_at(now.plus_secs(Delivery::KEPT_SECS))).await.unwrap();
    }
    // Overdue for longer than the local queue's own retries would take.
    app.clock.advance(600);

    // Act
    let (report, reads, items) = counted_pass(&app).await;

    // Assert: three retried, found through the index; the log was never read.
    assert_eq!(report.deliveries, 3, "{report:?}");
    eventually("the three retries", || receiver.count() == 3).await;
    assert_eq!(app.store_counts.queries(), 2, "two index reads, no query of the log");
    assert!(reads <= 2 + 3 * 2, "{reads} reads");
    assert!(items <= 3 + 3 * 2, "{items} items");
    let log = latchkey::admin::list_deliveries(&app.state, &project.project_id).await.unwrap();
    assert_eq!(log.len(), 303, "the log stays queryable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_earlier_version_stored_is_indexed_once_by_a_reindex() {
    // Arrange: connections and a pending delivery written as before the index (no due time).
    let (app, project, endpoints) = world(Backend::Local, &["oauth/fleet"]).await;
    let uid = latchkey::model::ConnectorUid::parse("oauth/fleet").unwrap();
    let now = app.clock.now();
    for index in 0..6 {
        let connection = fleet::connection(&app.state, &project.project_id, &uid, index, index < 2, now).await.unwrap();
        let item = latchkey::model::Item { due: None, ..connection.to_item().unwrap() };
        app.state.store.put(&item).await.unwrap();
    }
    let receiver = crate::connections_api::Receiver::start(0).await;
    let (webhook, _) = latchkey::admin::add_webhook(&app.state, &project.project_id, &receiver.url, &[]).await.unwrap();
    let delivery = Delivery::new(&project.project_id, "evt_old", EventType::ConnectionUpdated, &webhook, "{}".into(), now.plus_secs(-600));
    let item = latchkey::model::Item { due: None, ..delivery.to_item().unwrap().expiring_at(now.plus_secs(Delivery::KEPT_SECS)) };
    app.state.store.put(&item).await.unwrap();
    let before = sweep(&app.state).await;

    // Act
    let first = latchkey::admin::reindex(&app.state).await.unwrap();
    let again = latchkey::admin::reindex(&app.state).await.unwrap();
    let after = sweep(&app.state).await;

    // Assert: unseen before; every stored item indexed once; then the sweep finds the due ones.
    assert_eq!((before.connections, before.deliveries), (0, 0), "{before:?}");
    assert_eq!((first.connections, first.deliveries), (6, 1), "{first:?}");
    assert_eq!((again.connections, again.deliveries), (0, 0), "already indexed: {again:?}");
    assert_eq!((after.connections, after.refreshed, after.deliveries), (2, 2, 1), "{after:?}");
    assert_eq!(endpoints[0].grants(), 2);
    let stored = app.state.store.get(&item.key).await.unwrap().unwrap();
    assert!(stored.expires_at.is_some(), "the delivery keeps its expiry");
}

/// The due time the store holds for `user`'s connection at `connector`, if the connection exists.
async fn stored_due(app: &TestApp, project: &link::Linked, connector: &str, user: &str) -> Option<Option<latchkey::Timestamp>> {
    let key = Connection::key_of(
        &project.project_id,
        &latchkey::model::EnvironmentName::parse("production").unwrap(),
        &latchkey::model::ConnectorUid::parse(connector).unwrap(),
        &latchkey::model::Subject::user(latchkey::model::ConsumerId::parse(user).unwrap()),
        None,
    );
    app.state.store.get(&key).await.unwrap().map(|item| item.due.map(|d| d.at))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_of_a_connection_keeps_its_due_time() {
    // Arrange
    let (app, project, _endpoints) = world(Backend::Local, &["oauth/fleet"]).await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let import = |user: &str, body: Value| {
        let (app, key) = (&app, project.secret_key.clone());
        let mut body = body;
        body["consumer_id"] = json!(user);
        async move { app.http.post(app.url("/v1/connections/import")).bearer_auth(key).json(&body).send().await.unwrap() }
    };
    let window = latchkey::token::background::WINDOW_SECS;
    let start = app.clock.now();

    // Act / Assert: an import of a refreshable grant is due a window before its token expires.
    let oauth = json!({"connector": "oauth/fleet", "credentials": {"access_token": "a", "refresh_token": "r-1", "expires_in": 3600}});
    assert_eq!(import("user-1", oauth.clone()).await.status(), 201);
    assert_eq!(stored_due(&app, &project, "oauth/fleet", "user-1").await, Some(Some(start.plus_secs(3600 - window))));
    // An API key and a grant without a refresh token have nothing for the sweep: in no index.
    assert_eq!(import("user-1", json!({"connector": "keys/acme", "credentials": {"api_key": "k"}})).await.status(), 201);
    assert_eq!(stored_due(&app, &project, "keys/acme", "user-1").await, Some(None));
    let no_refresh = json!({"connector": "oauth/fleet", "credentials": {"access_token": "a", "expires_in": 3600}});
    assert_eq!(import("user-2", no_refresh).await.status(), 201);
    assert_eq!(stored_due(&app, &project, "oauth/fleet", "user-2").await, Some(None));

    // A refresh on demand moves it to the new token's window.
    app.clock.advance(3500);
    let (_, user_key) = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-1".into())).await.unwrap();
    let body = json!({"subject": {"type": "user", "id": "user-1"}});
    let token = app.http.post(app.url("/v1/token/oauth%2Ffleet")).bearer_auth(user_key.expose()).json(&body).send().await.unwrap();
    assert_eq!(token.status(), 200);
    assert_eq!(stored_due(&app, &project, "oauth/fleet", "user-1").await, Some(Some(app.clock.now().plus_secs(3600 - window))));

    // A refresh by the sweep moves it to its new token's window, still in the index.
    let short = json!({"connector": "oauth/fleet", "credentials": {"access_token": "a", "refresh_token": "r-3", "expires_in": 60}});
    assert_eq!(import("user-3", short).await.status(), 201);
    assert!(stored_due(&app, &project, "oauth/fleet", "user-3").await.unwrap().is_some());
    app.clock.advance(24 * 3600);
    let swept = sweep(&app.state).await;
    assert!(swept.refreshed >= 1, "{swept:?}");
    let due = stored_due(&app, &project, "oauth/fleet", "user-3").await.unwrap().expect("still due some time");
    assert!(due > app.clock.now(), "due again after the new token's window, not now: {due:?}");

    // A deleted connection is gone, and with it its index entry.
    let (listed, _) = latchkey::admin::list_connections(&app.state, &project.project_id, None, 100, None).await.unwrap();
    let id = listed.iter().find(|c| c.subject.id.as_ref().is_some_and(|u| u.as_str() == "user-1") && c.connector.as_str() == "oauth/fleet").unwrap().id.clone();
    let deleted = app.http.delete(app.url(&format!("/v1/connections/{id}"))).bearer_auth(&project.secret_key).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(stored_due(&app, &project, "oauth/fleet", "user-1").await, None);
    let due = app.state.store.due(latchkey::model::DueQueue::Refresh, app.clock.now().plus_secs(365 * 86400), 100).await.unwrap();
    assert!(due.iter().all(|d| !d.key.sk.contains("user-1")), "{due:?}");
    assert!(due.iter().any(|d| d.key.sk.contains("user-3")), "the index still holds the others: {due:?}");
}
