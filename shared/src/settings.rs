//! What the flows are told by the operator: lifetimes, the public URL, which hosts the server
//! answers for. Read once when a process starts (by the bootstrap, from the environment) and
//! shared, unchanging, by every request.

use std::time::Duration;

/// The operator's settings the flows read.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The public base URL of the API (`https://auth.example.com`); without it, links are built from
    /// the API Gateway domain a request arrived at, or from a `Host` in `allowed_hosts`.
    pub public_url: Option<String>,
    /// `Host` values (`127.0.0.1:8080`) links may be built from when there is no public URL.
    pub allowed_hosts: Vec<String>,
    /// How long a link token lives (4 hours by default).
    pub link_token_ttl_secs: i64,
    /// How long an update-mode link token lives (30 minutes by default).
    pub update_link_token_ttl_secs: i64,
    /// The wait before a webhook's second attempt; doubles for each one after.
    pub webhook_retry_base: Duration,
    /// Hosts outbound requests may reach whatever they resolve to (`host` or `host:port`), over
    /// http too: an internal identity provider, or the loopback fixtures of the tests.
    pub outbound_allowed_hosts: Vec<String>,
    /// How long audit events are kept (90 days by default).
    pub audit_retention_days: u32,
    /// How many background refreshes of one connector may run at once (the lanes of its message
    /// groups on AWS, a semaphore locally), so one slow or rate-limiting provider holds up only
    /// its own connections.
    pub refresh_concurrency_per_connector: usize,
    /// How many background refreshes may run at once in one process (the local pool).
    pub refresh_concurrency: usize,
    /// SHA-256 (hex) of the operator token the operator routes accept; none: those routes refuse
    /// every caller. Only the hash is kept, so not even a debug print of the settings shows it.
    pub operator_token_sha256: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: None,
            allowed_hosts: Vec::new(),
            link_token_ttl_secs: 4 * 3600,
            update_link_token_ttl_secs: 1800,
            webhook_retry_base: Duration::from_secs(2),
            outbound_allowed_hosts: Vec::new(),
            audit_retention_days: 90,
            refresh_concurrency_per_connector: 4,
            refresh_concurrency: 32,
            operator_token_sha256: None,
        }
    }
}
