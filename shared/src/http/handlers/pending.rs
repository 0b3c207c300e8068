//! Routes whose flows land in later issues. They are in the route table, template.yaml and the
//! OpenAPI document already, and answer `501 not_implemented` until then.

use super::super::error::ErrorBody;
use super::super::routes::Matched;
use super::super::{ApiError, Request, Response};
use crate::state::AppState;

macro_rules! pending {
    ($(#[$doc:meta])* $name:ident, $method:ident, $path:literal, $tag:literal, $flow:literal) => {
        $(#[$doc])*
        #[utoipa::path($method, path = $path, tag = $tag,
            responses((status = 501, description = "Not built yet", body = ErrorBody)))]
        pub async fn $name(_state: &AppState, _request: Request) -> Result<Response, ApiError> {
            Err(ApiError::NotImplemented($flow))
        }
    };
}

macro_rules! pending_with_params {
    ($(#[$doc:meta])* $name:ident, $method:ident, $path:literal, $tag:literal, $flow:literal, $params:tt) => {
        $(#[$doc])*
        #[utoipa::path($method, path = $path, tag = $tag, params $params,
            responses((status = 501, description = "Not built yet", body = ErrorBody)))]
        pub async fn $name(_state: &AppState, _matched: &Matched, _request: Request) -> Result<Response, ApiError> {
            Err(ApiError::NotImplemented($flow))
        }
    };
}

pending!(
    /// `POST /v1/sessions`: create a Connect session for a consumer.
    create_session, post, "/v1/sessions", "sessions", "the session flow"
);
pending_with_params!(
    /// `GET /connect/{unified_api}/{service_id}`: a deep link into the Connect page.
    connect_deep_link, get, "/connect/{unified_api}/{service_id}", "connect", "Connect deep links",
    (("unified_api" = String, Path, description = "The unified API (crm, ticketing, ...)"),
     ("service_id" = String, Path, description = "The service (salesforce, zendesk, ...)"))
);
