//! What a token request may narrow a token to, parsed at the edge: scopes, RFC 8707 resource
//! indicators and RFC 9396 authorization details, each with its limits; and what a returned token
//! can do ([`Granted`]).
//!
//! The limits here are the ones the OpenAPI document states (`http/src/openapi/constraints.rs`),
//! so the contract test can hold the server to them. A refusal names the rule, never the value.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many scopes in one request.
pub const MAX_SCOPES: usize = 100;
/// A scope is at most this many characters.
pub const MAX_SCOPE_CHARS: usize = 200;
/// At most this many resource indicators in one request.
pub const MAX_RESOURCES: usize = 10;
/// A resource indicator is at most this many characters.
pub const MAX_RESOURCE_CHARS: usize = 2048;
/// At most this many authorization details in one request.
pub const MAX_AUTHORIZATION_DETAILS: usize = 10;
/// Authorization details, as compact JSON, are at most this many bytes.
pub const MAX_AUTHORIZATION_DETAILS_BYTES: usize = 8192;
/// An authorization detail's `type` is at most this many characters.
pub const MAX_DETAIL_TYPE_CHARS: usize = 200;

/// The regular expression [`ResourceIndicator::parse`] implements, for the OpenAPI document: an
/// absolute https URI with a DNS host, an optional port, path and query, and no fragment.
pub const RESOURCE_PATTERN: &str = concat!(
    "^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    "(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    "(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$",
);

/// Why a narrowing field was refused; safe to show (it never holds the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct InvalidNarrowing {
    /// Which field.
    pub what: &'static str,
    /// The rule it broke.
    pub reason: String,
}

fn invalid<T>(what: &'static str, reason: impl Into<String>) -> Result<T, InvalidNarrowing> {
    Err(InvalidNarrowing { what, reason: reason.into() })
}

/// Scopes a token must be narrowed to: each non-empty, without white space or control
/// characters; kept sorted and without duplicates, since their order means nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a list of scopes.
    pub fn parse(raw: Vec<String>) -> Result<Self, InvalidNarrowing> {
        if raw.len() > MAX_SCOPES {
            return invalid("scopes", format!("at most {MAX_SCOPES} scopes"));
        }
        for scope in &raw {
            let chars = scope.chars().count();
            if chars == 0 || chars > MAX_SCOPE_CHARS || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return invalid("scopes", format!("a scope is 1 to {MAX_SCOPE_CHARS} characters without spaces or control characters"));
            }
        }
        let set: BTreeSet<String> = raw.into_iter().collect();
        Ok(Self(set.into_iter().collect()))
    }

    /// The scopes, sorted.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether these are exactly `others`, in any order.
    pub fn same_as(&self, others: &[String]) -> bool {
        let others: BTreeSet<&String> = others.iter().collect();
        self.0.len() == others.len() && self.0.iter().all(|s| others.contains(s))
    }
}

