//! What the measurements run against: a fresh DynamoDB table and KMS key on the loopback moto_server
//! that `bench/run.sh` started, reached through a relay that counts every AWS call by operation; a
//! provider token endpoint that counts its grants; and the records a warm or refreshing token
//! request needs, arranged through Latchkey's own admin functions and import API.

use std::sync::Arc;

use latchkey::admin::{self, NewConnector, NewProject};
use latchkey::model::{AuthMode, OAuthEndpoints, TokenAuthMethod};
use latchkey::{Ports, SecretString};
use latchkey_bootstrap::Config;
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;

pub use latchkey_test_support::relay::{CountingRelay, TokenEndpoint};

/// A fresh table and KMS key on moto; answers the environment a function needs to use them through
/// `relay`.
pub async fn aws_world(moto: &str, relay: &CountingRelay) -> Result<Vec<(String, String)>, Error> {
    let aws = latchkey_bootstrap::aws_sdk_config().await;
    let table = latchkey::secret::random_id("bench").replace('_', "-");
    let store = latchkey::store::DynamoStore::new(latchkey_bootstrap::dynamodb_client(&aws, Some(moto)), &table, Arc::new(latchkey::SystemClock));
    store.create_table().await?;
    let key = latchkey_bootstrap::kms_client(&aws, Some(moto)).create_key().send().await?;
    let key_id = key.key_metadata().ok_or("no key metadata")?.key_id().to_owned();
    Ok([
        ("LATCHKEY_STORE", "dynamodb".to_owned()),
        ("LATCHKEY_TABLE", table),
        ("LATCHKEY_DYNAMODB_ENDPOINT", relay.url.clone()),
        ("LATCHKEY_KEYRING", "kms".to_owned()),
        ("LATCHKEY_KMS_KEY_ID", key_id),
        ("LATCHKEY_KMS_ENDPOINT", relay.url.clone()),
        // The provider token endpoint the refreshes call is a plain-http loopback server.
        ("LATCHKEY_OUTBOUND_ALLOW", "127.0.0.1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}

/// The ports `env` describes, built as a function builds them.
pub async fn state_for(env: &[(String, String)]) -> Result<Ports, Error> {
    let config = Config::from_lookup(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))?;
    Ok(latchkey_bootstrap::build(config).await?)
}

/// The origin the bench project allows (sessions return there).
pub const APP_ORIGIN: &str = "https://app.example.test";

/// The records the measured requests use.
pub struct Arranged {
    /// A secret key bound to `user-1`.
    pub user_key: String,
    /// A project-wide secret key.
    pub project_key: String,
    /// The project.
    pub project_id: latchkey::model::ProjectId,
}

/// A project with an API-key connector (`keys/acme`, one connection for `user-1`) and an OAuth
/// connector (`oauth/acme`) whose token endpoint is `token_url`.
pub async fn arrange(state: &Ports, token_url: &str) -> Result<Arranged, Error> {
    let project = admin::create_project(state, NewProject { name: "Bench".into(), environments: Vec::new(), allowed_origins: vec![APP_ORIGIN.into()] }).await?;
    let (_, project_key) = admin::create_secret_key(state, &project.id, "production").await?;
    let (_, user_key) = admin::create_user_secret_key(state, &project.id, "production", Some("user-1".into())).await?;
    let api_key = NewConnector {
        uid: "keys/acme".into(),
        display_name: None,
        auth_mode: AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: Vec::new(),
        fields: Vec::new(),
    };
    admin::create_connector(state, api_key).await?;
    admin::link_connector(state, "keys/acme", &project.id, &["production".into()]).await?;
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
        revocation_scope: Default::default(),
    };
    let refreshing = NewConnector {
        uid: "oauth/acme".into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("bench-client".into()),
        client_secret: Some(SecretString::new("bench-secret")),
        default_scopes: Vec::new(),
        fields: Vec::new(),
    };
    admin::create_connector(state, refreshing).await?;
    admin::link_connector(state, "oauth/acme", &project.id, &["production".into()]).await?;
    let arranged = Arranged { user_key: user_key.expose().to_owned(), project_key: project_key.expose().to_owned(), project_id: project.id };
    import(state, &arranged.project_key, json!({"consumer_id": "user-1", "connector": "keys/acme", "credentials": {"api_key": "acme-key-1"}})).await?;
    Ok(arranged)
}

/// `POST /v1/connections/import` with `body`, through an in-process local server over `state`.
pub async fn import(state: &Ports, project_key: &str, body: Value) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut settings = (*state.settings).clone();
    settings.public_url = Some(base.clone());
    let router = latchkey_http::router(state.clone().with_settings(settings), None);
    let server = tokio::spawn(latchkey_http::server::serve(listener, router, std::future::pending()));
    let response = reqwest::Client::new().post(format!("{base}/v1/connections/import")).bearer_auth(project_key).json(&body).send().await?;
    server.abort();
    if response.status() != 201 {
        return Err(format!("import answered {}: {}", response.status(), response.text().await?).into());
    }
    Ok(())
}

/// An OAuth connection for `user` whose access token has no known expiry, so its first use
/// refreshes; answers a secret key bound to `user`.
pub async fn expired_oauth_connection(state: &Ports, arranged: &Arranged, user: &str) -> Result<String, Error> {
    let credentials = json!({"access_token": format!("old-{user}"), "refresh_token": format!("refresh-{user}")});
    import(state, &arranged.project_key, json!({"consumer_id": user, "connector": "oauth/acme", "credentials": credentials})).await?;
    let (_, key) = admin::create_user_secret_key(state, &arranged.project_id, "production", Some(user.into())).await?;
    Ok(key.expose().to_owned())
}
