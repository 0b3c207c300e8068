//! One catalog entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::model::TokenMapping;
use crate::model::{AuthMode, ConnectionField, OAuthEndpoints, TokenAuthMethod, DEFAULT_TOKEN_LIFETIME_SECS};

/// A provider as the catalog describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderEntry {
    /// `salesforce`.
    pub id: String,
    /// `Salesforce`.
    pub name: String,
    /// Its unified-API category (`crm`, `accounting`, ...).
    pub category: String,
    /// `oauth2`, `client_credentials`, `api_key`, `basic`, `jwt_bearer` or `github_app`.
    pub auth_mode: String,
    /// Authorization endpoint (templated with connection fields).
    pub authorize_url: Option<String>,
    /// Token endpoint.
    pub token_url: Option<String>,
    /// RFC 7009 revocation endpoint.
    pub revoke_url: Option<String>,
    /// Token introspection endpoint.
    pub introspection_url: Option<String>,
    /// How scopes are joined.
    pub scope_separator: String,
    /// Scopes asked for by default.
    pub default_scopes: Vec<String>,
    /// Whether it supports PKCE S256.
    pub pkce: bool,
    /// Whether its authorization response carries `iss` (RFC 9207).
    pub sends_iss: bool,
    /// `client_secret_basic` or `client_secret_post`.
    pub token_auth: String,
    /// Whether a refresh returns a new refresh token.
    pub rotates_refresh_token: bool,
    /// Refresh this long before expiry.
    pub refresh_buffer_secs: i64,
    /// What revoking one of its tokens ends: `token` (RFC 7009's usual reading) or `grant` (the
    /// account's whole authorization of the client).
    #[serde(default)]
    pub revocation_scope: crate::model::RevocationScope,
    /// Lifetime to assume when a response has no `expires_in`.
    pub default_token_lifetime_secs: Option<i64>,
    /// Extra authorize-URL parameters.
    pub authorize_params: BTreeMap<String, String>,
    /// Values the end user gives before authorizing.
    pub connection_fields: Vec<ConnectionField>,
    /// Where the tokens sit in its token response (the RFC 6749 names when absent).
    #[serde(default)]
    pub token_response: Option<TokenMapping>,
    /// Non-secret values callers need: name → path in the token response (`query:realmId` for a
    /// callback query parameter).
    pub metadata: BTreeMap<String, String>,
    /// An extra step after the token (accessible resources, tenant list, introspection).
    pub post_authorization: Option<Value>,
    /// How an API key or password is presented.
    pub api_key: Option<Value>,
    /// The documentation page its URLs and quirks come from.
    pub docs_url: String,
}

impl ProviderEntry {
    /// Its auth mode as Latchkey's type.
    pub fn mode(&self) -> Option<AuthMode> {
        match self.auth_mode.as_str() {
            "oauth2" => Some(AuthMode::OAuth2),
            "client_credentials" => Some(AuthMode::ClientCredentials),
            "api_key" => Some(AuthMode::ApiKey),
            "basic" => Some(AuthMode::Basic),
            "jwt_bearer" => Some(AuthMode::JwtBearer),
            "github_app" => Some(AuthMode::GithubApp),
            _ => None,
        }
    }

    /// The connector endpoints this entry implies (for the modes that have them).
    pub fn endpoints(&self) -> Option<OAuthEndpoints> {
        let token_url = self.token_url.clone()?;
        Some(OAuthEndpoints {
            authorize_url: self.authorize_url.clone().unwrap_or_else(|| token_url.clone()),
            token_url,
            revoke_url: self.revoke_url.clone(),
            issuer: None,
            requires_iss: self.sends_iss,
            scope_separator: self.scope_separator.clone(),
            pkce: self.pkce,
            token_auth: if self.token_auth == "client_secret_post" { TokenAuthMethod::ClientSecretPost } else { TokenAuthMethod::ClientSecretBasic },
            authorize_params: self.authorize_params.clone(),
            default_token_lifetime_secs: self.default_token_lifetime_secs.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS),
            refresh_buffer_secs: self.refresh_buffer_secs,
            revocation_scope: self.revocation_scope,
        })
    }
}
