//! The route table: every route of the API, the endpoint that answers it and the Lambda function
//! that serves it. The local server mounts exactly these; template.yaml must declare exactly these
//! (a test compares them); the OpenAPI document must cover them (another test).

use percent_encoding::percent_decode_str;

/// The Lambda functions, one per endpoint group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `POST /v1/link/token`
    CreateLinkToken,
    /// `POST /v1/link/exchange`
    ExchangePublicToken,
    /// `POST /v1/sessions`
    CreateSession,
    /// `POST /v1/token/{connector}`
    IssueToken,
    /// `GET /v1/oauth/callback`
    OAuthCallback,
    /// The hosted Connect page, its SDK and the OpenAPI document.
    ConnectPage,
    /// The connections API.
    ConnectionsApi,
}

impl Function {
    /// Every function.
    pub const ALL: [Function; 7] = [
        Function::CreateLinkToken,
        Function::ExchangePublicToken,
        Function::CreateSession,
        Function::IssueToken,
        Function::OAuthCallback,
        Function::ConnectPage,
        Function::ConnectionsApi,
    ];

    /// Its binary's name (and the `Binary` of its template.yaml build properties).
    pub fn binary_name(self) -> &'static str {
        match self {
            Function::CreateLinkToken => "latchkey-create-link-token",
            Function::ExchangePublicToken => "latchkey-exchange-public-token",
            Function::CreateSession => "latchkey-create-session",
            Function::IssueToken => "latchkey-issue-token",
            Function::OAuthCallback => "latchkey-oauth-callback",
            Function::ConnectPage => "latchkey-connect-page",
            Function::ConnectionsApi => "latchkey-connections-api",
        }
    }

    /// Its logical id in template.yaml.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::CreateLinkToken => "CreateLinkTokenFunction",
            Function::ExchangePublicToken => "ExchangePublicTokenFunction",
            Function::CreateSession => "CreateSessionFunction",
            Function::IssueToken => "IssueTokenFunction",
            Function::OAuthCallback => "OAuthCallbackFunction",
            Function::ConnectPage => "ConnectPageFunction",
            Function::ConnectionsApi => "ConnectionsApiFunction",
        }
    }
}

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Mint a link token.
    CreateLinkToken,
    /// Exchange a public token for a connection access token.
    ExchangePublicToken,
    /// Create a Vault-style session.
    CreateSession,
    /// Issue a short-lived provider token.
    IssueToken,
    /// The provider's redirect back after authorization.
    OAuthCallback,
    /// The hosted Connect page.
    ConnectPage,
    /// The JS SDK.
    ConnectSdk,
    /// The Connect page's form that starts a provider authorization.
    ConnectStart,
    /// The Connect page's form for API keys and passwords.
    ConnectCredentials,
    /// A deep link into the Connect page.
    ConnectDeepLink,
    /// The OpenAPI document.
    OpenApi,
    /// The provider catalog.
    ListProviders,
    /// A session overview's actions (reauthorize, disconnect, delete).
    ConnectAction,
    /// List a consumer's connections.
    ListConnections,
    /// Get one connection.
    GetConnection,
    /// Delete one connection.
    DeleteConnection,
    /// Finish a connection's configuration step.
    ConfigureConnection,
    /// Import a connection's existing tokens.
    ImportConnection,
    /// An authorize link from the connections API.
    ConnectAuthorize,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template; `{name}` is one path segment.
    pub path: &'static str,
    /// What answers it.
    pub endpoint: Endpoint,
    /// Which Lambda serves it.
    pub function: Function,
}

