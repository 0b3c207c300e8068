//! The catalog's schema, checked over every entry.

use std::collections::HashSet;

use super::ProviderEntry;

/// The unified-API categories.
pub const CATEGORIES: [&str; 20] = [
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

fn placeholders(url: &str) -> Vec<String> {
    url.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned())).collect()
}

/// Every problem in `entries` (empty when all is well).
pub fn validate(entries: &[ProviderEntry]) -> Vec<CatalogError> {
    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    for entry in entries {
        let mut fail = |problem: String| problems.push(CatalogError { id: entry.id.clone(), problem });
        if entry.id.is_empty() || !entry.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            fail("id must be lowercase letters, digits and -".into());
        }
        if !ids.insert(entry.id.clone()) {
            fail("duplicate id".into());
        }
        if entry.name.trim().is_empty() {
            fail("no name".into());
        }
        if !CATEGORIES.contains(&entry.category.as_str()) {
            fail(format!("unknown category {}", entry.category));
        }
        let Some(mode) = entry.mode() else {
            fail(format!("unknown auth mode {}", entry.auth_mode));
            continue;
        };
        if !https(&entry.docs_url) {
            fail("docs_url must be an https URL".into());
        }
        let fields: Vec<&str> = entry.connection_fields.iter().map(|f| f.name.as_str()).collect();
        let urls = [&entry.authorize_url, &entry.token_url, &entry.revoke_url, &entry.introspection_url];
        for url in urls.into_iter().flatten() {
            if !https(url) {
                fail(format!("{url} is not an https URL"));
            }
            for name in placeholders(url) {
                if !fields.contains(&name.as_str()) && name != "installation_id" {
                    fail(format!("{url} names {{{name}}}, which is not a connection field"));
                }
            }
        }
        if mode.uses_endpoints() && entry.token_url.is_none() {
            fail("needs a token_url".into());
        }
        if matches!(mode, crate::model::AuthMode::OAuth2) && entry.authorize_url.is_none() {
            fail("an oauth2 provider needs an authorize_url".into());
        }
        if !mode.uses_endpoints() && entry.api_key.is_none() {
            fail("an api_key or basic provider says how its key is presented".into());
        }
        if !["client_secret_basic", "client_secret_post"].contains(&entry.token_auth.as_str()) {
            fail(format!("unknown token_auth {}", entry.token_auth));
        }
        if entry.scope_separator.is_empty() || entry.refresh_buffer_secs < 0 {
            fail("scope_separator must be set and refresh_buffer_secs not negative".into());
        }
        if entry.default_token_lifetime_secs.is_some_and(|s| s <= 0) {
            fail("default_token_lifetime_secs must be positive".into());
        }
    }
    problems
}
