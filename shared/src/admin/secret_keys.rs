//! Creating, listing and revoking secret keys.

use super::{project, AdminError};
use crate::model::secret_key::LookupRecord;
use crate::model::{ConsumerId, EnvironmentName, KeyId, Project, ProjectId, Record, SecretKey, Stored};
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::DeleteCondition;

/// Mints a key for a project environment: the listed record and the key, shown once.
pub async fn create_secret_key(ports: &Ports, project_id: &ProjectId, environment: &str) -> Result<(SecretKey, SecretString), AdminError> {
    create_user_secret_key(ports, project_id, environment, None).await
}

/// Mints a key, optionally bound to one end user (it may then ask for that user's tokens).
pub async fn create_user_secret_key(
    ports: &Ports,
    project_id: &ProjectId,
    environment: &str,
    user_id: Option<String>,
) -> Result<(SecretKey, SecretString), AdminError> {
    let user_id =
        user_id.map(|u| ConsumerId::parse(&u).map_err(|_| AdminError::Invalid("user id must be 1 to 256 printable characters".into()))).transpose()?;
    let environment = EnvironmentName::parse(environment)?;
    let project = project(ports, project_id).await?.record;
    if !project.has_environment(&environment) {
        return Err(AdminError::NotFound(format!("environment {environment} in project {project_id}")));
    }
    let (mut record, secret) = SecretKey::mint(project.id, environment, ports.clock.now());
    record.user_id = user_id;
    // The lookup record goes last: until it exists the key authenticates nothing, so a failure in
    // between leaves at worst a listed key that never worked.
    ports.store.put_if_absent(&record.to_item()?).await?;
    ports.store.put_if_absent(&LookupRecord::for_key(&record).to_item()?).await?;
    Ok((record, secret))
}

/// Every secret key of a project (never the keys themselves).
pub async fn list_secret_keys(ports: &Ports, project_id: &ProjectId) -> Result<Vec<SecretKey>, AdminError> {
    project(ports, project_id).await?;
    let stored = Stored::<SecretKey>::query(ports.store.as_ref(), &Project::partition_of(project_id), "SECRET_KEY#").await?;
    Ok(stored.into_iter().map(|s| s.record).collect())
}

/// Revokes a key: it stops authenticating at once here and within [`crate::cache::REVOCABLE_TTL_SECS`]
/// everywhere else, then leaves the project's list.
pub async fn revoke_secret_key(ports: &Ports, project_id: &ProjectId, key_id: &str) -> Result<SecretKey, AdminError> {
    let key_id = KeyId::parse(key_id)?;
    let key = SecretKey::key_of(project_id, &key_id);
    let stored = Stored::<SecretKey>::get(ports.store.as_ref(), &key)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("secret key {key_id} in project {project_id}")))?;
    let lookup = SecretKey::lookup_key(&stored.record.hash);
    match ports.store.delete_if(&lookup, DeleteCondition::Exists).await {
        Ok(()) | Err(crate::store::StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    // This process stops honouring it at once; other instances within the caller cache's bound.
    ports.caches.callers.remove(&stored.record.hash);
    ports.store.delete_if(&key, DeleteCondition::Version(stored.version)).await?;
    Ok(stored.record)
}

/// Revokes a connection access token, whatever its project (the operator's power); true when it
/// existed. It stops working at once here and within the caller cache's bound everywhere else.
pub async fn revoke_access_token(ports: &Ports, raw: &SecretString) -> Result<bool, AdminError> {
    if !raw.expose().starts_with(crate::model::ConnectionAccessToken::PREFIX) || raw.expose().len() > 128 {
        return Ok(false);
    }
    let hash = raw.sha256_hex();
    ports.caches.callers.remove(&hash);
    match ports.store.delete_if(&crate::model::ConnectionAccessToken::key_of(&hash), DeleteCondition::Exists).await {
        Ok(()) => Ok(true),
        Err(crate::store::StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
