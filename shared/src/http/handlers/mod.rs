//! The handlers, one per endpoint of the route table. Each is documented for the OpenAPI document
//! by its `#[utoipa::path]`.

mod callback;
mod connect;
mod connections;
mod link;
mod providers;
mod sessions;
mod token;

pub use callback::*;
pub use connect::*;
pub use connections::*;
pub use link::*;
pub use providers::*;
pub use sessions::*;
pub use token::*;

use super::{openapi, ApiError, Request, Response};
use crate::state::AppState;

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_document(_state: &AppState, _request: Request) -> Result<Response, ApiError> {
    let document = openapi::document_json();
    Ok(http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "public, max-age=300")
        .body(lambda_http::Body::Text(document.to_owned()))
        .expect("static headers"))
}
