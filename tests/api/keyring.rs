//! Envelope encryption over both key providers: the local master key and AWS KMS (moto_server's
//! KMS on loopback). A ciphertext opens only for the record, field and scope it was sealed for,
//! and a warm keyring opens without calling KMS.

use std::sync::Arc;
use std::time::Duration;

use latchkey::keyring::{Binding, CachePolicy, KeyProvider, Keyring, KeyringError, LocalKeyProvider};
use latchkey::store::Key;

use crate::helpers;

fn binding(scope: &str, sk: &str, field: &str) -> Binding {
    Binding::new(scope, &Key::new("PROJECT#prj_a", sk), field)
}

async fn seals_and_opens_only_where_bound(keyring: Keyring) {
    let here = binding("project:prj_a", "CONNECTION#1", "credentials");
    let sealed = keyring.seal(&here, b"refresh-token-123").await.unwrap();
    assert!(!sealed.as_str().contains("refresh-token-123"));
    assert_eq!(keyring.open(&here, &sealed).await.unwrap().expose(), b"refresh-token-123");

    let other_record = binding("project:prj_a", "CONNECTION#2", "credentials");
    assert!(matches!(keyring.open(&other_record, &sealed).await, Err(KeyringError::OpenFailed)));
    let other_field = binding("project:prj_a", "CONNECTION#1", "client_secret");
    assert!(matches!(keyring.open(&other_field, &sealed).await, Err(KeyringError::OpenFailed)));
    let other_scope = binding("project:prj_b", "CONNECTION#1", "credentials");
    assert!(matches!(keyring.open(&other_scope, &sealed).await, Err(KeyringError::OpenFailed)));

    let again = keyring.seal(&here, b"refresh-token-123").await.unwrap();
    assert_ne!(sealed, again, "every seal uses a fresh nonce");

    let mut tampered = sealed.as_str().to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let tampered: latchkey::keyring::Sealed = serde_json::from_value(serde_json::json!(tampered)).unwrap();
    assert!(keyring.open(&here, &tampered).await.is_err());
}

#[tokio::test]
async fn local_keyring_binds_ciphertext_to_record_field_and_scope() {
    seals_and_opens_only_where_bound(helpers::keyring(Arc::new(helpers::local_provider()))).await;
}

#[tokio::test]
async fn kms_keyring_binds_ciphertext_to_record_field_and_scope() {
    seals_and_opens_only_where_bound(helpers::keyring(Arc::new(helpers::kms_provider().await))).await;
}

#[tokio::test]
async fn kms_refuses_a_data_key_under_another_encryption_context() {
    let provider = helpers::kms_provider().await;
    let context = |scope: &str| [(latchkey::keyring::CONTEXT_KEY.to_owned(), scope.to_owned())].into_iter().collect();
    let (key, wrapped) = provider.generate_data_key(&context("project:prj_a")).await.unwrap();
    assert!(provider.decrypt_data_key(&wrapped, &context("project:prj_a")).await.is_ok());
    let refused = provider.decrypt_data_key(&wrapped, &context("project:prj_b")).await;
    assert!(matches!(refused, Err(KeyringError::OpenFailed)), "{refused:?}");
    assert_eq!(format!("{key:?}"), "DataKey([redacted])");
}

#[tokio::test]
async fn a_warm_keyring_opens_without_calling_kms() {
    let provider = helpers::kms_provider().await;
    let counter = provider.clone();
    let writer = helpers::keyring(Arc::new(provider.clone()));
    let here = binding("project:prj_a", "CONNECTION#1", "credentials");
    let sealed = writer.seal(&here, b"token").await.unwrap();
    for i in 0..5 {
        writer.seal(&binding("project:prj_a", &format!("CONNECTION#{i}"), "credentials"), b"t").await.unwrap();
    }
    assert_eq!(counter.call_count(), 1, "one GenerateDataKey serves every seal of a scope");

    // A cold instance (a new Lambda): the first open unwraps, the next hundred are free.
    let reader = helpers::keyring(Arc::new(provider));
    for _ in 0..100 {
        reader.open(&here, &sealed).await.unwrap();
    }
    assert_eq!(counter.call_count(), 2, "one Decrypt for a hundred opens");
}

#[tokio::test]
async fn the_cache_honours_its_maximum_uses_and_age() {
    let provider = helpers::kms_provider().await;
    let counter = provider.clone();
    let here = binding("project:prj_a", "CONNECTION#1", "credentials");
    let sealed = helpers::keyring(Arc::new(provider.clone())).seal(&here, b"token").await.unwrap();
    let before = counter.call_count();

    let few_uses = Keyring::new(Arc::new(provider.clone()), CachePolicy { max_uses: 3, ..CachePolicy::default() });
    for _ in 0..7 {
        few_uses.open(&here, &sealed).await.unwrap();
    }
    // Uses 1-3 on the first unwrap, 4-6 on the second, the 7th needs a third.
    assert_eq!(counter.call_count() - before, 3);

    let before = counter.call_count();
    let no_age = Keyring::new(Arc::new(provider), CachePolicy { max_age: Duration::ZERO, ..CachePolicy::default() });
    for _ in 0..4 {
        no_age.open(&here, &sealed).await.unwrap();
    }
    assert_eq!(counter.call_count() - before, 4, "an expired entry is never used");
}

#[tokio::test]
async fn the_local_master_key_file_is_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("master.key");
    let first = Keyring::new(Arc::new(LocalKeyProvider::load_or_create(&path).unwrap()), CachePolicy::default());
    let here = binding("project:prj_a", "CONNECTION#1", "credentials");
    let sealed = first.seal(&here, b"secret").await.unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(std::fs::read(&path).unwrap().len(), 32);
    let second = Keyring::new(Arc::new(LocalKeyProvider::load_or_create(&path).unwrap()), CachePolicy::default());
    assert_eq!(second.open(&here, &sealed).await.unwrap().expose(), b"secret");

    let other = Keyring::new(Arc::new(helpers::local_provider()), CachePolicy::default());
    assert!(other.open(&here, &sealed).await.is_err(), "another master key opens nothing");
}

#[tokio::test]
async fn a_master_key_from_the_environment_must_be_32_bytes_of_base64() {
    assert!(LocalKeyProvider::from_base64("AAAA").is_err());
    assert!(LocalKeyProvider::from_base64("not base64!").is_err());
    let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="; // 32 ASCII bytes
    assert!(LocalKeyProvider::from_base64(key).is_ok());
}
