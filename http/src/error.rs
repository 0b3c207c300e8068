//! The one place a failure becomes a response: every domain error maps here to a stable code, and
//! every code to one status, whichever route it leaves by.
//!
//! A JSON route answers `{"error": {"code", "message", "details"?}}` (with `Retry-After` when the
//! caller should wait); a page route renders the same code and message as HTML ([`PageError`]).
//! Codes are a closed set ([`ErrorCode`]), so a client can match on them. Messages are for people
//! and never carry a secret; internal details go to the log only.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use latchkey::admin::AdminError;
use latchkey::keyring::KeyringError;
use latchkey::link::LinkError;
use latchkey::sandbox::SandboxError;
use latchkey::store::{RecordError, StoreError};
use latchkey::token::TokenError;

macro_rules! codes {
    ($($variant:ident = $name:literal => $status:ident,)*) => {
        /// Every error code the API answers with. Part of the API contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $(
                #[doc = $name]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The one status this code is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

codes! {
    Unauthenticated = "unauthenticated" => UNAUTHORIZED,
    InvalidRequest = "invalid_request" => BAD_REQUEST,
    InvalidCursor = "invalid_cursor" => BAD_REQUEST,
    InvalidJson = "invalid_json" => BAD_REQUEST,
    PayloadTooLarge = "payload_too_large" => PAYLOAD_TOO_LARGE,
    FieldInvalid = "field_invalid" => BAD_REQUEST,
    CrossSiteRequest = "cross_site_request" => FORBIDDEN,
    RouteNotFound = "route_not_found" => NOT_FOUND,
    MethodNotAllowed = "method_not_allowed" => METHOD_NOT_ALLOWED,
    NotFound = "not_found" => NOT_FOUND,
    Conflict = "conflict" => CONFLICT,
    Unavailable = "unavailable" => SERVICE_UNAVAILABLE,
    Timeout = "timeout" => SERVICE_UNAVAILABLE,
    InternalError = "internal_error" => INTERNAL_SERVER_ERROR,
    ConnectorNotFound = "connector_not_found" => NOT_FOUND,
    ClientNotLinkedToProject = "client_not_linked_to_project" => FORBIDDEN,
    ClientNotEnabledForEnvironment = "client_not_enabled_for_environment" => FORBIDDEN,
    SubjectNotAllowed = "subject_not_allowed" => FORBIDDEN,
    ConnectorInstallationRequired = "connector_installation_required" => CONFLICT,
    UserAuthorizationRequired = "user_authorization_required" => CONFLICT,
    ConnectionConfigurationRequired = "connection_configuration_required" => CONFLICT,
    ScopeNotGranted = "scope_not_granted" => FORBIDDEN,
    NarrowingUnsupported = "narrowing_unsupported" => BAD_REQUEST,
    TokenRefreshFailed = "token_refresh_failed" => CONFLICT,
    UpstreamUnavailable = "upstream_unavailable" => SERVICE_UNAVAILABLE,
    RefreshWaitTimeout = "refresh_wait_timeout" => SERVICE_UNAVAILABLE,
    RateLimited = "rate_limited" => TOO_MANY_REQUESTS,
    LinkTokenInvalid = "link_token_invalid" => GONE,
    RedirectUrlNotAllowed = "redirect_url_not_allowed" => BAD_REQUEST,
    RedirectUrlRequired = "redirect_url_required" => BAD_REQUEST,
    OriginNotAllowed = "origin_not_allowed" => FORBIDDEN,
    ConnectorNotAllowed = "connector_not_allowed" => FORBIDDEN,
    ConnectorMisconfigured = "connector_misconfigured" => INTERNAL_SERVER_ERROR,
    DestinationNotAllowed = "destination_not_allowed" => FORBIDDEN,
    ProxyPathInvalid = "proxy_path_invalid" => BAD_REQUEST,
    ConnectorNotProxyable = "connector_not_proxyable" => CONFLICT,
    UpstreamUnreachable = "upstream_unreachable" => BAD_GATEWAY,
    ConnectionNotFound = "connection_not_found" => NOT_FOUND,
    StateMissing = "state_missing" => BAD_REQUEST,
    StateInvalid = "state_invalid" => BAD_REQUEST,
    StateMismatch = "state_mismatch" => BAD_REQUEST,
    IssuerMismatch = "issuer_mismatch" => BAD_REQUEST,
    AccessDenied = "access_denied" => BAD_REQUEST,
    InvalidScope = "invalid_scope" => BAD_REQUEST,
    ServerError = "server_error" => BAD_REQUEST,
    TemporarilyUnavailable = "temporarily_unavailable" => BAD_REQUEST,
    UnauthorizedClient = "unauthorized_client" => BAD_REQUEST,
    UnsupportedResponseType = "unsupported_response_type" => BAD_REQUEST,
    ConsentRequired = "consent_required" => BAD_REQUEST,
    LoginRequired = "login_required" => BAD_REQUEST,
    InteractionRequired = "interaction_required" => BAD_REQUEST,
    ProviderError = "provider_error" => BAD_REQUEST,
    CodeExchangeFailed = "code_exchange_failed" => BAD_REQUEST,
    ProviderUnavailable = "provider_unavailable" => SERVICE_UNAVAILABLE,
    PublicTokenInvalid = "public_token_invalid" => BAD_REQUEST,
    SandboxRequestInvalid = "sandbox_request_invalid" => BAD_REQUEST,
    SandboxUnavailable = "sandbox_unavailable" => SERVICE_UNAVAILABLE,
    InsufficientScope = "insufficient_scope" => FORBIDDEN,
}

/// The error body every failing JSON route answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code, a message for people, and what the caller needs to fix it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// How to fix it, where the code has more to say (the link token request that would help, the
    /// missing scopes, the field at fault).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// A failed request, ready to answer.
#[derive(Debug)]
pub struct ApiError {
    /// The code (and so the status).
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// For the caller's code.
    pub details: Option<Value>,
    /// Seconds to wait before retrying.
    pub retry_after: Option<u64>,
    /// For the log only: what an internal failure really was.
    pub log_detail: Option<String>,
}

impl ApiError {
    /// An error with `code` and a message for people.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None, retry_after: None, log_detail: None }
    }

    /// The same error with details for the caller.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The same error, asking the caller to wait `seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// `invalid_request` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `unauthenticated`.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "a valid credential is required")
    }

    /// `internal_error`; the detail goes to the log, the caller learns nothing of it.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self { log_detail: Some(detail.into()), ..Self::new(ErrorCode::InternalError, "internal error") }
    }

    /// `unavailable`: a backing service failed; worth a retry shortly.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self { log_detail: Some(detail.into()), ..Self::new(ErrorCode::Unavailable, "a backing service is unavailable, retry shortly") }.with_retry_after(2)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Logs the failure once: refusals at info, backing-service trouble at warn, bugs at error.
    pub fn log(&self) {
        let code = self.code.as_str();
        match (self.status().as_u16(), &self.log_detail) {
            (500.., Some(detail)) if self.code == ErrorCode::InternalError => tracing::error!(code, detail = %detail, "request failed"),
            (500.., Some(detail)) => tracing::warn!(code, detail = %detail, "request failed"),
            _ => tracing::info!(code, "request refused"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message, details: self.details } };
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        // For the access log's metrics: refusals are counted by code.
        response.extensions_mut().insert(self.code);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::ConditionFailed => ApiError::new(ErrorCode::Conflict, "a concurrent change happened first; retry"),
            StoreError::TooLarge(what) => ApiError::new(ErrorCode::PayloadTooLarge, format!("{what} is too large to store")),
            StoreError::Unavailable(detail) => ApiError::unavailable(detail),
            StoreError::Codec(detail) => ApiError::internal(detail),
        }
    }
}

