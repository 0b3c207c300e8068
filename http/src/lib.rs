//! Latchkey's HTTP face (layer 6): the axum router built from the route table, the extractors,
//! the one error-to-response mapping, the pages, the OpenAPI document, and the local server.
//!
//! A Lambda's `main` runs `lambda_http::run(router(ports, Some(function)))`, the routes of its one
//! function; the local server serves `router(ports, None)`, every route. The domain below knows
//! nothing of HTTP: handlers parse requests into its types, call it, and map its errors here.

pub mod audit;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod layers;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod server;

use std::collections::BTreeMap;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

use latchkey::Ports;

pub use error::{ApiError, ErrorCode};
pub use routes::{Endpoint, Function, Route, ROUTES};

/// The router for `function`'s routes, or for every route when `None` (the local server), with
/// the layers every request passes: the access log, the body limit, the deadline, the headers.
pub fn router(ports: Ports, function: Option<Function>) -> Router {
    let mut paths: BTreeMap<&'static str, MethodRouter<Ports>> = BTreeMap::new();
    for route in routes::routes_of(function) {
        let filter = match route.method {
            "ANY" => MethodFilter::DELETE.or(MethodFilter::GET).or(MethodFilter::HEAD).or(MethodFilter::PATCH).or(MethodFilter::POST).or(MethodFilter::PUT),
            method => {
                MethodFilter::try_from(Method::from_bytes(method.as_bytes()).expect("route table methods are valid")).expect("route table methods are routable")
            }
        };
        let methods = paths.remove(route.path).unwrap_or_default();
        paths.insert(route.path, methods.merge(handlers::method_router(route.endpoint, filter)));
    }
    paths
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| router.route(path, methods.fallback(method_not_allowed)))
        .fallback(route_not_found)
        .layer(from_fn(pages::i18n::scope))
        .layer(from_fn(layers::harden))
        .layer(from_fn(layers::deadline))
        .layer(DefaultBodyLimit::max(layers::MAX_BODY_BYTES))
        .layer(from_fn(layers::body_limit))
        .layer(from_fn_with_state(ports.clone(), layers::access_log))
        .with_state(ports)
}

/// A path no route has.
async fn route_not_found(method: Method, uri: axum::http::Uri) -> impl IntoResponse {
    ApiError::new(ErrorCode::RouteNotFound, format!("no route for {method} {}", uri.path()))
}

/// A route that exists with other methods (axum adds `Allow`).
async fn method_not_allowed(method: Method) -> impl IntoResponse {
    ApiError::new(ErrorCode::MethodNotAllowed, format!("method {method} is not allowed here"))
}
