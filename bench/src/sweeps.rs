//! The background sweep at 1,000, 10,000 and 100,000 stored connections with 1% due: the store
//! reads one pass makes (calls, and the items they return), the writes, the provider refreshes
//! and the time the pass takes, due refreshes included; then a pass with nothing due. On the
//! embedded store at every size, and on moto_server (through the counting relay, which also tallies
//! the DynamoDB requests) up to 10,000, where its Python request handling still copes.

use std::sync::Arc;
use std::time::Instant;

use latchkey::model::{ConnectorUid, Key};
use latchkey::{Clock, Ports, SystemClock};
use latchkey_test_support::counting::{CountingStore, Counts};
use latchkey_test_support::fleet;

use crate::fixtures::{self, CountingRelay, TokenEndpoint};
use crate::measure::Error;
use crate::report::{Markdown, Stat};

/// Stored connections per measured population.
pub const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// One in this many is due.
const DUE_EVERY: usize = 100;
/// The largest population measured on moto_server.
const MOTO_MAX: usize = 10_000;

/// What the passes over one population showed.
#[derive(Default)]
struct Passes {
    store: &'static str,
    stored: usize,
    due: usize,
    reads: Vec<f64>,
    items: Vec<f64>,
    writes: Vec<f64>,
    refreshed: Vec<f64>,
    millis: Vec<f64>,
    idle_reads: f64,
    idle_items: f64,
    idle_millis: f64,
    dynamodb: String,
}

/// Where the populations live: a fresh embedded store per size, or a fresh table on moto.
pub struct World<'a> {
    pub moto: &'a str,
    pub relay: &'a CountingRelay,
    pub scratch: &'a std::path::Path,
}

/// Measures every population and writes the section.
pub async fn section(world: &World<'_>, runs: usize, md: &mut Markdown) -> Result<(), Error> {
    let provider = TokenEndpoint::start().await?;
    let mut measured = Vec::new();
    for stored in SIZES {
        eprintln!("   embedded, {stored} stored");
        let env = vec![
            ("LATCHKEY_DATA_DIR".to_owned(), world.scratch.join(format!("sweep-{stored}")).display().to_string()),
            ("LATCHKEY_OUTBOUND_ALLOW".to_owned(), "127.0.0.1".to_owned()),
        ];
        measured.push(population("embedded", &env, stored, runs, &provider, None).await?);
    }
    for stored in SIZES.into_iter().filter(|s| *s <= MOTO_MAX) {
        eprintln!("   moto, {stored} stored");
        let env = fixtures::aws_world(world.moto, world.relay).await?;
        measured.push(population("moto (DynamoDB API)", &env, stored, runs, &provider, Some(world.relay)).await?);
    }
    write(md, &measured, runs);
    Ok(())
}

async fn population(
    store: &'static str,
    env: &[(String, String)],
    stored: usize,
    runs: usize,
    provider: &TokenEndpoint,
    relay: Option<&CountingRelay>,
) -> Result<Passes, Error> {
    let built = fixtures::state_for(env).await?;
    let counts = Arc::new(Counts::default());
    let mut ports: Ports = built.clone();
    ports.store = Arc::new(CountingStore { inner: built.store.clone(), counts: counts.clone() });
    let project =
        latchkey::admin::create_project(&ports, latchkey::admin::NewProject { name: "Sweep".into(), environments: Vec::new(), allowed_origins: Vec::new() })
            .await?;
    let uid: ConnectorUid = fleet::oauth_connector(&ports, "oauth/sweep", &provider.url, &project.id).await?;
    let due: Vec<Key> = fleet::seed(&ports, &project.id, &uid, stored, DUE_EVERY, SystemClock.now(), 16).await?;
    let mut passes = Passes { store, stored, due: due.len(), ..Passes::default() };
    let mut aws_calls = std::collections::BTreeMap::new();
    for run in 0..runs {
        if run > 0 {
            fleet::make_due(&ports, &due, SystemClock.now()).await?;
        }
        counts.reset();
        let before = provider.grants();
        relay.map(CountingRelay::take);
        let started = Instant::now();
        latchkey::token::background::sweep(&ports).await;
        passes.millis.push(started.elapsed().as_secs_f64() * 1000.0);
        passes.reads.push(counts.reads() as f64);
        passes.items.push(counts.items() as f64);
        passes.writes.push(counts.writes() as f64);
        passes.refreshed.push((provider.grants() - before) as f64);
        if let Some(relay) = relay {
            aws_calls = relay.take();
        }
    }
    counts.reset();
    relay.map(CountingRelay::take);
    let started = Instant::now();
    latchkey::token::background::sweep(&ports).await;
    (passes.idle_millis, passes.idle_reads, passes.idle_items) = (started.elapsed().as_secs_f64() * 1000.0, counts.reads() as f64, counts.items() as f64);
    if relay.is_some() {
        let reads: Vec<String> = aws_calls.iter().filter(|(op, _)| matches!(op.as_str(), "Query" | "GetItem")).map(|(op, n)| format!("{op} ×{n}")).collect();
        passes.dynamodb = reads.join(", ");
    }
    Ok(passes)
}

fn write(md: &mut Markdown, measured: &[Passes], runs: usize) {
    let rows: Vec<Vec<String>> = measured
        .iter()
        .map(|p| {
            vec![
                p.store.to_owned(),
                format!("{}", p.stored),
                format!("{}", p.due),
                Stat::of(&p.reads).show(0),
                Stat::of(&p.items).show(0),
                Stat::of(&p.writes).show(0),
                Stat::of(&p.refreshed).show(0),
                Stat::of(&p.millis).show(1),
                format!("{:.0} / {:.0} / {:.1}", p.idle_reads, p.idle_items, p.idle_millis),
                if p.dynamodb.is_empty() { "—".into() } else { p.dynamodb.clone() },
            ]
        })
        .collect();
    md.heading(2, "Background sweep: reads and time per pass");
    md.para(&format!(
        "One project with 1,000, 10,000 and 100,000 stored OAuth connections with one-hour tokens, 1% of them due (ten \
         minutes left, inside the sweep's refresh-ahead window), the rest not (fifty minutes left); {runs} passes per \
         population, the due ones made due again before each. A pass runs `latchkey::token::background::sweep` as the \
         local server and `latchkey sweep` do: it reads what is due from the due index and refreshes it against a \
         loopback token endpoint, at most 4 at once per connector. *Reads* counts store calls (gets, queries, due-index \
         reads), *items* what they returned; *writes* are the refresh lease and the new tokens. The time includes the \
         refreshes. *Idle pass* is a pass right after, with nothing due: reads / items / ms. On moto the last column \
         is the DynamoDB read requests of the last pass as the relay counted them (the due index is read one query per \
         shard, 16 per queue). Goal: reads per pass grow with the due connections and stay flat as stored ones grow."
    ));
    md.table(&["store", "stored", "due", "reads", "items read", "writes", "refreshes", "ms per pass", "idle pass", "DynamoDB reads, last pass"], &rows);
}
