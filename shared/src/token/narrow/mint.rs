//! The provider calls that mint a narrowed token. A narrowing refresh spends the grant's refresh
//! token, which providers that rotate refresh tokens accept exactly once: it is made under the
//! connection's own refresh lease, the one every refresh takes, so it never races a refresh (or
//! another narrowing) with the same refresh token, and a rotated refresh token is stored on the
//! connection before anyone is answered. The other calls (a token exchange of the current access
//! token, client credentials, a GitHub installation token) spend nothing of the grant.

use std::time::Duration;

use super::plan::{self, Call};
use super::Failed;
use crate::model::{Connection, ConnectionState, Connector, RefreshLease, Stored};
use crate::oauth::{Credentials, TokenSet};
use crate::ports::Ports;
use crate::secret::{random_id, SecretString};
use crate::store::{RecordError, StoreError};
use crate::token::grant::{self, Grant, GrantFailure, Narrow};
use crate::token::refresh::{self, authorization_required, fresh_credentials, LEASE_SECS, MAX_WAIT_PAUSE, WAIT_FOR_OTHERS_SECS};
use crate::token::TokenError;

/// Ours, when the grant has no refresh token to narrow with.
const NO_REFRESH_TOKEN: &str = "no_refresh_token";

/// Provider errors that refuse the narrowing, not the grant: the same refresh without the
/// narrowing parameters would have worked.
fn refuses_narrowing(error: &str) -> bool {
    matches!(error, "invalid_scope" | "invalid_target" | "invalid_authorization_details" | "invalid_request" | "unsupported_grant_type" | NO_REFRESH_TOKEN)
}

/// Mints the token `call` describes for `stored`'s connection.
pub(super) async fn mint(ports: &Ports, connector: &Connector, stored: Stored<Connection>, call: &Call) -> Result<TokenSet, Failed> {
    let fields = refresh::field_values(&stored.record);
    let connection = stored.record.clone();
    let outcome = match call {
        Call::Refresh { scopes, resources, authorization_details } => {
            let narrow = Narrow { scopes: scopes.as_deref(), resources, authorization_details: authorization_details.as_deref() };
            return refresh_narrowed(ports, connector, stored, narrow).await;
        }
        Call::Exchange { scopes, resources } => {
            // The current access token, refreshed first if it is due, as any caller would get it.
            let (_, full) = fresh_credentials(ports, connector, stored).await.map_err(Failed::Token)?;
            let subject = full.access_token.clone().map(SecretString::new).ok_or_else(|| Failed::Token(authorization_required(&connection)))?;
            let narrow = Narrow { scopes: scopes.as_deref(), resources, authorization_details: None };
            grant::request(ports, connector, Grant::TokenExchange { subject_token: subject.expose(), narrow }, &fields).await
        }
        Call::ClientCredentials { scopes } => grant::request(ports, connector, Grant::ClientCredentials(scopes), &fields).await,
        Call::Github { repositories, permissions } => {
            let installation_id = connection.installation_id.as_ref().map(|i| i.as_str()).unwrap_or_default();
            let body = plan::github_body(repositories.as_deref(), permissions);
            grant::request(ports, connector, Grant::GithubNarrowed { installation_id, body: &body }, &fields).await
        }
    };
    outcome.map_err(|failure| match failure {
        // The installation is gone: only a new one helps (the next full request records it).
        GrantFailure::Refused(error) if error == "installation_not_found" => {
            Failed::Token(TokenError::InstallationRequired { connector: connector.uid.to_string() })
        }
        // Nothing of the grant was spent: any refusal is the narrowing's.
        GrantFailure::Refused(error) => Failed::refused(error),
        other => Failed::Token(provider_failure(connector, other)),
    })
}

/// A failed call that spent nothing of the grant, as the caller is told.
fn provider_failure(connector: &Connector, failure: GrantFailure) -> TokenError {
    match failure {
        GrantFailure::RateLimited { retry_after } => TokenError::RateLimited { retry_after: retry_after.unwrap_or(30).clamp(1, 3600) },
        GrantFailure::Unavailable { retry_after } => TokenError::UpstreamUnavailable { retry_after: retry_after.unwrap_or(15).clamp(1, 3600) },
        GrantFailure::Misconfigured(detail) => TokenError::Record(RecordError::Corrupt(format!("connector {}: {detail}", connector.uid))),
        GrantFailure::Keyring(e) => e.into(),
        GrantFailure::Refused(error) => TokenError::Record(RecordError::Corrupt(format!("connector {}: refused {error}", connector.uid))),
    }
}

