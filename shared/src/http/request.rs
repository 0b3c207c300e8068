//! Reading requests: bodies, queries, credentials, cookies, and the public base URL. Each reader
//! turns bad input into a 4xx `ApiError` with a stable code.

use serde::de::DeserializeOwned;

use super::{ApiError, Request};
use crate::secret::SecretString;
use crate::state::AppState;

/// The raw body bytes, whichever way the runtime delivered them.
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        lambda_http::Body::Text(text) => text.as_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// A JSON body of type `T`.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request);
    if bytes.is_empty() {
        return Err(ApiError::InvalidJson("the body is empty".into()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    // The path of the offending field, without its value (which may be a secret).
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let reason = match e.inner().classify() {
            serde_json::error::Category::Data => "has the wrong type or is missing",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "is not valid JSON",
            serde_json::error::Category::Io => "could not be read",
        };
        let message = e.inner().to_string();
        if message.starts_with("unknown field") || message.starts_with("missing field") {
            ApiError::InvalidJson(message.split(" at line").next().unwrap_or(&message).to_owned())
        } else {
            ApiError::InvalidJson(format!("`{path}` {reason}"))
        }
    })
}

/// A form body (`application/x-www-form-urlencoded`) of type `T`.
pub fn form_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(body_bytes(request)).map_err(|_| ApiError::InvalidRequest("the form is incomplete".into()))
}

/// The query string as `T`.
pub fn query<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_urlencoded::from_str(request.uri().query().unwrap_or_default()).map_err(|_| ApiError::InvalidRequest("the query string is malformed".into()))
}

/// The bearer credential of the `Authorization` header.
pub fn bearer(request: &Request) -> Option<SecretString> {
    let value = request.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| SecretString::new(token.trim().to_owned())).filter(|t| !t.expose().is_empty())
}

/// The value of cookie `name`.
pub fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// The public base URL (`https://auth.example.com`): configured, or from the request's host.
pub fn public_base(state: &AppState, request: &Request) -> Result<String, ApiError> {
    if let Some(url) = &state.config.public_url {
        return Ok(url.clone());
    }
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .filter(|h| !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .ok_or_else(|| ApiError::InvalidRequest("the request has no valid Host header".into()))?;
    let forwarded = request.headers().get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    let scheme = match forwarded {
        Some("https") => "https",
        Some("http") => "http",
        // Behind API Gateway every request is https.
        _ if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() => "https",
        _ => "http",
    };
    Ok(format!("{scheme}://{host}"))
}
