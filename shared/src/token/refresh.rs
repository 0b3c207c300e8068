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
use crate::ports::Ports;
use crate::secret::random_id;
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
pub async fn fresh_credentials(ports: &Ports, connector: &Connector, stored: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    refresh_if(ports, connector, stored, |connection, now| needs_refresh(connection, connector, now)).await
}

/// Refreshes the connection's credentials now, under the same lease (the background keep-alive of
/// refresh tokens that die when unused).
pub async fn force_refresh(ports: &Ports, connector: &Connector, stored: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    let version = stored.version;
    // Refresh unless someone else already wrote the item since it was read.
    refresh_if(ports, connector, stored, move |connection, _| connection.refresh_lease.is_none() && version > 0).await
}

async fn refresh_if(
    ports: &Ports,
    connector: &Connector,
    mut stored: Stored<Connection>,
    due: impl Fn(&Connection, Timestamp) -> bool,
) -> Result<(Connection, Credentials), TokenError> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    let first_version = stored.version;
    loop {
        let now = ports.clock.now();
        let still_due = due(&stored.record, now) && (stored.version == first_version || needs_refresh(&stored.record, connector, now));
        if !still_due {
            let credentials = open(ports, &stored.record).await?;
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
            stored = reread(ports, &stored.record).await?;
            continue;
        }
        let holder = random_id("lease");
        let mut claimed = stored.clone();
        claimed.record.refresh_lease = Some(RefreshLease { holder, until: now.plus_secs(LEASE_SECS) });
        match claimed.save(ports.store.as_ref()).await {
            Ok(()) => return refresh_under_lease(ports, connector, claimed).await,
            Err(crate::store::RecordError::Store(StoreError::ConditionFailed)) => {
                stored = reread(ports, &stored.record).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn reread(ports: &Ports, connection: &Connection) -> Result<Stored<Connection>, TokenError> {
    Stored::<Connection>::get(ports.store.as_ref(), &connection.key()).await?.ok_or_else(|| authorization_required(connection))
}

/// What a caller is told when a connection is gone or dead.
pub fn authorization_required(connection: &Connection) -> TokenError {
    match (connection.subject.kind, &connection.subject.id) {
        (SubjectType::User, Some(user)) => TokenError::UserAuthorizationRequired {
            connector: connection.connector.to_string(),
            user_id: user.to_string(),
            connection_id: Some(connection.id.to_string()),
        },
        _ => TokenError::InstallationRequired { connector: connection.connector.to_string() },
    }
}

async fn open(ports: &Ports, connection: &Connection) -> Result<Credentials, TokenError> {
    let sealed = connection.credentials.as_ref().ok_or_else(|| authorization_required(connection))?;
    let opened = ports.keyring.open(&connection.credentials_binding(), sealed).await?;
    Credentials::from_opened(opened.expose()).ok_or_else(|| TokenError::Record(crate::store::RecordError::Corrupt("credentials".into())))
}

/// The values the connector's URLs name: the connection's own checked fields (never its
/// free-form metadata), and its installation.
fn field_values(connection: &Connection) -> BTreeMap<String, String> {
    let mut values = connection.fields.clone();
    if let Some(installation) = &connection.installation_id {
        values.insert(crate::fields::INSTALLATION_ID.to_owned(), installation.to_string());
    }
    values
}

async fn refresh_under_lease(ports: &Ports, connector: &Connector, held: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    let previous = match held.record.credentials {
        Some(_) => Some(open(ports, &held.record).await?),
        None => None,
    };
    let outcome = request_grant(ports, connector, &held.record, previous.as_ref()).await;
    let mut held = held;
    held.record.refresh_lease = None;
    match outcome {
        Ok(tokens) => on_refreshed(ports, held, &tokens, previous.as_ref()).await,
        Err(GrantFailure::Refused(error)) => on_refused(ports, connector, held, error).await,
        Err(failure) => on_failure(ports, connector, held, failure).await,
    }
}

/// The provider call a connection's auth mode asks for.
async fn request_grant(
    ports: &Ports,
    connector: &Connector,
    connection: &Connection,
    previous: Option<&Credentials>,
) -> Result<crate::oauth::TokenSet, GrantFailure> {
    let fields = field_values(connection);
    match connector.auth_mode {
        AuthMode::ClientCredentials => grant::request(ports, connector, Grant::ClientCredentials(&connector.default_scopes), &fields).await,
        AuthMode::GithubApp => {
            let installation = connection.installation_id.as_ref().map(|i| i.as_str()).unwrap_or_default();
            grant::request(ports, connector, Grant::GithubInstallation(installation), &fields).await
        }
        AuthMode::JwtBearer => {
            let subject = connection.subject.id.as_ref().map(|i| i.to_string()).or_else(|| connector.client_id.clone()).unwrap_or_default();
            grant::request(ports, connector, Grant::JwtBearer { subject: &subject, scopes: &connector.default_scopes }, &fields).await
        }
        _ => match previous.and_then(|p| p.refresh_token.clone()) {
            Some(refresh_token) => grant::request(ports, connector, Grant::Refresh(&refresh_token), &fields).await,
            // Expired with nothing to refresh it by: only a new authorization helps.
            None => Err(GrantFailure::Refused("no_refresh_token".into())),
        },
    }
}

/// New tokens: sealed and written (releasing the lease) before anyone is answered.
async fn on_refreshed(
    ports: &Ports,
    mut held: Stored<Connection>,
    tokens: &crate::oauth::TokenSet,
    previous: Option<&Credentials>,
) -> Result<(Connection, Credentials), TokenError> {
    let credentials = Credentials::from_tokens(tokens, previous);
    let record = &mut held.record;
    record.credentials = Some(ports.keyring.seal(&record.credentials_binding(), &credentials.to_sealable()).await?);
    record.token_expires_at = Some(tokens.expires_at);
    if let Some(scopes) = tokens.scopes.clone() {
        record.scopes = scopes;
    }
    record.metadata.extend(tokens.extra.clone());
    let recovered = record.refresh_failures > 0;
    record.refresh_failures = 0;
    record.refresh_retry_at = None;
    record.state = ConnectionState::Callable;
    record.updated_at = ports.clock.now();
    held.save(ports.store.as_ref()).await?;
    tracing::info!(connection_id = %held.record.id, recovered, rotated = tokens.refresh_token.is_some(), "token refreshed");
    if recovered {
        events::emit(ports, EventType::TokenRefreshRecovered, &held.record, json!({})).await;
    }
    Ok((held.record, credentials))
}

/// The provider refused the grant. Another instance may have refreshed with the same (now rotated)
/// refresh token after our lease lapsed: `invalid_grant` is believed only if the item did not move.
async fn on_refused(ports: &Ports, connector: &Connector, mut held: Stored<Connection>, error: String) -> Result<(Connection, Credentials), TokenError> {
    let current = reread(ports, &held.record).await?;
    if current.version != held.version {
        return Box::pin(fresh_credentials(ports, connector, current)).await;
    }
    held.record.state = ConnectionState::Invalid;
    held.record.updated_at = ports.clock.now();
    held.save(ports.store.as_ref()).await?;
    tracing::warn!(connection_id = %held.record.id, error = %error, "refresh refused; connection invalid");
    events::emit(ports, EventType::TokenRefreshFailed, &held.record, json!({"reason": "refused", "error": error})).await;
    events::emit(ports, EventType::ConnectionInvalid, &held.record, json!({})).await;
    if error == "installation_not_found" {
        return Err(TokenError::InstallationRequired { connector: held.record.connector.to_string() });
    }
    Err(TokenError::TokenRefreshFailed {
        connection_id: held.record.id.to_string(),
        user_id: held.record.subject.id.as_ref().map(|u| u.to_string()),
        connector: held.record.connector.to_string(),
    })
}

/// The provider is down, rate limiting, or the connector cannot make the call: the lease is
/// released, and a cooldown keeps the next requests from hammering the provider.
async fn on_failure(
    ports: &Ports,
    connector: &Connector,
    mut held: Stored<Connection>,
    failure: GrantFailure,
) -> Result<(Connection, Credentials), TokenError> {
    let now = ports.clock.now();
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
        GrantFailure::Misconfigured(detail) => TokenError::Record(crate::store::RecordError::Corrupt(format!("connector {}: {detail}", connector.uid))),
        GrantFailure::Keyring(e) => e.into(),
        GrantFailure::Refused(_) => unreachable!("handled by on_refused"),
    };
    held.save(ports.store.as_ref()).await?;
    if let TokenError::UpstreamUnavailable { .. } = error {
        tracing::warn!(connection_id = %held.record.id, failures = held.record.refresh_failures, "provider unavailable; cooling down");
        let detail = json!({"reason": "unavailable", "failures": held.record.refresh_failures});
        events::emit(ports, EventType::TokenRefreshFailed, &held.record, detail).await;
    }
    Err(error)
}
