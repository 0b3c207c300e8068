//! The audit trail: where events go when they happen, and how they are kept and read back.
//!
//! An event is first a log line (`audit` in the JSON log), written while the request is answered:
//! that line is the durable record. On AWS nothing else happens on the request path; a CloudWatch
//! Logs subscription hands the lines to the `audit-ingest` function, which files them in the table
//! within seconds. The local server files them from a queue a moment later; the CLI files its own
//! at once. Events are filed by project in batches of up to [`BATCH_MAX`], gzip-compressed (an
//! event costs tens of bytes of write units, not a kilobyte), under sort keys that run backwards in
//! time, so that one ascending read of the partition meets the newest batch first however sparse
//! the trail, and expire after the retention.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::clock::Timestamp;
use crate::model::{AuditAction, AuditEvent, ConnectionId, Item, Key, ProjectId};
use crate::store::{ItemStore, StoreError};

/// Events per stored batch.
pub const BATCH_MAX: usize = 100;
/// How long the local server's queue gathers events into one batch.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);
/// The most events one page of a listing holds.
pub const PAGE_MAX: usize = 100;
/// Items read for one page at most (a sparse filter over a busy trail ends a page early, with a
/// cursor to go on from).
const READS_PER_PAGE: usize = 200;

/// Where events go besides the log line.
#[derive(Debug, Clone, Default)]
pub enum AuditSink {
    /// Only the log line (on Lambda, a subscription files it).
    #[default]
    Log,
    /// Filed at once (the CLI).
    Direct,
    /// Filed by a background task (the local server).
    Queue(mpsc::UnboundedSender<AuditEvent>),
}

/// The log line of `event`: the durable record.
pub fn log(event: &AuditEvent) {
    let line = serde_json::to_string(event).unwrap_or_default();
    tracing::info!(audit = %line, "audit");
}

/// Logs `event` and hands it to `sink`.
pub async fn record(store: &dyn ItemStore, sink: &AuditSink, retention_days: u32, event: AuditEvent) {
    log(&event);
    hand_off(store, sink, retention_days, event).await;
}

/// Hands an event whose log line is already written to `sink`.
pub async fn hand_off(store: &dyn ItemStore, sink: &AuditSink, retention_days: u32, event: AuditEvent) {
    match sink {
        AuditSink::Log => {}
        AuditSink::Direct => {
            if let Err(error) = file(store, std::slice::from_ref(&event), retention_days).await {
                tracing::warn!(%error, "audit event not filed (its log line stands)");
            }
        }
        AuditSink::Queue(queue) => {
            let _ = queue.send(event);
        }
    }
}

/// A queue and the task that files what it receives, a batch at a time.
pub fn queue(store: std::sync::Arc<dyn ItemStore>, retention_days: u32) -> AuditSink {
    let (sender, mut receiver) = mpsc::unbounded_channel::<AuditEvent>();
    tokio::spawn(async move {
        while let Some(first) = receiver.recv().await {
            // Gather for a moment: filing what happens to be queued at once made one store write
            // per event or two under load, which cost the local server half its warm throughput.
            let mut batch = vec![first];
            let until = tokio::time::Instant::now() + GATHER;
            while batch.len() < BATCH_MAX {
                match tokio::time::timeout_at(until, receiver.recv()).await {
                    Ok(Some(event)) => batch.push(event),
                    _ => break,
                }
            }
            if let Err(error) = file(store.as_ref(), &batch, retention_days).await {
                tracing::warn!(%error, events = batch.len(), "audit events not filed (their log lines stand)");
            }
        }
    });
    AuditSink::Queue(sender)
}

/// The partition of a project's trail.
pub fn partition(project: &ProjectId) -> String {
    format!("AUDIT#{project}")
}

/// The sort key of a batch whose newest event is at `newest_ms`: time runs backwards in it
/// (`T` and 13 digits of `9999999999999 - newest_ms`), so an ascending read meets the newest first.
fn batch_key(newest_ms: i64, id: &str) -> String {
    format!("T{:013}#{id}", INVERTED - newest_ms.clamp(0, INVERTED))
}

/// The largest time a sort key holds (in the year 2286).
const INVERTED: i64 = 9_999_999_999_999;

/// The newest time a batch key stands for.
fn newest_of(sk: &str) -> Option<i64> {
    sk.strip_prefix('T')?.split('#').next()?.parse::<i64>().ok().map(|inverted| INVERTED - inverted)
}