const fn route(method: &'static str, path: &'static str, endpoint: Endpoint, function: Function) -> Route {
    Route { method, path, endpoint, function }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route("POST", "/v1/link/token", Endpoint::CreateLinkToken, Function::CreateLinkToken),
    route("POST", "/v1/link/exchange", Endpoint::ExchangePublicToken, Function::ExchangePublicToken),
    route("POST", "/v1/sessions", Endpoint::CreateSession, Function::CreateSession),
    route("POST", "/v1/token/{connector}", Endpoint::IssueToken, Function::IssueToken),
    route("GET", "/v1/oauth/callback", Endpoint::OAuthCallback, Function::OAuthCallback),
    route("GET", "/connect", Endpoint::ConnectPage, Function::ConnectPage),
    route("GET", "/connect/sdk.js", Endpoint::ConnectSdk, Function::ConnectPage),
    route("POST", "/connect/oauth/start", Endpoint::ConnectStart, Function::ConnectPage),
    route("POST", "/connect/credentials", Endpoint::ConnectCredentials, Function::ConnectPage),
    route("GET", "/connect/authorize", Endpoint::ConnectAuthorize, Function::ConnectPage),
    route("POST", "/connect/actions", Endpoint::ConnectAction, Function::ConnectPage),
    route("GET", "/connect/{unified_api}/{service_id}", Endpoint::ConnectDeepLink, Function::ConnectPage),
    route("GET", "/v1/openapi.json", Endpoint::OpenApi, Function::ConnectPage),
    route("GET", "/v1/providers", Endpoint::ListProviders, Function::ConnectPage),
    route("GET", "/v1/connections", Endpoint::ListConnections, Function::ConnectionsApi),
    route("GET", "/v1/connections/{connection_id}", Endpoint::GetConnection, Function::ConnectionsApi),
    route("DELETE", "/v1/connections/{connection_id}", Endpoint::DeleteConnection, Function::ConnectionsApi),
    route("PATCH", "/v1/connections/{connection_id}", Endpoint::ConfigureConnection, Function::ConnectionsApi),
    route("POST", "/v1/connections/import", Endpoint::ImportConnection, Function::ConnectionsApi),
];

/// A route matched to a request, with its path parameters percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The route.
    pub route: &'static Route,
    /// `(name, value)` for each `{name}` of the template.
    pub params: Vec<(&'static str, String)>,
}

impl Matched {
    /// The value of path parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Why no route answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// No route has this path.
    NotFound,
    /// Routes have this path, but not this method.
    MethodNotAllowed,
}

/// Finds the route of `method` and `path` among `routes`.
pub fn find(routes: impl IntoIterator<Item = &'static Route>, method: &str, path: &str) -> Result<Matched, NoRoute> {
    let mut path_matched = false;
    for route in routes {
        if let Some(params) = match_path(route.path, path) {
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return Ok(Matched { route, params });
            }
            path_matched = true;
        }
    }
    Err(if path_matched { NoRoute::MethodNotAllowed } else { NoRoute::NotFound })
}

fn match_path(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut template_segments = template.split('/');
    let mut path_segments = path.split('/');
    let mut params = Vec::new();
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return Some(params),
            (Some(t), Some(p)) => {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    let value = percent_decode_str(p).decode_utf8().ok()?;
                    if value.is_empty() {
                        return None;
                    }
                    params.push((name, value.into_owned()));
                } else if t != p {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_uid_is_one_encoded_segment() {
        let matched = find(ROUTES, "POST", "/v1/token/slack%2Facme-slack").unwrap();
        assert_eq!(matched.route.endpoint, Endpoint::IssueToken);
        assert_eq!(matched.param("connector"), Some("slack/acme-slack"));
        assert_eq!(find(ROUTES, "POST", "/v1/token/slack/acme-slack"), Err(NoRoute::NotFound));
    }

    #[test]
    fn static_segments_and_methods_are_told_apart() {
        assert_eq!(find(ROUTES, "GET", "/connect/sdk.js").unwrap().route.endpoint, Endpoint::ConnectSdk);
        assert_eq!(find(ROUTES, "GET", "/connect/crm/salesforce").unwrap().route.endpoint, Endpoint::ConnectDeepLink);
        assert_eq!(find(ROUTES, "PUT", "/v1/connections/conn_1"), Err(NoRoute::MethodNotAllowed));
        assert_eq!(find(ROUTES, "GET", "/v1/nothing"), Err(NoRoute::NotFound));
        assert_eq!(find(ROUTES, "GET", "/v1/connections/"), Err(NoRoute::NotFound));
    }

    #[test]
    fn every_function_serves_at_least_one_route_and_routes_are_unique() {
        for function in Function::ALL {
            assert!(ROUTES.iter().any(|r| r.function == function), "{function:?} has no route");
        }
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{} {} twice", a.method, a.path);
            }
        }
    }
}
