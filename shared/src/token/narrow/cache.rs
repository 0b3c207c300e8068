//! The narrowed-token cache: one item per (connection, narrowing), read once per request, and
//! single-flight under a lease of its own. Exactly one request at a time (on any instance) mints
//! the narrowing's next token; the others wait on the item, as callers wait on a refresh, and are
//! served what the holder wrote. A failure is written too and answered until its `retry_at`, so a
//! provider that refuses or fails is called once, not once per waiting request.

use std::time::Duration;

use super::{granted_by, Failed, Minted, Narrowed};
use crate::clock::Timestamp;
use crate::model::{Connection, Connector, MintFailure, NarrowedToken, Record, RefreshLease, Stored};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::secret::{random_id, SecretString};
use crate::store::{RecordError, StoreError};
use crate::token::narrow::plan::Mint;
use crate::token::refresh::{buffer_for_lifetime, LEASE_SECS, MAX_WAIT_PAUSE, WAIT_FOR_OTHERS_SECS};
use crate::token::TokenError;

/// How long a provider's refusal to narrow is answered without asking it again.
const REFUSAL_SECS: i64 = 60;

/// The narrowed token for `narrowing` (an ask's hash) of `stored`'s connection: the cached one
/// while it is not due, or one minted as `mint` says under the item's lease.
pub(super) async fn narrowed(ports: &Ports, connector: &Connector, stored: &Stored<Connection>, narrowing: &str, mint: &Mint) -> Result<Narrowed, Failed> {
    let connection = &stored.record;
    let key = NarrowedToken::key_of(&connection.id, narrowing);
    let started = ports.clock.now();
    let mut pause = Duration::from_millis(50);
    loop {
        let now = ports.clock.now();
        let current = Stored::<NarrowedToken>::get(ports.store.as_ref(), &key).await.map_err(token)?;
        if let Some(item) = current.as_ref().filter(|c| c.record.grant_generation == connection.grant_generation) {
            if serves(&item.record, connector, now) {
                return open(ports, &item.record).await;
            }
            if let Some(failure) = remembered(&item.record, now) {
                return Err(failure);
            }
        }
        if let Some(until) = current.as_ref().and_then(|c| c.record.lease.as_ref()).map(|l| l.until).filter(|until| *until > now) {
            if now.0 - started.0 > WAIT_FOR_OTHERS_SECS {
                return Err(Failed::Token(TokenError::RefreshWaitTimeout { retry_after: (until.0 - now.0).max(1) as u64 }));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_WAIT_PAUSE);
            continue;
        }
        let holder = random_id("lease");
        if let Some(held) = claim(ports, current, connection, narrowing, &holder, now).await? {
            return mint_under_lease(ports, connector, stored, held, mint).await;
        }
    }
}

fn token(error: RecordError) -> Failed {
    Failed::Token(error.into())
}

/// Whether the item's token can be handed out at `now`: minted, and not yet within its refresh
/// buffer (the connector's, at most a third of the token's lifetime, as for a full token).
fn serves(item: &NarrowedToken, connector: &Connector, now: Timestamp) -> bool {
    let buffer = buffer_for_lifetime(item.token_lifetime_secs(), connector);
    item.credentials.is_some() && item.token_expires_at.is_some_and(|at| at.0 - buffer > now.0)
}

/// The failure the item remembers, while it is to be answered.
fn remembered(item: &NarrowedToken, now: Timestamp) -> Option<Failed> {
    let retry_after = (item.retry_at.filter(|at| *at > now)?.0 - now.0).max(1) as u64;
    Some(match item.failure.as_ref()? {
        MintFailure::Refused { error } => Failed::Refused(error.clone()),
        MintFailure::Unavailable => Failed::Token(TokenError::UpstreamUnavailable { retry_after }),
        MintFailure::RateLimited => Failed::Token(TokenError::RateLimited { retry_after }),
    })
}

async fn open(ports: &Ports, item: &NarrowedToken) -> Result<Narrowed, Failed> {
    let sealed = item.credentials.as_ref().ok_or_else(|| token(RecordError::Corrupt("narrowed token".into())))?;
    let opened = ports.keyring.open(&item.credentials_binding(), sealed).await.map_err(|e| Failed::Token(e.into()))?;
    let credentials = Credentials::from_opened(opened.expose()).ok_or_else(|| token(RecordError::Corrupt("narrowed token".into())))?;
    let access_token = credentials.access_token.clone().map(SecretString::new).ok_or_else(|| token(RecordError::Corrupt("narrowed token".into())))?;
    Ok(Narrowed {
        access_token,
        token_type: credentials.token_type.clone().unwrap_or_else(|| "Bearer".into()),
        expires_at: item.token_expires_at.filter(|_| !item.token_expiry_assumed),
        granted: item.granted.clone(),
        ways: item.ways.clone(),
        metadata: item.metadata.clone(),
        minted: false,
    })
}

