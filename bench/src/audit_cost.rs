//! What the audit trail and the metrics add to a warm token. On Lambda a request is one log line:
//! its audit event, its metrics (Embedded Metric Format) and nothing else. The harness runs the
//! issue-token function for warm requests, takes its log lines apart (the bytes that carry the
//! event, those that carry the metrics), then files the events as audit-ingest would, into a
//! scratch store, and sizes the items it wrote as DynamoDB bills them (write units of 1 KB).

use std::sync::Arc;

use latchkey::model::Item;
use latchkey::store::{ItemStore, SqliteStore};
use latchkey::SystemClock;
use serde_json::{Map, Value};

use crate::measure::Error;
use crate::sections::Bench;

/// What one warm token's line holds, and what filing its event costs.
#[derive(Debug, Clone, Copy)]
pub struct AuditShare {
    /// The whole line, with its newline.
    pub line_bytes: f64,
    /// The part that is the audit event (`"audit":{...}`).
    pub event_bytes: f64,
    /// The part that is the metrics (`_aws` and the metrics' names and dimensions).
    pub metric_bytes: f64,
    /// DynamoDB write units per event when audit-ingest files them.
    pub write_units_per_event: f64,
    /// Events per stored batch item.
    pub events_per_item: f64,
}

/// Runs `invocations` warm token requests and measures their lines and the filing of their events.
pub async fn measure(bench: &Bench, invocations: usize) -> Result<AuditShare, Error> {
    let function = "latchkey-issue-token";
    let event = bench.typical_event(function);
    let mut running = bench.start(function, &bench.env).await?;
    running.initialised().await?;
    running.invoke(&event).await?;
    let before = running.logged_bytes() as usize;
    for _ in 0..invocations {
        running.invoke(&event).await?;
    }
    let text = std::fs::read_to_string(&running.log)?;
    let lines: Vec<&str> = text.get(before..).unwrap_or_default().lines().filter(|l| l.starts_with('{')).collect();
    if lines.is_empty() {
        return Err("the issue-token function wrote no JSON line".into());
    }
    let (mut line_bytes, mut event_bytes, mut metric_bytes) = (0usize, 0usize, 0usize);
    for line in &lines {
        let parsed: Map<String, Value> = serde_json::from_str(line)?;
        line_bytes += line.len() + 1;
        for (key, value) in &parsed {
            let part = key.len() + 4 + value.to_string().len();
            match key.as_str() {
                "audit" => event_bytes += part,
                "method" | "route" | "status" | "micros" => {}
                _ => metric_bytes += part,
            }
        }
    }
    let events = latchkey::audit::events_in_log_lines(lines.iter().copied());
    let first = events.first().ok_or("no audit event in the warm lines")?;
    let store = SqliteStore::open(&bench.scratch.join("audit-cost.sqlite3"), Arc::new(SystemClock))?;
    latchkey::audit::file(&store, &events, 90).await?;
    let items = store.query(&latchkey::audit::partition(&first.project_id), "").await?;
    let write_units: f64 = items.iter().map(|item| (dynamodb_size(item) as f64 / 1024.0).ceil()).sum();
    let n = lines.len() as f64;
    Ok(AuditShare {
        line_bytes: line_bytes as f64 / n,
        event_bytes: event_bytes as f64 / n,
        metric_bytes: metric_bytes as f64 / n,
        write_units_per_event: write_units / events.len() as f64,
        events_per_item: events.len() as f64 / items.len().max(1) as f64,
    })
}

/// An item's size as DynamoDB counts it: each attribute's name and value (numbers count at most
/// 21 bytes; the adapter's own attributes, version and expiry, are numbers).
fn dynamodb_size(item: &Item) -> usize {
    let attributes: usize = item
        .attrs
        .iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    Value::String(text) => text.len(),
                    Value::Number(_) => 21,
                    other => other.to_string().len(),
                }
        })
        .sum();
    "pk".len() + item.key.pk.len() + "sk".len() + item.key.sk.len() + attributes + "version".len() + 21 + "expires_at".len() + 21
}
