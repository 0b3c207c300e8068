//! Names and identifiers, parsed once at the edge so inner code cannot hold an invalid one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct InvalidName {
    /// Which kind of name.
    pub what: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn check(what: &'static str, value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), InvalidName> {
    let fail = |reason: String| Err(InvalidName { what, reason });
    if value.is_empty() {
        return fail("must not be empty".into());
    }
    if value.len() > max {
        return fail(format!("must be at most {max} characters"));
    }
    if let Some(c) = value.chars().find(|c| !allowed(*c)) {
        return fail(format!("must not contain {c:?}"));
    }
    Ok(())
}

fn slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The name as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A connector's uid, `provider/name` such as `slack/acme-slack`: lowercase letters, digits, `-`
/// and `_` on both sides of exactly one slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectorUid(String);
string_newtype!(ConnectorUid);

impl ConnectorUid {
    /// Parses a uid.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let what = "connector uid";
        let Some((provider, name)) = raw.split_once('/') else {
            return Err(InvalidName { what, reason: "must look like provider/name, e.g. slack/acme-slack".into() });
        };
        check(what, provider, 40, slug_char)?;
        check(what, name, 60, slug_char)?;
        Ok(Self(raw.to_owned()))
    }

    /// The provider part (`slack` of `slack/acme-slack`).
    pub fn provider(&self) -> &str {
        self.0.split_once('/').map(|(p, _)| p).unwrap_or(&self.0)
    }
}

/// An environment name such as `production`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EnvironmentName(String);
string_newtype!(EnvironmentName);

impl EnvironmentName {
    /// Parses an environment name: 1 to 32 lowercase letters, digits, `-` or `_`.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        check("environment", raw, 32, slug_char)?;
        Ok(Self(raw.to_owned()))
    }
}

/// A project id, `prj_` and a random suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProjectId(String);
string_newtype!(ProjectId);

impl ProjectId {
    /// A new random project id.
    pub fn generate() -> Self {
        Self(crate::secret::random_id("prj"))
    }

    /// Parses a project id.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let what = "project id";
        let Some(rest) = raw.strip_prefix("prj_") else {
            return Err(InvalidName { what, reason: "must start with prj_".into() });
        };
        check(what, rest, 40, |c| c.is_ascii_alphanumeric())?;
        Ok(Self(raw.to_owned()))
    }
}

/// A connection's public id, `conn_` and a random suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectionId(String);
string_newtype!(ConnectionId);

impl ConnectionId {
    /// A new random connection id.
    pub fn generate() -> Self {
        Self(crate::secret::random_id("conn"))
    }

    /// Parses a connection id.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let what = "connection id";
        let Some(rest) = raw.strip_prefix("conn_") else {
            return Err(InvalidName { what, reason: "must start with conn_".into() });
        };
        check(what, rest, 40, |c| c.is_ascii_alphanumeric())?;
        Ok(Self(raw.to_owned()))
    }
}

/// A consumer (an end user of the app) as the app names them: 1 to 256 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConsumerId(String);
string_newtype!(ConsumerId);

impl ConsumerId {
    /// Parses a consumer id; surrounding white space is not part of it.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let trimmed = raw.trim();
        check("consumer id", trimmed, 256, |c| !c.is_control())?;
        Ok(Self(trimmed.to_owned()))
    }
}

/// A secret key's public id, `key_` and a random suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct KeyId(String);
string_newtype!(KeyId);

impl KeyId {
    /// A new random key id.
    pub fn generate() -> Self {
        Self(crate::secret::random_id("key"))
    }

    /// Parses a key id.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let what = "key id";
        let Some(rest) = raw.strip_prefix("key_") else {
            return Err(InvalidName { what, reason: "must start with key_".into() });
        };
        check(what, rest, 40, |c| c.is_ascii_alphanumeric())?;
        Ok(Self(raw.to_owned()))
    }
}

/// A provider installation (a GitHub App installation, a Slack workspace): 1 to 128 letters,
/// digits, `-`, `_` or `.`, so it can never reshape a URL or a key it is placed in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct InstallationId(String);
string_newtype!(InstallationId);

impl InstallationId {
    /// Parses an installation id.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        check("installation_id", raw, 128, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))?;
        if raw.chars().all(|c| c == '.') {
            return Err(InvalidName { what: "installation_id", reason: "must not be only dots".into() });
        }
        Ok(Self(raw.to_owned()))
    }

    /// Whether it is all digits (GitHub's installation ids are).
    pub fn is_numeric(&self) -> bool {
        self.0.chars().all(|c| c.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_uids_need_exactly_one_slash_and_slug_parts() {
        assert_eq!(ConnectorUid::parse("slack/acme-slack").unwrap().provider(), "slack");
        for bad in ["slack", "/x", "slack/", "Slack/x", "a/b/c", "slack/acme slack", "slack/%2F"] {
            assert!(ConnectorUid::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn environments_and_project_ids_are_checked() {
        assert!(EnvironmentName::parse("production").is_ok());
        assert!(EnvironmentName::parse("Prod").is_err());
        assert!(EnvironmentName::parse("").is_err());
        assert!(ProjectId::parse(ProjectId::generate().as_str()).is_ok());
        assert!(ProjectId::parse("prj_../x").is_err());
        assert!(ProjectId::parse("abc").is_err());
    }

    #[test]
    fn ids_refuse_what_could_reshape_a_key_or_url() {
        assert!(ConnectionId::parse(ConnectionId::generate().as_str()).is_ok());
        assert!(ConnectionId::parse("conn_../x").is_err());
        assert_eq!(ConsumerId::parse(" alice ").unwrap().as_str(), "alice");
        assert!(ConsumerId::parse("").is_err() && ConsumerId::parse("a\nb").is_err() && ConsumerId::parse(&"x".repeat(257)).is_err());
        assert!(InstallationId::parse("12345").unwrap().is_numeric());
        for bad in ["1/../../repos/victim/x/dispatches#", "..", "a b", "a#b", ""] {
            assert!(InstallationId::parse(bad).is_err(), "{bad}");
        }
    }
}
