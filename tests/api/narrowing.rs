//! Narrowed tokens against a real provider (oidc-provider, with resource indicators, rich
//! authorization requests and token exchange, and its resource server at `/api/contacts`): a token
//! narrowed by a refresh, a resource, authorization details or an exchange is refused by the API
//! for what it may not do, the full grant keeps refreshing, narrowed tokens are cached and
//! single-flight, and a connector that cannot narrow says so unless a broader token is allowed.

use latchkey::admin::{NewConnector, Quirks};
use latchkey::model::{AuthMode, Connection, Narrowing, OAuthEndpoints, Record, Stored, TokenAuthMethod};
use latchkey::Clock;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::link_helpers::{self as link, redirect_param, Agent};
use crate::provider::Provider;

const URL: &str = "/v1/token/oidc%2Ftest";
const CONTACTS_API: &str = "https://contacts.example.test";

pub struct Narrow {
    pub app: TestApp,
    pub provider: Provider,
    pub access_token: String,
    pub connection_id: String,
}

/// A user connection at the provider whose connector narrows `ways`, granted contacts.read and
/// contacts.write (and, with `resource`, for the contacts API).
pub async fn connected(backend: Backend, ways: &[Narrowing], resource: Option<&str>) -> Narrow {
    let app = TestApp::spawn_on(backend).await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    let oauth = OAuthEndpoints {
        authorize_url: provider.authorization_endpoint.clone(),
        token_url: provider.token_endpoint.clone(),
        revoke_url: None,
        issuer: Some(provider.issuer.clone()),
        requires_iss: true,
        scope_separator: " ".into(),
        pkce: true,
        token_auth: TokenAuthMethod::ClientSecretBasic,
        authorize_params: resource.map(|r| [("resource".to_owned(), r.to_owned())].into()).unwrap_or_default(),
        default_token_lifetime_secs: 3600,
        refresh_buffer_secs: 300,
        revocation_scope: latchkey::model::RevocationScope::Grant,
    };
    let scopes = ["openid", "offline_access", "contacts.read", "contacts.write"].map(String::from).to_vec();
    let new = NewConnector {
        uid: link::CONNECTOR.into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("latchkey-auto".into()),
        client_secret: Some(latchkey::SecretString::new("auto-secret")),
        default_scopes: scopes,
        fields: Vec::new(),
    };
    let quirks = Quirks { narrowing: ways.to_vec(), ..Quirks::default() };
    latchkey::admin::create_connector_with(&app.state, new, quirks, None).await.unwrap();
    latchkey::admin::link_connector(&app.state, link::CONNECTOR, &project.project_id, &["production".into()]).await.unwrap();
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let mut agent = Agent::default();
    let callback = agent.authorize(&app, &token).await;
    let public_token = redirect_param(&agent.callback(&app, &callback).await, "public_token").expect("connected");
    let body: Value = link::exchange(&app, &project.secret_key, &public_token).await.json().await.unwrap();
    let (access_token, connection_id) = (body["access_token"].as_str().unwrap().to_owned(), body["connection_id"].as_str().unwrap().to_owned());
    Narrow { app, provider, access_token, connection_id }
}

