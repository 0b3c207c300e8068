//! The proxy's peak memory on a large answer: `latchkey serve` (the release CLI, embedded store)
//! proxies `GET /big`, a 50 MiB answer a loopback provider API streams in 64 KiB chunks, to a client
//! that counts the bytes and keeps none, once as fast as it comes and once slower than the provider
//! sends it; the server's `VmHWM` is read after a small warm-up call through the same proxy and
//! after each large one. Each run is a fresh server process (the high-water mark only rises) on a
//! fresh data folder, set up as an operator would: the custom connector, its link and a user's key
//! with the CLI, the connection with `POST /v1/connections/import`.

use std::convert::Infallible;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::measure::Error;
use crate::report::{Markdown, Stat};

/// The large answer: 50 MiB.
pub const BODY_BYTES: u64 = 50 * 1024 * 1024;
/// The provider writes it in chunks of this size.
const CHUNK_BYTES: usize = 64 * 1024;
/// The connector the proxy calls through.
const CONNECTOR: &str = "bigapi/bench";
/// The end user whose connection it uses.
const USER: &str = "bench-user";

const MIB: f64 = 1_048_576.0;

/// A caller slower than the provider reads at this rate, in bytes a second: the proxy must then
/// stop reading the provider's answer rather than queue it.
pub const PACED_BYTES_PER_SEC: u64 = 20 * 1024 * 1024;

/// One run's figures, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// The server's `VmHWM` after the warm-up call.
    pub peak_before: u64,
    /// Its `VmHWM` after the 50 MiB answer, read as fast as it comes.
    pub peak_after: u64,
    /// Body bytes the client received for that call.
    pub received: u64,
    /// Its `VmHWM` after the 50 MiB answer again, read at [`PACED_BYTES_PER_SEC`].
    pub peak_after_paced: u64,
    /// Body bytes the client received for the paced call.
    pub received_paced: u64,
}

