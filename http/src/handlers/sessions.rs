//! `POST /v1/sessions`, the session deep links, and the overview's actions.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use latchkey::connections::{act, Action};
use latchkey::link::connect::{load_page, PageParams};
use latchkey::link::session::{create_session as create, SessionRequest};
use latchkey::model::{ActorKind, AuditAction};
use latchkey::Ports;

use super::connect::{begin, incomplete_link, page_with_csrf, FormGuard};
use super::forms::{ActionFormFields, PageMode};
use crate::audit::{attach, Facts, RequestOrigin};
use crate::error::{ApiError, ErrorBody, PageError};
use crate::extract::{ApiJson, ApiQuery, PageForm, PublicBase, SecretKeyCaller};
use crate::pages::see_other;

/// A session.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// The session token (a JWT): open `url`, or a deep link with `?jwt=`.
    pub session_token: String,
    /// The hosted page for this session.
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /v1/sessions`: a Connect session for one consumer.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = SessionRequest, security(("secret_key" = [])),
    params(("x-latchkey-consumer-id" = Option<String>, Header, description = "The consumer (end user) id, if not in the body")),
    responses((status = 201, description = "The session", body = SessionResponse),
              (status = 400, description = "invalid_request, invalid_json, redirect_url_not_allowed", body = ErrorBody),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "subject_not_allowed (a key bound to another user)", body = ErrorBody),
              (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn create_session(
    State(ports): State<Ports>,
    SecretKeyCaller(caller): SecretKeyCaller,
    PublicBase(base): PublicBase,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SessionRequest>,
) -> Result<(StatusCode, Json<SessionResponse>), ApiError> {
    let header = headers.get("x-latchkey-consumer-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let consumer = body.consumer_id.clone().or(header).unwrap_or_default();
    let session = create(&ports, &caller, consumer, body).await?;
    let mut url = url::Url::parse(&format!("{base}/connect")).map_err(|e| ApiError::internal(e.to_string()))?;
    url.query_pairs_mut().append_pair("jwt", session.token.expose());
    let answer = SessionResponse {
        session_token: session.token.expose().to_owned(),
        url: url.to_string(),
        expires_at: latchkey::Timestamp(session.claims.exp).to_rfc3339(),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The path of a deep link.
#[derive(Deserialize)]
pub struct DeepLink {
    unified_api: String,
    service_id: String,
}

/// `GET /connect/{unified_api}/{service_id}?jwt=`: a deep link to one connector of a session.
#[utoipa::path(get, path = "/connect/{unified_api}/{service_id}", tag = "connect",
    params(("unified_api" = String, Path, description = "The unified API (crm, ticketing, ...)"),
           ("service_id" = String, Path, description = "The service (salesforce, zendesk, ...)"),
           ("jwt" = String, Query, description = "The session token"),
           ("mode" = Option<PageMode>, Query, description = "modal (inside the SDK) or page"),
           ("origin" = Option<String>, Query, description = "The app origin, in modal mode")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 400, description = "invalid_request: no session token, or a bad mode", content_type = "text/html"),
              (status = 403, description = "connector_not_allowed: not part of this session", content_type = "text/html"),
              (status = 410, description = "link_token_invalid", content_type = "text/html")))]
pub async fn connect_deep_link(
    State(ports): State<Ports>,
    axum::extract::Path(path): axum::extract::Path<DeepLink>,
    headers: HeaderMap,
    base: Result<PublicBase, ApiError>,
    query: Result<ApiQuery<PageParams>, ApiError>,
) -> Result<Response, PageError> {
    let ApiQuery(params) = query.map_err(|_| incomplete_link())?;
    super::connect::check_mode(&params)?;
    let page = load_page(&ports, &params).await?.deep(&path.unified_api, &path.service_id)?;
    Ok(page_with_csrf(&page, &params.link_token, &headers, base.ok().as_ref()))
}

/// The overview's action form.
#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(flatten)]
    page: PageParams,
    #[serde(flatten)]
    guard: FormGuard,
    connector: String,
    action: String,
    #[serde(default)]
    choice: Option<String>,
}

/// `POST /connect/actions`: reauthorize, disconnect or delete a connection from a session's overview.
#[utoipa::path(post, path = "/connect/actions", tag = "connect",
    request_body(content = ActionFormFields, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the provider (reauthorize) or back to the overview", headers(("Location" = String, description = "Where to go"))),
              (status = 400, description = "invalid_request", content_type = "text/html"),
              (status = 403, description = "cross_site_request, connector_not_allowed", content_type = "text/html")))]
pub async fn connect_action(
    State(ports): State<Ports>,
    origin: RequestOrigin,
    PublicBase(base): PublicBase,
    headers: HeaderMap,
    PageForm(form): PageForm<ActionForm>,
) -> Result<Response, PageError> {
    form.guard.check(&headers)?;
    let page = load_page(&ports, &form.page).await?;
    crate::pages::i18n::prefer(page.link.lang.as_deref());
    let action = Action::allowed(&page, &form.action, form.choice.as_deref())?;
    if action == Action::Reauthorize {
        return begin(&ports, &page, &form.connector, &Default::default(), &base).await;
    }
    let audited = match &action {
        Action::Delete => Some(AuditAction::ConnectionDeleted),
        Action::Disconnect => Some(AuditAction::ConnectionDisconnected),
        Action::Configure(_) => Some(AuditAction::ConnectionUpdated),
        Action::Reauthorize => None,
    };
    let connection_id = page.connector(&form.connector).ok().and_then(|c| page.connection(c)).map(|c| c.id.clone());
    act(&ports, &page, &form.connector, action).await?;
    let mut back = url::Url::parse(&format!("{base}/connect")).map_err(|e| ApiError::internal(e.to_string()))?;
    back.query_pairs_mut().append_pair("jwt", &form.page.link_token);
    let facts = Facts {
        origin: &origin,
        project_id: page.link.project_id.clone(),
        environment: Some(page.link.environment.clone()),
        actor: (ActorKind::EndUser, page.link.end_user.id.to_string()),
        connection_id,
        connector: latchkey::model::ConnectorUid::parse(&form.connector).ok(),
    };
    Ok(match audited {
        Some(action) => attach(see_other(back.as_str()), facts.event(action, "ok")),
        None => see_other(back.as_str()),
    })
}
