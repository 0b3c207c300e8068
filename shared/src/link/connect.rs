//! What the Connect page shows, and the two ways it starts a connection: an OAuth authorization,
//! or a form for an API key or a username and password.

use std::collections::BTreeMap;

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::Deserialize;

use super::allowlist::allowed_origin;
use super::connection::{save_connection, Connected, Grant};
use super::token::find_link_token;
use super::LinkError;
use crate::fields;
use crate::model::{AuthMode, AuthorizeClaims, ConnectMode, Connector, LinkToken, OAuthEndpoints, OAuthFlow, Project, Record, Stored, AUTHORIZE_AUDIENCE};
use crate::oauth::Credentials;
use crate::ports::Ports;
use crate::secret::{random_token, SecretString};

/// Everything the Connect page needs to render.
#[derive(Debug)]
pub struct ConnectPage {
    /// The link token it was opened with.
    pub link: LinkToken,
    /// Its project.
    pub project: Project,
    /// The connectors it may offer, by name.
    pub connectors: Vec<Connector>,
    /// How it was opened.
    pub mode: ConnectMode,
    /// The app origin results are posted to (modal mode).
    pub origin: Option<String>,
    /// The consumer's existing connections, by connector uid (sessions show their states).
    pub connections: Vec<crate::model::Connection>,
    /// The deep link it was opened at (`unified_api`, `service_id`).
    pub deep_link: Option<(String, String)>,
    /// On a deep link, the session's other connectors as (name, `unified_api/service_id`).
    pub others: Vec<(String, String)>,
}

/// The fields every Connect page form and link carries.
#[derive(Debug, Deserialize)]
pub struct PageParams {
    /// The link token, or a session token (`jwt`).
    #[serde(alias = "jwt")]
    pub link_token: String,
    /// `modal` inside the SDK, `page` otherwise.
    #[serde(default)]
    pub mode: Option<String>,
    /// The app origin (modal mode).
    #[serde(default)]
    pub origin: Option<String>,
}

/// Loads the page for a link token: its project, and the connectors this link may offer.
pub async fn load_page(ports: &Ports, params: &PageParams) -> Result<ConnectPage, LinkError> {
    let link = find_link_token(ports, &params.link_token).await?;
    let project = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&link.project_id)).await?.ok_or(LinkError::LinkTokenInvalid)?.record;
    let mode = match params.mode.as_deref() {
        None | Some("page") => ConnectMode::Page,
        Some("modal") => ConnectMode::Modal,
        Some(_) => return Err(LinkError::InvalidRequest("mode must be modal or page".into())),
    };
    let origin = match (mode, params.origin.as_deref()) {
        (ConnectMode::Modal, Some(raw)) => Some(allowed_origin(&project, raw)?),
        (ConnectMode::Modal, None) => return Err(LinkError::OriginNotAllowed),
        (ConnectMode::Page, _) => None,
    };
    // As a full page, the result goes to the link's redirect URL (a session always has one); a
    // link without one would end on a page the app never hears from.
    if mode == ConnectMode::Page && link.session.is_none() && link.redirect_url.is_none() {
        return Err(LinkError::RedirectUrlRequired);
    }
    page_of(ports, link, project, mode, origin).await
}

/// The page for a live link: the connectors it may offer, and on a session the consumer's
/// connections.
async fn page_of(ports: &Ports, link: LinkToken, project: Project, mode: ConnectMode, origin: Option<String>) -> Result<ConnectPage, LinkError> {
    let stored = Stored::<Connector>::query(ports.store.as_ref(), Connector::PARTITION, "CONNECTOR#").await?;
    let mut connectors: Vec<Connector> = stored
        .into_iter()
        .map(|s| s.record)
        // Client-credentials connectors act for the app itself: there is nothing for a person to do.
        .filter(|c| !c.auth_mode.is_machine())
        .filter(|c| c.usable_by(&project.id, &link.environment) && link.allows(&c.uid))
        .collect();
    if let Some(session) = &link.session {
        let apis = &session.settings.unified_apis;
        connectors.retain(|c| apis.is_empty() || crate::catalog::provider(&c.provider).is_some_and(|p| apis.contains(&p.category)));
    }
    connectors.sort_by_key(|c| c.name().to_lowercase());
    let connections = match &link.session {
        Some(_) => consumer_connections(ports, &link).await?,
        None => Vec::new(),
    };
    Ok(ConnectPage { link, project, connectors, mode, origin, connections, deep_link: None, others: Vec::new() })
}

/// The consumer's connections in the link's environment.
async fn consumer_connections(ports: &Ports, link: &LinkToken) -> Result<Vec<crate::model::Connection>, LinkError> {
    let prefix = crate::model::Connection::consumer_prefix(&link.environment, &link.end_user.id);
    let partition = Project::partition_of(&link.project_id);
    Ok(Stored::<crate::model::Connection>::query(ports.store.as_ref(), &partition, &prefix)
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|c| c.subject.id.as_ref() == Some(&link.end_user.id))
        .collect())
}

