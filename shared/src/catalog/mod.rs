//! The provider catalog: what Latchkey knows about each service, as data
//! (`shared/catalog/providers.json`, one entry per provider, each naming the documentation page
//! its URLs and quirks come from). It is parsed once per process and checked by [`validate`], which
//! a test runs over every entry.
//!
//! A connector names a catalog entry as its provider; whatever the operator does not give
//! (endpoints, scopes, fields, quirks) comes from the entry.

mod entry;
mod validate;

pub use entry::{ProviderEntry, TokenMapping};
pub use validate::{validate, CatalogError, CATEGORIES};

use std::sync::OnceLock;

const CATALOG: &str = include_str!("../../catalog/providers.json");

/// Every provider, by id.
pub fn providers() -> &'static [ProviderEntry] {
    static PARSED: OnceLock<Vec<ProviderEntry>> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(CATALOG).expect("shared/catalog/providers.json parses (a test checks it)"))
}

/// The provider `id`, if the catalog has it.
pub fn provider(id: &str) -> Option<&'static ProviderEntry> {
    providers().iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_passes_the_schema() {
        let problems = validate(providers());
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(providers().len() >= 50, "{} providers", providers().len());
    }

    #[test]
    fn the_required_providers_are_there() {
        for id in [
            "salesforce",
            "hubspot",
            "pipedrive",
            "zoho-crm",
            "slack",
            "microsoft-graph",
            "google",
            "github",
            "github-app",
            "gitlab",
            "bitbucket",
            "atlassian",
            "linear",
            "asana",
            "notion",
            "airtable",
            "box",
            "dropbox",
            "zoom",
            "xero",
            "quickbooks",
            "shopify",
            "zendesk",
            "intercom",
            "freshdesk",
            "stripe",
            "twilio",
            "sendgrid",
            "mailchimp",
            "docusign",
            "calendly",
            "figma",
            "discord",
            "x",
            "linkedin",
            "outreach",
            "salesloft",
            "apollo",
            "snowflake",
            "bamboohr",
            "gusto",
        ] {
            assert!(provider(id).is_some(), "{id} is missing");
        }
    }
}
