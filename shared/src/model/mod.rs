//! The records of Latchkey's single table, and the key design that places them.
//!
//! One DynamoDB table with a string partition key `pk` and a string sort key `sk`, TTL on
//! `expires_at`, and no secondary index: every lookup on a hot path is a `GetItem` on a key derived
//! from what the caller presents, and every listing is a `Query` on one partition.
//!
//! | record                      | pk                         | sk                      | expires |
//! |-----------------------------|----------------------------|-------------------------|---------|
//! | project                     | `PROJECTS`                 | `PROJECT#{project_id}`  | no      |
//! | secret key, by hash (auth)  | `SECRET_KEY#{sha256(key)}` | `SECRET_KEY`            | no      |
//! | secret key, in its project  | `PROJECT#{project_id}`     | `SECRET_KEY#{key_id}`   | no      |
//! | connector (with its links)  | `CONNECTORS`               | `CONNECTOR#{uid}`       | no      |
//! | connection                  | `PROJECT#{project_id}`     | `CONNECTION#{id}`       | no      |
//!
//! - Projects and connectors are few and administered by operators; one partition each lists them
//!   with a single query.
//! - A secret key is found by the hash of what the caller presents, one read; its twin in the
//!   project partition lets operators list and revoke keys by id without ever storing the key.
//! - A connector carries its project links, so the token path reads one item to learn both the
//!   client and whether this project environment may use it.
//! - Secrets inside records (client secrets, credentials) are [`crate::keyring::Sealed`] values
//!   bound to the record's key and field.

mod connection;
mod connector;
mod names;
mod project;
mod record;
pub(crate) mod secret_key;

pub use connection::{Connection, ConnectionState, Subject, SubjectType};
pub use connector::{Connector, ProjectLink};
pub use names::{ConnectorUid, EnvironmentName, InvalidName, ProjectId};
pub use project::{Project, DEFAULT_ENVIRONMENTS};
pub use record::{Record, RecordError, Stored};
pub use secret_key::{SecretKey, SecretKeyLookup, SECRET_KEY_PREFIX};