/// Takes the item's lease by a conditional write (creating the item if there is none); `None`
/// when another request wrote it first.
async fn claim(
    ports: &Ports,
    current: Option<Stored<NarrowedToken>>,
    connection: &Connection,
    narrowing: &str,
    holder: &str,
    now: Timestamp,
) -> Result<Option<Stored<NarrowedToken>>, Failed> {
    let (mut record, version) = match current {
        Some(stored) => (stored.record, Some(stored.version)),
        None => (NarrowedToken::empty(connection.id.clone(), connection.project_id.clone(), narrowing.to_owned(), connection.grant_generation, now), None),
    };
    record.lease = Some(RefreshLease { holder: holder.to_owned(), until: now.plus_secs(LEASE_SECS) });
    record.failure = None;
    record.retry_at = None;
    record.updated_at = now;
    match write(ports, &record, version).await {
        Ok(version) => Ok(Some(Stored { record, version })),
        Err(RecordError::Store(StoreError::ConditionFailed)) => Ok(None),
        Err(e) => Err(token(e)),
    }
}

/// Writes the item, created (`version` none) or over `version`, expiring once nothing in it is of
/// use; the new version.
async fn write(ports: &Ports, record: &NarrowedToken, version: Option<u64>) -> Result<u64, RecordError> {
    let mut item = record.to_item()?;
    if let Some(at) = record.expires_at() {
        item = item.expiring_at(at);
    }
    match version {
        None => ports.store.put_if_absent(&item).await.map(|()| item.version).map_err(Into::into),
        Some(version) => {
            item.version = version;
            ports.store.put_if_version(&item).await.map_err(Into::into)
        }
    }
}

/// Mints under the held lease, writes the token (or the failure) and releases the lease.
async fn mint_under_lease(
    ports: &Ports,
    connector: &Connector,
    stored: &Stored<Connection>,
    held: Stored<NarrowedToken>,
    mint: &Mint,
) -> Result<Narrowed, Failed> {
    let connection = &stored.record;
    let outcome = match super::mint::mint(ports, connector, stored.clone(), &mint.call).await {
        Ok(tokens) => granted_by(&mint.call, &tokens, connection).map(|(granted, metadata)| Minted { tokens, granted, metadata }),
        Err(failed) => Err(failed),
    };
    let mut record = held.record;
    record.lease = None;
    record.updated_at = ports.clock.now();
    record.grant_generation = connection.grant_generation;
    let minted = match outcome {
        Ok(minted) => minted,
        Err(failed) => {
            remember(&mut record, &failed, ports.clock.now());
            if let Err(e) = write(ports, &record, Some(held.version)).await {
                tracing::warn!(connection_id = %connection.id, error = %e, "could not record a failed narrowing");
            }
            return Err(failed);
        }
    };
    let mut credentials = Credentials::default();
    credentials.access_token = Some(minted.tokens.access_token.expose().to_owned());
    credentials.token_type = Some(minted.tokens.token_type.clone());
    record.credentials = Some(ports.keyring.seal(&record.credentials_binding(), &credentials.to_sealable()).await.map_err(|e| Failed::Token(e.into()))?);
    record.token_expires_at = Some(minted.tokens.expires_at);
    record.token_issued_at = Some(minted.tokens.obtained_at);
    record.token_expiry_assumed = !minted.tokens.expiry_from_provider;
    record.granted = minted.granted.clone();
    record.ways = mint.ways.clone();
    record.metadata = minted.metadata.clone();
    // Lost only if the lease lapsed under a live holder; the token is still this caller's.
    if let Err(e) = write(ports, &record, Some(held.version)).await {
        tracing::warn!(connection_id = %connection.id, error = %e, "a narrowed token was minted but not cached");
    }
    Ok(Narrowed {
        access_token: minted.tokens.access_token.clone(),
        token_type: minted.tokens.token_type.clone(),
        expires_at: Some(minted.tokens.expires_at).filter(|_| minted.tokens.expiry_from_provider),
        granted: minted.granted,
        ways: mint.ways.clone(),
        metadata: minted.metadata,
        minted: true,
    })
}

/// Puts a failure on the item for the waiting callers (and the next ones) to be answered.
fn remember(record: &mut NarrowedToken, failed: &Failed, now: Timestamp) {
    let (failure, wait) = match failed {
        Failed::Refused(error) => (MintFailure::Refused { error: error.clone() }, REFUSAL_SECS),
        Failed::Token(TokenError::UpstreamUnavailable { retry_after }) => (MintFailure::Unavailable, *retry_after as i64),
        Failed::Token(TokenError::RateLimited { retry_after }) => (MintFailure::RateLimited, *retry_after as i64),
        Failed::Token(_) => return,
    };
    record.failure = Some(failure);
    record.retry_at = Some(now.plus_secs(wait.max(1)));
}