impl From<KeyringError> for ApiError {
    fn from(error: KeyringError) -> Self {
        match error {
            KeyringError::Unavailable(detail) => ApiError::unavailable(detail),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Store(e) => e.into(),
            RecordError::Keyring(e) => e.into(),
            RecordError::Corrupt(detail) => ApiError::internal(detail),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Invalid(message) => ApiError::invalid(message),
            AdminError::NotFound(what) => ApiError::new(ErrorCode::NotFound, format!("{what} not found")),
            AdminError::Conflict(what) => ApiError::new(ErrorCode::Conflict, format!("{what} already exists")),
            AdminError::Record(e) => e.into(),
        }
    }
}

/// The sandbox's refusals outside its OAuth endpoints (which answer in RFC 6749's own shape).
impl From<SandboxError> for ApiError {
    fn from(error: SandboxError) -> Self {
        let message = error.to_string();
        match error {
            SandboxError::Record(e) => e.into(),
            SandboxError::InvalidToken => ApiError::new(ErrorCode::Unauthenticated, message),
            SandboxError::InsufficientScope(_) => ApiError::new(ErrorCode::InsufficientScope, message),
            SandboxError::Unavailable => ApiError::new(ErrorCode::SandboxUnavailable, message).with_retry_after(1),
            SandboxError::NotFound(_) => ApiError::new(ErrorCode::NotFound, message),
            SandboxError::NotRedirectable(_) | SandboxError::ConsentInvalid | SandboxError::Invalid(_) | SandboxError::OAuth { .. } => {
                ApiError::new(ErrorCode::SandboxRequestInvalid, message)
            }
        }
    }
}

