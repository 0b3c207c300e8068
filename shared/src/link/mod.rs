//! The link flow (Vessel's and Plaid Link's shape): a backend mints a link token, the end user's
//! browser opens the Connect page with it and authorizes a connector, the callback stores the
//! connection and hands the browser a one-time public token, and the backend exchanges that for a
//! connection access token.
//!
//! - [`token`]: minting link tokens.
//! - [`allowlist`]: redirect URLs and SDK origins, checked against the project's allowed origins.
//! - [`connect`]: what the Connect page shows and starts (OAuth authorization, API-key forms).
//! - [`callback`]: the provider's redirect back: state, browser binding, `iss`, code redemption.
//! - [`connection`]: storing the connection and minting its public token.
//! - [`fields`]: values the end user gives before authorizing, and the URLs they fill in.
//! - [`exchange`]: public token → connection access token.

pub mod allowlist;
pub mod callback;
pub mod connect;
pub mod connection;
pub mod exchange;
pub mod fields;
pub mod post_authorization;
pub mod token;

use crate::http::ApiError;
use crate::model::RecordError;

/// Why a step of the link flow was refused. Each has a stable code; messages are written for the
/// person looking at the Connect page.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The request is malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// The link token is unknown, malformed or expired.
    #[error("This link has expired or is not valid. Go back to the app and start again.")]
    LinkTokenInvalid,
    /// A redirect URL is not on the project's allowlist.
    #[error("The redirect URL is not on this project's list of allowed origins.")]
    RedirectUrlNotAllowed,
    /// The page was opened from an origin that is not on the project's allowlist.
    #[error("This page was opened from a site that is not allowed to use it.")]
    OriginNotAllowed,
    /// The connector is not offered to this link.
    #[error("This integration is not available here.")]
    ConnectorNotAllowed,
    /// The connector lacks what its authorization needs.
    #[error("This integration is not set up correctly. Contact the app's support.")]
    ConnectorMisconfigured(String),
    /// The connection named for update mode does not exist here.
    #[error("The connection to update was not found.")]
    ConnectionNotFound,
    /// The callback has no `state`.
    #[error("The sign-in response is incomplete. Start again from the app.")]
    StateMissing,
    /// The `state` is unknown, expired or already used.
    #[error("This sign-in was already completed or has expired. Start again from the app.")]
    StateInvalid,
    /// The `state` belongs to a sign-in started in another browser or for another link.
    #[error("This sign-in was started somewhere else. Start again from the app in this browser.")]
    StateMismatch,
    /// The `iss` parameter names another issuer (RFC 9207 mix-up defence).
    #[error("The sign-in response came from an unexpected provider. Start again from the app.")]
    IssuerMismatch,
    /// The provider sent an error (`access_denied`, ...).
    #[error("{}", provider_message(.error))]
    ProviderDenied {
        /// The OAuth error code.
        error: String,
    },
    /// The provider refused to redeem the code.
    #[error("The provider did not accept the sign-in. Start again from the app.")]
    CodeExchangeFailed {
        /// The OAuth error code.
        error: String,
    },
    /// The provider is down or unreachable.
    #[error("The provider is not responding right now. Try again in a few minutes.")]
    ProviderUnavailable {
        /// Seconds to wait, if the provider said.
        retry_after: Option<u64>,
    },
    /// The public token is unknown, expired, used, or of another project.
    #[error("the public token is invalid, expired or already exchanged")]
    PublicTokenInvalid,
    /// The store or keyring failed.
    #[error(transparent)]
    Record(#[from] RecordError),
}

fn provider_message(error: &str) -> String {
    match error {
        "access_denied" => "Access was not granted at the provider. You can try again from the app.".into(),
        "temporarily_unavailable" | "server_error" => "The provider had a problem. Try again in a few minutes.".into(),
        _ => "The provider could not complete the sign-in. Start again from the app.".into(),
    }
}

impl From<crate::store::StoreError> for LinkError {
    fn from(error: crate::store::StoreError) -> Self {
        LinkError::Record(error.into())
    }
}

impl From<crate::keyring::KeyringError> for LinkError {
    fn from(error: crate::keyring::KeyringError) -> Self {
        LinkError::Record(error.into())
    }
}

impl LinkError {
    /// The stable code.
    pub fn code(&self) -> String {
        match self {
            LinkError::InvalidRequest(_) => "invalid_request".into(),
            LinkError::LinkTokenInvalid => "link_token_invalid".into(),
            LinkError::RedirectUrlNotAllowed => "redirect_url_not_allowed".into(),
            LinkError::OriginNotAllowed => "origin_not_allowed".into(),
            LinkError::ConnectorNotAllowed => "connector_not_allowed".into(),
            LinkError::ConnectorMisconfigured(_) => "connector_misconfigured".into(),
            LinkError::ConnectionNotFound => "connection_not_found".into(),
            LinkError::StateMissing => "state_missing".into(),
            LinkError::StateInvalid => "state_invalid".into(),
            LinkError::StateMismatch => "state_mismatch".into(),
            LinkError::IssuerMismatch => "issuer_mismatch".into(),
            LinkError::ProviderDenied { error } if is_oauth_error_code(error) => error.clone(),
            LinkError::ProviderDenied { .. } => "provider_error".into(),
            LinkError::CodeExchangeFailed { .. } => "code_exchange_failed".into(),
            LinkError::ProviderUnavailable { .. } => "provider_unavailable".into(),
            LinkError::PublicTokenInvalid => "public_token_invalid".into(),
            LinkError::Record(e) => ApiError::from(RecordErrorRef(e)).code().into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            LinkError::LinkTokenInvalid => StatusCode::GONE,
            LinkError::ConnectorNotAllowed | LinkError::OriginNotAllowed => StatusCode::FORBIDDEN,
            LinkError::ConnectionNotFound => StatusCode::NOT_FOUND,
            LinkError::ConnectorMisconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
            LinkError::ProviderUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            LinkError::Record(e) => ApiError::from(RecordErrorRef(e)).status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Only registered OAuth error codes (RFC 6749 4.1.2.1) pass through as our code; anything else
/// a provider invents becomes `provider_error`, so codes stay a closed set.
fn is_oauth_error_code(code: &str) -> bool {
    matches!(
        code,
        "access_denied"
            | "invalid_scope"
            | "server_error"
            | "temporarily_unavailable"
            | "unauthorized_client"
            | "invalid_request"
            | "unsupported_response_type"
            | "consent_required"
            | "login_required"
            | "interaction_required"
    )
}

struct RecordErrorRef<'a>(&'a RecordError);

impl From<RecordErrorRef<'_>> for ApiError {
    fn from(error: RecordErrorRef<'_>) -> Self {
        match error.0 {
            RecordError::Store(crate::store::StoreError::Unavailable(d)) => ApiError::Unavailable(d.clone()),
            RecordError::Keyring(crate::keyring::KeyringError::Unavailable(d)) => ApiError::Unavailable(d.clone()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Record(e) => e.into(),
            other => ApiError::Flow { status: other.status(), code: other.code(), message: other.to_string(), details: None, retry_after: None },
        }
    }
}
