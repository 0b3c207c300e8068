//! The Connect page: which app is asking (its name and logo), the connectors a link may use, each
//! with a sign-in button or a key form; on a session's overview, the consumer's connections with
//! their states and actions; and the confirmation an authorize link shows before it sends the
//! browser to a provider. Every word comes from the page's language ([`super::i18n`]).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use latchkey::link::connect::ConnectPage;
use latchkey::model::{ConnectMode, Connector};

use super::connect_items::{connector_item, Hidden};
use super::i18n::{self, Tr};
use super::{script_json, Page};

const SCRIPT: &str = include_str!("../../../shared/assets/connect.js");

/// The app asking: its name (a session theme's, else the project's) and its logo, if it has one.
fn app_of(page: &ConnectPage) -> (String, Option<url::Url>) {
    let theme = page.link.session.as_ref().and_then(|s| s.theme.as_ref());
    let name = theme.and_then(|t| t.name.clone()).unwrap_or_else(|| page.project.app_name().to_owned());
    let logo = theme.and_then(|t| t.logo.as_deref()).or(page.project.logo_url.as_deref()).and_then(|l| url::Url::parse(l).ok());
    (name, logo)
}

/// Renders the page. `csrf` is the anti-forgery token every form carries back.
pub fn connect_page(page: &ConnectPage, link_token: &str, csrf: &str) -> Response {
    let tr = i18n::current();
    let hidden = Hidden { link_token, mode: page.mode, origin: page.origin.as_deref(), csrf };
    let theme = page.link.session.as_ref().and_then(|s| s.theme.as_ref());
    let (app, logo) = app_of(page);
    let config = serde_json::json!({
        "origin": page.origin,
        "mode": page.mode,
        "text": {
            "none": tr.t("connect.no_match"),
            "one": tr.t("connect.matches_one"),
            "many": tr.t("connect.matches_many"),
            "redirecting": tr.t(if page.mode == ConnectMode::Modal { "connect.popup" } else { "connect.redirecting" }),
        },
    });
    let body = html! {
        header {
            @if page.mode == ConnectMode::Modal { button type="button" class="close" id="close" aria-label=(tr.t("connect.close")) { "×" } }
            div.app {
                @if let Some(logo) = &logo { img class="logo" src=(logo.as_str()) alt="" height="40" width="40"; }
                h1 { (tr.f("connect.heading", &[("app", &app)])) }
            }
            p.lead { (tr.f("connect.lead", &[("app", &app)])) }
            (navigation(page, link_token, tr))
        }
        (connector_list(page, &hidden, tr))
        script type="application/json" id="latchkey-config" { (script_json(&config)) }
    };
    let form_targets = page.connectors.iter().filter_map(|c| c.oauth.as_ref()).filter_map(|o| form_source(&o.authorize_url)).collect();
    Page {
        status: StatusCode::OK,
        title: tr.t("connect.title"),
        body,
        script: Some(SCRIPT),
        form_targets,
        frame_ancestor: page.origin.clone(),
        accent: theme.and_then(|t| t.primary_color.clone()),
        image_origin: logo.map(|l| l.origin().ascii_serialization()),
        lang: tr.code(),
    }
    .into_response()
}

/// The confirmation an authorize link shows: which app asks, for which service, and one button
/// that posts back here to start the sign-in. Nothing leaves for the provider until it is pressed.
pub fn authorize_confirmation(page: &ConnectPage, token: &str, redirect_uri: Option<&str>, csrf: &str) -> Response {
    let tr = i18n::current();
    let connector = page.connectors.first();
    let service = connector.map_or("?", |c| c.name());
    let (app, logo) = app_of(page);
    let names = [("app", app.as_str()), ("service", service)];
    let form_targets = connector.and_then(|c| c.oauth.as_ref()).and_then(|o| form_source(&o.authorize_url)).into_iter().collect();
    let body = html! {
        div.app {
            @if let Some(logo) = &logo { img class="logo" src=(logo.as_str()) alt="" height="40" width="40"; }
            h1 { (tr.f("authorize.heading", &names)) }
        }
        p.lead { (tr.f("authorize.lead", &names)) }
        form method="post" action="/connect/authorize" {
            input type="hidden" name="token" value=(token);
            @if let Some(redirect_uri) = redirect_uri { input type="hidden" name="redirect_uri" value=(redirect_uri); }
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" class="primary" id="continue" { (tr.f("authorize.continue", &names)) }
        }
    };
    let image_origin = logo.map(|l| l.origin().ascii_serialization());
    Page { form_targets, image_origin, lang: tr.code(), ..Page::plain(StatusCode::OK, tr.t("connect.title"), body) }.into_response()
}

