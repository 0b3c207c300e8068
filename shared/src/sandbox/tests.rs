//! The sandbox's rules, each shown to hold and to refuse its break: PKCE S256, exact redirect URIs,
//! `iss` on every answer, one-time codes, rotating refresh tokens and reuse detection, revocation,
//! and the switches.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::api::{self, RevokeForm};
use super::authorize::{decide, request_authorization, Authorization, AuthorizeParams, Decision};
use super::clients::{change_client, create_client, ClientChanges, NewClient};
use super::token::{exchange, Issued, TokenForm};
use super::*;
use crate::keyring::{CachePolicy, DataKey, Keyring, LocalKeyProvider};
use crate::model::SandboxClient;
use crate::{ManualClock, SecretString};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const ISSUER: &str = "http://127.0.0.1:9/sandbox";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn ports() -> (Ports, ManualClock) {
    let clock = ManualClock::starting_now();
    let store = crate::store::SqliteStore::in_memory(Arc::new(clock.clone())).unwrap();
    let keyring = Keyring::new(Arc::new(LocalKeyProvider::new(DataKey::generate())), CachePolicy::default());
    (Ports::new(Default::default(), Arc::new(store), keyring, Arc::new(clock.clone())), clock)
}

async fn client(ports: &Ports) -> (SandboxClient, SecretString) {
    let new = NewClient { name: "Test app".into(), redirect_uris: vec![REDIRECT.into()], issuer: ISSUER.into(), access_token_lifetime_secs: 30 };
    create_client(ports, new).await.unwrap()
}

