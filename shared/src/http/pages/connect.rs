//! The Connect page: the connectors this link may use, each with a sign-in button or a key form.

use super::{escape, monogram, Page};
use crate::http::Response;
use crate::link::connect::ConnectPage;
use crate::model::{AuthMode, ConnectMode, Connector};

const SCRIPT: &str = include_str!("../../../assets/connect.js");

/// Renders the page.
pub fn render_connect_page(page: &ConnectPage, link_token: &str) -> Response {
    let list = connector_list(page, &hidden_fields(page, link_token));
    let close = match page.mode {
        ConnectMode::Modal => "<button type=\"button\" class=\"close\" id=\"close\" aria-label=\"Close\">×</button>",
        ConnectMode::Page => "",
    };
    let session = page.link.session.as_ref();
    let theme = session.and_then(|s| s.theme.as_ref());
    let title = match theme.and_then(|t| t.name.as_deref()) {
        Some(app) => format!("Connect your accounts to {}", escape(app)),
        None => "Connect an account".to_owned(),
    };
    let back = navigation(page, link_token);
    let logo = theme.and_then(|t| t.logo.as_deref()).and_then(|l| url::Url::parse(l).ok());
    let logo_html = logo.as_ref().map(|l| format!("<img class=\"logo\" src=\"{}\" alt=\"\" height=\"32\">", escape(l.as_str()))).unwrap_or_default();
    let body = format!(
        "<header>{close}{logo_html}<h1>{title}</h1><p class=\"lead\">Choose the service to connect. \
         You sign in at the service itself; this app never sees your password.</p>{back}</header>{list}\
         <script type=\"application/json\" id=\"latchkey-config\">{config}</script>",
        config = super::script_json(&serde_json::json!({"origin": page.origin, "mode": page.mode})),
    );
    let form_targets = page.connectors.iter().filter_map(|c| c.oauth.as_ref()).filter_map(|o| form_source(&o.authorize_url)).collect();
    Page {
        status: http::StatusCode::OK,
        title: "Connect an account",
        body,
        script: Some(SCRIPT),
        form_targets,
        frame_ancestor: page.origin.clone(),
        accent: theme.and_then(|t| t.primary_color.clone()),
        image_origin: logo.map(|l| l.origin().ascii_serialization()),
    }
    .into_response()
}

/// The additional configuration step: choose one of the tenants or sites the provider offered.
fn choose_form(connector: &Connector, connection: &crate::model::Connection, fields: &str) -> String {
    let Some((_, list)) = crate::link::post_authorization::choice_of(connector) else { return String::new() };
    let options: String = connection
        .metadata
        .get(list)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let id = o.get("id")?.as_str()?;
            let name = o.get("name").and_then(|n| n.as_str()).unwrap_or(id);
            Some(format!("<option value=\"{}\">{}</option>", escape(id), escape(name)))
        })
        .collect();
    let uid = escape(connector.uid.as_str());
    format!(
        "<form method=\"post\" action=\"/connect/actions\">{fields}<input type=\"hidden\" name=\"action\" value=\"configure\">\
         <label for=\"choice-{uid}\">Choose which one to connect</label><select id=\"choice-{uid}\" name=\"choice\">{options}</select>\
         <button type=\"submit\" class=\"primary\" data-action=\"configure\">Use this one</button></form>"
    )
}

fn state_label(state: &str) -> String {
    match state {
        "callable" => "Connected".into(),
        "invalid" => "Needs attention: authorize again".into(),
        "added" => "Disconnected".into(),
        "authorized" => "Needs settings".into(),
        other => other.into(),
    }
}

fn action_label(action: &str) -> String {
    match action {
        "reauthorize" => "Authorize again".into(),
        "disconnect" => "Disconnect".into(),
        "delete" => "Delete".into(),
        other => other.into(),
    }
}