/// The connectors, grouped by the catalog's category in a stable order (custom providers last),
/// with the search box, what it says when nothing matches, and a live region that announces how
/// many match.
fn connector_list(page: &ConnectPage, hidden: &Hidden<'_>, tr: Tr) -> Markup {
    if page.connectors.is_empty() {
        return html! { p.empty { (tr.t("connect.none_available")) } };
    }
    let mut groups: BTreeMap<(bool, String), Vec<&Connector>> = BTreeMap::new();
    for connector in &page.connectors {
        let category = latchkey::catalog::provider(&connector.provider).map(|p| p.category.clone());
        groups.entry((category.is_none(), category.unwrap_or_else(|| "other".into()))).or_default().push(connector);
    }
    html! {
        label.search for="search" { (tr.t("connect.search_label")) }
        input #search type="search" placeholder=(tr.t("connect.search_placeholder")) autocomplete="off" aria-controls="connectors";
        div #connectors {
            @for ((_, category), connectors) in &groups {
                @let title = category_title(category, tr);
                section.group aria-label=(title) {
                    h2 { (title) }
                    ul.connectors {
                        @for connector in connectors { (connector_item(page, connector, hidden, tr)) }
                    }
                }
            }
        }
        div.empty #no-match hidden {
            p.empty-title { (tr.t("connect.no_match")) }
            p { (tr.t("connect.no_match_hint")) }
        }
        p.visually-hidden #search-status role="status" aria-live="polite" {}
    }
}

/// On a session's deep link: the way back to the overview and the sidebar, unless isolated.
fn navigation(page: &ConnectPage, link_token: &str, tr: Tr) -> Markup {
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
        p { a.back #back href=(with_token("/connect")) { (tr.t("connect.back")) } }
        @if session.settings.show_sidebar && !page.others.is_empty() {
            nav #sidebar aria-label=(tr.t("connect.other_integrations")) {
                ul {
                    @for (name, path) in &page.others {
                        li { a href=(with_token(&format!("/connect/{path}"))) { (name) } }
                    }
                }
            }
        }
    }
}

/// A category's heading in the page's language (`file-storage` → `File storage`).
fn category_title(category: &str, tr: Tr) -> String {
    let key = format!("category.{category}");
    match tr.t(&key) {
        "" => tr.t("category.other").to_owned(),
        title => title.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::i18n::Lang;

    #[test]
    fn templated_hosts_become_wildcard_form_sources() {
        assert_eq!(form_source("https://{subdomain}.zendesk.com/oauth").as_deref(), Some("https://*.zendesk.com"));
        assert_eq!(form_source("https://accounts.example.com/authorize").as_deref(), Some("https://accounts.example.com"));
        assert_eq!(form_source("https://{okta_domain}/oauth2/v1/authorize").as_deref(), Some("https:"));
    }

    #[test]
    fn categories_read_as_titles_in_every_language() {
        assert_eq!(category_title("file-storage", Tr(Lang::En)), "File storage");
        assert_eq!(category_title("crm", Tr(Lang::En)), "CRM");
        assert_eq!(category_title("accounting", Tr(Lang::De)), "Buchhaltung");
        for lang in Lang::ALL {
            for category in latchkey::catalog::CATEGORIES.iter().chain(&["other"]) {
                assert!(!category_title(category, Tr(lang)).is_empty(), "{category} in {lang:?}");
            }
        }
    }
}