/// Runs the measurement `runs` times and writes its section.
pub async fn section(lambda_dir: &Path, scratch: &Path, runs: usize, md: &mut Markdown) -> Result<Vec<Run>, Error> {
    let latchkey = lambda_dir.join("latchkey/bootstrap");
    let api = BigApi::start().await?;
    let mut all = Vec::new();
    for run in 0..runs {
        let data_dir = scratch.join(format!("proxy-memory-{run}"));
        let one = measure(&latchkey, &data_dir, &api.address).await?;
        eprintln!(
            "   proxy run {run}: VmHWM {:.1} MiB, {:.1} MiB after {} bytes, {:.1} MiB after {} bytes paced",
            mib(one.peak_before),
            mib(one.peak_after),
            one.received,
            mib(one.peak_after_paced),
            one.received_paced
        );
        all.push(one);
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let stat = |f: fn(&Run) -> f64| Stat::of(&all.iter().map(f).collect::<Vec<_>>());
    let before = stat(|r| mib(r.peak_before));
    let rows = vec![
        vec!["warm-up (a few bytes)".into(), before.show(1), "–".into(), SMALL.len().to_string()],
        vec![
            "50 MiB, read as fast as it comes".into(),
            stat(|r| mib(r.peak_after)).show(1),
            stat(|r| mib(r.peak_after) - mib(r.peak_before)).show(1),
            stat(|r| r.received as f64).show(0),
        ],
        vec![
            format!("50 MiB again, read at {} MiB/s", PACED_BYTES_PER_SEC / 1024 / 1024),
            stat(|r| mib(r.peak_after_paced)).show(1),
            stat(|r| mib(r.peak_after_paced) - mib(r.peak_before)).show(1),
            stat(|r| r.received_paced as f64).show(0),
        ],
    ];
    md.heading(2, "Proxy memory on a 50 MB response");
    md.para(&format!(
        "`GET /v1/proxy/bigapi%2Fbench/big` on `latchkey serve` (the release CLI, embedded store, request logging on, \
         as shipped) for an API-key connection whose connector's API is a loopback server answering {BODY_BYTES} bytes \
         (50 MiB) in {} KiB chunks; the client counts the bytes and keeps none. Peak memory is the server process's \
         `VmHWM` (it only rises), read after a small warm-up call through the same proxy, after the 50 MiB answer read \
         as fast as it comes, and after the same answer read at {} MiB/s, slower than the provider sends it; growth \
         is over the warm-up's peak. {runs} runs, each a fresh server on a fresh data folder. Streaming here means \
         the proxy holds only the chunks in flight between the provider's connection and the caller's, never the \
         whole answer, and stops reading the provider while the caller is behind: the growth stays a few MiB whatever \
         the answer's size, rather than following its 50 MiB.",
        CHUNK_BYTES / 1024,
        PACED_BYTES_PER_SEC / 1024 / 1024
    ));
    md.table(&["call", "server peak MiB", "growth MiB", "bytes received"], &rows);
    if all.iter().any(|r| r.received != BODY_BYTES || r.received_paced != BODY_BYTES) {
        let got: Vec<_> = all.iter().map(|r| (r.received, r.received_paced)).collect();
        md.para(&format!("Some runs received other than the {BODY_BYTES} bytes sent: {got:?}."));
    }
    Ok(all)
}

/// One run: a fresh server, the connector, the connection, the warm-up call and the large one.
async fn measure(latchkey: &Path, data_dir: &Path, api_address: &str) -> Result<Run, Error> {
    std::fs::create_dir_all(data_dir)?;
    let env = vec![
        ("LATCHKEY_DATA_DIR".to_owned(), data_dir.display().to_string()),
        // The proxy may reach exactly the loopback provider, over plain http.
        ("LATCHKEY_OUTBOUND_ALLOW".to_owned(), api_address.to_owned()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ];
    let server = Serve::start(latchkey, &env, &data_dir.join("serve.log"))?;
    let project = server.banner["demo_project"].as_str().ok_or("the serve banner has no demo project (was the data folder fresh?)")?.to_owned();
    let project_key = server.banner["demo_secret_key"].as_str().ok_or("the serve banner has no demo secret key")?.to_owned();
    let base_url = format!("http://{api_address}");
    cli(
        latchkey,
        &env,
        &["connectors", "create", "--uid", CONNECTOR, "--auth-mode", "api-key", "--api-base-url", &base_url, "--api-auth", "header:X-Api-Key"],
    )?;
    cli(latchkey, &env, &["connectors", "link", "--uid", CONNECTOR, "--project", &project, "--environment", "development"])?;
    // The demo key is project-wide, which may ask only for the app: the proxy call for the user's
    // connection goes with a key bound to that user.
    let user_key = cli(latchkey, &env, &["keys", "create", "--project", &project, "--environment", "development", "--user", USER])?;
    let user_key = user_key["secret_key"].as_str().ok_or("`keys create` printed no secret_key")?.to_owned();

    let http = reqwest::Client::new();
    let import = json!({"consumer_id": USER, "connector": CONNECTOR, "credentials": {"api_key": "bench-api-key"}});
    let response = http.post(format!("{}/v1/connections/import", server.url)).bearer_auth(&project_key).json(&import).send().await?;
    if response.status() != 201 {
        return Err(format!("import answered {}: {}", response.status(), response.text().await?).into());
    }
    let call = |path: &str| {
        http.get(format!("{}/v1/proxy/{}/{path}", server.url, CONNECTOR.replace('/', "%2F")))
            .bearer_auth(&user_key)
            .header("x-latchkey-subject", format!("user:{USER}"))
    };
    let warm = count_body(call("small").send().await?, None).await?;
    if warm != SMALL.len() as u64 {
        return Err(format!("the warm-up call received {warm} bytes, not {}", SMALL.len()).into());
    }
    let peak_before = vm_hwm(server.child.id())?;
    let received = count_body(call("big").send().await?, None).await?;
    let peak_after = vm_hwm(server.child.id())?;
    let received_paced = count_body(call("big").send().await?, Some(PACED_BYTES_PER_SEC)).await?;
    let peak_after_paced = vm_hwm(server.child.id())?;
    Ok(Run { peak_before, peak_after, received, peak_after_paced, received_paced })
}

/// Reads the answer's body chunk by chunk, keeping only the count, at most `rate` bytes a second if
/// given; an answer other than 200 is an error (with its body, which is then small).
async fn count_body(mut response: reqwest::Response, rate: Option<u64>) -> Result<u64, Error> {
    if response.status() != 200 {
        return Err(format!("the proxy answered {}: {}", response.status(), response.text().await?).into());
    }
    if response.headers().get("x-latchkey-upstream").is_none() {
        return Err("the answer is not the provider's (no x-latchkey-upstream)".into());
    }
    let started = std::time::Instant::now();
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len() as u64;
        if let Some(rate) = rate {
            let due = std::time::Duration::from_secs_f64(bytes as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(ahead).await;
            }
        }
    }
    Ok(bytes)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// `VmHWM` of process `pid`, in bytes.
fn vm_hwm(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("no VmHWM")?;
    let kib: u64 = line.split_whitespace().nth(1).ok_or("no VmHWM value")?.parse()?;
    Ok(kib * 1024)
}

/// Runs `latchkey --json ARGS` on the same data folder; answers what it printed.
fn cli(latchkey: &Path, env: &[(String, String)], args: &[&str]) -> Result<Value, Error> {
    let output = Command::new(latchkey).arg("--json").args(args).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(format!("latchkey {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(serde_json::from_slice(&output.stdout).unwrap_or(Value::Null))
}

/// `latchkey --json serve` on loopback; killed when dropped.
struct Serve {
    child: Child,
    url: String,
    banner: Value,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(latchkey: &Path, env: &[(String, String)], log: &PathBuf) -> Result<Serve, Error> {
        let mut child = Command::new(latchkey)
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .spawn()?;
        let stdout = child.stdout.take();
        let mut server = Serve { child, url: String::new(), banner: Value::Null };
        let mut stdout = std::io::BufReader::new(stdout.ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        // Anything it prints later is drained, so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        server.banner = serde_json::from_str(&line).map_err(|_| format!("latchkey serve printed {line:?} (its log: {})", log.display()))?;
        server.url = server.banner["listening"].as_str().ok_or("no listening URL")?.to_owned();
        Ok(server)
    }
}

/// The warm-up call's answer.
const SMALL: &[u8] = b"{\"ok\":true}";

/// The provider's API on loopback: `GET /big` streams [`BODY_BYTES`] in [`CHUNK_BYTES`] chunks
/// (one buffer, shared), anything else answers [`SMALL`].
struct BigApi {
    /// `127.0.0.1:PORT`.
    address: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for BigApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl BigApi {
    async fn start() -> std::io::Result<BigApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let chunk = Bytes::from(vec![b'x'; CHUNK_BYTES]);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let chunk = chunk.clone();
                        async move {
                            let (chunks, length) = if request.uri().path().ends_with("/big") {
                                let count = (BODY_BYTES / CHUNK_BYTES as u64) as usize;
                                (std::iter::repeat_n(chunk, count).collect::<Vec<_>>(), BODY_BYTES)
                            } else {
                                (vec![Bytes::from_static(SMALL)], SMALL.len() as u64)
                            };
                            let frames = futures::stream::iter(chunks).map(|c| Ok::<_, Infallible>(Frame::data(c)));
                            let response = hyper::Response::builder()
                                .header("content-type", "application/octet-stream")
                                .header("content-length", length)
                                .body(StreamBody::new(frames))
                                .expect("a streamed response");
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(BigApi { address, server })
    }
}