impl ConnectPage {
    /// Narrows the page to a deep link: the connectors of `unified_api` (a catalog category) whose
    /// provider or name is `service_id`.
    pub fn deep(mut self, unified_api: &str, service_id: &str) -> Result<Self, LinkError> {
        let place = |c: &Connector| {
            let category = crate::catalog::provider(&c.provider).map(|p| p.category.clone()).unwrap_or_else(|| "other".into());
            (category, c.provider.clone())
        };
        let name_of = |c: &Connector| c.uid.as_str().split_once('/').map(|(_, n)| n.to_owned()).unwrap_or_default();
        let (deep, others): (Vec<Connector>, Vec<Connector>) = std::mem::take(&mut self.connectors).into_iter().partition(|c| {
            let (category, provider) = place(c);
            category == unified_api && (provider == service_id || name_of(c) == service_id)
        });
        self.connectors = deep;
        self.others = others.iter().map(|c| (c.name().to_owned(), format!("{}/{}", place(c).0, place(c).1))).collect();
        if self.connectors.is_empty() {
            return Err(LinkError::ConnectorNotAllowed);
        }
        self.deep_link = Some((unified_api.to_owned(), service_id.to_owned()));
        Ok(self)
    }

    /// The consumer's connection at `connector`, if any.
    pub fn connection(&self, connector: &Connector) -> Option<&crate::model::Connection> {
        self.connections.iter().find(|c| c.connector == connector.uid)
    }
}

/// The page behind an authorize link: the link's claims become a short-lived link token for the
/// one connector they name (so the callback finds its flow exactly as for the Connect page). It is
/// stored only when `persist`: the confirmation page itself writes nothing.
pub async fn page_for_authorize_link(ports: &Ports, token: &str, redirect_uri: Option<&str>, persist: bool) -> Result<ConnectPage, LinkError> {
    let claims: AuthorizeClaims = crate::session::jwt::verify(ports, token, AUTHORIZE_AUDIENCE).await?.ok_or(LinkError::LinkTokenInvalid)?;
    let project = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&claims.prj)).await?.ok_or(LinkError::LinkTokenInvalid)?.record;
    let redirect_url = redirect_uri.map(|raw| super::allowlist::allowed_redirect_url(&project, raw)).transpose()?;
    let uid = crate::model::ConnectorUid::parse(&claims.connector).map_err(|_| LinkError::ConnectorNotAllowed)?;
    let now = ports.clock.now();
    let minted = crate::model::link::mint_token(LinkToken::PREFIX);
    let link = LinkToken {
        hash: minted.sha256_hex(),
        project_id: project.id.clone(),
        environment: claims.env,
        end_user: crate::model::EndUser { id: claims.sub, email: None, display_name: None },
        connectors: vec![uid],
        connection_id: None,
        redirect_url,
        session: None,
        lang: None,
        created_at: now,
        valid_until: now.plus_secs(OAuthFlow::LIFETIME_SECS),
    };
    if persist {
        ports.store.put_if_absent(&link.to_item()?.expiring_at(link.valid_until)).await?;
    }
    page_of(ports, link, project, ConnectMode::Page, None).await
}

impl ConnectPage {
    /// The connector `raw` names, if this page offers it.
    pub fn connector(&self, raw: &str) -> Result<&Connector, LinkError> {
        self.connectors.iter().find(|c| c.uid.as_str() == raw).ok_or(LinkError::ConnectorNotAllowed)
    }
}

/// A started authorization: where to send the browser, and the cookie that binds the flow to it.
#[derive(Debug)]
pub struct StartedAuthorization {
    /// The provider's authorize URL with every parameter.
    pub authorize_url: String,
    /// The browser-binding value to set as a cookie.
    pub browser_binding: SecretString,
    /// The SHA-256 of the flow's `state` (the binding cookie is named after it).
    pub state_hash: String,
}