impl Narrow {
    /// `POST /v1/token/oidc%2Ftest` for user-1 with `extra` in the body.
    pub async fn token(&self, extra: Value) -> (u16, Value) {
        let mut body = json!({"subject": {"type": "user", "id": "user-1"}});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let response = self.app.http.post(self.app.url(URL)).bearer_auth(&self.access_token).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// The provider's API with `token`: its status.
    pub async fn api(&self, method: reqwest::Method, token: &Value) -> u16 {
        let url = format!("{}/api/contacts", self.provider.issuer);
        reqwest::Client::new().request(method, url).bearer_auth(token.as_str().unwrap()).send().await.unwrap().status().as_u16()
    }

    pub async fn counts(&self) -> Value {
        self.provider.issued().await
    }

    async fn stored(&self) -> Stored<Connection> {
        let id = latchkey::model::ConnectionId::parse(&self.connection_id).unwrap();
        let connection = latchkey::link::token::resolve_connection(&self.app.state, &id).await.unwrap().unwrap();
        Stored::<Connection>::get(self.app.state.store.as_ref(), &connection.key()).await.unwrap().unwrap()
    }

    /// Moves the connection's token to expire `seconds_from_now`.
    pub async fn set_expiry(&self, seconds_from_now: i64) {
        let mut stored = self.stored().await;
        stored.record.token_expires_at = Some(self.app.clock.now().plus_secs(seconds_from_now));
        stored.record.token_issued_at = Some(self.app.clock.now().plus_secs(seconds_from_now - 3600));
        stored.save(self.app.state.store.as_ref()).await.unwrap();
    }
}

#[tokio::test]
async fn a_narrowed_token_is_refused_outside_its_scope_and_the_full_grant_still_refreshes() {
    // Arrange
    let c = connected(Backend::Local, &[Narrowing::RefreshScope], None).await;
    let (_, full) = c.token(json!({})).await;

    // Act
    let (status, narrowed) = c.token(json!({"scopes": ["contacts.read"]})).await;
    let (_, again) = c.token(json!({"scopes": ["contacts.read"]})).await;

    // Assert: what the token can do, the provider's word; the API holds it to that.
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scopes"], json!(["contacts.read"]));
    assert_ne!(narrowed["access_token"], full["access_token"]);
    assert!(narrowed.get("user_access_token").is_none());
    assert_eq!(c.api(reqwest::Method::GET, &narrowed["access_token"]).await, 200);
    assert_eq!(c.api(reqwest::Method::POST, &narrowed["access_token"]).await, 403, "contacts.write is outside the narrowed token");
    assert_eq!(c.api(reqwest::Method::POST, &full["access_token"]).await, 200);
    assert_eq!(again["access_token"], narrowed["access_token"], "cached per narrowing");
    assert_eq!(c.counts().await["narrowed_refresh_grants"], 1);

    // The narrowing refresh rotated the refresh token; the rotated one was stored, so the full
    // grant refreshes (a consumed refresh token presented again would revoke the whole grant).
    c.set_expiry(-10).await;
    let (status, refreshed) = c.token(json!({})).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["access_token"], full["access_token"]);
    assert_eq!(c.counts().await["refresh_grants"], 2);
    assert_eq!(c.counts().await["grants_revoked"], 0);
    assert_eq!(c.api(reqwest::Method::POST, &refreshed["access_token"]).await, 200, "the full grant keeps its scopes");
    assert!(refreshed["scopes"].as_array().unwrap().contains(&json!("contacts.write")));

    // The trail records the narrowing asked for and the one granted, never a token.
    let project = c.stored().await.record.project_id;
    let filter = latchkey::audit::AuditFilter { action: Some(latchkey::model::AuditAction::TokenIssued), ..Default::default() };
    let (events, _) = latchkey::audit::list(c.app.state.store.as_ref(), &project, &filter, 100, None, c.app.clock.now(), 90).await.unwrap();
    let narrowed_events: Vec<&Value> = events.iter().filter_map(|e| e.detail.get("narrowing")).collect();
    assert_eq!(narrowed_events.len(), 2, "the two narrowed requests: {events:?}");
    assert_eq!(narrowed_events[0]["requested"]["scopes"], json!(["contacts.read"]));
    assert_eq!((narrowed_events[0]["outcome"].as_str(), &narrowed_events[0]["granted"]["scopes"]), (Some("narrowed"), &json!(["contacts.read"])));
    let trail = serde_json::to_string(&events).unwrap();
    assert!(!trail.contains(narrowed["access_token"].as_str().unwrap()) && !trail.contains(full["access_token"].as_str().unwrap()));
}

#[tokio::test]
async fn resources_and_authorization_details_narrow_by_refresh_and_a_refused_resource_is_unsupported_unless_broader() {
    // Arrange: a grant authorized for the contacts API.
    let ways = [Narrowing::RefreshScope, Narrowing::RefreshResource, Narrowing::RefreshAuthorizationDetails];
    let c = connected(Backend::Local, &ways, Some(CONTACTS_API)).await;
    let (_, full) = c.token(json!({})).await;

    // Act
    let (status, for_api) = c.token(json!({"resources": [CONTACTS_API], "scopes": ["contacts.read"]})).await;
    let details = json!([{"type": "contacts_access", "actions": ["read"]}]);
    let (details_status, with_details) = c.token(json!({"authorization_details": details})).await;
    let elsewhere = json!({"resources": ["https://calendar.example.test"]});
    let (refused, refusal) = c.token(elsewhere.clone()).await;
    let mut broader_ask = elsewhere.clone();
    broader_ask["allow_broader"] = json!(true);
    let (broader_status, broader) = c.token(broader_ask).await;

    // Assert
    assert_eq!(status, 200, "{for_api}");
    assert_eq!((for_api["scopes"].clone(), for_api["resources"].clone()), (json!(["contacts.read"]), json!([CONTACTS_API])));
    assert_eq!(c.api(reqwest::Method::GET, &for_api["access_token"]).await, 200);
    assert_eq!(c.api(reqwest::Method::POST, &for_api["access_token"]).await, 403);
    assert_eq!(details_status, 200, "{with_details}");
    assert_eq!(with_details["authorization_details"], details);
    assert_eq!(c.api(reqwest::Method::GET, &with_details["access_token"]).await, 200);
    assert_eq!(c.api(reqwest::Method::POST, &with_details["access_token"]).await, 403, "held to its authorization details");
    assert_eq!((refused, refusal["error"]["code"].as_str()), (400, Some("narrowing_unsupported")), "{refusal}");
    assert_eq!(refusal["error"]["details"]["provider_error"], "invalid_target");
    assert_eq!(broader_status, 200, "{broader}");
    assert_eq!(
        (broader["access_token"].clone(), broader["scopes"].clone()),
        (full["access_token"].clone(), full["scopes"].clone()),
        "the full token, as it is"
    );
    assert!(broader.get("resources").is_none());
    assert_eq!(c.counts().await["narrowed_refresh_grants"], 2);
    assert_eq!(c.counts().await["refresh_grant_errors"], 1, "the refusal was remembered: the provider was asked once for both requests");
    c.set_expiry(-10).await;
    let (status, refreshed) = c.token(json!({})).await;
    assert_eq!((status, c.api(reqwest::Method::POST, &refreshed["access_token"]).await), (200, 200), "{refreshed}");
}

