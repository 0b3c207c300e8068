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
//! - [`session`]: `POST /v1/sessions`, a session token that opens the Connect page like a link token.
//! - [`exchange`]: public token → connection access token.

pub mod allowlist;
pub mod callback;
pub mod connect;
pub mod connection;
pub mod exchange;
pub mod post_authorization;
pub mod session;
pub mod token;

use crate::store::RecordError;

/// Why a step of the link flow was refused. Each has a stable code; messages are written for the
/// person looking at the Connect page.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The request is malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// A listing's cursor is not one that listing gave (another query's, or made up).
    #[error(transparent)]
    InvalidCursor(#[from] crate::store::BadCursor),
    /// A connection field's value is missing or not acceptable.
    #[error("{message}")]
    FieldInvalid {
        /// The field.
        field: String,
        /// What is wrong, for people.
        message: String,
    },
    /// The link token is unknown, malformed or expired.
    #[error("This link has expired or is not valid. Go back to the app and start again.")]
    LinkTokenInvalid,
    /// A redirect URL is not on the project's allowlist.
    #[error("The redirect URL is not on this project's list of allowed origins.")]
    RedirectUrlNotAllowed,
    /// A link token without a `redirect_url` was opened as a full page: the result would have
    /// nowhere to go, so nothing starts.
    #[error("This link opens inside the app that created it. Go back to the app and start again from there.")]
    RedirectUrlRequired,
    /// The page was opened from an origin that is not on the project's allowlist.
    #[error("This page was opened from a site that is not allowed to use it.")]
    OriginNotAllowed,
    /// A key bound to one end user asked for another, or for the app.
    #[error("this secret key is bound to another user")]
    SubjectNotAllowed,
    /// The connector is not offered to this link.
    #[error("This integration is not available here.")]
    ConnectorNotAllowed,
    /// The connector lacks what its authorization needs.
    #[error("This integration is not set up correctly. Contact the app's support.")]
    ConnectorMisconfigured(String),
    /// The outbound policy refused where a URL of the connector leads.
    #[error("This integration points somewhere it may not. Contact the app's support.")]
    DestinationRefused(String),
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

impl From<crate::fields::FieldError> for LinkError {
    fn from(error: crate::fields::FieldError) -> Self {
        match error {
            crate::fields::FieldError::Invalid { field, message } => LinkError::FieldInvalid { field, message },
            crate::fields::FieldError::Misconfigured(detail) => LinkError::ConnectorMisconfigured(detail),
        }
    }
}

impl From<crate::model::CorruptRecord> for LinkError {
    fn from(error: crate::model::CorruptRecord) -> Self {
        LinkError::Record(error.into())
    }
}
