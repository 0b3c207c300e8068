//! Fresh credentials for a connection, refreshed at most once at a time across every instance.
//!
//! A token that expires within the connector's buffer is refreshed under a *lease*: a conditional
//! write of `refresh_lease` on the connection item, fenced by its version. Exactly one instance
//! wins the lease and calls the provider; the others wait and re-read. The winner writes the new
//! tokens (a rotated refresh token included, or the old one kept when the provider sends none)
//! before anyone is answered. The lease lasts longer than the provider call can take, so it never
//! lapses under a live holder. A provider that is down puts the connection on a growing cooldown
//! instead of being called by every request; `invalid_grant` is believed only after a re-read shows
//! nobody else refreshed meanwhile.

use std::collections::BTreeMap;
use std::time::Duration;

use super::grant::{self, Grant, GrantFailure};
use super::TokenError;
use crate::clock::Timestamp;
use crate::events::{self, EventType};
use crate::model::{AuthMode, Connection, ConnectionState, Connector, Record, RefreshLease, Stored, SubjectType};
use crate::oauth::Credentials;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::StoreError;
use serde_json::json;

/// Longer than the provider client can take (3 attempts of at most 10 s, plus backoff).
pub const LEASE_SECS: i64 = 60;
/// How long a request waits for another instance's refresh before giving up.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(20);
/// First cooldown after a provider failure; doubles per failure up to [`MAX_COOLDOWN_SECS`].
const BASE_COOLDOWN_SECS: i64 = 15;
const MAX_COOLDOWN_SECS: i64 = 600;

/// Whether the connection's token must be refreshed before it is handed out.
pub fn needs_refresh(connection: &Connection, connector: &Connector, now: Timestamp) -> bool {
    let buffer = connector.oauth.as_ref().map_or(crate::model::DEFAULT_REFRESH_BUFFER_SECS, |o| o.refresh_buffer_secs);
    match connector.auth_mode {
        AuthMode::ApiKey | AuthMode::Basic => false,
        mode if mode.is_machine() && connection.credentials.is_none() => true,
        _ => connection.token_expires_at.is_some_and(|at| at.0 - buffer <= now.0),
    }
}

/// The connection's credentials, refreshed first if they are about to expire.
pub async fn fresh_credentials(state: &AppState, connector: &Connector, stored: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    refresh_if(state, connector, stored, |connection, now| needs_refresh(connection, connector, now)).await
}

/// Refreshes the connection's credentials now, under the same lease (the background keep-alive of
/// refresh tokens that die when unused).
pub async fn force_refresh(state: &AppState, connector: &Connector, stored: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    let version = stored.version;
    // Refresh unless someone else already wrote the item since it was read.
    refresh_if(state, connector, stored, move |connection, _| connection.refresh_lease.is_none() && version > 0).await
}

