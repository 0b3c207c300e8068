//! Fresh credentials for a connection, refreshed at most once at a time across every instance.
//!
//! A token that expires within its refresh buffer is refreshed under a *lease*: a conditional
//! write of `refresh_lease` on the connection item, fenced by its version. Exactly one instance
//! wins the lease and calls the provider; the others wait and re-read, and are served the token the
//! winner wrote. The buffer is the connector's, but never more than a third of the token's own
//! lifetime: with a 60-second token and a 5-minute buffer, a token just refreshed would otherwise
//! count as due at once, and every waiter would refresh again. The winner writes the new tokens (a
//! rotated refresh token included, or the old one kept when the provider sends none) before anyone
//! is answered. The lease lasts longer than the provider call can take, so it never lapses under a
//! live holder. A provider that is down puts the connection on a growing cooldown instead of being
//! called by every request; `invalid_grant` is believed only after a re-read shows nobody else
//! refreshed meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::grant::{self, Grant, GrantFailure};
use super::TokenError;
use crate::clock::Timestamp;
use crate::events::{self, EventType};
use crate::model::{AuthMode, Connection, ConnectionState, Connector, Record, RefreshLease, Stored, SubjectType, DEFAULT_REFRESH_BUFFER_SECS};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::secret::random_id;
use crate::store::StoreError;
use serde_json::json;

/// Longer than the provider client can take (3 attempts of at most 10 s, plus backoff).
pub const LEASE_SECS: i64 = 60;
/// How long a request waits for another instance's refresh before giving up, by the clock port
/// (so tests move the clock instead of waiting).
pub(crate) const WAIT_FOR_OTHERS_SECS: i64 = 20;
/// The longest pause between two reads of a connection another instance is refreshing: a waiter
/// is served within this long of the new token being written.
pub(crate) const MAX_WAIT_PAUSE: Duration = Duration::from_millis(400);
/// First cooldown after a provider failure; doubles per failure up to [`MAX_COOLDOWN_SECS`].
const BASE_COOLDOWN_SECS: i64 = 15;
const MAX_COOLDOWN_SECS: i64 = 600;
/// A token is refreshed no earlier than this fraction of its lifetime before it expires.
const LIFETIME_DIVISOR: i64 = 3;

/// How long before expiry the connection's token is refreshed: the connector's buffer, capped at a
/// third of the token's lifetime when it is known, so a token just issued is never due.
pub fn refresh_buffer_secs(connection: &Connection, connector: &Connector) -> i64 {
    buffer_for_lifetime(connection.token_lifetime_secs(), connector)
}

/// The same rule for any token of the connector whose lifetime is `lifetime` (narrowed tokens too).
pub fn buffer_for_lifetime(lifetime: Option<i64>, connector: &Connector) -> i64 {
    let configured = connector.oauth.as_ref().map_or(DEFAULT_REFRESH_BUFFER_SECS, |o| o.refresh_buffer_secs);
    match lifetime {
        Some(lifetime) => configured.min(lifetime / LIFETIME_DIVISOR),
        None => configured,
    }
}

/// Whether the connection's token must be refreshed before it is handed out.
pub fn needs_refresh(connection: &Connection, connector: &Connector, now: Timestamp) -> bool {
    match connector.auth_mode {
        AuthMode::ApiKey | AuthMode::Basic => false,
        mode if mode.is_machine() && connection.credentials.is_none() => true,
        // No refresh token and no expiry from the provider: nothing could renew the token and
        // nothing says it ends (GitHub OAuth apps, Mailchimp, Shopify); it is served until the
        // provider refuses it.
        AuthMode::OAuth2 if !connection.refreshable && connection.token_expiry_assumed => false,
        _ => connection.token_expires_at.is_some_and(|at| at.0 - refresh_buffer_secs(connection, connector) <= now.0),
    }
}