#[tokio::test]
async fn a_token_exchange_narrows_where_the_connector_offers_it() {
    let c = connected(Backend::Local, &[Narrowing::TokenExchange], None).await;
    let (status, narrowed) = c.token(json!({"scopes": ["contacts.read"]})).await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scopes"], json!(["contacts.read"]));
    assert_eq!((c.counts().await["token_exchanges"].clone(), c.counts().await["refresh_grants"].clone()), (json!(1), json!(0)));
    assert_eq!(c.api(reqwest::Method::GET, &narrowed["access_token"]).await, 200);
    assert_eq!(c.api(reqwest::Method::POST, &narrowed["access_token"]).await, 403);
}

#[tokio::test]
async fn fifty_concurrent_requests_for_one_narrowing_make_one_provider_call() {
    let c = connected(Backend::Local, &[Narrowing::RefreshScope], None).await;
    let answers = futures::future::join_all((0..50).map(|_| c.token(json!({"scopes": ["contacts.read"]})))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    let tokens: std::collections::HashSet<&str> = answers.iter().map(|(_, body)| body["access_token"].as_str().unwrap()).collect();
    assert_eq!(tokens.len(), 1, "everyone got the one narrowed token");
    assert_eq!(c.counts().await["narrowed_refresh_grants"], 1);
    assert_eq!(c.counts().await["refresh_grants"], 1);
}

#[tokio::test]
async fn a_narrowed_warm_request_reads_the_store_twice_and_calls_kms_never_and_the_plain_one_still_once() {
    // Arrange: on DynamoDB and KMS (moto), a narrowed token minted and a plain one warm.
    let c = connected(Backend::Aws, &[Narrowing::RefreshScope], None).await;
    assert_eq!(c.token(json!({"scopes": ["contacts.read"]})).await.0, 200);
    assert_eq!(c.token(json!({})).await.0, 200);
    let kms = c.app.kms.as_ref().unwrap();
    let measure = || (c.app.store_counts.snapshot(), kms.call_count());

    // Act / Assert
    let ((reads, writes), calls) = measure();
    for _ in 0..5 {
        assert_eq!(c.token(json!({})).await.0, 200);
    }
    let ((plain_reads, plain_writes), plain_calls) = measure();
    assert_eq!((plain_reads - reads, plain_writes - writes, plain_calls - calls), (5, 0, 0), "a plain warm request: one read");
    for _ in 0..5 {
        assert_eq!(c.token(json!({"scopes": ["contacts.read"]})).await.0, 200);
    }
    let ((narrow_reads, narrow_writes), narrow_calls) = measure();
    let narrowed = (narrow_reads - plain_reads, narrow_writes - plain_writes, narrow_calls - plain_calls);
    assert_eq!(narrowed, (10, 0, 0), "a narrowed warm request: the connection and its narrowed token");
}

#[tokio::test]
async fn a_connector_that_cannot_narrow_says_so_unless_a_broader_token_is_allowed() {
    // Arrange: the provider's connector offers no narrowing.
    let c = connected(Backend::Local, &[], None).await;
    let (_, full) = c.token(json!({})).await;

    // Act
    let (status, refused) = c.token(json!({"scopes": ["contacts.read"], "resources": [CONTACTS_API]})).await;
    let (broader_status, broader) = c.token(json!({"scopes": ["contacts.read"], "allow_broader": true})).await;
    let (exact_status, exact) = c.token(json!({"scopes": ["contacts.write", "openid", "offline_access", "contacts.read"]})).await;
    let (bad, bad_body) = c.token(json!({"resources": ["http://contacts.example.test"]})).await;

    // Assert: the refusal says by what and how to get the full token; nothing reached the provider.
    assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("narrowing_unsupported")), "{refused}");
    assert_eq!(refused["error"]["details"]["unsupported"], json!(["scopes", "resources"]));
    assert!(refused["error"]["message"].as_str().unwrap().contains("allow_broader"));
    assert_eq!(broader_status, 200, "{broader}");
    assert_eq!(broader["scopes"], full["scopes"], "what the token can do, not the request echoed back");
    assert_eq!(exact_status, 200, "the grant's own scopes need no narrowing: {exact}");
    assert_eq!(exact["access_token"], full["access_token"]);
    assert_eq!((bad, bad_body["error"]["code"].as_str()), (400, Some("invalid_json")));
    assert!(bad_body["error"]["message"].as_str().unwrap().contains("resources[0]"), "{bad_body}");
    assert_eq!(c.counts().await["refresh_grants"], 0);
}

