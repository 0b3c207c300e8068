//! Single-flight refresh for every token lifetime. Against oidc-provider (rotating refresh tokens,
//! reuse detection), 100 concurrent requests spread over 4 `latchkey serve` processes make exactly
//! one provider refresh per due window, no refresh token is presented twice, and every caller gets
//! the one new token, which the provider accepts. And the sweep refreshes ahead only tokens that
//! outlive its passes, at most once per lifetime.

use std::collections::HashSet;

use latchkey::model::{Connection, ConnectionId, Stored};
use latchkey::{Clock, SystemClock};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::instances::ServeProcess;
use crate::link_helpers::{self as link, redirect_param, Agent};
use crate::provider::Provider;

const URL: &str = "/v1/token/oidc%2Ftest";
const REQUESTS: usize = 100;
const PROCESSES: usize = 4;

struct World {
    app: TestApp,
    provider: Provider,
    access_token: String,
    connection_id: ConnectionId,
}

/// A connection at a provider whose access tokens live `lifetime` seconds.
async fn world(backend: Backend, lifetime: i64) -> World {
    let app = TestApp::spawn_on(backend).await;
    let ttl = lifetime.to_string();
    let provider = Provider::start_with(&[&app.url("/v1/oauth/callback")], &[("OIDC_ACCESS_TOKEN_TTL", ttl.as_str())]);
    let project = link::project(&app, "Acme").await;
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    let done = agent.callback(&app, &callback).await;
    let public_token = redirect_param(&done, "public_token").expect("connected");
    let body: Value = link::exchange(&app, &project.secret_key, &public_token).await.json().await.unwrap();
    World {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        connection_id: ConnectionId::parse(body["connection_id"].as_str().unwrap()).unwrap(),
        app,
        provider,
    }
}

async fn the_connection(w: &World) -> Stored<Connection> {
    let connection = latchkey::link::token::resolve_connection(&w.app.state, &w.connection_id).await.unwrap().unwrap();
    Stored::<Connection>::get(w.app.state.store.as_ref(), &latchkey::model::Record::key(&connection)).await.unwrap().unwrap()
}

/// Makes the token due now, as a `lifetime`-second token with one second left (the server
/// processes run on the wall clock).
async fn make_due(w: &World, lifetime: i64) {
    let now = SystemClock.now();
    let mut stored = the_connection(w).await;
    stored.record.token_issued_at = Some(now.plus_secs(1 - lifetime));
    stored.record.token_expires_at = Some(now.plus_secs(1));
    stored.save(w.app.state.store.as_ref()).await.unwrap();
}

/// `REQUESTS` concurrent token requests spread over `processes`; every answer's access token.
async fn burst(w: &World, processes: &[ServeProcess]) -> Vec<String> {
    let client = reqwest::Client::new();
    let body = json!({"subject": {"type": "user", "id": "user-1"}});
    let requests = (0..REQUESTS).map(|i| client.post(format!("{}{URL}", processes[i % processes.len()].base)).bearer_auth(&w.access_token).json(&body).send());
    let mut tokens = Vec::new();
    for response in futures::future::join_all(requests).await {
        let response = response.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{answer}");
        tokens.push(answer["access_token"].as_str().unwrap().to_owned());
    }
    tokens
}

fn count(issued: &Value, name: &str) -> u64 {
    issued[name].as_u64().unwrap_or_else(|| panic!("{name} in {issued}"))
}

/// Two due windows, each hit by a burst from every process.
async fn single_flight_for(backend: Backend, lifetime: i64) {
    // Arrange
    let w = world(backend, lifetime).await;
    let processes: Vec<ServeProcess> = (0..PROCESSES).map(|_| ServeProcess::beside(&w.app)).collect();
    for window in 1..=2 {
        make_due(&w, lifetime).await;
        let before = count(&w.provider.issued().await, "refresh_grants");

        // Act
        let tokens = burst(&w, &processes).await;

        // Assert
        let issued = w.provider.issued().await;
        assert_eq!(count(&issued, "refresh_grants") - before, 1, "window {window}: one refresh for {REQUESTS} requests from {PROCESSES} processes");
        assert_eq!(count(&issued, "refresh_grant_errors"), 0, "no refresh token presented twice");
        let distinct: HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), 1, "window {window}: every caller got the one new token");
        assert!(w.provider.is_active(&tokens[0]).await, "the provider accepts it");
        // oidc-provider counts `expires_in` from when it created the token, a moment before it answers.
        let stored_lifetime = the_connection(&w).await.record.token_lifetime_secs().unwrap();
        assert!((lifetime - 5..=lifetime).contains(&stored_lifetime), "the lifetime the provider gave: {stored_lifetime} s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_second_tokens_refresh_once_per_window_across_four_processes() {
    single_flight_for(Backend::Local, 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_second_tokens_refresh_once_per_window_across_four_processes() {
    single_flight_for(Backend::Local, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_minute_tokens_refresh_once_per_window_across_four_processes() {
    single_flight_for(Backend::Local, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hour_tokens_refresh_once_per_window_across_four_processes() {
    single_flight_for(Backend::Local, 3600).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_second_tokens_refresh_once_per_window_on_dynamodb() {
    single_flight_for(Backend::Aws, 60).await;
}

#[tokio::test]
async fn the_sweep_leaves_short_lived_tokens_to_demand_and_refreshes_long_ones_once_per_lifetime() {
    use latchkey::token::background::sweep;
    // Arrange: a 60-second token, in the sweep's window and then past its expiry.
    let short = world(Backend::Local, 60).await;

    // Act / Assert: no pass refreshes it.
    for _ in 0..3 {
        assert_eq!(sweep(&short.app.state).await.refreshed, 0);
        short.app.clock.advance(60);
    }
    assert_eq!(count(&short.provider.issued().await, "refresh_grants"), 0, "a 60 s token costs no refresh per pass");

    // Arrange: a one-hour token.
    let long = world(Backend::Local, 3600).await;
    let mut refreshes = 0;

    // Act: a pass every five minutes for two hours.
    for _ in 0..24 {
        refreshes += sweep(&long.app.state).await.refreshed;
        long.app.clock.advance(300);
    }

    // Assert: refreshed ahead of expiry, once per lifetime (the token is never let expire).
    assert_eq!(refreshes, 2, "two hours of passes, two refreshes of a one-hour token");
    assert_eq!(count(&long.provider.issued().await, "refresh_grants"), 2);
    let connection = the_connection(&long).await.record;
    assert!(connection.token_expires_at.unwrap() > long.app.clock.now(), "never let expire");
}