impl TryFrom<Vec<String>> for Scopes {
    type Error = InvalidNarrowing;
    fn try_from(raw: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<Scopes> for Vec<String> {
    fn from(scopes: Scopes) -> Self {
        scopes.0
    }
}

/// An RFC 8707 resource indicator: an absolute https URI without a fragment (see
/// [`RESOURCE_PATTERN`]). Kept as the caller wrote it: providers compare it literally.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceIndicator(String);

impl ResourceIndicator {
    /// Parses a resource indicator.
    pub fn parse(raw: &str) -> Result<Self, InvalidNarrowing> {
        if raw.len() > MAX_RESOURCE_CHARS || !resource_grammar(raw) {
            return invalid(
                "resource indicator",
                format!("an absolute https URI with a DNS host, at most {MAX_RESOURCE_CHARS} characters, without a fragment"),
            );
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ResourceIndicator {
    type Error = InvalidNarrowing;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ResourceIndicator> for String {
    fn from(resource: ResourceIndicator) -> Self {
        resource.0
    }
}

/// [`RESOURCE_PATTERN`], by hand.
fn resource_grammar(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix("https://") else { return false };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let label = |l: &str| {
        let bytes = l.as_bytes();
        (1..=63).contains(&l.len())
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
    };
    let port_ok = |p: &str| (1..=5).contains(&p.len()) && !p.starts_with('0') && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
    let pchar = |c: char| c.is_ascii_alphanumeric() || "._~!$&'()*+,;=:@%-/".contains(c);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    host.split('.').all(label) && port.is_none_or(port_ok) && path.chars().all(pchar) && query.is_none_or(|q| q.chars().all(|c| pchar(c) || c == '?'))
}

/// Resource indicators, sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<ResourceIndicator>", into = "Vec<ResourceIndicator>")]
pub struct Resources(Vec<ResourceIndicator>);

impl Resources {
    /// The indicators as strings, sorted.
    pub fn strings(&self) -> Vec<String> {
        self.0.iter().map(|r| r.0.clone()).collect()
    }
}

impl TryFrom<Vec<ResourceIndicator>> for Resources {
    type Error = InvalidNarrowing;
    fn try_from(raw: Vec<ResourceIndicator>) -> Result<Self, Self::Error> {
        if raw.len() > MAX_RESOURCES {
            return invalid("resources", format!("at most {MAX_RESOURCES} resource indicators"));
        }
        let set: BTreeSet<ResourceIndicator> = raw.into_iter().collect();
        Ok(Self(set.into_iter().collect()))
    }
}

impl From<Resources> for Vec<ResourceIndicator> {
    fn from(resources: Resources) -> Self {
        resources.0
    }
}

/// RFC 9396 authorization details: a JSON array of objects, each with a string `type`; at most
/// [`MAX_AUTHORIZATION_DETAILS`] of them and [`MAX_AUTHORIZATION_DETAILS_BYTES`] in all. What each
/// type means is the provider's business; they are kept sorted by their compact JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Map<String, Value>>", into = "Vec<Map<String, Value>>")]
pub struct AuthorizationDetails(Vec<Map<String, Value>>);

impl AuthorizationDetails {
    /// The details.
    pub fn entries(&self) -> &[Map<String, Value>] {
        &self.0
    }

    /// The details as the JSON array a provider is sent.
    pub fn to_json(&self) -> String {
        Value::Array(self.0.iter().cloned().map(Value::Object).collect()).to_string()
    }
}

impl TryFrom<Vec<Map<String, Value>>> for AuthorizationDetails {
    type Error = InvalidNarrowing;
    fn try_from(raw: Vec<Map<String, Value>>) -> Result<Self, Self::Error> {
        let what = "authorization_details";
        if raw.len() > MAX_AUTHORIZATION_DETAILS {
            return invalid(what, format!("at most {MAX_AUTHORIZATION_DETAILS} entries"));
        }
        for detail in &raw {
            let Some(Value::String(kind)) = detail.get("type") else {
                return invalid(what, "each entry is an object with a string `type`");
            };
            let printable = !kind.chars().any(char::is_control) && kind.chars().any(|c| !c.is_whitespace());
            if !printable || kind.chars().count() > MAX_DETAIL_TYPE_CHARS {
                return invalid(what, format!("a `type` is 1 to {MAX_DETAIL_TYPE_CHARS} printable characters"));
            }
        }
        // serde_json's maps keep their keys sorted, so this text is canonical.
        let mut keyed: Vec<(String, Map<String, Value>)> = raw.into_iter().map(|d| (Value::Object(d.clone()).to_string(), d)).collect();
        if keyed.iter().map(|(text, _)| text.len() + 1).sum::<usize>() > MAX_AUTHORIZATION_DETAILS_BYTES {
            return invalid(what, format!("at most {MAX_AUTHORIZATION_DETAILS_BYTES} bytes of JSON"));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        Ok(Self(keyed.into_iter().map(|(_, d)| d).collect()))
    }
}

impl From<AuthorizationDetails> for Vec<Map<String, Value>> {
    fn from(details: AuthorizationDetails) -> Self {
        details.0
    }
}

/// What a caller asked a token to be narrowed to; empty when it asked for nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NarrowingAsk {
    /// Scopes, if any were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Scopes>,
    /// Resource indicators (RFC 8707).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Authorization details (RFC 9396).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<AuthorizationDetails>,
}

impl NarrowingAsk {
    /// An ask from the request's fields; empty lists count as not given.
    pub fn new(scopes: Option<Scopes>, resources: Option<Resources>, authorization_details: Option<AuthorizationDetails>) -> Self {
        Self {
            scopes: scopes.filter(|s| !s.0.is_empty()),
            resources: resources.filter(|r| !r.0.is_empty()),
            authorization_details: authorization_details.filter(|d| !d.0.is_empty()),
        }
    }

    /// Whether nothing was asked.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_none() && self.resources.is_none() && self.authorization_details.is_none()
    }

    /// The resource indicators asked for (none: empty).
    pub fn resource_strings(&self) -> Vec<String> {
        self.resources.as_ref().map(Resources::strings).unwrap_or_default()
    }

    /// The authorization details asked for (none: empty).
    pub fn details(&self) -> &[Map<String, Value>] {
        self.authorization_details.as_ref().map(AuthorizationDetails::entries).unwrap_or_default()
    }

    /// The ask as compact JSON: canonical (everything in it is sorted), so equal asks give equal
    /// text; for logs and for [`NarrowingAsk::hash`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A SHA-256 of the canonical ask: where its narrowed token is cached.
    pub fn hash(&self) -> String {
        use sha2::Digest;
        crate::secret::hex_lower(&sha2::Sha256::digest(self.to_json().as_bytes()))
    }
}

/// What a returned token can do: its scopes, and the resources and authorization details it is
/// limited to (empty: not limited that way).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Granted {
    /// Its scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The resources (audiences) it is for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The authorization details it carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_indicators_are_absolute_https_uris_without_fragments() {
        for good in ["https://api.example.com", "https://api.example.com/", "https://a.b:8443/v1/x?y=1", "https://x:65535", "https://a-b.c/%20~"] {
            assert!(ResourceIndicator::parse(good).is_ok(), "{good}");
        }
        let long = format!("https://a.b/{}", "x".repeat(MAX_RESOURCE_CHARS));
        for bad in [
            "http://api.example.com",
            "https://",
            "https://api.example.com#frag",
            "https://api.example.com/a#",
            "HTTPS://api.example.com",
            "https://-a.com",
            "https://a..b",
            "https://a.b:0",
            "https://a.b:65536",
            "https://a.b:080",
            "https://user@a.b",
            "https://a.b/ x",
            "https://[::1]/",
            "urn:example:resource",
            long.as_str(),
        ] {
            assert!(ResourceIndicator::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_sorted_deduplicated_and_checked() {
        assert_eq!(Scopes::parse(vec!["b".into(), "a".into(), "b".into()]).unwrap().as_slice(), ["a", "b"]);
        assert!(Scopes::parse(vec!["a b".into()]).is_err());
        assert!(Scopes::parse(vec![String::new()]).is_err());
        assert!(Scopes::parse(vec!["é".repeat(200)]).is_ok(), "characters, not bytes, are counted");
        assert!(Scopes::parse(vec!["x".into(); MAX_SCOPES + 1]).is_err());
    }

    #[test]
    fn authorization_details_need_a_type_and_fit_the_cap() {
        let parse = |v: Value| serde_json::from_value::<AuthorizationDetails>(v);
        assert!(parse(json!([{"type": "account", "locations": ["https://x.example"]}])).is_ok());
        for bad in [json!([{"locations": []}]), json!([{"type": 1}]), json!([{"type": " "}]), json!(["account"]), json!({"type": "a"})] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        assert!(parse(json!([{"type": "a", "blob": "x".repeat(MAX_AUTHORIZATION_DETAILS_BYTES)}])).is_err());
    }

    #[test]
    fn equal_asks_hash_equally_whatever_their_order() {
        let ask = |v: Value| serde_json::from_value::<NarrowingAsk>(v).unwrap();
        let one = ask(json!({"scopes": ["b", "a"], "resources": ["https://y.example", "https://x.example"],
            "authorization_details": [{"type": "t", "b": 1, "a": 2}, {"type": "s"}]}));
        let two = ask(json!({"scopes": ["a", "b", "a"], "resources": ["https://x.example", "https://y.example"],
            "authorization_details": [{"type": "s"}, {"a": 2, "type": "t", "b": 1}]}));
        assert_eq!(one.hash(), two.hash());
        assert_ne!(one.hash(), ask(json!({"scopes": ["a"]})).hash());
        assert!(NarrowingAsk::new(Some(Scopes::parse(vec![]).unwrap()), None, None).is_empty(), "an empty list asks nothing");
    }
}
