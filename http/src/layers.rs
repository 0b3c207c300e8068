//! What every request passes through, whatever its route: a body limit, a deadline, the headers
//! every answer carries, and one short log line.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use latchkey::metrics::Metric;
use latchkey::Ports;

use crate::audit::PendingAudit;
use crate::error::{ApiError, ErrorCode};

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
/// same four fields.
pub async fn access_log(State(ports): State<Ports>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    let (status, micros) = (response.status().as_u16(), started.elapsed().as_micros() as u64);
    record_metrics(&ports, route.as_deref(), &response, micros);
    if let Some(PendingAudit(mut event)) = response.extensions_mut().remove::<PendingAudit>() {
        event.detail.entry("method").or_insert_with(|| method.as_str().into());
        event.detail.insert("route".into(), route.as_deref().unwrap_or("-").into());
        event.detail.entry("status").or_insert_with(|| status.into());
        event.detail.insert("micros".into(), micros.into());
        ports.audit(event).await;
        return response;
    }
    tracing::info!(method = %method, route = route.as_deref().unwrap_or("-"), status, micros, "request");
    response
}

/// The metrics a request moves: token latency, proxy calls by status, refusals by code.
fn record_metrics(ports: &Ports, route: Option<&str>, response: &Response, micros: u64) {
    let status = response.status().as_u16();
    match route {
        Some("/v1/token/{connector}") => ports.metric(Metric::TokenLatency { seconds: micros as f64 / 1e6, status }),
        Some("/v1/proxy/{connector}/{*path}") => {
            let upstream = response.headers().contains_key("x-latchkey-upstream");
            ports.metric(Metric::ProxyCall { status, upstream });
        }
        _ => {}
    }
    if let (401 | 403, Some(code)) = (status, response.extensions().get::<ErrorCode>()) {
        ports.metric(Metric::AuthRefusal { code: code.as_str().to_owned() });
    }
}
