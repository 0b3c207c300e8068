//! The token broker (Vercel Connect's shape): `POST /v1/token/{connector}` answers a short-lived
//! provider token for a subject, refreshed if needed, or a typed error with a stable code.
//!
//! - [`caller`]: who is asking (secret key, connection access token, OIDC JWT), cached per instance.
//! - [`issue`]: the checks, in the documented order, and the answer.
//! - [`refresh`]: single-flight refresh under a lease on the connection item.
//! - [`grant`]: the provider calls (refresh token, client credentials).
//! - [`narrow`]: tokens narrowed to the scopes, resources, authorization details (or GitHub
//!   repositories and permissions) a caller asks for, cached per narrowing.
//! - [`background`]: the scheduled sweep: finds what is due (refresh ahead of expiry, keep idle
//!   refresh tokens alive, webhook retries) through the store's due index.
//! - [`fanout`]: refreshing what the sweep found, in lanes per connector, with a failure budget.
//! - [`oidc`]: verifying OIDC caller tokens against a project's trusted issuers.

pub mod background;
pub mod caller;
pub mod fanout;
pub mod grant;
pub mod issue;
pub mod narrow;
pub mod oidc;
pub mod refresh;
pub mod revocation;

use crate::store::RecordError;

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
    /// The connector cannot narrow a token the way the caller asked, and the caller did not accept
    /// its full token instead.
    #[error(
        "connector {connector} cannot narrow a token by {}; ask without it, or pass allow_broader: true to receive the connection's full token",
        .unsupported.join(" and ")
    )]
    NarrowingUnsupported {
        /// The connector uid.
        connector: String,
        /// The parts of the ask it cannot narrow by (`scopes`, `resources`, `authorization_details`).
        unsupported: Vec<String>,
        /// The ways the connector offers.
        offered: Vec<crate::model::Narrowing>,
        /// The provider's error, when it refused to narrow.
        provider_error: Option<String>,
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
    /// Another instance has been refreshing for longer than a caller waits; the provider has not
    /// failed, so it is worth retrying shortly.
    #[error("another request is refreshing this token; retry after {retry_after} seconds")]
    RefreshWaitTimeout {
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

impl From<crate::model::CorruptRecord> for TokenError {
    fn from(error: crate::model::CorruptRecord) -> Self {
        TokenError::Record(error.into())
    }
}
