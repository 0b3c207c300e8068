//! A provider's HTTP API on loopback, for the proxy's tests and the harness: it records every
//! request that reaches it and answers through a script the test writes.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::relay::serve;

/// One request as the API received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The method.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body's length.
    pub body_len: usize,
}

impl Received {
    /// The value of header `name`, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the script answers: a status, headers, and a body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer { status, headers: vec![("content-type".into(), "application/json".into())], body: Bytes::from(body.to_string()) }
    }
}

/// The API: its base URL (`http://127.0.0.1:PORT`) and what it received.
pub struct ProviderApi {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ProviderApi {
    /// Answers every request with `script(request, how many came before it)`.
    pub async fn start<F>(script: F) -> std::io::Result<ProviderApi>
    where
        F: Fn(&Received, usize) -> Answer + Send + Sync + 'static,
    {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (log, script) = (received.clone(), Arc::new(script));
        let (url, _) = serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let (log, script) = (log.clone(), script.clone());
            async move {
                let method = request.method().to_string();
                let target = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                let headers = request.headers().iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
                let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let seen = Received { method, target, headers, body_len: body.len() };
                let before = {
                    let mut log = log.lock().expect("not poisoned");
                    log.push(seen.clone());
                    log.len() - 1
                };
                let answer = script(&seen, before);
                let mut response = hyper::Response::builder().status(answer.status);
                for (name, value) in &answer.headers {
                    response = response.header(name, value);
                }
                response.body(Full::new(answer.body)).expect("a response")
            }
        })
        .await?;
        Ok(ProviderApi { url, received })
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}
