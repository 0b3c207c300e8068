//! The sandbox's API, the calls a client makes with an access token (`GET /sandbox/api/me`, a list
//! of items), and RFC 7009 revocation.

use serde::Deserialize;
use serde_json::{json, Value};

use super::token::revoke_grant;
use super::{authenticate_client, clients, ClientCredentials, OAuthCode, SandboxError};
use crate::model::{SandboxAccess, SandboxGrant, SandboxRefresh, Stored};
use crate::ports::Ports;
use crate::secret::SecretString;

/// Who an access token acts for, once checked.
#[derive(Debug, Clone)]
pub struct Access {
    /// The account.
    pub account: String,
    /// The client.
    pub client_id: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Its grant.
    pub grant_id: String,
}

impl Access {
    fn require(&self, scope: &'static str) -> Result<(), SandboxError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(SandboxError::InsufficientScope(scope))
        }
    }

    /// The account's stable id: derived from its name, so it is the same in every grant.
    fn user_id(&self) -> String {
        let digest = SecretString::new(self.account.clone()).sha256_hex();
        format!("sbx_user_{}", &digest[..16])
    }
}

/// Checks a bearer access token: known, live, its grant not revoked, its client not switched off.
pub async fn authenticate(ports: &Ports, bearer: Option<&SecretString>) -> Result<Access, SandboxError> {
    let token = bearer.filter(|t| !t.expose().is_empty() && t.expose().len() <= 256).ok_or(SandboxError::InvalidToken)?;
    let access = Stored::<SandboxAccess>::get(ports.store.as_ref(), &SandboxAccess::key_of(&token.sha256_hex())).await?.map(|s| s.record);
    let access = access.filter(|a| a.valid_until > ports.clock.now()).ok_or(SandboxError::InvalidToken)?;
    let grant = Stored::<SandboxGrant>::get(ports.store.as_ref(), &SandboxGrant::key_of(&access.grant_id)).await?;
    if grant.is_none_or(|g| g.record.revoked) {
        return Err(SandboxError::InvalidToken);
    }
    let client = clients::client(ports, &access.client_id).await?.ok_or(SandboxError::InvalidToken)?;
    if client.switches.unavailable {
        return Err(SandboxError::Unavailable);
    }
    Ok(Access { account: access.account, client_id: access.client_id, scopes: access.scopes, grant_id: access.grant_id })
}

/// `GET /sandbox/api/me` (scope `profile`).
pub fn me(access: &Access) -> Result<Value, SandboxError> {
    access.require("profile")?;
    Ok(json!({"id": access.user_id(), "name": access.account, "client_id": access.client_id, "scopes": access.scopes}))
}

/// `GET /sandbox/api/items` (scope `items:read`): the account's items, the same on every call.
pub fn items(access: &Access) -> Result<Value, SandboxError> {
    access.require("items:read")?;
    let names = ["Welcome note", "Quarterly report", "Design sketch"];
    let data: Vec<Value> =
        names.iter().enumerate().map(|(i, name)| json!({"id": format!("item_{}", i + 1), "name": name, "owner": access.user_id()})).collect();
    Ok(json!({"data": data}))
}

/// The revocation endpoint's form (RFC 7009 2.1).
#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    /// The token to revoke.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// `access_token` or `refresh_token`; a hint only.
    #[serde(default)]
    pub token_type_hint: Option<String>,
    /// The client, when it authenticates in the form.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret, when it authenticates in the form.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
}

/// Revokes a token of the authenticated client. A refresh token ends its whole grant (RFC 7009
/// 2.1: the access tokens of the same grant too); an access token ends alone. An unknown token,
/// or another client's, is not an error (RFC 7009 2.2), and changes nothing.
pub async fn revoke(ports: &Ports, form: RevokeForm, basic: Option<ClientCredentials>) -> Result<(), SandboxError> {
    let credentials = match basic {
        Some(_) if form.client_secret.is_some() => return Err(SandboxError::oauth(OAuthCode::InvalidRequest, "use one client authentication method")),
        Some(basic) => basic,
        None => ClientCredentials { client_id: form.client_id.clone(), secret: form.client_secret.clone() },
    };
    let client = authenticate_client(ports, &credentials).await?;
    if client.switches.unavailable {
        return Err(SandboxError::Unavailable);
    }
    let token = form.token.as_ref().ok_or_else(|| SandboxError::oauth(OAuthCode::InvalidRequest, "token is required"))?;
    let hash = token.sha256_hex();
    if let Some(refresh) = Stored::<SandboxRefresh>::get(ports.store.as_ref(), &SandboxRefresh::key_of(&hash)).await? {
        if refresh.record.client_id == client.client_id {
            revoke_grant(ports, &refresh.record.grant_id).await?;
        }
        return Ok(());
    }
    if let Some(access) = Stored::<SandboxAccess>::get(ports.store.as_ref(), &SandboxAccess::key_of(&hash)).await? {
        if access.record.client_id == client.client_id {
            let _ = ports.store.delete_if(&SandboxAccess::key_of(&hash), crate::store::DeleteCondition::Exists).await;
        }
    }
    Ok(())
}
