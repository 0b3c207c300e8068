//! OIDC caller tokens: a JWT from an issuer a project trusts (placeholder until trusted issuers
//! are configured; every JWT is refused).

use super::caller::Caller;
use super::TokenError;
use crate::state::AppState;

/// Verifies an OIDC JWT against the trusted issuers of the project it names.
pub async fn verify(_state: &AppState, _jwt: &str) -> Result<Caller, TokenError> {
    Err(TokenError::Unauthenticated)
}
