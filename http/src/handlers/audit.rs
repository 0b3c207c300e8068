//! `GET /v1/audit`: a project environment's audit trail, newest first, filtered and paged.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use latchkey::audit::{list, AuditCursor, AuditFilter, PAGE_MAX};
use latchkey::model::{AuditAction, ConnectionId};
use latchkey::Ports;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiQuery, SecretKeyCaller};

/// The query of `GET /v1/audit`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    since: Option<i64>,
    #[serde(default)]
    until: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
}

/// One page of the trail.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Events, newest first: `id`, `at_ms`, `action`, `actor_kind`, `actor_id`, `outcome` (`ok` or
    /// an error code), and where they apply `environment`, `connection_id`, `connector`,
    /// `source_ip`, `user_agent`, `detail`.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/audit`: the trail of the key's project environment (a key bound to one end user may not
/// read it).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("secret_key" = [])),
    params(("action" = Option<String>, Query, description = "Only this action (token_issued, proxy_call, connection_created, ...)",
            pattern = "^(token_issued|proxy_call|connection_created|connection_relinked|connection_updated|connection_disconnected|connection_deleted|credentials_imported|access_token_issued|access_token_revoked|secret_key_created|secret_key_revoked|connector_linked|connector_unlinked|connector_changed|connector_deleted|issuer_trusted|issuer_distrusted|origins_changed|installation_recorded)$"),
           ("connection_id" = Option<String>, Query, description = "Only events about this connection", pattern = "^conn_[A-Za-z0-9]{1,40}$"),
           ("since" = Option<i64>, Query, description = "Only events at or after this (Unix seconds)", minimum = 0),
           ("until" = Option<i64>, Query, description = "Only events before this (Unix seconds)", minimum = 0),
           ("limit" = Option<usize>, Query, description = "At most this many (default 50)", minimum = 1, maximum = 100),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, description = "Events, newest first", body = AuditPage),
              (status = 400, description = "invalid_request: an unknown action, a bad limit or cursor", body = ErrorBody),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "subject_not_allowed: a key bound to one end user", body = ErrorBody)))]
pub async fn list_audit(
    State(ports): State<Ports>,
    SecretKeyCaller(caller): SecretKeyCaller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    if caller.user_id.is_some() {
        return Err(ApiError::new(ErrorCode::SubjectNotAllowed, "a key bound to one end user may not read the project's audit trail"));
    }
    let invalid = |what: &str| ApiError::invalid(what.to_owned());
    let action = query.action.as_deref().map(|a| AuditAction::parse(a).ok_or_else(|| invalid("action names no audit action"))).transpose()?;
    let connection_id = query.connection_id.as_deref().map(|c| ConnectionId::parse(c).map_err(|e| invalid(&e.to_string()))).transpose()?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=PAGE_MAX).contains(&limit) || query.since.is_some_and(|s| s < 0) || query.until.is_some_and(|u| u < 0) {
        return Err(invalid("limit is 1 to 100, since and until are Unix seconds"));
    }
    let cursor = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| AuditCursor::decode(c).ok_or_else(|| invalid("cursor is not one this API gave")))
        .transpose()?;
    let filter = AuditFilter { action, connection_id, since: query.since, until: query.until, environment: Some(caller.environment.clone()) };
    let (events, next) = list(ports.store.as_ref(), &caller.project_id, &filter, limit, cursor, ports.clock.now(), ports.settings.audit_retention_days)
        .await
        .map_err(latchkey::store::RecordError::from)?;
    let data = events.into_iter().map(|e| serde_json::to_value(e).unwrap_or_default()).collect();
    Ok(Json(AuditPage { data, next_cursor: next.map(|c| c.encode()) }))
}