/// The connectors, grouped by the catalog's category in a stable order (custom providers last),
/// with the search box.
fn connector_list(page: &ConnectPage, hidden: &str) -> String {
    if page.connectors.is_empty() {
        return "<p class=\"empty\">No integrations are available for this link. Contact the app's support.</p>".to_owned();
    }
    let mut groups: std::collections::BTreeMap<(bool, String), Vec<&Connector>> = std::collections::BTreeMap::new();
    for connector in &page.connectors {
        let category = crate::catalog::provider(&connector.provider).map(|p| p.category.clone());
        groups.entry((category.is_none(), category.unwrap_or_else(|| "other".into()))).or_default().push(connector);
    }
    let sections: String = groups
        .iter()
        .map(|((_, category), connectors)| {
            let items: String = connectors.iter().map(|c| connector_item(page, c, hidden)).collect();
            format!("<section class=\"group\"><h2>{}</h2><ul class=\"connectors\">{items}</ul></section>", escape(&category_title(category)))
        })
        .collect();
    format!(
        "<label class=\"search\" for=\"search\">Search</label>\
         <input id=\"search\" type=\"search\" placeholder=\"Search integrations\" autocomplete=\"off\">\
         <div id=\"connectors\">{sections}</div><p class=\"empty\" id=\"no-match\" hidden>No integration matches.</p>"
    )
}

