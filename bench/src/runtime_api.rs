//! A Lambda Runtime API on loopback, for measuring: it notes when a function first polls for an
//! event (the end of its init) and how long each invocation takes between handing the event out and
//! receiving the response (what Lambda bills). `cargo lambda watch` emulates the same API for the
//! tests; this one exists because it can time both ends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// What an invocation came back with.
pub struct Invoked {
    /// The function's response, or its error document.
    pub output: Value,
    /// From the event leaving to the response arriving.
    pub duration: Duration,
}

type Job = (Value, oneshot::Sender<Invoked>);

struct Shared {
    first_poll: OnceLock<Instant>,
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Invoked>)>>,
    init_error: OnceLock<String>,
}

/// The API, serving one function instance.
pub struct RuntimeApi {
    /// `127.0.0.1:PORT`, as `AWS_LAMBDA_RUNTIME_API` wants it.
    pub address: String,
    shared: Arc<Shared>,
    jobs: mpsc::Sender<Job>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Listens on a free loopback port.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (jobs, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            first_poll: OnceLock::new(),
            jobs: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            init_error: OnceLock::new(),
        });
        let serving = shared.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(shared.clone(), request));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(RuntimeApi { address, shared, jobs, server })
    }

    /// When the function first asked for an event, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// What the function reported as its init error, if it did.
    pub fn init_error(&self) -> Option<&str> {
        self.shared.init_error.get().map(String::as_str)
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: Value) -> Result<Invoked, String> {
        let (sender, receiver) = oneshot::channel();
        self.jobs.send((event, sender)).await.map_err(|_| "the runtime API stopped".to_owned())?;
        tokio::time::timeout(Duration::from_secs(30), receiver)
            .await
            .map_err(|_| "no answer within 30 s".to_owned())?
            .map_err(|_| "the invocation was dropped".to_owned())
    }
}

fn reply(status: u16, body: impl Into<Bytes>) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder().status(status).body(Full::new(body.into())).expect("a plain response")
}

async fn answer(shared: Arc<Shared>, request: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let is_get = request.method() == hyper::Method::GET;
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Ok(match (is_get, parts.as_slice()) {
        (true, ["2018-06-01", "runtime", "invocation", "next"]) => {
            let _ = shared.first_poll.set(Instant::now());
            let Some((event, done)) = shared.jobs.lock().await.recv().await else { return Ok(reply(410, "stopped")) };
            let id = format!("bench-{}", latchkey::secret::random_id("req"));
            shared.in_flight.lock().expect("not poisoned").insert(id.clone(), (Instant::now(), done));
            let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(15);
            hyper::Response::builder()
                .header("lambda-runtime-aws-request-id", id)
                .header("lambda-runtime-deadline-ms", deadline.as_millis().to_string())
                .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                .body(Full::new(Bytes::from(event.to_string())))
                .expect("an event response")
        }
        (false, ["2018-06-01", "runtime", "invocation", id, outcome @ ("response" | "error")]) => {
            let Some((started, done)) = shared.in_flight.lock().expect("not poisoned").remove(*id) else { return Ok(reply(404, "unknown request")) };
            let duration = started.elapsed();
            let mut output: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if *outcome == "error" {
                output = serde_json::json!({"invocation_error": output});
            }
            let _ = done.send(Invoked { output, duration });
            reply(202, "")
        }
        (false, ["2018-06-01", "runtime", "init", "error"]) => {
            let _ = shared.init_error.set(String::from_utf8_lossy(&body).into_owned());
            reply(202, "")
        }
        _ => reply(404, "not a runtime API path"),
    })
}
