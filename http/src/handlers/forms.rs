//! The OpenAPI shapes of what the Connect page's URLs and forms carry. The handlers parse these
//! with types of the core (which flatten several parts together and know nothing of OpenAPI); these
//! only describe the same fields, so the document says exactly what a request must hold.

use serde::Serialize;
use utoipa::ToSchema;

/// How the page was opened.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PageMode {
    /// Inside the SDK's modal (needs `origin`).
    Modal,
    /// A full page.
    Page,
}

/// The action a session overview's form asks for.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverviewAction {
    /// Authorize the connection again (OAuth connectors).
    Reauthorize,
    /// Remove the credentials, keep the connection.
    Disconnect,
    /// Remove the connection.
    Delete,
    /// Finish the configuration step with `choice`.
    Configure,
}

/// `POST /connect/oauth/start`.
#[derive(Serialize, ToSchema)]
pub struct StartFormFields {
    /// The link token (or session token) the page was opened with.
    pub link_token: String,
    /// How the page was opened.
    pub mode: Option<PageMode>,
    /// The app origin, in modal mode.
    pub origin: Option<String>,
    /// The page's anti-forgery token.
    pub csrf: Option<String>,
    /// The connector uid.
    pub connector: String,
    /// `field_<name>`: the connector's fields the person filled in (a subdomain, a site).
    #[serde(flatten)]
    #[schema(additional_properties = true)]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// `POST /connect/credentials`.
#[derive(Serialize, ToSchema)]
pub struct CredentialsFormFields {
    /// The link token (or session token) the page was opened with.
    pub link_token: String,
    /// How the page was opened.
    pub mode: Option<PageMode>,
    /// The app origin, in modal mode.
    pub origin: Option<String>,
    /// The page's anti-forgery token.
    pub csrf: Option<String>,
    /// The connector uid.
    pub connector: String,
    /// The API key (API-key connectors).
    pub api_key: Option<String>,
    /// The username (basic connectors).
    pub username: Option<String>,
    /// The password (basic connectors).
    pub password: Option<String>,
}

/// `POST /connect/actions`.
#[derive(Serialize, ToSchema)]
pub struct ActionFormFields {
    /// The session token the overview was opened with.
    pub link_token: String,
    /// How the page was opened.
    pub mode: Option<PageMode>,
    /// The app origin, in modal mode.
    pub origin: Option<String>,
    /// The page's anti-forgery token.
    pub csrf: Option<String>,
    /// The connector uid.
    pub connector: String,
    /// What to do.
    pub action: OverviewAction,
    /// The tenant or site chosen, for `configure`.
    pub choice: Option<String>,
}

/// `POST /connect/authorize`.
#[derive(Serialize, ToSchema)]
pub struct AuthorizeFormFields {
    /// The signed authorize token of the link.
    pub token: String,
    /// Where to return afterwards (an allowed origin of the project).
    pub redirect_uri: Option<String>,
    /// The page's anti-forgery token.
    pub csrf: Option<String>,
}
