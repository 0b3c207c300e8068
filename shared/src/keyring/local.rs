//! The local adapter of the key provider: a 256-bit master key on this machine.
//!
//! The master key comes from `LATCHKEY_MASTER_KEY` (base64) or from a file that is created on first
//! run with mode 0600. Data keys are wrapped with AES-256-GCM under it, the encryption context as
//! associated data, so the local mode refuses a foreign context exactly as KMS does.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::Nonce;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::{DataKey, EncryptionContext, KeyProvider, KeyringError, NONCE_LEN};
use crate::secret::random_bytes;

/// Wraps data keys with a local master key.
#[derive(Debug, Clone)]
pub struct LocalKeyProvider {
    master: DataKey,
}

impl LocalKeyProvider {
    /// A provider over this master key.
    pub fn new(master: DataKey) -> Self {
        Self { master }
    }

    /// Reads a base64 master key (as given in `LATCHKEY_MASTER_KEY`).
    pub fn from_base64(encoded: &str) -> Result<Self, KeyringError> {
        let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| KeyringError::Unavailable("the master key is not valid base64".into()))?);
        DataKey::from_slice(&bytes).map(Self::new).ok_or_else(|| KeyringError::Unavailable("the master key must be 32 bytes".into()))
    }

    /// Reads the master key file at `path`, creating it (mode 0600, 32 random bytes) if it is missing.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyringError> {
        let unavailable = |what: &str, e: std::io::Error| KeyringError::Unavailable(format!("{what} {}: {e}", path.display()));
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                return DataKey::from_slice(&bytes)
                    .map(Self::new)
                    .ok_or_else(|| KeyringError::Unavailable(format!("{} does not hold a 32-byte key", path.display())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(unavailable("cannot read", e)),
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| unavailable("cannot create the folder of", e))?;
        }
        let key = Zeroizing::new(random_bytes(32));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(&key).map_err(|e| unavailable("cannot write", e))?;
                file.sync_all().map_err(|e| unavailable("cannot write", e))?;
                Ok(Self::new(DataKey::from_slice(&key).expect("32 bytes")))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(unavailable("cannot create", e)),
        }
    }
}

fn context_bytes(context: &EncryptionContext) -> Vec<u8> {
    serde_json::to_vec(context).unwrap_or_default()
}

#[async_trait]
impl KeyProvider for LocalKeyProvider {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KeyringError> {
        let key = DataKey::generate();
        let nonce = random_bytes(NONCE_LEN);
        let aad = context_bytes(context);
        let mut wrapped = nonce.clone();
        let sealed = self
            .master
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: key.0.as_slice(), aad: &aad })
            .map_err(|_| KeyringError::Unavailable("could not wrap a data key".into()))?;
        wrapped.extend_from_slice(&sealed);
        Ok((key, wrapped))
    }

    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKey, KeyringError> {
        if wrapped.len() <= NONCE_LEN {
            return Err(KeyringError::Malformed);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let aad = context_bytes(context);
        let plaintext =
            Zeroizing::new(self.master.cipher().decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad }).map_err(|_| KeyringError::OpenFailed)?);
        DataKey::from_slice(&plaintext).ok_or(KeyringError::OpenFailed)
    }
}
