//! OAuth 2.0 on the client side: the provider HTTP client (the network port), and the token
//! responses providers send back, parsed once into [`TokenSet`] and sealed as [`Credentials`].

mod client;
mod tokens;

pub use client::{ProviderClient, ProviderError, ProviderResponse, RetryPolicy};
pub use tokens::{at_path, parse_shaped_token_response, parse_token_response, Credentials, ResponseShape, TokenError, TokenSet};
