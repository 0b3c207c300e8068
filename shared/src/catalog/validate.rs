//! The catalog's lint (shared/catalog/SCHEMA.md, "The lint"), run by a test over every entry: ids,
//! categories, https everywhere, templated hosts only through declared field kinds, the endpoints
//! each auth mode needs and no others, and an API block the proxy can use.

use std::collections::HashSet;

use super::ProviderEntry;
use crate::model::{AuthMode, FieldKind, Narrowing};

/// The unified-API categories, one file each.
pub const CATEGORIES: [&str; 22] = [
    "crm",
    "accounting",
    "ticketing",
    "hris",
    "ats",
    "file-storage",
    "communication",
    "developer-tools",
    "project-management",
    "marketing",
    "e-signature",
    "scheduling",
    "design",
    "social",
    "sales-engagement",
    "data-warehouse",
    "payments",
    "commerce",
    "productivity",
    "video",
    "analytics",
    "identity",
];

/// One problem with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    /// The entry.
    pub id: String,
    /// What is wrong.
    pub problem: String,
}

fn https(url: &str) -> bool {
    url.starts_with("https://") && url::Url::parse(&url.replace(['{', '}'], "x")).is_ok()
}

/// Every problem in `entries` (empty when all is well).
pub fn validate(entries: &[ProviderEntry]) -> Vec<CatalogError> {
    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    for entry in entries {
        let mut found = Vec::new();
        if !ids.insert(entry.id.clone()) {
            found.push("duplicate id".to_owned());
        }
        identity(entry, &mut found);
        urls(entry, &mut found);
        mode_rules(entry, &mut found);
        problems.extend(found.into_iter().map(|problem| CatalogError { id: entry.id.clone(), problem }));
    }
    problems
}

fn identity(entry: &ProviderEntry, found: &mut Vec<String>) {
    if entry.id.is_empty() || !entry.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        found.push("id must be lowercase letters, digits and -".into());
    }
    if entry.name.trim().is_empty() {
        found.push("no name".into());
    }
    if !CATEGORIES.contains(&entry.category.as_str()) {
        found.push(format!("unknown category {}", entry.category));
    }
    if !https(&entry.docs_url) {
        found.push("docs_url must be an https URL".into());
    }
    if !["client_secret_basic", "client_secret_post"].contains(&entry.token_auth.as_str()) {
        found.push(format!("unknown token_auth {}", entry.token_auth));
    }
    if entry.scope_separator.is_empty() || !(0..=86_400).contains(&entry.refresh_buffer_secs) {
        found.push("scope_separator must be set and refresh_buffer_secs 0 to 86400".into());
    }
    if entry.default_token_lifetime_secs.is_some_and(|s| s <= 0) {
        found.push("default_token_lifetime_secs must be positive".into());
    }
}

/// Every URL https, and every template filled only through fields of the right kind.
fn urls(entry: &ProviderEntry, found: &mut Vec<String>) {
    for field in &entry.connection_fields {
        if let Err(why) = crate::fields::check_field(field) {
            found.push(format!("field {}: {why}", field.name));
        }
        let suffixes = match &field.kind {
            FieldKind::Host(suffixes) | FieldKind::Url(suffixes) => suffixes.as_slice(),
            _ => &[],
        };
        if suffixes.iter().any(|s| !s.starts_with('.')) {
            found.push(format!("field {}: every suffix starts with a dot", field.name));
        }
    }
    let endpoints = [&entry.authorize_url, &entry.token_url, &entry.revoke_url, &entry.introspection_url];
    let api = entry.api.as_ref().map(|a| &a.base_url);
    for url in endpoints.into_iter().flatten().chain(api) {
        // A template may start with a `url` field (an https origin, as its kind checks).
        if !https(url) && !url.starts_with('{') {
            found.push(format!("{url} is not an https URL"));
        }
        if let Err(why) = crate::fields::check_template(url, &entry.connection_fields) {
            found.push(format!("{url}: {why}"));
        }
    }
    if let Some(Err(why)) = entry.api.as_ref().map(|a| a.check()) {
        found.push(format!("api: {why}"));
    }
}

