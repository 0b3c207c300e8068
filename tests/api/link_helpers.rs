//! Arranging the link flow: a project with a secret key, an OAuth connector at the loopback
//! provider, and a user agent that walks the provider's redirects the way a browser would.

use std::collections::HashMap;

use latchkey::admin::{self, NewConnector, NewProject};
use latchkey::model::{AuthMode, OAuthEndpoints, ProjectId, TokenAuthMethod};
use latchkey::SecretString;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::provider::Provider;

/// The allowed origin of the test projects (no server needs to run there: page-mode results are
/// redirects the tests read instead of following).
pub const APP_ORIGIN: &str = "https://app.example.test";
/// The test connector.
pub const CONNECTOR: &str = "oidc/test";

/// A project wired to the provider.
pub struct Linked {
    pub project_id: ProjectId,
    pub secret_key: String,
}

/// Creates a project (origin [`APP_ORIGIN`]) with a production key.
pub async fn project(app: &TestApp, name: &str) -> Linked {
    let new = NewProject { name: name.into(), environments: Vec::new(), allowed_origins: vec![APP_ORIGIN.into()] };
    let project = admin::create_project(&app.state, new).await.unwrap();
    let (_, key) = admin::create_secret_key(&app.state, &project.id, "production").await.unwrap();
    Linked { project_id: project.id, secret_key: key.expose().to_owned() }
}

/// Creates the connector for `client` (`latchkey-auto` or `latchkey-browser`) and links it.
pub async fn connector(app: &TestApp, provider: &Provider, client: &str, secret: &str, project: &ProjectId) {
    let oauth = OAuthEndpoints {
        authorize_url: provider.authorization_endpoint.clone(),
        token_url: provider.token_endpoint.clone(),
        revoke_url: Some(provider.revocation_endpoint.clone()),
        issuer: Some(provider.issuer.clone()),
        requires_iss: true,
        scope_separator: " ".into(),
        pkce: true,
        token_auth: TokenAuthMethod::ClientSecretBasic,
        authorize_params: Default::default(),
        default_token_lifetime_secs: 3600,
        refresh_buffer_secs: 300,
        // oidc-provider, like Google, extends one grant when the same browser session authorizes
        // again, and a revocation ends the whole grant: replaced grants must be left alone.
        revocation_scope: latchkey::model::RevocationScope::Grant,
    };
    let new = NewConnector {
        uid: CONNECTOR.into(),
        display_name: Some("Test Provider".into()),
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some(client.into()),
        client_secret: Some(SecretString::new(secret)),
        default_scopes: vec!["openid".into(), "offline_access".into(), "contacts.read".into()],
        fields: Vec::new(),
    };
    admin::create_connector(&app.state, new).await.unwrap();
    admin::link_connector(&app.state, CONNECTOR, project, &["production".into()]).await.unwrap();
}

/// Creates an API-key connector `uid` (named `name`) and links it to `project` in production.
pub async fn api_key_connector(app: &TestApp, uid: &str, name: Option<&str>, project: &ProjectId) {
    let new = NewConnector {
        uid: uid.into(),
        display_name: name.map(str::to_owned),
        auth_mode: AuthMode::ApiKey,
        oauth: None,
        client_id: None,
        client_secret: None,
        default_scopes: vec![],
        fields: vec![],
    };
    admin::create_connector(&app.state, new).await.unwrap();
    admin::link_connector(&app.state, uid, project, &["production".into()]).await.unwrap();
}

/// `POST /v1/link/token` with `body`.
pub async fn link_token_response(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.http.post(app.url("/v1/link/token")).bearer_auth(key).json(&body).send().await.unwrap()
}

/// A link token for `user` that returns to `APP_ORIGIN/done`.
pub async fn link_token(app: &TestApp, key: &str, user: &str) -> String {
    let response = link_token_response(app, key, json!({"end_user": {"id": user}, "redirect_url": format!("{APP_ORIGIN}/done")})).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["link_token"].as_str().unwrap().to_owned()
}

/// `POST /v1/link/exchange`.
pub async fn exchange(app: &TestApp, key: &str, public_token: &str) -> reqwest::Response {
    app.http.post(app.url("/v1/link/exchange")).bearer_auth(key).json(&json!({"public_token": public_token})).send().await.unwrap()
}

/// A browser stand-in: one cookie jar per host, redirects followed by hand.
#[derive(Default, Clone)]
pub struct Agent {
    cookies: HashMap<String, HashMap<String, String>>,
}

