//! The link flow end to end over HTTP, against the real OAuth provider on loopback: link token,
//! Connect page start, the provider's redirects, the callback, the public-token exchange; and
//! each way it must refuse.

use latchkey::model::{Connection, OAuthFlow, Record, Stored};
use latchkey::{Clock, SecretString};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::link_helpers::{self as link, redirect_param, with_param, Agent, APP_ORIGIN};
use crate::provider::Provider;

/// An app, a provider whose `latchkey-auto` client approves at once, a linked project.
async fn arrange(backend: Backend) -> (TestApp, Provider, link::Linked) {
    let app = TestApp::spawn_on(backend).await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    (app, provider, project)
}

/// Runs a whole authorization for `user`; returns the public token from the redirect.
async fn connect(app: &TestApp, key: &str, user: &str) -> String {
    let token = link::link_token(app, key, user).await;
    let mut agent = Agent::default();
    let callback = agent.authorize(app, &token).await;
    let done = agent.callback(app, &callback).await;
    assert_eq!(done.status(), 303, "callback: {}", done.text().await.unwrap());
    redirect_param(&done, "public_token").expect("public_token in the redirect")
}

async fn full_flow_stores_only_ciphertext(backend: Backend) {
    // Arrange
    let (app, provider, project) = arrange(backend).await;

    // Act
    let public_token = connect(&app, &project.secret_key, "user-1").await;
    let exchanged = link::exchange(&app, &project.secret_key, &public_token).await;

    // Assert
    assert_eq!(exchanged.status(), 200);
    let body: Value = exchanged.json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    assert!(access_token.starts_with("lk_conn_"));
    assert_eq!(body["connector"], "oidc/test");
    assert_eq!(body["end_user"]["id"], "user-1");
    let connection_id = body["connection_id"].as_str().unwrap();
    let connection = latchkey::link::token::resolve_connection(&app.state, &latchkey::model::ConnectionId::parse(connection_id).unwrap())
        .await
        .unwrap()
        .expect("connection");
    assert_eq!(connection.state, latchkey::model::ConnectionState::Callable);
    assert!(connection.scopes.contains(&"contacts.read".to_owned()), "{:?}", connection.scopes);
    assert!(connection.token_expires_at.is_some_and(|at| at > app.clock.now()));

    let issued = provider.issued().await;
    let provider_tokens: Vec<String> = ["access_tokens", "refresh_tokens"]
        .iter()
        .flat_map(|k| issued[k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert!(provider_tokens.len() >= 2, "the provider issued an access and a refresh token: {issued}");
    let opened = app.state.keyring.open(&connection.credentials_binding(), connection.credentials.as_ref().unwrap()).await.unwrap();
    let opened = String::from_utf8(opened.expose().to_vec()).unwrap();
    assert!(provider_tokens.iter().any(|t| opened.contains(t)), "the sealed credentials hold the provider's tokens");

    let raw = app.raw_store().await;
    for secret in provider_tokens.iter().map(String::as_str).chain([public_token.as_str(), access_token.as_str(), project.secret_key.as_str(), "auto-secret"]) {
        assert!(!raw.contains(secret), "a secret is stored in plaintext");
    }
    assert!(raw.contains("lk1."), "the credentials are sealed");
}

#[tokio::test]
async fn the_link_flow_stores_only_ciphertext_in_the_embedded_store() {
    full_flow_stores_only_ciphertext(Backend::Local).await;
}

#[tokio::test]
async fn the_link_flow_stores_only_ciphertext_in_dynamodb() {
    full_flow_stores_only_ciphertext(Backend::Aws).await;
}

#[tokio::test]
async fn a_replayed_state_is_refused() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    let mut replay = agent.clone();
    assert_eq!(agent.callback(&app, &callback).await.status(), 303);

    let again = replay.callback(&app, &callback).await;

    assert_eq!(again.status(), 400);
    assert_eq!(link::page_code(again).await, "state_invalid");
}

#[tokio::test]
async fn a_missing_state_is_refused() {
    let (app, _provider, _project) = arrange(Backend::Local).await;
    let response = app.http.get(app.url("/v1/oauth/callback?code=abc")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(link::page_code(response).await, "state_missing");
}

#[tokio::test]
async fn a_state_from_another_link_token_is_refused() {
    // Arrange: two flows, for two link tokens, in two browsers.
    let (app, _provider, project) = arrange(Backend::Local).await;
    let (token_a, token_b) = (link::link_token(&app, &project.secret_key, "alice").await, link::link_token(&app, &project.secret_key, "bob").await);
    let (mut browser_a, mut browser_b) = (Agent::default(), Agent::default());
    let callback_a = browser_a.authorize(&app, &token_a).await;
    let _callback_b = browser_b.authorize(&app, &token_b).await;

    // Act: browser B arrives with A's state.
    let response = browser_b.callback(&app, &callback_a).await;

    // Assert: refused without consuming the state, so B cannot burn A's sign-in: A still finishes
    // it, once.
    assert_eq!(response.status(), 303);
    assert_eq!(redirect_param(&response, "error").as_deref(), Some("state_mismatch"));
    assert_eq!(redirect_param(&response, "public_token"), None);
    let finished = browser_a.callback(&app, &callback_a).await;
    assert!(redirect_param(&finished, "public_token").is_some(), "A's own flow still completes");
    assert_eq!(link::page_code(browser_a.callback(&app, &callback_a).await).await, "state_invalid");
}

#[tokio::test]
async fn a_wrong_or_missing_iss_is_refused() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    for iss in [Some("https://evil.example"), None] {
        let token = link::link_token(&app, &project.secret_key, "user-1").await;
        let mut agent = Agent::default();
        let callback = agent.authorize(&app, &token).await;
        assert!(callback.contains("iss="), "the provider sends iss (RFC 9207)");

        let response = agent.callback(&app, &with_param(&callback, "iss", iss)).await;

        assert_eq!(redirect_param(&response, "error").as_deref(), Some("issuer_mismatch"), "iss {iss:?}");
    }
}

#[tokio::test]
async fn a_replayed_code_is_refused_by_the_provider() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut first = Agent::default();
    let first_callback = first.authorize(&app, &token).await;
    assert_eq!(first.callback(&app, &first_callback).await.status(), 303);
    let used_code = url::Url::parse(&first_callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();

    let mut second = Agent::default();
    let second_callback = second.authorize(&app, &link::link_token(&app, &project.secret_key, "user-1").await).await;
    let response = second.callback(&app, &with_param(&second_callback, "code", Some(&used_code))).await;

    assert_eq!(redirect_param(&response, "error").as_deref(), Some("code_exchange_failed"));
}

#[tokio::test]
async fn a_pkce_verifier_mismatch_is_refused_by_the_provider() {
    // Arrange: a flow whose stored verifier is swapped for another one.
    let (app, _provider, project) = arrange(Backend::Local).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    let state = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let hash = SecretString::new(state).sha256_hex();
    let mut stored = Stored::<OAuthFlow>::get(app.state.store.as_ref(), &OAuthFlow::key_of(&hash)).await.unwrap().unwrap();
    let binding = OAuthFlow::verifier_binding(&stored.record.project_id, &hash);
    let wrong = "a".repeat(64);
    stored.record.pkce_verifier = Some(app.state.keyring.seal(&binding, wrong.as_bytes()).await.unwrap());
    let mut item = stored.record.to_item().unwrap();
    item.version = stored.version;
    item.expires_at = Some(app.clock.now().plus_secs(600));
    app.state.store.put_if_version(&item).await.unwrap();

    // Act
    let response = agent.callback(&app, &callback).await;

    // Assert
    assert_eq!(redirect_param(&response, "error").as_deref(), Some("code_exchange_failed"));
}

#[tokio::test]
async fn an_expired_link_token_opens_and_finishes_nothing() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    // A flow started just before the link expires...
    app.clock.advance(4 * 3600 - 5);
    let callback = agent.authorize(&app, &token).await;
    app.clock.advance(10);

    // ...cannot finish after it, and the page no longer opens.
    let finished = agent.callback(&app, &callback).await;
    let page = app.http.get(app.url(&format!("/connect?link_token={token}"))).send().await.unwrap();

    assert_eq!(redirect_param(&finished, "error").as_deref(), Some("link_token_invalid"));
    assert_eq!(page.status(), 410);
    let text = page.text().await.unwrap();
    assert!(text.contains("expired") && text.contains("link_token_invalid"), "{text}");
}

