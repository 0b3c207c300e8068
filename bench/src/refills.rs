//! What keeping operator changes within their bound costs: a warm issue-token instance rereads
//! every revocable cache entry (its caller, the connector and its links) once its time-to-live
//! runs out. This section counts those rereads under a steady stream of requests and prices them.

use std::time::Duration;

use crate::measure::Error;
use crate::report::{Markdown, PRICES};
use crate::sections::Bench;

/// The steady rate one warm instance is driven at, requests per second.
pub const RATE_PER_SECOND: u64 = 10;
/// How long the stream runs.
pub const SECONDS: u64 = 60;
/// The cache time-to-live before operator changes had a bound.
const TTL_BEFORE_SECS: f64 = 60.0;

/// Rereads one warm instance made, per minute, and what they cost per million tokens.
pub struct Refills {
    /// Store reads per minute beyond the one each request makes.
    pub per_minute: f64,
    /// Entries the warm path keeps in its caches (reads of the first request beyond the one).
    pub entries: f64,
}

impl Refills {
    /// Extra read units per request at `rate` requests per second per instance.
    pub fn per_request(&self, rate: f64) -> f64 {
        self.per_minute / (60.0 * rate)
    }

    /// The same with the 60-second caches of before: each entry once a minute.
    pub fn before_per_request(&self, rate: f64) -> f64 {
        self.entries * (60.0 / TTL_BEFORE_SECS) / (60.0 * rate)
    }
}

/// Drives one issue-token instance at [`RATE_PER_SECOND`] for [`SECONDS`] and counts its reads.
pub async fn measure(bench: &Bench, md: &mut Markdown) -> Result<Refills, Error> {
    let function = "latchkey-issue-token";
    let event = bench.typical_event(function);
    let mut running = bench.start(function, &bench.env).await?;
    running.initialised().await?;
    bench.relay.take();
    running.invoke(&event).await?;
    let first = bench.relay.take().get("GetItem").copied().unwrap_or(0);
    let mut ticks = tokio::time::interval(Duration::from_millis(1000 / RATE_PER_SECOND));
    let invocations = RATE_PER_SECOND * SECONDS;
    for _ in 0..invocations {
        ticks.tick().await;
        running.invoke(&event).await?;
    }
    let reads = bench.relay.take().get("GetItem").copied().unwrap_or(0);
    let refills = Refills { per_minute: (reads.saturating_sub(invocations)) as f64 * 60.0 / SECONDS as f64, entries: first.saturating_sub(1) as f64 };
    report(&refills, reads, invocations, md);
    Ok(refills)
}

fn report(refills: &Refills, reads: u64, invocations: u64, md: &mut Markdown) {
    let price = PRICES.dynamodb_per_million_read_units;
    md.heading(2, "What the 5-second bound on operator changes costs");
    md.para(&format!(
        "Every instance trusts what an operator can take away (a secret key, a connector and its project links, a \
         trusted issuer) for at most {ttl} seconds, then reads it again, so that an unlink, a rotation or a revocation \
         holds everywhere within 5 seconds (before, the caches kept entries for {before:.0} s). One issue-token instance \
         served {invocations} warm requests at {RATE_PER_SECOND} per second for {SECONDS} s; the relay counted {reads} \
         `GetItem`s: one per request for the connection, and {per_minute:.0} a minute that refill the {entries:.0} cached \
         entries the warm path uses (entries expire on whole seconds, so each lives 3 to 4 s: 15 to 20 rereads a minute each, at most {max:.0} here; an idle instance rereads nothing). \
         The extra cost per million warm tokens depends on how busy each instance is, since the rereads are per \
         instance per minute:",
        ttl = latchkey::cache::REVOCABLE_TTL_SECS,
        before = TTL_BEFORE_SECS,
        per_minute = refills.per_minute,
        entries = refills.entries,
        max = refills.entries * 60.0 / (latchkey::cache::REVOCABLE_TTL_SECS as f64 - 1.0),
    ));
    let rows: Vec<Vec<String>> = [1.0, RATE_PER_SECOND as f64, 100.0]
        .iter()
        .map(|&rate| {
            let (before, after) = (refills.before_per_request(rate), refills.per_request(rate));
            vec![
                format!("{rate:.0}"),
                format!("{before:.4}"),
                format!("{after:.4}"),
                format!("${:.4}", before * price),
                format!("${:.4}", after * price),
                format!("+${:.4}", (after - before) * price),
            ]
        })
        .collect();
    md.table(&["requests/s per instance", "extra reads per request, 60 s caches", "with the bound", "per million, before", "after", "rise"], &rows);
    let break_even = (refills.per_minute - refills.entries) / 60.0 * price / 0.01;
    md.para(&format!(
        "The goal (a rise of at most $0.01 per million warm tokens) holds for instances serving at least {break_even:.1} \
         requests per second. Below that the rise is larger per token but small in dollars: an instance at 1 request per \
         second for a whole month rereads {month:.0} thousand items, ${month_cost:.2}.",
        month = refills.per_minute * 60.0 * 24.0 * 30.0 / 1000.0,
        month_cost = refills.per_minute * 60.0 * 24.0 * 30.0 * price / 1e6,
    ));
}
