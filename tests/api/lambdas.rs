//! Every function as a real Lambda (its `cargo lambda build` bootstrap under `cargo lambda watch`'s
//! runtime API), invoked with API Gateway HTTP API events, answers as the local server does; and
//! its init opens the store connection that its requests then reuse.

use latchkey_http::Function;
use serde_json::{json, Value};

use crate::helpers::{moto_endpoint, Backend, TestApp};
use latchkey_test_support::relay::CountingRelay;

use crate::lambda_emulator::{json_of, Answer, Call, Emulator};
use crate::link_helpers::{self as link, APP_ORIGIN};

/// How alike the two answers must be.
#[derive(Debug, Clone, Copy)]
enum Alike {
    /// Same status, content type and body.
    Exactly,
    /// Same as `Exactly` but for these fields, wherever they are (signed links carry their own
    /// expiry second).
    ExactlyBut(&'static [&'static str]),
    /// Same status and content type, and JSON bodies with the same fields (fresh tokens differ).
    InShape,
    /// Same status, content type and cookies or none (pages carry a fresh CSP nonce).
    InStatus,
}

/// The functions' configuration: the app's DynamoDB table (through `dynamo`) and KMS key on moto.
pub(crate) fn lambda_env(app: &TestApp, dynamo: &str) -> Vec<(String, String)> {
    let table = app.table.clone().expect("the AWS backend");
    let key_id = app.kms.as_ref().expect("the AWS backend").key_id().to_owned();
    [
        ("LATCHKEY_STORE", "dynamodb".to_owned()),
        ("LATCHKEY_TABLE", table),
        ("LATCHKEY_DYNAMODB_ENDPOINT", dynamo.to_owned()),
        ("LATCHKEY_KEYRING", "kms".to_owned()),
        ("LATCHKEY_KMS_KEY_ID", key_id),
        ("LATCHKEY_KMS_ENDPOINT", moto_endpoint()),
        ("LATCHKEY_OUTBOUND_ALLOW", crate::helpers::FIXTURE_HOST.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `value` without the fields named `skip`, wherever they are.
fn without(value: &Value, skip: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().filter(|(k, _)| !skip.contains(&k.as_str())).map(|(k, v)| (k.clone(), without(v, skip))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(|v| without(v, skip)).collect()),
        other => other.clone(),
    }
}

/// The fields of a JSON value, recursively, without their values.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        other => json!(if other.is_null() { "null" } else { "value" }),
    }
}

