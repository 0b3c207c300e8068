//! A connection's lifecycle never strands a grant: a new link for the same user and connector
//! revokes the grant it replaces at the provider (where revoking one token ends only its own
//! grant), and an imported token that has already expired is refreshed, not served.

use latchkey::admin::{update_connector, ConnectorChanges};
use latchkey::model::{ConnectionId, RevocationScope};
use latchkey::oauth::Credentials;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, redirect_param, Agent, CONNECTOR};
use crate::provider::Provider;

const URL: &str = "/v1/token/oidc%2Ftest";

/// Links `user-1` through a fresh browser; answers the connection id and its access token.
async fn link_user(app: &TestApp, project: &link::Linked) -> (ConnectionId, String) {
    let token = link::link_token(app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(app, &token).await;
    let public_token = redirect_param(&agent.callback(app, &callback).await, "public_token").expect("connected");
    let body: Value = link::exchange(app, &project.secret_key, &public_token).await.json().await.unwrap();
    (ConnectionId::parse(body["connection_id"].as_str().unwrap()).unwrap(), body["access_token"].as_str().unwrap().to_owned())
}

/// The refresh token sealed in the connection now.
async fn refresh_token_of(app: &TestApp, id: &ConnectionId) -> String {
    let connection = latchkey::link::token::resolve_connection(&app.state, id).await.unwrap().unwrap();
    let opened = app.state.keyring.open(&connection.credentials_binding(), connection.credentials.as_ref().unwrap()).await.unwrap();
    Credentials::from_opened(opened.expose()).unwrap().refresh_token.clone().unwrap()
}

async fn token_status(app: &TestApp, credential: &str) -> u16 {
    app.http.post(app.url(URL)).bearer_auth(credential).json(&json!({"subject": {"type": "user", "id": "user-1"}})).send().await.unwrap().status().as_u16()
}

async fn arrange(grant_per_authorization: bool, scope: RevocationScope) -> (TestApp, Provider, link::Linked) {
    let app = TestApp::spawn().await;
    let env: &[(&str, &str)] = if grant_per_authorization { &[("OIDC_GRANT_PER_AUTHORIZATION", "1")] } else { &[] };
    let provider = Provider::start_with(&[&app.url("/v1/oauth/callback")], env);
    let project = link::project(&app, "Acme").await;
    link::connector(&app, &provider, "latchkey-auto", "auto-secret", &project.project_id).await;
    update_connector(&app.state, CONNECTOR, ConnectorChanges { revocation_scope: Some(scope), ..ConnectorChanges::default() }).await.unwrap();
    (app, provider, project)
}

#[tokio::test]
async fn a_new_link_revokes_the_grant_it_replaces_after_storing_the_new_one() {
    // Arrange: a provider where each authorization is a grant of its own.
    let (app, provider, project) = arrange(true, RevocationScope::Token).await;
    let (id, _) = link_user(&app, &project).await;
    let old = refresh_token_of(&app, &id).await;
    assert!(provider.is_active(&old).await);

    // Act: the same user links the same connector again.
    let (again, access_token) = link_user(&app, &project).await;

    // Assert: the same connection, the old grant ended at the provider, the new one working.
    assert_eq!(again, id);
    let new = refresh_token_of(&app, &id).await;
    assert_ne!(new, old);
    assert!(!provider.is_active(&old).await, "the replaced grant is revoked");
    assert!(provider.is_active(&new).await, "the new grant is not");
    assert_eq!(provider.issued().await["grants_revoked"], 1);
    assert_eq!(token_status(&app, &access_token).await, 200);
}

#[tokio::test]
async fn a_provider_that_revokes_whole_authorizations_keeps_the_new_grant_alive() {
    // Arrange: a provider (like Google) whose second authorization extends the first grant.
    let (app, provider, project) = arrange(false, RevocationScope::Grant).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    redirect_param(&agent.callback(&app, &callback).await, "public_token").expect("connected");

    // Act: the same browser authorizes again.
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let callback = agent.authorize(&app, &token).await;
    let public_token = redirect_param(&agent.callback(&app, &callback).await, "public_token").expect("connected again");
    let body: Value = link::exchange(&app, &project.secret_key, &public_token).await.json().await.unwrap();

    // Assert: nothing revoked, so the shared grant, and the new token, still work.
    let id = ConnectionId::parse(body["connection_id"].as_str().unwrap()).unwrap();
    assert_eq!(provider.issued().await["grants_revoked"], 0);
    assert!(provider.is_active(&refresh_token_of(&app, &id).await).await);
    assert_eq!(token_status(&app, body["access_token"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn an_imported_token_that_has_expired_is_refreshed_on_first_use_never_served() {
    // Arrange: a real grant, imported with an expiry already past.
    let (app, provider, project) = arrange(true, RevocationScope::Token).await;
    let (id, _) = link_user(&app, &project).await;
    let refresh_token = refresh_token_of(&app, &id).await;
    let user_key = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-1".into())).await.unwrap().1;
    let past = latchkey::Clock::now(&app.clock).0 - 60;
    let import = json!({"consumer_id": "user-1", "connector": CONNECTOR, "credentials": {"access_token": "stale-token", "refresh_token": refresh_token, "expires_at": past}});
    let imported = app.http.post(app.url("/v1/connections/import")).bearer_auth(&project.secret_key).json(&import).send().await.unwrap();
    assert_eq!(imported.status(), 201, "{}", imported.text().await.unwrap());

    // Act
    let answer: Value = app
        .http
        .post(app.url(URL))
        .bearer_auth(user_key.expose())
        .json(&json!({"subject": {"type": "user", "id": "user-1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Assert: a provider token, fresh from a refresh, with the provider's expiry.
    assert_ne!(answer["access_token"], "stale-token", "{answer}");
    assert!(provider.issued().await["access_tokens"].as_array().unwrap().contains(&answer["access_token"]));
    assert_eq!(provider.issued().await["refresh_grants"], 1);
    let connection = latchkey::link::token::resolve_connection(&app.state, &id).await.unwrap().unwrap();
    assert!(!connection.token_expiry_assumed);
}

#[tokio::test]
async fn a_change_written_during_a_refresh_keeps_the_rotated_refresh_token() {
    use latchkey::model::{Connection, Record, Stored};
    use latchkey_test_support::relay::TokenEndpoint;
    // Arrange: an imported connection whose token is due, at a provider that rotates refresh
    // tokens and refuses one presented twice.
    let app = TestApp::spawn().await;
    let provider = TokenEndpoint::start().await.unwrap();
    let project = link::project(&app, "Acme").await;
    rotating_connector(&app, &provider.url, &project).await;
    let import = json!({"consumer_id": "user-1", "connector": "rotating/acme", "credentials": {"access_token": "old", "refresh_token": "first-refresh-token"}});
    let imported = app.http.post(app.url("/v1/connections/import")).bearer_auth(&project.secret_key).json(&import).send().await.unwrap();
    assert_eq!(imported.status(), 201);
    let user_key = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-1".into())).await.unwrap().1;
    let ask = || {
        let request = app.http.post(app.url("/v1/token/rotating%2Facme")).bearer_auth(user_key.expose());
        request.json(&json!({"subject": {"type": "user", "id": "user-1"}})).send()
    };

    // Act: while the provider answers the refresh, someone else writes the connection.
    provider.hold();
    let refreshing = tokio::spawn(ask());
    while provider.arrived() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let partition = latchkey::model::Project::partition_of(&project.project_id);
    let key = Stored::<Connection>::query(app.state.store.as_ref(), &partition, Connection::SK_PREFIX).await.unwrap().remove(0).record.key();
    let mut stored = Stored::<Connection>::get(app.state.store.as_ref(), &key).await.unwrap().unwrap();
    stored.record.metadata.insert("note".into(), json!("edited meanwhile"));
    stored.save(app.state.store.as_ref()).await.unwrap();
    provider.release();
    let answer: Value = refreshing.await.unwrap().unwrap().json().await.unwrap();

    // Assert: the new token is served and kept beside the other change; the rotated refresh
    // token works for the next refresh (nothing presented twice).
    assert_eq!(answer["access_token"], "refreshed-1", "{answer}");
    let after = Stored::<Connection>::get(app.state.store.as_ref(), &key).await.unwrap().unwrap().record;
    assert_eq!(after.metadata["note"], "edited meanwhile");
    let mut due = Stored::<Connection>::get(app.state.store.as_ref(), &key).await.unwrap().unwrap();
    due.record.token_expires_at = Some(latchkey::Clock::now(&app.clock).plus_secs(-1));
    due.save(app.state.store.as_ref()).await.unwrap();
    let again: Value = ask().await.unwrap().json().await.unwrap();
    assert_eq!(again["access_token"], "refreshed-2", "{again}");
    assert_eq!((provider.grants(), provider.reuses()), (2, 0));
}

/// An OAuth connector `rotating/acme` at `token_url`, linked to the project in production.
async fn rotating_connector(app: &TestApp, token_url: &str, project: &link::Linked) {
    use latchkey::model::{AuthMode, OAuthEndpoints, TokenAuthMethod};
    let oauth = OAuthEndpoints {
        authorize_url: token_url.replace("/token", "/authorize"),
        token_url: token_url.to_owned(),
        revoke_url: None,
        issuer: None,
        requires_iss: false,
        scope_separator: " ".into(),
        pkce: true,
        token_auth: TokenAuthMethod::ClientSecretPost,
        authorize_params: Default::default(),
        default_token_lifetime_secs: 3600,
        refresh_buffer_secs: 300,
        revocation_scope: RevocationScope::Token,
    };
    let new = latchkey::admin::NewConnector {
        uid: "rotating/acme".into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("client".into()),
        client_secret: Some(latchkey::SecretString::new("secret")),
        default_scopes: Vec::new(),
        fields: Vec::new(),
    };
    latchkey::admin::create_connector(&app.state, new).await.unwrap();
    latchkey::admin::link_connector(&app.state, "rotating/acme", &project.project_id, &["production".into()]).await.unwrap();
}
