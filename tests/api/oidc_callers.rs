//! OIDC caller tokens at the token broker (RFC 8725): a real signed JWT from a trusted issuer on
//! loopback works for any user of its project; forged, expired, misdirected or unknown-key tokens
//! do not.

use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::{workspace_root, TestApp};
use crate::link_helpers as link;

/// The JWT issuer fixture (`tests/e2e/jwt-issuer.mjs`).
pub(crate) struct Issuer {
    child: Child,
    pub(crate) issuer: String,
    pub(crate) jwks_url: String,
}

impl Issuer {
    pub(crate) fn start() -> Issuer {
        let (child, ready) = crate::helpers::spawn_ready(
            || {
                let mut command = Command::new("node");
                command.arg(workspace_root().join("tests/e2e/jwt-issuer.mjs")).args(["--port", "0"]).stdin(Stdio::piped());
                command
            },
            "tests/e2e/jwt-issuer.mjs",
        );
        Issuer { issuer: ready["issuer"].as_str().unwrap().into(), jwks_url: ready["jwks_url"].as_str().unwrap().into(), child }
    }

    pub(crate) async fn sign(&self, claims: Value, kid: &str, alg: &str) -> String {
        let response =
            reqwest::Client::new().post(format!("{}/sign", self.issuer)).json(&json!({"claims": claims, "kid": kid, "alg": alg})).send().await.unwrap();
        response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    async fn post(&self, path: &str) -> Value {
        reqwest::Client::new().post(format!("{}{path}", self.issuer)).send().await.unwrap().json().await.unwrap()
    }

    async fn fetches(&self) -> u64 {
        reqwest::get(format!("{}/test/fetches", self.issuer)).await.unwrap().json::<Value>().await.unwrap()["count"].as_u64().unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An app whose project trusts the issuer, with an API-key connection for `user-1`.
async fn arrange() -> (TestApp, Issuer, link::Linked) {
    let app = TestApp::spawn().await;
    let issuer = Issuer::start();
    let project = link::project(&app, "Acme").await;
    let trust = latchkey::model::TrustedIssuer {
        issuer: issuer.issuer.clone(),
        audience: "latchkey".into(),
        jwks_url: issuer.jwks_url.clone(),
        environment_claim: "environment".into(),
        algorithms: vec!["RS256".into()],
        // The issuer signs for anyone who asks (a CI system); these claims make a token this project's.
        bound_claims: [("repository_owner_id".to_owned(), "4242".to_owned()), ("sub".to_owned(), "ci-job-*".to_owned())].into(),
        allow_unbound: false,
        user_claim: None,
    };
    latchkey::admin::trust_issuer(&app.state, &project.project_id, trust).await.unwrap();
    link::api_key_connector(&app, "keys/acme", None, &project.project_id).await;
    let token = link::link_token(&app, &project.secret_key, "user-1").await;
    let form = [("link_token", token.as_str()), ("connector", "keys/acme"), ("api_key", "acme-key")];
    link::Agent::default().send(&app, reqwest::Method::POST, &app.url("/connect/credentials"), Some(&form)).await;
    (app, issuer, project)
}

pub(crate) fn claims(issuer: &Issuer, overrides: Value) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut claims = json!({
        "iss": issuer.issuer, "aud": "latchkey", "sub": "ci-job-7", "exp": now + 300, "iat": now, "environment": "production",
        "repository_owner_id": 4242,
    });
    for (k, v) in overrides.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

async fn ask(app: &TestApp, jwt: &str) -> (u16, Value) {
    let response =
        app.http.post(app.url("/v1/token/keys%2Facme")).bearer_auth(jwt).json(&json!({"subject": {"type": "user", "id": "user-1"}})).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_trusted_issuers_token_may_ask_for_any_user_of_its_project() {
    let (app, issuer, _project) = arrange().await;
    let jwt = issuer.sign(claims(&issuer, json!({})), "k1", "RS256").await;
    let (status, body) = ask(&app, &jwt).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["access_token"], "acme-key");
    let staging = issuer.sign(claims(&issuer, json!({"environment": "preview"})), "k1", "RS256").await;
    let (status, body) = ask(&app, &staging).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (403, "client_not_enabled_for_environment"));
}

#[tokio::test]
async fn forged_misdirected_and_expired_tokens_are_refused() {
    let (app, issuer, _project) = arrange().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let cases = [
        ("wrong audience", issuer.sign(claims(&issuer, json!({"aud": "someone-else"})), "k1", "RS256").await),
        ("no audience", issuer.sign(claims(&issuer, json!({"aud": null})), "k1", "RS256").await),
        ("wrong issuer", issuer.sign(claims(&issuer, json!({"iss": "http://127.0.0.1:1"})), "k1", "RS256").await),
        ("alg none", issuer.sign(claims(&issuer, json!({})), "k1", "none").await),
        ("HS256 with the public key", issuer.sign(claims(&issuer, json!({})), "k1", "HS256-public").await),
        ("expired", issuer.sign(claims(&issuer, json!({"exp": now - 120})), "k1", "RS256").await),
        ("unknown kid", issuer.sign(claims(&issuer, json!({})), "rogue", "RS256").await),
        ("unknown environment", issuer.sign(claims(&issuer, json!({"environment": "staging"})), "k1", "RS256").await),
        ("another tenant of the issuer", issuer.sign(claims(&issuer, json!({"repository_owner_id": 666})), "k1", "RS256").await),
        ("another subject of the tenant", issuer.sign(claims(&issuer, json!({"sub": "evil-job-1"})), "k1", "RS256").await),
        ("no bound claim", issuer.sign(claims(&issuer, json!({"repository_owner_id": null})), "k1", "RS256").await),
        ("not yet valid", issuer.sign(claims(&issuer, json!({"nbf": now + 3600})), "k1", "RS256").await),
    ];
    for (what, jwt) in cases {
        let (status, body) = ask(&app, &jwt).await;
        assert_eq!((status, body["error"]["code"].as_str().unwrap_or_default()), (401, "unauthenticated"), "{what}: {body}");
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_at_most_once_a_minute() {
    let (app, issuer, _project) = arrange().await;
    let good = issuer.sign(claims(&issuer, json!({})), "k1", "RS256").await;
    assert_eq!(ask(&app, &good).await.0, 200);
    let rotated = issuer.sign(claims(&issuer, json!({})), "k2", "RS256").await;
    issuer.post("/rotate").await;

    // Within the minute: the cached JWKS has no k2 and is not fetched again, however many tries.
    for _ in 0..5 {
        assert_eq!(ask(&app, &rotated).await.0, 401);
    }
    assert_eq!(issuer.fetches().await, 1);

    // After it: one refetch finds k2.
    app.clock.advance(61);
    let fresh = issuer.sign(claims(&issuer, json!({})), "k2", "RS256").await;
    assert_eq!(ask(&app, &fresh).await.0, 200);
    assert_eq!(issuer.fetches().await, 2);
}

#[tokio::test]
async fn an_issuer_with_no_bound_claim_is_refused_unless_the_operator_says_so() {
    let app = TestApp::spawn().await;
    let issuer = Issuer::start();
    let project = link::project(&app, "Acme").await;
    let trust = |allow_unbound: bool| latchkey::model::TrustedIssuer {
        issuer: issuer.issuer.clone(),
        audience: "latchkey".into(),
        jwks_url: issuer.jwks_url.clone(),
        environment_claim: "environment".into(),
        algorithms: vec!["RS256".into()],
        bound_claims: Default::default(),
        allow_unbound,
        user_claim: None,
    };
    let refused = latchkey::admin::trust_issuer(&app.state, &project.project_id, trust(false)).await;
    match refused {
        Err(latchkey::admin::AdminError::Invalid(why)) => assert!(why.contains("bind at least one claim"), "{why}"),
        other => panic!("expected a refusal that says why, got {other:?}"),
    }
    assert!(latchkey::admin::trust_issuer(&app.state, &project.project_id, trust(true)).await.is_ok(), "an explicit choice is honoured");
}

#[tokio::test]
async fn a_user_claim_limits_a_token_to_the_user_it_names() {
    // Arrange: the trust binds the owner and says the token's `sub` is the one user it may ask for.
    let (app, issuer, project) = arrange().await;
    let mut trust = latchkey::admin::project(&app.state, &project.project_id).await.unwrap().record.trusted_issuers[0].clone();
    trust.user_claim = Some("sub".into());
    latchkey::admin::trust_issuer(&app.state, &project.project_id, trust).await.unwrap();
    app.clock.advance(5);
    let jwt = issuer.sign(claims(&issuer, json!({"sub": "ci-job-7"})), "k1", "RS256").await;

    // Act: it asks for user-1, who is not the user its claim names.
    let (status, body) = ask(&app, &jwt).await;

    // Assert
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (403, "subject_not_allowed"));
}
