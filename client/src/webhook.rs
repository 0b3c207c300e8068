//! Verifying Latchkey's webhooks:
//! `Latchkey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, plus
//! `Latchkey-Event-Id` (the same on every retry: drop duplicates by it) and `Latchkey-Event`.

use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far the signature's timestamp may be from now, either way, by default.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFailure {
    /// No `Latchkey-Signature` header.
    MissingHeader,
    /// A `Latchkey-Signature` that is not `t=<seconds>,v1=<64 hex digits>[,v1=...]`.
    MalformedHeader,
    /// The timestamp is further from now than the tolerance.
    TimestampOutOfTolerance,
    /// No signature matches this body and secret.
    SignatureMismatch,
    /// The body is not JSON.
    InvalidBody,
}

impl WebhookFailure {
    /// The name every SDK gives it (`signature_mismatch`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFailure::MissingHeader => "missing_header",
            WebhookFailure::MalformedHeader => "malformed_header",
            WebhookFailure::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            WebhookFailure::SignatureMismatch => "signature_mismatch",
            WebhookFailure::InvalidBody => "invalid_body",
        }
    }
}

/// A webhook that did not verify. It never shows the secret, the signature or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook refused: {}", reason.as_str())]
pub struct WebhookError {
    /// Why.
    pub reason: WebhookFailure,
}

/// A verified webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// `Latchkey-Event-Id`: unique per event, the same on every retry.
    pub id: Option<String>,
    /// `Latchkey-Event`, e.g. `connection.created`.
    pub event_type: Option<String>,
    /// The signature's timestamp (Unix seconds).
    pub timestamp: i64,
    /// The parsed body.
    pub payload: Value,
}

/// Where the headers come from: an `http::HeaderMap` (axum, hyper, reqwest), a `HashMap`, or
/// name and value pairs. Names match whatever their case.
pub trait WebhookHeaders {
    /// The value of `name` (lower-case), several joined with `,`.
    fn get_header(&self, name: &str) -> Option<String>;
}

impl WebhookHeaders for reqwest::header::HeaderMap {
    fn get_header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for [(K, V)] {
    fn get_header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.iter().filter(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref()).collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> WebhookHeaders for [(K, V); N] {
    fn get_header(&self, name: &str) -> Option<String> {
        self.as_slice().get_header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for Vec<(K, V)> {
    fn get_header(&self, name: &str) -> Option<String> {
        self.as_slice().get_header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S> WebhookHeaders for HashMap<K, V, S> {
    fn get_header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.iter().filter(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref()).collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

/// How to verify: the tolerance, and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Refuse timestamps further than this from now, past or future (default 300).
    pub tolerance_seconds: u64,
    /// Now, in Unix seconds (`None`: the system clock).
    pub now: Option<i64>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self { tolerance_seconds: DEFAULT_TOLERANCE_SECONDS, now: None }
    }
}

/// `t=...,v1=...[,v1=...]`: the timestamp and the candidate signatures, or `None` when malformed.
/// Other schemes (`v0`, `v2`, ...) are skipped, so that a future scheme does not break this client.
pub fn parse_signature_header(value: &str) -> Option<(i64, Vec<[u8; 32]>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in value.split(',') {
        let (key, val) = part.split_once('=')?;
        let (key, val) = (key.trim(), val.trim());
        if key.is_empty() {
            return None;
        }
        match key {
            "t" => {
                if timestamp.is_some() || val.is_empty() || val.len() > 12 || !val.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                timestamp = Some(val.parse::<i64>().ok()?);
            }
            "v1" => signatures.push(hex32(val)?),
            _ => {}
        }
    }
    let timestamp = timestamp?;
    (!signatures.is_empty()).then_some((timestamp, signatures))
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[i] = (high * 16 + low) as u8;
    }
    Some(out)
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// Verifies a webhook and returns its event. Pass the raw body exactly as received, before any JSON
/// parsing. Refused when the signature header is missing or malformed, its timestamp is further
/// than the tolerance from now, or no signature matches (each compared in constant time).
pub fn verify_webhook<H: WebhookHeaders + ?Sized>(secret: &str, headers: &H, body: &[u8], options: VerifyOptions) -> Result<WebhookEvent, WebhookError> {
    let refuse = |reason| WebhookError { reason };
    let signature = headers.get_header("latchkey-signature").ok_or(refuse(WebhookFailure::MissingHeader))?;
    let (timestamp, candidates) = parse_signature_header(&signature).ok_or(refuse(WebhookFailure::MalformedHeader))?;
    let now = options.now.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    if now.abs_diff(timestamp) > options.tolerance_seconds {
        return Err(refuse(WebhookFailure::TimestampOutOfTolerance));
    }
    let expected = mac(secret, timestamp, body);
    // Every candidate is checked, so the time taken does not say which one matched.
    let matched = candidates.iter().fold(false, |matched, candidate| expected.clone().verify_slice(candidate).is_ok() | matched);
    if !matched {
        return Err(refuse(WebhookFailure::SignatureMismatch));
    }
    let payload = serde_json::from_slice(body).map_err(|_| refuse(WebhookFailure::InvalidBody))?;
    Ok(WebhookEvent { id: headers.get_header("latchkey-event-id"), event_type: headers.get_header("latchkey-event"), timestamp, payload })
}

/// The `Latchkey-Signature` Latchkey would send for `body` at `timestamp` (for tests of your
/// webhook endpoint).
pub fn sign_webhook(secret: &str, body: &[u8], timestamp: i64) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

impl fmt::Display for WebhookFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_made_here_verifies_and_a_changed_body_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign_webhook("whsec_x", body, 1_700_000_000);
        let headers = [("Latchkey-Signature", header.as_str()), ("latchkey-event", "connection.created")];
        let options = VerifyOptions { now: Some(1_700_000_010), ..VerifyOptions::default() };
        let event = verify_webhook("whsec_x", &headers, body, options).unwrap();
        assert_eq!((event.timestamp, event.event_type.as_deref(), &event.payload["id"]), (1_700_000_000, Some("connection.created"), &Value::from("evt_1")));
        let refused = verify_webhook("whsec_x", &headers, br#"{"id":"evt_2"}"#, options).unwrap_err();
        assert_eq!(refused.reason, WebhookFailure::SignatureMismatch);
        let shown = format!("{refused} {refused:?}");
        assert!(!shown.contains("whsec_x") && !shown.contains(&header[13..]), "{shown}");
        let not_json = sign_webhook("whsec_x", b"not json", 1_700_000_000);
        let refused = verify_webhook("whsec_x", &[("latchkey-signature", not_json)], b"not json", options).unwrap_err();
        assert_eq!(refused.reason, WebhookFailure::InvalidBody);
    }

    #[test]
    fn header_maps_are_read_whatever_the_case() {
        let body = b"{}";
        let mut map = reqwest::header::HeaderMap::new();
        map.insert("Latchkey-Signature", sign_webhook("s", body, 10).parse().unwrap());
        assert!(verify_webhook("s", &map, body, VerifyOptions { now: Some(10), tolerance_seconds: 0 }).is_ok());
        assert_eq!(
            verify_webhook("s", &map, body, VerifyOptions { now: Some(11), tolerance_seconds: 0 }).unwrap_err().reason,
            WebhookFailure::TimestampOutOfTolerance
        );
    }
}
