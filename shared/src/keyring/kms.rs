//! The AWS KMS adapter of the key provider: `GenerateDataKey` (AES_256) and `Decrypt`, both under
//! the encryption context, and `Decrypt` pinned to the configured key so a ciphertext from another
//! key is refused rather than silently opened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_kms::Client;

use super::{DataKey, EncryptionContext, KeyProvider, KeyringError};

/// Wraps data keys with one AWS KMS key.
#[derive(Debug, Clone)]
pub struct KmsKeyProvider {
    client: Client,
    key_id: String,
    calls: Arc<AtomicU64>,
}

impl KmsKeyProvider {
    /// A provider over the KMS key `key_id` (id, ARN or alias), with a client built once per process.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into(), calls: Arc::new(AtomicU64::new(0)) }
    }

    /// The key it wraps with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// How many KMS calls this provider has made: what the benchmark and the warm-path tests count.
    pub fn call_count(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl KeyProvider for KmsKeyProvider {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KeyringError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(kms_error)?;
        let plaintext = output.plaintext.ok_or_else(|| KeyringError::Unavailable("KMS returned no plaintext key".into()))?;
        let key = DataKey::from_slice(plaintext.as_ref()).ok_or_else(|| KeyringError::Unavailable("KMS returned a data key of the wrong size".into()))?;
        let wrapped = output.ciphertext_blob.ok_or_else(|| KeyringError::Unavailable("KMS returned no wrapped key".into()))?.into_inner();
        Ok((key, wrapped))
    }

    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKey, KeyringError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(kms_error)?;
        let plaintext = output.plaintext.ok_or(KeyringError::OpenFailed)?;
        DataKey::from_slice(plaintext.as_ref()).ok_or(KeyringError::OpenFailed)
    }
}

fn kms_error<E: ProvideErrorMetadata>(error: E) -> KeyringError {
    match error.code() {
        // KMS says "InvalidCiphertextException" for a wrong encryption context or a foreign blob.
        Some("InvalidCiphertextException") | Some("IncorrectKeyException") => KeyringError::OpenFailed,
        code => KeyringError::Unavailable(format!("{}: {}", code.unwrap_or("kms_error"), error.message().unwrap_or("the KMS call failed"))),
    }
}
