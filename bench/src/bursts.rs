//! Single-flight refresh under bursts, for token lifetimes from 30 s to an hour: four
//! `latchkey serve` processes over one embedded store, 100 concurrent requests on a token that is
//! due, against a token endpoint that rotates refresh tokens and refuses one presented twice.
//! Counted: provider refreshes per burst, refresh-token reuse, and how long callers waited.

use std::path::Path;
use std::time::Instant;

use latchkey::model::{Connection, Project, Stored};
use latchkey::{Clock, SystemClock};
use serde_json::json;

use crate::fixtures::{self, TokenEndpoint};
use crate::measure::{self, Error};
use crate::report::{quantile, Markdown};

/// The access-token lifetimes measured.
pub const LIFETIMES: [u64; 4] = [30, 60, 300, 3600];
const PROCESSES: usize = 4;
const REQUESTS: usize = 100;

/// What the bursts at one lifetime showed.
struct Bursts {
    lifetime: u64,
    refreshes: Vec<u64>,
    reuses: u64,
    failed: usize,
    p50_ms: f64,
    max_ms: f64,
}

/// Runs `windows` bursts at each lifetime and writes the section.
pub async fn section(lambda_dir: &Path, scratch: &Path, windows: usize, md: &mut Markdown) -> Result<(), Error> {
    let mut rows = Vec::new();
    for lifetime in LIFETIMES {
        let b = at_lifetime(lambda_dir, &scratch.join(format!("bursts-{lifetime}")), lifetime, windows).await?;
        rows.push(vec![
            format!("{} s", b.lifetime),
            format!("{:?}", b.refreshes),
            b.reuses.to_string(),
            b.failed.to_string(),
            format!("{:.1}", b.p50_ms),
            format!("{:.1}", b.max_ms),
        ]);
    }
    md.heading(2, "Single-flight refresh under bursts");
    md.para(&format!(
        "{PROCESSES} `latchkey serve` processes over one embedded store; the connection's access token is made due, then \
         {REQUESTS} concurrent token requests are spread over the processes; {windows} due windows per lifetime. The token \
         endpoint rotates refresh tokens and refuses one presented twice (reuse). Goal: one provider refresh per window, \
         no reuse, and every caller answered within 2 s of the refresh (the latencies below include the refresh itself \
         and the four processes sharing two cores)."
    ));
    md.table(&["access token lifetime", "provider refreshes per burst", "refresh tokens reused", "failed requests", "p50 ms", "max ms"], &rows);
    Ok(())
}

async fn at_lifetime(lambda_dir: &Path, data_dir: &Path, lifetime: u64, windows: usize) -> Result<Bursts, Error> {
    let provider = TokenEndpoint::start_with_lifetime(lifetime).await?;
    let env = vec![
        ("LATCHKEY_DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("LATCHKEY_OUTBOUND_ALLOW".to_owned(), "127.0.0.1".to_owned()),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ];
    let state = fixtures::state_for(&env).await?;
    let arranged = fixtures::arrange(&state, &provider.url).await?;
    let key = fixtures::expired_oauth_connection(&state, &arranged, "burst-user").await?;
    // A token of known lifetime and not due, so the servers' first sweep leaves it alone.
    set_expiry(&state, &arranged.project_id, lifetime as i64, lifetime as i64).await?;
    let servers = (0..PROCESSES)
        .map(|_| measure::start_server(&lambda_dir.join("latchkey/bootstrap"), &["--json", "serve", "--bind", "127.0.0.1:0"], &env))
        .collect::<Result<Vec<_>, _>>()?;
    let client = reqwest::Client::new();
    let body = json!({"subject": {"type": "user", "id": "burst-user"}}).to_string();
    let (mut refreshes, mut failed, mut latencies) = (Vec::new(), 0, Vec::new());
    for _ in 0..windows {
        set_expiry(&state, &arranged.project_id, lifetime as i64, 1).await?;
        let before = provider.grants();
        let requests = (0..REQUESTS).map(|i| {
            let request = client.post(format!("{}/v1/token/oauth%2Facme", servers[i % PROCESSES].url)).bearer_auth(&key);
            let request = request.header("content-type", "application/json").body(body.clone());
            async move {
                let started = Instant::now();
                let ok = request.send().await.is_ok_and(|r| r.status() == 200);
                (ok, started.elapsed().as_secs_f64() * 1000.0)
            }
        });
        for (ok, ms) in futures::future::join_all(requests).await {
            failed += usize::from(!ok);
            latencies.push(ms);
        }
        refreshes.push(provider.grants() - before);
    }
    drop(servers);
    Ok(Bursts { lifetime, refreshes, reuses: provider.reuses(), failed, p50_ms: quantile(&latencies, 0.5), max_ms: quantile(&latencies, 1.0) })
}

/// Makes the burst user's token a `lifetime`-second token with `left` seconds left (one: due).
async fn set_expiry(state: &latchkey::Ports, project: &latchkey::model::ProjectId, lifetime: i64, left: i64) -> Result<(), Error> {
    let partition = Project::partition_of(project);
    let connections = Stored::<Connection>::query(state.store.as_ref(), &partition, Connection::SK_PREFIX).await?;
    let found = connections.into_iter().find(|c| c.record.connector.as_str() == "oauth/acme").ok_or("no burst connection")?;
    let key = latchkey::model::Record::key(&found.record);
    let mut stored = Stored::<Connection>::get(state.store.as_ref(), &key).await?.ok_or("the burst connection went away")?;
    let now = SystemClock.now();
    stored.record.token_issued_at = Some(now.plus_secs(left - lifetime));
    stored.record.token_expires_at = Some(now.plus_secs(left));
    stored.save(state.store.as_ref()).await.map_err(|e| format!("making the token due: {e}"))?;
    Ok(())
}
