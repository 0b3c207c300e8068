//! The provider catalog: what Latchkey knows about each service, as data. One JSON file per
//! category under `shared/catalog/providers/`, in schema version 2 (`shared/catalog/SCHEMA.md`),
//! each entry naming the documentation page its URLs and quirks come from. The files are compiled
//! in, parsed once per process, and linted by [`validate`], which a test runs over every entry.
//!
//! A connector names a catalog entry as its provider; whatever the operator does not give
//! (endpoints, scopes, fields, quirks, the proxy's API block) comes from the entry.

mod entry;
mod validate;

pub use entry::{ProviderEntry, TokenMapping};
pub use validate::{narrowing_applies, validate, CatalogError, CATEGORIES};

use std::sync::OnceLock;

/// Every category file, by the category it holds.
pub const FILES: [(&str, &str); 22] = [
    ("accounting", include_str!("../../catalog/providers/accounting.json")),
    ("analytics", include_str!("../../catalog/providers/analytics.json")),
    ("ats", include_str!("../../catalog/providers/ats.json")),
    ("commerce", include_str!("../../catalog/providers/commerce.json")),
    ("communication", include_str!("../../catalog/providers/communication.json")),
    ("crm", include_str!("../../catalog/providers/crm.json")),
    ("data-warehouse", include_str!("../../catalog/providers/data-warehouse.json")),
    ("design", include_str!("../../catalog/providers/design.json")),
    ("developer-tools", include_str!("../../catalog/providers/developer-tools.json")),
    ("e-signature", include_str!("../../catalog/providers/e-signature.json")),
    ("file-storage", include_str!("../../catalog/providers/file-storage.json")),
    ("hris", include_str!("../../catalog/providers/hris.json")),
    ("identity", include_str!("../../catalog/providers/identity.json")),
    ("marketing", include_str!("../../catalog/providers/marketing.json")),
    ("payments", include_str!("../../catalog/providers/payments.json")),
    ("productivity", include_str!("../../catalog/providers/productivity.json")),
    ("project-management", include_str!("../../catalog/providers/project-management.json")),
    ("sales-engagement", include_str!("../../catalog/providers/sales-engagement.json")),
    ("scheduling", include_str!("../../catalog/providers/scheduling.json")),
    ("social", include_str!("../../catalog/providers/social.json")),
    ("ticketing", include_str!("../../catalog/providers/ticketing.json")),
    ("video", include_str!("../../catalog/providers/video.json")),
];

/// Every provider, in file order (each file sorted by id).
pub fn providers() -> &'static [ProviderEntry] {
    static PARSED: OnceLock<Vec<ProviderEntry>> = OnceLock::new();
    PARSED.get_or_init(|| {
        FILES
            .iter()
            .flat_map(|(category, text)| {
                serde_json::from_str::<Vec<ProviderEntry>>(text)
                    .unwrap_or_else(|e| panic!("shared/catalog/providers/{category}.json parses (a test checks it): {e}"))
            })
            .collect()
    })
}

/// The provider `id`, if the catalog has it.
pub fn provider(id: &str) -> Option<&'static ProviderEntry> {
    providers().iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_passes_the_lint_and_the_catalog_is_broad() {
        let problems = validate(providers());
        assert!(problems.is_empty(), "{problems:#?}");
        let oauth = providers().iter().filter(|p| p.auth_mode == "oauth2").count();
        assert!(providers().len() >= 300 && oauth >= 150, "{} providers, {oauth} OAuth 2.0 code flow", providers().len());
    }

    #[test]
    fn every_file_is_compiled_in_and_holds_its_own_category() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/providers");
        let mut on_disk: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_owned()).collect();
        on_disk.sort();
        let compiled: Vec<&str> = FILES.iter().map(|(category, _)| *category).collect();
        assert_eq!(on_disk, compiled);
        for (category, text) in FILES {
            let entries: Vec<ProviderEntry> = serde_json::from_str(text).unwrap();
            assert!(entries.iter().all(|e| e.category == category), "{category}.json holds another category");
            assert!(entries.windows(2).all(|w| w[0].id < w[1].id), "{category}.json is sorted by id");
        }
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
