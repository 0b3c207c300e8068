//! `GET /metrics`: the process's operator metrics as Prometheus text, for the operator token only.
//! On Lambda the metrics are Embedded Metric Format log lines that CloudWatch reads (namespace
//! `Latchkey`); an instance's own counts would say nothing about the fleet, so it answers so.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use latchkey::metrics::{MetricsSink, NAMESPACE};
use latchkey::Ports;

use crate::extract::OperatorCaller;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operator", security(("operator_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition (0.0.4): latchkey_refreshes_total, latchkey_token_latency_seconds, \
            latchkey_proxy_calls_total, latchkey_webhook_deliveries_total, latchkey_auth_refusals_total", content_type = "text/plain", body = String),
        (status = 401, description = "unauthenticated: not the operator token, or none is configured", body = crate::error::ErrorBody),
    ))]
pub async fn metrics(State(ports): State<Ports>, _operator: OperatorCaller) -> Response {
    let body = match &ports.metrics {
        MetricsSink::Registry(registry) => registry.render(),
        MetricsSink::Emf => format!("# this deployment sends its metrics to CloudWatch (namespace {NAMESPACE})\n"),
        MetricsSink::Off => "# metrics are off in this process\n".to_owned(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
