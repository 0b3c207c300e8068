//! The proxy: provider API calls with the credential injected in each style the catalog knows,
//! one single-flight refresh when the provider rejects a token, `Retry-After` honoured within a
//! bound, paths that would leave the API base refused before anything is sent, and large answers
//! streamed through.

use bytes::Bytes;
use latchkey::admin::{create_connector_with, link_connector, NewConnector, Quirks};
use latchkey::model::{ApiAuth, ApiSpec, AuthMode, BasicHalf, OAuthEndpoints, TokenAuthMethod};
use latchkey::SecretString;
use latchkey_test_support::attacker::Attacker;
use latchkey_test_support::provider_api::{Answer, ProviderApi, Received};
use latchkey_test_support::relay::TokenEndpoint;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link};

const USER: &str = "user:u1";

/// An API-key connector `uid` whose API is `api`, linked to the project, with u1's key imported.
async fn api_key_connector(app: &TestApp, project: &link::Linked, uid: &str, api: ApiSpec) {
    let new = NewConnector {
        uid: uid.into(),
        display_name: None,
        auth_mode: AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: vec![],
        fields: vec![],
    };
    create_connector_with(&app.state, new, Quirks { api: Some(api), ..Quirks::default() }, None).await.unwrap();
    link_connector(&app.state, uid, &project.project_id, &["production".into()]).await.unwrap();
    import(app, project, json!({"consumer_id": "u1", "connector": uid, "credentials": {"api_key": "k-123"}})).await;
}

