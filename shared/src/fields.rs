//! Connection fields: the values a connection needs (a subdomain, a data centre, an instance URL)
//! and the connector URLs they fill (`https://{subdomain}.zendesk.com/oauth/authorizations/new`).
//!
//! Each field has a kind ([`FieldKind`]) that says what a value may be and which part of a URL it
//! may fill. Three checks keep a value from moving a request anywhere else:
//!
//! - [`check_template`]: an operator's (or the catalog's) URL names each placeholder only where its
//!   kind allows, checked when the connector is made;
//! - [`value`]: a value is checked against its kind wherever it enters (the Connect page, an
//!   import, a provider's response);
//! - [`fill`]: the filled URL is parsed again, and must have the scheme, host and path the
//!   template gave it, with only the placeholders' own parts changed.
//!
//! Values live in the connection's own `fields`, never read back from its free-form metadata.

use std::collections::BTreeMap;

use crate::model::{ConnectionField, FieldKind};

/// The placeholder Latchkey fills itself (a GitHub App installation), a numeric path segment.
pub const INSTALLATION_ID: &str = "installation_id";

/// A field value or a URL template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The value is missing or not acceptable; the message is for the person who gave it.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong, for people.
        message: String,
    },
    /// A URL names a placeholder the connector does not define, or uses one where its kind may
    /// not go, or its filled form changed more than its placeholders.
    #[error("{0}")]
    Misconfigured(String),
}

fn invalid(field: &ConnectionField, why: &str) -> FieldError {
    FieldError::Invalid { field: field.name.clone(), message: format!("The {} {why}.", field.label) }
}

fn is_label(value: &str) -> bool {
    (1..=63).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

fn is_dns_name(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_label) && value.contains('.')
}

fn under(host: &str, suffixes: &[String]) -> bool {
    suffixes.iter().any(|suffix| suffix.starts_with('.') && host.len() > suffix.len() && host.ends_with(suffix.as_str()))
}

/// Checks `raw` against `field`'s kind; returns the value as it will be used (trimmed, and lower
/// case for host parts).
pub fn value(field: &ConnectionField, raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::Invalid { field: field.name.clone(), message: format!("Enter the {}.", field.label) });
    }
    if trimmed.len() > 253 {
        return Err(invalid(field, "is too long"));
    }
    match &field.kind {
        FieldKind::Label => {
            let value = trimmed.to_ascii_lowercase();
            is_label(&value).then_some(value).ok_or_else(|| invalid(field, "may only contain letters, digits and hyphens"))
        }
        FieldKind::Choice(choices) => {
            let value = trimmed.to_ascii_lowercase();
            choices.contains(&value).then_some(value).ok_or_else(|| invalid(field, &format!("must be one of {}", choices.join(", "))))
        }
        FieldKind::Host(suffixes) => {
            let value = trimmed.to_ascii_lowercase();
            (is_dns_name(&value) && under(&value, suffixes))
                .then_some(value)
                .ok_or_else(|| invalid(field, &format!("must be a host name ending in {}", suffixes.join(" or "))))
        }
        FieldKind::Url(suffixes) => {
            let refused = || invalid(field, &format!("must be an https address on {}", suffixes.join(" or ")));
            let url = url::Url::parse(trimmed).map_err(|_| refused())?;
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            let bare = url.scheme() == "https"
                && url.username().is_empty()
                && url.password().is_none()
                && url.port().is_none()
                && matches!(url.path(), "" | "/")
                && url.query().is_none()
                && url.fragment().is_none();
            (bare && is_dns_name(&host) && under(&host, suffixes)).then(|| format!("https://{host}")).ok_or_else(refused)
        }
        FieldKind::Segment { numeric } => {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
            let ok = trimmed.len() <= 128
                && trimmed.chars().all(allowed)
                && trimmed != "."
                && trimmed != ".."
                && (!numeric || trimmed.chars().all(|c| c.is_ascii_digit()));
            ok.then(|| trimmed.to_owned())
                .ok_or_else(|| invalid(field, if *numeric { "must be a number" } else { "may only contain letters, digits, dots, hyphens and underscores" }))
        }
    }
}

/// The values the end user gave for the fields they type (`field_<name>` in the Connect page's
/// form), each checked against its kind.
pub fn collect(fields: &[ConnectionField], given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, FieldError> {
    let mut values = BTreeMap::new();
    for field in fields.iter().filter(|f| f.entered_by_user()) {
        let raw = given.get(&format!("field_{}", field.name)).map(String::as_str).unwrap_or_default();
        values.insert(field.name.clone(), value(field, raw)?);
    }
    Ok(values)
}

/// Checks values given by name (an import), each against its field's kind; names the connector
/// does not define are refused.
pub fn check_given(fields: &[ConnectionField], given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, FieldError> {
    let mut values = BTreeMap::new();
    for (name, raw) in given {
        let field = fields
            .iter()
            .find(|f| &f.name == name)
            .ok_or_else(|| FieldError::Invalid { field: name.clone(), message: format!("{name} is not a field of this connector") })?;
        values.insert(name.clone(), value(field, raw)?);
    }
    Ok(values)
}

/// A template taken apart: where its placeholders sit.
struct Template<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
}

fn split(template: &str) -> Option<Template<'_>> {
    if let Some(rest) = template.strip_prefix('{') {
        // A `url` placeholder stands for the scheme and the authority.
        let close = rest.find('}')?;
        return Some(Template { scheme: "", authority: &template[..close + 2], path: &rest[close + 1..] });
    }
    let (scheme, rest) = template.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(Template { scheme, authority: &rest[..end], path: &rest[end..] })
}

