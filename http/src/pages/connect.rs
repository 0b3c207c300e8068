//! The Connect page: the connectors a link may use, each with a sign-in button or a key form; on a
//! session's overview, the consumer's connections with their states and actions; and the
//! confirmation an authorize link shows before it sends the browser to a provider.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use latchkey::link::connect::ConnectPage;
use latchkey::model::{AuthMode, ConnectMode, Connection, ConnectionState, Connector, SessionAction, SessionClaims};

use super::{monogram, script_json, Page};

const SCRIPT: &str = include_str!("../../../shared/assets/connect.js");

/// What every form of the page carries: the link (or session) token, how the page was opened, and
/// the page's anti-forgery token.
struct Hidden<'a> {
    link_token: &'a str,
    mode: ConnectMode,
    origin: Option<&'a str>,
    csrf: &'a str,
}

impl Hidden<'_> {
    fn fields(&self) -> Markup {
        html! {
            input type="hidden" name="link_token" value=(self.link_token);
            input type="hidden" name="mode" value=(mode_name(self.mode));
            @if let Some(origin) = self.origin { input type="hidden" name="origin" value=(origin); }
            input type="hidden" name="csrf" value=(self.csrf);
        }
    }
}

fn mode_name(mode: ConnectMode) -> &'static str {
    match mode {
        ConnectMode::Modal => "modal",
        ConnectMode::Page => "page",
    }
}

/// Renders the page. `csrf` is the anti-forgery token every form carries back.
pub fn connect_page(page: &ConnectPage, link_token: &str, csrf: &str) -> Response {
    let hidden = Hidden { link_token, mode: page.mode, origin: page.origin.as_deref(), csrf };
    let session = page.link.session.as_ref();
    let theme = session.and_then(|s| s.theme.as_ref());
    let title = match theme.and_then(|t| t.name.as_deref()) {
        Some(app) => format!("Connect your accounts to {app}"),
        None => "Connect an account".to_owned(),
    };
    let logo = theme.and_then(|t| t.logo.as_deref()).and_then(|l| url::Url::parse(l).ok());
    let config = serde_json::json!({"origin": page.origin, "mode": page.mode});
    let body = html! {
        header {
            @if page.mode == ConnectMode::Modal { button type="button" class="close" id="close" aria-label="Close" { "×" } }
            @if let Some(logo) = &logo { img class="logo" src=(logo.as_str()) alt="" height="32"; }
            h1 { (title) }
            p.lead { "Choose the service to connect. You sign in at the service itself; this app never sees your password." }
            (navigation(page, link_token))
        }
        (connector_list(page, &hidden))
        script type="application/json" id="latchkey-config" { (script_json(&config)) }
    };
    let form_targets = page.connectors.iter().filter_map(|c| c.oauth.as_ref()).filter_map(|o| form_source(&o.authorize_url)).collect();
    Page {
        status: StatusCode::OK,
        title: "Connect an account",
        body,
        script: Some(SCRIPT),
        form_targets,
        frame_ancestor: page.origin.clone(),
        accent: theme.and_then(|t| t.primary_color.clone()),
        image_origin: logo.map(|l| l.origin().ascii_serialization()),
        lang: "en",
    }
    .into_response()
}

/// The confirmation an authorize link shows: which app asks, for which service, and one button
/// that posts back here to start the sign-in. Nothing leaves for the provider until it is pressed.
pub fn authorize_confirmation(page: &ConnectPage, token: &str, redirect_uri: Option<&str>, csrf: &str) -> Response {
    let connector = page.connectors.first();
    let name = connector.map_or("the service", |c| c.name());
    let form_targets = connector.and_then(|c| c.oauth.as_ref()).and_then(|o| form_source(&o.authorize_url)).into_iter().collect();
    let body = html! {
        h1 { "Connect " (name) " to " (page.project.name) }
        p.lead { (page.project.name) " asks to use your " (name) " account. You sign in at " (name) " itself; " (page.project.name) " never sees your password." }
        form method="post" action="/connect/authorize" {
            input type="hidden" name="token" value=(token);
            @if let Some(redirect_uri) = redirect_uri { input type="hidden" name="redirect_uri" value=(redirect_uri); }
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" class="primary" id="continue" { "Continue to " (name) }
        }
    };
    Page { form_targets, ..Page::plain(StatusCode::OK, "Connect an account", body) }.into_response()
}

