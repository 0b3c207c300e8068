//! The functions as real Lambdas: the bootstraps `cargo lambda build` wrote (the test profile), each polling
//! the Lambda runtime API that `cargo lambda watch --only-lambda-apis` emulates on loopback, invoked
//! with API Gateway HTTP API (payload v2) events (built by the benchmark harness's `events`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{free_port, workspace_root};

/// `cargo lambda watch --only-lambda-apis` on a loopback port.
pub struct Emulator {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

/// One function's bootstrap, connected to the emulator; killed when dropped.
pub struct Instance {
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `cargo-lambda` the test command installed into .tools/venv, or the one on PATH.
fn cargo_lambda() -> PathBuf {
    let local = workspace_root().join(".tools/venv/bin/cargo-lambda");
    if local.exists() {
        local
    } else {
        PathBuf::from("cargo-lambda")
    }
}

/// The bootstrap `cargo lambda build` wrote for `function`.
pub fn bootstrap(function: &str) -> PathBuf {
    let path = workspace_root().join("target/lambda").join(function).join("bootstrap");
    assert!(path.exists(), "{} is missing: `bash scripts/test.sh` builds every binary with `cargo lambda build` before the tests", path.display());
    path
}

impl Emulator {
    /// Starts the runtime API emulator and waits until it accepts connections.
    pub async fn start() -> Emulator {
        let port = free_port();
        let child = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes", "-A", "127.0.0.1", "-P", &port.to_string()])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cargo lambda watch");
        let emulator = Emulator { child, port, http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap() };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return emulator;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cargo lambda watch did not listen on 127.0.0.1:{port} within 30 s");
    }

    /// Starts `function`'s bootstrap against this emulator with `env` (its configuration).
    pub fn start_function(&self, function: &str, env: &[(String, String)]) -> Instance {
        self.start_function_writing(function, env, Stdio::inherit())
    }

    /// Starts `function` with its standard output (its log lines, as CloudWatch would get them)
    /// going to `stdout`.
    pub fn start_function_writing(&self, function: &str, env: &[(String, String)], stdout: Stdio) -> Instance {
        let child = Command::new(bootstrap(function))
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/.rt/{function}", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {function}: {e}"));
        Instance { child }
    }

    /// Invokes `function` with `event`, as API Gateway would; answers the function's response.
    pub async fn invoke(&self, function: &str, event: &Value) -> Answer {
        let output = self.invoke_raw(function, event).await;
        Answer::from_output(&output).unwrap_or_else(|| panic!("not an HTTP API response: {output}"))
    }

    /// Invokes `function` with any event (an SQS batch, a schedule); answers its output as it is.
    pub async fn invoke_raw(&self, function: &str, event: &Value) -> Value {
        let url = format!("http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations", self.port);
        let response = self.http.post(url).json(event).send().await.expect("invoke");
        assert_eq!(response.status(), 200, "the emulator refused the invocation of {function}");
        let text = response.text().await.expect("an invocation result");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// A request, sent to the local server or turned into an API Gateway event.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    /// Path and query, as sent.
    pub target: String,
    pub bearer: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Call {
    pub fn get(target: impl Into<String>) -> Call {
        Call { method: "GET", target: target.into(), bearer: None, headers: Vec::new(), body: None }
    }

    pub fn post(target: impl Into<String>, body: Value) -> Call {
        Call { method: "POST", target: target.into(), bearer: None, headers: Vec::new(), body: Some(body) }
    }

    pub fn bearer(mut self, token: &str) -> Call {
        self.bearer = Some(token.to_owned());
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Call {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Sends it to the local server at `base`.
    pub async fn send(&self, http: &reqwest::Client, base: &str) -> Answer {
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut request = http.request(method, format!("{base}{}", self.target));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        answer_of(request.send().await.expect("local server answers")).await
    }

    /// The API Gateway HTTP API (payload format 2.0) event for it, arriving at `host`.
    pub fn event(&self, host: &str) -> Value {
        let authorization = self.bearer.as_ref().map(|token| format!("Bearer {token}"));
        let mut headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(value) = &authorization {
            headers.push(("authorization", value));
        }
        if self.body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = self.body.as_ref().map(Value::to_string);
        latchkey_test_support::events::http_api_event(self.method, &self.target, host, &headers, body.as_deref())
    }
}

/// What came back, from either side.
pub type Answer = latchkey_test_support::events::HttpAnswer;

async fn answer_of(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let has_cookies = response.headers().contains_key("set-cookie");
    Answer { status, content_type, has_cookies, body: response.text().await.unwrap() }
}

/// The body as JSON.
pub fn json_of(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|_| panic!("not JSON: {}", answer.body))
}
