//! Token responses (RFC 6749 section 5), parsed once into a [`TokenSet`], and the sealed
//! [`Credentials`] a connection keeps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::secret::SecretString;

/// What a token endpoint granted.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// The access token.
    pub access_token: SecretString,
    /// The refresh token, if one was sent.
    pub refresh_token: Option<SecretString>,
    /// An OpenID Connect id token, if one was sent.
    pub id_token: Option<SecretString>,
    /// A user-level token sent beside the app's (Slack's `authed_user.access_token`).
    pub user_access_token: Option<SecretString>,
    /// Usually `Bearer`.
    pub token_type: String,
    /// When the access token expires: `expires_in` from now, or the provider's default lifetime
    /// when the response has none.
    pub expires_at: Timestamp,
    /// Whether `expires_at` came from the response rather than the default.
    pub expiry_from_provider: bool,
    /// When the response arrived: where `expires_in` counts from.
    pub obtained_at: Timestamp,
    /// The granted scopes, if the response names them (else the requested ones were granted).
    pub scopes: Option<Vec<String>>,
    /// The RFC 9396 authorization details granted, if the response names them.
    pub authorization_details: Option<Vec<Value>>,
    /// The metadata the connector declares (instance URLs, tenant ids), never a secret.
    pub extra: Map<String, Value>,
    /// Values for the connector's fields that come from the response or the callback's query
    /// (`from`), as sent: the caller checks them against their kinds.
    pub field_values: std::collections::BTreeMap<String, String>,
}

/// A token endpoint refused or answered nonsense.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// An OAuth error response (`invalid_grant`, ...).
    #[error("the provider refused: {error}")]
    Refused {
        /// The OAuth error code.
        error: String,
        /// Its description, if any.
        description: Option<String>,
    },
    /// Not a token response.
    #[error("the provider's token response is malformed: {0}")]
    Malformed(String),
}

/// How a provider shapes its token response: where the tokens sit, and which non-secret values to
/// keep as metadata (`query:<name>` takes a callback query parameter).
#[derive(Debug, Clone, Copy)]
pub struct ResponseShape<'a> {
    /// Token field paths.
    pub mapping: &'a crate::model::TokenMapping,
    /// Metadata name → path.
    pub metadata: &'a std::collections::BTreeMap<String, String>,
    /// The callback's query parameters (code redemption only).
    pub query: &'a std::collections::BTreeMap<String, String>,
    /// The connector's fields, for those whose value comes from the response or the query.
    pub fields: &'a [crate::model::ConnectionField],
}

/// The value at a dot path (`authed_user.access_token`); a number steps into a list
/// (`accounts.0.base_uri`), and `a|b` is the first of the paths that has a value (a provider whose
/// documented answer wraps what its live one does not: `access_token|data.0.access_token`).
pub fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('|').find_map(|path| {
        path.split('.').try_fold(value, |v, key| match v {
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(key),
        })
    })
}

/// Parses a token endpoint's answer in the RFC 6749 shape.
pub fn parse_token_response(status: u16, body: &[u8], now: Timestamp, default_lifetime_secs: i64, scope_separator: &str) -> Result<TokenSet, TokenError> {
    let mapping = crate::model::TokenMapping::default();
    let empty = std::collections::BTreeMap::new();
    let shape = ResponseShape { mapping: &mapping, metadata: &empty, query: &empty, fields: &[] };
    parse_shaped_token_response(status, body, now, default_lifetime_secs, scope_separator, shape)
}

