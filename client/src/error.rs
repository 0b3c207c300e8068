//! One error variant per code of the token broker (and the listing's `invalid_cursor`).

use serde_json::Value;

/// Why no token was returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 401 `unauthenticated`.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// 400 `invalid_cursor`: a listing's cursor that is not one that listing gave.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// 400 `invalid_request` / `invalid_json`.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 404 `connector_not_found`.
    #[error("connector not found: {0}")]
    ConnectorNotFound(String),
    /// 403 `client_not_linked_to_project`.
    #[error("connector not linked to this project: {0}")]
    ClientNotLinkedToProject(String),
    /// 403 `client_not_enabled_for_environment`.
    #[error("connector not enabled for this environment: {0}")]
    ClientNotEnabledForEnvironment(String),
    /// 403 `subject_not_allowed`.
    #[error("subject not allowed: {0}")]
    SubjectNotAllowed(String),
    /// 409 `connector_installation_required`; `details` names the connector.
    #[error("connector installation required")]
    ConnectorInstallationRequired {
        /// What the broker said would fix it.
        details: Value,
    },
    /// 409 `user_authorization_required`; `details.link_token_request` is the body of the link
    /// token request that lets the user authorize.
    #[error("user authorization required")]
    UserAuthorizationRequired {
        /// What the broker said would fix it.
        details: Value,
    },
    /// 403 `scope_not_granted`.
    #[error("scopes not granted: {missing:?}")]
    ScopeNotGranted {
        /// The missing scopes.
        missing: Vec<String>,
    },
    /// 400 `narrowing_unsupported`: the provider cannot narrow the token as asked;
    /// `details.unsupported` says by what. Ask again with [`crate::TokenParams::allowing_broader`]
    /// to take the full token.
    #[error("narrowing unsupported: {message}")]
    NarrowingUnsupported {
        /// What the broker said.
        message: String,
        /// By what it cannot narrow, and the connector's ways.
        details: Value,
    },
    /// 409 `token_refresh_failed`: the provider refused; the user must authorize again.
    #[error("token refresh failed")]
    TokenRefreshFailed {
        /// What the broker said would fix it.
        details: Value,
    },
    /// 503 `upstream_unavailable`.
    #[error("provider unavailable; retry after {retry_after:?} s")]
    UpstreamUnavailable {
        /// Seconds to wait.
        retry_after: Option<u64>,
    },
    /// 503 `refresh_wait_timeout`: another request held the refresh too long; the provider has
    /// not failed, so retry soon.
    #[error("another request is refreshing this token; retry after {retry_after:?} s")]
    RefreshWaitTimeout {
        /// Seconds to wait.
        retry_after: Option<u64>,
    },
    /// 429 `rate_limited`.
    #[error("rate limited; retry after {retry_after:?} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after: Option<u64>,
    },
    /// Any other answer.
    #[error("HTTP {status} {code}: {message}")]
    Other {
        /// Status.
        status: u16,
        /// Code.
        code: String,
        /// Message.
        message: String,
    },
    /// Latchkey could not be reached, or answered something unreadable.
    #[error("transport: {0}")]
    Transport(String),
}

impl Error {
    pub(crate) fn from_response(status: u16, body: &Value, retry_after: Option<u64>) -> Self {
        let error = &body["error"];
        let code = error["code"].as_str().unwrap_or_default().to_owned();
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        let details = error.get("details").cloned().unwrap_or(Value::Null);
        match code.as_str() {
            "unauthenticated" => Error::Unauthenticated(message),
            "invalid_request" | "invalid_json" => Error::InvalidRequest(message),
            "invalid_cursor" => Error::InvalidCursor(message),
            "connector_not_found" => Error::ConnectorNotFound(message),
            "client_not_linked_to_project" => Error::ClientNotLinkedToProject(message),
            "client_not_enabled_for_environment" => Error::ClientNotEnabledForEnvironment(message),
            "subject_not_allowed" => Error::SubjectNotAllowed(message),
            "connector_installation_required" => Error::ConnectorInstallationRequired { details },
            "user_authorization_required" => Error::UserAuthorizationRequired { details },
            "scope_not_granted" => Error::ScopeNotGranted {
                missing: details["missing_scopes"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
            },
            "token_refresh_failed" => Error::TokenRefreshFailed { details },
            "narrowing_unsupported" => Error::NarrowingUnsupported { message, details },
            "upstream_unavailable" => Error::UpstreamUnavailable { retry_after },
            "refresh_wait_timeout" => Error::RefreshWaitTimeout { retry_after },
            "rate_limited" => Error::RateLimited { retry_after },
            _ => Error::Other { status, code, message },
        }
    }
}
