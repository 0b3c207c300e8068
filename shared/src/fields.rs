//! Connection fields: values the end user gives before authorizing (a subdomain, a region), and
//! the connector URLs they fill in (`https://{subdomain}.zendesk.com/oauth/authorizations/new`).
//!
//! A value may only hold letters, digits, `-`, `_` and `.` (no leading dot), so it can never add a
//! path, a port, credentials or another host to the URL it fills.

use std::collections::BTreeMap;

use crate::model::ConnectionField;

/// A field value or a URL template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The end user gave no value, or one that is not acceptable; the message is for them.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong, for people.
        message: String,
    },
    /// A URL names a placeholder the connector does not define.
    #[error("a URL names a field the connector does not define: {0}")]
    Misconfigured(String),
}

/// Checks that every field has an acceptable value in `given` (`field_<name>` keys); returns them by name.
pub fn collect(fields: &[ConnectionField], given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, FieldError> {
    let mut values = BTreeMap::new();
    for field in fields {
        let value = given.get(&format!("field_{}", field.name)).map(|v| v.trim().to_lowercase()).unwrap_or_default();
        if value.is_empty() {
            return Err(FieldError::Invalid { field: field.name.clone(), message: format!("Enter the {}.", field.label) });
        }
        if !acceptable(&value) {
            return Err(FieldError::Invalid {
                field: field.name.clone(),
                message: format!("The {} may only contain letters, digits, dots, hyphens and underscores.", field.label),
            });
        }
        values.insert(field.name.clone(), value);
    }
    Ok(values)
}

fn acceptable(value: &str) -> bool {
    value.len() <= 100 && !value.starts_with('.') && !value.contains("..") && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `template` with every `{name}` replaced by its value; a placeholder without a value is an error.
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> Result<String, FieldError> {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    if out.contains('{') || out.contains('}') {
        return Err(FieldError::Misconfigured(template.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zendesk() -> Vec<ConnectionField> {
        vec![ConnectionField { name: "subdomain".into(), label: "Zendesk subdomain".into(), kind: crate::model::FieldKind::Label, from: None }]
    }

    #[test]
    fn values_fill_templates_and_cannot_escape_them() {
        let given = BTreeMap::from([("field_subdomain".to_owned(), " Acme ".to_owned())]);
        let values = collect(&zendesk(), &given).unwrap();
        assert_eq!(fill("https://{subdomain}.zendesk.com/oauth", &values).unwrap(), "https://acme.zendesk.com/oauth");
        for bad in ["evil.com/x", "a@b", "x:80", ".acme", "a..b", "", "a b"] {
            let given = BTreeMap::from([("field_subdomain".to_owned(), bad.to_owned())]);
            assert!(collect(&zendesk(), &given).is_err(), "{bad}");
        }
        assert!(fill("https://{tenant}.example.com", &values).is_err());
    }
}