fn params(client: &SandboxClient) -> AuthorizeParams {
    AuthorizeParams {
        response_type: Some("code".into()),
        client_id: Some(client.client_id.clone()),
        redirect_uri: Some(REDIRECT.into()),
        state: Some("st-1".into()),
        scope: Some("profile items:read".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
    }
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Runs the consent: the URL the browser is sent back to.
async fn consent(ports: &Ports, params: AuthorizeParams, approve: bool) -> String {
    let Authorization::Consent(consent) = request_authorization(ports, params).await.unwrap() else { panic!("a consent page") };
    let decision = Decision { request_id: consent.request_id.expose(), browser_binding: Some(consent.browser_binding.expose()), approve, account: "Ada" };
    decide(ports, decision).await.unwrap()
}

fn basic(client: &SandboxClient, secret: &SecretString) -> Option<ClientCredentials> {
    Some(ClientCredentials { client_id: Some(client.client_id.clone()), secret: Some(secret.clone()) })
}

async fn redeem(ports: &Ports, client: &SandboxClient, secret: &SecretString, code: &str, verifier: &str) -> Result<Issued, SandboxError> {
    let form = TokenForm {
        grant_type: Some("authorization_code".into()),
        code: Some(SecretString::new(code)),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(SecretString::new(verifier)),
        ..TokenForm::default()
    };
    exchange(ports, form, basic(client, secret)).await
}

async fn refresh(ports: &Ports, client: &SandboxClient, secret: &SecretString, token: &SecretString) -> Result<Issued, SandboxError> {
    let form = TokenForm { grant_type: Some("refresh_token".into()), refresh_token: Some(token.clone()), ..TokenForm::default() };
    exchange(ports, form, basic(client, secret)).await
}

/// A client, an approved authorization and its first tokens.
async fn connected(ports: &Ports) -> (SandboxClient, SecretString, Issued) {
    let (client, secret) = client(ports).await;
    let back = query(&consent(ports, params(&client), true).await);
    let issued = redeem(ports, &client, &secret, &back["code"], VERIFIER).await.unwrap();
    (client, secret, issued)
}

fn code_of(error: Result<Issued, SandboxError>) -> OAuthCode {
    match error {
        Err(SandboxError::OAuth { error, .. }) => error,
        other => panic!("an OAuth error, not {other:?}"),
    }
}

#[test]
fn pkce_s256_matches_rfc_7636_and_nothing_else() {
    assert!(pkce_matches(VERIFIER, CHALLENGE));
    assert!(!pkce_matches(&VERIFIER.replace('d', "e"), CHALLENGE));
    assert!(!pkce_matches(CHALLENGE, CHALLENGE), "the challenge is not its own verifier");
    let short = "abc";
    let short_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(short));
    assert!(!pkce_matches(short, &short_challenge), "a verifier has 43 to 128 characters");
}

#[tokio::test]
async fn an_authorization_needs_s256_and_an_exact_redirect_uri_and_names_its_issuer() {
    let (ports, _) = ports();
    let (client, _) = client(&ports).await;
    for (change, error) in [
        (AuthorizeParams { code_challenge_method: None, ..params(&client) }, "invalid_request"),
        (AuthorizeParams { code_challenge_method: Some("plain".into()), ..params(&client) }, "invalid_request"),
        (AuthorizeParams { code_challenge: Some("short".into()), ..params(&client) }, "invalid_request"),
        (AuthorizeParams { response_type: Some("token".into()), ..params(&client) }, "unsupported_response_type"),
        (AuthorizeParams { scope: Some("admin".into()), ..params(&client) }, "invalid_scope"),
    ] {
        let Authorization::Redirect(to) = request_authorization(&ports, change).await.unwrap() else { panic!("an error for the client") };
        let answer = query(&to);
        assert_eq!((answer["error"].as_str(), answer["state"].as_str(), answer["iss"].as_str()), (error, "st-1", ISSUER), "{to}");
    }
    let elsewhere = AuthorizeParams { redirect_uri: Some("http://127.0.0.1:9/callback/x".into()), ..params(&client) };
    assert!(matches!(request_authorization(&ports, elsewhere).await, Err(SandboxError::NotRedirectable(_))), "never sent to an unregistered URI");
    let unknown = AuthorizeParams { client_id: Some("sbx_client_unknown".into()), ..params(&client) };
    assert!(matches!(request_authorization(&ports, unknown).await, Err(SandboxError::NotRedirectable(_))));
    let approved = query(&consent(&ports, params(&client), true).await);
    assert!(approved["code"].starts_with("sbx_code_") && approved["iss"] == ISSUER && approved["state"] == "st-1");
    let denied = query(&consent(&ports, params(&client), false).await);
    assert_eq!((denied["error"].as_str(), denied["iss"].as_str()), ("access_denied", ISSUER));
}

#[tokio::test]
async fn a_consent_is_answered_once_and_only_by_the_browser_that_opened_it() {
    let (ports, _) = ports();
    let (client, _) = client(&ports).await;
    let Authorization::Consent(consent) = request_authorization(&ports, params(&client)).await.unwrap() else { panic!() };
    let answer = |binding: Option<&'static str>| Decision { request_id: "", browser_binding: binding, approve: true, account: "Ada" };
    let other_browser = Decision { request_id: consent.request_id.expose(), ..answer(Some("another-browser")) };
    assert!(matches!(decide(&ports, other_browser).await, Err(SandboxError::ConsentInvalid)));
    let binding = consent.browser_binding.expose();
    let good = || Decision { request_id: consent.request_id.expose(), browser_binding: Some(binding), approve: true, account: "Ada" };
    assert!(decide(&ports, good()).await.is_ok(), "the other browser's try did not burn it");
    assert!(matches!(decide(&ports, good()).await, Err(SandboxError::ConsentInvalid)), "answered once");
}

#[tokio::test]
async fn a_code_works_once_with_its_verifier_and_a_second_use_revokes_its_tokens() {
    let (ports, _) = ports();
    let (client, secret) = client(&ports).await;
    let code = query(&consent(&ports, params(&client), true).await)["code"].clone();
    let wrong = "x".repeat(43);
    assert_eq!(code_of(redeem(&ports, &client, &secret, &code, &wrong).await), OAuthCode::InvalidGrant, "a wrong verifier burns the code");
    let code = query(&consent(&ports, params(&client), true).await)["code"].clone();
    let issued = redeem(&ports, &client, &secret, &code, VERIFIER).await.unwrap();
    assert!(issued.access_token.expose().starts_with("sbx_at_") && issued.expires_in == 30);
    assert!(api::authenticate(&ports, Some(&issued.access_token)).await.is_ok());
    assert_eq!(code_of(redeem(&ports, &client, &secret, &code, VERIFIER).await), OAuthCode::InvalidGrant);
    assert!(matches!(api::authenticate(&ports, Some(&issued.access_token)).await, Err(SandboxError::InvalidToken)), "the first use's tokens died");
    assert_eq!(code_of(refresh(&ports, &client, &secret, &issued.refresh_token).await), OAuthCode::InvalidGrant);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_grant() {
    let (ports, _) = ports();
    let (client, secret, first) = connected(&ports).await;
    let second = refresh(&ports, &client, &secret, &first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token, "a new refresh token each time");
    assert_ne!(second.access_token, first.access_token);
    let third = refresh(&ports, &client, &secret, &second.refresh_token).await.unwrap();
    assert!(api::authenticate(&ports, Some(&third.access_token)).await.is_ok());

    // A thief replays the first refresh token: refused, and the whole grant ends.
    assert_eq!(code_of(refresh(&ports, &client, &secret, &first.refresh_token).await), OAuthCode::InvalidGrant);
    assert!(matches!(api::authenticate(&ports, Some(&third.access_token)).await, Err(SandboxError::InvalidToken)));
    assert_eq!(code_of(refresh(&ports, &client, &secret, &third.refresh_token).await), OAuthCode::InvalidGrant, "the latest one died too");
}

#[tokio::test]
async fn a_refresh_needs_the_right_client_and_may_narrow_the_scopes() {
    let (ports, _) = ports();
    let (client, secret, first) = connected(&ports).await;
    let (other, other_secret) = self::client(&ports).await;
    assert_eq!(code_of(refresh(&ports, &other, &other_secret, &first.refresh_token).await), OAuthCode::InvalidGrant);
    assert_eq!(code_of(refresh(&ports, &client, &SecretString::new("wrong"), &first.refresh_token).await), OAuthCode::InvalidClient);
    let form = TokenForm {
        grant_type: Some("refresh_token".into()),
        refresh_token: Some(first.refresh_token.clone()),
        scope: Some("profile".into()),
        ..TokenForm::default()
    };
    let narrow = exchange(&ports, form, basic(&client, &secret)).await.unwrap();
    assert_eq!(narrow.scopes, ["profile"]);
    let access = api::authenticate(&ports, Some(&narrow.access_token)).await.unwrap();
    assert!(api::me(&access).is_ok());
    assert!(matches!(api::items(&access), Err(SandboxError::InsufficientScope("items:read"))));
}

#[tokio::test]
async fn access_tokens_live_their_lifetime_and_revocation_ends_them() {
    let (ports, clock) = ports();
    let (client, secret, first) = connected(&ports).await;
    let access = api::authenticate(&ports, Some(&first.access_token)).await.unwrap();
    assert_eq!(api::me(&access).unwrap()["name"], "Ada");
    clock.advance(31);
    assert!(matches!(api::authenticate(&ports, Some(&first.access_token)).await, Err(SandboxError::InvalidToken)));
    let second = refresh(&ports, &client, &secret, &first.refresh_token).await.unwrap();
    let form = RevokeForm { token: Some(second.refresh_token.clone()), ..RevokeForm::default() };
    api::revoke(&ports, form, basic(&client, &secret)).await.unwrap();
    assert!(matches!(api::authenticate(&ports, Some(&second.access_token)).await, Err(SandboxError::InvalidToken)), "RFC 7009: its grant's access tokens");
    let unknown = RevokeForm { token: Some(SecretString::new("sbx_rt_unknown")), ..RevokeForm::default() };
    assert!(api::revoke(&ports, unknown, basic(&client, &secret)).await.is_ok(), "an unknown token is not an error");
}

#[tokio::test]
async fn the_switches_deny_fail_refreshes_and_answer_503() {
    let (ports, _) = ports();
    let (client, secret, first) = connected(&ports).await;
    let changes = ClientChanges { fail_refresh: Some(true), ..ClientChanges::default() };
    change_client(&ports, &client.client_id, changes).await.unwrap();
    assert_eq!(code_of(refresh(&ports, &client, &secret, &first.refresh_token).await), OAuthCode::InvalidGrant);
    change_client(&ports, &client.client_id, ClientChanges { fail_refresh: Some(false), unavailable: Some(true), ..ClientChanges::default() }).await.unwrap();
    assert!(matches!(refresh(&ports, &client, &secret, &first.refresh_token).await, Err(SandboxError::Unavailable)));
    assert!(matches!(api::authenticate(&ports, Some(&first.access_token)).await, Err(SandboxError::Unavailable)));
    change_client(&ports, &client.client_id, ClientChanges { unavailable: Some(false), deny: Some(true), ..ClientChanges::default() }).await.unwrap();
    let Authorization::Redirect(to) = request_authorization(&ports, params(&client)).await.unwrap() else { panic!("denied at once") };
    assert_eq!(query(&to)["error"], "access_denied");
    change_client(&ports, &client.client_id, ClientChanges { deny: Some(false), ..ClientChanges::default() }).await.unwrap();
    assert!(refresh(&ports, &client, &secret, &first.refresh_token).await.is_ok(), "a failed refresh left the token usable");
    let too_short = ClientChanges { access_token_lifetime_secs: Some(29), ..ClientChanges::default() };
    assert!(matches!(change_client(&ports, &client.client_id, too_short).await, Err(SandboxError::Invalid(_))));
}

#[test]
fn basic_credentials_are_form_decoded_and_nothing_secret_prints() {
    let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("my%20client:s%3Acret"));
    let credentials = ClientCredentials::from_basic(&header).unwrap();
    assert_eq!(credentials.client_id.as_deref(), Some("my client"));
    assert_eq!(credentials.secret.as_ref().map(SecretString::expose), Some("s:cret"));
    assert!(!format!("{credentials:?}").contains("s:cret"));
    assert!(ClientCredentials::from_basic("Bearer x").is_none());
}
