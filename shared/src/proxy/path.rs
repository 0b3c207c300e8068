//! The part of a proxied URL the caller chooses: a path below the connector's API base, and a
//! query. Parsed once at the edge so that nothing the caller sends can leave the base: no `.` or
//! `..` segment (plain or percent-encoded), no encoded `/` or `\`, no empty segment (`//host`),
//! no `@`, no control characters.

use std::fmt;

/// The most a proxied path and query may hold.
pub const MAX_PATH_BYTES: usize = 4096;

/// A path below the API base, as the caller wrote it (still percent-encoded), checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPath(String);

impl ProxyPath {
    /// Checks `raw` (the request path after `/v1/proxy/{connector}/`, percent-encoded).
    pub fn parse(raw: &str) -> Result<ProxyPath, String> {
        if raw.len() > MAX_PATH_BYTES {
            return Err(format!("the proxied path is longer than {MAX_PATH_BYTES} bytes"));
        }
        if raw.is_empty() {
            return Ok(ProxyPath(String::new()));
        }
        let segments: Vec<&str> = raw.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            // A trailing slash is an empty last segment and harmless; any other empty one is not.
            if segment.is_empty() && i + 1 != segments.len() {
                return Err("the proxied path has an empty segment".into());
            }
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().map_err(|_| "the proxied path is not UTF-8".to_owned())?;
            if decoded == "." || decoded == ".." {
                return Err("the proxied path may not climb out of the API base".into());
            }
            if decoded.contains(['/', '\\', '@']) || decoded.chars().any(char::is_control) || segment.contains(['#', '?', ' ']) {
                return Err(format!("the proxied path segment {segment:?} is not allowed"));
            }
        }
        Ok(ProxyPath(raw.to_owned()))
    }

    /// The checked path, percent-encoded as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProxyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Joins `path` (and `query`) below `base`, and checks the result is still below it: same scheme,
/// host and port, and a path that starts with the base's.
pub fn below(base: &url::Url, path: &ProxyPath, query: Option<&str>) -> Result<url::Url, String> {
    let mut joined = base.clone();
    let base_path = base.path().trim_end_matches('/').to_owned();
    joined.set_path(&format!("{base_path}/{}", path.as_str()));
    joined.set_query(query.filter(|q| !q.is_empty()));
    joined.set_fragment(None);
    let same_origin =
        joined.scheme() == base.scheme() && joined.host_str() == base.host_str() && joined.port_or_known_default() == base.port_or_known_default();
    if !same_origin || !joined.path().starts_with(&format!("{base_path}/")) || !joined.username().is_empty() {
        return Err("the proxied URL would leave the API base".into());
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_would_leave_the_base_are_refused() {
        for bad in ["../admin", "a/../../b", "%2e%2e/x", "a/%2E/b", "a%2Fb", "a%5cb", "a//b", "//evil.example/x", "a/@evil", "a%40evil", "a%00b", "a b", "a#b"]
        {
            assert!(ProxyPath::parse(bad).is_err(), "{bad} should be refused");
        }
        for good in ["", "users/me", "v2/items/", "search%20results", "files/%E2%9C%93.txt", "a.b/c..d"] {
            assert!(ProxyPath::parse(good).is_ok(), "{good} should pass");
        }
    }

    #[test]
    fn a_joined_url_stays_below_the_base() {
        let base = url::Url::parse("https://api.acme.example/v2").unwrap();
        let joined = below(&base, &ProxyPath::parse("users/me").unwrap(), Some("page=2")).unwrap();
        assert_eq!(joined.as_str(), "https://api.acme.example/v2/users/me?page=2");
        let root = url::Url::parse("https://api.acme.example/").unwrap();
        assert_eq!(below(&root, &ProxyPath::parse("x").unwrap(), None).unwrap().as_str(), "https://api.acme.example/x");
    }
}
