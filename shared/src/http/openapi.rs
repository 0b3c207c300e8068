//! The OpenAPI 3.1 document, generated from the handlers' annotations by utoipa.

use std::sync::OnceLock;

use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};
use super::handlers;

/// The API's OpenAPI description; every route of the route table is listed in `paths`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Latchkey", description = "Self-hosted connection broker: link tokens, sessions, connections and short-lived provider tokens."),
    paths(
        handlers::create_link_token,
        handlers::exchange_public_token,
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
        handlers::connect_action,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, handlers::LinkTokenResponse, handlers::ExchangeRequest, handlers::ExchangeResponse,
        crate::link::token::LinkTokenRequest, crate::link::token::EndUserInput, handlers::TokenResponse,
        crate::token::issue::TokenRequest, crate::token::issue::SubjectInput,
        handlers::SessionResponse, crate::session::SessionRequest, crate::session::SessionSettings,
        crate::session::create::ConsumerMetadata, crate::session::create::Theme,
        handlers::ConfigureRequest, crate::connections::ImportRequest, crate::connections::import::ImportedCredentials,
    )),
    modifiers(&SecretKeyAuth)
)]
pub struct ApiDoc;

/// Declares the secret-key bearer scheme the API routes name.
struct SecretKeyAuth;

impl utoipa::Modify for SecretKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("A project secret key, lk_sk_...")).build();
        components.add_security_scheme("secret_key", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, rendered once per process.
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().expect("the OpenAPI document serializes"))
}
