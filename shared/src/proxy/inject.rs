//! Putting the connection's credential into a proxied request the way the provider expects it
//! (the connector's `api.auth`), and taking out of the caller's request what must not reach the
//! provider.

use base64::Engine;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::model::{ApiAuth, AuthMode, BasicHalf};
use crate::secret::SecretString;

/// Where the credential goes.
pub enum Credential {
    /// A header (its value marked sensitive, so no `Debug` of the request shows it).
    Header(HeaderName, HeaderValue),
    /// A query parameter.
    Query(String, SecretString),
}

/// The credential for `auth`, from the issued token (`access_token` is the OAuth token, the API key,
/// or for basic connectors the base64 of `user:password`).
pub fn credential(auth: &ApiAuth, mode: AuthMode, token: &SecretString) -> Result<Credential, String> {
    let header = |name: &str, value: String| -> Result<Credential, String> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| "the credential cannot travel in a header".to_owned())?;
        value.set_sensitive(true);
        Ok(Credential::Header(name, value))
    };
    match auth {
        ApiAuth::Bearer => header("authorization", format!("Bearer {}", token.expose())),
        ApiAuth::Header { name, prefix } => header(name, format!("{prefix}{}", token.expose())),
        ApiAuth::Query { name } => Ok(Credential::Query(name.clone(), token.clone())),
        ApiAuth::Basic { .. } if mode == AuthMode::Basic => header("authorization", format!("Basic {}", token.expose())),
        ApiAuth::Basic { api_key_as, username, password } => {
            let pair = match api_key_as.unwrap_or(BasicHalf::Username) {
                BasicHalf::Username => format!("{}:{}", token.expose(), password.as_deref().unwrap_or_default()),
                BasicHalf::Password => format!("{}:{}", username.as_deref().unwrap_or_default(), token.expose()),
            };
            let pair = zeroize::Zeroizing::new(pair);
            header("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())))
        }
    }
}

/// Headers that belong to one hop (RFC 9110 section 7.6.1), and those that are Latchkey's or the
/// caller's own: none of them is forwarded.
const DROPPED: [&str; 16] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "cookie",
    "forwarded",
    "x-real-ip",
    "set-cookie",
    "via",
];

/// What of `headers` may cross to the other side, either way.
pub fn forwardable(headers: &HeaderMap) -> HeaderMap {
    // `Connection` may name more headers that belong to this hop only.
    let listed: Vec<String> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|name| name.trim().to_ascii_lowercase()))
        .collect();
    let mut kept = HeaderMap::new();
    for (name, value) in headers {
        let lower = name.as_str();
        let ours = lower.starts_with("x-latchkey-") || lower.starts_with("x-forwarded-") || lower.starts_with("x-amzn-");
        if !ours && !DROPPED.contains(&lower) && !listed.iter().any(|l| l == lower) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_style_puts_the_credential_where_the_provider_reads_it() {
        let token = SecretString::new("tok");
        let header_of = |c: Credential| match c {
            Credential::Header(n, v) => (n.to_string(), v.to_str().unwrap().to_owned(), v.is_sensitive()),
            Credential::Query(..) => panic!("a header"),
        };
        assert_eq!(header_of(credential(&ApiAuth::Bearer, AuthMode::OAuth2, &token).unwrap()), ("authorization".into(), "Bearer tok".into(), true));
        let custom = ApiAuth::Header { name: "X-API-Key".into(), prefix: "Key ".into() };
        assert_eq!(header_of(credential(&custom, AuthMode::ApiKey, &token).unwrap()).1, "Key tok");
        let as_user = ApiAuth::Basic { api_key_as: Some(BasicHalf::Username), username: None, password: Some("X".into()) };
        assert_eq!(header_of(credential(&as_user, AuthMode::ApiKey, &token).unwrap()).1, "Basic dG9rOlg=");
        match credential(&ApiAuth::Query { name: "api_key".into() }, AuthMode::ApiKey, &token).unwrap() {
            Credential::Query(name, value) => assert_eq!((name.as_str(), value.expose()), ("api_key", "tok")),
            Credential::Header(..) => panic!("a query parameter"),
        }
    }

    #[test]
    fn hop_by_hop_and_latchkeys_own_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer lk_sk_x"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("x-latchkey-subject", "user:u"),
            ("cookie", "a=b"),
            ("accept", "application/json"),
            ("x-request-id", "r1"),
        ] {
            headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let kept = forwardable(&headers);
        let names: Vec<&str> = kept.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, vec!["accept", "x-request-id"]);
    }
}
