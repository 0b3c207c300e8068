//! The HTTP face of Latchkey: one route table, one error mapping, the handlers, the OpenAPI
//! document, and the local server.
//!
//! Handlers are plain async functions from a request to a response over [`AppState`]. A Lambda's
//! `main` serves the routes of its function ([`handle_function`]); the local server serves every
//! route ([`handle`]). Both go through the same [`routes::ROUTES`], which a test also checks
//! against template.yaml, so the three cannot drift.

pub mod auth;
mod dispatch;
pub mod error;
pub mod handlers;
pub mod openapi;
pub mod pages;
pub mod request;
pub mod routes;
pub mod server;

pub use dispatch::{handle, handle_function};
pub use error::ApiError;
pub use routes::{Endpoint, Function, Route, ROUTES};

use lambda_http::Body;

/// A request as handlers see it (the Lambda runtime's type, which the local server builds too).
pub type Request = http::Request<Body>;
/// A response as handlers return it.
pub type Response = http::Response<Body>;

/// A JSON response with `status`.
pub fn json_response(status: http::StatusCode, value: &serde_json::Value) -> Response {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(value.to_string()))
        .expect("a static status and header always build")
}
