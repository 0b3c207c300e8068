//! The authorization endpoint: the request is checked in RFC 6749's order (the client and its exact
//! redirect URI first, since an error can only be sent to a URI the client registered; then the
//! rest, answered at that URI), the person answers on the consent page, and an approval becomes a
//! one-time code bound to the PKCE challenge. Every answer at the redirect URI names the issuer
//! (RFC 9207).

use serde::Deserialize;

use super::{clients, mint, SandboxError, DEFAULT_SCOPES, SCOPES};
use crate::model::{Record, SandboxClient, SandboxCode, SandboxPending, Stored};
use crate::ports::Ports;
use crate::secret::{constant_time_eq, random_token, SecretString};

/// An authorization request's parameters (RFC 6749 4.1.1, RFC 7636 4.3), as they came.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    /// Must be `code`.
    #[serde(default)]
    pub response_type: Option<String>,
    /// The client.
    #[serde(default)]
    pub client_id: Option<String>,
    /// One of the client's redirect URIs, exactly.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Given back as it came.
    #[serde(default)]
    pub state: Option<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// The PKCE challenge.
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    #[serde(default)]
    pub code_challenge_method: Option<String>,
}

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum Authorization {
    /// Ask the person.
    Consent(Consent),
    /// Send the browser back to the client now, with an error it must hear.
    Redirect(String),
}

/// What the consent page shows and carries.
#[derive(Debug)]
pub struct Consent {
    /// The client's name.
    pub client_name: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The request id the page's form carries back.
    pub request_id: SecretString,
    /// The value of the cookie that binds the request to this browser.
    pub browser_binding: SecretString,
    /// The SHA-256 of the request id (the cookie is named after it).
    pub request_hash: String,
    /// The origin the answer is sent to (the form's redirect target).
    pub redirect_origin: String,
}

/// `redirect_uri` with `pairs` added, and the issuer (RFC 9207).
fn answer(redirect_uri: &str, issuer: &str, state: Option<&str>, pairs: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else { return redirect_uri.to_owned() };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.to_string()
}

fn error_url(redirect_uri: &str, client: &SandboxClient, state: Option<&str>, error: &str, description: &str) -> String {
    answer(redirect_uri, &client.issuer, state, &[("error", error), ("error_description", description)])
}

fn error_answer(redirect_uri: &str, client: &SandboxClient, state: Option<&str>, error: &str, description: &str) -> Authorization {
    Authorization::Redirect(error_url(redirect_uri, client, state, error, description))
}

/// The scopes of `raw`: known ones only, each once; the default when none are asked for.
fn scopes(raw: Option<&str>) -> Option<Vec<String>> {
    let mut found: Vec<String> = Vec::new();
    for scope in raw.unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) {
            return None;
        }
        if !found.iter().any(|f| f == scope) {
            found.push(scope.to_owned());
        }
    }
    if found.is_empty() {
        found = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
    }
    Some(found)
}