/// Files `events` (any projects, any order) in compressed batches.
pub async fn file(store: &dyn ItemStore, events: &[AuditEvent], retention_days: u32) -> Result<(), StoreError> {
    let mut by_project: BTreeMap<&ProjectId, Vec<&AuditEvent>> = BTreeMap::new();
    for event in events {
        by_project.entry(&event.project_id).or_default().push(event);
    }
    for (project, mut events) in by_project {
        events.sort_by_key(|e| (e.at_ms, e.id.clone()));
        for chunk in events.chunks(BATCH_MAX) {
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            let sk = batch_key(last.at_ms, &first.id);
            let mut attrs = Map::new();
            attrs.insert("gz".into(), Value::String(compress(chunk)?));
            attrs.insert("count".into(), json!(chunk.len()));
            let expires = Timestamp(last.at_ms / 1000 + i64::from(retention_days) * 86_400);
            store.put(&Item::new(Key::new(partition(project), sk), attrs).expiring_at(expires)).await?;
        }
    }
    Ok(())
}

fn compress(events: &[&AuditEvent]) -> Result<String, StoreError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for event in events {
        let line = serde_json::to_vec(event).map_err(|e| StoreError::Codec(e.to_string()))?;
        encoder.write_all(&line).and_then(|_| encoder.write_all(b"\n")).map_err(|e| StoreError::Codec(e.to_string()))?;
    }
    let bytes = encoder.finish().map_err(|e| StoreError::Codec(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn decompress(item: &Item) -> Result<Vec<AuditEvent>, StoreError> {
    let corrupt = |what: &str| StoreError::Codec(format!("audit batch {}: {what}", item.key.sk));
    let encoded = item.attrs.get("gz").and_then(Value::as_str).ok_or_else(|| corrupt("no events"))?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| corrupt("not base64"))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text).map_err(|_| corrupt("not gzip"))?;
    text.lines().map(|line| serde_json::from_str(line).map_err(|_| corrupt("an unreadable event"))).collect()
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only events about this connection.
    pub connection_id: Option<ConnectionId>,
    /// Only events at or after this (Unix seconds).
    pub since: Option<i64>,
    /// Only events before this (Unix seconds).
    pub until: Option<i64>,
    /// Only events of this environment (and the project's own, which have none).
    pub environment: Option<crate::model::EnvironmentName>,
}

impl AuditFilter {
    fn admits(&self, event: &AuditEvent) -> bool {
        self.action.is_none_or(|a| a == event.action)
            && self.connection_id.as_ref().is_none_or(|c| event.connection_id.as_ref() == Some(c))
            && self.since.is_none_or(|s| event.at_ms >= s.saturating_mul(1000))
            && self.until.is_none_or(|u| event.at_ms < u.saturating_mul(1000))
            && self.environment.as_ref().is_none_or(|env| event.environment.as_ref().is_none_or(|e| e == env))
    }
}

/// Where a listing goes on from: the batch it stopped in, and how many of its events (newest
/// first) are done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCursor {
    /// The sort key of the batch.
    sk: String,
    /// Its events already listed.
    done: usize,
}

impl AuditCursor {
    /// Opaque text for a URL.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads what [`encode`](Self::encode) wrote.
    pub fn decode(text: &str) -> Option<AuditCursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        let cursor: AuditCursor = serde_json::from_slice(&bytes).ok()?;
        newest_of(&cursor.sk).map(|_| cursor)
    }
}

