//! A newcomer's first minute, as a test: `latchkey serve` alone on a fresh data folder (no provider,
//! no outbound allowance but the one it makes for itself); the Connect link it printed, opened in
//! Chromium; the sandbox's consent page; the exchange; the token broker's token used at the
//! sandbox's API, directly and through the proxy; that token refreshed once due (the demo's tokens live 30 seconds and are due
//! after 20, by the wall clock the server runs on); the sandbox's switch flipped from the CLI while
//! the server runs; and revocation at the sandbox when the connection is deleted.

use std::process::Command;

use serde_json::{json, Value};

use crate::cli::latchkey;
use crate::helpers::{workspace_root, Served};

/// Runs the browser driver on the printed Connect link.
fn connect_in_chromium(url: &str) -> Value {
    let mut command = Command::new("node");
    command.current_dir(workspace_root().join("tests/e2e")).args(["sandbox-browser.mjs", "--url", url]);
    let output = command.output().expect("run the sandbox browser driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|_| panic!("driver: {stdout} {}", String::from_utf8_lossy(&output.stderr)))
}

async fn post(url: String, bearer: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(url).bearer_auth(bearer).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn get(url: String, bearer: &str) -> (u16, Value) {
    let response = reqwest::Client::new().get(url).bearer_auth(bearer).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newcomer_connects_the_sandbox_gets_a_token_and_sees_it_refreshed_with_latchkey_serve_alone() {
    // Arrange: the server as a newcomer starts it.
    let server = Served::start(&[]);
    let base = server.base().to_owned();
    let try_url = server.banner["try_url"].as_str().expect("a Connect link on first start").to_owned();
    let key = server.secret_key().to_owned();

    // Act: connect in Chromium, exchange, ask for the token, call the sandbox's API with it.
    let shown = tokio::task::spawn_blocking(move || connect_in_chromium(&try_url)).await.unwrap();
    assert!(shown["error"].is_null(), "{shown}");
    let public_token = shown["publicToken"].as_str().unwrap();
    let (status, exchanged) = post(format!("{base}/v1/link/exchange"), &key, json!({"public_token": public_token})).await;
    assert_eq!(status, 200, "{exchanged}");
    let connection_token = exchanged["access_token"].as_str().unwrap().to_owned();
    let subject = json!({"subject": {"type": "user", "id": "demo-user"}});
    let token_url = format!("{base}/v1/token/sandbox%2Fdemo");
    let (status, first) = post(token_url.clone(), &connection_token, subject.clone()).await;
    assert_eq!(status, 200, "{first}");
    let first_token = first["access_token"].as_str().unwrap().to_owned();
    let (status, me) = get(format!("{base}/sandbox/api/me"), &first_token).await;
    let (_, again) = post(token_url.clone(), &connection_token, subject.clone()).await;

    // Assert: the full flow, PKCE and all, and a warm token served as it is.
    assert_eq!(shown["authorize"]["code_challenge_method"], "S256", "{shown}");
    assert_eq!(shown["homeHeading"], "Connected to the sandbox");
    assert_eq!((status, me["name"].as_str()), (200, Some("Grace Hopper")), "{me}");
    assert!(first_token.starts_with("sbx_at_") && first["scopes"] == json!(["profile", "items:read"]), "{first}");
    assert_eq!(again["access_token"], first_token, "not due yet: no refresh");

    // Act: wait until the 30-second token is due (20 seconds after it was issued), ask again.
    tokio::time::sleep(std::time::Duration::from_secs(21)).await;
    let (status, refreshed) = post(token_url.clone(), &connection_token, subject.clone()).await;

    // Assert: a new token, from a refresh (there was no second authorization), working at the API.
    assert_eq!(status, 200, "{refreshed}");
    let second_token = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first_token, "Latchkey refreshed the due token");
    assert!(refreshed["expires_at"].as_str() > first["expires_at"].as_str(), "{first} {refreshed}");
    let (status, items) = get(format!("{base}/sandbox/api/items"), &second_token).await;
    assert_eq!((status, items["data"].as_array().map(Vec::len)), (200, Some(3)), "{items}");

    // Act: the same API through Latchkey's proxy, which injects the connection's token itself.
    let proxied = reqwest::Client::new()
        .get(format!("{base}/v1/proxy/sandbox%2Fdemo/items"))
        .bearer_auth(&connection_token)
        .header("x-latchkey-subject", "user:demo-user")
        .send()
        .await
        .unwrap();
    let upstream = proxied.headers().get("x-latchkey-upstream").map(|v| v.to_str().unwrap().to_owned());
    let (status, through) = (proxied.status().as_u16(), proxied.json::<Value>().await.unwrap_or(Value::Null));

    // Assert: the sandbox's own answer, marked as the provider's.
    assert_eq!((status, upstream.as_deref()), (200, Some("true")), "{through}");
    assert_eq!(through["data"], items["data"], "the proxy reached the sandbox's API with the connection's token");

    // Act: the operator flips the sandbox's 503 switch from the CLI, beside the running server.
    let flip = |position: &str| latchkey(server.dir.path(), &["sandbox", "set", "--connector", "sandbox/demo", "--unavailable", position], &[], None);
    assert!(flip("on").status.success());
    let (down, body) = get(format!("{base}/sandbox/api/me"), &second_token).await;
    assert!(flip("off").status.success());
    let (up, _) = get(format!("{base}/sandbox/api/me"), &second_token).await;

    // Assert
    assert_eq!((down, body["error"]["code"].as_str()), (503, Some("sandbox_unavailable")), "{body}");
    assert_eq!(up, 200);

    // Act: the app deletes the connection; Latchkey revokes the grant at the sandbox (RFC 7009).
    let connection_id = exchanged["connection_id"].as_str().unwrap();
    let deleted = reqwest::Client::new().delete(format!("{base}/v1/connections/{connection_id}")).bearer_auth(&key).send().await.unwrap();
    let (after, _) = get(format!("{base}/sandbox/api/me"), &second_token).await;

    // Assert
    assert_eq!(deleted.status(), 200);
    assert_eq!(after, 401, "the sandbox revoked the grant, so its tokens died with it");
}
