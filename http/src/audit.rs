//! Audit events as the HTTP layer sees them: who called (their credential, address and user
//! agent), and what came of it (`ok` or the error code). A handler attaches a [`PendingAudit`] to
//! its answer; the access-log layer completes it with the route, status and duration and records
//! it, as the one log line of the request.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use latchkey::audit::event_id;
use latchkey::metrics::now_ms;
use latchkey::model::{ActorKind, AuditAction, AuditEvent, Caller, ConnectionId, ConnectorUid, EnvironmentName, ProjectId, SecretKeyLookup};
use latchkey::Ports;

use crate::error::ApiError;

/// Where a request came from: the client's address (API Gateway's `sourceIp`, or the socket's
/// peer on the local server) and its user agent.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<Ports> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &Ports) -> Result<Self, Self::Rejection> {
        let from_gateway = match parts.extensions.get::<lambda_http::request::RequestContext>() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => None,
        };
        let peer = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|ConnectInfo(address)| address.ip().to_string());
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(200).collect());
        Ok(RequestOrigin { ip: from_gateway.or(peer), user_agent })
    }
}

/// An event a handler leaves for the access-log layer to complete and record.
#[derive(Debug, Clone)]
pub struct PendingAudit(pub AuditEvent);

/// Who a caller credential is, for the trail.
pub fn actor_of(caller: &Caller) -> (ActorKind, String) {
    match caller {
        Caller::SecretKey(key) => (ActorKind::SecretKey, key.key_id.to_string()),
        Caller::Connection(token) => (ActorKind::ConnectionToken, token.connection_id.to_string()),
        Caller::Oidc { issuer, subject, .. } => (ActorKind::Oidc, format!("{issuer} {subject}")),
    }
}

/// The parts of an event every action has.
pub struct Facts<'a> {
    pub origin: &'a RequestOrigin,
    pub project_id: ProjectId,
    pub environment: Option<EnvironmentName>,
    pub actor: (ActorKind, String),
    pub connection_id: Option<ConnectionId>,
    pub connector: Option<ConnectorUid>,
}

impl<'a> Facts<'a> {
    /// The facts of a call made with `caller`.
    pub fn of_caller(origin: &'a RequestOrigin, caller: &Caller) -> Self {
        Facts {
            origin,
            project_id: caller.project_id().clone(),
            environment: Some(caller.environment().clone()),
            actor: actor_of(caller),
            connection_id: None,
            connector: None,
        }
    }

    /// The facts of a call made with secret key `key`.
    pub fn of_key(origin: &'a RequestOrigin, key: &SecretKeyLookup) -> Self {
        Facts::of_caller(origin, &Caller::SecretKey(key.clone()))
    }

    /// The event of `action`, ending in `outcome` (`ok` or a code).
    pub fn event(self, action: AuditAction, outcome: &str) -> AuditEvent {
        AuditEvent {
            id: event_id(),
            at_ms: now_ms(),
            project_id: self.project_id,
            environment: self.environment,
            action,
            actor_kind: self.actor.0,
            actor_id: self.actor.1,
            connection_id: self.connection_id,
            connector: self.connector,
            outcome: outcome.to_owned(),
            source_ip: self.origin.ip.clone(),
            user_agent: self.origin.user_agent.clone(),
            detail: Default::default(),
        }
    }
}

/// The outcome word of a result: `ok`, or the error's code.
pub fn outcome<T>(result: &Result<T, ApiError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.code.as_str().to_owned(),
    }
}

/// `answer`, carrying `event` for the access-log layer.
pub fn attach(answer: impl IntoResponse, event: AuditEvent) -> Response {
    let mut response = answer.into_response();
    response.extensions_mut().insert(PendingAudit(event));
    response
}

/// The answer of `result`, carrying the event of `action` with its outcome.
pub fn respond<T: IntoResponse>(facts: Facts<'_>, action: AuditAction, result: Result<T, ApiError>) -> Response {
    let event = facts.event(action, &outcome(&result));
    attach(result, event)
}
