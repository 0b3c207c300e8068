//! The token endpoint (RFC 6749 sections 4.1.3 and 6): a code redeemed once, with its PKCE
//! verifier and exact redirect URI; a refresh token used once and replaced, where a second use of
//! a spent one revokes the whole grant (reuse detection, RFC 9700 4.14.2).

use serde::Deserialize;
use serde_json::{json, Value};

use super::{authenticate_client, mint, pkce_matches, save_expiring, ClientCredentials, OAuthCode, SandboxError, SCOPES};
use crate::model::{Record, SandboxAccess, SandboxClient, SandboxCode, SandboxCodeUsed, SandboxGrant, SandboxRefresh, Stored};
use crate::ports::Ports;
use crate::secret::{random_id, SecretString};
use crate::store::{RecordError, StoreError};

/// How long a used code is remembered, so a second redemption is seen.
const USED_CODE_MEMORY_SECS: i64 = 600;

/// The token endpoint's form.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    /// `authorization_code` or `refresh_token`.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// The code.
    #[serde(default)]
    pub code: Option<SecretString>,
    /// The redirect URI the code was issued for.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    #[serde(default)]
    pub code_verifier: Option<SecretString>,
    /// The refresh token.
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// On a refresh: fewer scopes than the grant holds.
    #[serde(default)]
    pub scope: Option<String>,
    /// The client, when it authenticates in the form.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret, when it authenticates in the form.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
}

/// Tokens issued; they print `[redacted]` until put in the answer.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access_token: SecretString,
    /// The refresh token that replaces the one presented.
    pub refresh_token: SecretString,
    /// The access token's lifetime.
    pub expires_in: i64,
    /// What the access token may do.
    pub scopes: Vec<String>,
}

impl Issued {
    /// The RFC 6749 5.1 answer.
    pub fn to_json(&self) -> Value {
        json!({
            "access_token": self.access_token.expose(),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token.expose(),
            "scope": self.scopes.join(" "),
        })
    }
}

fn required<'a, T>(value: &'a Option<T>, name: &str) -> Result<&'a T, SandboxError> {
    value.as_ref().ok_or_else(|| SandboxError::oauth(OAuthCode::InvalidRequest, format!("{name} is required")))
}

/// The client's credentials: HTTP basic or the form, not both (RFC 6749 2.3).
fn credentials(form: &TokenForm, basic: Option<ClientCredentials>) -> Result<ClientCredentials, SandboxError> {
    match basic {
        Some(_) if form.client_secret.is_some() => Err(SandboxError::oauth(OAuthCode::InvalidRequest, "use one client authentication method")),
        Some(basic) if form.client_id.as_ref().is_some_and(|id| Some(id) != basic.client_id.as_ref()) => {
            Err(SandboxError::oauth(OAuthCode::InvalidRequest, "client_id differs from the authenticated client"))
        }
        Some(basic) => Ok(basic),
        None => Ok(ClientCredentials { client_id: form.client_id.clone(), secret: form.client_secret.clone() }),
    }
}

/// Answers a token request.
pub async fn exchange(ports: &Ports, form: TokenForm, basic: Option<ClientCredentials>) -> Result<Issued, SandboxError> {
    let client = authenticate_client(ports, &credentials(&form, basic)?).await?;
    if client.switches.unavailable {
        return Err(SandboxError::Unavailable);
    }
    match form.grant_type.as_deref() {
        Some("authorization_code") => redeem(ports, &client, &form).await,
        Some("refresh_token") => refresh(ports, &client, &form).await,
        Some(_) => Err(SandboxError::oauth(OAuthCode::UnsupportedGrantType, "grant_type must be authorization_code or refresh_token")),
        None => Err(SandboxError::oauth(OAuthCode::InvalidRequest, "grant_type is required")),
    }
}

/// Redeems a code: once, by the client it was issued to, for the same redirect URI, with the
/// verifier of its challenge. A code presented again revokes the grant the first use started.
async fn redeem(ports: &Ports, client: &SandboxClient, form: &TokenForm) -> Result<Issued, SandboxError> {
    let code = required(&form.code, "code")?;
    let redirect_uri = required(&form.redirect_uri, "redirect_uri")?;
    let verifier = required(&form.code_verifier, "code_verifier (PKCE)")?;
    let hash = code.sha256_hex();
    let Some(item) = ports.store.take(&SandboxCode::key_of(&hash)).await? else {
        if let Some(used) = Stored::<SandboxCodeUsed>::get(ports.store.as_ref(), &SandboxCodeUsed::key_of(&hash)).await? {
            revoke_grant(ports, &used.record.grant_id).await?;
            return Err(SandboxError::grant("the code was already used; the tokens it gave are revoked"));
        }
        return Err(SandboxError::grant("the code is invalid or expired"));
    };
    let issued = Stored::<SandboxCode>::from_item(item)?.record;
    if issued.client_id != client.client_id || &issued.redirect_uri != redirect_uri {
        return Err(SandboxError::grant("the code was issued to another client or redirect URI"));
    }
    if !pkce_matches(verifier.expose(), &issued.code_challenge) {
        return Err(SandboxError::grant("code_verifier does not match the code_challenge"));
    }
    let now = ports.clock.now();
    let grant = SandboxGrant {
        grant_id: random_id("sbx_grant"),
        client_id: client.client_id.clone(),
        account: issued.account.clone(),
        scopes: issued.scopes.clone(),
        revoked: false,
        refreshes: 0,
        created_at: now,
    };
    ports.store.put_if_absent(&grant.to_item()?).await?;
    let used = SandboxCodeUsed { hash, grant_id: grant.grant_id.clone() };
    ports.store.put(&used.to_item()?.expiring_at(now.plus_secs(USED_CODE_MEMORY_SECS))).await?;
    issue(ports, client, &grant, grant.scopes.clone()).await
}

