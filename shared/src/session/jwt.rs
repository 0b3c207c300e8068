//! Latchkey's own JWTs: HS256 with a kid naming the signing key, an audience per purpose, and an
//! expiry. Verification accepts only HS256 and only keys this deployment made.

use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys;
use crate::ports::Ports;
use crate::secret::SecretString;
use crate::store::RecordError;

/// The issuer of every Latchkey token.
pub const ISSUER: &str = "latchkey";

/// Signs `claims` (which must carry `iss`, `aud` and `exp`) with the current key.
pub async fn sign<C: Serialize>(ports: &Ports, claims: &C) -> Result<SecretString, RecordError> {
    let key = keys::current(ports).await?;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &EncodingKey::from_secret(key.secret.expose()))
        .map(SecretString::new)
        .map_err(|e| RecordError::Corrupt(format!("could not sign: {e}")))
}

/// Verifies a token for `audience`; `None` for anything that does not verify.
pub async fn verify<C: DeserializeOwned>(ports: &Ports, token: &str, audience: &str) -> Result<Option<C>, RecordError> {
    let Ok(header) = decode_header(token) else { return Ok(None) };
    let (Algorithm::HS256, Some(kid)) = (header.alg, header.kid) else { return Ok(None) };
    let Some(key) = keys::find(ports, &kid).await? else { return Ok(None) };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = 0;
    // The clock port decides expiry (tests move it); jsonwebtoken's own check uses the wall clock.
    validation.validate_exp = false;
    let Ok(data) = decode::<serde_json::Value>(token, &DecodingKey::from_secret(key.secret.expose()), &validation) else {
        return Ok(None);
    };
    let exp = data.claims.get("exp").and_then(|e| e.as_i64()).unwrap_or(0);
    if exp <= ports.clock.now().0 {
        return Ok(None);
    }
    Ok(serde_json::from_value(data.claims).ok())
}
