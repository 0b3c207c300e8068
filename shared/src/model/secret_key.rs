//! Secret keys: how a project's backend authenticates. Stored only as a SHA-256 hash.

use serde::{Deserialize, Serialize};

use super::Key;
use super::{ConsumerId, EnvironmentName, KeyId, Project, ProjectId, Record};
use crate::clock::Timestamp;
use crate::secret::{random_token, SecretString};

/// Every secret key starts with this, so it is recognisable in code review and secret scanners.
pub const SECRET_KEY_PREFIX: &str = "lk_sk_";

/// A secret key as its project lists it: everything but the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretKey {
    /// `key_...`, public, used to name the key when revoking it.
    pub key_id: KeyId,
    /// The project the key belongs to.
    pub project_id: ProjectId,
    /// The one environment it acts in.
    pub environment: EnvironmentName,
    /// The end user it is bound to, if any: it may then ask for that user's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<ConsumerId>,
    /// SHA-256 of the key, the address of its lookup record.
    pub hash: String,
    /// The key's first characters, so a person can tell keys apart.
    pub hint: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// The record a presented key is looked up by: keyed by the key's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretKeyLookup {
    /// Which key this is.
    pub key_id: KeyId,
    /// The project it authenticates for.
    pub project_id: ProjectId,
    /// The environment it authenticates for.
    pub environment: EnvironmentName,
    /// The end user it is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<ConsumerId>,
}

impl SecretKey {
    /// Mints a new key for `project_id` / `environment`: the record to store and the key itself,
    /// to be shown once. 192 random bits.
    pub fn mint(project_id: ProjectId, environment: EnvironmentName, now: Timestamp) -> (Self, SecretString) {
        let key_id = KeyId::generate();
        let secret = SecretString::new(format!("{SECRET_KEY_PREFIX}{}", random_token(24).expose()));
        let hint = format!("{}…", &secret.expose()[..SECRET_KEY_PREFIX.len() + 4]);
        let record = Self { key_id, project_id, environment, user_id: None, hash: secret.sha256_hex(), hint, created_at: now };
        (record, secret)
    }

    /// The key of the listing record of `key_id` in `project_id`.
    pub fn key_of(project_id: &ProjectId, key_id: &KeyId) -> Key {
        Key::new(Project::partition_of(project_id), format!("SECRET_KEY#{key_id}"))
    }

    /// Its lookup twin.
    pub fn lookup(&self) -> SecretKeyLookup {
        SecretKeyLookup {
            key_id: self.key_id.clone(),
            project_id: self.project_id.clone(),
            environment: self.environment.clone(),
            user_id: self.user_id.clone(),
        }
    }

    /// The key of the lookup record for a key whose hash is `hash`.
    pub fn lookup_key(hash: &str) -> Key {
        Key::new(format!("SECRET_KEY#{hash}"), "SECRET_KEY")
    }
}

impl Record for SecretKey {
    fn key(&self) -> Key {
        Self::key_of(&self.project_id, &self.key_id)
    }
}

/// The lookup record with the hash it is stored under (the hash is the key, not an attribute).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LookupRecord {
    #[serde(flatten)]
    pub lookup: SecretKeyLookup,
    #[serde(skip)]
    pub hash: String,
}

impl LookupRecord {
    pub(crate) fn for_key(key: &SecretKey) -> Self {
        Self { lookup: key.lookup(), hash: key.hash.clone() }
    }
}

impl Record for LookupRecord {
    fn key(&self) -> Key {
        SecretKey::lookup_key(&self.hash)
    }
}
