//! Sessions (Apideck Vault's shape) and the signed tokens they and the connections API hand out.
//!
//! - [`keys`]: the deployment's HMAC signing keys, sealed by the keyring, rotatable: new tokens
//!   are signed with the newest key, and older keys keep verifying until their tokens expire.
//! - [`create`]: `POST /v1/sessions`: settings, theme, consumer, and the signed session token.
//! - [`jwt`]: minting and verifying Latchkey's own JWTs (session tokens, authorize links).

pub mod create;
pub mod jwt;
pub mod keys;

pub use create::{create_session, SessionClaims, SessionRequest, SessionSettings, SESSION_AUDIENCE};
