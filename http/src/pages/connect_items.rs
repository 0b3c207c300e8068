//! One connector on the Connect page: its sign-in button (with the fields the provider needs
//! first) or its key form, and on a session's overview its connection's state and actions. Every
//! control names its connector, for people who hear the page rather than see it.

use maud::{html, Markup};

use latchkey::link::connect::ConnectPage;
use latchkey::model::{AuthMode, ConnectMode, Connection, ConnectionState, Connector, SessionAction, SessionClaims};

use super::i18n::Tr;
use super::monogram;

/// What every form of the page carries: the link (or session) token, how the page was opened, and
/// the page's anti-forgery token.
pub(super) struct Hidden<'a> {
    pub link_token: &'a str,
    pub mode: ConnectMode,
    pub origin: Option<&'a str>,
    pub csrf: &'a str,
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

/// One connector's list item.
pub(super) fn connector_item(page: &ConnectPage, connector: &Connector, hidden: &Hidden<'_>, tr: Tr) -> Markup {
    let name = connector.name();
    let fields = html! { (hidden.fields()) input type="hidden" name="connector" value=(connector.uid.as_str()); };
    let connect = connect_action(page, connector, &fields, tr);
    let session = page.link.session.as_ref();
    html! {
        li.connector data-name=(name.to_lowercase()) data-uid=(connector.uid.as_str()) {
            span.monogram aria-hidden="true" { (monogram(name)) }
            div.body {
                span.name { (name) }
                @match (session, page.connection(connector)) {
                    (Some(session), Some(connection)) => (session_controls(session, connector, connection, &fields, connect, tr)),
                    (Some(_), None) => { span.state."state-available" data-state="available" { (tr.t("state.available")) } (connect) },
                    (None, _) => (connect),
                }
                p.flow-status role="status" {}
            }
        }
    }
}

/// How a person connects: a sign-in button (with the fields the provider needs first), or a form
/// for a key or a password.
fn connect_action(page: &ConnectPage, connector: &Connector, fields: &Markup, tr: Tr) -> Markup {
    let name = connector.name();
    let uid = connector.uid.as_str();
    let named = [("name", name)];
    // In the modal the provider's pages open in their own window: providers refuse to be framed.
    let target = (page.mode == ConnectMode::Modal).then_some("latchkey_authorize");
    let label = |part: &str, key: &str| connector.credential_labels.get(part).map(|l| format!("{name} {l}")).unwrap_or_else(|| tr.f(key, &named));
    match connector.auth_mode {
        AuthMode::OAuth2 => html! {
            form method="post" action="/connect/oauth/start" target=[target] data-name=(name) {
                (fields)
                @for field in connector.fields.iter().filter(|f| f.entered_by_user()) {
                    @let id = format!("{uid}-{}", field.name);
                    label for=(id) { (field.label) }
                    input id=(id) name=(format!("field_{}", field.name)) required autocomplete="off" spellcheck="false" maxlength="253";
                }
                button type="submit" class="primary" data-connector=(uid) { (tr.f("connect.button", &named)) }
            }
        },
        AuthMode::ClientCredentials | AuthMode::GithubApp | AuthMode::JwtBearer => html! {},
        AuthMode::ApiKey => html! {
            details {
                summary data-connector=(uid) { (tr.f("connect.button", &named)) }
                form method="post" action="/connect/credentials" {
                    (fields)
                    label for=(format!("key-{uid}")) { (label("api_key", "connect.api_key_label")) }
                    input id=(format!("key-{uid}")) name="api_key" type="password" required autocomplete="off" spellcheck="false";
                    button type="submit" class="primary" { (tr.f("connect.save_key", &named)) }
                }
            }
        },
        AuthMode::Basic => html! {
            details {
                summary data-connector=(uid) { (tr.f("connect.button", &named)) }
                form method="post" action="/connect/credentials" {
                    (fields)
                    label for=(format!("user-{uid}")) { (label("username", "connect.username_label")) }
                    input id=(format!("user-{uid}")) name="username" required autocomplete="username";
                    label for=(format!("pass-{uid}")) { (label("password", "connect.password_label")) }
                    input id=(format!("pass-{uid}")) name="password" type="password" required autocomplete="current-password";
                    button type="submit" class="primary" { (tr.f("connect.button", &named)) }
                }
            }
        },
    }
}

fn state_key(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Callable => "state.callable",
        ConnectionState::Invalid => "state.invalid",
        ConnectionState::Added => "state.added",
        ConnectionState::Authorized => "state.authorized",
        ConnectionState::Available => "state.available",
    }
}

fn action_key(action: SessionAction) -> &'static str {
    match action {
        SessionAction::Reauthorize => "action.reauthorize",
        SessionAction::Disconnect => "action.disconnect",
        SessionAction::Delete => "action.delete",
    }
}

/// On a session's overview, an existing connection: its state, what it waits for, and the actions
/// the session allows.
fn session_controls(session: &SessionClaims, connector: &Connector, connection: &Connection, fields: &Markup, connect: Markup, tr: Tr) -> Markup {
    let actions = session.settings.allow_actions.iter().filter(|a| **a != SessionAction::Reauthorize || connector.auth_mode == AuthMode::OAuth2);
    let state = connection.state;
    let named = [("name", connector.name())];
    html! {
        span class=(format!("state state-{}", state.as_str())) data-state=(state.as_str()) { (tr.t(state_key(state))) }
        @match state {
            ConnectionState::Callable => {},
            ConnectionState::Authorized if session.settings.hide_resource_settings => p.lead { (tr.t("connect.waiting_setup")) },
            ConnectionState::Authorized => (choose_form(connector, connection, fields, tr)),
            _ => (connect),
        }
        div.actions {
            @for action in actions {
                @let short = tr.t(action_key(*action));
                form method="post" action="/connect/actions" class="inline" {
                    (fields)
                    input type="hidden" name="action" value=(action.as_str());
                    // The accessible name starts with the visible words, then says which connector.
                    button type="submit" class="secondary" data-action=(action.as_str()) aria-label=(tr.f("action.label", &[("action", short), named[0]])) { (short) }
                }
            }
        }
    }
}

/// The additional configuration step: choose one of the tenants or sites the provider offered.
fn choose_form(connector: &Connector, connection: &Connection, fields: &Markup, tr: Tr) -> Markup {
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
    let named = [("name", connector.name())];
    html! {
        form method="post" action="/connect/actions" {
            (fields)
            input type="hidden" name="action" value="configure";
            label for=(format!("choice-{uid}")) { (tr.f("connect.choose_account", &named)) }
            select id=(format!("choice-{uid}")) name="choice" {
                @for (id, name) in &options { option value=(id) { (name) } }
            }
            button type="submit" class="primary" data-action="configure" { (tr.f("connect.use_account", &named)) }
        }
    }
}
