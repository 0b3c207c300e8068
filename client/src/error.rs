//! One error variant per code a client of the broker, the listings, the proxy and the audit trail
//! meets; every other code of the API as [`Error::Other`], with its code.

use serde_json::Value;

/// Why a call failed: Latchkey's refusal (one variant per stable code), or no readable answer.
///
/// Messages are the server's, which never carry a secret; nothing of the caller's credential, the
/// token or a request body is ever part of an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 401 `unauthenticated`.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// 400 `invalid_cursor`: a listing's cursor that is not one that listing gave.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 400 `invalid_json`: the body is not the JSON the route takes.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// 413 `payload_too_large`.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// 404 `connector_not_found`.
    #[error("connector not found: {0}")]
    ConnectorNotFound(String),
    /// 403 `client_not_linked_to_project`.
    #[error("connector not linked to this project: {0}")]
    ClientNotLinkedToProject(String),
    /// 403 `client_not_enabled_for_environment`.
    #[error("connector not enabled for this environment: {0}")]
    ClientNotEnabledForEnvironment(String),
    /// 403 `subject_not_allowed`: the credential may not ask for this subject (or, on the audit
    /// trail, a key bound to one end user).
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
    /// 409 `connection_configuration_required`: the connection needs its configuration step
    /// (`details.connection_id`).
    #[error("connection configuration required")]
    ConnectionConfigurationRequired {
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
    /// 503 `unavailable`: a backing service of Latchkey failed; retry shortly.
    #[error("Latchkey is unavailable; retry after {retry_after:?} s")]
    Unavailable {
        /// Seconds to wait.
        retry_after: Option<u64>,
    },
    /// 503 `timeout`: the request took too long on Latchkey's side; retry.
    #[error("Latchkey timed out; retry after {retry_after:?} s")]
    RequestTimeout {
        /// Seconds to wait.
        retry_after: Option<u64>,
    },
    /// 409 `connector_not_proxyable`: the connector declares no API the proxy can call; ask for
    /// the token with [`crate::Client::get_token`] and call the provider yourself.
    #[error("connector not proxyable: {0}")]
    ConnectorNotProxyable(String),
    /// 400 `proxy_path_invalid`: the proxied path would leave the connector's API base, or is not
    /// acceptable (an empty, `.` or `..` segment, an encoded `/`, `\` or `@`). A `.` or `..`
    /// segment is refused before anything is sent.
    #[error("proxy path invalid: {0}")]
    ProxyPathInvalid(String),
    /// 403 `destination_not_allowed`: the outbound policy refused the destination; nothing was
    /// sent to it.
    #[error("destination not allowed: {0}")]
    DestinationNotAllowed(String),
    /// 502 `upstream_unreachable`: the proxy got no answer from the provider (the request may or
    /// may not have arrived).
    #[error("provider unreachable: {0}")]
    UpstreamUnreachable(String),
    /// Any other answer: every other code of the API (`not_found`, `conflict`,
    /// `connection_not_found`, the Connect flow's codes, ...), or one newer than this client.
    #[error("HTTP {status} {code}: {message}")]
    Other {
        /// Status.
        status: u16,
        /// Code.
        code: String,
        /// Message.
        message: String,
        /// What the caller needs to fix it, where the server said (`field` for `field_invalid`).
        details: Value,
        /// Seconds to wait before retrying, where the server said.
        retry_after: Option<u64>,
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
            "invalid_request" => Error::InvalidRequest(message),
            "invalid_json" => Error::InvalidJson(message),
            "invalid_cursor" => Error::InvalidCursor(message),
            "payload_too_large" => Error::PayloadTooLarge(message),
            "connector_not_found" => Error::ConnectorNotFound(message),
            "client_not_linked_to_project" => Error::ClientNotLinkedToProject(message),
            "client_not_enabled_for_environment" => Error::ClientNotEnabledForEnvironment(message),
            "subject_not_allowed" => Error::SubjectNotAllowed(message),
            "connector_installation_required" => Error::ConnectorInstallationRequired { details },
            "user_authorization_required" => Error::UserAuthorizationRequired { details },
            "connection_configuration_required" => Error::ConnectionConfigurationRequired { details },
            "scope_not_granted" => Error::ScopeNotGranted {
                missing: details["missing_scopes"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
            },
            "token_refresh_failed" => Error::TokenRefreshFailed { details },
            "narrowing_unsupported" => Error::NarrowingUnsupported { message, details },
            "upstream_unavailable" => Error::UpstreamUnavailable { retry_after },
            "refresh_wait_timeout" => Error::RefreshWaitTimeout { retry_after },
            "rate_limited" => Error::RateLimited { retry_after },
            "unavailable" => Error::Unavailable { retry_after },
            "timeout" => Error::RequestTimeout { retry_after },
            "connector_not_proxyable" => Error::ConnectorNotProxyable(message),
            "proxy_path_invalid" => Error::ProxyPathInvalid(message),
            "destination_not_allowed" => Error::DestinationNotAllowed(message),
            "upstream_unreachable" => Error::UpstreamUnreachable(message),
            _ => Error::Other { status, code, message, details, retry_after },
        }
    }

    /// The stable code (`connector_not_proxyable`, ...); `transport` when no readable answer came.
    pub fn code(&self) -> &str {
        match self {
            Error::Unauthenticated(_) => "unauthenticated",
            Error::InvalidCursor(_) => "invalid_cursor",
            Error::InvalidRequest(_) => "invalid_request",
            Error::InvalidJson(_) => "invalid_json",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::ConnectorNotFound(_) => "connector_not_found",
            Error::ClientNotLinkedToProject(_) => "client_not_linked_to_project",
            Error::ClientNotEnabledForEnvironment(_) => "client_not_enabled_for_environment",
            Error::SubjectNotAllowed(_) => "subject_not_allowed",
            Error::ConnectorInstallationRequired { .. } => "connector_installation_required",
            Error::UserAuthorizationRequired { .. } => "user_authorization_required",
            Error::ConnectionConfigurationRequired { .. } => "connection_configuration_required",
            Error::ScopeNotGranted { .. } => "scope_not_granted",
            Error::NarrowingUnsupported { .. } => "narrowing_unsupported",
            Error::TokenRefreshFailed { .. } => "token_refresh_failed",
            Error::UpstreamUnavailable { .. } => "upstream_unavailable",
            Error::RefreshWaitTimeout { .. } => "refresh_wait_timeout",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable { .. } => "unavailable",
            Error::RequestTimeout { .. } => "timeout",
            Error::ConnectorNotProxyable(_) => "connector_not_proxyable",
            Error::ProxyPathInvalid(_) => "proxy_path_invalid",
            Error::DestinationNotAllowed(_) => "destination_not_allowed",
            Error::UpstreamUnreachable(_) => "upstream_unreachable",
            Error::Other { code, .. } => code,
            Error::Transport(_) => "transport",
        }
    }

    /// The HTTP status the server answers this code with (each code has one); `None` for
    /// [`Error::Transport`].
    pub fn status(&self) -> Option<u16> {
        let status = match self {
            Error::Other { status, .. } => *status,
            Error::Transport(_) => return None,
            Error::Unauthenticated(_) => 401,
            Error::InvalidCursor(_) | Error::InvalidRequest(_) | Error::InvalidJson(_) | Error::NarrowingUnsupported { .. } | Error::ProxyPathInvalid(_) => 400,
            Error::ClientNotLinkedToProject(_)
            | Error::ClientNotEnabledForEnvironment(_)
            | Error::SubjectNotAllowed(_)
            | Error::ScopeNotGranted { .. }
            | Error::DestinationNotAllowed(_) => 403,
            Error::ConnectorNotFound(_) => 404,
            Error::ConnectorInstallationRequired { .. }
            | Error::UserAuthorizationRequired { .. }
            | Error::ConnectionConfigurationRequired { .. }
            | Error::TokenRefreshFailed { .. }
            | Error::ConnectorNotProxyable(_) => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::RateLimited { .. } => 429,
            Error::UpstreamUnreachable(_) => 502,
            Error::UpstreamUnavailable { .. } | Error::RefreshWaitTimeout { .. } | Error::Unavailable { .. } | Error::RequestTimeout { .. } => 503,
        };
        Some(status)
    }

    /// Seconds to wait before retrying, where the server said (`Retry-After`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::UpstreamUnavailable { retry_after }
            | Error::RefreshWaitTimeout { retry_after }
            | Error::RateLimited { retry_after }
            | Error::Unavailable { retry_after }
            | Error::RequestTimeout { retry_after }
            | Error::Other { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// What the server said would fix it (`Value::Null` when it said nothing): the link token
    /// request, the missing scopes, the field at fault.
    pub fn details(&self) -> Value {
        match self {
            Error::ConnectorInstallationRequired { details }
            | Error::UserAuthorizationRequired { details }
            | Error::ConnectionConfigurationRequired { details }
            | Error::TokenRefreshFailed { details }
            | Error::NarrowingUnsupported { details, .. }
            | Error::Other { details, .. } => details.clone(),
            Error::ScopeNotGranted { missing } => serde_json::json!({"missing_scopes": missing}),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every code of the server's `http/src/error.rs`, with its status.
    const SERVER_CODES: &str = include_str!("../../http/src/error.rs");

    fn server_codes() -> Vec<(String, u16)> {
        let statuses = [
            ("BAD_REQUEST", 400),
            ("UNAUTHORIZED", 401),
            ("FORBIDDEN", 403),
            ("NOT_FOUND", 404),
            ("METHOD_NOT_ALLOWED", 405),
            ("CONFLICT", 409),
            ("GONE", 410),
            ("PAYLOAD_TOO_LARGE", 413),
            ("TOO_MANY_REQUESTS", 429),
            ("INTERNAL_SERVER_ERROR", 500),
            ("BAD_GATEWAY", 502),
            ("SERVICE_UNAVAILABLE", 503),
        ];
        let block = SERVER_CODES.split("codes! {").nth(1).and_then(|rest| rest.split('}').next()).expect("the codes! block");
        block
            .lines()
            .filter_map(|line| {
                let (_, rest) = line.split_once("= \"")?;
                let (code, rest) = rest.split_once('"')?;
                let status = rest.trim().trim_start_matches("=>").trim().trim_end_matches(',');
                let status = statuses.iter().find(|(name, _)| *name == status).unwrap_or_else(|| panic!("status {status}")).1;
                Some((code.to_owned(), status))
            })
            .collect()
    }

    #[test]
    fn every_code_of_the_server_maps_to_its_variant_or_other_with_its_code_and_status() {
        let codes = server_codes();
        assert!(codes.len() > 50, "{} codes read", codes.len());
        let mut named = 0;
        for (code, status) in &codes {
            let body = json!({"error": {"code": code, "message": "m", "details": {"missing_scopes": ["a"]}}});
            let error = Error::from_response(*status, &body, Some(7));
            assert_eq!(error.code(), code);
            assert_eq!(error.status(), Some(*status), "{code}");
            if !matches!(error, Error::Other { .. }) {
                named += 1;
                // A named variant answers the same status whatever the answer said.
                assert_eq!(Error::from_response(599, &body, None).status(), Some(*status), "{code}");
            }
        }
        assert_eq!(named, 24, "the codes with their own variant");
        let proxy = ["connector_not_proxyable", "proxy_path_invalid", "destination_not_allowed", "upstream_unreachable", "payload_too_large"];
        for code in proxy {
            let error = Error::from_response(400, &json!({"error": {"code": code, "message": "m"}}), None);
            assert!(!matches!(error, Error::Other { .. }), "{code} has its variant");
        }
    }

    #[test]
    fn retry_after_and_details_come_through() {
        let error = Error::from_response(503, &json!({"error": {"code": "timeout", "message": "the request took too long; retry"}}), Some(1));
        assert_eq!((error.code(), error.retry_after()), ("timeout", Some(1)));
        let error = Error::from_response(
            409,
            &json!({"error": {"code": "connection_configuration_required", "message": "m", "details": {"connection_id": "conn_1"}}}),
            None,
        );
        assert!(matches!(&error, Error::ConnectionConfigurationRequired { details } if details["connection_id"] == "conn_1"), "{error:?}");
        let newer = Error::from_response(418, &json!({"error": {"code": "teapot_brewing", "message": "newer", "details": {"x": 1}}}), Some(4));
        assert_eq!((newer.code(), newer.status(), newer.retry_after()), ("teapot_brewing", Some(418), Some(4)));
        assert_eq!(newer.details(), json!({"x": 1}));
        assert_eq!(Error::Transport("x".into()).status(), None);
    }
}
