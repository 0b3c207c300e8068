//! Attacks that try to steer Latchkey's own requests (with a client secret, a code, a PKCE
//! verifier or a refresh token attached) to a host of the attacker's choosing. Each is sent the way
//! an attacker would send it; a listener on a loopback address the outbound policy does not allow
//! stands in for the attacker and must receive nothing.

use latchkey::admin::{self, NewConnector};
use latchkey::model::{AuthMode, ConnectionField, FieldKind, OAuthEndpoints, TokenAuthMethod};
use latchkey::SecretString;
use latchkey_test_support::attacker::Attacker;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::{self as link, Agent};
use crate::provider::Provider;

/// A connector whose URLs name an end-user field of `kind`, at `authorize` and `token`.
fn fielded(uid: &str, authorize: String, token: String, revoke: Option<String>, field: ConnectionField) -> NewConnector {
    NewConnector {
        uid: uid.into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        oauth: Some(OAuthEndpoints {
            authorize_url: authorize,
            token_url: token,
            revoke_url: revoke,
            issuer: None,
            requires_iss: false,
            scope_separator: " ".into(),
            pkce: true,
            token_auth: TokenAuthMethod::ClientSecretBasic,
            authorize_params: Default::default(),
            default_token_lifetime_secs: 3600,
            refresh_buffer_secs: 300,
            revocation_scope: Default::default(),
        }),
        client_id: Some("client".into()),
        client_secret: Some(SecretString::new("the-client-secret")),
        default_scopes: vec![],
        fields: vec![field],
    }
}

fn field(name: &str, kind: FieldKind) -> ConnectionField {
    ConnectionField { name: name.into(), label: name.into(), kind, from: None }
}

#[tokio::test]
async fn an_end_user_cannot_point_a_connector_field_at_another_host() {
    // Arrange: Zendesk-style `{subdomain}.zendesk.test` and Okta-style `{domain}` under a suffix.
    let app = TestApp::spawn().await;
    let attacker = Attacker::start(false).await;
    let project = link::project(&app, "Acme").await;
    let zendesk = fielded(
        "zendesk/acme",
        "https://{subdomain}.zendesk.test/oauth/authorizations/new".into(),
        "https://{subdomain}.zendesk.test/oauth/tokens".into(),
        None,
        field("subdomain", FieldKind::Label),
    );
    let okta = fielded(
        "okta/acme",
        "https://{domain}/oauth2/v1/authorize".into(),
        "https://{domain}/oauth2/v1/token".into(),
        None,
        field("domain", FieldKind::Host(vec![".okta.test".into()])),
    );
    for connector in [zendesk, okta] {
        let uid = connector.uid.clone();
        admin::create_connector(&app.state, connector).await.unwrap();
        admin::link_connector(&app.state, &uid, &project.project_id, &["production".into()]).await.unwrap();
    }
    let token = link::link_token(&app, &project.secret_key, "mallory").await;

    // Act: the values an attacker types into the Connect page's form.
    let host = attacker.host();
    let attacks = [
        ("zendesk/acme", "field_subdomain", host.clone()),
        ("zendesk/acme", "field_subdomain", "127.0.0.1".to_owned()),
        ("zendesk/acme", "field_subdomain", "169.254.169.254".to_owned()),
        ("zendesk/acme", "field_subdomain", format!("{host}/x?")),
        ("zendesk/acme", "field_subdomain", format!("x@{host}#")),
        ("okta/acme", "field_domain", host.clone()),
        ("okta/acme", "field_domain", "evil.example".to_owned()),
        ("okta/acme", "field_domain", "acme.okta.test.evil.example".to_owned()),
        ("okta/acme", "field_domain", format!("{host}/.okta.test")),
    ];
    for (connector, name, value) in attacks {
        let form = [("link_token", token.as_str()), ("connector", connector), (name, value.as_str())];
        let refused = Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/oauth/start"), Some(&form)).await;

        // Assert: a clear 400 with a stable code, the browser sent nowhere.
        assert_eq!(refused.status(), 400, "{connector} {value}");
        assert!(refused.headers().get("location").is_none());
        assert_eq!(link::page_code(refused).await, "field_invalid", "{connector} {value}");
    }
    attacker.assert_untouched("connector fields");
}

