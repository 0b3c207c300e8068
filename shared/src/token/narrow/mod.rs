//! Tokens narrowed to what the caller asked for (scopes, RFC 8707 resources, RFC 9396 authorization
//! details, a GitHub App token's repositories and permissions), where the provider can mint them.
//!
//! - [`plan`]: which of the connector's ways (the catalog's `narrowing`) fit an ask.
//! - [`cache`]: one item per (connection, narrowing) with its own sealed token, expiry and lease,
//!   so narrowed tokens are single-flight like full ones and never touch the connection item the
//!   plain token path reads.
//! - [`mint`]: the provider calls; a narrowing refresh runs under the connection's refresh lease
//!   and stores a rotated refresh token on the connection.
//!
//! A narrowed token never replaces the connection's full grant. What it can do ([`Granted`]) is
//! what the provider said (its `scope`, its authorization details, GitHub's permissions and
//! repositories), or what was asked where the provider honours an ask by contract; a provider that
//! grants more than was asked is treated as one that cannot narrow.

pub(super) mod cache;
pub(super) mod mint;
pub mod plan;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::clock::Timestamp;
use crate::model::{Connection, Connector, Granted, Narrowing, NarrowingAsk, Stored};
use crate::oauth::TokenSet;
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::token::TokenError;
use plan::{Call, Mint};

/// What a token request asked to narrow, and what it got: exposed on the issued token
/// (`IssuedToken::narrowing`) for the audit trail, and logged (never a token).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NarrowingAudit {
    /// What the caller asked for.
    pub requested: NarrowingAsk,
    /// Whether it would take a broader token where the provider cannot narrow.
    pub allow_broader: bool,
    /// What happened.
    pub outcome: NarrowingOutcome,
    /// The connector's ways the token was narrowed by (empty unless narrowed).
    pub ways: Vec<Narrowing>,
    /// What the returned token can do.
    pub granted: Granted,
    /// Whether a provider call minted it for this request (false: the narrowed-token cache).
    pub minted: bool,
    /// The provider's refusal, when it would not narrow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<String>,
}

/// How a narrowing ask was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NarrowingOutcome {
    /// A token narrowed as asked.
    Narrowed,
    /// The connection's own token already is what was asked (the same scopes).
    Exact,
    /// The provider cannot narrow so; the connection's full token was returned (`allow_broader`).
    Broader,
}

impl NarrowingOutcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NarrowingOutcome::Narrowed => "narrowed",
            NarrowingOutcome::Exact => "exact",
            NarrowingOutcome::Broader => "broader",
        }
    }
}

/// Why no narrowed token was minted.
#[derive(Debug)]
pub(super) enum Failed {
    /// The provider would not narrow this way (its error code).
    Refused(String),
    /// Anything else, as the caller is told.
    Token(TokenError),
}

impl Failed {
    /// A provider's refusal, by its error code; anything that is not shaped like an OAuth error
    /// code is not repeated to callers or logs.
    fn refused(error: String) -> Self {
        let code = !error.is_empty() && error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        Failed::Refused(if code { error } else { "provider_refused".into() })
    }
}

/// A narrowed token, ready to hand out.
#[derive(Debug)]
pub(super) struct Narrowed {
    pub access_token: SecretString,
    pub token_type: String,
    pub expires_at: Option<Timestamp>,
    pub granted: Granted,
    pub ways: Vec<Narrowing>,
    pub metadata: Map<String, Value>,
    pub minted: bool,
}

/// A provider's answer and what it grants.
struct Minted {
    tokens: TokenSet,
    granted: Granted,
    metadata: Map<String, Value>,
}

/// The token `mint` narrows `stored`'s connection to, from the cache or the provider.
pub(super) async fn narrowed(ports: &Ports, connector: &Connector, stored: &Stored<Connection>, ask: &NarrowingAsk, mint: &Mint) -> Result<Narrowed, Failed> {
    cache::narrowed(ports, connector, stored, &ask.hash(), mint).await
}

