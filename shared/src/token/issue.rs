//! Issuing a provider token: the checks in their documented order, then fresh credentials, or a
//! token narrowed to what the caller asked for (`token::narrow`).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::caller::Caller;
use super::narrow::plan::{self, Plan};
use super::narrow::{self, Failed, Narrowed, NarrowingAudit, NarrowingOutcome};
use super::refresh::{authorization_required, fresh_credentials};
use super::TokenError;
use crate::clock::Timestamp;
use crate::model::{
    AuthMode, AuthorizationDetails, Connection, ConnectionId, ConnectionState, Connector, ConnectorUid, ConsumerId, Granted, InstallationId, NarrowingAsk,
    Record, Resources, Scopes, Stored, Subject, SubjectType,
};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::StoreError;

/// The body of `POST /v1/token/{connector}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Whose token.
    pub subject: SubjectInput,
    /// The provider installation (app subjects with several installations).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub installation_id: Option<InstallationId>,
    /// Scopes to narrow the token to: a subset of what was granted (for a GitHub App,
    /// permissions such as `contents:read`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<Scopes>,
    /// RFC 8707 resource indicators to narrow the token to: absolute https URIs without a fragment.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub resources: Option<Resources>,
    /// RFC 9396 authorization details to narrow the token to: objects, each with a `type` (for a
    /// GitHub App, `{"type": "github_app_installation", "repositories": [...], "permissions": [...]}`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub authorization_details: Option<AuthorizationDetails>,
    /// Where the provider cannot narrow the token as asked, answer the connection's full token
    /// (its `scopes` say what it can do) instead of `narrowing_unsupported`.
    #[serde(default)]
    pub allow_broader: Option<bool>,
}

/// `{type: "user", id}` or `{type: "app"}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    /// `user` or `app`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: SubjectType,
    /// The user's id, for `user`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub id: Option<ConsumerId>,
}

/// A provider token, ready to use.
#[derive(Debug)]
pub struct IssuedToken {
    /// The provider's access token (or the stored key).
    pub access_token: SecretString,
    /// A user-level token beside it, where the provider grants one (Slack's user token).
    pub user_access_token: Option<SecretString>,
    /// `Bearer`, `api_key` or `basic`.
    pub token_type: String,
    /// When it expires, if it does.
    pub expires_at: Option<Timestamp>,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// The connection it came from.
    pub connection_id: ConnectionId,
    /// The installation, for app connections.
    pub installation_id: Option<InstallationId>,
    /// The connector.
    pub connector: ConnectorUid,
    /// The connector's provider.
    pub provider: String,
    /// What callers need from the provider (instance URL, tenant).
    pub metadata: Map<String, Value>,
    /// For the audit trail: the narrowing asked for and granted; `None` when nothing was asked.
    pub narrowing: Option<NarrowingAudit>,
}

/// Runs the checks in order and answers a fresh token.
pub async fn issue(ports: &Ports, caller: &Caller, uid: &ConnectorUid, request: TokenRequest) -> Result<IssuedToken, TokenError> {
    issue_in_context(ports, caller, uid, request).await.map(|issued| issued.token)
}

/// A token with what it was issued from: the proxy needs the connector's API block and the
/// connection's fields and key.
pub struct Issued {
    /// The token.
    pub token: IssuedToken,
    /// Its connector, as the per-instance cache shares it.
    pub connector: Arc<Connector>,
    /// Its connection, as it was when the token was read or refreshed.
    pub connection: Connection,
}

