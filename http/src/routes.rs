//! The route table: every route of the API, the endpoint that answers it, and the Lambda function
//! that serves it. It is data, and the single source: the router is built from it, a test checks
//! template.yaml declares exactly these routes, and another that the OpenAPI document covers them.

/// The Lambda functions, one per endpoint group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `POST /v1/link/token`
    CreateLinkToken,
    /// `POST /v1/link/exchange`, `POST /v1/access-tokens/revoke`
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
    /// `ANY /v1/proxy/{connector}/{path}`
    Proxy,
    /// The sandbox provider (on AWS only when the stack's `EnableSandbox` parameter is `true`).
    Sandbox,
    /// The operator routes (on AWS only when the stack has an operator token).
    OperatorApi,
}

impl Function {
    /// Every function that serves HTTP routes.
    pub const ALL: [Function; 10] = [
        Function::CreateLinkToken,
        Function::ExchangePublicToken,
        Function::CreateSession,
        Function::IssueToken,
        Function::OAuthCallback,
        Function::ConnectPage,
        Function::ConnectionsApi,
        Function::Proxy,
        Function::Sandbox,
        Function::OperatorApi,
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
            Function::Proxy => "latchkey-proxy",
            Function::Sandbox => "latchkey-sandbox",
            Function::OperatorApi => "latchkey-operator-api",
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
            Function::Proxy => "ProxyFunction",
            Function::Sandbox => "SandboxFunction",
            Function::OperatorApi => "OperatorApiFunction",
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
    /// Revoke a connection access token.
    RevokeAccessToken,
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
    /// An authorize link from the connections API: the confirmation page.
    ConnectAuthorize,
    /// The confirmation page's form that starts the authorization.
    ConnectAuthorizeConfirm,
    /// A provider API call with the credential injected.
    Proxy,
    /// The project environment's audit trail.
    ListAudit,
    /// The sandbox's home.
    SandboxHome,
    /// The sandbox's RFC 8414 metadata.
    SandboxMetadata,
    /// The sandbox's authorization endpoint (the consent page).
    SandboxAuthorize,
    /// The consent page's answer.
    SandboxConsent,
    /// The sandbox's token endpoint.
    SandboxToken,
    /// The sandbox's RFC 7009 revocation endpoint.
    SandboxRevoke,
    /// The sandbox API: the account.
    SandboxMe,
    /// The sandbox API: the account's items.
    SandboxItems,
    /// Create a connector (operator token).
    CreateConnector,
    /// The process's metrics as Prometheus text (operator token).
    Metrics,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case; `ANY` for every method.
    pub method: &'static str,
    /// The path template; `{name}` is one path segment, `{*name}` the rest of the path.
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
    route("POST", "/v1/access-tokens/revoke", Endpoint::RevokeAccessToken, Function::ExchangePublicToken),
    route("POST", "/v1/sessions", Endpoint::CreateSession, Function::CreateSession),
    route("POST", "/v1/token/{connector}", Endpoint::IssueToken, Function::IssueToken),
    route("GET", "/v1/oauth/callback", Endpoint::OAuthCallback, Function::OAuthCallback),
    route("GET", "/connect", Endpoint::ConnectPage, Function::ConnectPage),
    route("GET", "/connect/sdk.js", Endpoint::ConnectSdk, Function::ConnectPage),
    route("POST", "/connect/oauth/start", Endpoint::ConnectStart, Function::ConnectPage),
    route("POST", "/connect/credentials", Endpoint::ConnectCredentials, Function::ConnectPage),
    route("GET", "/connect/authorize", Endpoint::ConnectAuthorize, Function::ConnectPage),
    route("POST", "/connect/authorize", Endpoint::ConnectAuthorizeConfirm, Function::ConnectPage),
    route("POST", "/connect/actions", Endpoint::ConnectAction, Function::ConnectPage),
    route("GET", "/connect/{unified_api}/{service_id}", Endpoint::ConnectDeepLink, Function::ConnectPage),
    route("GET", "/v1/openapi.json", Endpoint::OpenApi, Function::ConnectPage),
    route("GET", "/v1/providers", Endpoint::ListProviders, Function::ConnectPage),
    route("GET", "/v1/connections", Endpoint::ListConnections, Function::ConnectionsApi),
    route("GET", "/v1/connections/{connection_id}", Endpoint::GetConnection, Function::ConnectionsApi),
    route("DELETE", "/v1/connections/{connection_id}", Endpoint::DeleteConnection, Function::ConnectionsApi),
    route("PATCH", "/v1/connections/{connection_id}", Endpoint::ConfigureConnection, Function::ConnectionsApi),
    route("POST", "/v1/connections/import", Endpoint::ImportConnection, Function::ConnectionsApi),
    route("GET", "/v1/audit", Endpoint::ListAudit, Function::ConnectionsApi),
    route("ANY", "/v1/proxy/{connector}/{*path}", Endpoint::Proxy, Function::Proxy),
    route("GET", "/sandbox", Endpoint::SandboxHome, Function::Sandbox),
    route("GET", "/sandbox/.well-known/oauth-authorization-server", Endpoint::SandboxMetadata, Function::Sandbox),
    route("GET", "/sandbox/authorize", Endpoint::SandboxAuthorize, Function::Sandbox),
    route("POST", "/sandbox/authorize", Endpoint::SandboxConsent, Function::Sandbox),
    route("POST", "/sandbox/token", Endpoint::SandboxToken, Function::Sandbox),
    route("POST", "/sandbox/revoke", Endpoint::SandboxRevoke, Function::Sandbox),
    route("GET", "/sandbox/api/me", Endpoint::SandboxMe, Function::Sandbox),
    route("GET", "/sandbox/api/items", Endpoint::SandboxItems, Function::Sandbox),
    route("POST", "/v1/operator/connectors", Endpoint::CreateConnector, Function::OperatorApi),
    route("GET", "/metrics", Endpoint::Metrics, Function::OperatorApi),
];

/// The routes `function` serves; every route when `None` (the local server).
pub fn routes_of(function: Option<Function>) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |route| function.is_none_or(|f| route.function == f))
}

/// The endpoint a request matched: its method (or `ANY`) at the path template the router matched.
pub fn endpoint_at(method: &str, path: &str) -> Option<Endpoint> {
    ROUTES.iter().find(|route| route.path == path && (route.method == method || route.method == "ANY")).map(|route| route.endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matched_template_and_method_name_their_endpoint() {
        assert_eq!(endpoint_at("POST", "/v1/token/{connector}"), Some(Endpoint::IssueToken));
        assert_eq!(endpoint_at("DELETE", "/v1/proxy/{connector}/{*path}"), Some(Endpoint::Proxy));
        assert_eq!(endpoint_at("GET", "/v1/token/{connector}"), None);
        assert_eq!(endpoint_at("GET", "/v1/nowhere"), None);
    }

    #[test]
    fn every_function_serves_at_least_one_route_and_routes_are_unique() {
        for function in Function::ALL {
            assert!(routes_of(Some(function)).next().is_some(), "{function:?} has no route");
        }
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{} {} twice", a.method, a.path);
            }
        }
    }
}
