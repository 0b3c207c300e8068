//! OIDC caller tokens, verified as RFC 8725 asks: the token is routed by its `iss` to the projects
//! that trust that issuer; its algorithm must be on the issuer's (asymmetric) allowlist, so `none`
//! and HMAC-with-the-public-key never verify; its key must come from the issuer's pinned JWKS, by
//! `kid`; `aud`, `iss` and `exp` are required. The JWKS is cached per instance and fetched again on
//! an unknown `kid` at most once a minute, so a flood of made-up kids cannot hammer the issuer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::caller::Caller;
use super::TokenError;
use crate::model::{ConsumerId, EnvironmentName, IssuerTrust, Project, Stored, TrustedIssuer};
use crate::ports::Ports;
use crate::secret::SecretString;

/// At most one JWKS fetch per issuer per this many seconds for unknown kids.
const REFETCH_SECS: i64 = 60;

/// Verifies `jwt`; any failure is `Unauthenticated` (the reason goes to the log, not the caller).
pub async fn verify(ports: &Ports, jwt: &str) -> Result<Caller, TokenError> {
    match try_verify(ports, jwt).await {
        Ok(caller) => Ok(caller),
        Err(Refusal::Record(e)) => Err(e),
        Err(Refusal::Reason(reason)) => {
            tracing::info!(reason, "OIDC caller token refused");
            Err(TokenError::Unauthenticated)
        }
    }
}

enum Refusal {
    Reason(&'static str),
    Record(TokenError),
}

impl From<crate::store::RecordError> for Refusal {
    fn from(error: crate::store::RecordError) -> Self {
        Refusal::Record(error.into())
    }
}

async fn try_verify(ports: &Ports, jwt: &str) -> Result<Caller, Refusal> {
    let header = decode_header(jwt).map_err(|_| Refusal::Reason("malformed header or unsupported alg"))?;
    let kid = header.kid.clone().ok_or(Refusal::Reason("no kid"))?;
    let issuer = unverified_issuer(jwt).ok_or(Refusal::Reason("no iss"))?;
    let trusts = trusts_of(ports, &issuer).await?;
    if trusts.is_empty() {
        return Err(Refusal::Reason("untrusted issuer"));
    }
    for (trust, project) in trusts {
        if trust.issuer != issuer || !trust.algorithms.iter().any(|a| algorithm(a) == Some(header.alg)) {
            continue;
        }
        let Some(key) = find_key(ports, &trust.jwks_url, &kid, header.alg).await else { continue };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&trust.issuer]);
        validation.set_audience(&[&trust.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        validation.validate_nbf = true;
        let Ok(data) = decode::<Value>(jwt, &key, &validation) else { continue };
        // A trust with no bound claim (stored before they existed, and never confirmed) lets nobody in.
        if (trust.bound_claims.is_empty() && !trust.allow_unbound) || !trust.binds(&data.claims) {
            return Err(Refusal::Reason("the token's claims are not the ones this project bound"));
        }
        let user = match &trust.user_claim {
            Some(claim) => {
                let named = data.claims.get(claim).and_then(Value::as_str).and_then(|u| ConsumerId::parse(u).ok());
                Some(named.ok_or(Refusal::Reason("the token does not name its user in the claim the project bound"))?)
            }
            None => None,
        };
        let environment = data.claims.get(&trust.environment_claim).and_then(Value::as_str).and_then(|e| EnvironmentName::parse(e).ok());
        let Some(environment) = environment.filter(|e| project.has_environment(e)) else {
            return Err(Refusal::Reason("the environment claim names no environment of the project"));
        };
        let subject = data.claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
        return Ok(Caller::Oidc { project_id: project.id, environment, issuer: trust.issuer.clone(), subject, user });
    }
    Err(Refusal::Reason("signature, audience, issuer, expiry or key did not verify"))
}

/// The projects trusting `issuer`, cached per instance for a few seconds. Issuers nobody trusts
/// are remembered apart, so a flood of made-up issuers cannot evict the trusted ones.
async fn trusts_of(ports: &Ports, issuer: &str) -> Result<Vec<(TrustedIssuer, Project)>, Refusal> {
    let hash = SecretString::new(issuer.to_owned()).sha256_hex();
    let now = ports.clock.now();
    if let Some(trusts) = ports.caches.trusts.get(&hash, now) {
        return Ok(trusts);
    }
    if ports.caches.untrusted.get(&hash, now).is_some() {
        return Ok(Vec::new());
    }
    let mut trusts = Vec::new();
    for stored in Stored::<IssuerTrust>::query(ports.store.as_ref(), &IssuerTrust::partition_of(&hash), "PROJECT#").await? {
        let project = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&stored.record.project_id)).await?;
        // The project's own list is the truth: an index entry it no longer names is stale.
        if let Some(project) = project.map(|p| p.record).filter(|p| p.trusted_issuers.contains(&stored.record.trust)) {
            trusts.push((stored.record.trust, project));
        }
    }
    if trusts.is_empty() {
        ports.caches.untrusted.insert(hash, (), now);
    } else {
        ports.caches.trusts.insert(hash, trusts.clone(), now);
    }
    Ok(trusts)
}

fn unverified_issuer(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "RS384" => Some(Algorithm::RS384),
        "RS512" => Some(Algorithm::RS512),
        "PS256" => Some(Algorithm::PS256),
        "ES256" => Some(Algorithm::ES256),
        "ES384" => Some(Algorithm::ES384),
        _ => None,
    }
}

/// The key `kid` of the JWKS at `url`, fetching it when not cached, or when the kid is unknown and
/// the last fetch is over a minute old.
async fn find_key(ports: &Ports, url: &str, kid: &str, alg: Algorithm) -> Option<DecodingKey> {
    let now = ports.clock.now();
    let cached = ports.caches.jwks.get(url);
    let lookup = |set: &JwkSet| {
        let jwk = set.find(kid)?;
        // A key that names its algorithm may only be used with it.
        if jwk.common.key_algorithm.is_some_and(|a| a.to_string() != format!("{alg:?}")) {
            return None;
        }
        DecodingKey::from_jwk(jwk).ok()
    };
    if let Some((_, set)) = &cached {
        if let Some(key) = lookup(set) {
            return Some(key);
        }
    }
    let stale = cached.as_ref().is_none_or(|(at, _)| now.0 - at.0 >= REFETCH_SECS);
    if !stale {
        return None;
    }
    let fetched = ports.outbound.get_json(url).await.ok()?;
    let set: JwkSet = serde_json::from_value(fetched).ok()?;
    ports.caches.jwks.put(url, now, set.clone());
    lookup(&set)
}
