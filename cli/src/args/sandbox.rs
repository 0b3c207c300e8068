//! The sandbox's command line: a sandbox connector for this deployment, its clients, and the
//! switches that make it deny, fail refreshes or answer 503.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Register a sandbox client for this deployment and create its connector (sandbox/NAME),
    /// linked to a project's environments if given.
    Connector {
        /// `sandbox/<name>`.
        #[arg(long)]
        uid: String,
        /// This deployment's base URL: LATCHKEY_PUBLIC_URL, or the local server's address.
        #[arg(long)]
        base_url: String,
        /// Another base URL the browser may use for it (its callback is registered too; repeatable).
        #[arg(long = "also-base-url")]
        other_bases: Vec<String>,
        /// How long the sandbox's access tokens live, from 30 seconds to a day.
        #[arg(long, default_value_t = 3600)]
        token_lifetime_secs: i64,
        /// A project to link the connector to.
        #[arg(long, requires = "environments")]
        project: Option<String>,
        /// Its environments (repeatable).
        #[arg(long = "environment")]
        environments: Vec<String>,
    },
    /// List the sandbox's clients, their lifetimes and switches.
    Clients,
    /// Flip a sandbox client's switches or change its lifetime: in effect on the next request
    /// everywhere.
    Set {
        #[command(flatten)]
        client: SandboxClientArg,
        /// Refuse every authorization with access_denied.
        #[arg(long, value_enum)]
        deny: Option<Switch>,
        /// Refuse every refresh with invalid_grant.
        #[arg(long, value_enum)]
        fail_refresh: Option<Switch>,
        /// Answer 503 at the token, revocation and API endpoints.
        #[arg(long, value_enum)]
        unavailable: Option<Switch>,
        /// A new access-token lifetime, from 30 seconds to a day.
        #[arg(long)]
        token_lifetime_secs: Option<i64>,
    },
}

/// Which sandbox client: by its id, or by the connector that uses it.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SandboxClientArg {
    /// The client id (`sbx_client_...`).
    #[arg(long)]
    pub client_id: Option<String>,
    /// The sandbox connector whose client it is (sandbox/demo).
    #[arg(long)]
    pub connector: Option<String>,
}

/// A switch's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl Switch {
    /// On as true.
    pub fn on(self) -> bool {
        self == Switch::On
    }
}