/// [`issue`], keeping the connector and the connection.
pub async fn issue_in_context(ports: &Ports, caller: &Caller, uid: &ConnectorUid, request: TokenRequest) -> Result<Issued, TokenError> {
    let connector = connector(ports, uid).await?.ok_or_else(|| TokenError::ConnectorNotFound(uid.to_string()))?;
    let link = connector.link_for(caller.project_id()).ok_or_else(|| TokenError::ClientNotLinkedToProject(uid.to_string()))?;
    if !link.environments.contains(caller.environment()) {
        return Err(TokenError::ClientNotEnabledForEnvironment(uid.to_string(), caller.environment().to_string()));
    }
    let subject = subject(caller, &request)?;
    if connector.auth_mode == AuthMode::GithubApp && request.installation_id.as_ref().is_some_and(|id| !id.is_numeric()) {
        return Err(TokenError::InvalidRequest("a GitHub App installation id is a number".into()));
    }
    let key = Connection::key_of(caller.project_id(), caller.environment(), uid, &subject, request.installation_id.as_ref());
    if let Caller::Connection(token) = caller {
        if token.connection_sk != key.sk {
            return Err(TokenError::SubjectNotAllowed("a connection access token is for its own connection only".into()));
        }
    }
    // The warm read may be a moment stale: a stale token is still the provider's until it expires,
    // and any change (a refresh, a lease) is a conditional write that a stale version fails.
    let stored = match Stored::<Connection>::get_eventually(ports.store.as_ref(), &key).await? {
        Some(stored) => stored,
        // Its connection is gone: so is the token.
        None if matches!(caller, Caller::Connection(_)) => return Err(TokenError::Unauthenticated),
        // A GitHub App installation acts on whatever repositories it was granted: only one recorded
        // for this project (by its end user's Connect flow, or by the operator) may be used.
        None if connector.auth_mode == AuthMode::GithubApp => return Err(TokenError::InstallationRequired { connector: uid.to_string() }),
        None if connector.auth_mode.is_machine() && (subject.kind == SubjectType::App || connector.auth_mode == AuthMode::JwtBearer) => {
            let place = crate::model::Scope { project_id: caller.project_id().clone(), environment: caller.environment().clone(), consumer: None };
            install_machine_connection(ports, &place, &connector, &subject, request.installation_id.as_ref()).await?
        }
        None => return Err(missing(uid, &subject)),
    };
    if let Caller::Connection(token) = caller {
        // Bound to its connection and its grant, not to whatever now sits at the same place: a
        // connection made again after this one was deleted, or linked again, does not bring its
        // old tokens back to life.
        if token.connection_id != stored.record.id || token.grant_generation != stored.record.grant_generation {
            return Err(TokenError::Unauthenticated);
        }
    }
    if stored.record.state == ConnectionState::Invalid || stored.record.state == ConnectionState::Added {
        return Err(authorization_required(&stored.record));
    }
    if stored.record.state == ConnectionState::Authorized {
        return Err(TokenError::ConfigurationRequired { connection_id: stored.record.id.to_string() });
    }
    let ask = NarrowingAsk::new(request.scopes, request.resources, request.authorization_details);
    check_granted(&connector, &stored.record, &ask)?;
    deliver(ports, connector, stored, ask, request.allow_broader.unwrap_or(false)).await
}

/// Scopes asked beyond the grant are refused, wherever the connection records what was granted
/// (an OAuth 2.0 grant always does). A GitHub App's scopes are permissions GitHub judges.
fn check_granted(connector: &Connector, connection: &Connection, ask: &NarrowingAsk) -> Result<(), TokenError> {
    let Some(wanted) = &ask.scopes else { return Ok(()) };
    let judged_here = match connector.auth_mode {
        AuthMode::GithubApp => false,
        AuthMode::OAuth2 => true,
        _ => !connection.scopes.is_empty(),
    };
    let missing: Vec<String> = wanted.as_slice().iter().filter(|s| !connection.scopes.contains(s)).cloned().collect();
    match judged_here && !missing.is_empty() {
        true => Err(TokenError::ScopeNotGranted { missing }),
        false => Ok(()),
    }
}

