//! The local server: every route of the route table answers at its template.yaml path, unbuilt
//! flows answer 501 in the JSON error shape, and the OpenAPI document covers every route.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use latchkey::store::SqliteStore;
use latchkey::{SecretString, SystemClock};
use latchkey_http::ROUTES;
use serde_json::Value;

use crate::helpers::{self, TestApp};

/// The path of a route template with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{connector}", "slack%2Facme-slack")
        .replace("{unified_api}", "crm")
        .replace("{service_id}", "salesforce")
        .replace("{connection_id}", "conn_1")
        .replace("{*path}", "users/me")
}

/// The methods a route answers (`ANY`: the five the proxy documents).
fn methods(route: &latchkey_http::Route) -> Vec<&'static str> {
    match route.method {
        "ANY" => vec!["GET", "POST", "PUT", "PATCH", "DELETE"],
        method => vec![method],
    }
}

#[tokio::test]
async fn every_route_is_built_and_answers_bad_input_in_the_error_shape() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        let method = reqwest::Method::from_bytes(methods(route)[0].as_bytes()).unwrap();
        let response = app.http.request(method, app.url(&concrete(route.path))).send().await.unwrap();
        let status = response.status().as_u16();
        assert_ne!(status, 501, "{} {} is a stub", route.method, route.path);
        assert!(status < 500, "{} {} answered {status} to a request without input", route.method, route.path);
        if response.headers()["content-type"].to_str().unwrap().starts_with("application/json") && status >= 400 {
            let body: Value = response.json().await.unwrap();
            // The sandbox's OAuth endpoints answer as an authorization server must (RFC 6749 5.2).
            let oauth = route.path.starts_with("/sandbox/") && body["error"].is_string() && body["error_description"].is_string();
            assert!(body["error"]["code"].is_string() || oauth, "{} {}: {body}", route.method, route.path);
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = TestApp::spawn().await;
    let missing = app.http.get(app.url("/v1/nothing-here")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["cache-control"], "no-store");
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["code"], "route_not_found");
    let wrong_method = app.http.put(app.url("/v1/link/token")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
    let too_big = app.http.post(app.url("/v1/link/token")).body(vec![b'x'; 2 * 1024 * 1024]).send().await.unwrap();
    assert_eq!(too_big.status(), 413);
    assert_eq!(too_big.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_covers_every_route() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    for route in ROUTES {
        let path = route.path.replace("{*", "{");
        for method in methods(route) {
            let operation = &document["paths"][&path][method.to_lowercase()];
            assert!(operation.is_object(), "{method} {path} is missing from the OpenAPI document");
        }
    }
    let documented: usize = document["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.iter().map(|r| methods(r).len()).sum::<usize>(), "the document lists a route the route table does not serve");
}

#[tokio::test]
async fn latchkey_serve_starts_with_a_demo_project_and_prints_its_key_once() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Command::new(helpers::workspace_binary("latchkey"))
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .env("LATCHKEY_DATA_DIR", dir.path())
            .env_remove("LATCHKEY_STORE")
            .env_remove("LATCHKEY_KEYRING")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start latchkey serve")
    };

    // Act
    let mut server = start();
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    let banner: Value = serde_json::from_str(&banner).expect("JSON banner");
    let base = banner["listening"].as_str().unwrap().to_owned();
    let openapi = reqwest::get(format!("{base}/v1/openapi.json")).await.unwrap();
    let served = openapi.status();
    server.kill().unwrap();
    server.wait().unwrap();

    // Assert
    assert_eq!(served, 200);
    let key = banner["demo_secret_key"].as_str().expect("demo key on first start").to_owned();
    let store = SqliteStore::open(&dir.path().join("latchkey.sqlite3"), Arc::new(SystemClock)).unwrap();
    let found = latchkey::token::caller::secret_key_owner(&store, &SecretString::new(key)).await.unwrap().expect("the printed key works");
    assert_eq!(found.environment.as_str(), "development");

    let mut again = start();
    let mut second = String::new();
    BufReader::new(again.stdout.take().unwrap()).read_line(&mut second).unwrap();
    again.kill().unwrap();
    again.wait().unwrap();
    let second: Value = serde_json::from_str(&second).unwrap();
    assert!(second.get("demo_secret_key").is_none(), "the key is shown on first start only");
}

#[tokio::test]
async fn latchkey_serve_shows_its_metrics_to_the_operator_token_only() {
    // Arrange: a server with an operator token.
    let dir = tempfile::tempdir().unwrap();
    let operator = "operator-token-of-at-least-thirty-two-characters";
    let mut server = Command::new(helpers::workspace_binary("latchkey"))
        .args(["--json", "serve", "--bind", "127.0.0.1:0"])
        .env("LATCHKEY_DATA_DIR", dir.path())
        .env_remove("LATCHKEY_STORE")
        .env_remove("LATCHKEY_KEYRING")
        .env("LATCHKEY_OPERATOR_TOKEN", operator)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start latchkey serve");
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    let banner: Value = serde_json::from_str(&banner).expect("JSON banner");
    let (base, key) = (banner["listening"].as_str().unwrap().to_owned(), banner["demo_secret_key"].as_str().unwrap().to_owned());
    let http = reqwest::Client::new();
    let body = serde_json::json!({"subject": {"type": "user", "id": "user-1"}});

    // Act: a refused token request, a proxied call Latchkey answers itself, /metrics without and with the token.
    let refused = http.post(format!("{base}/v1/token/demo%2Fapi-key")).bearer_auth("lk_sk_not_a_key").json(&body).send().await.unwrap().status();
    let proxied =
        http.get(format!("{base}/v1/proxy/demo%2Fapi-key/v1/things")).bearer_auth(&key).header("x-latchkey-subject", "user:user-1").send().await.unwrap();
    let anonymous = http.get(format!("{base}/metrics")).send().await.unwrap().status();
    let shown = http.get(format!("{base}/metrics")).bearer_auth(operator).send().await.unwrap();
    let content_type = shown.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
    let text = shown.text().await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();

    // Assert
    assert_eq!((refused.as_u16(), anonymous.as_u16()), (401, 401));
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    assert!(text.contains("latchkey_auth_refusals_total{code=\"unauthenticated\"} 2\n"), "the token request and the anonymous /metrics: {text}");
    assert!(text.contains("latchkey_token_latency_seconds_count{status_class=\"4xx\"} 1\n"), "{text}");
    let status = proxied.status().as_u16();
    assert!(proxied.headers().get("x-latchkey-upstream").is_none(), "the demo connector has no API: Latchkey answers");
    assert!(text.contains(&format!("latchkey_proxy_calls_total{{status=\"{status}\",upstream=\"false\"}} 1\n")), "{text}");
    assert!(!text.contains(&key) && !text.contains(operator), "no credential in the metrics");
}
