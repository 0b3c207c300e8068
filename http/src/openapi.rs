//! The OpenAPI 3.1 document, collected by utoipa from the handlers' annotations: every route of the
//! route table, every caller credential, the error schema and the headers routes answer with.

mod constraints;
mod shape;

pub use shape::misplaced_array;

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::handlers;

/// The API's OpenAPI description; every route of the route table is listed in `paths`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Latchkey", description = "Self-hosted connection broker: link tokens, sessions, connections and short-lived provider tokens."),
    paths(
        handlers::create_link_token,
        handlers::exchange_public_token,
        handlers::revoke_access_token,
        handlers::create_session,
        handlers::issue_token,
        handlers::oauth_callback,
        handlers::connect_page,
        handlers::connect_sdk,
        handlers::connect_start,
        handlers::connect_credentials,
        handlers::connect_deep_link,
        handlers::openapi_document,
        handlers::list_providers,
        handlers::list_connections,
        handlers::get_connection,
        handlers::delete_connection,
        handlers::import_connection,
        handlers::configure_connection,
        handlers::connect_authorize,
        handlers::connect_authorize_confirm,
        handlers::connect_action,
        handlers::proxy,
        handlers::list_audit,
        handlers::sandbox_home,
        handlers::sandbox_metadata,
        handlers::sandbox_authorize,
        handlers::sandbox_consent,
        handlers::sandbox_token,
        handlers::sandbox_revoke,
        handlers::sandbox_me,
        handlers::sandbox_items,
        handlers::create_connector,
        handlers::metrics,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, ErrorCode, handlers::AuditPage, handlers::LinkTokenResponse, handlers::ExchangeRequest, handlers::ExchangeResponse,
        handlers::RevokeRequest, handlers::RevokeResponse,
        handlers::LinkTokenBody, latchkey::link::token::EndUserInput, handlers::TokenResponse, handlers::ConnectorRef,
        latchkey::token::issue::TokenRequest, latchkey::token::issue::SubjectInput,
        handlers::SessionResponse, latchkey::link::session::SessionRequest, latchkey::model::SessionSettings,
        latchkey::model::ConsumerMetadata, latchkey::model::Theme,
        handlers::ConfigureRequest, latchkey::connections::ImportRequest, latchkey::connections::import::ImportedCredentials,
        handlers::ConnectionList, handlers::ConnectionAnswer, handlers::Deleted, latchkey::connections::ConnectionView,
        handlers::ProviderList, handlers::ProviderSummary,
        handlers::PageMode, handlers::OverviewAction, handlers::StartFormFields, handlers::CredentialsFormFields, handlers::ActionFormFields,
        handlers::AuthorizeFormFields,
        handlers::ConsentFormFields, handlers::OAuthErrorBody, handlers::TokenFormDoc, handlers::RevokeFormDoc, handlers::SandboxTokens,
        handlers::CreateConnectorRequest, handlers::EndpointsInput, handlers::FieldInput, handlers::FieldKindName, handlers::LinkInput,
        handlers::ConnectorCreated, latchkey::model::ApiSpec, latchkey::model::ApiAuth, latchkey::model::BasicHalf, latchkey::model::Narrowing,
        latchkey::model::AuthMode, latchkey::model::TokenAuthMethod, latchkey::model::RevocationScope,
    )),
    modifiers(&CallerCredentials)
)]
pub struct ApiDoc;

/// Declares the credentials the routes name: a project secret key, a connection access token from
/// the link exchange, an OIDC token from an issuer the project trusts, the operator token, and the
/// sandbox's own (a client's basic credentials, an access token it issued).
struct CallerCredentials;

impl utoipa::Modify for CallerCredentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str, format: Option<&str>| {
            let mut builder = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description.to_owned()));
            if let Some(format) = format {
                builder = builder.bearer_format(format);
            }
            SecurityScheme::Http(builder.build())
        };
        components.add_security_scheme("secret_key", bearer("A project secret key, lk_sk_...", None));
        components.add_security_scheme("connection_token", bearer("A connection access token from the link exchange, lk_conn_...", None));
        components.add_security_scheme("oidc", bearer("An OIDC token from an issuer the project trusts, bound by its claims", Some("JWT")));
        components.add_security_scheme("operator_token", bearer("The operator token of the deployment's configuration (LATCHKEY_OPERATOR_TOKEN)", None));
        components.add_security_scheme("sandbox_token", bearer("An access token the sandbox issued, sbx_at_...", None));
        let client = HttpBuilder::new().scheme(HttpAuthScheme::Basic).description(Some("A sandbox client's id and secret (RFC 6749 2.3.1)".to_owned()));
        components.add_security_scheme("sandbox_client", SecurityScheme::Http(client.build()));
    }
}

/// The document, parsed once per process (for checks against it).
pub fn document_value() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::from_str(document_json()).expect("the OpenAPI document is JSON"))
}

/// The document as JSON, with the limits of [`constraints`], rendered once per process.
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
        constraints::apply(&mut document);
        document.to_string()
    })
}