/// The connection's credentials, refreshed first if they are about to expire.
pub async fn fresh_credentials(ports: &Ports, connector: &Connector, stored: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    refresh_if(ports, connector, stored, |connection, now| needs_refresh(connection, connector, now)).await
}

/// Refreshes the connection's credentials now, under the same lease, unless someone else wrote
/// the item since it was read (the sweep's refresh ahead of expiry, and its keep-alive of refresh
/// tokens that die when unused).
pub async fn force_refresh(ports: &Ports, connector: &Connector, stored: Stored<Connection>) -> Result<(Connection, Credentials), TokenError> {
    refresh_if(ports, connector, stored, move |connection, _| connection.refresh_lease.is_none()).await
}

/// Refreshes a token the provider rejected (a 401 from its API), unless it was refreshed since
/// (its issue time moved): of many callers rejected at once, one refreshes and the rest are
/// served what it got.
pub async fn refresh_rejected(
    ports: &Ports,
    connector: &Connector,
    stored: Stored<Connection>,
    rejected_issued_at: Option<Timestamp>,
) -> Result<(Connection, Credentials), TokenError> {
    refresh_if(ports, connector, stored, move |connection, _| connection.token_issued_at == rejected_issued_at).await
}

/// One caller's way through a refresh: when it started, and whether it waited on another holder.
struct Attempt {
    started: Instant,
    started_at: Timestamp,
    waited: bool,
}

