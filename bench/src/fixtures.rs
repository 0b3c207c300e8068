//! What the measurements run against: a fresh DynamoDB table and KMS key on the loopback moto_server
//! that `bench/run.sh` started, reached through a relay that counts every AWS call by operation; a
//! provider token endpoint that counts its grants; and the records a warm or refreshing token
//! request needs, arranged through Latchkey's own admin functions and import API.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use latchkey::admin::{self, NewConnector, NewProject};
use latchkey::config::Config;
use latchkey::model::{AuthMode, OAuthEndpoints, TokenAuthMethod};
use latchkey::{AppState, SecretString};
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Serves `handler` on a free loopback port, with keep-alive; answers `http://127.0.0.1:PORT` and a
/// count of the connections accepted.
async fn serve<F, Fut>(handler: F) -> std::io::Result<(String, Arc<AtomicU64>)>
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(request).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok((url, accepted))
}

/// An HTTP relay to moto_server that counts calls by their `X-Amz-Target` operation, and the
/// connections its clients open (moto itself closes every connection, so it cannot show reuse).
#[derive(Clone)]
pub struct CountingRelay {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    connections: Arc<AtomicU64>,
}

impl CountingRelay {
    pub async fn start(moto: &str) -> std::io::Result<CountingRelay> {
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let client = reqwest::Client::new();
        let (moto, tally) = (moto.to_owned(), counts.clone());
        let (url, connections) = serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let (client, moto, tally) = (client.clone(), moto.clone(), tally.clone());
            async move {
                let (parts, body) = request.into_parts();
                let operation = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("other");
                let operation = operation.rsplit('.').next().unwrap_or(operation).to_owned();
                *tally.lock().expect("not poisoned").entry(operation).or_insert(0) += 1;
                let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let target = format!("{moto}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
                let mut forward = client.request(parts.method, target).body(body);
                for (name, value) in parts.headers.iter().filter(|(n, _)| *n != "host") {
                    forward = forward.header(name, value);
                }
                match forward.send().await {
                    Ok(answer) => {
                        let mut response = hyper::Response::builder().status(answer.status().as_u16());
                        // Moto's `connection: close` stays behind: the relay keeps its clients' connections.
                        let hop_by_hop = ["connection", "keep-alive", "transfer-encoding", "content-length"];
                        for (name, value) in answer.headers().iter().filter(|(n, _)| !hop_by_hop.contains(&n.as_str())) {
                            response = response.header(name, value);
                        }
                        response.body(Full::new(answer.bytes().await.unwrap_or_default())).expect("a relayed response")
                    }
                    Err(_) => hyper::Response::builder().status(502).body(Full::new(Bytes::new())).expect("a plain response"),
                }
            }
        })
        .await?;
        Ok(CountingRelay { url, counts, connections })
    }

    /// The calls so far, by operation; and resets the tally.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().expect("not poisoned"))
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A provider token endpoint that grants every refresh and counts the grants.
pub struct TokenEndpoint {
    pub url: String,
    grants: Arc<AtomicU64>,
}

impl TokenEndpoint {
    pub async fn start() -> std::io::Result<TokenEndpoint> {
        let grants = Arc::new(AtomicU64::new(0));
        let counter = grants.clone();
        let (url, _) = serve(move |_request| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let body =
                    json!({"access_token": format!("refreshed-{n}"), "token_type": "Bearer", "expires_in": 3600, "refresh_token": format!("rotated-{n}")});
                hyper::Response::builder().header("content-type", "application/json").body(Full::new(Bytes::from(body.to_string()))).expect("a token response")
            }
        })
        .await?;
        Ok(TokenEndpoint { url: format!("{url}/token"), grants })
    }

    /// Grants so far.
    pub fn grants(&self) -> u64 {
        self.grants.load(Ordering::SeqCst)
    }
}

/// A fresh table and KMS key on moto; answers the environment a function needs to use them through
/// `relay`.
pub async fn aws_world(moto: &str, relay: &CountingRelay) -> Result<Vec<(String, String)>, Error> {
    let aws = latchkey::state::aws_sdk_config().await;
    let table = latchkey::secret::random_id("bench").replace('_', "-");
    let store = latchkey::store::DynamoStore::new(latchkey::state::dynamodb_client(&aws, Some(moto)), &table, Arc::new(latchkey::SystemClock));
    store.create_table().await?;
    let key = latchkey::state::kms_client(&aws, Some(moto)).create_key().send().await?;
    let key_id = key.key_metadata().ok_or("no key metadata")?.key_id().to_owned();
    Ok([
        ("LATCHKEY_STORE", "dynamodb".to_owned()),
        ("LATCHKEY_TABLE", table),
        ("LATCHKEY_DYNAMODB_ENDPOINT", relay.url.clone()),
        ("LATCHKEY_KEYRING", "kms".to_owned()),
        ("LATCHKEY_KMS_KEY_ID", key_id),
        ("LATCHKEY_KMS_ENDPOINT", relay.url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}

/// The state `env` describes, built as a function builds it.
pub async fn state_for(env: &[(String, String)]) -> Result<AppState, Error> {
    let config = Config::from_lookup(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))?;
    Ok(AppState::build(config).await?)
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
pub async fn arrange(state: &AppState, token_url: &str) -> Result<Arranged, Error> {
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
pub async fn import(state: &AppState, project_key: &str, body: Value) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(latchkey::http::server::serve(state.clone(), listener));
    let response = reqwest::Client::new().post(format!("{base}/v1/connections/import")).bearer_auth(project_key).json(&body).send().await?;
    server.abort();
    if response.status() != 201 {
        return Err(format!("import answered {}: {}", response.status(), response.text().await?).into());
    }
    Ok(())
}

/// An OAuth connection for `user` whose access token has no known expiry, so its first use
/// refreshes; answers a secret key bound to `user`.
pub async fn expired_oauth_connection(state: &AppState, arranged: &Arranged, user: &str) -> Result<String, Error> {
    let credentials = json!({"access_token": format!("old-{user}"), "refresh_token": format!("refresh-{user}")});
    import(state, &arranged.project_key, json!({"consumer_id": user, "connector": "oauth/acme", "credentials": credentials})).await?;
    let (_, key) = admin::create_user_secret_key(state, &arranged.project_id, "production", Some(user.into())).await?;
    Ok(key.expose().to_owned())
}