#[tokio::test]
async fn another_projects_key_cannot_exchange_and_its_links_cannot_use_our_connector() {
    // Arrange
    let (app, _provider, acme) = arrange(Backend::Local).await;
    let other = link::project(&app, "Other").await;
    let public_token = connect(&app, &acme.secret_key, "user-1").await;

    // Act
    let stolen = link::exchange(&app, &other.secret_key, &public_token).await;
    let other_link = link::link_token(&app, &other.secret_key, "user-9").await;
    let start = Agent::default()
        .send(&app, reqwest::Method::POST, &app.url("/connect/oauth/start"), Some(&[("link_token", &other_link), ("connector", link::CONNECTOR)]))
        .await;
    let asking = link::link_token_response(&app, &other.secret_key, json!({"end_user": {"id": "u"}, "connectors": [link::CONNECTOR]})).await;

    // Assert
    assert_eq!(stolen.status(), 400);
    assert_eq!(stolen.json::<Value>().await.unwrap()["error"]["code"], "public_token_invalid");
    assert_eq!(link::exchange(&app, &acme.secret_key, &public_token).await.status(), 200, "still works for its project");
    assert_eq!(start.status(), 403);
    assert_eq!(link::page_code(start).await, "connector_not_allowed");
    assert_eq!(asking.status(), 403);
    assert_eq!(asking.json::<Value>().await.unwrap()["error"]["code"], "connector_not_allowed");
}

