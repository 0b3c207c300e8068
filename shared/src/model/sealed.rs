//! Sealed values as records hold them, and the binding that says where each belongs. Sealing and
//! opening them is the keyring's work; a record only carries the result.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Key;

/// Where a sealed value belongs: the scope whose data key seals it (a project, a connector), and
/// the record and field it is stored in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    scope: String,
    record: Key,
    field: String,
}

impl Binding {
    /// A binding for `field` of the record at `record`, sealed under `scope`'s data keys.
    pub fn new(scope: impl Into<String>, record: &Key, field: impl Into<String>) -> Self {
        Self { scope: scope.into(), record: record.clone(), field: field.into() }
    }

    /// The scope whose data keys seal it.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The record it is stored in.
    pub fn record(&self) -> &Key {
        &self.record
    }

    /// The field of that record.
    pub fn field(&self) -> &str {
        &self.field
    }
}

/// A sealed secret as stored: `lk1.<wrapped data key>.<nonce>.<ciphertext>`, each part base64url.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    /// A sealed value in its stored form (the keyring checks the form when it opens it).
    pub fn new(stored: String) -> Self {
        Self(stored)
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ciphertext is safe to show, but it is noise in logs; its length is what helps.
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}