/// The OAuth error codes a provider may send back (RFC 6749 4.1.2.1 and OIDC); anything else it
/// invents becomes `provider_error`, so the set stays closed.
fn provider_code(error: &str) -> ErrorCode {
    match error {
        "access_denied" => ErrorCode::AccessDenied,
        "invalid_scope" => ErrorCode::InvalidScope,
        "server_error" => ErrorCode::ServerError,
        "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
        "unauthorized_client" => ErrorCode::UnauthorizedClient,
        "invalid_request" => ErrorCode::InvalidRequest,
        "unsupported_response_type" => ErrorCode::UnsupportedResponseType,
        "consent_required" => ErrorCode::ConsentRequired,
        "login_required" => ErrorCode::LoginRequired,
        "interaction_required" => ErrorCode::InteractionRequired,
        _ => ErrorCode::ProviderError,
    }
}

impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        let code = match &error {
            LinkError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            LinkError::InvalidCursor(_) => ErrorCode::InvalidCursor,
            LinkError::FieldInvalid { .. } => ErrorCode::FieldInvalid,
            LinkError::LinkTokenInvalid => ErrorCode::LinkTokenInvalid,
            LinkError::RedirectUrlNotAllowed => ErrorCode::RedirectUrlNotAllowed,
            LinkError::RedirectUrlRequired => ErrorCode::RedirectUrlRequired,
            LinkError::OriginNotAllowed => ErrorCode::OriginNotAllowed,
            LinkError::ConnectorNotAllowed => ErrorCode::ConnectorNotAllowed,
            LinkError::SubjectNotAllowed => ErrorCode::SubjectNotAllowed,
            LinkError::ConnectorMisconfigured(detail) => {
                return ApiError { log_detail: Some(detail.clone()), ..ApiError::new(ErrorCode::ConnectorMisconfigured, error.to_string()) };
            }
            LinkError::DestinationRefused(detail) => {
                return ApiError { log_detail: Some(detail.clone()), ..ApiError::new(ErrorCode::DestinationNotAllowed, error.to_string()) };
            }
            LinkError::ConnectionNotFound => ErrorCode::ConnectionNotFound,
            LinkError::StateMissing => ErrorCode::StateMissing,
            LinkError::StateInvalid => ErrorCode::StateInvalid,
            LinkError::StateMismatch => ErrorCode::StateMismatch,
            LinkError::IssuerMismatch => ErrorCode::IssuerMismatch,
            LinkError::ProviderDenied { error } => provider_code(error),
            LinkError::CodeExchangeFailed { .. } => ErrorCode::CodeExchangeFailed,
            LinkError::ProviderUnavailable { retry_after } => {
                let wait = retry_after.unwrap_or(30);
                return ApiError::new(ErrorCode::ProviderUnavailable, error.to_string()).with_retry_after(wait);
            }
            LinkError::PublicTokenInvalid => ErrorCode::PublicTokenInvalid,
            LinkError::Record(_) => {
                let LinkError::Record(e) = error else { unreachable!("matched above") };
                return e.into();
            }
        };
        let details = match &error {
            LinkError::FieldInvalid { field, .. } => Some(json!({"field": field})),
            _ => None,
        };
        ApiError { details, ..ApiError::new(code, error.to_string()) }
    }
}

