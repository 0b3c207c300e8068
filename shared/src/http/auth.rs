//! Caller authentication for the API routes.

use super::request::bearer;
use super::{ApiError, Request};
use crate::model::{SecretKey, SecretKeyLookup};
use crate::state::AppState;

/// The project environment whose secret key authenticates `request` (one store read).
pub async fn secret_key_caller(state: &AppState, request: &Request) -> Result<SecretKeyLookup, ApiError> {
    let presented = bearer(request).ok_or(ApiError::Unauthenticated)?;
    SecretKey::authenticate(state.store.as_ref(), &presented).await?.ok_or(ApiError::Unauthenticated)
}
