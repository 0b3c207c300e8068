//! OAuth 2.0 wire formats: the token responses providers send back, parsed once into
//! [`TokenSet`] and sealed as [`Credentials`]. The calls themselves go through
//! [`crate::outbound`].

mod tokens;

pub use tokens::{at_path, parse_shaped_token_response, parse_token_response, Credentials, ResponseShape, TokenError, TokenSet};
