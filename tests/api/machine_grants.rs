//! Connectors that need no person: GitHub App installation tokens and the JWT-bearer grant
//! (RFC 7523), against a loopback server that answers in GitHub's documented shape and verifies the
//! RS256 signatures as the real endpoints do.

use std::process::{Child, Command, Stdio};

use latchkey::admin::NewConnector;
use latchkey::model::{AuthMode, OAuthEndpoints, TokenAuthMethod};
use latchkey::SecretString;
use serde_json::{json, Value};

use crate::helpers::{workspace_root, TestApp};
use crate::link_helpers as link;

pub struct Shapes {
    child: Child,
    pub base: String,
}

impl Shapes {
    pub fn start() -> Shapes {
        let (child, ready) = crate::helpers::spawn_ready(
            || {
                let mut command = Command::new("node");
                command
                    .arg(workspace_root().join("tests/e2e/shapes-server.mjs"))
                    .args(["--port", "0", "--app-id", "12345", "--client-id", "svc@example.iam"])
                    .stdin(Stdio::piped());
                command
            },
            "tests/e2e/shapes-server.mjs",
        );
        Shapes { base: ready["base"].as_str().unwrap().into(), child }
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base)).await.unwrap().json().await.unwrap()
    }
}

impl Drop for Shapes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connector(uid: &str, mode: AuthMode, token_url: String, client_id: &str, pem: &str) -> NewConnector {
    NewConnector {
        uid: uid.into(),
        display_name: None,
        auth_mode: mode,
        oauth: Some(OAuthEndpoints {
            authorize_url: "https://github.com/apps/acme/installations/new".into(),
            token_url,
            revoke_url: None,
            issuer: None,
            requires_iss: false,
            scope_separator: " ".into(),
            pkce: false,
            token_auth: TokenAuthMethod::ClientSecretBasic,
            authorize_params: Default::default(),
            default_token_lifetime_secs: 3600,
            refresh_buffer_secs: 300,
            revocation_scope: Default::default(),
        }),
        client_id: Some(client_id.into()),
        client_secret: Some(SecretString::new(pem)),
        default_scopes: vec![],
        fields: vec![],
    }
}

async fn ask(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app.http.post(app.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn github_app_installation_tokens_are_minted_with_an_app_jwt_and_cached() {
    // Arrange
    let app = TestApp::spawn().await;
    let shapes = Shapes::start();
    let pem = shapes.get("/test/keys").await["private_key_pem"].as_str().unwrap().to_owned();
    let project = link::project(&app, "Acme").await;
    let token_url = format!("{}/app/installations/{{installation_id}}/access_tokens", shapes.base);
    latchkey::admin::create_connector(&app.state, connector("github/acme-app", AuthMode::GithubApp, token_url, "12345", &pem)).await.unwrap();
    latchkey::admin::link_connector(&app.state, "github/acme-app", &project.project_id, &["production".into()]).await.unwrap();
    // The operator records the installation the project's end user made; only it can be used.
    latchkey::admin::record_installation(&app.state, "github/acme-app", &project.project_id, "production", "777", None).await.unwrap();
    let path = "/v1/token/github%2Facme-app";

    // Act
    let (status, first) = ask(&app, &project.secret_key, path, json!({"subject": {"type": "app"}, "installation_id": "777"})).await;
    let (_, second) = ask(&app, &project.secret_key, path, json!({"subject": {"type": "app"}, "installation_id": "777"})).await;
    let (missing, missing_body) = ask(&app, &project.secret_key, path, json!({"subject": {"type": "app"}, "installation_id": "404"})).await;
    let (none, none_body) = ask(&app, &project.secret_key, path, json!({"subject": {"type": "app"}})).await;

    // Assert
    assert_eq!(status, 200, "{first}");
    assert!(first["access_token"].as_str().unwrap().starts_with("ghs_"));
    assert_eq!(first["installation_id"], "777");
    assert_eq!(first["metadata"]["repository_selection"], "all");
    assert_eq!(first["access_token"], second["access_token"], "cached until shortly before expiry");
    assert_eq!(shapes.get("/test/counts").await["installation_tokens"], 1);
    assert_eq!((missing, missing_body["error"]["code"].as_str().unwrap()), (409, "connector_installation_required"));
    assert_eq!((none, none_body["error"]["code"].as_str().unwrap()), (409, "connector_installation_required"));
    assert_eq!(shapes.get("/test/counts").await["installation_tokens"], 1, "an unrecorded installation never reaches GitHub");
    assert_eq!(shapes.get("/test/counts").await["refused"], 0, "every app JWT verified");
}

#[tokio::test]
async fn the_jwt_bearer_grant_signs_an_assertion_per_subject() {
    // Arrange
    let app = TestApp::spawn().await;
    let shapes = Shapes::start();
    let pem = shapes.get("/test/keys").await["private_key_pem"].as_str().unwrap().to_owned();
    let project = link::project(&app, "Acme").await;
    let token_url = format!("{}/oauth/token", shapes.base);
    latchkey::admin::create_connector(&app.state, connector("jwt/svc", AuthMode::JwtBearer, token_url, "svc@example.iam", &pem)).await.unwrap();
    latchkey::admin::link_connector(&app.state, "jwt/svc", &project.project_id, &["production".into()]).await.unwrap();
    let alice = latchkey::admin::create_user_secret_key(&app.state, &project.project_id, "production", Some("alice".into())).await.unwrap().1;

    // Act
    let (status, user) = ask(&app, alice.expose(), "/v1/token/jwt%2Fsvc", json!({"subject": {"type": "user", "id": "alice"}})).await;
    let (app_status, for_app) = ask(&app, &project.secret_key, "/v1/token/jwt%2Fsvc", json!({"subject": {"type": "app"}})).await;

    // Assert
    assert_eq!((status, app_status), (200, 200), "{user} {for_app}");
    assert!(user["access_token"].as_str().unwrap().starts_with("jb_"));
    assert_ne!(user["access_token"], for_app["access_token"], "one connection per subject");
    assert_eq!(shapes.get("/test/counts").await["jwt_bearer_tokens"], 2);
}

#[tokio::test]
async fn a_connector_that_signs_needs_an_rsa_private_key() {
    let app = TestApp::spawn().await;
    let refused = latchkey::admin::create_connector(&app.state, connector("jwt/bad", AuthMode::JwtBearer, "https://x.test/t".into(), "c", "not a key")).await;
    assert!(matches!(refused, Err(latchkey::admin::AdminError::Invalid(m)) if m.contains("RSA private key")));
}
