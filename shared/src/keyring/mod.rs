//! Envelope encryption: how every secret Latchkey stores is sealed and opened.
//!
//! A secret is encrypted with AES-256-GCM under a *data key*; the data key is wrapped by a
//! [`KeyProvider`] (AWS KMS, or a local master key) and stored beside the ciphertext. Two bindings
//! keep a ciphertext where it belongs:
//!
//! - the **encryption context** `{"latchkey:scope": <scope>}` wraps each data key for one scope
//!   (a project, a connector), so KMS refuses to unwrap it for any other and CloudTrail shows which
//!   tenant a decryption served;
//! - the **associated data** names the scope, the record's key and the field, so a ciphertext copied
//!   to another record or field fails its authentication tag.
//!
//! Unwrapped data keys are cached for a bounded time and number of uses ([`CachePolicy`]), so a warm
//! request opens its secrets without calling KMS.

mod cache;
mod kms;
mod local;

pub use cache::CachePolicy;
pub use kms::KmsKeyProvider;
pub use local::LocalKeyProvider;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use zeroize::Zeroizing;

pub use crate::model::{Binding, Sealed};
use crate::secret::{random_bytes, SecretBytes};
use cache::DataKeyCache;

/// The only encryption-context key Latchkey uses; template.yaml's KMS policies allow exactly it.
pub const CONTEXT_KEY: &str = "latchkey:scope";
const NONCE_LEN: usize = 12;
const SEALED_PREFIX: &str = "lk1";

/// A plaintext 256-bit data key, zeroed on drop.
#[derive(Clone)]
pub struct DataKey(Arc<Zeroizing<[u8; 32]>>);

impl DataKey {
    /// Wraps key material; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Arc::new(Zeroizing::new(array))))
    }

    /// A fresh random data key.
    pub fn generate() -> Self {
        let bytes = Zeroizing::new(random_bytes(32));
        Self::from_slice(&bytes).expect("32 random bytes")
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.0.as_slice()).expect("a data key is 32 bytes")
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// The encryption context a data key is wrapped under.
pub type EncryptionContext = BTreeMap<String, String>;

/// The port that wraps and unwraps data keys: AWS KMS or a local master key.
#[async_trait]
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// A new data key, in the clear and wrapped under `context`.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KeyringError>;
    /// Unwraps a data key; fails unless `context` is the one it was wrapped under.
    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKey, KeyringError>;
}

/// The keyring's failures. None of them carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The key provider (KMS) could not be reached or refused the call.
    #[error("key provider unavailable: {0}")]
    Unavailable(String),
    /// The ciphertext does not open under this binding: moved, tampered with, or the wrong key.
    #[error("sealed value does not open for this record")]
    OpenFailed,
    /// The sealed value is not in Latchkey's format.
    #[error("sealed value is malformed")]
    Malformed,
}

fn context(binding: &Binding) -> EncryptionContext {
    BTreeMap::from([(CONTEXT_KEY.to_owned(), binding.scope().to_owned())])
}

fn associated_data(binding: &Binding) -> Vec<u8> {
    // NUL separators: none of the parts may contain one, so the encoding is unambiguous.
    let record = binding.record();
    format!("latchkey/v1\0{}\0{}\0{}\0{}", binding.scope(), record.pk, record.sk, binding.field()).into_bytes()
}

/// A sealed value taken apart.
struct Parts {
    wrapped: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// The parts of a sealed value: the wrapped data key, the nonce and the ciphertext.
fn parts(sealed: &Sealed) -> Result<Parts, KeyringError> {
    let mut parts = sealed.as_str().split('.');
    if parts.next() != Some(SEALED_PREFIX) {
        return Err(KeyringError::Malformed);
    }
    let mut next = || parts.next().and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).ok_or(KeyringError::Malformed);
    let (wrapped, nonce, ciphertext) = (next()?, next()?, next()?);
    if nonce.len() != NONCE_LEN {
        return Err(KeyringError::Malformed);
    }
    Ok(Parts { wrapped, nonce, ciphertext })
}

/// Seals and opens secrets with envelope encryption over a [`KeyProvider`].
#[derive(Debug, Clone)]
pub struct Keyring {
    provider: Arc<dyn KeyProvider>,
    cache: Arc<DataKeyCache>,
}

impl Keyring {
    /// A keyring over `provider`, caching data keys as `policy` allows.
    pub fn new(provider: Arc<dyn KeyProvider>, policy: CachePolicy) -> Self {
        Self { provider, cache: Arc::new(DataKeyCache::new(policy)) }
    }

    /// Encrypts `plaintext` for `binding`, with a fresh random nonce.
    pub async fn seal(&self, binding: &Binding, plaintext: &[u8]) -> Result<Sealed, KeyringError> {
        let (data_key, wrapped) = match self.cache.sealing_key(binding.scope()) {
            Some(cached) => cached,
            None => {
                let (key, wrapped) = self.provider.generate_data_key(&context(binding)).await?;
                self.cache.insert_sealing_key(binding.scope(), key.clone(), wrapped.clone());
                (key, wrapped)
            }
        };
        let nonce = random_bytes(NONCE_LEN);
        let aad = associated_data(binding);
        let ciphertext = data_key.cipher().encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad }).map_err(|_| KeyringError::Malformed)?;
        Ok(Sealed::new(format!(
            "{SEALED_PREFIX}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&wrapped),
            URL_SAFE_NO_PAD.encode(&nonce),
            URL_SAFE_NO_PAD.encode(&ciphertext)
        )))
    }

    /// Decrypts `sealed`; fails with `OpenFailed` unless it was sealed for exactly `binding`.
    pub async fn open(&self, binding: &Binding, sealed: &Sealed) -> Result<SecretBytes, KeyringError> {
        let Parts { wrapped, nonce, ciphertext } = parts(sealed)?;
        let data_key = match self.cache.opening_key(binding.scope(), &wrapped) {
            Some(key) => key,
            None => {
                let key = self.provider.decrypt_data_key(&wrapped, &context(binding)).await?;
                self.cache.insert_opening_key(binding.scope(), &wrapped, key.clone());
                key
            }
        };
        let aad = associated_data(binding);
        data_key
            .cipher()
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad })
            .map(SecretBytes::new)
            .map_err(|_| KeyringError::OpenFailed)
    }

    /// Seals a UTF-8 secret.
    pub async fn seal_str(&self, binding: &Binding, secret: &crate::SecretString) -> Result<Sealed, KeyringError> {
        self.seal(binding, secret.expose().as_bytes()).await
    }

    /// Opens a sealed UTF-8 secret.
    pub async fn open_str(&self, binding: &Binding, sealed: &Sealed) -> Result<crate::SecretString, KeyringError> {
        self.open(binding, sealed).await?.into_secret_string().ok_or(KeyringError::Malformed)
    }
}
