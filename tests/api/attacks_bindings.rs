//! Attacks on the bindings of credentials and pages: a key bound to one user reaching another's,
//! a connection token outliving its connection, forms posted from another site, a forged `Host`,
//! and input built to crash, overflow or exhaust. Each is sent as an attacker would send it.

use latchkey::admin;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, hidden_fields, Agent};

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app.http.post(app.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// A project with an API-key connector, a connection for `bob`, and a key bound to `alice`.
async fn arrange() -> (TestApp, link::Linked, String, String) {
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let (status, imported) = post(
        &app,
        &project.secret_key,
        "/v1/connections/import",
        json!({"consumer_id": "bob", "connector": "keys/acme", "credentials": {"api_key": "bobs-key"}}),
    )
    .await;
    assert_eq!(status, 201, "{imported}");
    let (_, alice) = admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("alice".into())).await.unwrap();
    let bob_connection = imported["data"]["id"].as_str().unwrap().to_owned();
    (app, project, alice.expose().to_owned(), bob_connection)
}

#[tokio::test]
async fn a_key_bound_to_one_user_reaches_that_user_only_on_every_route() {
    // Arrange
    let (app, project, alice, bob_connection) = arrange().await;

    // Act / Assert: everything about bob, asked with alice's key, is refused.
    let (status, body) = post(&app, &alice, "/v1/link/token", json!({"end_user": {"id": "bob"}})).await;
    assert_eq!((status, code(&body)), (403, "subject_not_allowed"));
    let (status, body) = post(&app, &alice, "/v1/sessions", json!({"consumer_id": "bob", "redirect_uri": format!("{}/back", link::APP_ORIGIN)})).await;
    assert_eq!((status, code(&body)), (403, "subject_not_allowed"));
    let (status, body) =
        post(&app, &alice, "/v1/connections/import", json!({"consumer_id": "bob", "connector": "keys/acme", "credentials": {"api_key": "x"}})).await;
    assert_eq!((status, code(&body)), (403, "subject_not_allowed"));
    let listed = app.http.get(app.url("/v1/connections?consumer_id=bob")).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(listed.status(), 403);
    let got = app.http.get(app.url(&format!("/v1/connections/{bob_connection}"))).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(got.status(), 404, "another user's connection does not exist for this key");
    let deleted = app.http.delete(app.url(&format!("/v1/connections/{bob_connection}"))).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(deleted.status(), 404);
    let (status, body) = post(&app, &alice, "/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "bob"}})).await;
    assert_eq!((status, code(&body)), (403, "subject_not_allowed"));

    // ...and alice's own work goes through.
    let (status, body) = post(&app, &alice, "/v1/link/token", json!({"end_user": {"id": "alice"}})).await;
    assert_eq!(status, 201, "{body}");
    let still: Value =
        app.http.get(app.url(&format!("/v1/connections/{bob_connection}"))).bearer_auth(&project.secret_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(still["data"]["state"], "callable", "bob's connection is untouched");
}

#[tokio::test]
async fn a_connection_access_token_dies_with_its_connection_its_expiry_its_grant_and_its_revocation() {
    // Arrange: bob's connection through the link flow's API-key form, exchanged for a token that
    // lasts a minute.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let key = project.secret_key.as_str();
    let token = |answer: Value| answer["access_token"].as_str().unwrap().to_owned();
    let brief = token(exchange(&app, key, connect(&app, key).await, Some(60)).await);
    assert_eq!(ask(&app, &brief).await, 200);

    // Act / Assert: the expiry.
    app.clock.advance(61);
    assert_eq!(ask(&app, &brief).await, 401, "expired");

    // A new link for the same user replaces the grant: the tokens of the old one die with it.
    let replaced = token(exchange(&app, key, connect(&app, key).await, None).await);
    assert_eq!(ask(&app, &replaced).await, 200);
    let relinked = token(exchange(&app, key, connect(&app, key).await, None).await);
    assert_eq!((ask(&app, &replaced).await, ask(&app, &relinked).await), (401, 200), "re-linked: only the new grant's token works");

    // The revocation, through the API: at once, and an unknown token is not an error.
    let (status, body) = post(&app, &project.secret_key, "/v1/access-tokens/revoke", json!({"access_token": relinked})).await;
    assert_eq!((status, body["revoked"].as_bool()), (200, Some(true)));
    assert_eq!(ask(&app, &relinked).await, 401, "revoked");
    let (status, _) = post(&app, &project.secret_key, "/v1/access-tokens/revoke", json!({"access_token": "lk_conn_nope"})).await;
    assert_eq!(status, 200);

    // The connection: deleted, then made again for the same user; the old token stays dead.
    let lasting = token(exchange(&app, key, connect(&app, key).await, None).await);
    let connection_id = {
        let (_, body) = post(&app, &lasting, "/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "bob"}})).await;
        body["connection_id"].as_str().unwrap().to_owned()
    };
    let deleted = app.http.delete(app.url(&format!("/v1/connections/{connection_id}"))).bearer_auth(&project.secret_key).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(ask(&app, &lasting).await, 401, "dead with its connection");
    let _fresh = exchange(&app, key, connect(&app, key).await, None).await;
    assert_eq!(ask(&app, &lasting).await, 401, "a new connection for the same user does not bring it back");
}

/// Bob connects through the Connect page's API-key form; answers the public token.
async fn connect(app: &TestApp, key: &str) -> String {
    let token = link::link_token(app, key, "bob").await;
    let form = [("link_token", token.as_str()), ("connector", "keys/acme"), ("mode", "page"), ("api_key", "bobs-key")];
    let done = Agent::default().send(app, reqwest::Method::POST, &app.url("/connect/credentials"), Some(&form)).await;
    link::redirect_param(&done, "public_token").expect("a public token")
}

async fn exchange(app: &TestApp, key: &str, public: String, expires_in: Option<i64>) -> Value {
    let mut body = json!({"public_token": public});
    if let Some(secs) = expires_in {
        body["expires_in"] = json!(secs);
    }
    let (status, answer) = post(app, key, "/v1/link/exchange", body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn ask(app: &TestApp, token: &str) -> u16 {
    post(app, token, "/v1/token/keys%2Facme", json!({"subject": {"type": "user", "id": "bob"}})).await.0
}

#[tokio::test]
async fn a_revoked_secret_key_stops_at_once_on_the_instance_that_revoked_it() {
    // Arrange: a key that has just authenticated (so it is cached).
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let (record, key) = admin::create_secret_key(&app.state, &project.project_id, "production").await.unwrap();
    let (status, _) = post(&app, key.expose(), "/v1/link/token", json!({"end_user": {"id": "u"}})).await;
    assert_eq!(status, 201);

    // Act
    admin::revoke_secret_key(&app.state, &project.project_id, record.key_id.as_str()).await.unwrap();

    // Assert: refused on the very next request, on every route.
    let (status, _) = post(&app, key.expose(), "/v1/link/token", json!({"end_user": {"id": "u"}})).await;
    assert_eq!(status, 401);
    let (status, _) = post(&app, key.expose(), "/v1/token/keys%2Facme", json!({"subject": {"type": "app"}})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_connect_page_refuses_forms_posted_from_another_site() {
    // Arrange: a real link token, and the page as a browser would load it (setting its cookie).
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let token = link::link_token(&app, &project.secret_key, "victim").await;
    let page = app.http.get(app.url(&format!("/connect?link_token={token}"))).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = hidden_fields(&page.text().await.unwrap()).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
    let form = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("link_token", token.as_str()), ("connector", "keys/acme"), ("mode", "page"), ("api_key", "attacker-key")];
        pairs.extend_from_slice(extra);
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
    };
    let send = |body: String, headers: Vec<(&'static str, String)>| {
        let mut request = app.http.post(app.url("/connect/credentials")).header("content-type", "application/x-www-form-urlencoded").body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };

    // Act: what another site's page makes a victim's browser send, and a forger without signals.
    let cross_site = send(form(&[]), vec![("origin", "https://evil.example".into()), ("sec-fetch-site", "cross-site".into())]).await.unwrap();
    let other_origin = send(form(&[]), vec![("origin", "https://evil.example".into())]).await.unwrap();
    let no_token = send(form(&[]), vec![]).await.unwrap();
    let wrong_token = send(form(&[("csrf", "forged")]), vec![("cookie", cookie.clone())]).await.unwrap();
    let right_token = send(form(&[("csrf", csrf.as_str())]), vec![("cookie", cookie)]).await.unwrap();

    // Assert
    for (what, response) in [("cross-site", cross_site), ("other origin", other_origin), ("no token", no_token), ("wrong token", wrong_token)] {
        assert_eq!(response.status(), 403, "{what}");
        assert_eq!(link::page_code(response).await, "cross_site_request", "{what}");
    }
    assert_eq!(right_token.status(), 303, "the page's own form, with its token, is accepted");
    let (connections, _) = admin::list_connections(&app.state, &project.project_id, None, 100, None).await.unwrap();
    assert_eq!(connections.len(), 1, "only the genuine submission connected");
}

#[tokio::test]
async fn an_authorize_link_asks_before_it_sends_the_browser_anywhere() {
    // Arrange
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let provider = crate::provider::Provider::start(&[&app.url("/v1/oauth/callback")]);
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    let listed: Value =
        app.http.get(app.url("/v1/connections?consumer_id=victim")).bearer_auth(&project.secret_key).send().await.unwrap().json().await.unwrap();
    let authorize = listed["data"][0]["authorize_url"].as_str().unwrap().to_owned();
    let writes_before = app.store_counts.writes();

    // Act: another site sends the victim's browser to the link (a top-level GET).
    let opened = app.http.get(&authorize).header("sec-fetch-site", "cross-site").send().await.unwrap();

    // Assert: a page that asks, no redirect, nothing written; a cross-site confirmation is refused.
    assert_eq!(opened.status(), 200);
    assert!(opened.headers().get("location").is_none());
    let html = opened.text().await.unwrap();
    assert!(html.contains("id=\"continue\"") && html.contains("Acme"), "names the app that asks");
    assert_eq!(app.store_counts.writes(), writes_before, "opening the link writes nothing");
    let fields = hidden_fields(&html);
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))).finish();
    let forged = app
        .http
        .post(app.url("/connect/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(provider.issued().await["code_grants"], 0);
}

#[tokio::test]
async fn links_are_never_built_from_a_forged_host() {
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let response = app
        .http
        .post(app.url("/v1/link/token"))
        .bearer_auth(&project.secret_key)
        .header("host", "evil.example")
        .json(&json!({"end_user": {"id": "u"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "invalid_request");
    assert!(!body.to_string().contains("evil.example/connect"));
}

#[tokio::test]
async fn hostile_input_gets_a_clear_4xx_and_costs_no_work() {
    // Arrange
    let (app, project, _, _) = arrange().await;
    let key = project.secret_key.as_str();
    let origin = link::APP_ORIGIN;

    // Act / Assert: a session length that once panicked, one that once overflowed.
    for length in ["5é", "106751991167301d", "é"] {
        let (status, body) =
            post(&app, key, "/v1/sessions", json!({"consumer_id": "u", "redirect_uri": format!("{origin}/d"), "settings": {"session_length": length}})).await;
        assert_eq!((status, code(&body)), (400, "invalid_request"), "{length}");
    }
    // A link token naming thirty thousand connectors: refused before a single store read.
    let reads_before = app.store_counts.reads();
    let connectors: Vec<String> = (0..30_000).map(|i| format!("keys/c{i}")).collect();
    let (status, body) = post(&app, key, "/v1/link/token", json!({"end_user": {"id": "u"}, "connectors": connectors})).await;
    assert_eq!((status, code(&body)), (400, "invalid_request"));
    assert!(app.store_counts.reads() - reads_before <= 1, "only the caller's key was read");
    // Trailing data after the JSON document; a wrong method names the right ones.
    let trailing = app.http.post(app.url("/v1/link/token")).bearer_auth(key).body(r#"{"end_user": {"id": "u"}} {"x": 1}"#).send().await.unwrap();
    assert_eq!(trailing.status(), 400);
    assert_eq!(code(&trailing.json().await.unwrap()), "invalid_json");
    let wrong = app.http.delete(app.url("/v1/link/token")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "POST");
    // Oversized metadata on an import; a session too big to open.
    let metadata: serde_json::Map<String, Value> = (0..40).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (status, _) =
        post(&app, key, "/v1/connections/import", json!({"consumer_id": "u", "connector": "keys/acme", "credentials": {"api_key": "k"}, "metadata": metadata}))
            .await;
    assert_eq!(status, 400);
    let many: Vec<String> = (0..100).map(|i| format!("{:a<37}{i:03}/{:b<57}{i:03}", "", "")).collect();
    let (status, body) =
        post(&app, key, "/v1/sessions", json!({"consumer_id": "u", "redirect_uri": format!("{origin}/d"), "settings": {"allowed_connectors": many}})).await;
    assert_eq!((status, code(&body)), (400, "invalid_request"), "refused when made, rather than failing when opened");
}

#[tokio::test]
async fn made_up_key_ids_and_issuers_cannot_flush_what_others_rely_on() {
    // Arrange: a session (its signing key now cached) and the reads that cost.
    let (app, project, _, _) = arrange().await;
    let (_, body) = post(&app, &project.secret_key, "/v1/sessions", json!({"consumer_id": "u", "redirect_uri": format!("{}/d", link::APP_ORIGIN)})).await;
    let session = body["session_token"].as_str().unwrap().to_owned();
    assert_eq!(app.http.get(app.url(&format!("/connect?jwt={session}"))).send().await.unwrap().status(), 200);
    let reads_before = app.store_counts.queries();

    // Act: fifty session tokens naming unknown kids, and fifty JWTs from made-up issuers.
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for i in 0..50 {
        let forged = format!("{}.{}.c2ln", b64(&json!({"alg": "HS256", "kid": format!("sk_fake{i}")})), b64(&json!({"sub": "u"})));
        app.http.get(app.url(&format!("/connect?jwt={forged}"))).send().await.unwrap();
        let issuer = format!("{}.{}.c2ln", b64(&json!({"alg": "RS256", "kid": "k"})), b64(&json!({"iss": format!("https://issuer-{i}.example")})));
        app.http.post(app.url("/v1/token/keys%2Facme")).bearer_auth(issuer).json(&json!({"subject": {"type": "app"}})).send().await.unwrap();
    }

    // Assert: the unknown kids cost at most one reread; made-up issuers one lookup each, and the
    // real session still opens without rereading its key.
    let rereads = app.store_counts.queries() - reads_before;
    assert!(rereads <= 51, "{rereads} queries for 50 kids and 50 issuers");
    let before = app.store_counts.queries();
    assert_eq!(app.http.get(app.url(&format!("/connect?jwt={session}"))).send().await.unwrap().status(), 200);
    assert!(app.store_counts.queries() - before <= 2, "the signing keys stayed cached");
}