/// Parses a token endpoint's answer in a provider's own shape.
pub fn parse_shaped_token_response(
    status: u16,
    body: &[u8],
    now: Timestamp,
    default_lifetime_secs: i64,
    scope_separator: &str,
    shape: ResponseShape<'_>,
) -> Result<TokenSet, TokenError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| TokenError::Malformed(format!("HTTP {status} with a body that is not JSON")))?;
    let object = value.as_object().ok_or_else(|| TokenError::Malformed("not a JSON object".into()))?;
    if let Some(error) = object.get("error").and_then(Value::as_str) {
        return Err(TokenError::Refused { error: error.to_owned(), description: object.get("error_description").and_then(Value::as_str).map(str::to_owned) });
    }
    if !(200..300).contains(&status) {
        return Err(TokenError::Malformed(format!("HTTP {status} without an OAuth error")));
    }
    // Slack answers HTTP 200 with {"ok": false, "error": ...}; that `error` is caught above.
    let path = |p: &Option<String>| p.as_deref().and_then(|p| at_path(&value, p));
    let secret = |p: &Option<String>| path(p).and_then(Value::as_str).filter(|s| !s.is_empty()).map(SecretString::new);
    let access_token = secret(&shape.mapping.access_token).ok_or_else(|| TokenError::Malformed("no access_token".into()))?;
    let expires_in = path(&shape.mapping.expires_in).and_then(lifetime_secs);
    let scopes = path(&shape.mapping.scope).and_then(|scope| scope_list(scope, scope_separator));
    let (extra, field_values) = declared_values(&shape, &value);
    Ok(TokenSet {
        access_token,
        refresh_token: secret(&shape.mapping.refresh_token),
        id_token: secret(&Some("id_token".into())),
        user_access_token: secret(&shape.mapping.user_access_token),
        token_type: object.get("token_type").and_then(Value::as_str).unwrap_or("Bearer").to_owned(),
        expires_at: now.plus_secs(expires_in.unwrap_or(default_lifetime_secs)),
        expiry_from_provider: expires_in.is_some(),
        obtained_at: now,
        scopes,
        authorization_details: object.get("authorization_details").and_then(Value::as_array).cloned(),
        extra,
        field_values,
    })
}

/// A lifetime in seconds: some providers send `expires_in` as a string ("3600").
fn lifetime_secs(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    }
    .filter(|secs| *secs > 0)
}

/// Granted scopes: RFC 6749 says a string; some providers answer a list (Instagram's `permissions`).
fn scope_list(scope: &Value, separator: &str) -> Option<Vec<String>> {
    match scope {
        Value::String(s) => Some(s.split(|c: char| separator.contains(c) || c == ' ').filter(|p| !p.is_empty()).map(str::to_owned).collect()),
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).filter(|p| !p.is_empty()).map(str::to_owned).collect()),
        _ => None,
    }
}

/// The metadata and field values `shape` declares, from the answer `value` or the callback's query.
/// Only what the connector declares is kept, and never a secret inside it.
fn declared_values(shape: &ResponseShape<'_>, value: &Value) -> (Map<String, Value>, std::collections::BTreeMap<String, String>) {
    let lookup = |path: &str| match path.strip_prefix("query:") {
        Some(param) => shape.query.get(param).map(|v| Value::String(v.clone())),
        None => at_path(value, path).cloned(),
    };
    let extra = shape.metadata.iter().filter_map(|(name, path)| lookup(path).map(|v| (name.clone(), without_secrets(v)))).collect();
    let field_values = shape
        .fields
        .iter()
        .filter_map(|field| {
            let text = match lookup(field.from.as_deref()?)? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((field.name.clone(), text))
        })
        .collect();
    (extra, field_values)
}

/// Whether a response field's name says it holds a secret.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["token", "secret", "password", "assertion", "private", "credential", "api_key", "apikey"].iter().any(|word| name.contains(word))
}

/// `value` with every entry whose name says it is a secret taken out, however deep.
fn without_secrets(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(k, _)| !secret_name(k)).map(|(k, v)| (k, without_secrets(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(without_secrets).collect()),
        other => other,
    }
}

/// What a connection keeps sealed: its tokens, or the key or password the end user gave.
#[derive(Clone, Default, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Credentials {
    /// OAuth access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// OAuth refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// OpenID Connect id token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Token type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// A user-level token beside the app's (Slack's user token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_access_token: Option<String>,
    /// An API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// A basic-auth username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A basic-auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