#[tokio::test]
async fn client_credentials_narrow_to_the_requested_scope_where_the_connector_offers_it() {
    // Arrange: the provider's service client, allowed contacts.read and contacts.write.
    let app = TestApp::spawn().await;
    let provider = Provider::start(&[&app.url("/v1/oauth/callback")]);
    let project = link::project(&app, "Acme").await;
    let mut new = crate::token_broker::link_connector_template(&provider);
    new.uid = "oidc/service".into();
    new.default_scopes = vec!["contacts.read".into(), "contacts.write".into()];
    let quirks = Quirks { narrowing: vec![Narrowing::ClientCredentialsScope], ..Quirks::default() };
    latchkey::admin::create_connector_with(&app.state, new, quirks, None).await.unwrap();
    latchkey::admin::link_connector(&app.state, "oidc/service", &project.project_id, &["production".into()]).await.unwrap();
    let ask = |extra: Value| {
        let mut body = json!({"subject": {"type": "app"}});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        app.http.post(app.url("/v1/token/oidc%2Fservice")).bearer_auth(&project.secret_key).json(&body).send()
    };
    let api = |method: reqwest::Method, token: Value| {
        reqwest::Client::new().request(method, format!("{}/api/contacts", provider.issuer)).bearer_auth(token.as_str().unwrap().to_owned()).send()
    };

    // Act
    let full: Value = ask(json!({})).await.unwrap().json().await.unwrap();
    let narrowed: Value = ask(json!({"scopes": ["contacts.read"]})).await.unwrap().json().await.unwrap();
    let beyond = ask(json!({"scopes": ["calendar.read"]})).await.unwrap();

    // Assert
    assert_eq!(narrowed["scopes"], json!(["contacts.read"]), "{narrowed}");
    assert_eq!(provider.issued().await["client_credentials_grants"], 2);
    assert_eq!(api(reqwest::Method::POST, full["access_token"].clone()).await.unwrap().status(), 200);
    assert_eq!(api(reqwest::Method::GET, narrowed["access_token"].clone()).await.unwrap().status(), 200);
    assert_eq!(api(reqwest::Method::POST, narrowed["access_token"].clone()).await.unwrap().status(), 403);
    assert_eq!(beyond.status(), 403, "a scope beyond the connector's is not granted, not asked of the provider");
}

#[tokio::test]
async fn the_rust_client_asks_for_narrowed_tokens_and_types_narrowing_unsupported() {
    use latchkey_client::{Client, Error, TokenParams};
    let c = connected(Backend::Local, &[Narrowing::RefreshScope, Narrowing::RefreshResource], Some(CONTACTS_API)).await;
    let client = Client::new(&c.app.base, c.access_token.clone()).unwrap();

    let narrowed = client.get_token("oidc/test", &TokenParams::user("user-1").with_scopes(&["contacts.read"]).with_resources(&[CONTACTS_API])).await.unwrap();
    let calendar = TokenParams::user("user-1").with_resources(&["https://calendar.example.test"]);
    let refused = client.get_token("oidc/test", &calendar).await;
    let broader = client.get_token("oidc/test", &calendar.clone().allowing_broader()).await.unwrap();
    let details = TokenParams::user("user-1").with_authorization_details(&[json!({"type": "contacts_access", "actions": ["read"]})]);
    let details_refused = client.get_token("oidc/test", &details).await;

    assert_eq!((narrowed.scopes.clone(), narrowed.resources.clone()), (vec!["contacts.read".to_owned()], Some(vec![CONTACTS_API.to_owned()])));
    assert_eq!(c.api(reqwest::Method::POST, &json!(narrowed.access_token())).await, 403);
    match refused {
        Err(Error::NarrowingUnsupported { details, .. }) => assert_eq!(details["provider_error"], "invalid_target"),
        other => panic!("{other:?}"),
    }
    assert!(broader.scopes.contains(&"contacts.write".to_owned()) && broader.resources.is_none());
    match details_refused {
        Err(Error::NarrowingUnsupported { details, .. }) => assert_eq!(details["unsupported"], json!(["authorization_details"])),
        other => panic!("{other:?}"),
    }
}
