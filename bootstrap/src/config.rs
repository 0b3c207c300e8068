//! Configuration, read once from the environment when a process starts.
//!
//! Every variable is listed in the README's configuration reference. Locally nothing needs to be
//! set: the defaults are the embedded store and a local master key under `.latchkey/`.

use std::path::PathBuf;
use std::time::Duration;

use latchkey::keyring::CachePolicy;
use latchkey::settings::Settings;
use latchkey::SecretString;

/// Where items are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    /// The embedded SQLite store in this file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A DynamoDB table.
    Dynamo {
        /// Table name.
        table: String,
        /// Endpoint override (a local DynamoDB-API server); `None` for AWS.
        endpoint: Option<String>,
    },
}

/// Who wraps data keys.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyringConfig {
    /// A local master key: given, or read from (and created in) a file.
    Local {
        /// The file holding the key.
        key_file: PathBuf,
        /// A base64 key given directly, which wins over the file.
        key: Option<SecretString>,
    },
    /// AWS KMS.
    Kms {
        /// Key id, ARN or alias.
        key_id: String,
        /// Endpoint override (a local KMS-API server); `None` for AWS.
        endpoint: Option<String>,
    },
}

/// A configuration problem, named by the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Everything a process needs to build its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The item store.
    pub store: StoreConfig,
    /// The keyring's provider.
    pub keyring: KeyringConfig,
    /// How long and how often unwrapped data keys are reused.
    pub key_cache: CachePolicy,
    /// What the flows are told.
    pub settings: Settings,
    /// The SQS queue webhook deliveries go through (AWS); without it, an in-process queue or the sweep.
    pub webhook_queue_url: Option<String>,
    /// SQS endpoint override (a local SQS-API server).
    pub sqs_endpoint: Option<String>,
    /// The SQS FIFO queue due refreshes go through (AWS); without it, the sweep refreshes them in
    /// a bounded pool of its own.
    pub refresh_queue_url: Option<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the configuration through `var`, which answers a variable's value if it is set.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(var("LATCHKEY_DATA_DIR").unwrap_or_else(|| ".latchkey".into()));
        let defaults = CachePolicy::default();
        let key_cache = CachePolicy {
            max_age: Duration::from_secs(number(&var, "LATCHKEY_KEY_CACHE_MAX_AGE_SECS", defaults.max_age.as_secs())?),
            max_uses: number(&var, "LATCHKEY_KEY_CACHE_MAX_USES", defaults.max_uses)?,
            max_entries: defaults.max_entries,
        };
        Ok(Self {
            store: store_config(&var, &data_dir)?,
            keyring: keyring_config(&var, &data_dir)?,
            key_cache,
            settings: settings(&var)?,
            webhook_queue_url: var("LATCHKEY_WEBHOOK_QUEUE_URL"),
            sqs_endpoint: var("LATCHKEY_SQS_ENDPOINT"),
            refresh_queue_url: var("LATCHKEY_REFRESH_QUEUE_URL"),
        })
    }
}

/// A whole-number variable, or `default` when it is unset.
fn number(var: &impl Fn(&str) -> Option<String>, name: &str, default: u64) -> Result<u64, ConfigError> {
    var(name).map_or(Ok(default), |v| v.parse().map_err(|_| ConfigError(format!("{name} must be a whole number"))))
}

/// `LATCHKEY_STORE` and what it needs.
fn store_config(var: &impl Fn(&str) -> Option<String>, data_dir: &std::path::Path) -> Result<StoreConfig, ConfigError> {
    match var("LATCHKEY_STORE").as_deref().unwrap_or("sqlite") {
        "sqlite" => Ok(StoreConfig::Sqlite { path: var("LATCHKEY_SQLITE_PATH").map(PathBuf::from).unwrap_or_else(|| data_dir.join("latchkey.sqlite3")) }),
        "dynamodb" => Ok(StoreConfig::Dynamo {
            table: var("LATCHKEY_TABLE").ok_or_else(|| ConfigError("LATCHKEY_TABLE is required when LATCHKEY_STORE=dynamodb".into()))?,
            endpoint: var("LATCHKEY_DYNAMODB_ENDPOINT"),
        }),
        other => Err(ConfigError(format!("LATCHKEY_STORE must be sqlite or dynamodb, not {other:?}"))),
    }
}

