//! `latchkey-bench`: runs every measurement and writes BENCHMARKS.md. `bash bench/run.sh` builds
//! what it needs, starts moto_server and runs it; see `bench/README.md`.
//!
//!   latchkey-bench --moto http://127.0.0.1:PORT [--runs 5] [--out BENCHMARKS.md]
//!                  [--only init,calls,load,refills,bursts,sweeps,throughput,proxy,audit,micro]

use std::path::PathBuf;

use latchkey_bench::audit_cost::{self, AuditShare};
use latchkey_bench::fixtures::{self, CountingRelay, TokenEndpoint};
use latchkey_bench::load::{self, LoadShape};
use latchkey_bench::measure::Error;
use latchkey_bench::refills::{self, Refills, RATE_PER_SECOND};
use latchkey_bench::report::{per_million, Markdown, Stat, Usage, PRICES};
use latchkey_bench::sections::{self, Bench};
use latchkey_bench::{bursts, machine, micro, proxy_memory, sweeps};

/// Invocations per function per run in the memory and duration section.
const INVOCATIONS: usize = 1000;

/// The command line: `--moto URL [--runs N] [--out FILE] [--only a,b,c]`.
struct Options {
    moto: String,
    runs: usize,
    out: PathBuf,
    only: Option<String>,
}

impl Options {
    fn from_args() -> Result<Self, Error> {
        let args: Vec<String> = std::env::args().collect();
        let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        Ok(Options {
            moto: flag("--moto").ok_or("--moto URL is required (bench/run.sh starts moto_server)")?,
            runs: flag("--runs").map(|r| r.parse()).transpose()?.unwrap_or(5),
            out: PathBuf::from(flag("--out").unwrap_or_else(|| "BENCHMARKS.md".into())),
            only: flag("--only"),
        })
    }

    /// Whether `section` runs: every one unless `--only` names some.
    fn wanted(&self, section: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o.split(',').any(|s| s == section))
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = Options::from_args()?;
    let root = std::env::current_dir()?;
    let scratch = tempdir()?;

    let relay = CountingRelay::start(&options.moto).await?;
    let provider = TokenEndpoint::start().await?;
    let env = fixtures::aws_world(&options.moto, &relay).await?;
    let state = fixtures::state_for(&env).await?;
    let arranged = fixtures::arrange(&state, &provider.url).await?;
    let runs = options.runs;
    let bench = Bench { lambda_dir: sections::lambda_dir(&root)?, runs, env, relay, provider, state, arranged, scratch: scratch.clone() };