impl Attempt {
    fn millis(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

async fn refresh_if(
    ports: &Ports,
    connector: &Connector,
    mut stored: Stored<Connection>,
    due: impl Fn(&Connection, Timestamp) -> bool,
) -> Result<(Connection, Credentials), TokenError> {
    let mut attempt = Attempt { started: Instant::now(), started_at: ports.clock.now(), waited: false };
    let mut pause = Duration::from_millis(50);
    let first_version = stored.version;
    loop {
        let now = ports.clock.now();
        // Once the item has moved, only the token's own state counts: someone else refreshed it.
        let moved = stored.version != first_version;
        let still_due = due(&stored.record, now) && (!moved || needs_refresh(&stored.record, connector, now));
        if !still_due {
            if attempt.waited {
                let (connection_id, waited_ms) = (&stored.record.id, attempt.millis());
                tracing::info!(%connection_id, connector = %connector.uid, waited_ms, outcome = "served_by_other", "token refresh awaited");
            }
            let credentials = open(ports, &stored.record).await?;
            return Ok((stored.record, credentials));
        }
        // Another request found the grant dead while this one waited: only a new link helps.
        if matches!(stored.record.state, ConnectionState::Invalid | ConnectionState::Added) {
            return Err(authorization_required(&stored.record));
        }
        if let Some(retry_at) = stored.record.refresh_retry_at.filter(|at| *at > now) {
            return Err(TokenError::UpstreamUnavailable { retry_after: (retry_at.0 - now.0).max(1) as u64 });
        }
        if let Some(lease) = stored.record.refresh_lease.as_ref().filter(|lease| lease.until > now) {
            if now.0 - attempt.started_at.0 > WAIT_FOR_OTHERS_SECS {
                return Err(gave_up_waiting(&stored.record, connector, &attempt, (lease.until.0 - now.0).max(1) as u64));
            }
            // Someone else is refreshing: wait and read again instead of calling the provider.
            attempt.waited = true;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_WAIT_PAUSE);
            stored = reread(ports, &stored.record).await?;
            continue;
        }
        let holder = random_id("lease");
        let mut claimed = stored.clone();
        claimed.record.refresh_lease = Some(RefreshLease { holder, until: now.plus_secs(LEASE_SECS) });
        match claimed.save(ports.store.as_ref()).await {
            Ok(()) => return refresh_under_lease(ports, connector, claimed, attempt).await,
            Err(crate::store::RecordError::Store(StoreError::ConditionFailed)) => {
                stored = reread(ports, &stored.record).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Another instance held the lease for longer than a caller waits: not a provider failure, so not
/// `upstream_unavailable`.
fn gave_up_waiting(connection: &Connection, connector: &Connector, attempt: &Attempt, retry_after: u64) -> TokenError {
    let (connection_id, waited_ms) = (&connection.id, attempt.millis());
    tracing::warn!(%connection_id, connector = %connector.uid, waited_ms, outcome = "wait_timeout", "gave up waiting for another instance's refresh");
    TokenError::RefreshWaitTimeout { retry_after }
}

pub(crate) async fn reread(ports: &Ports, connection: &Connection) -> Result<Stored<Connection>, TokenError> {
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

pub(crate) async fn open(ports: &Ports, connection: &Connection) -> Result<Credentials, TokenError> {
    let sealed = connection.credentials.as_ref().ok_or_else(|| authorization_required(connection))?;
    let opened = ports.keyring.open(&connection.credentials_binding(), sealed).await?;
    Credentials::from_opened(opened.expose()).ok_or_else(|| TokenError::Record(crate::store::RecordError::Corrupt("credentials".into())))
}

/// The values the connector's URLs name: the connection's own checked fields (never its
/// free-form metadata), and its installation.
pub(crate) fn field_values(connection: &Connection) -> BTreeMap<String, String> {
    let mut values = connection.fields.clone();
    if let Some(installation) = &connection.installation_id {
        values.insert(crate::fields::INSTALLATION_ID.to_owned(), installation.to_string());
    }
    values
}

async fn refresh_under_lease(
    ports: &Ports,
    connector: &Connector,
    held: Stored<Connection>,
    attempt: Attempt,
) -> Result<(Connection, Credentials), TokenError> {
    let leased_at = Instant::now();
    let connection_id = held.record.id.clone();
    let previous = match held.record.credentials {
        Some(_) => Some(open(ports, &held.record).await?),
        None => None,
    };
    let outcome = request_grant(ports, connector, &held.record, previous.as_ref()).await;
    let mut held = held;
    let lease = held.record.refresh_lease.take().map(|lease| lease.holder).unwrap_or_default();
    let result = match outcome {
        Ok(tokens) => on_refreshed(ports, connector, held, &lease, &tokens, previous.as_ref()).await,
        Err(GrantFailure::Refused(error)) => on_refused(ports, connector, held, error).await,
        Err(failure) => on_failure(ports, connector, held, failure).await,
    };
    let (duration_ms, waited) = (leased_at.elapsed().as_millis() as u64, attempt.waited);
    let connector = &connector.uid;
    let outcome = match &result {
        Ok(_) => {
            tracing::info!(%connection_id, %connector, duration_ms, waited, outcome = "refreshed", "token refresh");
            "refreshed"
        }
        Err(error) => {
            let outcome = refresh_outcome(error);
            tracing::warn!(%connection_id, %connector, duration_ms, waited, outcome, "token refresh failed");
            outcome
        }
    };
    ports.metric(crate::metrics::Metric::Refresh { connector: connector.to_string(), outcome });
    result
}

/// The word a refresh log line gives a failure.
fn refresh_outcome(error: &TokenError) -> &'static str {
    match error {
        TokenError::TokenRefreshFailed { .. } | TokenError::InstallationRequired { .. } | TokenError::UserAuthorizationRequired { .. } => "refused",
        TokenError::RateLimited { .. } => "rate_limited",
        TokenError::UpstreamUnavailable { .. } => "unavailable",
        _ => "error",
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

/// New tokens: sealed and written (releasing the lease) before anyone is answered. The provider
/// has rotated the refresh token by now, so these are the grant's only live tokens: if someone wrote
/// the connection meanwhile (a configuration change, an operator's edit) while leaving the lease in
/// place, they are applied to what is there now rather than lost. A connection linked anew or
/// deleted meanwhile no longer carries the lease; its own state is served instead.
async fn on_refreshed(
    ports: &Ports,
    connector: &Connector,
    held: Stored<Connection>,
    lease: &str,
    tokens: &crate::oauth::TokenSet,
    previous: Option<&Credentials>,
) -> Result<(Connection, Credentials), TokenError> {
    let credentials = Credentials::from_tokens(tokens, previous);
    let sealed = ports.keyring.seal(&held.record.credentials_binding(), &credentials.to_sealable()).await?;
    let mut target = held;
    for _ in 0..3 {
        let recovered = target.record.refresh_failures > 0;
        apply_tokens(&mut target.record, sealed.clone(), tokens, ports.clock.now());
        match target.save(ports.store.as_ref()).await {
            Ok(()) => {
                if recovered {
                    events::emit(ports, EventType::TokenRefreshRecovered, &target.record, json!({})).await;
                }
                return Ok((target.record, credentials));
            }
            Err(crate::store::RecordError::Store(StoreError::ConditionFailed)) => {
                let current = reread(ports, &target.record).await?;
                if current.record.refresh_lease.as_ref().is_none_or(|held| held.holder != lease) {
                    tracing::warn!(connection_id = %current.record.id, connector = %connector.uid, "connection replaced while refreshing; its new state is served");
                    return Box::pin(fresh_credentials(ports, connector, current)).await;
                }
                target = current;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(TokenError::Record(StoreError::ConditionFailed.into()))
}

/// Releases the lease a narrowing refresh held (`token::narrow`): the provider answered a
/// narrower access token, which never replaces the connection's own, but a refresh token it
/// rotated is now the grant's only live one and is stored, whatever the narrowing, before anyone
/// is answered. Writes are fenced as in [`on_refreshed`]: a concurrent write that left the lease in
/// place is written over again; a connection linked anew or deleted meanwhile is left alone.
pub(crate) async fn keep_refresh_token(
    ports: &Ports,
    held: Stored<Connection>,
    lease: &str,
    rotated: Option<&crate::secret::SecretString>,
    previous: &Credentials,
) -> Result<(), TokenError> {
    let sealed = match rotated.filter(|r| previous.refresh_token.as_deref() != Some(r.expose())) {
        Some(rotated) => {
            let mut credentials = previous.clone();
            credentials.refresh_token = Some(rotated.expose().to_owned());
            Some(ports.keyring.seal(&held.record.credentials_binding(), &credentials.to_sealable()).await?)
        }
        None => None,
    };
    let mut target = held;
    for _ in 0..3 {
        target.record.refresh_lease = None;
        // The refresh token was used, rotated or not: the grant is as alive as after a refresh.
        target.record.updated_at = ports.clock.now();
        if let Some(sealed) = &sealed {
            target.record.credentials = Some(sealed.clone());
        }
        match target.save(ports.store.as_ref()).await {
            Ok(()) => return Ok(()),
            Err(crate::store::RecordError::Store(StoreError::ConditionFailed)) => {
                let current = reread(ports, &target.record).await?;
                if current.record.refresh_lease.as_ref().is_none_or(|held| held.holder != lease) {
                    tracing::warn!(connection_id = %current.record.id, "connection replaced during a narrowing refresh; its new state is kept");
                    return Ok(());
                }
                target = current;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(TokenError::Record(StoreError::ConditionFailed.into()))
}

/// Puts freshly granted tokens on `record` and releases the lease.
fn apply_tokens(record: &mut Connection, sealed: crate::model::Sealed, tokens: &crate::oauth::TokenSet, now: Timestamp) {
    record.credentials = Some(sealed);
    record.token_expires_at = Some(tokens.expires_at);
    record.token_issued_at = Some(tokens.obtained_at);
    record.token_expiry_assumed = !tokens.expiry_from_provider;
    if let Some(scopes) = tokens.scopes.clone() {
        record.scopes = scopes;
    }
    record.metadata.extend(tokens.extra.clone());
    record.refresh_lease = None;
    record.refresh_failures = 0;
    record.refresh_retry_at = None;
    record.state = ConnectionState::Callable;
    record.updated_at = now;
}

/// The provider refused the grant. Another instance may have refreshed with the same (now rotated)
/// refresh token after our lease lapsed: `invalid_grant` is believed only if the item did not move.
pub(crate) async fn on_refused(
    ports: &Ports,
    connector: &Connector,
    mut held: Stored<Connection>,
    error: String,
) -> Result<(Connection, Credentials), TokenError> {
    let current = reread(ports, &held.record).await?;
    if current.version != held.version {
        return Box::pin(fresh_credentials(ports, connector, current)).await;
    }
    held.record.state = ConnectionState::Invalid;
    held.record.updated_at = ports.clock.now();
    held.save(ports.store.as_ref()).await?;
    tracing::warn!(connection_id = %held.record.id, connector = %held.record.connector, error = %error, "refresh refused; connection invalid");
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
pub(crate) async fn on_failure(
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
        tracing::warn!(connection_id = %held.record.id, connector = %held.record.connector, failures = held.record.refresh_failures, "provider unavailable; cooling down");
        let detail = json!({"reason": "unavailable", "failures": held.record.refresh_failures});
        events::emit(ports, EventType::TokenRefreshFailed, &held.record, detail).await;
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::background::refresh_ahead;

    fn connector(buffer: i64) -> Connector {
        serde_json::from_value(json!({
            "uid": "oidc/test", "provider": "oidc", "created_at": 0, "updated_at": 0,
            "oauth": {"authorize_url": "https://a.example/authorize", "token_url": "https://a.example/token", "refresh_buffer_secs": buffer},
        }))
        .unwrap()
    }

    /// A connection whose token was issued at `issued` and expires at `expires`.
    fn connection(issued: Option<i64>, expires: i64) -> Connection {
        serde_json::from_value(json!({
            "id": "conn_test", "project_id": "prj_test", "environment": "production", "connector": "oidc/test",
            "subject": {"type": "user", "id": "u"}, "state": "callable", "created_at": 0, "updated_at": 0,
            "token_issued_at": issued, "token_expires_at": expires,
        }))
        .unwrap()
    }

    #[test]
    fn the_buffer_is_at_most_a_third_of_the_lifetime_so_a_fresh_token_is_never_due() {
        let slack = connector(300);
        for (lifetime, buffer) in [(30, 10), (60, 20), (300, 100), (3600, 300), (86_400, 300)] {
            let fresh = connection(Some(1000), 1000 + lifetime);
            assert_eq!(refresh_buffer_secs(&fresh, &slack), buffer, "{lifetime} s");
            assert!(!needs_refresh(&fresh, &slack, Timestamp(1000)), "a {lifetime} s token just issued is not due");
            assert!(needs_refresh(&fresh, &slack, Timestamp(1000 + lifetime - buffer)), "due {buffer} s before it expires");
        }
        assert_eq!(refresh_buffer_secs(&connection(Some(1000), 4600), &connector(60)), 60, "a smaller configured buffer wins");
        assert_eq!(refresh_buffer_secs(&connection(None, 4600), &slack), 300, "unknown lifetime: the configured buffer");
        assert!(needs_refresh(&connection(Some(1000), 900), &slack, Timestamp(1000)), "an imported token already expired is due");
    }

    #[test]
    fn the_sweep_refreshes_ahead_only_tokens_that_outlive_its_window() {
        let window = crate::token::background::WINDOW_SECS;
        assert!(!refresh_ahead(&connection(Some(0), 60), Timestamp(30)), "a 60 s token is left to demand");
        assert!(!refresh_ahead(&connection(Some(0), 600), Timestamp(590)));
        assert!(refresh_ahead(&connection(Some(0), 3600), Timestamp(3600 - window)), "a one-hour token, 15 minutes before it expires");
        assert!(!refresh_ahead(&connection(Some(0), 3600), Timestamp(3600 - window - 1)));
        assert!(refresh_ahead(&connection(None, 100), Timestamp(0)), "unknown lifetime (an import): refreshed ahead");
    }
}
