//! Loopback servers that count what reaches them: a relay to moto_server that counts AWS calls by
//! operation and the connections its clients open, and a provider token endpoint that counts the
//! grants it gives.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;

/// Serves `handler` on a free loopback port, with keep-alive; answers `http://127.0.0.1:PORT` and a
/// count of the connections accepted.
pub async fn serve<F, Fut>(handler: F) -> std::io::Result<(String, Arc<AtomicU64>)>
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

    /// Calls counted so far, without resetting the tally.
    pub fn calls(&self) -> u64 {
        self.counts.lock().expect("not poisoned").values().sum()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A provider token endpoint with rotating refresh tokens and reuse detection, as strict OAuth
/// servers have: each refresh token works once. It counts the grants it gave and the refresh
/// tokens presented again (refused with `invalid_grant`); any refresh token it did not issue
/// works once, so imported connections can start from made-up ones.
pub struct TokenEndpoint {
    pub url: String,
    grants: Arc<AtomicU64>,
    reuses: Arc<AtomicU64>,
    gate: Arc<Gate>,
}

/// Holds requests until released, so a test can act while a provider call is in flight.
#[derive(Default)]
struct Gate {
    closed: std::sync::atomic::AtomicBool,
    arrived: AtomicU64,
    opened: tokio::sync::Notify,
}

impl TokenEndpoint {
    /// Access tokens live an hour.
    pub async fn start() -> std::io::Result<TokenEndpoint> {
        TokenEndpoint::start_with_lifetime(3600).await
    }

    /// Access tokens live `lifetime_secs`.
    pub async fn start_with_lifetime(lifetime_secs: u64) -> std::io::Result<TokenEndpoint> {
        let (grants, reuses) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let used: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let gate = Arc::new(Gate::default());
        let (granted, reused, held) = (grants.clone(), reuses.clone(), gate.clone());
        let (url, _) = serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let (granted, reused, used, held) = (granted.clone(), reused.clone(), used.clone(), held.clone());
            async move {
                held.arrived.fetch_add(1, Ordering::SeqCst);
                while held.closed.load(Ordering::SeqCst) {
                    let opened = held.opened.notified();
                    if !held.closed.load(Ordering::SeqCst) {
                        break;
                    }
                    opened.await;
                }
                let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let presented = url::form_urlencoded::parse(&body).find(|(k, _)| k == "refresh_token").map(|(_, v)| v.into_owned());
                let respond = |status: u16, body: serde_json::Value| {
                    let response = hyper::Response::builder().status(status).header("content-type", "application/json");
                    response.body(Full::new(Bytes::from(body.to_string()))).expect("a token response")
                };
                if let Some(token) = presented {
                    if !used.lock().expect("not poisoned").insert(token) {
                        reused.fetch_add(1, Ordering::SeqCst);
                        return respond(400, json!({"error": "invalid_grant", "error_description": "refresh token reused"}));
                    }
                }
                let n = granted.fetch_add(1, Ordering::SeqCst) + 1;
                respond(200, json!({"access_token": format!("refreshed-{n}"), "token_type": "Bearer", "expires_in": lifetime_secs, "refresh_token": format!("rotated-{n}")}))
            }
        })
        .await?;
        Ok(TokenEndpoint { url: format!("{url}/token"), grants, reuses, gate })
    }

    /// Holds every request from now on until [`TokenEndpoint::release`].
    pub fn hold(&self) {
        self.gate.closed.store(true, Ordering::SeqCst);
    }

    /// Answers the held requests, and the next ones at once.
    pub fn release(&self) {
        self.gate.closed.store(false, Ordering::SeqCst);
        self.gate.opened.notify_waiters();
    }

    /// Requests received so far (held or answered).
    pub fn arrived(&self) -> u64 {
        self.gate.arrived.load(Ordering::SeqCst)
    }

    /// Grants so far.
    pub fn grants(&self) -> u64 {
        self.grants.load(Ordering::SeqCst)
    }

    /// Refresh tokens presented a second time so far.
    pub fn reuses(&self) -> u64 {
        self.reuses.load(Ordering::SeqCst)
    }
}

/// A client-credentials token endpoint that records the client secret each grant presents (HTTP
/// basic or form) and grants tokens that live `lifetime_secs`.
pub struct SecretRecorder {
    pub url: String,
    secrets: Arc<Mutex<Vec<String>>>,
}

impl SecretRecorder {
    pub async fn start(lifetime_secs: u64) -> std::io::Result<SecretRecorder> {
        use base64::Engine;
        let secrets = Arc::new(Mutex::new(Vec::new()));
        let seen = secrets.clone();
        let (url, _) = serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let seen = seen.clone();
            async move {
                let basic = request.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic ")).map(str::to_owned);
                let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let from_form = url::form_urlencoded::parse(&body).find(|(k, _)| k == "client_secret").map(|(_, v)| v.into_owned());
                let from_basic = basic
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|pair| pair.split_once(':').map(|(_, secret)| secret.to_owned()));
                if let Some(secret) = from_form.or(from_basic) {
                    seen.lock().expect("not poisoned").push(secret);
                }
                let n = seen.lock().expect("not poisoned").len();
                let body = json!({"access_token": format!("cc-{n}"), "token_type": "Bearer", "expires_in": lifetime_secs}).to_string();
                hyper::Response::builder().header("content-type", "application/json").body(Full::new(Bytes::from(body))).expect("a response")
            }
        })
        .await?;
        Ok(SecretRecorder { url, secrets })
    }

    /// The secrets presented so far, oldest first.
    pub fn secrets(&self) -> Vec<String> {
        self.secrets.lock().expect("not poisoned").clone()
    }
}
