//! Revoking a connection's grant at the provider (RFC 7009): when a connection is deleted or
//! disconnected, and when a new link replaces its grant.

use crate::model::{Connection, Connector, RevocationScope, TokenAuthMethod};
use crate::oauth::Credentials;
use crate::ports::Ports;

/// Revokes `credentials` of `connection` at the connector's revocation endpoint: the refresh token
/// (which takes its access tokens with it) or else the access token. Returns whether the provider
/// confirmed. A failure is logged, not fatal: what the caller does next happens either way.
pub async fn revoke(ports: &Ports, connection: &Connection, connector: &Connector, credentials: &Credentials) -> bool {
    let Some(oauth) = &connector.oauth else { return false };
    let Some(template) = &oauth.revoke_url else { return false };
    // Templated endpoints (a tenant's own host) are filled from the connection's checked fields.
    let revoke_url = match crate::fields::fill(template, &connection.fields) {
        Ok(url) => url.to_string(),
        Err(error) => {
            tracing::warn!(connection_id = %connection.id, %error, "revocation URL cannot be filled");
            return false;
        }
    };
    let (token, hint) = match (&credentials.refresh_token, &credentials.access_token) {
        (Some(refresh), _) => (refresh.clone(), "refresh_token"),
        (None, Some(access)) => (access.clone(), "access_token"),
        _ => return false,
    };
    let Some(client_id) = connector.client_id.as_deref() else { return false };
    let secret = match &connector.client_secret {
        Some(s) => ports.keyring.open_str(&Connector::client_secret_binding(&connector.uid), s).await.ok(),
        None => None,
    };
    let mut form = vec![("token", token.as_str()), ("token_type_hint", hint)];
    let basic = match (oauth.token_auth, &secret) {
        (TokenAuthMethod::ClientSecretBasic, Some(secret)) => Some((client_id, secret)),
        (_, secret) => {
            form.push(("client_id", client_id));
            if let Some(secret) = secret {
                form.push(("client_secret", secret.expose()));
            }
            None
        }
    };
    match ports.outbound.post_form(&revoke_url, &form, basic).await {
        Ok(response) if response.status == 200 => true,
        Ok(response) => {
            tracing::warn!(connection_id = %connection.id, status = response.status, "revocation refused");
            false
        }
        Err(error) => {
            tracing::warn!(connection_id = %connection.id, %error, "revocation failed");
            false
        }
    }
}

/// Revokes the grant a new link replaced, once the new one is stored. Skipped when the provider
/// handed back the same tokens (revoking them would end the new grant), and when its revocation
/// ends the account's whole authorization (a re-link of the same account shares it).
pub async fn revoke_replaced(ports: &Ports, connection: &Connection, connector: &Connector, old: &Credentials, new: &Credentials) -> bool {
    let shared = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    if shared(&old.refresh_token, &new.refresh_token) || shared(&old.access_token, &new.access_token) {
        return false;
    }
    if connector.oauth.as_ref().is_some_and(|o| o.revocation_scope == RevocationScope::Grant) {
        tracing::info!(connection_id = %connection.id, connector = %connector.uid, "replaced grant not revoked: the provider revokes whole authorizations");
        return false;
    }
    let revoked = revoke(ports, connection, connector, old).await;
    tracing::info!(connection_id = %connection.id, connector = %connector.uid, revoked, "replaced grant revoked at the provider");
    revoked
}
