//! Latchkey's core crate: the domain and the ports it works over, for the Lambda functions, the
//! local server and the CLI. Layers, each using only the ones above it in this list (a test fails
//! on an import that runs the other way):
//!
//! 1. Primitives: [`secret`] (secret newtypes that print `[redacted]`, the random generator),
//!    [`clock`] (the time, injectable), [`settings`] (what the operator configured).
//! 2. [`model`]: the records of the one table, their ids and their key design.
//! 3. Ports and their adapters: [`store`] (DynamoDB and embedded SQLite), [`keyring`] (envelope
//!    encryption over KMS or a local master key), [`outbound`] (every request Latchkey makes, under
//!    one policy), [`oauth`] (the token responses providers send), [`outbox`] (where webhook deliveries wait), [`audit`] (the
//!    audit trail's sink and store), [`cache`] (per-instance
//!    caches), and [`ports`], which holds them together.
//! 4. [`fields`]: connection fields and the URLs they fill; [`catalog`]: provider data, linted with them.
//! 5. Flows: [`events`] (webhooks), [`session`] (signing keys, Latchkey's own JWTs), [`token`]
//!    (callers, single-flight refresh, the broker), [`proxy`] (provider API calls with the
//!    credential injected), [`link`] (link tokens, the Connect page's actions, the callback, the
//!    exchange), [`connections`] (the connections API), [`sandbox`] (the built-in OAuth 2.0
//!    provider to try everything with), [`admin`] (operator actions).
//!
//! The HTTP layer (`latchkey-http`) and the wiring (`latchkey-bootstrap`) are crates of their own
//! above this one, so the compiler keeps the domain from reaching up into them.

pub mod admin;
pub mod audit;
pub mod cache;
pub mod catalog;
pub mod clock;
pub mod connections;
pub mod events;
pub mod fields;
pub mod keyring;
pub mod link;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod outbound;
pub mod outbox;
pub mod ports;
pub mod proxy;
pub mod sandbox;
pub mod secret;
pub mod session;
pub mod settings;
pub mod store;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use ports::Ports;
pub use secret::{SecretBytes, SecretString};