fn placeholders(text: &str) -> Vec<&str> {
    text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
}

/// Checks that `template` names only fields of `fields` (and Latchkey's own `{installation_id}`),
/// each where its kind may go: a `label` as the left-most label of the host, a `choice` inside the
/// host, a `host` as the whole host, a `url` at the start, a `segment` as a whole path segment.
pub fn check_template(template: &str, fields: &[ConnectionField]) -> Result<(), String> {
    let parts = split(template).ok_or_else(|| format!("{template} is not an absolute URL"))?;
    if !parts.scheme.is_empty() && parts.scheme != "https" && parts.scheme != "http" {
        return Err(format!("{template} is not an http(s) URL"));
    }
    for name in placeholders(template) {
        let kind = match fields.iter().find(|f| f.name == name) {
            Some(field) => field.kind.clone(),
            None if name == INSTALLATION_ID => FieldKind::Segment { numeric: true },
            None => return Err(format!("{template} names {{{name}}}, which is not a field of the connector")),
        };
        let token = format!("{{{name}}}");
        let in_authority = parts.authority.contains(&token);
        let authority = parts.authority.split(':').next().unwrap_or_default();
        let placed = match kind {
            FieldKind::Label => authority.strip_prefix(token.as_str()).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1 && !rest.contains('{')),
            FieldKind::Choice(_) => in_authority,
            FieldKind::Host(_) => authority == token,
            FieldKind::Url(_) => parts.scheme.is_empty() && parts.authority == token,
            // A whole path segment, or a whole query value: its characters cannot end either.
            FieldKind::Segment { .. } => {
                let path = parts.path.split(['?', '#']).next().unwrap_or_default();
                let query = parts.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
                !in_authority
                    && (path.split('/').any(|segment| segment == token) || query.split('&').any(|pair| pair.split_once('=').is_some_and(|(_, v)| v == token)))
            }
        };
        if !placed || template.matches(&token).count() != 1 {
            return Err(format!("{template} places {{{name}}} where a field of its kind may not go"));
        }
    }
    Ok(())
}

/// A value of `field`'s kind, to try a template with.
pub fn sample(field: &ConnectionField) -> String {
    match &field.kind {
        FieldKind::Label => "sample".into(),
        FieldKind::Choice(choices) => choices.first().cloned().unwrap_or_default(),
        FieldKind::Host(suffixes) => format!("sample{}", suffixes.first().map(String::as_str).unwrap_or(".invalid")),
        FieldKind::Url(suffixes) => format!("https://sample{}", suffixes.first().map(String::as_str).unwrap_or(".invalid")),
        FieldKind::Segment { numeric: true } => "1".into(),
        FieldKind::Segment { numeric: false } => "sample".into(),
    }
}

/// Checks a field's own declaration: choices that could only fill a host, suffixes that start
/// with a dot, a source that is a path or a callback parameter.
pub fn check_field(field: &ConnectionField) -> Result<(), String> {
    let host_part = |s: &str| !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    match &field.kind {
        FieldKind::Choice(choices) if choices.is_empty() || !choices.iter().all(|c| host_part(c)) => {
            return Err(format!("field {} lists no choices, or one that is not a host part", field.name));
        }
        FieldKind::Host(suffixes) | FieldKind::Url(suffixes)
            if suffixes.is_empty() || !suffixes.iter().all(|s| s.starts_with('.') && host_part(&s[1..]) && s[1..].contains('.')) =>
        {
            return Err(format!("field {} needs suffixes like .example.com", field.name));
        }
        _ => {}
    }
    match field.from.as_deref() {
        Some(from) if from.is_empty() || from.len() > 100 || from.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(format!("field {} has an unreadable source", field.name))
        }
        _ => Ok(()),
    }
}

