//! API Gateway HTTP API (payload format 2.0) events, as API Gateway hands them to a function, and
//! the function's answer read back.

use base64::Engine;
use serde_json::{json, Value};

/// The event for `method` `target` (path and query) arriving at `host` with `headers` and `body`.
pub fn http_api_event(method: &str, target: &str, host: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut all = json!({"host": host, "user-agent": "latchkey-bench", "x-forwarded-proto": "http"});
    for (name, value) in headers {
        all[name.to_ascii_lowercase()] = json!(value);
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "latchkey",
            "domainName": host,
            "domainPrefix": "latchkey",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "latchkey-bench"},
            "requestId": latchkey::secret::random_id("req"),
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1_795_392_000_000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// What a function answered to an HTTP API event.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub has_cookies: bool,
}

impl HttpAnswer {
    /// Reads the function's output; `None` if it is not an HTTP API response.
    pub fn from_output(output: &Value) -> Option<HttpAnswer> {
        let status = u16::try_from(output["statusCode"].as_u64()?).ok()?;
        let raw = output["body"].as_str().unwrap_or_default();
        let body = if output["isBase64Encoded"] == true {
            String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(raw).ok()?).into_owned()
        } else {
            raw.to_owned()
        };
        Some(HttpAnswer {
            status,
            content_type: output["headers"]["content-type"].as_str().unwrap_or_default().to_owned(),
            body,
            has_cookies: output["cookies"].as_array().is_some_and(|c| !c.is_empty()),
        })
    }
}
