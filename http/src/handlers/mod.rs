//! The handlers, one per endpoint of the route table, each documented for the OpenAPI document by
//! its `#[utoipa::path]`. They are thin: extractors parse the request, a domain flow does the work,
//! and the answer is a typed body or an [`ApiError`](crate::error::ApiError).

mod audit;
mod callback;
mod connect;
mod connections;
mod forms;
mod link;
mod meta;
mod metrics;
mod operator;
mod proxy;
mod sandbox;
mod sessions;
mod token;

pub use audit::*;
pub use callback::*;
pub use connect::*;
pub use connections::*;
pub use forms::*;
pub use link::*;
pub use meta::*;
pub use metrics::*;
pub use operator::*;
pub use proxy::*;
pub use sandbox::*;
pub use sessions::*;
pub use token::*;

use axum::routing::{on, MethodFilter, MethodRouter};
use latchkey::Ports;

use crate::routes::Endpoint;

/// The method router answering `endpoint` for `filter`.
pub fn method_router(endpoint: Endpoint, filter: MethodFilter) -> MethodRouter<Ports> {
    match endpoint {
        Endpoint::CreateLinkToken => on(filter, create_link_token),
        Endpoint::ExchangePublicToken => on(filter, exchange_public_token),
        Endpoint::RevokeAccessToken => on(filter, revoke_access_token),
        Endpoint::CreateSession => on(filter, create_session),
        Endpoint::IssueToken => on(filter, issue_token),
        Endpoint::OAuthCallback => on(filter, oauth_callback),
        Endpoint::ConnectPage => on(filter, connect_page),
        Endpoint::ConnectSdk => on(filter, connect_sdk),
        Endpoint::ConnectStart => on(filter, connect_start),
        Endpoint::ConnectCredentials => on(filter, connect_credentials),
        Endpoint::ConnectDeepLink => on(filter, connect_deep_link),
        Endpoint::OpenApi => on(filter, openapi_document),
        Endpoint::ListProviders => on(filter, list_providers),
        Endpoint::ConnectAction => on(filter, connect_action),
        Endpoint::ListConnections => on(filter, list_connections),
        Endpoint::GetConnection => on(filter, get_connection),
        Endpoint::DeleteConnection => on(filter, delete_connection),
        Endpoint::ConfigureConnection => on(filter, configure_connection),
        Endpoint::ImportConnection => on(filter, import_connection),
        Endpoint::ConnectAuthorize => on(filter, connect_authorize),
        Endpoint::ConnectAuthorizeConfirm => on(filter, connect_authorize_confirm),
        Endpoint::Proxy => on(filter, proxy),
        Endpoint::ListAudit => on(filter, list_audit),
        Endpoint::SandboxHome => on(filter, sandbox_home),
        Endpoint::SandboxMetadata => on(filter, sandbox_metadata),
        Endpoint::SandboxAuthorize => on(filter, sandbox_authorize),
        Endpoint::SandboxConsent => on(filter, sandbox_consent),
        Endpoint::SandboxToken => on(filter, sandbox_token),
        Endpoint::SandboxRevoke => on(filter, sandbox_revoke),
        Endpoint::SandboxMe => on(filter, sandbox_me),
        Endpoint::SandboxItems => on(filter, sandbox_items),
        Endpoint::CreateConnector => on(filter, create_connector),
        Endpoint::Metrics => on(filter, metrics),
    }
}