/// What the minted token can do, and its metadata; a provider that granted more than was asked
/// did not narrow.
fn granted_by(call: &Call, tokens: &TokenSet, connection: &Connection) -> Result<(Granted, Map<String, Value>), Failed> {
    let broader = || Failed::Refused("broader_than_asked".into());
    let scopes_within = |asked: &Option<Vec<String>>, granted: &[String]| asked.as_ref().is_none_or(|asked| granted.iter().all(|g| asked.contains(g)));
    // RFC 6749: a response without `scope` granted what was asked, or the grant's own scopes.
    let scopes = |asked: &Option<Vec<String>>| tokens.scopes.clone().or_else(|| asked.clone()).unwrap_or_else(|| connection.scopes.clone());
    let granted = match call {
        Call::Refresh { scopes: asked, resources, authorization_details } => Granted {
            scopes: scopes(asked),
            resources: resources.clone(),
            // RFC 9396: a response without them granted what was asked.
            authorization_details: tokens
                .authorization_details
                .clone()
                .or_else(|| authorization_details.as_deref().and_then(|d| serde_json::from_str(d).ok()))
                .unwrap_or_default(),
        },
        Call::Exchange { scopes: asked, resources } => Granted { scopes: scopes(asked), resources: resources.clone(), authorization_details: Vec::new() },
        Call::ClientCredentials { scopes: asked } => Granted { scopes: scopes(&Some(asked.clone())), ..Granted::default() },
        Call::Github { repositories, permissions } => return github_granted(repositories.as_deref(), permissions, tokens),
    };
    let asked = match call {
        Call::Refresh { scopes, .. } | Call::Exchange { scopes, .. } => scopes.clone(),
        Call::ClientCredentials { scopes } => Some(scopes.clone()),
        Call::Github { .. } => None,
    };
    if !scopes_within(&asked, &granted.scopes) {
        return Err(broader());
    }
    Ok((granted, Map::new()))
}

/// A GitHub installation token grants the permissions and repositories GitHub answered with.
fn github_granted(
    asked_repositories: Option<&[String]>,
    asked: &std::collections::BTreeMap<String, String>,
    tokens: &TokenSet,
) -> Result<(Granted, Map<String, Value>), Failed> {
    let permissions: Vec<String> = tokens
        .extra
        .get("permissions")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, level)| format!("{name}:{}", level.as_str().unwrap_or_default()))
        .collect();
    let repositories: Vec<String> =
        tokens.extra.get("repositories").and_then(Value::as_array).into_iter().flatten().filter_map(|r| r.as_str().map(str::to_owned)).collect();
    if !plan::github_within(asked_repositories, asked, &repositories, &permissions) {
        return Err(Failed::Refused("broader_than_asked".into()));
    }
    let mut detail = json!({"type": plan::GITHUB_DETAIL_TYPE, "permissions": permissions});
    if asked_repositories.is_some() {
        detail["repositories"] = json!(repositories);
    }
    Ok((Granted { scopes: permissions, resources: Vec::new(), authorization_details: vec![detail] }, tokens.extra.clone()))
}

/// The `tracing` event every answered narrowing ask gets: what was asked and what was granted.
pub(super) fn log(connection: &Connection, connector: &Connector, audit: &NarrowingAudit) {
    let ways: Vec<&str> = audit.ways.iter().map(|w| w.as_str()).collect();
    let (requested, granted) = (audit.requested.to_json(), serde_json::to_string(&audit.granted).unwrap_or_default());
    tracing::info!(
        connection_id = %connection.id,
        connector = %connector.uid,
        outcome = audit.outcome.as_str(),
        ways = %ways.join(","),
        minted = audit.minted,
        allow_broader = audit.allow_broader,
        provider_error = audit.provider_error.as_deref().unwrap_or(""),
        requested = %requested,
        granted = %granted,
        "token narrowing"
    );
}
