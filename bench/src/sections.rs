//! Each section of BENCHMARKS.md: what it measures, over repeated runs, and how it reads.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::fixtures::{self, Arranged, CountingRelay, TokenEndpoint, APP_ORIGIN};
use crate::measure::{self, Error, Running};
use crate::report::{quantile, Markdown, Stat};
use latchkey_test_support::events::http_api_event;

/// Every function. Those that write run last under load: moto's Query and Scan walk the whole
/// table (DynamoDB's read only the partition), so the thousands of link tokens the create-link-token
/// run writes would otherwise slow the functions that list, as they would not on AWS.
pub const FUNCTIONS: [&str; 10] = [
    "latchkey-issue-token",
    "latchkey-connect-page",
    "latchkey-connections-api",
    "latchkey-oauth-callback",
    "latchkey-exchange-public-token",
    "latchkey-scheduled-sweep",
    "latchkey-webhook-delivery",
    "latchkey-refresh-worker",
    "latchkey-create-session",
    "latchkey-create-link-token",
];

/// Where the bootstraps are, and the shared arrangements.
pub struct Bench {
    pub lambda_dir: PathBuf,
    pub runs: usize,
    pub env: Vec<(String, String)>,
    pub relay: CountingRelay,
    pub provider: TokenEndpoint,
    pub state: latchkey::Ports,
    pub arranged: Arranged,
    pub scratch: PathBuf,
}

impl Bench {
    pub fn bootstrap(&self, name: &str) -> PathBuf {
        self.lambda_dir.join(name).join("bootstrap")
    }

    pub async fn start(&self, name: &str, env: &[(String, String)]) -> Result<Running, Error> {
        let log = self.scratch.join(format!("{name}.log"));
        Running::start(&self.bootstrap(name), env, log).await
    }