async fn refresh_if(
    state: &AppState,
    connector: &Connector,
    mut stored: Stored<Connection>,
    due: impl Fn(&Connection, Timestamp) -> bool,
) -> Result<(Connection, Credentials), TokenError> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    let first_version = stored.version;
    loop {
        let now = state.clock.now();
        let still_due = due(&stored.record, now) && (stored.version == first_version || needs_refresh(&stored.record, connector, now));
        if !still_due {
            let credentials = open(state, &stored.record).await?;
            return Ok((stored.record, credentials));
        }
        if let Some(retry_at) = stored.record.refresh_retry_at.filter(|at| *at > now) {
            return Err(TokenError::UpstreamUnavailable { retry_after: (retry_at.0 - now.0).max(1) as u64 });
        }
        let held_by_other = stored.record.refresh_lease.as_ref().is_some_and(|lease| lease.until > now);
        if held_by_other {
            if started.elapsed() > WAIT_FOR_OTHERS {
                return Err(TokenError::UpstreamUnavailable { retry_after: 5 });
            }
            // Someone else is refreshing: wait and read again instead of calling the provider.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(400));
            stored = reread(state, &stored.record).await?;
            continue;
        }
        let holder = random_id("lease");
        let mut claimed = stored.clone();
        claimed.record.refresh_lease = Some(RefreshLease { holder, until: now.plus_secs(LEASE_SECS) });
        match claimed.save(state.store.as_ref()).await {
            Ok(()) => return refresh_under_lease(state, connector, claimed).await,
            Err(crate::model::RecordError::Store(StoreError::ConditionFailed)) => {
                stored = reread(state, &stored.record).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn reread(state: &AppState, connection: &Connection) -> Result<Stored<Connection>, TokenError> {
    Stored::<Connection>::get(state.store.as_ref(), &connection.key()).await?.ok_or_else(|| authorization_required(connection))
}

/// What a caller is told when a connection is gone or dead.
pub fn authorization_required(connection: &Connection) -> TokenError {
    match (connection.subject.kind, &connection.subject.id) {
        (SubjectType::User, Some(user)) => TokenError::UserAuthorizationRequired {
            connector: connection.connector.to_string(),
            user_id: user.clone(),
            connection_id: Some(connection.id.clone()),
        },
        _ => TokenError::InstallationRequired { connector: connection.connector.to_string() },
    }
}

async fn open(state: &AppState, connection: &Connection) -> Result<Credentials, TokenError> {
    let sealed = connection.credentials.as_ref().ok_or_else(|| authorization_required(connection))?;
    let opened = state.keyring.open(&connection.credentials_binding(), sealed).await?;
    Credentials::from_opened(opened.expose()).ok_or_else(|| TokenError::Record(crate::model::RecordError::Corrupt("credentials".into())))
}

/// The connection's field values (subdomain, tenant) that its connector's URLs name.
fn field_values(connection: &Connection, connector: &Connector) -> BTreeMap<String, String> {
    connector.fields.iter().filter_map(|f| connection.metadata.get(&f.name).and_then(|v| v.as_str()).map(|v| (f.name.clone(), v.to_owned()))).collect()
}

async fn refresh_under_lease(state: &AppState, connector: &Connector, held: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    let previous = match held.record.credentials {
        Some(_) => Some(open(state, &held.record).await?),
        None => None,
    };
    let outcome = request_grant(state, connector, &held.record, previous.as_ref()).await;
    let mut held = held;
    held.record.refresh_lease = None;
    match outcome {
        Ok(tokens) => on_refreshed(state, held, &tokens, previous.as_ref()).await,
        Err(GrantFailure::Refused(error)) => on_refused(state, connector, held, error).await,
        Err(failure) => on_failure(state, connector, held, failure).await,
    }
}

/// The provider call a connection's auth mode asks for.
async fn request_grant(
    state: &AppState,
    connector: &Connector,
    connection: &Connection,
    previous: Option<&Credentials>,
) -> Result<crate::oauth::TokenSet, GrantFailure> {
    let fields = field_values(connection, connector);
    match connector.auth_mode {
        AuthMode::ClientCredentials => grant::request(state, connector, Grant::ClientCredentials(&connector.default_scopes), &fields).await,
        AuthMode::GithubApp => {
            let installation = connection.installation_id.clone().unwrap_or_default();
            grant::request(state, connector, Grant::GithubInstallation(&installation), &fields).await
        }
        AuthMode::JwtBearer => {
            let subject = connection.subject.id.clone().or_else(|| connector.client_id.clone()).unwrap_or_default();
            grant::request(state, connector, Grant::JwtBearer { subject: &subject, scopes: &connector.default_scopes }, &fields).await
        }
        _ => match previous.and_then(|p| p.refresh_token.clone()) {
            Some(refresh_token) => grant::request(state, connector, Grant::Refresh(&refresh_token), &fields).await,
            // Expired with nothing to refresh it by: only a new authorization helps.
            None => Err(GrantFailure::Refused("no_refresh_token".into())),
        },
    }
}

/// New tokens: sealed and written (releasing the lease) before anyone is answered.
async fn on_refreshed(
    state: &AppState,
    mut held: Stored<Connection>,
    tokens: &crate::oauth::TokenSet,
    previous: Option<&Credentials>,
) -> Result<(Connection, Credentials), TokenError> {
    let credentials = Credentials::from_tokens(tokens, previous);
    let record = &mut held.record;
    record.credentials = Some(state.keyring.seal(&record.credentials_binding(), &credentials.to_sealable()).await?);
    record.token_expires_at = Some(tokens.expires_at);
    if let Some(scopes) = tokens.scopes.clone() {
        record.scopes = scopes;
    }
    record.metadata.extend(tokens.extra.clone());
    let recovered = record.refresh_failures > 0;
    record.refresh_failures = 0;
    record.refresh_retry_at = None;
    record.state = ConnectionState::Callable;
    record.updated_at = state.clock.now();
    held.save(state.store.as_ref()).await?;
    tracing::info!(connection_id = %held.record.id, recovered, rotated = tokens.refresh_token.is_some(), "token refreshed");
    if recovered {
        events::emit(state, EventType::TokenRefreshRecovered, &held.record, json!({})).await;
    }
    Ok((held.record, credentials))
}

/// The provider refused the grant. Another instance may have refreshed with the same (now rotated)
/// refresh token after our lease lapsed: `invalid_grant` is believed only if the item did not move.
async fn on_refused(state: &AppState, connector: &Connector, mut held: Stored<Connection>, error: String) -> Result<(Connection, Credentials), TokenError> {
    let current = reread(state, &held.record).await?;
    if current.version != held.version {
        return Box::pin(fresh_credentials(state, connector, current)).await;
    }
    held.record.state = ConnectionState::Invalid;
    held.record.updated_at = state.clock.now();
    held.save(state.store.as_ref()).await?;
    tracing::warn!(connection_id = %held.record.id, error = %error, "refresh refused; connection invalid");
    events::emit(state, EventType::TokenRefreshFailed, &held.record, json!({"reason": "refused", "error": error})).await;
    events::emit(state, EventType::ConnectionInvalid, &held.record, json!({})).await;
    if error == "installation_not_found" {
        return Err(TokenError::InstallationRequired { connector: held.record.connector.to_string() });
    }
    Err(TokenError::TokenRefreshFailed {
        connection_id: held.record.id.clone(),
        user_id: held.record.subject.id.clone(),
        connector: held.record.connector.to_string(),
    })
}

/// The provider is down, rate limiting, or the connector cannot make the call: the lease is
/// released, and a cooldown keeps the next requests from hammering the provider.
async fn on_failure(
    state: &AppState,
    connector: &Connector,
    mut held: Stored<Connection>,
    failure: GrantFailure,
) -> Result<(Connection, Credentials), TokenError> {
    let now = state.clock.now();
    let error = match failure {
        GrantFailure::RateLimited { retry_after } => {
            let wait = retry_after.unwrap_or(30).clamp(1, 3600) as i64;
            held.record.refresh_retry_at = Some(now.plus_secs(wait));
            TokenError::RateLimited { retry_after: wait as u64 }
        }
        GrantFailure::Unavailable { retry_after } => {
            held.record.refresh_failures += 1;
            let cooldown = (BASE_COOLDOWN_SECS << (held.record.refresh_failures - 1).min(6)).min(MAX_COOLDOWN_SECS);
            let wait = retry_after.map_or(cooldown, |r| (r as i64).max(cooldown));
            held.record.refresh_retry_at = Some(now.plus_secs(wait));
            TokenError::UpstreamUnavailable { retry_after: wait as u64 }
        }
        GrantFailure::Misconfigured(detail) => TokenError::Record(crate::model::RecordError::Corrupt(format!("connector {}: {detail}", connector.uid))),
        GrantFailure::Keyring(e) => e.into(),
        GrantFailure::Refused(_) => unreachable!("handled by on_refused"),
    };
    held.save(state.store.as_ref()).await?;
    if let TokenError::UpstreamUnavailable { .. } = error {
        tracing::warn!(connection_id = %held.record.id, failures = held.record.refresh_failures, "provider unavailable; cooling down");
        let detail = json!({"reason": "unavailable", "failures": held.record.refresh_failures});
        events::emit(state, EventType::TokenRefreshFailed, &held.record, detail).await;
    }
    Err(error)
}
