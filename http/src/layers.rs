//! What every request passes through, whatever its route: a body limit, a deadline, the headers
//! every answer carries, and one short log line.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use latchkey::metrics::{emf_document, now_ms, Metric, MetricsSink};
use latchkey::model::{AuditAction, AuditEvent};
use latchkey::Ports;

use crate::audit::PendingAudit;
use crate::error::{ApiError, ErrorCode};
use crate::routes::{endpoint_at, Endpoint};

/// Requests larger than this are refused with 413, as API Gateway would.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request still running after this is answered with `timeout`: API Gateway gives up at 30 s, and
/// a waiting refresh gives up well before.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(28);

/// Refuses a body its `Content-Length` says is over the limit before any work (authentication
/// included) is done for it; a body without one is cut off at the limit as it is read.
pub async fn body_limit(request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // The proxy streams bodies of its own, larger, size; every other route reads at most this.
    let limit = if request.uri().path().starts_with("/v1/proxy/") { crate::handlers::MAX_REQUEST_BYTES } else { MAX_BODY_BYTES };
    if declared.is_some_and(|length| length > limit as u64) {
        return ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {limit} bytes")).into_response();
    }
    next.run(request).await
}

/// The deadline, as a layer function.
pub async fn deadline(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(ErrorCode::Timeout, "the request took too long; retry").with_retry_after(1).into_response(),
    }
}

/// Headers every answer carries: nothing Latchkey answers may be cached by a shared cache (unless
/// the route said otherwise) or sniffed into another content type.
pub async fn harden(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// One line per request: method, route template (never the path, which can carry identifiers),
/// status and duration. Kept to those four fields because on Lambda every byte of it is billed. A
/// request that leaves an audit event has that event as its one line instead, completed with the
/// same fields (a token issued implies its method and route).
///
/// On Lambda the line is JSON written straight to standard output, whatever the log level: the audit
/// event in it is the durable record, and the request's metrics ride along in Embedded Metric
/// Format, so a warm token costs one line and no API call.
pub async fn access_log(State(ports): State<Ports>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    let (status, micros) = (response.status().as_u16(), started.elapsed().as_micros() as u64);
    let endpoint = route.as_deref().and_then(|path| endpoint_at(method.as_str(), path));
    let metrics = request_metrics(endpoint, &response, micros);
    let audit = response.extensions_mut().remove::<PendingAudit>().map(|PendingAudit(mut event)| {
        if event.action != AuditAction::TokenIssued {
            event.detail.entry("method").or_insert_with(|| method.as_str().into());
            event.detail.insert("route".into(), route.as_deref().unwrap_or("-").into());
        }
        event.detail.entry("status").or_insert_with(|| status.into());
        event.detail.insert("micros".into(), micros.into());
        event
    });
    if let MetricsSink::Emf = ports.metrics {
        println!("{}", request_line(&method, route.as_deref(), status, micros, audit.as_ref(), &metrics));
        if let Some(event) = audit {
            ports.audit_logged(event).await;
        }
        return response;
    }
    for metric in metrics {
        ports.metric(metric);
    }
    match audit {
        Some(event) => ports.audit(event).await,
        None => tracing::info!(method = %method, route = route.as_deref().unwrap_or("-"), status, micros, "request"),
    }
    response
}

/// A Lambda's line for one request: the request's metrics as an EMF document (but those CloudWatch
/// derives from the audit event), and its audit event or else its access fields.
fn request_line(method: &Method, route: Option<&str>, status: u16, micros: u64, audit: Option<&AuditEvent>, metrics: &[Metric]) -> String {
    let carried: Vec<Metric> = metrics.iter().filter(|metric| audit.is_none() || !metric.derived_from_audit()).cloned().collect();
    let mut line = if carried.is_empty() { serde_json::Map::new() } else { emf_document(&carried, now_ms()) };
    match audit.and_then(|event| serde_json::to_value(event).ok()) {
        Some(event) => {
            line.insert("audit".into(), event);
        }
        None => {
            line.insert("method".into(), method.as_str().into());
            line.insert("route".into(), route.unwrap_or("-").into());
            line.insert("status".into(), status.into());
            line.insert("micros".into(), micros.into());
        }
    }
    serde_json::Value::Object(line).to_string()
}

/// The metrics a request moves: token latency, proxy calls by status, refusals by code.
fn request_metrics(endpoint: Option<Endpoint>, response: &Response, micros: u64) -> Vec<Metric> {
    let status = response.status().as_u16();
    let code = response.extensions().get::<ErrorCode>().copied();
    let mut metrics = Vec::new();
    match endpoint {
        Some(Endpoint::IssueToken) => {
            let outcome = code.map_or("ok", ErrorCode::as_str);
            metrics.push(Metric::TokenLatency { seconds: micros as f64 / 1e6, status, outcome });
        }
        Some(Endpoint::Proxy) => {
            let upstream = response.headers().contains_key("x-latchkey-upstream");
            metrics.push(Metric::ProxyCall { status, upstream });
        }
        _ => {}
    }
    if let (401 | 403, Some(code)) = (status, code) {
        metrics.push(Metric::AuthRefusal { code: code.as_str().to_owned() });
    }
    metrics
}
