//! Connectors that need no person: GitHub App installation tokens (narrowed to repositories and
//! permissions too) and the JWT-bearer grant (RFC 7523), against a loopback server that answers in
//! GitHub's documented shape and verifies the RS256 signatures as the real endpoints do.

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

/// The GitHub App connector of these tests, narrowing installation tokens, with installation 777
/// recorded for the project.
async fn github_app(app: &TestApp, shapes: &Shapes, project: &link::Linked) {
    let pem = shapes.get("/test/keys").await["private_key_pem"].as_str().unwrap().to_owned();
    let token_url = format!("{}/app/installations/{{installation_id}}/access_tokens", shapes.base);
    latchkey::admin::create_connector(&app.state, connector("github/acme-app", AuthMode::GithubApp, token_url, "12345", &pem)).await.unwrap();
    let narrowing = latchkey::admin::ConnectorChanges { narrowing: Some(vec![latchkey::model::Narrowing::GithubInstallation]), ..Default::default() };
    latchkey::admin::update_connector(&app.state, "github/acme-app", narrowing).await.unwrap();
    latchkey::admin::link_connector(&app.state, "github/acme-app", &project.project_id, &["production".into()]).await.unwrap();
    latchkey::admin::record_installation(&app.state, "github/acme-app", &project.project_id, "production", "777", None).await.unwrap();
}

fn installation(extra: Value) -> Value {
    let mut body = json!({"subject": {"type": "app"}, "installation_id": "777"});
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    body
}

#[tokio::test]
async fn github_installation_tokens_are_narrowed_to_the_repositories_and_permissions_asked_for() {
    // Arrange
    let app = TestApp::spawn().await;
    let shapes = Shapes::start();
    let project = link::project(&app, "Acme").await;
    github_app(&app, &shapes, &project).await;
    let path = "/v1/token/github%2Facme-app";
    let detail = json!([{"type": "github_app_installation", "repositories": ["acme/widgets"], "permissions": ["contents:read"]}]);

    // Act
    let (_, full) = ask(&app, &project.secret_key, path, installation(json!({}))).await;
    let (status, narrowed) = ask(&app, &project.secret_key, path, installation(json!({"authorization_details": detail}))).await;
    let sent = shapes.get("/test/counts").await["last_installation_body"].clone();
    let (_, again) = ask(&app, &project.secret_key, path, installation(json!({"authorization_details": detail}))).await;
    let (_, by_scope) = ask(&app, &project.secret_key, path, installation(json!({"scopes": ["issues:write"]}))).await;
    let by_scope_sent = shapes.get("/test/counts").await["last_installation_body"].clone();

    // Assert: GitHub's documented request body, and what GitHub granted in the answer.
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(sent, json!({"repositories": ["widgets"], "permissions": {"contents": "read"}}));
    assert_ne!(narrowed["access_token"], full["access_token"]);
    assert_eq!(narrowed["scopes"], json!(["contents:read", "metadata:read"]), "metadata read comes with every installation token");
    assert_eq!(narrowed["authorization_details"][0]["repositories"], json!(["acme/widgets"]));
    assert_eq!(narrowed["metadata"]["repository_selection"], "selected");
    assert_eq!(again["access_token"], narrowed["access_token"], "cached per narrowing");
    assert_eq!(by_scope_sent, json!({"permissions": {"issues": "write"}}));
    assert_eq!(by_scope["scopes"], json!(["issues:write", "metadata:read"]));
    assert_eq!(shapes.get("/test/counts").await["installation_tokens"], 3);
}

#[tokio::test]
async fn github_refusals_and_broader_grants_are_narrowing_unsupported_unless_broader_is_allowed() {
    // Arrange
    let app = TestApp::spawn().await;
    let shapes = Shapes::start();
    let project = link::project(&app, "Acme").await;
    github_app(&app, &shapes, &project).await;
    let path = "/v1/token/github%2Facme-app";
    let repositories = |names: Value| json!({"authorization_details": [{"type": "github_app_installation", "repositories": names}]});

    // Act
    let (refused, refusal) = ask(&app, &project.secret_key, path, installation(repositories(json!(["not-installed"])))).await;
    let mut broader_ask = installation(repositories(json!(["not-installed"])));
    broader_ask["allow_broader"] = json!(true);
    let (broader_status, broader) = ask(&app, &project.secret_key, path, broader_ask).await;
    let (other_owner, other) = ask(&app, &project.secret_key, path, installation(repositories(json!(["someone-else/widgets"])))).await;
    let (by_resource, resource_refusal) = ask(&app, &project.secret_key, path, installation(json!({"resources": ["https://api.github.com"]}))).await;

    // Assert
    assert_eq!((refused, refusal["error"]["code"].as_str()), (400, Some("narrowing_unsupported")), "{refusal}");
    assert_eq!(refusal["error"]["details"]["provider_error"], "unprocessable_narrowing");
    assert_eq!(broader_status, 200, "{broader}");
    assert_eq!(broader["metadata"]["repository_selection"], "all", "the installation's full token");
    assert_eq!(
        (other_owner, other["error"]["details"]["provider_error"].as_str()),
        (400, Some("broader_than_asked")),
        "another owner's repository is not asked for by name alone"
    );
    assert_eq!((by_resource, resource_refusal["error"]["details"]["unsupported"].clone()), (400, json!(["resources"])));
}

#[tokio::test]
async fn fifty_concurrent_requests_for_one_github_narrowing_make_one_call_to_github() {
    let app = TestApp::spawn().await;
    let shapes = Shapes::start();
    let project = link::project(&app, "Acme").await;
    github_app(&app, &shapes, &project).await;
    let body = installation(json!({"scopes": ["contents:write"]}));
    let answers = futures::future::join_all((0..50).map(|_| ask(&app, &project.secret_key, "/v1/token/github%2Facme-app", body.clone()))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    let tokens: std::collections::HashSet<&str> = answers.iter().map(|(_, b)| b["access_token"].as_str().unwrap()).collect();
    assert_eq!(tokens.len(), 1);
    assert_eq!(shapes.get("/test/counts").await["installation_tokens"], 1, "one provider call for fifty requests");
}
