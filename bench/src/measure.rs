//! The measurements themselves: one run each; the caller repeats them and reports the spread.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runtime_api::RuntimeApi;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A function process polling `api`; killed when dropped.
pub struct Running {
    pub child: Child,
    pub api: RuntimeApi,
    pub spawned: Instant,
    /// Where its stdout (its logs) goes.
    pub log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `bootstrap` as Lambda would, with `env` as its configuration.
    pub async fn start(bootstrap: &Path, env: &[(String, String)], log: PathBuf) -> Result<Running, Error> {
        let api = RuntimeApi::start().await?;
        let name = bootstrap.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut command = Command::new(bootstrap);
        command
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| k.starts_with("AWS_") || k == "PATH"))
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::inherit());
        let spawned = Instant::now();
        let child = command.spawn()?;
        Ok(Running { child, api, spawned, log })
    }

    /// Waits for the first poll (the end of init); answers how long init took.
    pub async fn initialised(&mut self) -> Result<Duration, Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = self.api.first_poll() {
                return Ok(at - self.spawned);
            }
            if let Some(error) = self.api.init_error() {
                return Err(format!("init failed: {error}").into());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the function exited during init: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("no first poll within 30 s".into());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Invokes it with `event`; answers the output and the invocation's duration.
    pub async fn invoke(&self, event: &Value) -> Result<(Value, Duration), Error> {
        let invoked = self.api.invoke(event.clone()).await?;
        Ok((invoked.output, invoked.duration))
    }

    /// The process's peak resident memory so far, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("no VmHWM")?;
        let kib: u64 = line.split_whitespace().nth(1).ok_or("no value")?.parse()?;
        Ok(kib * 1024)
    }

    /// Bytes it has logged so far.
    pub fn logged_bytes(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }
}

/// The size of `bootstrap` zipped as Lambda receives it (deflate, as `cargo lambda build
/// --output-format zip` writes it), by Python's zipfile.
pub fn zip_size(bootstrap: &Path) -> Result<u64, Error> {
    let script = "import io,sys,zipfile\nb=io.BytesIO()\nwith zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[1],'bootstrap')\nprint(len(b.getvalue()))";
    let output = Command::new("python3").args(["-c", script]).arg(bootstrap).output()?;
    if !output.status.success() {
        return Err(format!("zip {}: {}", bootstrap.display(), String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Responses that were not 2xx or 3xx.
    pub non_2xx: u64,
}

/// Runs wrk against `url` with `script` (method, headers, body) for `seconds`.
pub fn wrk(url: &str, script: &Path, seconds: u32, connections: u32) -> Result<Load, Error> {
    let output = Command::new("wrk").args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"]).arg(script).arg(url).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed: {text} {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let field = |prefix: &str| text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_owned());
    let requests_per_sec = field("Requests/sec:").ok_or("no Requests/sec")?.parse()?;
    let p50_ms = wrk_ms(&field("50%").ok_or("no p50")?)?;
    let p99_ms = wrk_ms(&field("99%").ok_or("no p99")?)?;
    let non_2xx = field("Non-2xx or 3xx responses:").map(|v| v.parse()).transpose()?.unwrap_or(0);
    Ok(Load { requests_per_sec, p50_ms, p99_ms, non_2xx })
}

/// A wrk latency (`812.00us`, `1.23ms`, `2.00s`) in milliseconds.
fn wrk_ms(value: &str) -> Result<f64, Error> {
    let split = value.find(|c: char| c.is_ascii_alphabetic()).ok_or("no unit")?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse()?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        other => return Err(format!("unknown wrk unit {other}").into()),
    })
}

/// Writes the wrk script that POSTs `body` with `bearer`.
pub fn wrk_script(dir: &Path, bearer: &str, body: &str) -> Result<PathBuf, Error> {
    let path = dir.join("issue-token.lua");
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = [[{body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {bearer}\"\n"
    );
    std::fs::write(&path, lua)?;
    Ok(path)
}

/// Starts a server binary that prints `{"listening": URL}` first; answers it and the URL.
/// A server process printing a `{"listening": URL}` banner; killed when dropped, so a failed run
/// leaves nothing behind.
pub struct Server {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` with `args` and waits for its banner.
pub fn start_server(program: &Path, args: &[&str], env: &[(String, String)]) -> Result<Server, Error> {
    use std::io::BufRead;
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take();
    let mut server = Server { child, url: String::new() };
    let mut stdout = std::io::BufReader::new(stdout.ok_or("no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    // The rest of its output (request logs) is drained so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let banner: Value = serde_json::from_str(&line).map_err(|_| format!("{} printed {line:?}", program.display()))?;
    server.url = banner["listening"].as_str().ok_or("no listening URL")?.to_owned();
    Ok(server)
}