/// The connectors, grouped by the catalog's category in a stable order (custom providers last),
/// with the search box and a live region that announces how many match.
fn connector_list(page: &ConnectPage, hidden: &Hidden<'_>) -> Markup {
    if page.connectors.is_empty() {
        return html! { p.empty { "No integrations are available for this link. Contact the app's support." } };
    }
    let mut groups: BTreeMap<(bool, String), Vec<&Connector>> = BTreeMap::new();
    for connector in &page.connectors {
        let category = latchkey::catalog::provider(&connector.provider).map(|p| p.category.clone());
        groups.entry((category.is_none(), category.unwrap_or_else(|| "other".into()))).or_default().push(connector);
    }
    html! {
        label.search for="search" { "Search" }
        input #search type="search" placeholder="Search integrations" autocomplete="off" aria-controls="connectors";
        div #connectors {
            @for ((_, category), connectors) in &groups {
                section.group aria-label=(category_title(category)) {
                    h2 { (category_title(category)) }
                    ul.connectors {
                        @for connector in connectors { (connector_item(page, connector, hidden)) }
                    }
                }
            }
        }
        p.empty #no-match hidden { "No integration matches." }
        p.visually-hidden #search-status role="status" aria-live="polite" {}
    }
}

/// On a session's deep link: the way back to the overview and the sidebar, unless isolated.
fn navigation(page: &ConnectPage, link_token: &str) -> Markup {
    let Some(session) = page.link.session.as_ref().filter(|s| page.deep_link.is_some() && !s.settings.isolation_mode) else {
        return html! {};
    };
    let with_token = |path: &str| {
        let mut url = url::Url::parse("http://page.invalid").expect("static URL");
        url.set_path(path);
        url.query_pairs_mut().append_pair("jwt", link_token);
        format!("{}?{}", url.path(), url.query().unwrap_or_default())
    };
    html! {
        p { a.back #back href=(with_token("/connect")) { "← All integrations" } }
        @if session.settings.show_sidebar && !page.others.is_empty() {
            nav #sidebar aria-label="Other integrations" {
                ul {
                    @for (name, path) in &page.others {
                        li { a href=(with_token(&format!("/connect/{path}"))) { (name) } }
                    }
                }
            }
        }
    }
}

