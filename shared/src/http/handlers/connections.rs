//! The connections API: list a consumer's connections, get one, delete one, import one.

use serde_json::json;

use super::super::auth::secret_key_caller;
use super::super::error::ErrorBody;
use super::super::request::{json_body, public_base};
use super::super::routes::Matched;
use super::super::{json_response, ApiError, Request, Response};
use crate::connections::{self, ImportRequest};
use crate::state::AppState;

fn consumer_of(request: &Request) -> Result<String, ApiError> {
    let header = request.headers().get("x-latchkey-consumer-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let query = request.uri().query().and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "consumer_id").map(|(_, v)| v.into_owned()));
    Ok(connections::consumer(header.or(query).as_deref())?)
}

/// `GET /v1/connections`: every connector available to the project environment, with this
/// consumer's connection state.
#[utoipa::path(get, path = "/v1/connections", tag = "connections", security(("secret_key" = [])),
    params(("x-latchkey-consumer-id" = Option<String>, Header, description = "The consumer (end user) id"),
           ("consumer_id" = Option<String>, Query, description = "The consumer id, if not in the header")),
    responses((status = 200, description = "The consumer's connections, one per available connector"),
              (status = 400, description = "No consumer id", body = ErrorBody),
              (status = 401, description = "No valid secret key", body = ErrorBody)))]
pub async fn list_connections(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let consumer = consumer_of(&request)?;
    let base = public_base(state, &request)?;
    let views = connections::list(state, &caller, &consumer, &base).await?;
    Ok(json_response(http::StatusCode::OK, &json!({"data": views})))
}

/// `GET /v1/connections/{connection_id}`: one connection.
#[utoipa::path(get, path = "/v1/connections/{connection_id}", tag = "connections", security(("secret_key" = [])),
    params(("connection_id" = String, Path, description = "The connection id")),
    responses((status = 200, description = "The connection"), (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn get_connection(state: &AppState, matched: &Matched, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let base = public_base(state, &request)?;
    let (connection, connector) = connections::find(state, &caller, matched.param("connection_id").unwrap_or_default()).await?;
    let consumer = connection.subject.id.clone().unwrap_or_default();
    let link = connections::authorize_link(state, &caller, &consumer, &connector, &base).await?;
    Ok(json_response(http::StatusCode::OK, &json!({"data": connections::view(&connector, Some(&connection), Some(link), &base)})))
}

/// `DELETE /v1/connections/{connection_id}`: revoke at the provider (RFC 7009) where it can, then delete.
#[utoipa::path(delete, path = "/v1/connections/{connection_id}", tag = "connections", security(("secret_key" = [])),
    params(("connection_id" = String, Path, description = "The connection id")),
    responses((status = 200, description = "Deleted; `revoked` says whether the provider confirmed revocation"),
              (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn delete_connection(state: &AppState, matched: &Matched, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let id = matched.param("connection_id").unwrap_or_default();
    let revoked = connections::delete_connection(state, &caller, id).await?;
    Ok(json_response(http::StatusCode::OK, &json!({"data": {"id": id, "deleted": true, "revoked": revoked}})))
}

/// `POST /v1/connections/import`: bring a consumer's existing tokens (migration).
#[utoipa::path(post, path = "/v1/connections/import", tag = "connections", security(("secret_key" = [])),
    request_body = ImportRequest,
    responses((status = 201, description = "Imported; the connection"), (status = 400, description = "Invalid", body = ErrorBody),
              (status = 403, description = "Connector not available here", body = ErrorBody)))]
pub async fn import_connection(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let base = public_base(state, &request)?;
    let body: ImportRequest = json_body(&request)?;
    let connection = connections::import_connection(state, &caller, body).await?;
    let (connection, connector) = connections::find(state, &caller, &connection.id).await?;
    Ok(json_response(http::StatusCode::CREATED, &json!({"data": connections::view(&connector, Some(&connection), None, &base)})))
}

/// The body of `PATCH /v1/connections/{connection_id}`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureRequest {
    /// The choice of the configuration step: `{"tenant_id": "..."}` or `{"cloud_id": "..."}`.
    #[schema(value_type = Object)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// `PATCH /v1/connections/{connection_id}`: finish the configuration step (choose a tenant or site).
#[utoipa::path(patch, path = "/v1/connections/{connection_id}", tag = "connections", security(("secret_key" = [])),
    params(("connection_id" = String, Path, description = "The connection id")), request_body = ConfigureRequest,
    responses((status = 200, description = "Configured; callable"), (status = 400, description = "Not one of the choices", body = ErrorBody),
              (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn configure_connection(state: &AppState, matched: &Matched, request: Request) -> Result<Response, ApiError> {
    let caller = secret_key_caller(state, &request).await?;
    let base = public_base(state, &request)?;
    let body: ConfigureRequest = json_body(&request)?;
    let id = matched.param("connection_id").unwrap_or_default();
    let (connection, connector) = connections::find(state, &caller, id).await?;
    let (field, value) = body.settings.iter().next().ok_or_else(|| ApiError::InvalidRequest("settings names nothing".into()))?;
    if crate::link::post_authorization::choice_of(&connector).map(|(f, _)| f) != Some(field.as_str()) {
        return Err(ApiError::InvalidRequest(format!("{field} is not a setting of this connection")));
    }
    let configured = crate::link::post_authorization::configure(state, &connection.id, &caller.project_id, value).await?;
    Ok(json_response(http::StatusCode::OK, &json!({"data": connections::view(&connector, Some(&configured), None, &base)})))
}