/// `template` with every placeholder filled from `values`, parsed again: its scheme, host, port and
/// path must be the template's own with only the placeholders replaced.
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> Result<url::Url, FieldError> {
    let misconfigured = |why: &str| FieldError::Misconfigured(format!("{template}: {why}"));
    let mut filled = template.to_owned();
    for name in placeholders(template) {
        let value = values.get(name).ok_or_else(|| misconfigured(&format!("no value for {{{name}}}")))?;
        filled = filled.replace(&format!("{{{name}}}"), value);
    }
    let url = url::Url::parse(&filled).map_err(|_| misconfigured("the filled URL does not parse"))?;
    // The template's own parts, each filled on its own, must be what the whole URL parses into: a
    // value that smuggled in a `/`, `?`, `#`, `@` or `:` would move the boundaries and fail here.
    let template_parts = split(template).ok_or_else(|| misconfigured("not an absolute URL"))?;
    let fill_part = |part: &str| placeholders(part).iter().fold(part.to_owned(), |text, name| text.replace(&format!("{{{name}}}"), &values[*name]));
    let authority = fill_part(template_parts.authority);
    let authority = authority.trim_start_matches("https://").trim_start_matches("http://").to_ascii_lowercase();
    let parsed_authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let rest = fill_part(template_parts.path);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (rest.clone(), None),
    };
    let same_path = url.path() == if path.is_empty() { "/" } else { path.as_str() };
    if authority != parsed_authority || !same_path || url.query() != query.as_deref() || !url.username().is_empty() || url.fragment().is_some() {
        return Err(misconfigured("a field value changed more of the URL than its own part"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind) -> ConnectionField {
        ConnectionField { name: name.into(), label: name.into(), kind, from: None }
    }

    #[test]
    fn each_kind_takes_only_its_own_values() {
        let label = field("subdomain", FieldKind::Label);
        assert_eq!(value(&label, " Acme ").unwrap(), "acme");
        for bad in ["evil.com", "a@b", "x:80", "-a", "a/b", "127.0.0.1", "a b", ""] {
            assert!(value(&label, bad).is_err(), "label {bad}");
        }
        let choice = field("domain", FieldKind::Choice(vec!["com".into(), "eu".into()]));
        assert_eq!(value(&choice, "EU").unwrap(), "eu");
        assert!(value(&choice, "evil.com").is_err());
        let host = field("okta_domain", FieldKind::Host(vec![".okta.com".into()]));
        assert_eq!(value(&host, "acme.okta.com").unwrap(), "acme.okta.com");
        for bad in ["okta.com", "evil.com", "acme.okta.com.evil.com", "acme.okta.com/x", "acme.okta.com:443", "127.0.0.1", "user@acme.okta.com"] {
            assert!(value(&host, bad).is_err(), "host {bad}");
        }
        let url = field("instance_url", FieldKind::Url(vec![".my.salesforce.com".into()]));
        assert_eq!(value(&url, "https://acme.my.salesforce.com/").unwrap(), "https://acme.my.salesforce.com");
        for bad in [
            "http://acme.my.salesforce.com",
            "https://evil.com",
            "https://acme.my.salesforce.com/x",
            "https://a@acme.my.salesforce.com",
            "https://acme.my.salesforce.com:8443",
        ] {
            assert!(value(&url, bad).is_err(), "url {bad}");
        }
        let segment = field("tenant", FieldKind::Segment { numeric: false });
        assert!(value(&segment, "contoso.onmicrosoft.com").is_ok());
        for bad in ["..", "a/b", "a?b", "a#b", "a%2Fb"] {
            assert!(value(&segment, bad).is_err(), "segment {bad}");
        }
        let installation = field("installation_id", FieldKind::Segment { numeric: true });
        assert!(value(&installation, "1/../../repos/victim/x/dispatches#").is_err());
    }

    #[test]
    fn templates_place_each_kind_only_where_it_may_go() {
        let fields = vec![
            field("subdomain", FieldKind::Label),
            field("domain", FieldKind::Choice(vec!["com".into()])),
            field("okta", FieldKind::Host(vec![".okta.com".into()])),
            field("instance_url", FieldKind::Url(vec![".salesforce.com".into()])),
            field("tenant", FieldKind::Segment { numeric: false }),
        ];
        for good in [
            "https://{subdomain}.zendesk.com/oauth",
            "https://accounts.zoho.{domain}/oauth/v2/auth",
            "https://{okta}/oauth2/v1/token",
            "{instance_url}/services/oauth2/revoke",
            "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            "https://api.github.com/app/installations/{installation_id}/access_tokens",
        ] {
            assert_eq!(check_template(good, &fields), Ok(()), "{good}");
        }
        for bad in [
            "https://evil.com/{subdomain}",
            "https://x.{subdomain}.com/",
            "https://{okta}.evil.com/",
            "https://evil.com/{instance_url}",
            "https://{tenant}.example.com/",
            "https://x.example.com/a{tenant}b",
            "https://x.example.com/{nope}",
        ] {
            assert!(check_template(bad, &fields).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_filled_url_keeps_the_templates_host_and_path() {
        let values = BTreeMap::from([("subdomain".to_owned(), "acme".to_owned()), ("tenant".to_owned(), "contoso".to_owned())]);
        assert_eq!(fill("https://{subdomain}.zendesk.com/oauth", &values).unwrap().as_str(), "https://acme.zendesk.com/oauth");
        let sneaky = BTreeMap::from([("subdomain".to_owned(), "evil.com/x?".to_owned())]);
        assert!(fill("https://{subdomain}.zendesk.com/oauth", &sneaky).is_err());
        let at = BTreeMap::from([("subdomain".to_owned(), "evil.com@x".to_owned())]);
        assert!(fill("https://{subdomain}.zendesk.com/oauth", &at).is_err());
        let climb = BTreeMap::from([("tenant".to_owned(), "..".to_owned())]);
        assert!(fill("https://login.example.com/{tenant}/token", &climb).is_err());
        assert!(fill("https://{nope}.example.com/", &values).is_err());
    }
}
