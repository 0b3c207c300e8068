//! The API's errors: one enum, mapped once to a status and a stable JSON code.
//!
//! Every failure leaves as `{"error": {"code", "message"}}`. Codes are part of the API contract;
//! messages are for people and never carry a secret. Internal failures are logged with their
//! detail and answered with a generic message.

use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{json_response, Response};
use crate::admin::AdminError;
use crate::model::RecordError;
use crate::store::StoreError;

/// The error body every failing route answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthenticated`, `invalid_request`, `not_found`, ...
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, or one that is not valid.
    #[error("a valid credential is required")]
    Unauthenticated,
    /// The request is malformed or a field is invalid.
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is not the JSON the route expects.
    #[error("the request body is not valid JSON for this route: {0}")]
    InvalidJson(String),
    /// No route at this path.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// The path exists but not with this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// A named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A conflicting change happened first.
    #[error("{0}")]
    Conflict(String),
    /// A backing service (store, key provider) is unavailable.
    #[error("a backing service is unavailable, retry shortly")]
    Unavailable(String),
    /// A bug or corrupt data; the detail goes to the log only.
    #[error("internal error")]
    Internal(String),
    /// A flow refused the request with its own status and code.
    #[error("{message}")]
    Flow {
        /// The status.
        status: StatusCode,
        /// The flow's stable code.
        code: String,
        /// For people.
        message: String,
        /// What the caller needs to fix it (for example the link token request that would).
        details: Option<serde_json::Value>,
        /// Seconds to wait before retrying.
        retry_after: Option<u64>,
    },
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::InvalidRequest(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::RouteNotFound(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Flow { status, .. } => *status,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::RouteNotFound(_) => "route_not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
            ApiError::Flow { code, .. } => code,
        }
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => tracing::error!(code = self.code(), detail = %detail, "request failed"),
            ApiError::Unavailable(detail) => tracing::warn!(code = self.code(), detail = %detail, "request failed"),
            _ => tracing::info!(code = self.code(), "request refused"),
        }
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        let mut retry_after = matches!(self, ApiError::Unavailable(_)).then_some(2);
        if let ApiError::Flow { details, retry_after: wait, .. } = &self {
            if let Some(details) = details {
                error["details"] = details.clone();
            }
            retry_after = *wait;
        }
        let mut response = json_response(self.status(), &json!({"error": error}));
        if let Some(seconds) = retry_after.and_then(|s| http::HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(http::header::RETRY_AFTER, seconds);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::ConditionFailed => ApiError::Conflict("a concurrent change happened first; retry".into()),
            StoreError::Unavailable(detail) => ApiError::Unavailable(detail),
            StoreError::Codec(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Store(e) => e.into(),
            RecordError::Keyring(crate::keyring::KeyringError::Unavailable(detail)) => ApiError::Unavailable(detail),
            RecordError::Keyring(e) => ApiError::Internal(e.to_string()),
            RecordError::Corrupt(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Invalid(message) => ApiError::InvalidRequest(message),
            AdminError::NotFound(what) => ApiError::NotFound(what),
            AdminError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            AdminError::Record(e) => e.into(),
        }
    }
}