/// A category's heading: `file-storage` → `File storage`, `crm` → `CRM`.
fn category_title(category: &str) -> String {
    match category {
        "crm" => "CRM".into(),
        "hris" => "HRIS".into(),
        "ats" => "Recruiting (ATS)".into(),
        other => {
            let spaced = other.replace('-', " ");
            let mut chars = spaced.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

/// The CSP source that lets a form reach (and be redirected to) an authorize URL. A templated host
/// (`https://{subdomain}.zendesk.com`) becomes a wildcard (`https://*.zendesk.com`).
fn form_source(authorize_url: &str) -> Option<String> {
    let (scheme, rest) = authorize_url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if !authority.contains('{') {
        return url::Url::parse(authorize_url).ok().map(|u| u.origin().ascii_serialization());
    }
    let labels: Vec<&str> = authority.split('.').collect();
    match labels.iter().rposition(|l| l.contains('{')) {
        Some(last) if last + 1 < labels.len() && labels[last + 1..].iter().all(|l| !l.contains('{')) => {
            Some(format!("{scheme}://*.{}", labels[last + 1..].join(".")))
        }
        _ => Some(format!("{scheme}:")),
    }
}

fn connector_item(page: &ConnectPage, connector: &Connector, hidden: &Hidden<'_>) -> Markup {
    let name = connector.name();
    let fields = html! { (hidden.fields()) input type="hidden" name="connector" value=(connector.uid.as_str()); };
    let connect = connect_action(page, connector, &fields);
    let session = page.link.session.as_ref();
    html! {
        li.connector data-name=(name.to_lowercase()) data-uid=(connector.uid.as_str()) {
            span.monogram aria-hidden="true" { (monogram(name)) }
            div.body {
                span.name { (name) }
                @match (session, page.connection(connector)) {
                    (Some(session), Some(connection)) => (session_controls(session, connector, connection, &fields, connect)),
                    (Some(_), None) => { span.state."state-available" data-state="available" { "Not connected" } (connect) },
                    (None, _) => (connect),
                }
            }
        }
    }
}

/// How a person connects: a sign-in button (with the fields the provider needs first), or a form
/// for a key or a password. Every control names its connector, for people who hear the page.
fn connect_action(page: &ConnectPage, connector: &Connector, fields: &Markup) -> Markup {
    let name = connector.name();
    let uid = connector.uid.as_str();
    // In the modal the provider's pages open in their own window: providers refuse to be framed.
    let target = (page.mode == ConnectMode::Modal).then_some("latchkey_authorize");
    match connector.auth_mode {
        AuthMode::OAuth2 => html! {
            form method="post" action="/connect/oauth/start" target=[target] {
                (fields)
                @for field in connector.fields.iter().filter(|f| f.entered_by_user()) {
                    @let id = format!("{uid}-{}", field.name);
                    label for=(id) { (field.label) }
                    input id=(id) name=(format!("field_{}", field.name)) required autocomplete="off" spellcheck="false" maxlength="253";
                }
                button type="submit" class="primary" data-connector=(uid) { "Connect " (name) }
            }
        },
        AuthMode::ClientCredentials | AuthMode::GithubApp | AuthMode::JwtBearer => html! {},
        AuthMode::ApiKey => html! {
            details {
                summary data-connector=(uid) { "Connect " (name) }
                form method="post" action="/connect/credentials" {
                    (fields)
                    label for=(format!("key-{uid}")) { (name) " API key" }
                    input id=(format!("key-{uid}")) name="api_key" type="password" required autocomplete="off" spellcheck="false";
                    button type="submit" class="primary" { "Save " (name) " key" }
                }
            }
        },
        AuthMode::Basic => html! {
            details {
                summary data-connector=(uid) { "Connect " (name) }
                form method="post" action="/connect/credentials" {
                    (fields)
                    label for=(format!("user-{uid}")) { (name) " username" }
                    input id=(format!("user-{uid}")) name="username" required autocomplete="username";
                    label for=(format!("pass-{uid}")) { (name) " password" }
                    input id=(format!("pass-{uid}")) name="password" type="password" required autocomplete="current-password";
                    button type="submit" class="primary" { "Connect " (name) }
                }
            }
        },
    }
}

fn state_label(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Callable => "Connected",
        ConnectionState::Invalid => "Needs attention: authorize again",
        ConnectionState::Added => "Disconnected",
        ConnectionState::Authorized => "Needs settings",
        ConnectionState::Available => "Not connected",
    }
}

fn action_label(action: SessionAction) -> &'static str {
    match action {
        SessionAction::Reauthorize => "Authorize again",
        SessionAction::Disconnect => "Disconnect",
        SessionAction::Delete => "Delete",
    }
}

/// On a session's overview, an existing connection: its state, what it waits for, and the actions
/// the session allows.
fn session_controls(session: &SessionClaims, connector: &Connector, connection: &Connection, fields: &Markup, connect: Markup) -> Markup {
    let actions = session.settings.allow_actions.iter().filter(|a| **a != SessionAction::Reauthorize || connector.auth_mode == AuthMode::OAuth2);
    let state = connection.state;
    html! {
        span class=(format!("state state-{}", state.as_str())) data-state=(state.as_str()) { (state_label(state)) }
        @match state {
            ConnectionState::Callable => {},
            ConnectionState::Authorized if session.settings.hide_resource_settings => p.lead { "Waiting for the app to finish setting this up." },
            ConnectionState::Authorized => (choose_form(connector, connection, fields)),
            _ => (connect),
        }
        div.actions {
            @for action in actions {
                form method="post" action="/connect/actions" class="inline" {
                    (fields)
                    input type="hidden" name="action" value=(action.as_str());
                    button type="submit" class="secondary" data-action=(action.as_str()) aria-label=(format!("{} {}", action_label(*action), connector.name())) {
                        (action_label(*action))
                    }
                }
            }
        }
    }
}

/// The additional configuration step: choose one of the tenants or sites the provider offered.
fn choose_form(connector: &Connector, connection: &Connection, fields: &Markup) -> Markup {
    let Some((_, list)) = latchkey::link::post_authorization::choice_of(connector) else { return html! {} };
    let options: Vec<(String, String)> = connection
        .metadata
        .get(list)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let id = o.get("id")?.as_str()?;
            Some((id.to_owned(), o.get("name").and_then(|n| n.as_str()).unwrap_or(id).to_owned()))
        })
        .collect();
    let uid = connector.uid.as_str();
    html! {
        form method="post" action="/connect/actions" {
            (fields)
            input type="hidden" name="action" value="configure";
            label for=(format!("choice-{uid}")) { "Choose which " (connector.name()) " account to connect" }
            select id=(format!("choice-{uid}")) name="choice" {
                @for (id, name) in &options { option value=(id) { (name) } }
            }
            button type="submit" class="primary" data-action="configure" { "Use this " (connector.name()) " account" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templated_hosts_become_wildcard_form_sources() {
        assert_eq!(form_source("https://{subdomain}.zendesk.com/oauth").as_deref(), Some("https://*.zendesk.com"));
        assert_eq!(form_source("https://accounts.example.com/authorize").as_deref(), Some("https://accounts.example.com"));
        assert_eq!(form_source("https://{okta_domain}/oauth2/v1/authorize").as_deref(), Some("https:"));
    }

    #[test]
    fn categories_read_as_titles() {
        assert_eq!(category_title("file-storage"), "File storage");
        assert_eq!(category_title("crm"), "CRM");
    }
}