/// Mints an access token for `scopes` and a refresh token for the grant.
async fn issue(ports: &Ports, client: &SandboxClient, grant: &SandboxGrant, scopes: Vec<String>) -> Result<Issued, SandboxError> {
    let now = ports.clock.now();
    let access_token = mint("sbx_at_");
    let expires_at = now.plus_secs(client.access_token_lifetime_secs);
    let access = SandboxAccess {
        hash: access_token.sha256_hex(),
        grant_id: grant.grant_id.clone(),
        client_id: client.client_id.clone(),
        scopes: scopes.clone(),
        account: grant.account.clone(),
        valid_until: expires_at,
    };
    ports.store.put_if_absent(&access.to_item()?.expiring_at(expires_at)).await?;
    let refresh_token = mint("sbx_rt_");
    let refresh = SandboxRefresh { hash: refresh_token.sha256_hex(), grant_id: grant.grant_id.clone(), client_id: client.client_id.clone(), used: false };
    ports.store.put_if_absent(&refresh.to_item()?.expiring_at(now.plus_secs(SandboxRefresh::LIFETIME_SECS))).await?;
    Ok(Issued { access_token, refresh_token, expires_in: client.access_token_lifetime_secs, scopes })
}

/// Rotates a refresh token: the one presented is spent, a new one replaces it. A spent one
/// presented again (by a thief, or by the client after a thief) revokes the grant.
async fn refresh(ports: &Ports, client: &SandboxClient, form: &TokenForm) -> Result<Issued, SandboxError> {
    let presented = required(&form.refresh_token, "refresh_token")?;
    let key = SandboxRefresh::key_of(&presented.sha256_hex());
    let mut stored = Stored::<SandboxRefresh>::get(ports.store.as_ref(), &key).await?.ok_or_else(|| SandboxError::grant("the refresh token is invalid"))?;
    if stored.record.client_id != client.client_id {
        return Err(SandboxError::grant("the refresh token was issued to another client"));
    }
    if stored.record.used {
        revoke_grant(ports, &stored.record.grant_id).await?;
        return Err(SandboxError::grant("the refresh token was already used; the grant is revoked"));
    }
    let grant = Stored::<SandboxGrant>::get(ports.store.as_ref(), &SandboxGrant::key_of(&stored.record.grant_id)).await?.map(|g| g.record);
    let grant = grant.filter(|g| !g.revoked).ok_or_else(|| SandboxError::grant("the grant was revoked"))?;
    if client.switches.fail_refresh {
        return Err(SandboxError::grant("the sandbox client is switched to fail refreshes"));
    }
    let scopes = narrowed(form.scope.as_deref(), &grant.scopes)?;
    stored.record.used = true;
    let keep_until = ports.clock.now().plus_secs(SandboxRefresh::LIFETIME_SECS);
    match save_expiring(ports, &mut stored, keep_until).await {
        Ok(()) => {}
        // Another request spent it first: two uses of one refresh token.
        Err(StoreError::ConditionFailed) => {
            revoke_grant(ports, &grant.grant_id).await?;
            return Err(SandboxError::grant("the refresh token was already used; the grant is revoked"));
        }
        Err(e) => return Err(e.into()),
    }
    let issued = issue(ports, client, &grant, scopes).await?;
    count_refresh(ports, &grant.grant_id).await?;
    Ok(issued)
}

/// The scopes a refresh asks for: a subset of the grant's (RFC 6749 section 6), or all of them.
fn narrowed(raw: Option<&str>, granted: &[String]) -> Result<Vec<String>, SandboxError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(granted.to_vec()) };
    let asked: Vec<String> = raw.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if asked.iter().any(|s| !granted.contains(s) || !SCOPES.contains(&s.as_str())) {
        return Err(SandboxError::oauth(OAuthCode::InvalidScope, "a refresh may ask only for scopes the grant holds"));
    }
    Ok(asked)
}

/// Ends a grant: every access and refresh token of it stops working.
pub async fn revoke_grant(ports: &Ports, grant_id: &str) -> Result<(), SandboxError> {
    change_grant(ports, grant_id, |grant| grant.revoked = true).await
}

async fn count_refresh(ports: &Ports, grant_id: &str) -> Result<(), SandboxError> {
    change_grant(ports, grant_id, |grant| grant.refreshes = grant.refreshes.saturating_add(1)).await
}

async fn change_grant(ports: &Ports, grant_id: &str, change: impl Fn(&mut SandboxGrant)) -> Result<(), SandboxError> {
    for _ in 0..5 {
        let Some(mut stored) = Stored::<SandboxGrant>::get(ports.store.as_ref(), &SandboxGrant::key_of(grant_id)).await? else { return Ok(()) };
        change(&mut stored.record);
        match stored.save(ports.store.as_ref()).await {
            Err(RecordError::Store(StoreError::ConditionFailed)) => continue,
            other => return other.map_err(Into::into),
        }
    }
    Err(StoreError::ConditionFailed.into())
}
