//! The catalog's provider quirks, through the real flow code, against a loopback server that
//! answers in each provider's documented shape: Slack's nested `authed_user` and rotation expiry,
//! Salesforce's `instance_url` and expiry by introspection, Xero's tenant list, QuickBooks'
//! `realmId` in the callback, Atlassian's accessible resources, Zoho's `location` and
//! `accounts-server` in the callback (kept, never called), Asana's user under `data`, Instagram's
//! granted scope as `permissions`, DocuSign's base URI and Mailchimp's data centre from a userinfo
//! call, and Mailchimp's token that never expires and has no refresh token.

use latchkey::admin::{create_connector_with, NewConnector, Quirks};
use latchkey::model::{Connection, PostAuthorization, Stored};
use latchkey::{Clock, SecretString};
use latchkey_test_support::attacker::Attacker;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, redirect_param, Agent};
use crate::machine_grants::Shapes;

/// A connector for catalog provider `id`, its endpoints moved to the loopback server under `/id/`.
async fn catalog_connector_at(app: &TestApp, shapes: &Shapes, id: &str, project: &latchkey::model::ProjectId) -> String {
    let scopes = latchkey::catalog::provider(id).unwrap().default_scopes.clone();
    catalog_connector_asking(app, shapes, id, project, scopes).await
}

