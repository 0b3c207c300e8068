//! Creating, listing and revoking secret keys.

use super::{project, AdminError};
use crate::model::secret_key::LookupRecord;
use crate::model::{EnvironmentName, Project, ProjectId, Record, SecretKey, Stored};
use crate::secret::SecretString;
use crate::state::AppState;
use crate::store::DeleteCondition;

/// Mints a key for a project environment: the listed record and the key, shown once.
pub async fn create_secret_key(state: &AppState, project_id: &ProjectId, environment: &str) -> Result<(SecretKey, SecretString), AdminError> {
    create_user_secret_key(state, project_id, environment, None).await
}

/// Mints a key, optionally bound to one end user (it may then ask for that user's tokens).
pub async fn create_user_secret_key(
    state: &AppState,
    project_id: &ProjectId,
    environment: &str,
    user_id: Option<String>,
) -> Result<(SecretKey, SecretString), AdminError> {
    if let Some(user) = &user_id {
        if user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
            return Err(AdminError::Invalid("user id must be 1 to 256 printable characters".into()));
        }
    }
    let environment = EnvironmentName::parse(environment)?;
    let project = project(state, project_id).await?.record;
    if !project.has_environment(&environment) {
        return Err(AdminError::NotFound(format!("environment {environment} in project {project_id}")));
    }
    let (mut record, secret) = SecretKey::mint(project.id, environment, state.clock.now());
    record.user_id = user_id;
    // The lookup record goes last: until it exists the key authenticates nothing, so a failure in
    // between leaves at worst a listed key that never worked.
    state.store.put_if_absent(&record.to_item()?).await?;
    state.store.put_if_absent(&LookupRecord::for_key(&record).to_item()?).await?;
    Ok((record, secret))
}

/// Every secret key of a project (never the keys themselves).
pub async fn list_secret_keys(state: &AppState, project_id: &ProjectId) -> Result<Vec<SecretKey>, AdminError> {
    project(state, project_id).await?;
    let stored = Stored::<SecretKey>::query(state.store.as_ref(), &Project::partition_of(project_id), "SECRET_KEY#").await?;
    Ok(stored.into_iter().map(|s| s.record).collect())
}

/// Revokes a key: it stops authenticating at once, then leaves the project's list.
pub async fn revoke_secret_key(state: &AppState, project_id: &ProjectId, key_id: &str) -> Result<SecretKey, AdminError> {
    let key = SecretKey::key_of(project_id, key_id);
    let stored = Stored::<SecretKey>::get(state.store.as_ref(), &key)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("secret key {key_id} in project {project_id}")))?;
    let lookup = SecretKey::lookup_key(&stored.record.hash);
    match state.store.delete_if(&lookup, DeleteCondition::Exists).await {
        Ok(()) | Err(crate::store::StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    state.store.delete_if(&key, DeleteCondition::Version(stored.version)).await?;
    Ok(stored.record)
}