/// `LATCHKEY_KEYRING` and what it needs.
fn keyring_config(var: &impl Fn(&str) -> Option<String>, data_dir: &std::path::Path) -> Result<KeyringConfig, ConfigError> {
    match var("LATCHKEY_KEYRING").as_deref().unwrap_or("local") {
        "local" => Ok(KeyringConfig::Local {
            key_file: var("LATCHKEY_MASTER_KEY_FILE").map(PathBuf::from).unwrap_or_else(|| data_dir.join("master.key")),
            key: var("LATCHKEY_MASTER_KEY").map(SecretString::new),
        }),
        "kms" => Ok(KeyringConfig::Kms {
            key_id: var("LATCHKEY_KMS_KEY_ID").ok_or_else(|| ConfigError("LATCHKEY_KMS_KEY_ID is required when LATCHKEY_KEYRING=kms".into()))?,
            endpoint: var("LATCHKEY_KMS_ENDPOINT"),
        }),
        other => Err(ConfigError(format!("LATCHKEY_KEYRING must be local or kms, not {other:?}"))),
    }
}

/// The domain's settings, each checked against its range.
fn settings(var: &impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let public_url = var("LATCHKEY_PUBLIC_URL").map(|url| parse_public_url(&url)).transpose()?;
    let link_token_ttl_secs = number(var, "LATCHKEY_LINK_TOKEN_TTL_SECS", 4 * 3600)? as i64;
    let update_link_token_ttl_secs = number(var, "LATCHKEY_UPDATE_LINK_TOKEN_TTL_SECS", 1800)? as i64;
    if link_token_ttl_secs == 0 || update_link_token_ttl_secs == 0 {
        return Err(ConfigError("link token lifetimes must be positive".into()));
    }
    let audit_retention_days = number(var, "LATCHKEY_AUDIT_RETENTION_DAYS", 90)?;
    if !(1..=3650).contains(&audit_retention_days) {
        return Err(ConfigError("LATCHKEY_AUDIT_RETENTION_DAYS must be 1 to 3650".into()));
    }
    let defaults = Settings::default();
    let refresh_concurrency_per_connector =
        number(var, "LATCHKEY_REFRESH_CONCURRENCY_PER_CONNECTOR", defaults.refresh_concurrency_per_connector as u64)? as usize;
    let refresh_concurrency = number(var, "LATCHKEY_REFRESH_CONCURRENCY", defaults.refresh_concurrency as u64)? as usize;
    if !(1..=1000).contains(&refresh_concurrency_per_connector) || !(1..=1000).contains(&refresh_concurrency) {
        return Err(ConfigError("LATCHKEY_REFRESH_CONCURRENCY and LATCHKEY_REFRESH_CONCURRENCY_PER_CONNECTOR must be 1 to 1000".into()));
    }
    Ok(Settings {
        public_url,
        allowed_hosts: var("LATCHKEY_ALLOWED_HOSTS").map(|v| parse_hosts("LATCHKEY_ALLOWED_HOSTS", &v)).transpose()?.unwrap_or_default(),
        link_token_ttl_secs,
        update_link_token_ttl_secs,
        webhook_retry_base: Duration::from_millis(number(var, "LATCHKEY_WEBHOOK_RETRY_BASE_MS", 2000)?),
        outbound_allowed_hosts: var("LATCHKEY_OUTBOUND_ALLOW").map(|v| parse_hosts("LATCHKEY_OUTBOUND_ALLOW", &v)).transpose()?.unwrap_or_default(),
        audit_retention_days: audit_retention_days as u32,
        refresh_concurrency_per_connector,
        refresh_concurrency,
        operator_token_sha256: operator_token(var("LATCHKEY_OPERATOR_TOKEN"), var("LATCHKEY_OPERATOR_TOKEN_SHA256"))?,
    })
}

/// The operator token's SHA-256: from `LATCHKEY_OPERATOR_TOKEN` (the token, at least 32
/// characters, hashed here) or `LATCHKEY_OPERATOR_TOKEN_SHA256` (its hash in hex, so the token
/// itself need not sit in a Lambda's configuration); not both.
fn operator_token(token: Option<String>, hash: Option<String>) -> Result<Option<String>, ConfigError> {
    match (token, hash) {
        (Some(_), Some(_)) => Err(ConfigError("set LATCHKEY_OPERATOR_TOKEN or LATCHKEY_OPERATOR_TOKEN_SHA256, not both".into())),
        (Some(token), None) if token.len() < 32 || token.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(ConfigError("LATCHKEY_OPERATOR_TOKEN must be at least 32 characters with no white space".into()))
        }
        (Some(token), None) => Ok(Some(SecretString::new(token).sha256_hex())),
        (None, Some(hash)) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => Ok(Some(hash.to_ascii_lowercase())),
        (None, Some(_)) => Err(ConfigError("LATCHKEY_OPERATOR_TOKEN_SHA256 must be 64 hex digits".into())),
        (None, None) => Ok(None),
    }
}