/// The token for `ask`: the connection's own when nothing (or exactly its grant) was asked, a
/// narrowed one where the connector can mint it, or the full one where it cannot and the caller
/// allows a broader token.
async fn deliver(ports: &Ports, connector: Arc<Connector>, stored: Stored<Connection>, ask: NarrowingAsk, allow_broader: bool) -> Result<Issued, TokenError> {
    if ask.is_empty() {
        let (connection, credentials) = fresh_credentials(ports, &connector, stored).await?;
        let token = answer(&connector, &connection, &credentials, None)?;
        return Ok(Issued { token, connector, connection });
    }
    let (outcome, provider_error) = match plan::plan(&connector, &stored.record, &ask)? {
        Plan::Full => (NarrowingOutcome::Exact, None),
        Plan::Mint(mint) => match narrow::narrowed(ports, &connector, &stored, &ask, &mint).await {
            Ok(narrowed) => {
                let token = answer_narrowed(&connector, &stored.record, narrowed, ask, allow_broader);
                return Ok(Issued { token, connector, connection: stored.record });
            }
            Err(Failed::Token(error)) => return Err(error),
            Err(Failed::Refused(error)) => (unsupported(&connector, &stored.record, &ask, &plan_parts(&ask), Some(error.clone()), allow_broader)?, Some(error)),
        },
        Plan::Unsupported(parts) => (unsupported(&connector, &stored.record, &ask, &parts, None, allow_broader)?, None),
    };
    let (connection, credentials) = fresh_credentials(ports, &connector, stored).await?;
    let granted = Granted { scopes: connection.scopes.clone(), ..Granted::default() };
    let audit = NarrowingAudit { requested: ask, allow_broader, outcome, ways: Vec::new(), granted, minted: false, provider_error };
    narrow::log(&connection, &connector, &audit);
    let token = answer(&connector, &connection, &credentials, Some(audit))?;
    Ok(Issued { token, connector, connection })
}

/// Every part of an ask, for a provider that refused it whole.
fn plan_parts(ask: &NarrowingAsk) -> Vec<&'static str> {
    [(ask.scopes.is_some(), "scopes"), (ask.resources.is_some(), "resources"), (ask.authorization_details.is_some(), "authorization_details")]
        .into_iter()
        .filter_map(|(asked, part)| asked.then_some(part))
        .collect()
}

/// `narrowing_unsupported`, unless the caller takes a broader token.
fn unsupported(
    connector: &Connector,
    connection: &Connection,
    ask: &NarrowingAsk,
    parts: &[&str],
    provider_error: Option<String>,
    allow_broader: bool,
) -> Result<NarrowingOutcome, TokenError> {
    if allow_broader {
        return Ok(NarrowingOutcome::Broader);
    }
    let (requested, error) = (ask.to_json(), provider_error.as_deref().unwrap_or(""));
    tracing::info!(connection_id = %connection.id, connector = %connector.uid, outcome = "unsupported", provider_error = error, requested = %requested, "token narrowing");
    Err(TokenError::NarrowingUnsupported {
        connector: connector.uid.to_string(),
        unsupported: parts.iter().map(|p| p.to_string()).collect(),
        offered: connector.narrowing.clone(),
        provider_error,
    })
}

fn answer_narrowed(connector: &Connector, connection: &Connection, narrowed: Narrowed, ask: NarrowingAsk, allow_broader: bool) -> IssuedToken {
    let audit = NarrowingAudit {
        requested: ask,
        allow_broader,
        outcome: NarrowingOutcome::Narrowed,
        ways: narrowed.ways,
        granted: narrowed.granted.clone(),
        minted: narrowed.minted,
        provider_error: None,
    };
    narrow::log(connection, connector, &audit);
    let mut metadata = connection.metadata.clone();
    metadata.extend(narrowed.metadata);
    IssuedToken {
        access_token: narrowed.access_token,
        // A user-level token beside it would carry the full grant's rights.
        user_access_token: None,
        token_type: narrowed.token_type,
        expires_at: narrowed.expires_at,
        scopes: narrowed.granted.scopes,
        connection_id: connection.id.clone(),
        installation_id: connection.installation_id.clone(),
        provider: connector.provider.clone(),
        connector: connector.uid.clone(),
        metadata,
        narrowing: Some(audit),
    }
}

/// The connector, from the per-instance cache (which keeps operator changes within its bound) or
/// the store. The refresh fan-out reads connectors through it too.
pub(crate) async fn connector(ports: &Ports, uid: &ConnectorUid) -> Result<Option<Arc<Connector>>, TokenError> {
    if let Some(connector) = ports.caches.connectors.get(uid, ports.clock.now()) {
        return Ok(Some(connector));
    }
    let connector = Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(uid)).await?.map(|s| Arc::new(s.record));
    if let Some(connector) = &connector {
        ports.caches.connectors.insert(uid.clone(), Arc::clone(connector), ports.clock.now());
    }
    Ok(connector)
}

