//! The records of Latchkey's single table, and the key design that places them.
//!
//! One DynamoDB table with a string partition key `pk` and a string sort key `sk`, TTL on
//! `expires_at`, and one sparse secondary index for background work: every lookup on a hot path is
//! a `GetItem` on a key derived from what the caller presents, every listing is a `Query` on one
//! partition, and the sweep finds what is due through the index ([`Due`]), never by reading
//! everything stored.
//!
//! | record                      | pk                         | sk                      | expires |
//! |-----------------------------|----------------------------|-------------------------|---------|
//! | project                     | `PROJECTS`                 | `PROJECT#{project_id}`  | no      |
//! | secret key, by hash (auth)  | `SECRET_KEY#{sha256(key)}` | `SECRET_KEY`            | no      |
//! | secret key, in its project  | `PROJECT#{project_id}`     | `SECRET_KEY#{key_id}`   | no      |
//! | connector (with its links)  | `CONNECTORS`               | `CONNECTOR#{uid}`       | no      |
//! | connection                  | `PROJECT#{project_id}`     | `CONNECTION#{env}#{subject}#{connector}` | no |
//! | connection id → natural key | `CONNECTION_ID#{id}`       | `CONNECTION_ID`         | no      |
//! | issuer trust (OIDC callers) | `TRUSTED_ISSUER#{sha256(iss)}` | `PROJECT#{project_id}` | no |
//! | link token                  | `LINK_TOKEN#{sha256}`      | `LINK_TOKEN`            | 4 h     |
//! | OAuth flow (`state`)        | `OAUTH_STATE#{sha256}`     | `OAUTH_STATE`           | 10 min  |
//! | public token                | `PUBLIC_TOKEN#{sha256}`    | `PUBLIC_TOKEN`          | 30 min  |
//! | connection access token     | `ACCESS_TOKEN#{sha256}`    | `ACCESS_TOKEN`          | no      |
//! | narrowed token              | `NARROWED#{connection_id}` | `NARROWING#{sha256(ask)}` | with its token |
//! | sandbox client              | `SANDBOX_CLIENTS`          | `CLIENT#{client_id}`    | no      |
//! | sandbox consent (waiting)   | `SANDBOX_PENDING#{sha256}` | `SANDBOX_PENDING`       | 10 min  |
//! | sandbox code, used code     | `SANDBOX_CODE#{sha256}`    | `SANDBOX_CODE`, `SANDBOX_CODE_USED` | 2, 10 min |
//! | sandbox grant               | `SANDBOX_GRANT#{grant_id}` | `SANDBOX_GRANT`         | no      |
//! | sandbox refresh token       | `SANDBOX_REFRESH#{sha256}` | `SANDBOX_REFRESH`       | 30 days |
//! | sandbox access token        | `SANDBOX_ACCESS#{sha256}`  | `SANDBOX_ACCESS`        | its lifetime |
//!
//! - Projects and connectors are few and administered by operators; one partition each lists them
//!   with a single query.
//! - A secret key is found by the hash of what the caller presents, one read; its twin in the
//!   project partition lets operators list and revoke keys by id without ever storing the key.
//! - A connector carries its project links, so the token path reads one item to learn both the
//!   client and whether this project environment may use it.
//! - A connection sits at its natural key (environment, subject, connector), so the token path
//!   reads it in one `GetItem`, and one consumer's connections are one prefix `Query` that reads
//!   no other consumer's; its public id is resolved through the id index.
//! - One-time and short-lived tokens (link, state, public) are stored under their SHA-256 and
//!   consumed with `take`, so each works once however many requests race for it.
//! - The sandbox provider (`crate::sandbox`) keeps its own records in the same table, so every
//!   process and Lambda agrees on them; its tokens too are stored only as hashes.
//! - Secrets inside records (client secrets, credentials) are [`Sealed`] values
//!   bound to the record's key and field.
//! - A record with background work pending names when it is due ([`Record::due`]): a connection
//!   the sweep refreshes, a webhook delivery awaiting its next attempt. Each record type derives
//!   it in one place from its own fields, and every write carries it ([`Record::to_item`]), so the
//!   index is right after any write. The store keeps it beside the item (`due_pk`, `due_at`), and
//!   the index holds only items that have it.

mod api;
mod audit;
mod caller;
mod connection;
mod connector;
mod item;
pub mod link;
mod names;
mod narrowed;
pub mod narrowing;
mod project;
mod record;
mod sandbox;
mod sealed;
pub(crate) mod secret_key;
mod session;
mod webhook;

pub use api::{ApiAuth, ApiSpec, BasicHalf, Narrowing};
pub use audit::{ActorKind, AuditAction, AuditEvent};
pub use caller::{Caller, Scope};
pub use connection::{Connection, ConnectionIdIndex, ConnectionState, EndUser, RefreshLease, Subject, SubjectType, KEEP_ALIVE_SECS, REFRESH_AHEAD_WINDOW_SECS};
pub use connector::{
    AuthMode, ConnectionField, Connector, FieldKind, OAuthEndpoints, PostAuthorization, ProjectLink, RevocationScope, TokenAuthMethod, TokenMapping,
    DEFAULT_REFRESH_BUFFER_SECS, DEFAULT_TOKEN_LIFETIME_SECS,
};
pub use item::{Due, DueItem, DueQueue, Item, Key, RESERVED_ATTRIBUTES};
pub use link::{ConnectMode, ConnectionAccessToken, LinkToken, OAuthFlow, PublicToken};
pub use names::{ConnectionId, ConnectorUid, ConsumerId, EnvironmentName, InstallationId, InvalidName, KeyId, ProjectId};
pub use narrowed::{MintFailure, NarrowedToken};
pub use narrowing::{AuthorizationDetails, Granted, InvalidNarrowing, NarrowingAsk, ResourceIndicator, Resources, Scopes};
pub use project::{IssuerTrust, Project, TrustedIssuer, DEFAULT_ENVIRONMENTS};
pub use record::{CorruptRecord, Record, Stored};
pub use sandbox::{SandboxAccess, SandboxClient, SandboxCode, SandboxCodeUsed, SandboxGrant, SandboxPending, SandboxRefresh, SandboxSwitches};
pub use sealed::{Binding, Sealed};
pub use secret_key::{SecretKey, SecretKeyLookup, SECRET_KEY_PREFIX};
pub use session::{AuthorizeClaims, ConsumerMetadata, SessionAction, SessionClaims, SessionSettings, Theme, AUTHORIZE_AUDIENCE};
pub use webhook::{Delivery, DeliveryStatus, EventType, Webhook};
