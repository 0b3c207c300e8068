//! Latchkey's own signed tokens, which sessions and the connections API hand out.
//!
//! - [`keys`]: the deployment's HMAC signing keys, sealed by the keyring, rotatable: new tokens
//!   are signed with the newest key, and older keys keep verifying until their tokens expire.
//! - [`jwt`]: minting and verifying Latchkey's own JWTs (session tokens, authorize links).

pub mod jwt;
pub mod keys;
