//! From a request to the handler of its route, and from the handler's result to a response.

use std::time::Instant;

use super::routes::{find, Function, Matched, NoRoute, ROUTES};
use super::{handlers, ApiError, Endpoint, Request, Response};
use crate::state::AppState;

/// Answers `request` from any route (the local server).
pub async fn handle(state: &AppState, request: Request) -> Response {
    respond(state, ROUTES.iter(), request).await
}

/// Answers `request` from the routes of `function` only (one Lambda).
pub async fn handle_function(state: &AppState, function: Function, request: Request) -> Response {
    respond(state, ROUTES.iter().filter(|r| r.function == function), request).await
}

async fn respond(state: &AppState, routes: impl Iterator<Item = &'static super::Route>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let (route, result) = match find(routes, &method, &path) {
        Ok(matched) => (matched.route.path, call(state, &matched, request).await),
        Err(NoRoute::NotFound) => ("-", Err(ApiError::RouteNotFound(format!("{method} {path}")))),
        Err(NoRoute::MethodNotAllowed) => ("-", Err(ApiError::MethodNotAllowed(method.clone()))),
    };
    let mut response = result.unwrap_or_else(ApiError::into_response);
    harden(&mut response);
    // The route template, not the path: a path can carry identifiers a log has no need of.
    tracing::info!(method = %method, route, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    response
}

async fn call(state: &AppState, matched: &Matched, request: Request) -> Result<Response, ApiError> {
    match matched.route.endpoint {
        Endpoint::OpenApi => handlers::openapi_document(state, request).await,
        Endpoint::ListProviders => handlers::list_providers(state, request).await,
        Endpoint::CreateLinkToken => handlers::create_link_token(state, request).await,
        Endpoint::ExchangePublicToken => handlers::exchange_public_token(state, request).await,
        Endpoint::CreateSession => handlers::create_session(state, request).await,
        Endpoint::IssueToken => handlers::issue_token(state, matched, request).await,
        Endpoint::OAuthCallback => handlers::oauth_callback(state, request).await,
        Endpoint::ConnectPage => handlers::connect_page(state, request).await,
        Endpoint::ConnectSdk => handlers::connect_sdk(state, request).await,
        Endpoint::ConnectStart => handlers::connect_start(state, request).await,
        Endpoint::ConnectCredentials => handlers::connect_credentials(state, request).await,
        Endpoint::ConnectDeepLink => handlers::connect_deep_link(state, matched, request).await,
        Endpoint::ListConnections => handlers::list_connections(state, request).await,
        Endpoint::GetConnection => handlers::get_connection(state, matched, request).await,
        Endpoint::DeleteConnection => handlers::delete_connection(state, matched, request).await,
        Endpoint::ConfigureConnection => handlers::configure_connection(state, matched, request).await,
        Endpoint::ImportConnection => handlers::import_connection(state, request).await,
        Endpoint::ConnectAuthorize => handlers::connect_authorize(state, request).await,
        Endpoint::ConnectAction => handlers::connect_action(state, request).await,
    }
}

/// Headers every response carries: nothing Latchkey answers may be cached by a shared cache or
/// sniffed into another content type.
fn harden(response: &mut Response) {
    use http::header::{HeaderValue, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
    let headers = response.headers_mut();
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}