impl Credentials {
    /// The credentials a token response grants; a refresh response without `refresh_token` keeps
    /// `previous`'s.
    pub fn from_tokens(tokens: &TokenSet, previous: Option<&Credentials>) -> Self {
        Credentials {
            access_token: Some(tokens.access_token.expose().to_owned()),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()).or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token: tokens.id_token.as_ref().map(|t| t.expose().to_owned()),
            token_type: Some(tokens.token_type.clone()),
            user_access_token: tokens.user_access_token.as_ref().map(|t| t.expose().to_owned()).or_else(|| previous.and_then(|p| p.user_access_token.clone())),
            api_key: None,
            username: None,
            password: None,
        }
    }

    /// Credentials that are one API key.
    pub fn api_key(key: String) -> Self {
        Self::empty(|c| c.api_key = Some(key))
    }

    /// Credentials that are a username and password.
    pub fn basic(username: String, password: String) -> Self {
        Self::empty(|c| {
            c.username = Some(username);
            c.password = Some(password);
        })
    }

    fn empty(fill: impl FnOnce(&mut Self)) -> Self {
        let mut credentials = Self::default();
        fill(&mut credentials);
        credentials
    }

    /// The JSON that gets sealed (zeroed when dropped).
    pub fn to_sealable(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads opened credentials.
    pub fn from_opened(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_expires_in_gets_the_default_lifetime_not_never() {
        let set = parse_token_response(200, br#"{"access_token":"a","token_type":"bearer"}"#, Timestamp(1000), 3600, " ").unwrap();
        assert_eq!(set.expires_at, Timestamp(4600));
        assert!(!set.expiry_from_provider);
        let set = parse_token_response(200, br#"{"access_token":"a","expires_in":"60"}"#, Timestamp(1000), 3600, " ").unwrap();
        assert_eq!((set.expires_at, set.expiry_from_provider), (Timestamp(1060), true));
    }

    #[test]
    fn errors_scopes_and_extra_fields() {
        let refused = parse_token_response(400, br#"{"error":"invalid_grant"}"#, Timestamp(0), 1, " ");
        assert!(matches!(refused, Err(TokenError::Refused { error, .. }) if error == "invalid_grant"));
        assert!(parse_token_response(200, b"<html>", Timestamp(0), 1, " ").is_err());
        assert!(parse_token_response(200, br#"{"token_type":"bearer"}"#, Timestamp(0), 1, " ").is_err());
        let set = parse_token_response(
            200,
            br#"{"access_token":"a","refresh_token":"r","scope":"a,b c","instance_url":"https://x","bot_token":"s"}"#,
            Timestamp(0),
            1,
            ",",
        )
        .unwrap();
        assert_eq!(set.scopes.clone().unwrap(), vec!["a", "b", "c"]);
        assert!(set.extra.is_empty(), "nothing undeclared is kept");
        assert_eq!(format!("{:?}", Credentials::from_tokens(&set, None)), "Credentials([redacted])");
    }

    #[test]
    fn only_declared_metadata_is_kept_without_the_secrets_inside_it() {
        let body = br#"{"access_token":"a","team":{"id":"T1","name":"Acme"},"incoming_webhook":{"url":"https://hooks/x","token":"secret-1"},"instance_url":"https://acme.my.salesforce.com"}"#;
        let mapping = crate::model::TokenMapping::default();
        let metadata = std::collections::BTreeMap::from([
            ("team".to_owned(), "team".to_owned()),
            ("webhook".to_owned(), "incoming_webhook".to_owned()),
            ("realm".to_owned(), "query:realmId".to_owned()),
        ]);
        let query = std::collections::BTreeMap::from([("realmId".to_owned(), "123".to_owned())]);
        let field = crate::model::ConnectionField {
            name: "instance_url".into(),
            label: "Instance".into(),
            kind: crate::model::FieldKind::Url(vec![".salesforce.com".into()]),
            from: Some("instance_url".into()),
        };
        let shape = ResponseShape { mapping: &mapping, metadata: &metadata, query: &query, fields: std::slice::from_ref(&field) };
        let set = parse_shaped_token_response(200, body, Timestamp(0), 1, " ", shape).unwrap();
        assert_eq!(set.extra["team"], serde_json::json!({"id": "T1", "name": "Acme"}));
        assert_eq!(set.extra["webhook"], serde_json::json!({"url": "https://hooks/x"}), "the nested token is a secret");
        assert_eq!(set.extra["realm"], "123");
        assert_eq!(set.field_values["instance_url"], "https://acme.my.salesforce.com");
    }

    #[test]
    fn a_refresh_without_refresh_token_keeps_the_old_one() {
        let first = parse_token_response(200, br#"{"access_token":"a1","refresh_token":"r1"}"#, Timestamp(0), 1, " ").unwrap();
        let old = Credentials::from_tokens(&first, None);
        let second = parse_token_response(200, br#"{"access_token":"a2"}"#, Timestamp(0), 1, " ").unwrap();
        let new = Credentials::from_tokens(&second, Some(&old));
        assert_eq!((new.access_token.as_deref(), new.refresh_token.as_deref()), (Some("a2"), Some("r1")));
    }
}
