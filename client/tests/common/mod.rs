//! What the client's integration tests share: a real `latchkey serve` on a loopback port, and a
//! scripted stand-in for cases that need answers the real server cannot give on demand.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `latchkey` binary: `LATCHKEY_BIN`, or the one built beside this test binary
/// (`target/<triple>/debug/latchkey`, built by `cargo build --workspace --bins`).
pub fn latchkey_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("LATCHKEY_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let beside = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join("latchkey");
    assert!(beside.exists(), "{} is not built: build the workspace's binaries (`cargo build --workspace --bins`) or set LATCHKEY_BIN", beside.display());
    beside
}

/// A local Latchkey with its demo project, stopped (and its data removed) when dropped.
pub struct Server {
    child: Child,
    data_dir: PathBuf,
    bin: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The demo project.
    pub project: String,
    /// The demo project's development secret key.
    pub secret_key: String,
}

impl Server {
    /// Starts `latchkey serve` on a free loopback port with an empty data folder.
    pub fn start() -> Server {
        let bin = latchkey_bin();
        let data_dir = std::env::temp_dir().join(format!("latchkey-client-test-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let mut child = Command::new(&bin)
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .env("LATCHKEY_DATA_DIR", &data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let Ok(line) = receiver.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            panic!("latchkey serve printed nothing within 30 s");
        };
        let banner: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("latchkey serve printed {line:?}: {e}"));
        let text = |name: &str| banner[name].as_str().unwrap_or_else(|| panic!("no {name} in {banner}")).to_owned();
        Server { url: text("listening"), project: text("demo_project"), secret_key: text("demo_secret_key"), child, data_dir, bin }
    }

    /// Runs the CLI on this server's data (`--json`), answering its parsed output.
    pub fn cli(&self, args: &[&str]) -> Value {
        let out =
            Command::new(&self.bin).arg("--json").args(args).env("LATCHKEY_DATA_DIR", &self.data_dir).stderr(Stdio::null()).output().expect("run latchkey");
        assert!(out.status.success(), "latchkey {args:?} failed");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// A new secret key of the demo project's development environment, bound to `user`.
    pub fn user_key(&self, user: &str) -> String {
        let created = self.cli(&["keys", "create", "--project", &self.project, "--environment", "development", "--user", user]);
        created["secret_key"].as_str().expect("secret_key").to_owned()
    }

    /// Imports `consumer`'s connection to `connector` with an API key (a fixture: not the client
    /// under test, which has no import).
    pub async fn import_api_key(&self, consumer: &str, connector: &str, api_key: &str) -> Value {
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/connections/import", self.url))
            .bearer_auth(&self.secret_key)
            .json(&serde_json::json!({"consumer_id": consumer, "connector": connector, "credentials": {"api_key": api_key}}))
            .send()
            .await
            .expect("import");
        assert_eq!(answer.status(), 201, "import {consumer} {connector}");
        answer.json::<Value>().await.expect("import answer")["data"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw path, percent-encoded as sent, without the query.
    pub path: String,
    pub query: HashMap<String, String>,
    /// Lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// A loopback HTTP/1.1 stand-in answering scripted routes (the conformance file's `standin`).
pub struct Standin {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Standin {
    /// Serves `routes` (see sdks/conformance/README.md) until the test ends.
    pub fn start(routes: Vec<Value>) -> Standin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new((routes, HashMap::<usize, usize>::new())));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, state) = (recorded.clone(), state.clone());
                std::thread::spawn(move || serve(stream, &recorded, &state));
            }
        });
        Standin { url, requests }
    }

    pub fn count(&self) -> usize {
        self.requests.lock().expect("requests").len()
    }

    pub fn last(&self) -> Option<Recorded> {
        self.requests.lock().expect("requests").last().cloned()
    }
}

type Routes = Mutex<(Vec<Value>, HashMap<usize, usize>)>;

fn serve(stream: TcpStream, recorded: &Mutex<Vec<Recorded>>, state: &Routes) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        recorded.lock().expect("requests").push(Recorded {
            method: method.clone(),
            path: path.to_owned(),
            query: query.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let answer = {
            let mut state = state.lock().expect("routes");
            let (routes, served) = &mut *state;
            let found = routes.iter().position(|route| {
                route["method"] == method.as_str()
                    && route["path"] == path
                    && route["query"].as_object().is_none_or(|wanted| wanted.iter().all(|(k, v)| query.get(k).map(String::as_str) == v.as_str()))
            });
            found.map(|index| {
                let route = &routes[index];
                let count = served.entry(index).or_default();
                let answer = match route["sequence"].as_array() {
                    Some(sequence) => sequence[(*count).min(sequence.len() - 1)].clone(),
                    None => route.clone(),
                };
                *count += 1;
                answer
            })
        };
        let answer = answer.unwrap_or_else(|| serde_json::json!({"status": 404, "json": {"error": {"code": "route_not_found", "message": "no route"}}}));
        if let Some(delay) = answer["delay_ms"].as_u64() {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let mut head = format!("HTTP/1.1 {} X\r\n", answer["status"].as_u64().unwrap_or(200));
        let mut content_type = None;
        for (name, value) in answer["headers"].as_object().into_iter().flatten() {
            if name.eq_ignore_ascii_case("content-type") {
                content_type = value.as_str().map(str::to_owned);
            } else {
                head.push_str(&format!("{name}: {}\r\n", value.as_str().unwrap_or_default()));
            }
        }
        let body = if answer.get("json").is_some() {
            content_type.get_or_insert_with(|| "application/json".into());
            materialize(&answer["json"]).to_string()
        } else {
            answer["text"].as_str().unwrap_or_default().to_owned()
        };
        if let Some(content_type) = content_type {
            head.push_str(&format!("content-type: {content_type}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(body.as_bytes())).is_err() {
            return;
        }
    }
}

/// `{"$time": N}` becomes the RFC 3339 time N seconds from now.
fn materialize(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(materialize).collect()),
        Value::Object(map) if map.len() == 1 && map.contains_key("$time") => {
            let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(map["$time"].as_i64().unwrap_or_default());
            Value::String(at.format(&time::format_description::well_known::Rfc3339).expect("format"))
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), materialize(v))).collect()),
        other => other.clone(),
    }
}

/// Waits until `check` holds, up to `timeout` (events the local server files from a queue).
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
