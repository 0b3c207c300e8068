//! The audit trail, a page at a time: `GET /v1/audit` for the calling secret key's project
//! environment, newest first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{Client, Error, Page};

/// The filters of a listing of the trail; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditParams {
    /// Only this action (`token_issued`, `proxy_call`, `credentials_imported`, ...).
    pub action: Option<String>,
    /// Only events about this connection (`conn_...`).
    pub connection_id: Option<String>,
    /// Only events at or after this instant (sent as Unix seconds).
    pub since: Option<OffsetDateTime>,
    /// Only events before this instant (sent as Unix seconds).
    pub until: Option<OffsetDateTime>,
    /// Events per page, 1 to 100 (the server's 50 when `None`).
    pub limit: Option<usize>,
}

impl AuditParams {
    /// Only `action`.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Only events about `connection_id`.
    pub fn connection(mut self, connection_id: impl Into<String>) -> Self {
        self.connection_id = Some(connection_id.into());
        self
    }

    /// Only events at or after `since`, and before `until` when given.
    pub fn between(mut self, since: Option<OffsetDateTime>, until: Option<OffsetDateTime>) -> Self {
        self.since = since;
        self.until = until;
        self
    }

    /// `limit` events per page.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// One event of the trail. Never a secret, a token or a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// `aud_...`, unique.
    pub id: String,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
    /// What happened (`token_issued`, `proxy_call`, `connection_created`, ...).
    pub action: String,
    /// Who acted: `secret_key`, `oidc`, `connection_token`, `end_user` or `operator`.
    pub actor_kind: String,
    /// Which one of them: a key id, `iss` and `sub`, a connection id, a consumer id, `cli`.
    pub actor_id: String,
    /// `ok`, or the stable error code of the refusal.
    pub outcome: String,
    /// The project.
    #[serde(default)]
    pub project_id: String,
    /// The environment, when the action had one.
    #[serde(default)]
    pub environment: Option<String>,
    /// The connection concerned.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// The connector concerned.
    #[serde(default)]
    pub connector: Option<String>,
    /// The caller's address, when it came over HTTP.
    #[serde(default)]
    pub source_ip: Option<String>,
    /// The caller's user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// What else the action has to say (a proxy call's method, host, path, status), as sent.
    #[serde(default)]
    pub detail: Map<String, Value>,
}

impl AuditEvent {
    /// When it happened.
    pub fn at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.at_ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl Client {
    /// One page of the trail (a secret key of the project environment, not one bound to an end
    /// user: [`Error::SubjectNotAllowed`]), after `cursor`, the previous page's `next_cursor`.
    pub async fn audit_list(&self, params: &AuditParams, cursor: Option<&str>) -> Result<Page<AuditEvent>, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|_| Error::Transport("base URL cannot have a path".into()))?.pop_if_empty().extend(["v1", "audit"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(action) = &params.action {
                query.append_pair("action", action);
            }
            if let Some(connection) = &params.connection_id {
                query.append_pair("connection_id", connection);
            }
            if let Some(since) = params.since {
                query.append_pair("since", &since.unix_timestamp().to_string());
            }
            if let Some(until) = params.until {
                query.append_pair("until", &until.unix_timestamp().to_string());
            }
            if let Some(limit) = params.limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let body = self.send(self.http.get(url)).await?;
        serde_json::from_value(body).map_err(|e| Error::Transport(format!("unexpected audit page: {e}")))
    }

    /// Every page of the trail that `params` selects, following `next_cursor`.
    pub async fn all_audit(&self, params: &AuditParams) -> Result<Vec<AuditEvent>, Error> {
        let (mut all, mut cursor, mut seen) = (Vec::new(), None::<String>, std::collections::HashSet::new());
        loop {
            let page = self.audit_list(params, cursor.as_deref()).await?;
            all.extend(page.data);
            match page.next_cursor {
                // A server answering the same cursor twice would otherwise loop for ever.
                Some(next) if !seen.insert(next.clone()) => return Err(Error::Transport("Latchkey answered the same cursor twice".into())),
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}