/// A refresh with `narrow`, under the connection's refresh lease.
async fn refresh_narrowed(ports: &Ports, connector: &Connector, stored: Stored<Connection>, narrow: Narrow<'_>) -> Result<TokenSet, Failed> {
    let (mut held, lease) = hold_lease(ports, stored).await.map_err(Failed::Token)?;
    let previous = match refresh::open(ports, &held.record).await {
        Ok(previous) => previous,
        Err(error) => {
            release(ports, held, &lease, None, &Credentials::default()).await?;
            return Err(Failed::Token(error));
        }
    };
    let Some(refresh_token) = previous.refresh_token.clone().map(SecretString::new) else {
        release(ports, held, &lease, None, &previous).await?;
        return Err(Failed::Refused(NO_REFRESH_TOKEN.into()));
    };
    let grant = Grant::NarrowedRefresh { refresh_token: refresh_token.expose(), narrow };
    let outcome = grant::request(ports, connector, grant, &refresh::field_values(&held.record)).await;
    let connection_id = held.record.id.clone();
    // Whatever follows writes the connection without the lease: that write releases it.
    held.record.refresh_lease = None;
    match outcome {
        Ok(tokens) => {
            release(ports, held, &lease, tokens.refresh_token.as_ref(), &previous).await?;
            let rotated = tokens.refresh_token.is_some();
            tracing::info!(%connection_id, connector = %connector.uid, rotated, outcome = "refreshed", "narrowing refresh");
            Ok(tokens)
        }
        Err(GrantFailure::Refused(error)) if refuses_narrowing(&error) => {
            release(ports, held, &lease, None, &previous).await?;
            Err(Failed::refused(error))
        }
        // The grant itself was refused: the connection is dealt with as after any refresh.
        Err(GrantFailure::Refused(error)) => match refresh::on_refused(ports, connector, held, error).await {
            Ok(_) => Err(Failed::Token(TokenError::Record(StoreError::ConditionFailed.into()))),
            Err(error) => Err(Failed::Token(error)),
        },
        Err(failure) => match refresh::on_failure(ports, connector, held, failure).await {
            Ok(_) => Err(Failed::Token(TokenError::Record(StoreError::ConditionFailed.into()))),
            Err(error) => Err(Failed::Token(error)),
        },
    }
}

async fn release(ports: &Ports, held: Stored<Connection>, lease: &str, rotated: Option<&SecretString>, previous: &Credentials) -> Result<(), Failed> {
    refresh::keep_refresh_token(ports, held, lease, rotated, previous).await.map_err(Failed::Token)
}

/// The connection's refresh lease, once no one else holds it: as a refresh takes it (a conditional
/// write fenced by the item's version), waiting on another holder by the clock port for at most
/// as long as a refresh waits. A dead grant or a provider cooling down ends the wait.
async fn hold_lease(ports: &Ports, mut stored: Stored<Connection>) -> Result<(Stored<Connection>, String), TokenError> {
    let started = ports.clock.now();
    let mut pause = Duration::from_millis(50);
    loop {
        let now = ports.clock.now();
        if matches!(stored.record.state, ConnectionState::Invalid | ConnectionState::Added) {
            return Err(authorization_required(&stored.record));
        }
        if let Some(retry_at) = stored.record.refresh_retry_at.filter(|at| *at > now) {
            return Err(TokenError::UpstreamUnavailable { retry_after: (retry_at.0 - now.0).max(1) as u64 });
        }
        if let Some(until) = stored.record.refresh_lease.as_ref().map(|l| l.until).filter(|until| *until > now) {
            if now.0 - started.0 > WAIT_FOR_OTHERS_SECS {
                return Err(TokenError::RefreshWaitTimeout { retry_after: (until.0 - now.0).max(1) as u64 });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_WAIT_PAUSE);
            stored = refresh::reread(ports, &stored.record).await?;
            continue;
        }
        let holder = random_id("lease");
        let mut claimed = stored.clone();
        claimed.record.refresh_lease = Some(RefreshLease { holder: holder.clone(), until: now.plus_secs(LEASE_SECS) });
        match claimed.save(ports.store.as_ref()).await {
            Ok(()) => return Ok((claimed, holder)),
            Err(RecordError::Store(StoreError::ConditionFailed)) => stored = refresh::reread(ports, &stored.record).await?,
            Err(e) => return Err(e.into()),
        }
    }
}