/// One page of a project's trail, newest first, and the cursor of the next one. It reads batches
/// in key order (newest first) from where `until` or the cursor says, and stops at the first batch
/// older than `since` or the retention: the reads grow with what is listed, not with the time the
/// trail spans. At most [`READS_PER_PAGE`] batches are opened for one page.
pub async fn list(
    store: &dyn ItemStore,
    project: &ProjectId,
    filter: &AuditFilter,
    limit: usize,
    cursor: Option<AuditCursor>,
    now: Timestamp,
    retention_days: u32,
) -> Result<(Vec<AuditEvent>, Option<AuditCursor>), StoreError> {
    let limit = limit.clamp(1, PAGE_MAX);
    let pk = partition(project);
    let oldest_ms = filter.since.map_or(0, |s| s.saturating_mul(1000)).max((now.0 - i64::from(retention_days) * 86_400) * 1000);
    let (mut found, mut reads) = (Vec::new(), 0usize);
    // The batch the cursor stopped in comes first, then everything after it in key order.
    let (mut after, mut pending) = match cursor {
        Some(AuditCursor { sk, done }) => {
            let batch = store.get(&Key::new(pk.clone(), sk.clone())).await?;
            (Some(sk), batch.map(|batch| (batch, done)))
        }
        // Keys before the one of `until` hold only events from `until` on.
        None => (filter.until.map(|u| batch_key(u.saturating_mul(1000), "")), None),
    };
    loop {
        let batches: Vec<(Item, usize)> = match pending.take() {
            Some(first) => vec![first],
            None => {
                let page = store.query_page(&pk, "T", after.as_deref(), (READS_PER_PAGE - reads).clamp(1, 25)).await?;
                if page.items.is_empty() {
                    return Ok((found, None));
                }
                page.items.into_iter().map(|item| (item, 0)).collect()
            }
        };
        for (batch, skip) in batches {
            after = Some(batch.key.sk.clone());
            if newest_of(&batch.key.sk).is_some_and(|newest| newest < oldest_ms) {
                return Ok((found, None));
            }
            reads += 1;
            let mut events = decompress(&batch)?;
            events.reverse();
            for (i, event) in events.iter().enumerate().skip(skip) {
                if filter.admits(event) {
                    found.push(event.clone());
                    if found.len() == limit {
                        return Ok((found, Some(AuditCursor { sk: batch.key.sk.clone(), done: i + 1 })));
                    }
                }
            }
            if reads >= READS_PER_PAGE {
                return Ok((found, Some(AuditCursor { sk: batch.key.sk.clone(), done: events.len() })));
            }
        }
    }
}

/// The audit events among log lines (the JSON lines a Lambda function wrote, as a CloudWatch Logs
/// subscription hands them over): lines that are not audit events are skipped.
pub fn events_in_log_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<AuditEvent> {
    lines
        .into_iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| match line.get("audit") {
            // A Lambda's request line: the event as an object.
            Some(event @ Value::Object(_)) => serde_json::from_value(event.clone()).ok(),
            // A tracing line (JSON format): the event as text in its fields.
            _ => {
                let fields = line.get("fields").unwrap_or(&line);
                serde_json::from_str(fields.get("audit")?.as_str()?).ok()
            }
        })
        .collect()
}

/// A new event's id.
pub fn event_id() -> String {
    crate::secret::random_id("aud")
}

/// A proxy call's detail: method, host, path (never the query, which may carry a credential),
/// status, duration.
pub fn proxy_detail(method: &str, host: &str, path: &str, status: u16, duration_ms: u64) -> Map<String, Value> {
    let detail = json!({"method": method, "host": host, "path": path, "status": status, "duration_ms": duration_ms});
    detail.as_object().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ActorKind, EnvironmentName};

    fn event(project: &ProjectId, at_ms: i64) -> AuditEvent {
        AuditEvent {
            id: event_id(),
            at_ms,
            project_id: project.clone(),
            environment: Some(EnvironmentName::parse("production").unwrap()),
            action: AuditAction::TokenIssued,
            actor_kind: ActorKind::SecretKey,
            actor_id: "key_1".into(),
            connection_id: None,
            connector: None,
            outcome: "ok".into(),
            source_ip: None,
            user_agent: None,
            detail: Map::new(),
        }
    }

    #[tokio::test]
    async fn log_lines_are_filed_compressed_and_read_back_newest_first_across_hours() {
        let store = crate::store::SqliteStore::in_memory(std::sync::Arc::new(crate::SystemClock)).unwrap();
        let project = ProjectId::generate();
        let now = crate::Clock::now(&crate::SystemClock);
        let events: Vec<AuditEvent> = (0..250).map(|i| event(&project, now.0 * 1000 - i * 60_000)).collect();
        let lines: Vec<String> = events
            .iter()
            .map(|e| json!({"level": "INFO", "fields": {"message": "audit", "audit": serde_json::to_string(e).unwrap()}}).to_string())
            .chain(["not json".to_owned(), json!({"fields": {"message": "request"}}).to_string()])
            .collect();
        let parsed = events_in_log_lines(lines.iter().map(String::as_str));
        assert_eq!(parsed, events);
        file(&store, &parsed, 90).await.unwrap();
        let (mut seen, mut cursor) = (Vec::new(), None);
        loop {
            let (page, next) = list(&store, &project, &AuditFilter::default(), 40, cursor, now, 90).await.unwrap();
            seen.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.iter().map(|e| &e.id).collect::<Vec<_>>(), events.iter().map(|e| &e.id).collect::<Vec<_>>());
    }
}