    /// The API Gateway event a function is loaded with: its most frequent request.
    pub fn typical_event(&self, function: &str) -> Value {
        let project_key = self.arranged.project_key.as_str();
        let bearer = format!("Bearer {project_key}");
        let user_bearer = format!("Bearer {}", self.arranged.user_key);
        let with = |auth: &str| vec![("authorization", auth.to_owned()), ("content-type", "application/json".to_owned())];
        let event = |method: &str, target: &str, headers: Vec<(&str, String)>, body: Option<Value>| {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http_api_event(method, target, "latchkey.example.test", &headers, body.map(|b| b.to_string()).as_deref())
        };
        match function {
            "latchkey-create-link-token" => event("POST", "/v1/link/token", with(&bearer), Some(json!({"end_user": {"id": "user-1"}}))),
            "latchkey-exchange-public-token" => event("POST", "/v1/link/exchange", with(&bearer), Some(json!({"public_token": "pt_unknown"}))),
            "latchkey-create-session" => {
                event("POST", "/v1/sessions", with(&bearer), Some(json!({"consumer_id": "user-1", "redirect_uri": format!("{APP_ORIGIN}/done")})))
            }
            "latchkey-issue-token" => event("POST", "/v1/token/keys%2Facme", with(&user_bearer), Some(json!({"subject": {"type": "user", "id": "user-1"}}))),
            "latchkey-oauth-callback" => event("GET", "/v1/oauth/callback?state=unknown&code=abc", Vec::new(), None),
            "latchkey-connect-page" => event("GET", "/v1/providers", Vec::new(), None),
            "latchkey-connections-api" => {
                event("GET", "/v1/connections", vec![("authorization", bearer.clone()), ("x-latchkey-consumer-id", "user-1".into())], None)
            }
            "latchkey-scheduled-sweep" => json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}),
            _ => json!({"Records": []}),
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Init time of each function against two baselines: the hello-world, and `hello-aws`, a
/// hello-world that builds the same AWS clients and makes one GetItem under the same moto
/// configuration (what a user's own minimal function would pay); configured as on AWS and, to
/// separate Latchkey's own work from the AWS SDK's and the network's, on the embedded store.
pub async fn init_times(bench: &Bench, md: &mut Markdown) -> Result<(), Error> {
    let hello = Stat::of(&init_runs(bench, "hello-lambda", &[]).await?);
    let hello_aws = Stat::of(&init_runs(bench, "hello-aws", &bench.env).await?);
    let embedded = vec![("LATCHKEY_DATA_DIR".to_owned(), bench.scratch.join("embedded").display().to_string())];
    // The first start on the embedded store creates its data folder, database and master key (a
    // few hundred milliseconds, once per deployment): done untimed, so every timed start finds them.
    bench.start(FUNCTIONS[0], &embedded).await?.initialised().await?;
    let mut rows = vec![
        vec!["hello-world `lambda_runtime`".to_owned(), hello.show(2), "1.0".into(), "–".into(), hello.show(2), "1.0".into()],
        vec![
            "hello-world with the AWS clients and one GetItem (`hello-aws`)".to_owned(),
            hello_aws.show(2),
            format!("{:.1}", hello_aws.median / hello.median),
            "1.00".into(),
            "–".into(),
            "–".into(),
        ],
    ];
    let mut worst_aws_ratio: f64 = 0.0;
    for function in FUNCTIONS {
        let aws = Stat::of(&init_runs(bench, function, &bench.env).await?);
        let local = Stat::of(&init_runs(bench, function, &embedded).await?);
        worst_aws_ratio = worst_aws_ratio.max(aws.median / hello_aws.median);
        rows.push(vec![
            format!("`{function}`"),
            aws.show(2),
            format!("{:.1}", aws.median / hello.median),
            format!("{:.2}", aws.median / hello_aws.median),
            local.show(2),
            format!("{:.1}", local.median / hello.median),
        ]);
    }
    md.heading(2, "Init time");
    md.para(&format!(
        "From process start to the function's first poll of the runtime API, over {} starts each. *On AWS* is the \
         deployed configuration (DynamoDB and KMS, here moto_server on loopback behind the counting relay): init \
         builds the AWS clients and opens the store connection with one read, so it includes the AWS SDK loading its \
         trusted roots and one round trip to moto. *Embedded* is the same binary on the SQLite store and a local key: \
         Latchkey's own init. Two baselines, built with the same profile: the hello-world `lambda_runtime` function \
         (`bench/src/bin/hello-lambda.rs`), and `hello-aws` (`bench/src/bin/hello-aws.rs`), the hello-world a user \
         would write to reach the same backends: in init it loads the AWS SDK configuration, builds the DynamoDB and \
         KMS clients with the same crates and rustls client, and makes one strongly consistent GetItem for a key no \
         record uses, against the same moto_server behind the same relay. Goals: at most 3x the hello-world, and on \
         AWS at most 1.5x `hello-aws` (the largest ratio here: {worst_aws_ratio:.2}).",
        bench.runs
    ));
    md.table(&["function", "on AWS: ms", "/ hello-world", "/ hello-aws", "embedded: ms", "/ hello-world"], &rows);
    Ok(())
}

async fn init_runs(bench: &Bench, function: &str, env: &[(String, String)]) -> Result<Vec<f64>, Error> {
    let mut times = Vec::new();
    for _ in 0..bench.runs {
        let mut running = bench.start(function, env).await?;
        times.push(ms(running.initialised().await?));
    }
    Ok(times)
}

/// Backend calls of the issue-token function: init, the first request, warm requests, refreshes.
pub async fn backend_calls(bench: &Bench, md: &mut Markdown) -> Result<WarmCalls, Error> {
    let function = "latchkey-issue-token";
    bench.relay.take();
    let mut running = bench.start(function, &bench.env).await?;
    running.initialised().await?;
    let init = bench.relay.take();
    let event = bench.typical_event(function);
    let (first_output, _) = running.invoke(&event).await?;
    check_status(&first_output, 200)?;
    let first = bench.relay.take();
    let mut warm_counts = Vec::new();
    for _ in 0..bench.runs {
        let (output, _) = running.invoke(&event).await?;
        check_status(&output, 200)?;
        warm_counts.push(bench.relay.take());
    }
    let (refresh_counts, grants) = count_refreshes(bench, &mut running).await?;
    let warm = &warm_counts[0];
    let same_warm = warm_counts.iter().all(|c| c == warm);
    let (first_refresh, refresh) = (&refresh_counts[0], &refresh_counts[refresh_counts.len() - 1]);
    let same_refresh = refresh_counts[1..].iter().all(|c| c == refresh) && grants.iter().all(|g| *g == 1);
    md.heading(2, "Backend calls per request");
    md.para(&format!(
        "Counted by a relay in front of moto_server that tallies each AWS call by operation, for the issue-token \
         function running as a Lambda. Warm: the token is still valid and the instance has served a request before. \
         Refresh: the connection's access token is due, so the function reads the connection, leases it (a \
         conditional write), calls the provider and writes the new tokens; the instance's first refresh also unwraps \
         and generates data keys once (KMS). {} warm requests and {} refreshes were counted; {}. For comparison, \
         Nango's warm path makes about 9 backend round trips.",
        bench.runs,
        bench.runs,
        if same_warm && same_refresh { "every run after the first refresh counted the same" } else { "runs differed: see below" }
    ));
    let rows = vec![
        vec!["init".into(), show(&init), total(&init).to_string(), "0".into()],
        vec!["first request (cold key cache)".into(), show(&first), total(&first).to_string(), "0".into()],
        vec!["warm request".into(), show(warm), total(warm).to_string(), "0".into()],
        vec!["refresh, the instance's first".into(), show(first_refresh), total(first_refresh).to_string(), grants[0].to_string()],
        vec!["refresh".into(), show(refresh), total(refresh).to_string(), grants[grants.len() - 1].to_string()],
    ];
    md.table(&["request", "AWS calls", "total", "provider calls"], &rows);
    if !(same_warm && same_refresh) {
        md.para(&format!("Warm runs: {warm_counts:?}. Refresh runs: {refresh_counts:?}, grants {grants:?}."));
    }
    Ok(WarmCalls {
        reads: warm.get("GetItem").copied().unwrap_or(0) as f64,
        kms: warm.iter().filter(|(k, _)| k.as_str() == "Decrypt" || k.as_str() == "GenerateDataKey").map(|(_, v)| *v).sum::<u64>() as f64,
    })
}

/// AWS calls by operation, as the relay tallied them.
type Calls = std::collections::BTreeMap<String, u64>;

/// The AWS calls and provider grants of `bench.runs` refreshes, each on a connection of its own
/// whose token is due.
async fn count_refreshes(bench: &Bench, running: &mut Running) -> Result<(Vec<Calls>, Vec<u64>), Error> {
    let (mut counts, mut grants) = (Vec::new(), Vec::new());
    for run in 0..bench.runs {
        let user = format!("refresh-{run}-{}", latchkey::secret::random_id("u"));
        let key = fixtures::expired_oauth_connection(&bench.state, &bench.arranged, &user).await?;
        let body = json!({"subject": {"type": "user", "id": user}}).to_string();
        let auth = format!("Bearer {key}");
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        let refresh = http_api_event("POST", "/v1/token/oauth%2Facme", "latchkey.example.test", &headers, Some(&body));
        // The new key's first use reads it from the store; a request for another connector (which
        // this user lacks) caches it, so the count below is the refresh's alone.
        running.invoke(&http_api_event("POST", "/v1/token/keys%2Facme", "latchkey.example.test", &headers, Some(&body))).await?;
        bench.relay.take();
        let before = bench.provider.grants();
        let (output, _) = running.invoke(&refresh).await?;
        check_status(&output, 200)?;
        counts.push(bench.relay.take());
        grants.push(bench.provider.grants() - before);
    }
    Ok((counts, grants))
}

/// `GetItem ×1, Query ×2`, or `none`.
fn show(calls: &Calls) -> String {
    if calls.is_empty() {
        "none".to_owned()
    } else {
        calls.iter().map(|(k, v)| format!("{k} ×{v}")).collect::<Vec<_>>().join(", ")
    }
}

fn total(calls: &Calls) -> u64 {
    calls.values().sum()
}

/// What the cost model takes from the call counts of a warm request.
pub struct WarmCalls {
    pub reads: f64,
    pub kms: f64,
}

fn check_status(output: &Value, expected: u64) -> Result<(), Error> {
    match output["statusCode"].as_u64() {
        Some(status) if status == expected => Ok(()),
        _ => Err(format!("expected {expected}, the function answered {output}").into()),
    }
}

/// Per function: peak memory and invocation durations under a stream of its typical request.
pub struct Loaded {
    pub function: &'static str,
    pub peak_mb: Vec<f64>,
    pub p50_ms: Vec<f64>,
    pub p99_ms: Vec<f64>,
    pub log_bytes_per_request: f64,
}

/// Runs each function `invocations` times with its typical event, `bench.runs` times over.
pub async fn under_load(bench: &Bench, invocations: usize) -> Result<Vec<Loaded>, Error> {
    let mut all = Vec::new();
    for function in FUNCTIONS {
        let event = bench.typical_event(function);
        let mut loaded = Loaded { function, peak_mb: Vec::new(), p50_ms: Vec::new(), p99_ms: Vec::new(), log_bytes_per_request: 0.0 };
        for _ in 0..bench.runs {
            let mut running = bench.start(function, &bench.env).await?;
            running.initialised().await?;
            running.invoke(&event).await?;
            let logged_before = running.logged_bytes();
            let mut durations = Vec::with_capacity(invocations);
            for _ in 0..invocations {
                durations.push(ms(running.invoke(&event).await?.1));
            }
            loaded.peak_mb.push(running.peak_rss()? as f64 / 1_048_576.0);
            loaded.p50_ms.push(quantile(&durations, 0.5));
            loaded.p99_ms.push(quantile(&durations, 0.99));
            loaded.log_bytes_per_request = (running.logged_bytes() - logged_before) as f64 / invocations as f64;
        }
        all.push(loaded);
    }
    Ok(all)
}

/// Memory, durations and zip sizes, one table.
pub fn memory_and_sizes(bench: &Bench, loaded: &[Loaded], invocations: usize, md: &mut Markdown) -> Result<(), Error> {
    let mut rows = Vec::new();
    for l in loaded {
        let zip = measure::zip_size(&bench.bootstrap(l.function))? as f64 / 1_048_576.0;
        let raw = std::fs::metadata(bench.bootstrap(l.function))?.len() as f64 / 1_048_576.0;
        rows.push(vec![
            format!("`{}`", l.function),
            Stat::of(&l.peak_mb).show(1),
            Stat::of(&l.p50_ms).show(2),
            Stat::of(&l.p99_ms).show(2),
            format!("{zip:.1}"),
            format!("{raw:.1}"),
        ]);
    }
    md.heading(2, "Memory, warm duration and package size");
    md.para(&format!(
        "Each function served {invocations} invocations of its most frequent request in a row (the events are listed in \
         `bench/src/sections.rs`), {} times over; peak memory is the process's `VmHWM` after the run, duration is from \
         the runtime API handing out the event to receiving the response (what Lambda bills). The zip is the bootstrap \
         deflated as Lambda receives it. Durations include moto_server's answer time (a few milliseconds per call from \
         Python); those of the functions that list (connections-api, the sweep) are mostly moto's, whose Query and Scan \
         walk the whole table where DynamoDB reads only the partition. Goals: at most 40 MB of memory and 8 MB zipped.",
        bench.runs
    ));
    md.table(&["function", "peak memory MB", "p50 ms", "p99 ms", "zip MB", "bootstrap MB"], &rows);
    Ok(())
}

/// Where the bootstraps `cargo lambda build` wrote, checked.
pub fn lambda_dir(root: &Path) -> Result<PathBuf, Error> {
    let dir = root.join("target/lambda");
    for name in FUNCTIONS.iter().copied().chain(["hello-lambda", "hello-aws", "hello-hyper", "latchkey"]) {
        if !dir.join(name).join("bootstrap").exists() {
            return Err(format!("{}/{name}/bootstrap is missing: run `bash bench/run.sh`, which builds it", dir.display()).into());
        }
    }
    Ok(dir)
}