async fn import(app: &TestApp, project: &link::Linked, body: Value) {
    let response = app.http.post(app.url("/v1/connections/import")).bearer_auth(&project.secret_key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn api(base: &str, auth: ApiAuth) -> ApiSpec {
    ApiSpec { base_url: format!("{base}/api"), auth, headers: [("Api-Version".to_owned(), "2026-01".to_owned())].into() }
}

async fn user_key(app: &TestApp, project: &link::Linked) -> String {
    latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("u1".into())).await.unwrap().1.expose().to_owned()
}

fn call(app: &TestApp, key: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.http.request(method, app.url(&format!("/v1/proxy/{path}"))).bearer_auth(key).header("x-latchkey-subject", USER)
}

fn echo(request: &Received, _: usize) -> Answer {
    let mut answer = Answer::json(201, json!({"seen": request.target}));
    answer.headers.push(("set-cookie".into(), "session=provider".into()));
    answer.headers.push(("x-provider-request".into(), "p-1".into()));
    answer
}

#[tokio::test]
async fn each_injection_style_reaches_the_provider_as_it_expects_and_nothing_of_latchkeys_crosses() {
    // Arrange: one API, four connectors, each presenting the key its own way.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let provider = ProviderApi::start(echo).await.unwrap();
    let styles = [
        ("bearer/acme", ApiAuth::Bearer),
        ("header/acme", ApiAuth::Header { name: "X-Api-Key".into(), prefix: "Key ".into() }),
        ("query/acme", ApiAuth::Query { name: "api_key".into() }),
        ("basic/acme", ApiAuth::Basic { api_key_as: Some(BasicHalf::Username), username: None, password: Some("X".into()) }),
    ];
    for (uid, auth) in &styles {
        api_key_connector(&app, &project, uid, api(&provider.url, auth.clone())).await;
    }
    let key = user_key(&app, &project).await;

    // Act
    let mut answers = Vec::new();
    for (uid, _) in &styles {
        let path = format!("{}/users/me?page=2", uid.replace('/', "%2F"));
        let response = call(&app, &key, reqwest::Method::POST, &path)
            .header("x-request-id", "r-1")
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("cookie", "mine=1")
            .body("{\"a\":1}")
            .send()
            .await
            .unwrap();
        answers.push((response.status().as_u16(), response.headers().clone(), response.json::<Value>().await.unwrap()));
    }

    // Assert: where each key went.
    let received = provider.received();
    assert_eq!(received.len(), 4);
    assert_eq!(received[0].header("authorization"), Some("Bearer k-123"));
    assert_eq!(received[1].header("x-api-key"), Some("Key k-123"));
    assert_eq!(received[2].target, "/api/users/me?page=2&api_key=k-123");
    assert_eq!(received[3].header("authorization"), Some("Basic ay0xMjM6WA=="));
    for request in &received {
        assert_eq!((request.method.as_str(), request.body_len), ("POST", 7));
        assert!(request.target.starts_with("/api/users/me?page=2"));
        assert_eq!((request.header("x-request-id"), request.header("api-version")), (Some("r-1"), Some("2026-01")));
        let leaked = request.headers.iter().any(|(n, v)| v.contains("lk_sk_") || n.starts_with("x-latchkey") || n == "x-hop" || n == "cookie");
        assert!(!leaked, "Latchkey's credential, its headers or a hop-by-hop header crossed: {:?}", request.headers);
    }
    for (status, headers, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        assert_eq!(headers["x-latchkey-upstream"], "true");
        assert_eq!(headers["x-provider-request"], "p-1");
        assert!(headers.get("set-cookie").is_none(), "the provider's cookies stay with it");
    }
}

/// An OAuth connector whose tokens come from `tokens`, with u1's connection imported holding a
/// token the API will reject.
async fn oauth_connector(app: &TestApp, project: &link::Linked, tokens: &TokenEndpoint, api_base: &str) {
    let oauth = OAuthEndpoints {
        authorize_url: tokens.url.replace("/token", "/authorize"),
        token_url: tokens.url.clone(),
        revoke_url: None,
        issuer: None,
        requires_iss: false,
        scope_separator: " ".into(),
        pkce: true,
        token_auth: TokenAuthMethod::ClientSecretPost,
        authorize_params: Default::default(),
        default_token_lifetime_secs: 3600,
        refresh_buffer_secs: 300,
        revocation_scope: Default::default(),
    };
    let new = NewConnector {
        uid: "rotating/acme".into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("client".into()),
        client_secret: Some(SecretString::new("secret")),
        default_scopes: vec![],
        fields: vec![],
    };
    create_connector_with(&app.state, new, Quirks { api: Some(api(api_base, ApiAuth::Bearer)), ..Quirks::default() }, None).await.unwrap();
    link_connector(&app.state, "rotating/acme", &project.project_id, &["production".into()]).await.unwrap();
    let credentials = json!({"access_token": "revoked-at-the-provider", "refresh_token": "r-0", "expires_in": 3600});
    import(app, project, json!({"consumer_id": "u1", "connector": "rotating/acme", "credentials": credentials})).await;
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_for_fifty_concurrent_calls_and_each_is_retried() {
    // Arrange: the API accepts only tokens the token endpoint has granted.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let tokens = TokenEndpoint::start().await.unwrap();
    let provider = ProviderApi::start(|request, _| match request.header("authorization") {
        Some(bearer) if bearer.starts_with("Bearer refreshed-") => Answer::json(200, json!({"ok": true})),
        _ => Answer::json(401, json!({"error": "invalid_token"})),
    })
    .await
    .unwrap();
    oauth_connector(&app, &project, &tokens, &provider.url).await;
    let key = user_key(&app, &project).await;

    // Act
    let calls = (0..50).map(|_| call(&app, &key, reqwest::Method::GET, "rotating%2Facme/items").send());
    let statuses: Vec<u16> = futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();

    // Assert: one refresh, every call answered by the provider with the new token.
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!((tokens.grants(), tokens.reuses()), (1, 0));
    let rejected = provider.received().iter().filter(|r| r.header("authorization") == Some("Bearer revoked-at-the-provider")).count();
    assert!((1..=50).contains(&rejected));
}

#[tokio::test]
async fn retry_after_is_honoured_when_asked_and_bounded() {
    // Arrange: an API that is busy twice (Retry-After: 1), then answers; and one that asks for a minute.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let busy = ProviderApi::start(|_, before| match before % 3 {
        2 => Answer::json(200, json!({"ok": true})),
        _ => Answer { status: 503, headers: vec![("retry-after".into(), "1".into())], body: Bytes::new() },
    })
    .await
    .unwrap();
    let patient = ProviderApi::start(|_, _| Answer { status: 429, headers: vec![("retry-after".into(), "60".into())], body: Bytes::new() }).await.unwrap();
    api_key_connector(&app, &project, "busy/acme", api(&busy.url, ApiAuth::Bearer)).await;
    api_key_connector(&app, &project, "patient/acme", api(&patient.url, ApiAuth::Bearer)).await;
    let key = user_key(&app, &project).await;

    // Act
    let retried = call(&app, &key, reqwest::Method::GET, "busy%2Facme/x").header("x-latchkey-retries", "2").send().await.unwrap().status();
    let not_asked = call(&app, &key, reqwest::Method::GET, "busy%2Facme/x").send().await.unwrap().status();
    let too_long = call(&app, &key, reqwest::Method::GET, "patient%2Facme/x").header("x-latchkey-retries", "3").send().await.unwrap().status();
    let too_many = call(&app, &key, reqwest::Method::GET, "busy%2Facme/x").header("x-latchkey-retries", "9").send().await.unwrap();

    // Assert
    assert_eq!(retried.as_u16(), 200, "two retries after the provider's Retry-After");
    assert_eq!(busy.received().len(), 4, "three for the retried call, one for the call that asked for none");
    assert_eq!(not_asked.as_u16(), 503, "no retry unless asked");
    assert_eq!((too_long.as_u16(), patient.received().len()), (429, 1), "a Retry-After past the bound is passed back, not waited out");
    assert_eq!(too_many.status(), 400);
    assert_eq!(too_many.json::<Value>().await.unwrap()["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn paths_that_would_leave_the_api_base_reach_nobody() {
    // Arrange: the API, and an attacker's listener.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let provider = ProviderApi::start(echo).await.unwrap();
    let attacker = Attacker::start(false).await;
    api_key_connector(&app, &project, "keys/acme", api(&provider.url, ApiAuth::Bearer)).await;
    let key = user_key(&app, &project).await;
    let at = attacker.host();

    // Act: every way out of the base an attacker sends.
    let attempts = [
        "..%2F..%2Fadmin".to_owned(),
        "%2e%2e/%2e%2e/admin".to_owned(),
        "a/%2E%2E/%2E%2E/%2E%2E/admin".to_owned(),
        format!("/{at}/steal"),
        format!("%2F%2F{at}/steal"),
        format!("@{at}/steal"),
        format!("x%40{at}/steal"),
        "a%5C..%5Cadmin".to_owned(),
        "a%00b".to_owned(),
    ];
    let mut answers = Vec::new();
    for attempt in &attempts {
        // Sent as written, over a plain socket: an HTTP client would normalise `%2e%2e` away.
        let (status, body) = raw_get(&app, &format!("/v1/proxy/keys%2Facme/{attempt}"), &key).await;
        answers.push((attempt.clone(), status, body));
    }

    // Assert: each refused as Latchkey's own JSON error; neither the attacker nor the API got anything.
    for (attempt, status, body) in &answers {
        assert_eq!((*status, body["error"]["code"].as_str()), (400, Some("proxy_path_invalid")), "{attempt}: {body}");
    }
    attacker.assert_untouched("a proxied path that leaves the API base");
    assert!(provider.received().is_empty(), "{:?}", provider.received());
}

/// GET `target` exactly as written, over one HTTP/1.1 connection; the status and the JSON body.
async fn raw_get(app: &TestApp, target: &str, key: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\nx-latchkey-subject: {USER}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn latchkeys_own_refusals_stay_json_with_their_codes() {
    // Arrange: a connector with no API block, and one with.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let provider = ProviderApi::start(echo).await.unwrap();
    api_key_connector(&app, &project, "keys/acme", api(&provider.url, ApiAuth::Bearer)).await;
    link::api_key_connector(&app, "plain/acme", None, &project.project_id).await;
    import(&app, &project, json!({"consumer_id": "u1", "connector": "plain/acme", "credentials": {"api_key": "k"}})).await;
    let key = user_key(&app, &project).await;

    // Act / Assert
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (call(&app, &key, reqwest::Method::GET, "plain%2Facme/x"), 409, "connector_not_proxyable"),
        (call(&app, &key, reqwest::Method::GET, "nope%2Facme/x"), 404, "connector_not_found"),
        (app.http.get(app.url("/v1/proxy/keys%2Facme/x")).bearer_auth(&key).header("x-latchkey-subject", "robot"), 400, "invalid_request"),
        (app.http.get(app.url("/v1/proxy/keys%2Facme/x")).bearer_auth(&key), 400, "invalid_request"),
        (app.http.get(app.url("/v1/proxy/keys%2Facme/x")).header("x-latchkey-subject", USER), 401, "unauthenticated"),
        (app.http.get(app.url("/v1/proxy/keys%2Facme/x")).bearer_auth(&key).header("x-latchkey-subject", "user:someone-else"), 403, "subject_not_allowed"),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert!(response.headers().get("x-latchkey-upstream").is_none());
        let got = (response.status().as_u16(), response.json::<Value>().await.unwrap());
        assert_eq!((got.0, got.1["error"]["code"].as_str()), (status, Some(code)), "{}", got.1);
    }
    assert!(provider.received().is_empty());
}

#[tokio::test]
async fn a_large_answer_streams_through_whole() {
    // Arrange: 24 MiB from the provider.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let big = Bytes::from(vec![b'x'; 24 * 1024 * 1024]);
    let provider = ProviderApi::start(move |_, _| Answer { status: 200, headers: vec![], body: big.clone() }).await.unwrap();
    api_key_connector(&app, &project, "files/acme", api(&provider.url, ApiAuth::Bearer)).await;
    let key = user_key(&app, &project).await;

    // Act
    let response = call(&app, &key, reqwest::Method::GET, "files%2Facme/download").send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 24 * 1024 * 1024);
}