/// On a session's deep link: the way back to the overview and the sidebar, unless isolated.
fn navigation(page: &ConnectPage, link_token: &str) -> String {
    let Some(session) = page.link.session.as_ref().filter(|s| page.deep_link.is_some() && !s.settings.isolation_mode) else {
        return String::new();
    };
    let token = escape(link_token);
    let others: String = if session.settings.show_sidebar {
        page.others.iter().map(|(name, path)| format!("<li><a href=\"/connect/{}?jwt={token}\">{}</a></li>", escape(path), escape(name))).collect()
    } else {
        String::new()
    };
    let sidebar = if others.is_empty() { others } else { format!("<nav aria-label=\"Other integrations\" id=\"sidebar\"><ul>{others}</ul></nav>") };
    format!("<p><a class=\"back\" id=\"back\" href=\"/connect?jwt={token}\">← All integrations</a></p>{sidebar}")
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

fn hidden_fields(page: &ConnectPage, link_token: &str) -> String {
    let mode = match page.mode {
        ConnectMode::Modal => "modal",
        ConnectMode::Page => "page",
    };
    let origin = page.origin.as_deref().map(|o| format!("<input type=\"hidden\" name=\"origin\" value=\"{}\">", escape(o))).unwrap_or_default();
    format!("<input type=\"hidden\" name=\"link_token\" value=\"{}\"><input type=\"hidden\" name=\"mode\" value=\"{mode}\">{origin}", escape(link_token))
}

fn connector_item(page: &ConnectPage, connector: &Connector, hidden: &str) -> String {
    let name = escape(connector.name());
    let uid = escape(connector.uid.as_str());
    let badge = format!("<span class=\"monogram\" aria-hidden=\"true\">{}</span>", escape(&monogram(connector.name())));
    let fields = format!("{hidden}<input type=\"hidden\" name=\"connector\" value=\"{uid}\">");
    let action = connect_action(page, connector, &fields);
    let (state_badge, action) = match (page.link.session.as_ref(), page.connection(connector)) {
        (Some(session), Some(connection)) => session_controls(session, connector, connection, &fields, action),
        (Some(_), None) => ("<span class=\"state state-available\" data-state=\"available\">Not connected</span>".to_owned(), action),
        (None, _) => (String::new(), action),
    };
    format!(
        "<li class=\"connector\" data-name=\"{}\" data-uid=\"{uid}\">{badge}<div class=\"body\"><span class=\"name\">{name}</span>{state_badge}{action}</div></li>",
        escape(&connector.name().to_lowercase())
    )
}

/// How a person connects: a sign-in button (with the fields the provider needs first), or a form
/// for a key or a password.
fn connect_action(page: &ConnectPage, connector: &Connector, fields: &str) -> String {
    let name = escape(connector.name());
    let uid = escape(connector.uid.as_str());
    match connector.auth_mode {
        AuthMode::OAuth2 => {
            // In the modal the provider's pages open in their own window: providers refuse to be framed.
            let target = match page.mode {
                ConnectMode::Modal => " target=\"latchkey_authorize\"",
                ConnectMode::Page => "",
            };
            let inputs: String = connector
                .fields
                .iter()
                .map(|f| {
                    let id = format!("{uid}-{}", escape(&f.name));
                    format!(
                        "<label for=\"{id}\">{label}</label><input id=\"{id}\" name=\"field_{name}\" required \
                         autocomplete=\"off\" spellcheck=\"false\" pattern=\"[A-Za-z0-9][A-Za-z0-9._\\-]*\" maxlength=\"100\">",
                        label = escape(&f.label),
                        name = escape(&f.name)
                    )
                })
                .collect();
            format!(
                "<form method=\"post\" action=\"/connect/oauth/start\"{target}>{fields}{inputs}\
                 <button type=\"submit\" class=\"primary\" data-connector=\"{uid}\">Connect {name}</button></form>"
            )
        }
        AuthMode::ClientCredentials | AuthMode::GithubApp | AuthMode::JwtBearer => String::new(),
        AuthMode::ApiKey => format!(
            "<details><summary data-connector=\"{uid}\">Connect {name}</summary>\
             <form method=\"post\" action=\"/connect/credentials\">{fields}\
             <label for=\"key-{uid}\">API key</label>\
             <input id=\"key-{uid}\" name=\"api_key\" type=\"password\" required autocomplete=\"off\" spellcheck=\"false\">\
             <button type=\"submit\" class=\"primary\">Save key</button></form></details>"
        ),
        AuthMode::Basic => format!(
            "<details><summary data-connector=\"{uid}\">Connect {name}</summary>\
             <form method=\"post\" action=\"/connect/credentials\">{fields}\
             <label for=\"user-{uid}\">Username</label>\
             <input id=\"user-{uid}\" name=\"username\" required autocomplete=\"username\">\
             <label for=\"pass-{uid}\">Password</label>\
             <input id=\"pass-{uid}\" name=\"password\" type=\"password\" required autocomplete=\"current-password\">\
             <button type=\"submit\" class=\"primary\">Connect</button></form></details>"
        ),
    }
}

/// On a session's overview, an existing connection: its state, what it waits for, and the actions
/// the session allows.
fn session_controls(
    session: &crate::session::SessionClaims,
    connector: &Connector,
    connection: &crate::model::Connection,
    fields: &str,
    connect: String,
) -> (String, String) {
    use crate::model::ConnectionState;
    let state = serde_json::json!(connection.state).as_str().unwrap_or_default().to_owned();
    let actions: String = session
        .settings
        .allow_actions
        .iter()
        .filter(|a| a.as_str() != "reauthorize" || connector.auth_mode == AuthMode::OAuth2)
        .map(|a| {
            format!(
                "<form method=\"post\" action=\"/connect/actions\" class=\"inline\">{fields}\
                 <input type=\"hidden\" name=\"action\" value=\"{a}\">\
                 <button type=\"submit\" class=\"secondary\" data-action=\"{a}\">{label}</button></form>",
                a = escape(a),
                label = escape(&action_label(a)),
            )
        })
        .collect();
    let badge = format!("<span class=\"state state-{state}\" data-state=\"{state}\">{}</span>", escape(&state_label(&state)));
    let pending = match connection.state {
        ConnectionState::Callable => String::new(),
        ConnectionState::Authorized if session.settings.hide_resource_settings => {
            "<p class=\"lead\">Waiting for the app to finish setting this up.</p>".to_owned()
        }
        ConnectionState::Authorized => choose_form(connector, connection, fields),
        _ => connect,
    };
    (badge, format!("{pending}<div class=\"actions\">{actions}</div>"))
}