/// [`catalog_connector_at`], asking for `scopes` rather than the entry's default ones.
async fn catalog_connector_asking(app: &TestApp, shapes: &Shapes, id: &str, project: &latchkey::model::ProjectId, scopes: Vec<String>) -> String {
    let entry = latchkey::catalog::provider(id).unwrap();
    let mut quirks = Quirks::of(entry);
    let here = |path: &str| format!("{}/{id}/{path}", shapes.base);
    quirks.post_authorization = quirks.post_authorization.map(|step| match step {
        PostAuthorization::TenantList { field, .. } => PostAuthorization::TenantList { url: here("connections"), field },
        PostAuthorization::AccessibleResources { field, .. } => PostAuthorization::AccessibleResources { url: here("accessible-resources"), field },
        PostAuthorization::IntrospectionExpiry { .. } => PostAuthorization::IntrospectionExpiry { url: here("introspect") },
        // DocuSign's `.../oauth/userinfo`, Mailchimp's `.../oauth2/metadata`: the same last segment.
        PostAuthorization::Userinfo { url, field, path } => PostAuthorization::Userinfo { url: here(url.rsplit('/').next().unwrap()), field, path },
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
        default_scopes: scopes,
        fields: entry.connection_fields.clone(),
    };
    create_connector_with(&app.state, new, quirks, Some(id)).await.unwrap();
    latchkey::admin::link_connector(&app.state, &uid, project, &["production".into()]).await.unwrap();
    uid
}

/// Connects `user-1` through connector `uid`; returns the stored connection, its token answer and
/// the connection access token.
async fn connect(app: &TestApp, project: &link::Linked, uid: &str) -> (latchkey::model::Connection, Value, String) {
    connect_with(app, project, uid, &[]).await
}

/// [`connect`], the end user giving the connector's fields (`field_<name>`) on the Connect page.
async fn connect_with(app: &TestApp, project: &link::Linked, uid: &str, fields: &[(&str, &str)]) -> (latchkey::model::Connection, Value, String) {
    let token = link::link_token(app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize_with(app, &token, uid, fields).await;
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

/// Changes how the loopback server answers in this run (`settings` in shapes-server.mjs).
async fn shapes_settings(shapes: &Shapes, settings: Value) {
    let response = reqwest::Client::new().post(format!("{}/test/settings", shapes.base)).json(&settings).send().await.unwrap();
    assert!(response.status().is_success(), "{settings}");
}

/// The stored connection now.
async fn stored(app: &TestApp, connection: &Connection) -> Connection {
    Stored::<Connection>::get(app.state.store.as_ref(), &latchkey::model::Record::key(connection)).await.unwrap().unwrap().record
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
async fn zoho_keeps_the_data_centre_from_the_callback_and_never_calls_the_accounts_server_it_names() {
    // Arrange: an EU account. The authorization response's `accounts-server` travels through the
    // end user's browser, so here it names an attacker on the fixtures' own (allowed) address.
    let (app, shapes, project) = arrange().await;
    let attacker = Attacker::start(true).await;
    let accounts_server = format!("http://{}", attacker.host());
    shapes_settings(&shapes, json!({"zoho_accounts_server": accounts_server})).await;
    let uid = catalog_connector_at(&app, &shapes, "zoho-crm", &project.project_id).await;

    // Act: the code exchange (the data centre chosen on the Connect page), then a refresh once the
    // token's hour is up.
    let (connection, token, access_token) = connect_with(&app, &project, &uid, &[("field_domain", "eu")]).await;
    app.clock.advance(3600);
    let refreshed = ask_token(&app, &uid, &access_token).await;

    // Assert: both callback values kept as metadata, marked as the end user's, and answered with
    // the token; the refresh went to the connector's token URL, never to the accounts server.
    assert_eq!(connection.fields["domain"], "eu");
    assert_eq!(connection.metadata["location"], "eu");
    assert_eq!(connection.metadata["accounts_server"], accounts_server.as_str());
    assert_eq!(connection.metadata["api_domain"], "https://www.zohoapis.eu");
    for name in ["location", "accounts_server"] {
        assert!(connection.end_user_supplied.iter().any(|n| n == name), "{name} came through the browser: {:?}", connection.end_user_supplied);
    }
    assert_eq!(token["metadata"]["location"], "eu", "{token}");
    assert_eq!(token["metadata"]["accounts_server"], accounts_server.as_str(), "{token}");
    assert!(refreshed["access_token"].as_str().is_some_and(|t| t.starts_with("1000.") && Some(t) != token["access_token"].as_str()), "refreshed: {refreshed}");
    assert_eq!(refreshed["metadata"]["location"], "eu", "kept across the refresh: {refreshed}");
    assert_eq!(refreshed["metadata"]["accounts_server"], accounts_server.as_str(), "kept across the refresh: {refreshed}");
    attacker.assert_untouched("Zoho's accounts-server from the callback");
}

#[tokio::test]
async fn asana_keeps_the_mapped_paths_under_data_and_nothing_else_of_it() {
    // Arrange
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "asana", &project.project_id).await;

    // Act: the code exchange, then a refresh (whose answer names the user under `data` again).
    let (connection, token, access_token) = connect(&app, &project, &uid).await;
    app.clock.advance(3600);
    let refreshed = ask_token(&app, &uid, &access_token).await;

    // Assert: `data.gid` and `data.email`, as named; not `data.id`, `data.name` nor `data` itself.
    let kept = json!({"user_gid": "4673218951", "user_email": "gsanchez@example.com"});
    assert_eq!(Value::Object(connection.metadata.clone()), kept);
    assert_eq!(token["metadata"], kept, "{token}");
    assert!(refreshed["access_token"].is_string() && refreshed["access_token"] != token["access_token"], "refreshed: {refreshed}");
    assert_eq!(refreshed["metadata"], kept, "{refreshed}");
    assert_eq!(Value::Object(stored(&app, &connection).await.metadata), kept);
    let raw = app.raw_store().await;
    assert!(raw.contains("gsanchez@example.com"), "the kept metadata is readable in the store");
    assert!(!raw.contains("Greg Sanchez"), "the rest of `data` is stored nowhere");
}

/// The scopes Instagram is asked for (as the App Dashboard's embed URL would), and those the person
/// left ticked (the loopback server drops `instagram_business_manage_messages`).
const INSTAGRAM_ASKED: [&str; 3] = ["instagram_business_basic", "instagram_business_content_publish", "instagram_business_manage_messages"];
const INSTAGRAM_GRANTED: [&str; 2] = ["instagram_business_basic", "instagram_business_content_publish"];

/// Connects through Instagram, its code exchange answered in `answer` (see shapes-server.mjs).
async fn instagram_connected(answer: &str) -> (TestApp, Connection, Value) {
    let (app, shapes, project) = arrange().await;
    shapes_settings(&shapes, json!({"instagram_answer": answer})).await;
    let uid = catalog_connector_asking(&app, &shapes, "instagram", &project.project_id, INSTAGRAM_ASKED.map(String::from).to_vec()).await;
    let (connection, token, _) = connect(&app, &project, &uid).await;
    (app, connection, token)
}

/// The granted permissions are the connection's scopes and the token answer's, never the asked ones;
/// the Instagram-scoped user id is kept to the last digit.
fn assert_instagram_grant(connection: &Connection, token: &Value) {
    let user_id = connection.metadata.get("user_id").map(|id| id.to_string().trim_matches('"').to_owned());
    assert_eq!(user_id.as_deref(), Some("27640875392278831"), "{:?}", connection.metadata);
    assert!(token.get("expires_at").is_none_or(Value::is_null), "Instagram sent no expiry: {token}");
    assert_eq!(connection.scopes, INSTAGRAM_GRANTED, "the permissions granted, not the scopes asked");
    assert_eq!(token["scopes"], json!(INSTAGRAM_GRANTED), "{token}");
}

#[tokio::test]
async fn instagram_keeps_the_granted_permissions_from_its_documented_answer() {
    // Arrange / Act: `{"data": [{"access_token", "user_id", "permissions": "a,b"}]}`, as documented.
    let (_app, connection, token) = instagram_connected("documented").await;

    // Assert
    assert_instagram_grant(&connection, &token);
}

#[tokio::test]
async fn instagram_keeps_the_granted_permissions_from_its_live_answer() {
    // Arrange / Act: `{"access_token", "user_id": <number>, "permissions": ["a", "b"]}`, unwrapped.
    let (_app, connection, token) = instagram_connected("live").await;

    // Assert
    assert_instagram_grant(&connection, &token);
}

#[tokio::test]
async fn instagram_keeps_the_granted_permissions_given_as_a_comma_separated_string() {
    // Arrange / Act: `{"access_token", "user_id", "permissions": "a,b"}`, unwrapped.
    let (_app, connection, token) = instagram_connected("flat").await;

    // Assert
    assert_instagram_grant(&connection, &token);
}

#[tokio::test]
async fn docusign_keeps_the_base_uri_of_the_account_its_userinfo_lists() {
    // Arrange: the entry's `base_uri` field has no `from`, so the Connect page asks the end user.
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "docusign", &project.project_id).await;

    // Act
    let (connection, token, _) = connect_with(&app, &project, &uid, &[("field_base_uri", "https://demo.docusign.net")]).await;

    // Assert: the userinfo answer's `accounts[0].base_uri`, kept as metadata and answered.
    assert_eq!(connection.metadata.get("base_uri"), Some(&json!("https://demo.docusign.net")), "{:?}", connection.metadata);
    assert_eq!(token["metadata"]["base_uri"], "https://demo.docusign.net", "{token}");
}

#[tokio::test]
async fn mailchimp_keeps_the_data_centre_its_metadata_call_names() {
    // Arrange: the entry's `dc` field has no `from`, so the Connect page asks the end user.
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "mailchimp", &project.project_id).await;

    // Act
    let (connection, token, _) = connect_with(&app, &project, &uid, &[("field_dc", "us21")]).await;

    // Assert: the metadata answer's `dc`; `expires_in: 0` claims no expiry.
    assert_eq!(connection.metadata.get("dc"), Some(&json!("us21")), "{:?}", connection.metadata);
    assert_eq!(token["metadata"]["dc"], "us21", "{token}");
    assert!(token.get("expires_at").is_none_or(Value::is_null), "no invented expiry: {token}");
    assert!(connection.token_expiry_assumed);
}

#[tokio::test]
async fn a_token_that_never_expires_and_has_no_refresh_token_outlives_the_assumed_lifetime() {
    // Arrange: Mailchimp's tokens never expire and come with no refresh token; Latchkey assumes
    // its one-hour default lifetime for them.
    let (app, shapes, project) = arrange().await;
    let uid = catalog_connector_at(&app, &shapes, "mailchimp", &project.project_id).await;
    let (connection, token, access_token) = connect_with(&app, &project, &uid, &[("field_dc", "us21")]).await;

    // Act: a day later.
    app.clock.advance(24 * 3600);
    let later = ask_token(&app, &uid, &access_token).await;

    // Assert: the same token, still served; the connection still callable.
    assert_eq!(later["access_token"], token["access_token"], "{later}");
    assert_eq!(stored(&app, &connection).await.state, latchkey::model::ConnectionState::Callable);
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
