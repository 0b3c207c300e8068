//! Operator metrics: refresh outcomes, token latency, proxy calls by status, webhook deliveries and
//! authentication refusals by code.
//!
//! On Lambda each one is a CloudWatch Embedded Metric Format line on standard output: CloudWatch
//! turns it into a metric as it ingests the log, so recording costs no API call and no time on the
//! request path. Locally they are counted in process and read as Prometheus text at `/metrics`.
//! Labels are bounded sets (connectors, status codes, error codes), never ids or tokens.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Latchkey";

/// Upper bounds (seconds) of the token latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A provider refresh finished: `refreshed`, `refused`, `rate_limited`, `unavailable`, `error`.
    Refresh { connector: String, outcome: &'static str },
    /// A token request was answered (any status), after this many seconds, with `outcome`: `ok`
    /// or its error code.
    TokenLatency { seconds: f64, status: u16, outcome: &'static str },
    /// A proxied call was answered: the provider's status, or Latchkey's own when `upstream` is false.
    ProxyCall { status: u16, upstream: bool },
    /// A webhook delivery attempt: `delivered`, `retrying` or `failed`.
    WebhookDelivery { outcome: &'static str },
    /// A caller was refused (401 or 403) with this error code.
    AuthRefusal { code: String },
}

impl Metric {
    /// The CloudWatch metric name, its unit and value, and its dimensions.
    fn emf(&self) -> (&'static str, &'static str, f64, Vec<(&'static str, String)>) {
        match self {
            Metric::Refresh { connector, outcome } => ("Refreshes", "Count", 1.0, vec![("Outcome", outcome.to_string()), ("Connector", connector.clone())]),
            // Microseconds by outcome: the same metric template.yaml's filter derives from audit lines.
            Metric::TokenLatency { seconds, outcome, .. } => ("TokenLatency", "Microseconds", (seconds * 1e6).round(), vec![("Outcome", outcome.to_string())]),
            Metric::ProxyCall { status, upstream } => ("ProxyCalls", "Count", 1.0, vec![("Status", status.to_string()), ("Upstream", upstream.to_string())]),
            Metric::WebhookDelivery { outcome } => ("WebhookDeliveries", "Count", 1.0, vec![("Outcome", outcome.to_string())]),
            Metric::AuthRefusal { code } => ("AuthRefusals", "Count", 1.0, vec![("Code", code.clone())]),
        }
    }
}

impl Metric {
    /// Whether CloudWatch derives this metric from the request's audit line, so that a line which
    /// carries an audit event need not repeat it in Embedded Metric Format: template.yaml's metric
    /// filter on the token function's log reads `audit.detail.micros` by `audit.outcome` from every
    /// `token_issued` event. A warm token's line is then its event alone (about 200 bytes fewer,
    /// billed on every token).
    pub fn derived_from_audit(&self) -> bool {
        matches!(self, Metric::TokenLatency { .. })
    }
}

fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

/// Where metrics go.
#[derive(Debug, Clone, Default)]
pub enum MetricsSink {
    /// Nowhere (the CLI, tests that do not look).
    #[default]
    Off,
    /// Embedded Metric Format lines on standard output (Lambda).
    Emf,
    /// Counted in process, for `/metrics` (the local server).
    Registry(Arc<Registry>),
}

impl MetricsSink {
    /// Records `metric`.
    pub fn record(&self, metric: Metric) {
        match self {
            MetricsSink::Off => {}
            MetricsSink::Emf => println!("{}", emf_line(&metric, now_ms())),
            MetricsSink::Registry(registry) => registry.record(&metric),
        }
    }
}

/// The Embedded Metric Format document of `metric`, one line.
pub fn emf_line(metric: &Metric, at_ms: i64) -> String {
    Value::Object(emf_document(std::slice::from_ref(metric), at_ms)).to_string()
}

/// One Embedded Metric Format document for `metrics` (a directive each; their names and dimension
/// values at the top level), to stand alone or to carry other fields of the same log line.
pub fn emf_document(metrics: &[Metric], at_ms: i64) -> Map<String, Value> {
    let mut document = Map::new();
    let mut directives = Vec::new();
    for metric in metrics {
        let (name, unit, value, dimensions) = metric.emf();
        let keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
        // The first dimension alone too, so an alarm can watch e.g. every connector's refusals at once.
        let sets: Vec<Vec<&str>> = if keys.len() > 1 { vec![keys[..1].to_vec(), keys.clone()] } else { vec![keys.clone()] };
        directives.push(json!({"Namespace": NAMESPACE, "Dimensions": sets, "Metrics": [{"Name": name, "Unit": unit}]}));
        for (key, value) in dimensions {
            document.insert(key.into(), Value::String(value));
        }
        document.insert(name.into(), json!(value));
    }
    document.insert("_aws".into(), json!({"Timestamp": at_ms, "CloudWatchMetrics": directives}));
    document
}

/// Now, in milliseconds since the epoch (EMF's timestamp).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// A metric's labels, in a fixed order.
type Labels = Vec<(&'static str, String)>;

/// Counters and the latency histogram of one process.
#[derive(Debug, Default)]
pub struct Registry {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Registry {
    /// Counts `metric`.
    pub fn record(&self, metric: &Metric) {
        let (name, labels) = match metric {
            Metric::Refresh { connector, outcome } => ("latchkey_refreshes_total", vec![("connector", connector.clone()), ("outcome", outcome.to_string())]),
            Metric::ProxyCall { status, upstream } => ("latchkey_proxy_calls_total", vec![("status", status.to_string()), ("upstream", upstream.to_string())]),
            Metric::WebhookDelivery { outcome } => ("latchkey_webhook_deliveries_total", vec![("outcome", outcome.to_string())]),
            Metric::AuthRefusal { code } => ("latchkey_auth_refusals_total", vec![("code", code.clone())]),
            Metric::TokenLatency { seconds, status, .. } => {
                let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
                let histogram = latency.entry(status_class(*status)).or_default();
                for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS) {
                    if *seconds <= bound {
                        *bucket += 1;
                    }
                }
                histogram.count += 1;
                histogram.sum += seconds;
                return;
            }
        };
        *self.counters.lock().unwrap_or_else(|e| e.into_inner()).entry((name, labels)).or_default() += 1;
    }

    /// The Prometheus text exposition (version 0.0.4) of everything counted.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut last = "";
        for ((name, labels), value) in &counters {
            if *name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            out.push_str(&format!("{name}{{{}}} {value}\n", render_labels(labels)));
        }
        let latency = self.latency.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out.push_str("# TYPE latchkey_token_latency_seconds histogram\n");
        for (class, histogram) in &latency {
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                out.push_str(&format!("latchkey_token_latency_seconds_bucket{{status_class=\"{class}\",le=\"{bound}\"}} {count}\n"));
            }
            out.push_str(&format!("latchkey_token_latency_seconds_bucket{{status_class=\"{class}\",le=\"+Inf\"}} {}\n", histogram.count));
            out.push_str(&format!("latchkey_token_latency_seconds_sum{{status_class=\"{class}\"}} {}\n", histogram.sum));
            out.push_str(&format!("latchkey_token_latency_seconds_count{{status_class=\"{class}\"}} {}\n", histogram.count));
        }
        out
    }
}

/// `a="x",b="y"`, values escaped as the exposition format asks.
fn render_labels(labels: &[(&'static str, String)]) -> String {
    let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_its_metric_dimensions_and_value_at_the_top_level() {
        let line = emf_line(&Metric::ProxyCall { status: 404, upstream: true }, 1_700_000_000_000);
        let document: Value = serde_json::from_str(&line).unwrap();
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Status"], ["Status", "Upstream"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "ProxyCalls");
        assert_eq!((document["Status"].as_str(), document["Upstream"].as_str(), document["ProxyCalls"].as_f64()), (Some("404"), Some("true"), Some(1.0)));
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let refusal: Value = serde_json::from_str(&emf_line(&Metric::AuthRefusal { code: "unauthenticated".into() }, 0)).unwrap();
        assert_eq!((refusal["Code"].as_str(), refusal["AuthRefusals"].as_f64()), (Some("unauthenticated"), Some(1.0)));
    }

    #[test]
    fn the_registry_counts_by_label_and_renders_prometheus_text() {
        let registry = Registry::default();
        registry.record(&Metric::AuthRefusal { code: "unauthenticated".into() });
        registry.record(&Metric::AuthRefusal { code: "unauthenticated".into() });
        registry.record(&Metric::TokenLatency { seconds: 0.02, status: 200, outcome: "ok" });
        registry.record(&Metric::Refresh { connector: "a\"b".into(), outcome: "refreshed" });
        let text = registry.render();
        assert!(text.contains("latchkey_auth_refusals_total{code=\"unauthenticated\"} 2\n"), "{text}");
        assert!(text.contains("latchkey_token_latency_seconds_bucket{status_class=\"2xx\",le=\"0.01\"} 0\n"), "{text}");
        assert!(text.contains("latchkey_token_latency_seconds_bucket{status_class=\"2xx\",le=\"0.025\"} 1\n"), "{text}");
        assert!(text.contains("latchkey_token_latency_seconds_count{status_class=\"2xx\"} 1\n"), "{text}");
        assert!(text.contains("connector=\"a\\\"b\""), "labels are escaped: {text}");
    }
}