#[tokio::test]
async fn a_public_token_works_once() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    let public_token = connect(&app, &project.secret_key, "user-1").await;
    assert_eq!(link::exchange(&app, &project.secret_key, &public_token).await.status(), 200);
    let again = link::exchange(&app, &project.secret_key, &public_token).await;
    assert_eq!(again.status(), 400);
    assert_eq!(again.json::<Value>().await.unwrap()["error"]["code"], "public_token_invalid");
}

async fn fifty_concurrent_exchanges(backend: Backend) {
    let (app, _provider, project) = arrange(backend).await;
    let public_token = connect(&app, &project.secret_key, "user-1").await;
    let attempts = (0..50).map(|_| link::exchange(&app, &project.secret_key, &public_token));
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 49, "{statuses:?}");
}

#[tokio::test]
async fn fifty_concurrent_exchanges_of_one_public_token_give_one_success() {
    fifty_concurrent_exchanges(Backend::Local).await;
}

#[tokio::test]
async fn fifty_concurrent_exchanges_on_dynamodb_give_one_success() {
    fifty_concurrent_exchanges(Backend::Aws).await;
}

#[tokio::test]
async fn redirect_urls_and_origins_outside_the_allowlist_are_refused() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    for bad in [
        "https://evil.example/done",
        "//evil.example/done",
        "https://app.example.test.evil.example/done",
        "https://app.example.test@evil.example/done",
        "https:%2F%2Fevil.example",
        "https:\\\\evil.example",
        "javascript:alert(1)",
        "http://app.example.test/done",
    ] {
        let response = link::link_token_response(&app, &project.secret_key, json!({"end_user": {"id": "u"}, "redirect_url": bad})).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "redirect_url_not_allowed", "{bad}");
    }
    let token = link::link_token(&app, &project.secret_key, "u").await;
    for origin in ["https://evil.example", "https://app.example.test/path", "null"] {
        let url = format!("/connect?link_token={token}&mode=modal&origin={}", urlencode(origin));
        let page = app.http.get(app.url(&url)).send().await.unwrap();
        assert_eq!(page.status(), 403, "{origin}");
        assert_eq!(link::page_code(page).await, "origin_not_allowed");
    }
    let allowed = app.http.get(app.url(&format!("/connect?link_token={token}&mode=modal&origin={}", urlencode(APP_ORIGIN)))).send().await.unwrap();
    assert_eq!(allowed.status(), 200);
    let csp = allowed.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("frame-ancestors {APP_ORIGIN}")), "{csp}");
    assert_eq!(allowed.headers()["referrer-policy"], "no-referrer");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn access_denied_at_the_provider_reaches_the_app_as_an_exit_code() {
    let (app, provider, project) = arrange(Backend::Local).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    let state = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let denied = format!("{}?error=access_denied&state={}&iss={}", app.url("/v1/oauth/callback"), urlencode(&state), urlencode(&provider.issuer));

    let response = agent.callback(&app, &denied).await;

    assert_eq!(redirect_param(&response, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn a_provider_outage_is_reported_as_provider_unavailable() {
    let (app, provider, project) = arrange(Backend::Local).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    provider.fail_token_endpoint(503, 10).await;

    let response = agent.callback(&app, &callback).await;

    assert_eq!(redirect_param(&response, "error").as_deref(), Some("provider_unavailable"));
}

#[tokio::test]
async fn link_token_requests_are_authenticated_and_validated() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    let no_key = app.http.post(app.url("/v1/link/token")).json(&json!({"end_user": {"id": "u"}})).send().await.unwrap();
    assert_eq!(no_key.status(), 401);
    assert_eq!(no_key.json::<Value>().await.unwrap()["error"]["code"], "unauthenticated");
    let cases = [
        (json!({}), "invalid_json"),
        (json!({"end_user": {"id": ""}}), "invalid_request"),
        (json!({"end_user": {"id": "u"}, "surprise": 1}), "invalid_json"),
        (json!({"end_user": {"id": "u"}, "connectors": ["not a uid"]}), "invalid_request"),
        (json!({"end_user": {"id": "u"}, "connection_id": "conn_missing"}), "connection_not_found"),
    ];
    for (body, code) in cases {
        let response = link::link_token_response(&app, &project.secret_key, body.clone()).await;
        assert!(response.status().is_client_error(), "{body}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code, "{body}");
    }
    let minted = link::link_token_response(&app, &project.secret_key, json!({"end_user": {"id": "u", "email": "u@example.com"}})).await;
    let body: Value = minted.json().await.unwrap();
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(body.get("connect_url").is_none(), "without a redirect URL the link opens only in the SDK's modal: {body}");
    let page = json!({"end_user": {"id": "u"}, "redirect_url": format!("{}/done", link::APP_ORIGIN)});
    let body: Value = link::link_token_response(&app, &project.secret_key, page).await.json().await.unwrap();
    assert!(body["connect_url"].as_str().unwrap().starts_with(&app.url("/connect?link_token=lk_link_")));
}

#[tokio::test]
async fn a_link_without_a_redirect_url_never_starts_as_a_full_page() {
    // Arrange: a link token for the SDK's modal only.
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    link::api_key_connector(&app, "keys/acme", Some("Acme Keys"), &project.project_id).await;
    let body: Value = link::link_token_response(&app, &project.secret_key, json!({"end_user": {"id": "u"}})).await.json().await.unwrap();
    let token = body["link_token"].as_str().unwrap();

    // Act: opened as a full page, then in the modal.
    let full_page = app.http.get(app.url(&format!("/connect?link_token={token}"))).send().await.unwrap();
    let status = full_page.status();
    let code = link::page_code(full_page).await;
    let modal = app.http.get(app.url(&format!("/connect?link_token={token}&mode=modal&origin={}", urlencode(link::APP_ORIGIN)))).send().await.unwrap();

    // Assert: refused before anything starts, with its code; the modal opens.
    assert_eq!((status.as_u16(), code.as_str()), (400, "redirect_url_required"));
    assert_eq!(modal.status(), 200);
    assert!(modal.text().await.unwrap().contains("Acme Keys"));
}

#[tokio::test]
async fn update_mode_reauthorizes_the_same_connection_with_a_short_link() {
    let (app, _provider, project) = arrange(Backend::Local).await;
    let public_token = connect(&app, &project.secret_key, "user-1").await;
    let first: Value = link::exchange(&app, &project.secret_key, &public_token).await.json().await.unwrap();
    let connection_id = first["connection_id"].as_str().unwrap();

    let response = link::link_token_response(
        &app,
        &project.secret_key,
        json!({"end_user": {"id": "user-1"}, "connection_id": connection_id, "redirect_url": format!("{APP_ORIGIN}/done")}),
    )
    .await;
    let body: Value = response.json().await.unwrap();
    let token = body["link_token"].as_str().unwrap();
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, token).await;
    let done = agent.callback(&app, &callback).await;
    let again: Value = link::exchange(&app, &project.secret_key, &redirect_param(&done, "public_token").unwrap()).await.json().await.unwrap();

    assert_eq!(again["connection_id"], connection_id, "the same connection was updated");
    let other_user = link::link_token_response(&app, &project.secret_key, json!({"end_user": {"id": "user-2"}, "connection_id": connection_id})).await;
    assert_eq!(other_user.status(), 404, "update mode is only for the connection's own user");
    let partition = latchkey::model::Project::partition_of(&project.project_id);
    let connections = Stored::<Connection>::query(app.state.store.as_ref(), &partition, Connection::SK_PREFIX).await.unwrap();
    assert_eq!(connections.len(), 1);
}

#[tokio::test]
async fn connection_fields_fill_the_connector_urls_and_cannot_escape_them() {
    // Arrange: a connector whose URLs name a {tenant} the end user gives.
    let (app, provider, project) = arrange(Backend::Local).await;
    let oauth = latchkey::model::OAuthEndpoints {
        authorize_url: format!("{}?tenant={{tenant}}", provider.authorization_endpoint),
        token_url: format!("{}?tenant={{tenant}}", provider.token_endpoint),
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
    };
    let new = latchkey::admin::NewConnector {
        uid: "oidc/tenanted".into(),
        display_name: None,
        auth_mode: latchkey::model::AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("latchkey-auto".into()),
        client_secret: Some(SecretString::new("auto-secret")),
        default_scopes: vec!["openid".into()],
        fields: vec![latchkey::model::ConnectionField {
            name: "tenant".into(),
            label: "Tenant".into(),
            kind: latchkey::model::FieldKind::Segment { numeric: false },
            from: None,
        }],
    };
    latchkey::admin::create_connector(&app.state, new).await.unwrap();
    latchkey::admin::link_connector(&app.state, "oidc/tenanted", &project.project_id, &["production".into()]).await.unwrap();
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let page = app.http.get(app.url(&format!("/connect?link_token={token}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"field_tenant\""), "the page asks for the tenant");

    // Act / Assert: refused without a value or with one that would change the URL.
    for bad in [None, Some("evil.example/x"), Some("a@evil.example")] {
        let mut form = vec![("link_token", token.as_str()), ("connector", "oidc/tenanted")];
        if let Some(value) = bad {
            form.push(("field_tenant", value));
        }
        let refused = Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/oauth/start"), Some(&form)).await;
        assert_eq!(refused.status(), 400, "{bad:?}");
        assert_eq!(link::page_code(refused).await, "field_invalid");
    }
    let mut agent = Agent::default();
    let callback = agent.authorize_with(&app, &token, "oidc/tenanted", &[("field_tenant", "Acme")]).await;
    let done = agent.callback(&app, &callback).await;
    let public_token = redirect_param(&done, "public_token").expect("connected");
    let body: Value = link::exchange(&app, &project.secret_key, &public_token).await.json().await.unwrap();
    let connection =
        latchkey::link::token::resolve_connection(&app.state, &latchkey::model::ConnectionId::parse(body["connection_id"].as_str().unwrap()).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(connection.fields["tenant"], "Acme", "kept in the connection's checked fields");
    assert!(connection.metadata.get("tenant").is_none(), "never in its free-form metadata");
}

#[tokio::test]
async fn a_custom_connector_from_a_discovery_document_completes_the_flow() {
    // Arrange: the endpoints, issuer and iss support come from the provider's discovery document.
    let app = TestApp::spawn().await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    let oauth = latchkey::admin::discover(&app.state, &format!("{}/.well-known/openid-configuration", provider.issuer)).await.unwrap();
    assert!(oauth.requires_iss && oauth.pkce, "{oauth:?}");
    assert_eq!(oauth.issuer.as_deref(), Some(provider.issuer.as_str()));
    let new = latchkey::admin::NewConnector {
        uid: link::CONNECTOR.into(),
        display_name: None,
        auth_mode: latchkey::model::AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("latchkey-auto".into()),
        client_secret: Some(SecretString::new("auto-secret")),
        default_scopes: vec!["openid".into(), "offline_access".into()],
        fields: vec![],
    };
    latchkey::admin::create_connector(&app.state, new).await.unwrap();
    latchkey::admin::link_connector(&app.state, link::CONNECTOR, &project.project_id, &["production".into()]).await.unwrap();

    // Act
    let public_token = connect(&app, &project.secret_key, "user-1").await;

    // Assert
    assert_eq!(link::exchange(&app, &project.secret_key, &public_token).await.status(), 200);
}