#[tokio::test]
async fn an_imported_connection_cannot_steer_refreshes_through_its_metadata_or_fields() {
    // Arrange: a tenanted connector at the real provider; an import whose metadata names the
    // attacker where the tenant would go, and an expired token so the next use refreshes.
    let app = TestApp::spawn().await;
    let attacker = Attacker::start(false).await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    let connector = fielded(
        "oidc/tenanted",
        format!("{}?tenant={{tenant}}", provider.authorization_endpoint),
        format!("{}?tenant={{tenant}}", provider.token_endpoint),
        Some(format!("{}?tenant={{tenant}}", provider.revocation_endpoint)),
        field("tenant", FieldKind::Segment { numeric: false }),
    );
    admin::create_connector(&app.state, connector).await.unwrap();
    admin::link_connector(&app.state, "oidc/tenanted", &project.project_id, &["production".into()]).await.unwrap();
    let import = |metadata: Value, fields: Value| {
        json!({
            "consumer_id": "user-1", "connector": "oidc/tenanted",
            "credentials": {"access_token": "old", "refresh_token": "r", "expires_in": 0},
            "metadata": metadata, "fields": fields,
        })
    };

    // Act: fields that would rewrite the URL are refused outright...
    let host = attacker.host();
    for bad in [json!({"tenant": format!("{host}/x")}), json!({"tenant": ".."}), json!({"tenant": "a?b"}), json!({"nope": "x"})] {
        let response =
            app.http.post(app.url("/v1/connections/import")).bearer_auth(&project.secret_key).json(&import(json!({}), bad.clone())).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "field_invalid", "{bad}");
    }
    // ...and metadata is never read back into a URL: the refresh has no tenant, so it goes nowhere.
    let imported = app
        .http
        .post(app.url("/v1/connections/import"))
        .bearer_auth(&project.secret_key)
        .json(&import(json!({"tenant": host}), json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 201);
    let (_, user_key) = admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("user-1".into())).await.unwrap();
    let asked = app
        .http
        .post(app.url("/v1/token/oidc%2Ftenanted"))
        .bearer_auth(user_key.expose())
        .json(&json!({"subject": {"type": "user", "id": "user-1"}}))
        .send()
        .await
        .unwrap();
    let swept = latchkey::token::background::sweep(&app.state).await;

    // Assert
    assert!(asked.status().is_server_error(), "the refresh cannot be made without the tenant: {}", asked.status());
    assert_eq!(swept.refreshed, 0);
    assert_eq!(provider.issued().await["refresh_grants"], 0);
    attacker.assert_untouched("imported metadata");
}

#[tokio::test]
async fn a_github_installation_id_cannot_climb_out_of_its_path() {
    // Arrange
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let key = project.secret_key.as_str();

    // Act: the traversal the issue names, as a token request and as an operator's record.
    let response = app
        .http
        .post(app.url("/v1/token/github%2Facme"))
        .bearer_auth(key)
        .json(&json!({"subject": {"type": "app"}, "installation_id": "1/../../repos/victim/x/dispatches#"}))
        .send()
        .await
        .unwrap();
    let recorded = admin::record_installation(&app.state, "github/acme", &project.project_id, "production", "1/../../repos/victim", None).await;

    // Assert: refused as input, before any connector is read.
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_json");
    assert!(matches!(recorded, Err(admin::AdminError::Invalid(_))));
}

#[tokio::test]
async fn the_outbound_policy_refuses_loopback_private_and_metadata_destinations() {
    // Arrange: an attacker on 127.0.0.1 reached by a name (`localhost`), and one on 127.0.0.2
    // reached by address; neither is a host the operator allowed.
    let app = TestApp::spawn().await;
    let by_name = Attacker::start(true).await;
    let by_address = Attacker::start(false).await;
    let project = link::project(&app, "Acme").await;
    let named = format!("http://localhost:{}", by_name.address.port());
    let addressed = format!("https://{}", by_address.host());

    // Act: every kind of outbound request Latchkey makes, pointed at them.
    let discovery_named = admin::discover(&app.state, &format!("{named}/.well-known/openid-configuration")).await;
    let discovery_metadata = admin::discover(&app.state, "https://169.254.169.254/latest/meta-data/").await;
    for target in [&named, &addressed] {
        let connector = NewConnector {
            uid: format!("cc/{}", if target == &named { "named" } else { "addressed" }),
            display_name: None,
            auth_mode: AuthMode::ClientCredentials,
            oauth: Some(OAuthEndpoints {
                authorize_url: format!("{target}/authorize"),
                token_url: format!("{target}/token"),
                revoke_url: None,
                issuer: None,
                requires_iss: false,
                scope_separator: " ".into(),
                pkce: false,
                token_auth: TokenAuthMethod::ClientSecretPost,
                authorize_params: Default::default(),
                default_token_lifetime_secs: 3600,
                refresh_buffer_secs: 300,
                revocation_scope: Default::default(),
            }),
            client_id: Some("client".into()),
            client_secret: Some(SecretString::new("the-client-secret")),
            default_scopes: vec![],
            fields: vec![],
        };
        let uid = connector.uid.clone();
        admin::create_connector(&app.state, connector).await.unwrap();
        admin::link_connector(&app.state, &uid, &project.project_id, &["production".into()]).await.unwrap();
        let path = format!("/v1/token/{}", uid.replace('/', "%2F"));
        let response = app.http.post(app.url(&path)).bearer_auth(&project.secret_key).json(&json!({"subject": {"type": "app"}})).send().await.unwrap();
        assert!(response.status().is_server_error(), "{target}: {}", response.status());
    }
    admin::add_webhook(&app.state, &project.project_id, &format!("{addressed}/hook"), &[]).await.unwrap();
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let import = json!({"consumer_id": "user-1", "connector": "keys/acme", "credentials": {"api_key": "k"}});
    app.http.post(app.url("/v1/connections/import")).bearer_auth(&project.secret_key).json(&import).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let deliveries = admin::list_deliveries(&app.state, &project.project_id).await.unwrap();

    // Assert
    assert!(discovery_named.is_err() && discovery_metadata.is_err());
    assert!(deliveries.iter().all(|d| d.last_error.as_deref().is_some_and(|e| e.contains("refused"))), "{deliveries:?}");
    by_name.assert_untouched("a name resolving to loopback");
    by_address.assert_untouched("a loopback address");
}
