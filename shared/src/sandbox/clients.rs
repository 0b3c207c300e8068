//! The sandbox's clients: registered by an operator (or by `latchkey serve` for its demo), each
//! with a secret shown once, exact redirect URIs, an access-token lifetime and its switches.

use super::{mint, SandboxError, MAX_LIFETIME_SECS, MIN_LIFETIME_SECS};
use crate::model::{Record, SandboxClient, SandboxSwitches, Stored};
use crate::ports::Ports;
use crate::secret::{random_id, SecretString};
use crate::store::StoreError;

/// What registering a client needs.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// What the consent page calls it.
    pub name: String,
    /// The exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// The issuer its responses name: the deployment's base URL and `/sandbox`.
    pub issuer: String,
    /// How long its access tokens live.
    pub access_token_lifetime_secs: i64,
}

/// What may change on a client; `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientChanges {
    /// Refuse every authorization.
    pub deny: Option<bool>,
    /// Refuse every refresh with `invalid_grant`.
    pub fail_refresh: Option<bool>,
    /// Answer 503 at the token, revocation and API endpoints.
    pub unavailable: Option<bool>,
    /// A new access-token lifetime.
    pub access_token_lifetime_secs: Option<i64>,
}

fn invalid(message: impl Into<String>) -> SandboxError {
    SandboxError::Invalid(message.into())
}

fn check_lifetime(secs: i64) -> Result<(), SandboxError> {
    if !(MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&secs) {
        return Err(invalid(format!("the access-token lifetime must be {MIN_LIFETIME_SECS} to {MAX_LIFETIME_SECS} seconds")));
    }
    Ok(())
}

/// A redirect URI must be an absolute http(s) URL without a fragment (RFC 6749 3.1.2); plain http
/// only on loopback.
fn check_redirect_uri(raw: &str) -> Result<(), SandboxError> {
    let refuse = || invalid(format!("redirect URI {raw:?} must be an https URL without a fragment (http only on loopback)"));
    let url = url::Url::parse(raw).map_err(|_| refuse())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || url.fragment().is_some() || raw.len() > 512 || !url.username().is_empty() {
        return Err(refuse());
    }
    Ok(())
}

/// Registers a client; its secret is returned once and stored only as a hash.
pub async fn create_client(ports: &Ports, new: NewClient) -> Result<(SandboxClient, SecretString), SandboxError> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 80 || name.chars().any(char::is_control) {
        return Err(invalid("the client name must be 1 to 80 printable characters"));
    }
    if new.redirect_uris.is_empty() || new.redirect_uris.len() > 10 {
        return Err(invalid("a client has 1 to 10 redirect URIs"));
    }
    new.redirect_uris.iter().try_for_each(|uri| check_redirect_uri(uri))?;
    check_redirect_uri(&new.issuer).map_err(|_| invalid("the issuer must be an https URL (http only on loopback)"))?;
    check_lifetime(new.access_token_lifetime_secs)?;
    let secret = mint("sbx_cs_");
    let client = SandboxClient {
        client_id: random_id("sbx_client"),
        name: name.to_owned(),
        secret_hash: secret.sha256_hex(),
        redirect_uris: new.redirect_uris,
        issuer: new.issuer,
        access_token_lifetime_secs: new.access_token_lifetime_secs,
        switches: SandboxSwitches::default(),
        created_at: ports.clock.now(),
    };
    ports.store.put_if_absent(&client.to_item()?).await?;
    Ok((client, secret))
}

/// The client `client_id`, if it is registered.
pub async fn client(ports: &Ports, client_id: &str) -> Result<Option<SandboxClient>, SandboxError> {
    Ok(Stored::<SandboxClient>::get(ports.store.as_ref(), &SandboxClient::key_of(client_id)).await?.map(|s| s.record))
}

/// Every client, by id.
pub async fn list_clients(ports: &Ports) -> Result<Vec<SandboxClient>, SandboxError> {
    let stored = Stored::<SandboxClient>::query(ports.store.as_ref(), SandboxClient::PARTITION, "CLIENT#").await?;
    Ok(stored.into_iter().map(|s| s.record).collect())
}

/// Changes a client's switches or lifetime: in effect for the next request on every instance (the
/// sandbox reads its client on every request, with no cache).
pub async fn change_client(ports: &Ports, client_id: &str, changes: ClientChanges) -> Result<SandboxClient, SandboxError> {
    if let Some(secs) = changes.access_token_lifetime_secs {
        check_lifetime(secs)?;
    }
    for _ in 0..5 {
        let key = SandboxClient::key_of(client_id);
        let mut stored = Stored::<SandboxClient>::get(ports.store.as_ref(), &key).await?.ok_or_else(|| SandboxError::NotFound(client_id.to_owned()))?;
        let switches = &mut stored.record.switches;
        switches.deny = changes.deny.unwrap_or(switches.deny);
        switches.fail_refresh = changes.fail_refresh.unwrap_or(switches.fail_refresh);
        switches.unavailable = changes.unavailable.unwrap_or(switches.unavailable);
        stored.record.access_token_lifetime_secs = changes.access_token_lifetime_secs.unwrap_or(stored.record.access_token_lifetime_secs);
        match stored.save(ports.store.as_ref()).await {
            Ok(()) => return Ok(stored.record),
            Err(crate::store::RecordError::Store(StoreError::ConditionFailed)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(invalid("the client kept changing; try again"))
}