/// What a caller sends to fix a missing or dead user grant: the link token request that would.
fn link_token_hint(connector: &str, user_id: &str, connection_id: Option<&str>) -> Value {
    let mut request = json!({"end_user": {"id": user_id}, "connectors": [connector]});
    if let Some(id) = connection_id {
        request["connection_id"] = json!(id);
    }
    json!({"link_token_request": request})
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        let message = error.to_string();
        let with = |code: ErrorCode| ApiError::new(code, message.clone());
        match error {
            TokenError::Unauthenticated => ApiError::unauthenticated(),
            TokenError::Record(e) => e.into(),
            TokenError::InvalidRequest(_) => with(ErrorCode::InvalidRequest),
            TokenError::ConnectorNotFound(_) => with(ErrorCode::ConnectorNotFound),
            TokenError::ClientNotLinkedToProject(_) => with(ErrorCode::ClientNotLinkedToProject),
            TokenError::ClientNotEnabledForEnvironment(..) => with(ErrorCode::ClientNotEnabledForEnvironment),
            TokenError::SubjectNotAllowed(_) => with(ErrorCode::SubjectNotAllowed),
            TokenError::InstallationRequired { connector } => with(ErrorCode::ConnectorInstallationRequired).with_details(json!({"connector": connector})),
            TokenError::UserAuthorizationRequired { connector, user_id, connection_id } => {
                with(ErrorCode::UserAuthorizationRequired).with_details(link_token_hint(&connector, &user_id, connection_id.as_deref()))
            }
            TokenError::ConfigurationRequired { connection_id } => {
                with(ErrorCode::ConnectionConfigurationRequired).with_details(json!({"connection_id": connection_id}))
            }
            TokenError::ScopeNotGranted { missing } => with(ErrorCode::ScopeNotGranted).with_details(json!({"missing_scopes": missing})),
            TokenError::NarrowingUnsupported { unsupported, offered, provider_error, .. } => {
                let mut details = json!({"unsupported": unsupported, "connector_narrowing": offered});
                if let Some(error) = provider_error {
                    details["provider_error"] = json!(error);
                }
                with(ErrorCode::NarrowingUnsupported).with_details(details)
            }
            TokenError::TokenRefreshFailed { connection_id, user_id, connector } => {
                let details = match user_id {
                    Some(user) => link_token_hint(&connector, &user, Some(&connection_id)),
                    None => json!({"connection_id": connection_id}),
                };
                with(ErrorCode::TokenRefreshFailed).with_details(details)
            }
            TokenError::UpstreamUnavailable { retry_after } => with(ErrorCode::UpstreamUnavailable).with_retry_after(retry_after),
            TokenError::RefreshWaitTimeout { retry_after } => with(ErrorCode::RefreshWaitTimeout).with_retry_after(retry_after),
            TokenError::RateLimited { retry_after } => with(ErrorCode::RateLimited).with_retry_after(retry_after),
        }
    }
}

impl From<latchkey::proxy::ProxyError> for ApiError {
    fn from(error: latchkey::proxy::ProxyError) -> Self {
        use latchkey::proxy::ProxyError;
        let message = error.to_string();
        match error {
            ProxyError::Token(token) => token.into(),
            ProxyError::Invalid(_) => ApiError::new(ErrorCode::ProxyPathInvalid, message),
            ProxyError::NotProxyable(_) => ApiError::new(ErrorCode::ConnectorNotProxyable, message),
            ProxyError::DestinationNotAllowed(_) => ApiError::new(ErrorCode::DestinationNotAllowed, message),
            ProxyError::Unreachable(_) => ApiError::new(ErrorCode::UpstreamUnreachable, message),
        }
    }
}

/// A failure on a page route: the same code, status and message as the JSON API, shown as HTML.
#[derive(Debug)]
pub struct PageError(pub ApiError);

macro_rules! page_error_from {
    ($($error:ty),*) => {
        $(impl From<$error> for PageError {
            fn from(error: $error) -> Self {
                PageError(error.into())
            }
        })*
    };
}

page_error_from!(ApiError, LinkError, RecordError, SandboxError, StoreError, TokenError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let error = self.0;
        error.log();
        // The page says what the code means in the person's language; the message (written for
        // the JSON API) and any internal detail stay with the log.
        crate::pages::error_page(error.code.status(), error.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_each_has_one_status() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(code.status().is_client_error() || code.status().is_server_error(), "{}", code.as_str());
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn a_conflict_is_a_conflict_on_every_route() {
        let from_store = ApiError::from(StoreError::ConditionFailed);
        let from_link = ApiError::from(LinkError::Record(StoreError::ConditionFailed.into()));
        let from_token = ApiError::from(TokenError::Record(StoreError::ConditionFailed.into()));
        for error in [from_store, from_link, from_token] {
            assert_eq!((error.code, error.status()), (ErrorCode::Conflict, StatusCode::CONFLICT));
        }
    }

    #[test]
    fn provider_codes_outside_the_oauth_set_become_provider_error() {
        assert_eq!(ApiError::from(LinkError::ProviderDenied { error: "access_denied".into() }).code, ErrorCode::AccessDenied);
        assert_eq!(ApiError::from(LinkError::ProviderDenied { error: "<script>".into() }).code, ErrorCode::ProviderError);
    }
}