/// The endpoints, API block and narrowing each auth mode needs, and none it does not.
fn mode_rules(entry: &ProviderEntry, found: &mut Vec<String>) {
    let Some(mode) = entry.mode() else {
        found.push(format!("unknown auth mode {}", entry.auth_mode));
        return;
    };
    let redirects = matches!(mode, AuthMode::OAuth2 | AuthMode::GithubApp);
    if mode.uses_endpoints() != entry.token_url.is_some() {
        found.push(format!("{} {} a token_url", entry.auth_mode, if mode.uses_endpoints() { "needs" } else { "has no" }));
    }
    if redirects != entry.authorize_url.is_some() && mode != AuthMode::GithubApp {
        found.push(format!("{} {} an authorize_url", entry.auth_mode, if redirects { "needs" } else { "has no" }));
    }
    if !mode.uses_endpoints() && entry.api.is_none() {
        found.push("an api_key or basic provider says how its key is presented (api)".into());
    }
    for way in &entry.narrowing {
        if !narrowing_applies(*way, mode) {
            found.push(format!("narrowing {way:?} does not apply to {}", entry.auth_mode));
        }
    }
}

/// Whether a way of narrowing tokens exists for connectors of `mode` (custom connectors are held
/// to the same rule).
pub fn narrowing_applies(way: Narrowing, mode: AuthMode) -> bool {
    match way {
        Narrowing::RefreshScope | Narrowing::RefreshResource | Narrowing::RefreshAuthorizationDetails | Narrowing::TokenExchange => mode == AuthMode::OAuth2,
        Narrowing::GithubInstallation => mode == AuthMode::GithubApp,
        Narrowing::ClientCredentialsScope => mode == AuthMode::ClientCredentials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(changes: serde_json::Value) -> ProviderEntry {
        let mut base = json!({
            "id": "acme", "name": "Acme", "category": "crm", "auth_mode": "oauth2",
            "authorize_url": "https://{subdomain}.acme.com/oauth/authorize", "token_url": "https://{subdomain}.acme.com/oauth/token",
            "revoke_url": null, "introspection_url": null, "scope_separator": " ", "default_scopes": [], "pkce": true, "sends_iss": false,
            "token_auth": "client_secret_post", "rotates_refresh_token": true, "refresh_buffer_secs": 300, "default_token_lifetime_secs": null,
            "authorize_params": {}, "connection_fields": [{"name": "subdomain", "label": "Subdomain", "kind": "label"}], "token_response": null,
            "metadata": {}, "post_authorization": null, "api": {"base_url": "https://{subdomain}.acme.com/api", "auth": {"style": "bearer"}},
            "narrowing": [], "docs_url": "https://developer.acme.com/oauth",
        });
        for (k, v) in changes.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn problems(changes: serde_json::Value) -> Vec<String> {
        validate(&[entry(changes)]).into_iter().map(|e| e.problem).collect()
    }

    #[test]
    fn a_good_entry_passes_and_each_rule_catches_its_break() {
        assert_eq!(problems(json!({})), Vec::<String>::new());
        let breaks = [
            json!({"token_url": "http://{subdomain}.acme.com/oauth/token"}),
            json!({"authorize_url": "https://{tenant}.acme.com/oauth/authorize"}),
            json!({"authorize_url": "https://{subdomain}/oauth/authorize"}),
            json!({"api": {"base_url": "https://api.acme.com/{subdomain}x", "auth": {"style": "bearer"}}}),
            json!({"category": "toys"}),
            json!({"docs_url": "http://developer.acme.com"}),
            json!({"auth_mode": "api_key"}),
            json!({"auth_mode": "api_key", "authorize_url": null, "token_url": null, "api": null}),
            json!({"narrowing": ["github_installation"]}),
            json!({"connection_fields": [{"name": "subdomain", "label": "Subdomain", "kind": "host", "suffixes": ["acme.com"]}]}),
            json!({"api": {"base_url": "https://{subdomain}.acme.com/api", "auth": {"style": "header", "name": "X Key"}}}),
        ];
        for changes in breaks {
            assert!(!problems(changes.clone()).is_empty(), "{changes} should be caught");
        }
        let twice = validate(&[entry(json!({})), entry(json!({}))]);
        assert!(twice.iter().any(|e| e.problem == "duplicate id"));
    }
}