fn assert_alike(call: &Call, alike: Alike, local: &Answer, lambda: &Answer) {
    let what = format!("{} {} ({alike:?})", call.method, call.target);
    assert_eq!((lambda.status, &lambda.content_type), (local.status, &local.content_type), "{what}: {}", lambda.body);
    match alike {
        Alike::Exactly if local.content_type.starts_with("application/json") => assert_eq!(json_of(lambda), json_of(local), "{what}"),
        Alike::Exactly => assert!(lambda.body == local.body, "{what}: the bodies differ"),
        Alike::ExactlyBut(skip) => {
            // Behind API Gateway every link is https; the local server answers over plain http.
            let lambda = serde_json::from_str(&json_of(lambda).to_string().replace("https://", "http://")).unwrap();
            assert_eq!(without(&lambda, skip), without(&json_of(local), skip), "{what}")
        }
        Alike::InShape => assert_eq!(shape(&json_of(lambda)), shape(&json_of(local)), "{what}"),
        Alike::InStatus => assert_eq!(lambda.has_cookies, local.has_cookies, "{what}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_answers_api_gateway_events_as_the_local_server_does() {
    // Arrange: the local server and the seven HTTP functions over one DynamoDB table and KMS key.
    let app = TestApp::spawn_on(Backend::Aws).await;
    let project = link::project(&app, "Lambdas").await;
    link::api_key_connector(&app, "keys/acme", Some("Acme"), &project.project_id).await;
    let key = project.secret_key.as_str();
    let import = json!({"consumer_id": "user-9", "connector": "keys/acme", "credentials": {"api_key": "acme-key-9"}});
    let imported = Call::post("/v1/connections/import", import).bearer(key).send(&app.http, &app.base).await;
    assert_eq!(imported.status, 201, "{}", imported.body);
    let connection_id = json_of(&imported)["data"]["id"].as_str().expect("connection id").to_owned();
    let (_, user_key) = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-9".into())).await.unwrap();
    let link_token = link::link_token(&app, key, "user-1").await;
    let emulator = Emulator::start().await;
    let env = lambda_env(&app, &moto_endpoint());
    let _instances: Vec<_> = Function::ALL.iter().map(|f| emulator.start_function(f.binary_name(), &env)).collect();
    let host = app.base.trim_start_matches("http://").to_owned();
    let token_body = json!({"subject": {"type": "user", "id": "user-9"}});
    let cases = [
        (Function::ConnectPage, Call::get("/v1/providers"), Alike::Exactly),
        (Function::ConnectPage, Call::get("/connect/sdk.js"), Alike::Exactly),
        (Function::ConnectPage, Call::get("/v1/openapi.json"), Alike::Exactly),
        (Function::ConnectPage, Call::get(format!("/connect?link_token={link_token}")), Alike::InStatus),
        (Function::ConnectPage, Call::get("/connect?link_token=lt_unknown"), Alike::InStatus),
        (Function::CreateLinkToken, Call::post("/v1/link/token", json!({"end_user": {"id": "user-1"}})).bearer(key), Alike::InShape),
        (Function::CreateLinkToken, Call::post("/v1/link/token", json!({"end_user": {}})).bearer(key), Alike::Exactly),
        (Function::CreateLinkToken, Call::post("/v1/link/token", json!({"end_user": {"id": "u"}})), Alike::Exactly),
        (Function::ExchangePublicToken, Call::post("/v1/link/exchange", json!({"public_token": "pt_unknown"})).bearer(key), Alike::Exactly),
        (
            Function::CreateSession,
            Call::post("/v1/sessions", json!({"consumer_id": "user-1", "redirect_uri": format!("{APP_ORIGIN}/done")})).bearer(key),
            Alike::InShape,
        ),
        (
            Function::CreateSession,
            Call::post("/v1/sessions", json!({"consumer_id": "u", "redirect_uri": "https://evil.example/done"})).bearer(key),
            Alike::Exactly,
        ),
        (Function::IssueToken, Call::post("/v1/token/keys%2Facme", token_body.clone()).bearer(user_key.expose()), Alike::Exactly),
        (Function::IssueToken, Call::post("/v1/token/keys%2Fnope", token_body.clone()).bearer(user_key.expose()), Alike::Exactly),
        (Function::IssueToken, Call::post("/v1/token/keys%2Facme", token_body).bearer("sk_wrong"), Alike::Exactly),
        (Function::OAuthCallback, Call::get("/v1/oauth/callback?state=unknown&code=abc"), Alike::InStatus),
        (Function::ConnectionsApi, Call::get("/v1/connections").bearer(key).header("x-latchkey-consumer-id", "user-9"), Alike::ExactlyBut(&["authorize_url"])),
        (Function::ConnectionsApi, Call::get(format!("/v1/connections/{connection_id}")).bearer(key), Alike::ExactlyBut(&["authorize_url"])),
        (Function::ConnectionsApi, Call::get("/v1/connections/conn_unknown").bearer(key), Alike::Exactly),
        (Function::Proxy, Call::get("/v1/proxy/keys%2Facme/users/me").bearer(user_key.expose()).header("x-latchkey-subject", "user:user-1"), Alike::Exactly),
        (Function::Proxy, Call::get("/v1/proxy/keys%2Facme/a%2F..%2Fb").bearer(user_key.expose()).header("x-latchkey-subject", "user:user-1"), Alike::Exactly),
    ];

    for (function, call, alike) in cases {
        // Act
        let local = call.send(&app.http, &app.base).await;
        let lambda = emulator.invoke(function.binary_name(), &call.event(&host)).await;

        // Assert
        assert_alike(&call, alike, &local, &lambda);
    }
    let token = Call::post("/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "user-9"}})).bearer(user_key.expose());
    let issued = emulator.invoke(Function::IssueToken.binary_name(), &token.event(&host)).await;
    assert_eq!((issued.status, json_of(&issued)["access_token"].clone()), (200, json!("acme-key-9")), "{}", issued.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_opens_the_store_connection_and_warm_requests_read_once_and_never_call_kms() {
    // Arrange: the issue-token function reaches DynamoDB and KMS through relays that count.
    let app = TestApp::spawn_on(Backend::Aws).await;
    let project = link::project(&app, "Init").await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let import = json!({"consumer_id": "user-9", "connector": "keys/acme", "credentials": {"api_key": "acme-key-9"}});
    let imported = Call::post("/v1/connections/import", import).bearer(&project.secret_key).send(&app.http, &app.base).await;
    assert_eq!(imported.status, 201, "{}", imported.body);
    let (_, user_key) = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-9".into())).await.unwrap();
    let (dynamo, kms) = (CountingRelay::start(&moto_endpoint()).await.unwrap(), CountingRelay::start(&moto_endpoint()).await.unwrap());
    let mut env = lambda_env(&app, &dynamo.url);
    env.retain(|(k, _)| k != "LATCHKEY_KMS_ENDPOINT");
    env.push(("LATCHKEY_KMS_ENDPOINT".into(), kms.url.clone()));
    let emulator = Emulator::start().await;
    let function = Function::IssueToken.binary_name();
    let _instance = emulator.start_function(function, &env);
    // Init has opened its connection once its warm-up read is counted (the relay counts a call
    // when moto has answered it, a moment after the connection opened).
    for _ in 0..300 {
        if dynamo.connections() > 0 && dynamo.calls() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (init_connections, init_calls) = (dynamo.connections(), dynamo.take());
    let host = app.base.trim_start_matches("http://").to_owned();
    let call = Call::post("/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "user-9"}})).bearer(user_key.expose());
    let cached_since = std::time::Instant::now();
    let first = emulator.invoke(function, &call.event(&host)).await;
    let (first_dynamo, first_kms) = (dynamo.take(), kms.take());

    // Act: twenty warm requests, one after another.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(emulator.invoke(function, &call.event(&host)).await.status);
    }
    // The caller and the connector are trusted from the cache for a bounded time (operator changes
    // must reach every instance): on a loaded machine the requests may outlast it, and each time
    // it runs out those two are read again. Entries age in whole seconds, so one may go after
    // TTL - 1 seconds.
    let windows = (cached_since.elapsed().as_secs_f64() / (latchkey::cache::REVOCABLE_TTL_SECS - 1) as f64).floor() as u64;
    let rereads = 2 * windows;

    // Assert: init opened the one connection every request then reused; a warm request makes one
    // store read and no KMS call (the first one unwrapped the data key once).
    assert_eq!((init_connections, init_calls.get("GetItem").copied()), (1, Some(1)), "init warms one connection: {init_calls:?}");
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first_kms.get("Decrypt").is_some_and(|n| *n <= 1), "{first_kms:?} {first_dynamo:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let warm = dynamo.take();
    let reads = warm.get("GetItem").copied().unwrap_or_default();
    assert_eq!(warm.values().sum::<u64>(), reads, "reads only: {warm:?}");
    assert!((20..=20 + rereads).contains(&reads), "one store read per warm request ({rereads} cache rereads allowed): {warm:?}");
    assert!(kms.take().is_empty(), "a warm request never calls KMS");
    // Clients built per request would open 21 connections. The pool takes a connection back just
    // after its response is read, so a request sent in that instant may open a second one.
    assert!(dynamo.connections() <= 2, "requests reuse the connection init opened: {} opened", dynamo.connections());
}
