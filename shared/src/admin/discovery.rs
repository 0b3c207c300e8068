//! Custom OAuth 2.0 / OpenID Connect connectors from a discovery document (RFC 8414 / OIDC
//! Discovery), so an operator can add any standard provider without changing code.

use serde_json::Value;

use super::AdminError;
use crate::model::{OAuthEndpoints, TokenAuthMethod, DEFAULT_REFRESH_BUFFER_SECS, DEFAULT_TOKEN_LIFETIME_SECS};
use crate::ports::Ports;

/// Reads the discovery document at `url` into connector endpoints.
pub async fn discover(ports: &Ports, url: &str) -> Result<OAuthEndpoints, AdminError> {
    let parsed = url::Url::parse(url).map_err(|_| AdminError::Invalid(format!("invalid discovery URL {url:?}")))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost"));
    if !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) {
        return Err(AdminError::Invalid("the discovery URL must be https (http only on loopback)".into()));
    }
    let document = ports.outbound.get_json(url).await.map_err(|e| AdminError::Invalid(format!("could not read the discovery document: {e}")))?;
    let text = |name: &str| document.get(name).and_then(Value::as_str).map(str::to_owned);
    let list = |name: &str| -> Vec<String> {
        document.get(name).and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let authorize_url = text("authorization_endpoint").ok_or_else(|| AdminError::Invalid("the document has no authorization_endpoint".into()))?;
    let token_url = text("token_endpoint").ok_or_else(|| AdminError::Invalid("the document has no token_endpoint".into()))?;
    let methods = list("code_challenge_methods_supported");
    let auth_methods = list("token_endpoint_auth_methods_supported");
    Ok(OAuthEndpoints {
        authorize_url,
        token_url,
        revoke_url: text("revocation_endpoint"),
        issuer: text("issuer"),
        requires_iss: document.get("authorization_response_iss_parameter_supported").and_then(Value::as_bool).unwrap_or(false),
        scope_separator: " ".into(),
        // RFC 8414: an absent list means PKCE is not advertised; S256 is used whenever it is.
        pkce: methods.iter().any(|m| m == "S256"),
        token_auth: if auth_methods.is_empty() || auth_methods.iter().any(|m| m == "client_secret_basic") {
            TokenAuthMethod::ClientSecretBasic
        } else {
            TokenAuthMethod::ClientSecretPost
        },
        authorize_params: Default::default(),
        default_token_lifetime_secs: DEFAULT_TOKEN_LIFETIME_SECS,
        refresh_buffer_secs: DEFAULT_REFRESH_BUFFER_SECS,
        revocation_scope: Default::default(),
    })
}
