//! Issuing a provider token: the checks in their documented order, then fresh credentials.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::caller::Caller;
use super::refresh::{authorization_required, fresh_credentials};
use super::TokenError;
use crate::clock::Timestamp;
use crate::model::{AuthMode, Connection, ConnectionState, Connector, ConnectorUid, Record, Stored, Subject, SubjectType};
use crate::oauth::Credentials;
use crate::secret::{random_id, SecretString};
use crate::state::AppState;
use crate::store::StoreError;

/// The body of `POST /v1/token/{connector}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Whose token.
    pub subject: SubjectInput,
    /// The provider installation (app subjects with several installations).
    #[serde(default)]
    pub installation_id: Option<String>,
    /// Scopes the token must carry; a subset of what was granted.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `{type: "user", id}` or `{type: "app"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    /// `user` or `app`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: SubjectType,
    /// The user's id, for `user`.
    #[serde(default)]
    pub id: Option<String>,
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
    pub connection_id: String,
    /// The installation, for app connections.
    pub installation_id: Option<String>,
    /// The connector.
    pub connector: ConnectorUid,
    /// The connector's provider.
    pub provider: String,
    /// What callers need from the provider (instance URL, tenant).
    pub metadata: Map<String, Value>,
}

/// Runs the checks in order and answers a fresh token.
pub async fn issue(state: &AppState, caller: &Caller, connector_raw: &str, request: TokenRequest) -> Result<IssuedToken, TokenError> {
    let uid = ConnectorUid::parse(connector_raw).map_err(|_| TokenError::ConnectorNotFound(connector_raw.chars().take(100).collect()))?;
    let connector = connector(state, &uid).await?.ok_or_else(|| TokenError::ConnectorNotFound(uid.to_string()))?;
    let link = connector.link_for(caller.project_id()).ok_or_else(|| TokenError::ClientNotLinkedToProject(uid.to_string()))?;
    if !link.environments.contains(caller.environment()) {
        return Err(TokenError::ClientNotEnabledForEnvironment(uid.to_string(), caller.environment().to_string()));
    }
    let subject = subject(caller, &request)?;
    let key = Connection::key_of(caller.project_id(), caller.environment(), &uid, &subject, request.installation_id.as_deref());
    if let Caller::Connection(token) = caller {
        if token.connection_sk != key.sk {
            return Err(TokenError::SubjectNotAllowed("a connection access token is for its own connection only".into()));
        }
    }
    let stored = match Stored::<Connection>::get(state.store.as_ref(), &key).await? {
        Some(stored) => stored,
        None if connector.auth_mode == AuthMode::GithubApp && request.installation_id.is_none() => {
            return Err(TokenError::InstallationRequired { connector: uid.to_string() });
        }
        None if connector.auth_mode.is_machine() && (subject.kind == SubjectType::App || connector.auth_mode == AuthMode::JwtBearer) => {
            install_machine_connection(state, caller, &connector, &subject, request.installation_id.as_deref()).await?
        }
        None => return Err(missing(&uid, &subject)),
    };
    if stored.record.state == ConnectionState::Invalid || stored.record.state == ConnectionState::Added {
        return Err(authorization_required(&stored.record));
    }
    if stored.record.state == ConnectionState::Authorized {
        return Err(TokenError::ConfigurationRequired { connection_id: stored.record.id.clone() });
    }
    if let Some(wanted) = &request.scopes {
        let missing: Vec<String> = wanted.iter().filter(|s| !stored.record.scopes.contains(s)).cloned().collect();
        if !missing.is_empty() && !connector.auth_mode.is_machine() {
            return Err(TokenError::ScopeNotGranted { missing });
        }
    }
    let (connection, credentials) = fresh_credentials(state, &connector, stored).await?;
    answer(connector, connection, &credentials, request.scopes)
}

/// The connector, from the per-instance cache or the store.
async fn connector(state: &AppState, uid: &ConnectorUid) -> Result<Option<Connector>, TokenError> {
    if let Some(connector) = state.caches.connectors.get(uid) {
        return Ok(Some(connector));
    }
    let connector = Stored::<Connector>::get(state.store.as_ref(), &Connector::key_of(uid)).await?.map(|s| s.record);
    if let Some(connector) = &connector {
        state.caches.connectors.insert(uid.clone(), connector.clone());
    }
    Ok(connector)
}