    let mut md = Markdown::default();
    md.0.push_str("# Benchmarks\n\nWritten by `bash bench/run.sh` (the harness in `bench/`); every figure is the median of repeated runs with the minimum and maximum in brackets. Nothing here is asserted by the tests; the call counts are, in `tests/api/lambdas.rs`.\n");
    machine::section(&mut md);
    let (calls, loaded, refills) = lambda_sections(&bench, &options, &mut md).await?;
    local_sections(&bench, &options, &root, &mut md).await?;
    let audit = if options.wanted("audit") {
        eprintln!("== the audit trail's and the metrics' share of a warm token");
        Some(audit_cost::measure(&bench, INVOCATIONS).await?)
    } else {
        None
    };
    if let (Some(calls), Some(issue)) = (calls, loaded.iter().find(|l| l.function == "latchkey-issue-token")) {
        cost_section(&mut md, &calls, refills.as_ref(), audit.as_ref(), Stat::of(&issue.p50_ms).median, issue.log_bytes_per_request);
    }
    // What earlier runs showed and what was changed because of it: written by hand, kept beside
    // the harness, carried into every report.
    if let Ok(history) = std::fs::read_to_string(root.join("bench/changes.md")) {
        md.0.push('\n');
        md.0.push_str(&history);
    }
    std::fs::write(&options.out, md.0)?;
    eprintln!("wrote {}", options.out.display());
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// The Lambdas' own sections: init, backend calls, memory under load and cache rereads; answers
/// what the cost section is built from.
async fn lambda_sections(
    bench: &Bench,
    options: &Options,
    md: &mut Markdown,
) -> Result<(Option<sections::WarmCalls>, Vec<sections::Loaded>, Option<Refills>), Error> {
    if options.wanted("init") {
        eprintln!("== init times");
        sections::init_times(bench, md).await?;
    }
    let calls = if options.wanted("calls") {
        eprintln!("== backend calls");
        Some(sections::backend_calls(bench, md).await?)
    } else {
        None
    };
    let loaded = if options.wanted("load") {
        eprintln!("== memory and durations under load");
        let loaded = sections::under_load(bench, INVOCATIONS).await?;
        sections::memory_and_sizes(bench, &loaded, INVOCATIONS, md)?;
        loaded
    } else {
        Vec::new()
    };
    let refills = if options.wanted("refills") {
        eprintln!("== cache rereads");
        Some(refills::measure(bench, md).await?)
    } else {
        None
    };
    Ok((calls, loaded, refills))
}

/// The sections that run processes of their own: refresh bursts, the sweep, the local server's
/// throughput, the proxy's memory, and the micro-benchmarks' report.
async fn local_sections(bench: &Bench, options: &Options, root: &std::path::Path, md: &mut Markdown) -> Result<(), Error> {
    let (runs, scratch) = (options.runs, &bench.scratch);
    if options.wanted("bursts") {
        eprintln!("== refresh bursts");
        bursts::section(&bench.lambda_dir, scratch, runs.max(2), md).await?;
    }
    if options.wanted("sweeps") {
        eprintln!("== background sweep");
        sweeps::section(&sweeps::World { moto: &options.moto, relay: &bench.relay, scratch }, runs, md).await?;
    }
    if options.wanted("throughput") {
        eprintln!("== throughput");
        load::compare(&bench.lambda_dir, scratch, &LoadShape { seconds: 5, connections: 32, runs }, md).await?;
    }
    if options.wanted("proxy") {
        eprintln!("== proxy memory on a 50 MiB answer");
        proxy_memory::section(&bench.lambda_dir, scratch, runs, md).await?;
    }
    if options.wanted("micro") {
        eprintln!("== micro-benchmarks");
        micro::section(&root.join("target/criterion"), md)?;
    }
    Ok(())
}

fn cost_section(md: &mut Markdown, calls: &sections::WarmCalls, refills: Option<&Refills>, audit: Option<&AuditShare>, p50_ms: f64, log_bytes: f64) {
    // The warm read is eventually consistent: half a read unit for an item under 4 KB.
    let usage = Usage { billed_ms: p50_ms.ceil().max(1.0), memory_mb: 256.0, reads: calls.reads * 0.5, kms_calls: calls.kms, log_bytes };
    let mut cost = per_million(&usage);
    let before = cost.total();
    if let Some(refills) = refills {
        let rate = RATE_PER_SECOND as f64;
        let extra = refills.per_request(rate);
        cost.lines.push((
            format!("DynamoDB cache rereads ({extra:.4} per request at {rate:.0} requests/s per instance)"),
            extra * PRICES.dynamodb_per_million_read_units,
        ));
    }
    let filing = audit.map(|share| audit_filing(&mut cost, share));
    md.heading(2, "Cost per million warm token issuances");
    md.para(&format!(
        "From the counted calls and the measured median duration of a warm issue-token invocation (rounded up to the \
         billed millisecond; this machine's core is faster than the share of one a 256 MB function gets, so read the \
         duration line as a floor), at us-east-1 list prices: Lambda ${}/million requests and ${}/GB-s on arm64, API \
         Gateway HTTP API ${}/million, DynamoDB on-demand ${}/million read units, KMS ${}/10,000 calls, CloudWatch Logs \
         ${}/GB ingested. Prices as published by AWS and used here on 2026-11-23; free tiers ignored. The log line \
         counted is the function's one line per request: template.yaml sets Lambda's system log level to WARN, so its own \
         platform lines (start and report, about 500 bytes an invocation) are not ingested.",
        PRICES.lambda_per_million_requests,
        PRICES.lambda_arm64_per_gb_second,
        PRICES.http_api_per_million_requests,
        PRICES.dynamodb_per_million_read_units,
        PRICES.kms_per_10k_requests,
        PRICES.logs_per_gb_ingested
    ));
    let mut rows: Vec<Vec<String>> = cost.lines.iter().map(|(line, dollars)| vec![line.clone(), format!("${dollars:.4}")]).collect();
    rows.push(vec!["**total**".into(), format!("**${:.4}**", cost.total())]);
    md.table(&["line", "per million"], &rows);
    if let (Some(share), Some(filing)) = (audit, filing) {
        audit_paragraph(md, share, filing);
    }
    if let Some(refills) = refills {
        let rate = RATE_PER_SECOND as f64;
        let with_old_caches = before + refills.before_per_request(rate) * PRICES.dynamodb_per_million_read_units;
        md.para(&format!(
            "With the 60-second caches of before, the rereads at {rate:.0} requests/s per instance came to ${:.4} per million and the \
             total to ${with_old_caches:.4}; with the 5-second bound the total is ${:.4}, a rise of ${:.4}.",
            refills.before_per_request(rate) * PRICES.dynamodb_per_million_read_units,
            cost.total(),
            cost.total() - with_old_caches
        ));
    }
}

fn tempdir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(latchkey::secret::random_id("latchkey-bench"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Dollars per million warm tokens: the audit event's bytes, filing it, and the metrics' bytes.
#[derive(Debug, Clone, Copy)]
struct Filing {
    event_logs: f64,
    writes: f64,
    ingest: f64,
    metric_logs: f64,
}

/// Adds audit-ingest's lines to `cost` (the log line's bytes are already in it, whole).
fn audit_filing(cost: &mut latchkey_bench::report::Cost, share: &AuditShare) -> Filing {
    let per_gb = PRICES.logs_per_gb_ingested;
    let writes = share.write_units_per_event * PRICES.dynamodb_per_million_write_units;
    // One invocation per subscription delivery, taken here as one per stored batch of events, at
    // 128 MB for 20 ms: an upper bound (CloudWatch hands over up to 10,000 events at once).
    let per_invocation = PRICES.lambda_per_million_requests / 1e6 + 0.020 * 0.125 * PRICES.lambda_arm64_per_gb_second;
    let ingest = per_invocation * 1e6 / share.events_per_item.max(1.0);
    cost.lines.push((format!("audit-ingest: DynamoDB writes ({:.3} write units per event, gzip batches)", share.write_units_per_event), writes));
    cost.lines.push((format!("audit-ingest: Lambda (one invocation per {:.0} events, 128 MB, 20 ms)", share.events_per_item), ingest));
    Filing { event_logs: share.event_bytes * 1e6 / 1e9 * per_gb, writes, ingest, metric_logs: share.metric_bytes * 1e6 / 1e9 * per_gb }
}

fn audit_paragraph(md: &mut Markdown, share: &AuditShare, filing: Filing) {
    let audit_total = filing.event_logs + filing.writes + filing.ingest;
    let verdict = if audit_total <= 0.10 { "within" } else { "over" };
    let parts = if share.metric_bytes < 1.0 {
        format!(
            "Of a warm token's {:.0}-byte log line, {:.0} bytes are its audit event; the rest are the braces around it. The \
             line carries no metrics: token latency, the one metric a warm token moves, is derived from the event by a \
             CloudWatch Logs metric filter in template.yaml, which bills no bytes and no call (the metric itself is billed \
             by the month, not by the token).",
            share.line_bytes, share.event_bytes
        )
    } else {
        format!(
            "Of a warm token's {:.0}-byte log line, {:.0} bytes are its audit event and {:.0} its metrics in Embedded Metric \
             Format (the rest are the braces between them). The metrics cost ${:.4} (their bytes only: EMF makes no API call).",
            share.line_bytes, share.event_bytes, share.metric_bytes, filing.metric_logs
        )
    };
    md.para(&format!(
        "{parts} The audit trail costs ${:.4} per million warm tokens: ${:.4} for the event's bytes in CloudWatch Logs, \
         ${:.4} for filing it (DynamoDB writes) and ${:.4} for audit-ingest's invocations; {verdict} the goal of $0.10. All \
         of it is in the table above, the bytes in its CloudWatch Logs line.",
        audit_total, filing.event_logs, filing.writes, filing.ingest
    ));
}
