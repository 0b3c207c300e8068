//! The token broker (Vercel Connect's shape): `POST /v1/token/{connector}` answers a short-lived
//! provider token for a subject, refreshed if needed, or a typed error with a stable code.
//!
//! - [`caller`]: who is asking (secret key, connection access token, OIDC JWT), cached per instance.
//! - [`cache`]: the small per-instance caches that keep the warm path to one store read.
//! - [`issue`]: the checks, in the documented order, and the answer.
//! - [`refresh`]: single-flight refresh under a lease on the connection item.
//! - [`grant`]: the provider calls (refresh token, client credentials).
//! - [`background`]: the scheduled sweep: refresh ahead of expiry, keep idle refresh tokens
//!   alive, a failure budget, webhook retries.
//! - [`oidc`]: verifying OIDC caller tokens against a project's trusted issuers.

pub mod background;
pub mod cache;
pub mod caller;
pub mod grant;
pub mod issue;
pub mod oidc;
pub mod refresh;

use serde_json::{json, Value};

use crate::http::ApiError;
use crate::model::RecordError;

/// Why a token was not issued. Checked and reported in this order.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No valid credential.
    #[error("a valid credential is required")]
    Unauthenticated,
    /// The request is malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// No such connector.
    #[error("connector {0} does not exist")]
    ConnectorNotFound(String),
    /// The connector is not linked to the caller's project.
    #[error("connector {0} is not linked to this project")]
    ClientNotLinkedToProject(String),
    /// The connector is linked, but not for the caller's environment.
    #[error("connector {0} is not enabled for environment {1}")]
    ClientNotEnabledForEnvironment(String, String),
    /// The caller may not ask for this subject.
    #[error("{0}")]
    SubjectNotAllowed(String),
    /// No installation (app subject) exists yet.
    #[error("connector {connector} has no installation for this project environment")]
    InstallationRequired {
        /// The connector uid.
        connector: String,
    },
    /// The user has not authorized the connector, or must authorize it again.
    #[error("the user must authorize connector {connector}")]
    UserAuthorizationRequired {
        /// The connector uid.
        connector: String,
        /// The user.
        user_id: String,
        /// The connection to re-authorize (update mode), if one exists.
        connection_id: Option<String>,
    },
    /// Authorized, but the consumer has not finished the configuration step (choose a tenant/site).
    #[error("connection {connection_id} waits for its configuration (choose an organisation or site)")]
    ConfigurationRequired {
        /// The connection.
        connection_id: String,
    },
    /// Some requested scopes were not granted.
    #[error("scopes not granted: {}", .missing.join(" "))]
    ScopeNotGranted {
        /// The ones missing.
        missing: Vec<String>,
    },
    /// The provider refused the refresh; the connection is now invalid.
    #[error("the provider refused to refresh the token; the user must authorize again")]
    TokenRefreshFailed {
        /// The connection.
        connection_id: String,
        /// The user, if a user connection.
        user_id: Option<String>,
        /// The connector.
        connector: String,
    },
    /// The provider is down, or cooling down after failures.
    #[error("the provider is unavailable; retry after {retry_after} seconds")]
    UpstreamUnavailable {
        /// Seconds.
        retry_after: u64,
    },
    /// The provider is rate limiting.
    #[error("the provider is rate limiting; retry after {retry_after} seconds")]
    RateLimited {
        /// Seconds.
        retry_after: u64,
    },
    /// The store or the keyring failed.
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl From<crate::store::StoreError> for TokenError {
    fn from(error: crate::store::StoreError) -> Self {
        TokenError::Record(error.into())
    }
}

impl From<crate::keyring::KeyringError> for TokenError {
    fn from(error: crate::keyring::KeyringError) -> Self {
        TokenError::Record(error.into())
    }
}

fn link_token_hint(connector: &str, user_id: &str, connection_id: Option<&str>) -> Value {
    let mut request = json!({"end_user": {"id": user_id}, "connectors": [connector]});
    if let Some(id) = connection_id {
        request["connection_id"] = json!(id);
    }
    json!({"link_token_request": request})
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        use http::StatusCode as S;
        let (status, code, details, retry_after) = match &error {
            TokenError::Unauthenticated => return ApiError::Unauthenticated,
            TokenError::Record(_) => {
                let TokenError::Record(e) = error else { unreachable!() };
                return e.into();
            }
            TokenError::InvalidRequest(_) => (S::BAD_REQUEST, "invalid_request", None, None),
            TokenError::ConnectorNotFound(_) => (S::NOT_FOUND, "connector_not_found", None, None),
            TokenError::ClientNotLinkedToProject(_) => (S::FORBIDDEN, "client_not_linked_to_project", None, None),
            TokenError::ClientNotEnabledForEnvironment(..) => (S::FORBIDDEN, "client_not_enabled_for_environment", None, None),
            TokenError::SubjectNotAllowed(_) => (S::FORBIDDEN, "subject_not_allowed", None, None),
            TokenError::InstallationRequired { connector } => (S::CONFLICT, "connector_installation_required", Some(json!({"connector": connector})), None),
            TokenError::UserAuthorizationRequired { connector, user_id, connection_id } => {
                (S::CONFLICT, "user_authorization_required", Some(link_token_hint(connector, user_id, connection_id.as_deref())), None)
            }
            TokenError::ConfigurationRequired { connection_id } => {
                (S::CONFLICT, "connection_configuration_required", Some(json!({"connection_id": connection_id})), None)
            }
            TokenError::ScopeNotGranted { missing } => (S::FORBIDDEN, "scope_not_granted", Some(json!({"missing_scopes": missing})), None),
            TokenError::TokenRefreshFailed { connection_id, user_id, connector } => {
                let details = match user_id {
                    Some(user) => link_token_hint(connector, user, Some(connection_id)),
                    None => json!({"connection_id": connection_id}),
                };
                (S::CONFLICT, "token_refresh_failed", Some(details), None)
            }
            TokenError::UpstreamUnavailable { retry_after } => (S::SERVICE_UNAVAILABLE, "upstream_unavailable", None, Some(*retry_after)),
            TokenError::RateLimited { retry_after } => (S::TOO_MANY_REQUESTS, "rate_limited", None, Some(*retry_after)),
        };
        ApiError::Flow { status, code: code.into(), message: error.to_string(), details, retry_after }
    }
}
