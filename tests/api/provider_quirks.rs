//! The catalog's provider quirks, through the real flow code, against a loopback server that
//! answers in each provider's documented shape: Slack's nested `authed_user` and rotation expiry,
//! Salesforce's `instance_url` and expiry by introspection, Xero's tenant list, QuickBooks'
//! `realmId` in the callback, Atlassian's accessible resources.

use latchkey::admin::{create_connector_with, NewConnector, Quirks};
use latchkey::model::{Connection, PostAuthorization, Stored};
use latchkey::{Clock, SecretString};
use serde_json::Value;

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, redirect_param, Agent};
use crate::machine_grants::Shapes;

/// A connector for catalog provider `id`, its endpoints moved to the loopback server under `/id/`.
async fn catalog_connector_at(app: &TestApp, shapes: &Shapes, id: &str, project: &latchkey::model::ProjectId) -> String {
    let entry = latchkey::catalog::provider(id).unwrap();
    let mut quirks = Quirks::of(entry);
    let here = |path: &str| format!("{}/{id}/{path}", shapes.base);
    quirks.post_authorization = quirks.post_authorization.map(|step| match step {
        PostAuthorization::TenantList { field, .. } => PostAuthorization::TenantList { url: here("connections"), field },
        PostAuthorization::AccessibleResources { field, .. } => PostAuthorization::AccessibleResources { url: here("accessible-resources"), field },
        PostAuthorization::IntrospectionExpiry { .. } => PostAuthorization::IntrospectionExpiry { url: here("introspect") },
        other => other,
    });
    let mut oauth = entry.endpoints().unwrap();
    oauth.authorize_url = here("authorize");
    oauth.token_url = here("token");
    oauth.revoke_url = None;
    let uid = format!("{id}/acme");
    let new = NewConnector {
        uid: uid.clone(),
        display_name: Some(entry.name.clone()),
        auth_mode: entry.mode().unwrap(),
        oauth: Some(oauth),
        client_id: Some("client".into()),
        client_secret: Some(SecretString::new("secret")),
        default_scopes: entry.default_scopes.clone(),
        fields: vec![],
    };
    create_connector_with(&app.state, new, quirks, Some(id)).await.unwrap();
    latchkey::admin::link_connector(&app.state, &uid, project, &["production".into()]).await.unwrap();
    uid
}

/// Connects `user-1` through connector `uid`; returns the stored connection, its token answer and
/// the connection access token.
async fn connect(app: &TestApp, project: &link::Linked, uid: &str) -> (latchkey::model::Connection, Value, String) {
    let token = link::link_token(app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize_with(app, &token, uid, &[]).await;
    let done = agent.callback(app, &callback).await;
    let public_token = redirect_param(&done, "public_token").unwrap_or_else(|| panic!("{uid}: {:?}", done.headers().get("location")));
    let exchanged: Value = link::exchange(app, &project.secret_key, &public_token).await.json().await.unwrap();
    let connection =
        latchkey::link::token::resolve_connection(&app.state, &latchkey::model::ConnectionId::parse(exchanged["connection_id"].as_str().unwrap()).unwrap())
            .await
            .unwrap()
            .unwrap();
    let access_token = exchanged["access_token"].as_str().unwrap().to_owned();
    let token = ask_token(app, uid, &access_token).await;
    (connection, token, access_token)
}

/// `POST /v1/token/{uid}` for `user-1` with a connection access token.
async fn ask_token(app: &TestApp, uid: &str, access_token: &str) -> Value {
    let path = format!("/v1/token/{}", uid.replace('/', "%2F"));
    let request = app.http.post(app.url(&path)).bearer_auth(access_token).json(&serde_json::json!({"subject": {"type": "user", "id": "user-1"}}));
    request.send().await.unwrap().json().await.unwrap()
}

async fn arrange() -> (TestApp, Shapes, link::Linked) {
    let app = TestApp::spawn().await;
    let shapes = Shapes::start();
    let project = link::project(&app, "Acme").await;
    (app, shapes, project)
}

#[tokio::test]
async fn slack_keeps_the_bot_token_team_and_rotation_expiry() {
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "slack", &project.project_id).await;
    let (connection, token, _) = connect(&app, &project, &uid).await;
    assert!(token["access_token"].as_str().unwrap().starts_with("xoxb-"), "{token}");
    assert!(token["user_access_token"].as_str().unwrap().starts_with("xoxp-"), "the user token travels beside the bot token");
    assert_eq!(connection.metadata["team_id"], "T9TK3CUKW");
    assert_eq!(connection.metadata["authed_user_id"], "U1234");
    assert_eq!(connection.token_expires_at.unwrap().0 - app.clock.now().0, 43200);
    assert_eq!(connection.scopes, vec!["chat:write", "channels:read"], "Slack separates scopes with commas");
    let raw = app.raw_store().await;
    assert!(!raw.contains(token["user_access_token"].as_str().unwrap()) && !raw.contains("xoxb-"), "both tokens are sealed");
}

#[tokio::test]
async fn salesforce_keeps_the_instance_url_and_learns_expiry_by_introspection() {
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "salesforce", &project.project_id).await;
    let (connection, token, _) = connect(&app, &project, &uid).await;
    assert_eq!(token["metadata"]["instance_url"], "https://acme.my.salesforce.com");
    let left = connection.token_expires_at.unwrap().0 - app.clock.now().0;
    assert!((4990..=5010).contains(&left), "expiry from introspection, not the default: {left}");
    assert!(token["expires_at"].is_string(), "the introspected expiry is the provider's: {token}");
}