/// A comma-separated list of `host[:port]` values (`LATCHKEY_ALLOWED_HOSTS`, `LATCHKEY_OUTBOUND_ALLOW`).
fn parse_hosts(variable: &str, raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|host| {
            let ok = host.len() <= 260 && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
            if ok {
                Ok(host.to_ascii_lowercase())
            } else {
                Err(ConfigError(format!("{variable} must list host[:port] values, not {host:?}")))
            }
        })
        .collect()
}

fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let error = || ConfigError(format!("LATCHKEY_PUBLIC_URL must be an http(s) URL without a query, not {raw:?}"));
    let url = url::Url::parse(raw).map_err(|_| error())?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.host_str().is_none() {
        return Err(error());
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_store_and_a_local_key() {
        let config = config(&[]).unwrap();
        assert_eq!(config.store, StoreConfig::Sqlite { path: ".latchkey/latchkey.sqlite3".into() });
        assert!(matches!(config.keyring, KeyringConfig::Local { key: None, .. }));
    }

    #[test]
    fn aws_mode_needs_its_names() {
        assert!(config(&[("LATCHKEY_STORE", "dynamodb")]).unwrap_err().0.contains("LATCHKEY_TABLE"));
        assert!(config(&[("LATCHKEY_KEYRING", "kms")]).unwrap_err().0.contains("LATCHKEY_KMS_KEY_ID"));
        assert!(config(&[("LATCHKEY_STORE", "postgres")]).is_err());
        assert!(config(&[("LATCHKEY_PUBLIC_URL", "ftp://x")]).is_err());
        assert_eq!(config(&[("LATCHKEY_PUBLIC_URL", "https://a.example/")]).unwrap().settings.public_url.as_deref(), Some("https://a.example"));
        assert_eq!(config(&[("LATCHKEY_ALLOWED_HOSTS", "a.example:80, B.example")]).unwrap().settings.allowed_hosts, vec!["a.example:80", "b.example"]);
        assert!(config(&[("LATCHKEY_ALLOWED_HOSTS", "a/b")]).is_err());
        assert_eq!(config(&[("LATCHKEY_REFRESH_CONCURRENCY_PER_CONNECTOR", "2")]).unwrap().settings.refresh_concurrency_per_connector, 2);
        assert!(config(&[("LATCHKEY_REFRESH_CONCURRENCY", "0")]).is_err());
        assert!(config(&[("LATCHKEY_REFRESH_CONCURRENCY_PER_CONNECTOR", "many")]).is_err());
    }

    #[test]
    fn the_operator_token_is_kept_only_as_its_hash() {
        let token = "op-token-with-at-least-32-characters";
        let hashed = config(&[("LATCHKEY_OPERATOR_TOKEN", token)]).unwrap().settings.operator_token_sha256.unwrap();
        assert_eq!(hashed, SecretString::new(token.to_owned()).sha256_hex());
        assert!(!format!("{:?}", config(&[("LATCHKEY_OPERATOR_TOKEN", token)]).unwrap()).contains(token));
        let given = config(&[("LATCHKEY_OPERATOR_TOKEN_SHA256", &hashed.to_uppercase())]).unwrap();
        assert_eq!(given.settings.operator_token_sha256.as_deref(), Some(hashed.as_str()));
        assert!(config(&[("LATCHKEY_OPERATOR_TOKEN", "short")]).is_err());
        assert!(config(&[("LATCHKEY_OPERATOR_TOKEN_SHA256", "abc")]).is_err());
        assert!(config(&[("LATCHKEY_OPERATOR_TOKEN", token), ("LATCHKEY_OPERATOR_TOKEN_SHA256", &hashed)]).is_err());
        assert_eq!(config(&[]).unwrap().settings.operator_token_sha256, None);
    }
}
