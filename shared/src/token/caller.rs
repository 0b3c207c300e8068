//! Who is asking for a token.

use super::{oidc, TokenError};
use crate::model::{ConnectionAccessToken, EnvironmentName, ProjectId, SecretKey, SecretKeyLookup, Stored};
use crate::secret::SecretString;
use crate::state::AppState;

/// An authenticated caller of the token broker.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A project secret key: may ask for the app subject, or for the user it is bound to.
    SecretKey(SecretKeyLookup),
    /// A connection access token from the link exchange: its own connection only.
    Connection(ConnectionAccessToken),
    /// An OIDC token from an issuer the project trusts: any user of its project.
    Oidc {
        /// The project.
        project_id: ProjectId,
        /// The environment its claims name.
        environment: EnvironmentName,
        /// The token's `sub`, for logs.
        subject: String,
    },
}

impl Caller {
    /// The caller's project.
    pub fn project_id(&self) -> &ProjectId {
        match self {
            Caller::SecretKey(key) => &key.project_id,
            Caller::Connection(token) => &token.project_id,
            Caller::Oidc { project_id, .. } => project_id,
        }
    }

    /// The caller's environment.
    pub fn environment(&self) -> &EnvironmentName {
        match self {
            Caller::SecretKey(key) => &key.environment,
            Caller::Connection(token) => &token.environment,
            Caller::Oidc { environment, .. } => environment,
        }
    }
}

/// Authenticates a bearer credential; callers are cached per instance for a minute.
pub async fn authenticate(state: &AppState, presented: Option<SecretString>) -> Result<Caller, TokenError> {
    let presented = presented.ok_or(TokenError::Unauthenticated)?;
    let hash = presented.sha256_hex();
    if let Some(caller) = state.caches.callers.get(&hash) {
        return Ok(caller);
    }
    let raw = presented.expose();
    let caller = if raw.starts_with(crate::model::SECRET_KEY_PREFIX) {
        SecretKey::authenticate(state.store.as_ref(), &presented).await?.map(Caller::SecretKey)
    } else if raw.starts_with(ConnectionAccessToken::PREFIX) && raw.len() <= 128 {
        Stored::<ConnectionAccessToken>::get(state.store.as_ref(), &ConnectionAccessToken::key_of(&hash)).await?.map(|s| Caller::Connection(s.record))
    } else if raw.matches('.').count() == 2 {
        // OIDC tokens expire; they are verified every time rather than cached past their `exp`.
        return oidc::verify(state, raw).await;
    } else {
        None
    };
    let caller = caller.ok_or(TokenError::Unauthenticated)?;
    state.caches.callers.insert(hash, caller.clone());
    Ok(caller)
}