#[tokio::test]
async fn an_expiry_the_provider_never_gave_is_never_reported() {
    // Arrange: Salesforce's refresh answer has no expires_in (and no introspection follows it).
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "salesforce", &project.project_id).await;
    let (connection, _, access_token) = connect(&app, &project, &uid).await;
    let mut stored = Stored::<Connection>::get(app.state.store.as_ref(), &latchkey::model::Record::key(&connection)).await.unwrap().unwrap();
    stored.record.token_expires_at = Some(app.clock.now().plus_secs(-10));
    stored.save(app.state.store.as_ref()).await.unwrap();

    // Act: the due token is refreshed.
    let token = ask_token(&app, &uid, &access_token).await;

    // Assert: a new token, no expiry claimed for it; Latchkey keeps its own assumption to schedule
    // the next refresh.
    assert!(token["access_token"].is_string(), "{token}");
    assert!(token.get("expires_at").is_none_or(Value::is_null), "no invented expiry: {token}");
    let refreshed = Stored::<Connection>::get(app.state.store.as_ref(), &latchkey::model::Record::key(&connection)).await.unwrap().unwrap().record;
    assert!(refreshed.token_expiry_assumed && refreshed.token_expires_at.is_some_and(|at| at > app.clock.now()));
}

#[tokio::test]
async fn xero_offers_its_tenant_list_and_waits_for_a_choice() {
    // Arrange / Act: two organisations come back, so the connection waits for the consumer's choice.
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "xero", &project.project_id).await;
    let (connection, token, _) = connect(&app, &project, &uid).await;

    // Assert: authorized, not callable, with the choices listed.
    assert_eq!(connection.state, latchkey::model::ConnectionState::Authorized);
    assert!(connection.metadata.get("tenant_id").is_none());
    assert_eq!(connection.metadata["tenants"][1], serde_json::json!({"id": "xero-tenant-2", "name": "Maple Florists Inc"}));
    assert_eq!(token["error"]["code"], "connection_configuration_required");

    // The configuration step: an id that was not offered is refused; an offered one makes it callable.
    let patch = |value: &str| {
        app.http
            .patch(app.url(&format!("/v1/connections/{}", connection.id)))
            .bearer_auth(&project.secret_key)
            .json(&serde_json::json!({"settings": {"tenant_id": value}}))
            .send()
    };
    assert_eq!(patch("someone-elses-tenant").await.unwrap().status(), 400);
    let configured: Value = patch("xero-tenant-2").await.unwrap().json().await.unwrap();
    assert_eq!(configured["data"]["state"], "callable");
    assert_eq!(configured["data"]["metadata"]["tenant_id"], "xero-tenant-2");
}

#[tokio::test]
async fn quickbooks_keeps_the_realm_id_from_the_callback() {
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "quickbooks", &project.project_id).await;
    let (connection, token, _) = connect(&app, &project, &uid).await;
    assert_eq!(connection.metadata["realm_id"], "9130354517246556");
    assert_eq!(token["metadata"]["realm_id"], "9130354517246556");
}

#[tokio::test]
async fn atlassian_keeps_the_cloud_id_of_its_accessible_resource() {
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "atlassian", &project.project_id).await;
    let (connection, _, _) = connect(&app, &project, &uid).await;
    assert_eq!(connection.metadata["cloud_id"], "1324a887-45db-1bf4-1e99-ef0ff456d421");
}

#[tokio::test]
async fn the_catalog_is_listed_by_the_api_and_groups_the_connect_page() {
    let (app, _shapes, project) = arrange().await;
    let all: Value = app.http.get(app.url("/v1/providers")).send().await.unwrap().json().await.unwrap();
    assert!(all["data"].as_array().unwrap().len() >= 50);
    let crm: Value = app.http.get(app.url("/v1/providers?category=crm")).send().await.unwrap().json().await.unwrap();
    assert!(crm["data"].as_array().unwrap().iter().all(|p| p["category"] == "crm"));
    assert!(crm["data"].as_array().unwrap().iter().any(|p| p["id"] == "salesforce" && p["docs_url"].as_str().unwrap().starts_with("https://")));

    // A catalog connector (HubSpot, crm) and an API-key one of no catalog provider ("other").
    latchkey::admin::create_catalog_connector(&app.state, "hubspot/acme", "hubspot", Some("cid".into()), Some(SecretString::new("s")), vec![]).await.unwrap();
    latchkey::admin::link_connector(&app.state, "hubspot/acme", &project.project_id, &["production".into()]).await.unwrap();
    let custom = NewConnector {
        uid: "keys/acme".into(),
        display_name: Some("Acme API".into()),
        auth_mode: latchkey::model::AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: vec![],
        fields: vec![],
    };
    latchkey::admin::create_connector(&app.state, custom).await.unwrap();
    latchkey::admin::link_connector(&app.state, "keys/acme", &project.project_id, &["production".into()]).await.unwrap();
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let page = app.http.get(app.url(&format!("/connect?link_token={token}"))).send().await.unwrap().text().await.unwrap();
    let (crm_at, other_at) = (page.find("<h2>CRM</h2>").expect("a CRM group"), page.find("<h2>Other</h2>").expect("an Other group"));
    assert!(crm_at < other_at && page[crm_at..other_at].contains("HubSpot"));
    assert!(page.contains(">HS</span>"), "a self-made monogram, no third-party icon");
    assert!(!page.contains("<img"), "no images from anywhere");
}
