//! How a connector's provider API is called through the proxy, and how its tokens can be
//! narrowed: the catalog's `api` and `narrowing` blocks (shared/catalog/SCHEMA.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where proxied requests go, and how the credential is added to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    /// An https URL, templated only through the connector's fields; a proxied path is appended
    /// to it and can never leave it.
    pub base_url: String,
    /// How the credential is presented.
    pub auth: ApiAuth,
    /// Fixed headers every call needs (`Notion-Version`); never secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// How the access token, API key or password goes into a proxied request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "style", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApiAuth {
    /// `Authorization: Bearer <token or key>`.
    Bearer,
    /// The token or key in header `name`, after `prefix`.
    Header {
        /// The header.
        name: String,
        /// What precedes the value (`Klaviyo-API-Key `).
        #[serde(default)]
        prefix: String,
    },
    /// The token or key as query parameter `name`.
    Query {
        /// The parameter.
        name: String,
    },
    /// HTTP basic: the connection's username and password, or an API key in one of the two
    /// places with a fixed other half.
    Basic {
        /// For an API-key connector: which half the key is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_as: Option<BasicHalf>,
        /// The fixed username when the key is the password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The fixed password when the key is the username.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
}

/// A half of an HTTP basic credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BasicHalf {
    /// The user name.
    Username,
    /// The password.
    Password,
}

/// A way the provider can mint a token with fewer rights than the grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Narrowing {
    /// A refresh with a smaller `scope` (RFC 6749 section 6).
    RefreshScope,
    /// RFC 8707 `resource` on a refresh.
    RefreshResource,
    /// RFC 9396 `authorization_details` on a refresh.
    RefreshAuthorizationDetails,
    /// An RFC 8693 token exchange.
    TokenExchange,
    /// `repositories` and `permissions` on a GitHub App installation token.
    GithubInstallation,
    /// A client-credentials request with the requested scope.
    ClientCredentialsScope,
}

impl Narrowing {
    /// Whether a connector of `mode` can narrow this way at all (the refresh and exchange ways
    /// need a user's grant, the others their own kind of machine connector).
    pub fn applies_to(self, mode: super::AuthMode) -> bool {
        use super::AuthMode;
        match self {
            Narrowing::RefreshScope | Narrowing::RefreshResource | Narrowing::RefreshAuthorizationDetails | Narrowing::TokenExchange => {
                mode == AuthMode::OAuth2
            }
            Narrowing::GithubInstallation => mode == AuthMode::GithubApp,
            Narrowing::ClientCredentialsScope => mode == AuthMode::ClientCredentials,
        }
    }

    /// The catalog's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Narrowing::RefreshScope => "refresh_scope",
            Narrowing::RefreshResource => "refresh_resource",
            Narrowing::RefreshAuthorizationDetails => "refresh_authorization_details",
            Narrowing::TokenExchange => "token_exchange",
            Narrowing::GithubInstallation => "github_installation",
            Narrowing::ClientCredentialsScope => "client_credentials_scope",
        }
    }
}

impl ApiSpec {
    /// Checks what a template check cannot: header names and the fixed values.
    pub fn check(&self) -> Result<(), String> {
        let token = |name: &str| !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        let value = |v: &str| v.len() <= 256 && !v.chars().any(char::is_control);
        match &self.auth {
            ApiAuth::Header { name, prefix } if !token(name) || !value(prefix) => return Err(format!("invalid auth header {name:?}")),
            ApiAuth::Query { name } if !token(name) => return Err(format!("invalid auth query parameter {name:?}")),
            _ => {}
        }
        for (name, fixed) in &self.headers {
            if !token(name) || !value(fixed) || name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("host") {
                return Err(format!("invalid fixed header {name:?}"));
            }
        }
        Ok(())
    }
}