/// The subject asked for, if this caller may ask for it.
fn subject(caller: &Caller, request: &TokenRequest) -> Result<Subject, TokenError> {
    let subject = match (request.subject.kind, &request.subject.id) {
        (SubjectType::App, None) => Subject { kind: SubjectType::App, id: None },
        (SubjectType::App, Some(_)) => return Err(TokenError::InvalidRequest("an app subject has no id".into())),
        (SubjectType::User, Some(id)) if !id.is_empty() && id.len() <= 256 => Subject::user(id.clone()),
        (SubjectType::User, _) => return Err(TokenError::InvalidRequest("a user subject needs an id".into())),
    };
    if let Some(installation) = &request.installation_id {
        if installation.is_empty() || installation.len() > 128 || installation.chars().any(char::is_control) {
            return Err(TokenError::InvalidRequest("installation_id must be 1 to 128 printable characters".into()));
        }
    }
    match caller {
        Caller::SecretKey(key) if subject.kind == SubjectType::User && key.user_id.as_ref() != subject.id.as_ref() => {
            Err(TokenError::SubjectNotAllowed("a secret key may ask for the app, or for the user it is bound to".into()))
        }
        _ => Ok(subject),
    }
}

fn missing(uid: &ConnectorUid, subject: &Subject) -> TokenError {
    match (&subject.kind, &subject.id) {
        (SubjectType::User, Some(user)) => TokenError::UserAuthorizationRequired { connector: uid.to_string(), user_id: user.clone(), connection_id: None },
        _ => TokenError::InstallationRequired { connector: uid.to_string() },
    }
}

/// A machine connector (client credentials, GitHub App, JWT bearer) needs no person: its
/// connection is created on first use, and its first token fetched under the refresh lease.
async fn install_machine_connection(
    state: &AppState,
    caller: &Caller,
    connector: &Connector,
    subject: &Subject,
    installation_id: Option<&str>,
) -> Result<Stored<Connection>, TokenError> {
    let now = state.clock.now();
    let connection = Connection {
        id: random_id("conn"),
        project_id: caller.project_id().clone(),
        environment: caller.environment().clone(),
        connector: connector.uid.clone(),
        subject: subject.clone(),
        end_user: None,
        installation_id: installation_id.map(str::to_owned),
        state: ConnectionState::Callable,
        credentials: None,
        token_expires_at: None,
        scopes: connector.default_scopes.clone(),
        refresh_lease: None,
        refresh_failures: 0,
        refresh_retry_at: None,
        metadata: Map::new(),
        created_at: now,
        updated_at: now,
    };
    match state.store.put_if_absent(&connection.to_item()?).await {
        Ok(()) => {
            let index =
                crate::model::ConnectionIdIndex { id: connection.id.clone(), project_id: connection.project_id.clone(), connection_sk: connection.key().sk };
            state.store.put(&index.to_item()?).await?;
        }
        Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    Stored::<Connection>::get(state.store.as_ref(), &connection.key())
        .await?
        .ok_or_else(|| TokenError::InstallationRequired { connector: connector.uid.to_string() })
}

fn answer(connector: Connector, connection: Connection, credentials: &Credentials, wanted: Option<Vec<String>>) -> Result<IssuedToken, TokenError> {
    let (access_token, token_type, expires_at) = match connector.auth_mode {
        AuthMode::ApiKey => (credentials.api_key.clone(), "api_key".to_owned(), None),
        AuthMode::Basic => {
            use base64::Engine;
            let pair = format!("{}:{}", credentials.username.as_deref().unwrap_or_default(), credentials.password.as_deref().unwrap_or_default());
            (Some(base64::engine::general_purpose::STANDARD.encode(pair)), "basic".to_owned(), None)
        }
        _ => (credentials.access_token.clone(), credentials.token_type.clone().unwrap_or_else(|| "Bearer".into()), connection.token_expires_at),
    };
    let access_token = access_token.ok_or_else(|| authorization_required(&connection))?;
    Ok(IssuedToken {
        access_token: SecretString::new(access_token),
        user_access_token: credentials.user_access_token.clone().map(SecretString::new),
        token_type,
        expires_at,
        scopes: wanted.unwrap_or_else(|| connection.scopes.clone()),
        connection_id: connection.id,
        installation_id: connection.installation_id,
        provider: connector.provider,
        connector: connector.uid,
        metadata: connection.metadata,
    })
}
