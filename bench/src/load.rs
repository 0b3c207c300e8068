//! Warm issue-token on the local server (embedded store) against a plain hyper hello-world, under
//! the same wrk load on the same machine, runs alternating so drift hits both alike.

use std::path::Path;

use serde_json::json;

use crate::fixtures;
use crate::measure::{self, Error, Load};
use crate::report::{Markdown, Stat};

/// wrk's settings.
pub struct LoadShape {
    pub seconds: u32,
    pub connections: u32,
    pub runs: usize,
}

/// Arranges a local data folder, starts `latchkey serve` on it and hello-hyper, and loads both.
pub async fn compare(lambda_dir: &Path, scratch: &Path, shape: &LoadShape, md: &mut Markdown) -> Result<(), Error> {
    let data_dir = scratch.join("local");
    let env = vec![("LATCHKEY_DATA_DIR".to_owned(), data_dir.display().to_string()), ("RUST_LOG".to_owned(), "info".to_owned())];
    let arranged = {
        let state = fixtures::state_for(&env).await?;
        let provider = fixtures::TokenEndpoint::start().await?;
        fixtures::arrange(&state, &provider.url).await?
    };
    let body = json!({"subject": {"type": "user", "id": "user-1"}}).to_string();
    let script = measure::wrk_script(scratch, &arranged.user_key, &body)?;
    let latchkey = measure::start_server(&lambda_dir.join("latchkey/bootstrap"), &["--json", "serve", "--bind", "127.0.0.1:0"], &env)?;
    let hello = measure::start_server(&lambda_dir.join("hello-hyper/bootstrap"), &["127.0.0.1:0"], &[])?;
    let (token_url, hello_url) = (format!("{}/v1/token/keys%2Facme", latchkey.url), hello.url.clone());
    let probe =
        reqwest::Client::new().post(&token_url).bearer_auth(&arranged.user_key).header("content-type", "application/json").body(body.clone()).send().await?;
    if probe.status() != 200 {
        return Err(format!("issue-token answered {} on the local server", probe.status()).into());
    }
    let mut ours: Vec<Load> = Vec::new();
    let mut baseline: Vec<Load> = Vec::new();
    for _ in 0..shape.runs {
        ours.push(measure::wrk(&token_url, &script, shape.seconds, shape.connections)?);
        baseline.push(measure::wrk(&hello_url, &script, shape.seconds, shape.connections)?);
    }
    drop((latchkey, hello));
    if let Some(bad) = ours.iter().find(|l| l.non_2xx > 0) {
        return Err(format!("{} issue-token responses were not 2xx under load", bad.non_2xx).into());
    }
    let stat = |loads: &[Load], f: fn(&Load) -> f64| Stat::of(&loads.iter().map(f).collect::<Vec<_>>());
    let (rps, p50, p99) = (stat(&ours, |l| l.requests_per_sec), stat(&ours, |l| l.p50_ms), stat(&ours, |l| l.p99_ms));
    let (base_rps, base_p50, base_p99) = (stat(&baseline, |l| l.requests_per_sec), stat(&baseline, |l| l.p50_ms), stat(&baseline, |l| l.p99_ms));
    md.heading(2, "Warm issue-token throughput");
    md.para(&format!(
        "`POST /v1/token/keys%2Facme` for a valid API-key connection on `latchkey serve` (embedded SQLite store, local \
         master key, request logging on, as shipped) against a plain hyper hello-world answering a token-sized JSON body. \
         wrk with 2 threads and {} connections for {} s, {} runs each, alternating; both servers and wrk share the \
         machine's cores. Goal (issue 14): at least 0.35 of the hello-world's throughput.",
        shape.connections, shape.seconds, shape.runs
    ));
    let rows = vec![
        vec!["issue-token (local server)".into(), rps.show(0), p50.show(3), p99.show(3)],
        vec!["hyper hello-world".into(), base_rps.show(0), base_p50.show(3), base_p99.show(3)],
        vec![
            "ratio (ours / hello-world)".into(),
            format!("{:.2}", rps.median / base_rps.median),
            format!("{:.2}", p50.median / base_p50.median),
            format!("{:.2}", p99.median / base_p99.median),
        ],
    ];
    md.table(&["server", "requests/s", "p50 ms", "p99 ms"], &rows);
    Ok(())
}