/// An S256 challenge: the 43 base64url characters of a SHA-256.
fn is_challenge(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks an authorization request: the consent page to show, or an error for the client.
pub async fn request_authorization(ports: &Ports, params: AuthorizeParams) -> Result<Authorization, SandboxError> {
    let client_id = params.client_id.as_deref().filter(|c| !c.is_empty() && c.len() <= 128);
    let client = match client_id {
        Some(id) => clients::client(ports, id).await?,
        None => None,
    };
    let client = client.ok_or_else(|| SandboxError::NotRedirectable("The app that sent you here is not registered with the sandbox.".into()))?;
    let redirect_uri = params.redirect_uri.as_deref().filter(|uri| client.redirect_uris.iter().any(|r| r == uri));
    let redirect_uri =
        redirect_uri.ok_or_else(|| SandboxError::NotRedirectable("The app asked to return to an address it did not register with the sandbox.".into()))?;
    let state = params.state.as_deref();
    if state.is_some_and(|s| s.len() > 1024) {
        return Ok(error_answer(redirect_uri, &client, None, "invalid_request", "state is longer than 1024 characters"));
    }
    if params.response_type.as_deref() != Some("code") {
        return Ok(error_answer(redirect_uri, &client, state, "unsupported_response_type", "only response_type=code is supported"));
    }
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Ok(error_answer(redirect_uri, &client, state, "invalid_request", "PKCE is required, with code_challenge_method=S256"));
    }
    let Some(challenge) = params.code_challenge.filter(|c| is_challenge(c)) else {
        return Ok(error_answer(redirect_uri, &client, state, "invalid_request", "code_challenge must be an S256 challenge"));
    };
    let Some(scopes) = scopes(params.scope.as_deref()) else {
        return Ok(error_answer(redirect_uri, &client, state, "invalid_scope", "the sandbox knows the scopes profile and items:read"));
    };
    if client.switches.deny {
        return Ok(error_answer(redirect_uri, &client, state, "access_denied", "the sandbox client is switched to deny"));
    }
    let request_id = mint("sbx_req_");
    let browser_binding = random_token(32);
    let pending = SandboxPending {
        hash: request_id.sha256_hex(),
        browser_hash: browser_binding.sha256_hex(),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        code_challenge: challenge,
        scopes: scopes.clone(),
    };
    let expires = ports.clock.now().plus_secs(SandboxPending::LIFETIME_SECS);
    ports.store.put_if_absent(&pending.to_item()?.expiring_at(expires)).await?;
    let redirect_origin = url::Url::parse(redirect_uri).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    Ok(Authorization::Consent(Consent { client_name: client.name, scopes, request_hash: pending.hash, request_id, browser_binding, redirect_origin }))
}

/// The person's answer on the consent page.
#[derive(Debug)]
pub struct Decision<'a> {
    /// The request id the form carried.
    pub request_id: &'a str,
    /// The browser-binding cookie, if the browser sent it.
    pub browser_binding: Option<&'a str>,
    /// Allow (or deny).
    pub approve: bool,
    /// The sandbox account name the person typed.
    pub account: &'a str,
}

/// Answers a consent: the request must be live and this browser's, and is used once; an approval
/// becomes a code, a denial `access_denied`. Returns where the browser goes.
pub async fn decide(ports: &Ports, decision: Decision<'_>) -> Result<String, SandboxError> {
    if decision.request_id.is_empty() || decision.request_id.len() > 128 {
        return Err(SandboxError::ConsentInvalid);
    }
    let hash = SecretString::new(decision.request_id.to_owned()).sha256_hex();
    let key = SandboxPending::key_of(&hash);
    let pending = Stored::<SandboxPending>::get(ports.store.as_ref(), &key).await?.ok_or(SandboxError::ConsentInvalid)?.record;
    // Checked before the request is used, so a form replayed from another browser cannot burn it.
    let presented = decision.browser_binding.map(|b| SecretString::new(b.to_owned()).sha256_hex()).unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), pending.browser_hash.as_bytes()) {
        return Err(SandboxError::ConsentInvalid);
    }
    let account = decision.account.trim();
    if account.is_empty() || account.chars().count() > 64 || account.chars().any(char::is_control) {
        return Err(SandboxError::Invalid("The account name must be 1 to 64 printable characters.".into()));
    }
    ports.store.take(&key).await?.ok_or(SandboxError::ConsentInvalid)?;
    let client = clients::client(ports, &pending.client_id).await?.ok_or(SandboxError::ConsentInvalid)?;
    let state = pending.state.as_deref();
    if !decision.approve || client.switches.deny {
        return Ok(error_url(&pending.redirect_uri, &client, state, "access_denied", "the person did not allow access"));
    }
    let code = mint("sbx_code_");
    let record = SandboxCode {
        hash: code.sha256_hex(),
        client_id: client.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge,
        scopes: pending.scopes,
        account: account.to_owned(),
    };
    let expires = ports.clock.now().plus_secs(SandboxCode::LIFETIME_SECS);
    ports.store.put_if_absent(&record.to_item()?.expiring_at(expires)).await?;
    Ok(answer(&pending.redirect_uri, &client.issuer, state, &[("code", code.expose())]))
}