/// The subject asked for, if this caller may ask for it.
fn subject(caller: &Caller, request: &TokenRequest) -> Result<Subject, TokenError> {
    let subject = match (request.subject.kind, &request.subject.id) {
        (SubjectType::App, None) => Subject::app(),
        (SubjectType::App, Some(_)) => return Err(TokenError::InvalidRequest("an app subject has no id".into())),
        (SubjectType::User, Some(id)) => Subject::user(id.clone()),
        (SubjectType::User, None) => return Err(TokenError::InvalidRequest("a user subject needs an id".into())),
    };
    match caller {
        Caller::SecretKey(key) if subject.kind == SubjectType::User && key.user_id.as_ref() != subject.id.as_ref() => {
            Err(TokenError::SubjectNotAllowed("a secret key may ask for the app, or for the user it is bound to".into()))
        }
        Caller::Oidc { user: Some(user), .. } if subject.id.as_ref() != Some(user) => {
            Err(TokenError::SubjectNotAllowed("this OIDC token may ask only for the user its claims name".into()))
        }
        _ => Ok(subject),
    }
}

fn missing(uid: &ConnectorUid, subject: &Subject) -> TokenError {
    match (&subject.kind, &subject.id) {
        (SubjectType::User, Some(user)) => TokenError::UserAuthorizationRequired { connector: uid.to_string(), user_id: user.to_string(), connection_id: None },
        _ => TokenError::InstallationRequired { connector: uid.to_string() },
    }
}

/// A machine connector (client credentials, JWT bearer) needs no person: its connection is created
/// on first use, and its first token fetched under the refresh lease.
pub(crate) async fn install_machine_connection(
    ports: &Ports,
    caller: &crate::model::Scope,
    connector: &Connector,
    subject: &Subject,
    installation_id: Option<&InstallationId>,
) -> Result<Stored<Connection>, TokenError> {
    let now = ports.clock.now();
    let mut connection = Connection::new(
        ConnectionId::generate(),
        caller.project_id.clone(),
        caller.environment.clone(),
        connector.uid.clone(),
        subject.clone(),
        installation_id.cloned(),
        now,
    );
    // Minted on demand (so never `refreshable`: nothing for the sweep to keep alive).
    connection.scopes = connector.default_scopes.clone();
    match ports.store.put_if_absent(&connection.to_item()?).await {
        Ok(()) => {
            ports.store.put(&crate::model::ConnectionIdIndex::of(&connection).to_item()?).await?;
        }
        Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    Stored::<Connection>::get(ports.store.as_ref(), &connection.key())
        .await?
        .ok_or_else(|| TokenError::InstallationRequired { connector: connector.uid.to_string() })
}

fn answer(connector: &Connector, connection: &Connection, credentials: &Credentials, narrowing: Option<NarrowingAudit>) -> Result<IssuedToken, TokenError> {
    let (access_token, token_type, expires_at) = match connector.auth_mode {
        AuthMode::ApiKey => (credentials.api_key.clone(), "api_key".to_owned(), None),
        AuthMode::Basic => {
            use base64::Engine;
            let pair = format!("{}:{}", credentials.username.as_deref().unwrap_or_default(), credentials.password.as_deref().unwrap_or_default());
            (Some(base64::engine::general_purpose::STANDARD.encode(pair)), "basic".to_owned(), None)
        }
        // What the provider said, never Latchkey's assumption when it said nothing.
        _ => (
            credentials.access_token.clone(),
            credentials.token_type.clone().unwrap_or_else(|| "Bearer".into()),
            connection.token_expires_at.filter(|_| !connection.token_expiry_assumed),
        ),
    };
    let access_token = access_token.ok_or_else(|| authorization_required(connection))?;
    Ok(IssuedToken {
        access_token: SecretString::new(access_token),
        user_access_token: credentials.user_access_token.clone().map(SecretString::new),
        token_type,
        expires_at,
        // What the connection's token can do, never the request echoed back.
        scopes: connection.scopes.clone(),
        connection_id: connection.id.clone(),
        installation_id: connection.installation_id.clone(),
        provider: connector.provider.clone(),
        connector: connector.uid.clone(),
        metadata: connection.metadata.clone(),
        narrowing,
    })
}
