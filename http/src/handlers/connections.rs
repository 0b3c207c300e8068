//! The connections API: list a consumer's connections, get one, delete one, configure one, import one.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use latchkey::connections::{self, ConnectionView, ImportRequest, Page};
use latchkey::model::{AuditAction, ConnectionId, ConnectorUid, ConsumerId};
use latchkey::Ports;

use crate::audit::{respond, Facts, RequestOrigin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, PublicBase, SecretKeyCaller};

/// The listing's query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    consumer_id: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
}

/// One page of connections.
#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    /// The connections on this page.
    pub data: Vec<ConnectionView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One connection.
#[derive(Serialize, ToSchema)]
pub struct ConnectionAnswer {
    /// The connection.
    pub data: ConnectionView,
}

fn consumer_of(headers: &HeaderMap, query: Option<&str>) -> Result<ConsumerId, ApiError> {
    let header = headers.get("x-latchkey-consumer-id").and_then(|v| v.to_str().ok());
    ConsumerId::parse(header.or(query).unwrap_or_default())
        .map_err(|_| ApiError::invalid("give the consumer id (header x-latchkey-consumer-id or consumer_id), 1 to 256 printable characters"))
}

/// `GET /v1/connections`: every connector available to the project environment, with this
/// consumer's connection state, a page at a time.
#[utoipa::path(get, path = "/v1/connections", tag = "connections", security(("secret_key" = [])),
    params(("consumer_id" = String, Query, description = "The consumer (end user) id, 1 to 256 printable characters; or the header \
            `x-latchkey-consumer-id` in its place (the header wins)", min_length = 1, max_length = 256,
            pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"),
           ("limit" = Option<usize>, Query, description = "At most this many (default 50)", minimum = 1, maximum = 100),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page (opaque; valid only for the same project, environment and consumer)")),
    responses((status = 200, description = "The consumer's connections, one per available connector", body = ConnectionList),
              (status = 400, description = "invalid_request: no consumer id or a bad limit; invalid_cursor: a cursor this listing did not give", body = ErrorBody),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "subject_not_allowed: a key bound to another user", body = ErrorBody)))]
pub async fn list_connections(
    State(ports): State<Ports>,
    SecretKeyCaller(caller): SecretKeyCaller,
    PublicBase(base): PublicBase,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ConnectionList>, ApiError> {
    let consumer = consumer_of(&headers, query.consumer_id.as_deref())?;
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let (data, next_cursor) = connections::list(&ports, &caller, &consumer, &base, page).await?;
    Ok(Json(ConnectionList { data, next_cursor }))
}

/// `GET /v1/connections/{connection_id}`: one connection.
#[utoipa::path(get, path = "/v1/connections/{connection_id}", tag = "connections", security(("secret_key" = [])),
    params(("connection_id" = String, Path, description = "The connection id")),
    responses((status = 200, description = "The connection", body = ConnectionAnswer),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 404, description = "connection_not_found", body = ErrorBody)))]
pub async fn get_connection(
    State(ports): State<Ports>,
    SecretKeyCaller(caller): SecretKeyCaller,
    PublicBase(base): PublicBase,
    ApiPath(id): ApiPath<ConnectionId>,
) -> Result<Json<ConnectionAnswer>, ApiError> {
    let view = connections::get(&ports, &caller, &id, &base).await?;
    Ok(Json(ConnectionAnswer { data: view }))
}

/// What a deletion did.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// `{id, deleted, revoked}`: `revoked` says whether the provider confirmed the revocation.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `DELETE /v1/connections/{connection_id}`: revoke at the provider (RFC 7009) where it can, then delete.
#[utoipa::path(delete, path = "/v1/connections/{connection_id}", tag = "connections", security(("secret_key" = [])),
    params(("connection_id" = String, Path, description = "The connection id")),
    responses((status = 200, description = "Deleted; `revoked` says whether the provider confirmed revocation", body = Deleted),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 404, description = "connection_not_found", body = ErrorBody)))]
pub async fn delete_connection(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    SecretKeyCaller(caller): SecretKeyCaller,
    ApiPath(id): ApiPath<ConnectionId>,
) -> Response {
    let result = connections::delete_connection(&ports, &latchkey::model::Scope::of_key(&caller), &id).await.map_err(ApiError::from);
    let mut facts = Facts::of_key(&origin, &caller);
    facts.connection_id = Some(id.clone());
    let answer = result.map(|revoked| Json(Deleted { data: serde_json::json!({"id": id, "deleted": true, "revoked": revoked}) }));
    respond(facts, AuditAction::ConnectionDeleted, answer)
}

/// `POST /v1/connections/import`: bring a consumer's existing tokens (migration).
#[utoipa::path(post, path = "/v1/connections/import", tag = "connections", security(("secret_key" = [])),
    request_body = ImportRequest,
    responses((status = 201, description = "Imported; the connection", body = ConnectionAnswer),
              (status = 400, description = "invalid_request, invalid_json, field_invalid", body = ErrorBody),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "connector_not_allowed, subject_not_allowed", body = ErrorBody),
              (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn import_connection(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    SecretKeyCaller(caller): SecretKeyCaller,
    PublicBase(base): PublicBase,
    ApiJson(body): ApiJson<ImportRequest>,
) -> Response {
    let mut facts = Facts::of_key(&origin, &caller);
    facts.connector = ConnectorUid::parse(&body.connector).ok();
    let result = match connections::import_connection(&ports, &caller, body).await {
        Ok(connection) => {
            facts.connection_id = Some(connection.id.clone());
            connections::get(&ports, &caller, &connection.id, &base).await.map_err(ApiError::from)
        }
        Err(error) => Err(error.into()),
    };
    respond(facts, AuditAction::CredentialsImported, result.map(|view| (StatusCode::CREATED, Json(ConnectionAnswer { data: view }))))
}

/// The body of `PATCH /v1/connections/{connection_id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureRequest {
    /// The choice of the configuration step: `{"tenant_id": "..."}` or `{"cloud_id": "..."}`.
    #[schema(value_type = Object)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// `PATCH /v1/connections/{connection_id}`: finish the configuration step (choose a tenant or site).
#[utoipa::path(patch, path = "/v1/connections/{connection_id}", tag = "connections", security(("secret_key" = [])),
    params(("connection_id" = String, Path, description = "The connection id")), request_body = ConfigureRequest,
    responses((status = 200, description = "Configured; callable", body = ConnectionAnswer),
              (status = 400, description = "invalid_request: not one of the choices", body = ErrorBody),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 404, description = "connection_not_found", body = ErrorBody)))]
pub async fn configure_connection(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    SecretKeyCaller(caller): SecretKeyCaller,
    PublicBase(base): PublicBase,
    ApiPath(id): ApiPath<ConnectionId>,
    ApiJson(body): ApiJson<ConfigureRequest>,
) -> Response {
    let mut facts = Facts::of_key(&origin, &caller);
    facts.connection_id = Some(id.clone());
    let result = async {
        let (field, value) = body.settings.iter().next().ok_or_else(|| ApiError::invalid("settings names nothing"))?;
        connections::configure(&ports, &caller, &id, field, value).await?;
        let view = connections::get(&ports, &caller, &id, &base).await?;
        Ok::<_, ApiError>(Json(ConnectionAnswer { data: view }))
    }
    .await;
    respond(facts, AuditAction::ConnectionUpdated, result)
}