/// Starts the OAuth authorization of `connector_uid` for this page: a one-time `state`, a PKCE
/// verifier (sealed), the connector's fields from `given`, and the exact redirect URI, stored for
/// ten minutes.
pub async fn start_authorization(
    ports: &Ports,
    page: &ConnectPage,
    connector_uid: &str,
    given: &BTreeMap<String, String>,
    redirect_uri: String,
) -> Result<StartedAuthorization, LinkError> {
    let connector = page.connector(connector_uid)?;
    let (oauth, client_id) = match (connector.auth_mode, &connector.oauth, &connector.client_id) {
        (AuthMode::OAuth2, Some(oauth), Some(client_id)) => (oauth, client_id),
        (AuthMode::OAuth2, _, _) => return Err(LinkError::ConnectorMisconfigured("no endpoints or client id".into())),
        _ => return Err(LinkError::InvalidRequest("this integration takes a key, not a sign-in".into())),
    };
    let fields = fields::collect(&connector.fields, given)?;
    // oauth2's generators: 128-bit CSRF state, 256-bit PKCE verifier, both from the OS RNG.
    let csrf = CsrfToken::new_random();
    let state_hash = SecretString::new(csrf.secret().clone()).sha256_hex();
    let challenge = oauth.pkce.then(PkceCodeChallenge::new_random_sha256);
    let request = AuthorizeRequest {
        client_id,
        redirect_uri: &redirect_uri,
        state: csrf.secret(),
        challenge: challenge.as_ref().map(|(c, _)| c),
        scopes: &connector.default_scopes,
    };
    let authorize_url = request.url(oauth, &fields)?;
    let pkce_verifier = match &challenge {
        Some((_, verifier)) => {
            let binding = OAuthFlow::verifier_binding(&page.project.id, &state_hash);
            Some(ports.keyring.seal(&binding, verifier.secret().as_bytes()).await?)
        }
        None => None,
    };
    let browser_binding = random_token(32);
    let now = ports.clock.now();
    let flow = OAuthFlow {
        state_hash,
        browser_hash: browser_binding.sha256_hex(),
        link_token_hash: page.link.hash.clone(),
        project_id: page.project.id.clone(),
        connector: connector.uid.clone(),
        redirect_uri,
        scopes: connector.default_scopes.clone(),
        pkce_verifier,
        mode: page.mode,
        origin: page.origin.clone(),
        fields,
        // A session returns to its app only with auto_redirect; otherwise the page shows the result.
        redirect_url: match &page.link.session {
            Some(session) if !session.settings.auto_redirect => None,
            _ => page.link.redirect_url.clone(),
        },
        lang: page.link.lang.clone(),
        connector_name: Some(connector.name().to_owned()),
        created_at: now,
    };
    let state_hash = flow.state_hash.clone();
    ports.store.put_if_absent(&flow.to_item()?.expiring_at(now.plus_secs(OAuthFlow::LIFETIME_SECS))).await?;
    Ok(StartedAuthorization { authorize_url, browser_binding, state_hash })
}

/// The parameters of an authorization request (RFC 6749 4.1.1, RFC 7636 4.3).
struct AuthorizeRequest<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    state: &'a str,
    challenge: Option<&'a PkceCodeChallenge>,
    scopes: &'a [String],
}

impl AuthorizeRequest<'_> {
    fn url(&self, oauth: &OAuthEndpoints, fields: &BTreeMap<String, String>) -> Result<String, LinkError> {
        let mut url = fields::fill(&oauth.authorize_url, fields)?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("state", self.state);
            if !self.scopes.is_empty() {
                query.append_pair("scope", &self.scopes.join(&oauth.scope_separator));
            }
            if let Some(challenge) = self.challenge {
                query.append_pair("code_challenge", challenge.as_str()).append_pair("code_challenge_method", challenge.method().as_str());
            }
            for (name, value) in &oauth.authorize_params {
                query.append_pair(name, value);
            }
        }
        Ok(url.to_string())
    }
}

/// What the end user typed into a key or password form.
#[derive(Debug, Deserialize)]
pub struct KeyForm {
    /// The connector.
    pub connector: String,
    /// The API key (api_key connectors).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// The username (basic connectors).
    #[serde(default)]
    pub username: Option<String>,
    /// The password (basic connectors).
    #[serde(default)]
    pub password: Option<SecretString>,
    /// The connector's fields (`field_<name>`).
    #[serde(flatten)]
    pub fields: FieldInputs,
}

/// The `field_<name>` inputs of a Connect page form, and nothing else of it.
#[derive(Debug, Default)]
pub struct FieldInputs(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for FieldInputs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let all = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        let fields = all.into_iter().filter(|(k, _)| k.starts_with("field_")).filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned()))).collect();
        Ok(FieldInputs(fields))
    }
}

/// Stores the key or password the end user gave, sealed, as a callable connection.
pub async fn submit_key(ports: &Ports, page: &ConnectPage, form: KeyForm) -> Result<Connected, LinkError> {
    let connector = page.connector(&form.connector)?.clone();
    let present = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty() && s.len() <= 4096).map(str::to_owned);
    let credentials = match connector.auth_mode {
        AuthMode::ApiKey => Credentials::api_key(
            present(form.api_key.as_ref().map(SecretString::expose)).ok_or_else(|| LinkError::InvalidRequest("Enter the API key.".into()))?,
        ),
        AuthMode::Basic => Credentials::basic(
            present(form.username.as_deref()).ok_or_else(|| LinkError::InvalidRequest("Enter the username.".into()))?,
            present(form.password.as_ref().map(SecretString::expose)).ok_or_else(|| LinkError::InvalidRequest("Enter the password.".into()))?,
        ),
        _ => return Err(LinkError::InvalidRequest("this integration uses a sign-in, not a key".into())),
    };
    let fields = fields::collect(&connector.fields, &form.fields.0)?;
    let grant = Grant {
        credentials,
        token_expires_at: None,
        token_issued_at: None,
        expiry_assumed: false,
        scopes: connector.default_scopes.clone(),
        metadata: Default::default(),
        fields,
        end_user_supplied: Vec::new(),
        ready: true,
    };
    save_connection(ports, &page.link, &connector, grant).await
}
