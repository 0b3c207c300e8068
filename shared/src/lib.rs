//! Latchkey's core crate: everything the Lambda functions, the local server and the admin CLI share.
//!
//! The crate is laid out along its ports, so each adapter can be swapped without the domain noticing:
//!
//! - [`clock`]: the `Clock` port. Everything that expires asks it for the time, so tests can move it.
//! - [`secret`]: secret newtypes (`SecretString`, `SecretBytes`) that print `[redacted]` and are
//!   zeroed on drop, and the vetted random generator every token and key comes from.
//! - [`store`]: the `ItemStore` port, DynamoDB-shaped (get, put-if-absent, put-if-version,
//!   delete-if, take-exactly-once, prefix query, expiry), with its DynamoDB adapter and its embedded
//!   SQLite adapter.
//! - [`keyring`]: envelope encryption. The `KeyProvider` port (AWS KMS or a local master key) wraps
//!   data keys; the `Keyring` seals secrets with AES-256-GCM bound to the record and field they
//!   belong to, and caches unwrapped data keys so a warm request makes no KMS call.
//! - [`catalog`]: the provider catalog (data, with a schema check) that connectors draw defaults from.
//! - [`model`]: the records of the single table (projects, secret keys, connectors, connections)
//!   and the key design that places them.
//! - [`admin`]: operator actions on those records (used by the `latchkey` CLI and the local server's
//!   first start), each validating its input before it writes anything.
//! - [`config`]: configuration read once from the environment.
//! - [`state`]: `AppState`, the ports wired together: AWS adapters on Lambda, embedded ones locally.
//! - [`oauth`]: the provider HTTP client (no redirects, timeouts, retries) and token responses.
//! - [`link`]: the link flow: link tokens, the Connect page's actions, the callback, the exchange.
//! - [`token`]: the token broker: caller authentication, checks, single-flight refresh.
//! - [`session`]: the deployment's rotatable signing keys and Latchkey's own JWTs (sessions,
//!   authorize links).
//! - [`connections`]: the connections API: per-consumer states, import, delete with revocation.
//! - [`events`]: webhooks: signed events delivered off the request path, with retries and a log.
//! - [`http`]: the route table, the error-to-response mapping, the handlers, the OpenAPI document
//!   and the local server that mounts every handler at the route template.yaml gives it.

pub mod admin;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod connections;
pub mod events;
pub mod http;
pub mod keyring;
pub mod link;
pub mod model;
pub mod oauth;
pub mod secret;
pub mod session;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use secret::{SecretBytes, SecretString};
pub use state::AppState;