impl Agent {
    fn cookie_header(&self, url: &url::Url) -> Option<String> {
        let jar = self.cookies.get(url.host_str()?)?;
        (!jar.is_empty()).then(|| jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    fn remember(&mut self, url: &url::Url, response: &reqwest::Response) {
        let jar = self.cookies.entry(url.host_str().unwrap_or_default().to_owned()).or_default();
        for header in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = header.to_str().unwrap_or_default();
            if let Some((name, value)) = text.split(';').next().and_then(|p| p.split_once('=')) {
                if value.is_empty() || text.contains("Max-Age=0") {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }

    /// Sends a request with this agent's cookies, remembering what it is told to keep.
    pub async fn send(&mut self, app: &TestApp, method: reqwest::Method, url: &str, form: Option<&[(&str, &str)]>) -> reqwest::Response {
        let parsed = url::Url::parse(url).unwrap();
        let mut request = app.http.request(method, url);
        if let Some(cookie) = self.cookie_header(&parsed) {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        if let Some(form) = form {
            // A browser names where a form comes from; the Connect page's forms come from itself.
            if url.starts_with(&app.base) {
                request = request.header("origin", &app.base).header("sec-fetch-site", "same-origin");
            }
            let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
            request = request.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        }
        let response = request.send().await.unwrap();
        self.remember(&parsed, &response);
        response
    }

    /// Starts the authorization from the Connect page and walks the provider's redirects until the
    /// provider sends the browser back to Latchkey; returns that callback URL.
    pub async fn authorize(&mut self, app: &TestApp, link_token: &str) -> String {
        self.authorize_with(app, link_token, CONNECTOR, &[]).await
    }

    /// [`Agent::authorize`] for `connector`, with extra form fields.
    pub async fn authorize_with(&mut self, app: &TestApp, link_token: &str, connector: &str, extra: &[(&str, &str)]) -> String {
        let mut form = vec![("link_token", link_token), ("connector", connector), ("mode", "page")];
        form.extend_from_slice(extra);
        let start = self.send(app, reqwest::Method::POST, &app.url("/connect/oauth/start"), Some(&form)).await;
        assert_eq!(start.status(), 303, "start: {}", start.text().await.unwrap_or_default());
        let mut location = location(&start, &app.url("/"));
        for _ in 0..10 {
            if location.starts_with(&app.base) {
                return location;
            }
            let response = self.send(app, reqwest::Method::GET, &location, None).await;
            assert!(response.status().is_redirection(), "provider answered {} at {location}", response.status());
            location = location_of(&response, &location);
        }
        panic!("the provider never redirected back");
    }

    /// Opens an authorize link: its confirmation page names the app and the service and waits for a
    /// click; this agent clicks, posting the page's form back. Returns that answer.
    pub async fn confirm(&mut self, app: &TestApp, authorize_url: &str) -> reqwest::Response {
        let page = self.send(app, reqwest::Method::GET, authorize_url, None).await;
        assert_eq!(page.status(), 200, "the confirmation page");
        let html = page.text().await.unwrap();
        assert!(html.contains("id=\"continue\""), "{html}");
        let fields = hidden_fields(&html);
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.send(app, reqwest::Method::POST, &app.url("/connect/authorize"), Some(&form)).await
    }

    /// The callback: Latchkey's answer to the provider's redirect.
    pub async fn callback(&mut self, app: &TestApp, callback_url: &str) -> reqwest::Response {
        self.send(app, reqwest::Method::GET, callback_url, None).await
    }
}

fn location(response: &reqwest::Response, base: &str) -> String {
    location_of(response, base)
}

fn location_of(response: &reqwest::Response, base: &str) -> String {
    let raw = response.headers().get(reqwest::header::LOCATION).expect("Location").to_str().unwrap();
    url::Url::parse(base).unwrap().join(raw).unwrap().to_string()
}

/// The query parameter `name` of the redirect `response` makes.
pub fn redirect_param(response: &reqwest::Response, name: &str) -> Option<String> {
    let raw = response.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    let url = url::Url::parse(raw).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `url` with query parameter `name` replaced (or removed with `None`).
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    parsed.to_string()
}

/// The hidden inputs of every form on a page, as a browser would send them.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |v: &str| v.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&");
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

/// The error code shown on a Latchkey HTML page.
pub async fn page_code(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap();
    text.split("<code>").nth(1).and_then(|s| s.split("</code>").next()).unwrap_or("").to_owned()
}
