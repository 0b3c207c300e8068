//! The command line, declared with clap: every subcommand has `--help`.

mod connectors;
mod sandbox;

use clap::{Args, Parser, Subcommand};

pub use connectors::*;
pub use sandbox::*;

/// Latchkey's operator CLI and local server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub backend: Backend,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the CLI reads and writes; each flag falls back to the variable the Lambdas read.
#[derive(Debug, Args)]
pub struct Backend {
    /// Item store: sqlite (embedded) or dynamodb.
    #[arg(long, global = true, env = "LATCHKEY_STORE", value_enum)]
    pub store: Option<StoreArg>,
    /// Folder for the embedded store and the local master key.
    #[arg(long, global = true, env = "LATCHKEY_DATA_DIR")]
    pub data_dir: Option<String>,
    /// DynamoDB table name.
    #[arg(long, global = true, env = "LATCHKEY_TABLE")]
    pub table: Option<String>,
    /// DynamoDB endpoint override (a local DynamoDB-API server).
    #[arg(long, global = true, env = "LATCHKEY_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,
    /// Keyring: local (master key file) or kms.
    #[arg(long, global = true, env = "LATCHKEY_KEYRING", value_enum)]
    pub keyring: Option<KeyringArg>,
    /// KMS key id, ARN or alias.
    #[arg(long, global = true, env = "LATCHKEY_KMS_KEY_ID")]
    pub kms_key_id: Option<String>,
    /// KMS endpoint override (a local KMS-API server).
    #[arg(long, global = true, env = "LATCHKEY_KMS_ENDPOINT")]
    pub kms_endpoint: Option<String>,
}

/// Where items are kept (`--store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreArg {
    /// The embedded SQLite file under the data folder.
    Sqlite,
    /// A DynamoDB table.
    Dynamodb,
}

impl StoreArg {
    /// The value `LATCHKEY_STORE` takes.
    pub fn as_env(self) -> &'static str {
        match self {
            StoreArg::Sqlite => "sqlite",
            StoreArg::Dynamodb => "dynamodb",
        }
    }
}

/// Who wraps data keys (`--keyring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyringArg {
    /// A local master key file.
    Local,
    /// AWS KMS.
    Kms,
}

impl KeyringArg {
    /// The value `LATCHKEY_KEYRING` takes.
    pub fn as_env(self) -> &'static str {
        match self {
            KeyringArg::Local => "local",
            KeyringArg::Kms => "kms",
        }
    }
}

// A command line is parsed once per process: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every handler on one local port, over the configured store and keyring.
    Serve(ServeArgs),
    /// Projects: the tenants of this deployment.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Secret keys: how a project's backend authenticates.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Connectors: providers configured with a client, and the projects that may use them.
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
    /// Connections: authorized accounts.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Run the background sweep once: refresh what expires soon, keep idle refresh tokens alive,
    /// retry due webhook deliveries (the scheduled Lambda does this on AWS).
    Sweep,
    /// The provider catalog.
    Providers {
        /// Only this category (crm, accounting, ...).
        #[arg(long)]
        category: Option<String>,
    },
    /// Webhooks: where a project's connection events are sent.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// The table: create it (for local DynamoDB-API servers; on AWS the stack creates it), and
    /// index what an earlier version stored.
    #[command(subcommand)]
    Table(TableCommand),
    /// The sandbox: the OAuth 2.0 provider built into Latchkey, its clients and their switches.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// The audit trail: every credential use and change, newest first.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// A page of a project's trail (newest first); `--cursor` goes on from the last page.
    List {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        filter: AuditFilterArgs,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// The cursor the previous page printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The whole trail (within the filter) as JSON Lines on standard output.
    Export {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
}

/// Which events.
#[derive(Debug, Args)]
pub struct AuditFilterArgs {
    /// Only this action (token_issued, proxy_call, connection_created, secret_key_revoked, ...).
    #[arg(long)]
    pub action: Option<String>,
    /// Only events about this connection.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only events at or after this (Unix seconds).
    #[arg(long)]
    pub since: Option<i64>,
    /// Only events before this (Unix seconds).
    #[arg(long)]
    pub until: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, env = "LATCHKEY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Create a project.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// An environment (repeatable); production, preview and development when none is given.
        #[arg(long = "environment")]
        environments: Vec<String>,
        /// An origin that redirect and return URLs may point to (repeatable), e.g. https://app.example.com.
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
        #[command(flatten)]
        branding: BrandingArgs,
    },
    /// Set the app name and logo the Connect page shows for a project (an empty value removes one).
    SetBranding {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        branding: BrandingArgs,
    },
    /// List projects.
    List,
    /// Trust an OIDC issuer's tokens to call the token broker for a project.
    TrustIssuer {
        #[arg(long)]
        project: String,
        /// The exact `iss` of its tokens.
        #[arg(long)]
        issuer: String,
        /// The `aud` its tokens carry for Latchkey.
        #[arg(long)]
        audience: String,
        /// Where it publishes its signing keys.
        #[arg(long)]
        jwks_url: String,
        /// The claim naming the environment.
        #[arg(long, default_value = "environment")]
        environment_claim: String,
        /// An accepted algorithm (repeatable); RS256 and ES256 when none is given.
        #[arg(long = "algorithm")]
        algorithms: Vec<String>,
        /// A claim every token must carry, as name=value; `*` in the value stands for any run of
        /// characters (repeatable), e.g. --claim repository_owner_id=1234 --claim sub=repo:acme/*.
        #[arg(long = "claim")]
        claims: Vec<String>,
        /// Trust every token the issuer signs for the audience, with no bound claim (only for an
        /// issuer that signs for you alone).
        #[arg(long)]
        allow_unbound_claims: bool,
        /// Let a token ask only for the end user this claim names (sub, email, ...).
        #[arg(long)]
        user_claim: Option<String>,
    },
    /// Stop trusting an OIDC issuer (in effect within 5 seconds on every instance).
    DistrustIssuer {
        #[arg(long)]
        project: String,
        /// The issuer's exact `iss`.
        #[arg(long)]
        issuer: String,
    },
    /// Replace a project's allowed origins (in effect at once here, within 5 seconds on every instance).
    SetOrigins {
        #[arg(long)]
        project: String,
        /// An allowed origin (repeatable), e.g. https://app.example.com.
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
    },
}

/// How the Connect page shows the app.
#[derive(Debug, Args)]
pub struct BrandingArgs {
    /// The app's name as its end users know it (the project's name when absent).
    #[arg(long)]
    pub display_name: Option<String>,
    /// The app's logo: an https URL (http only on loopback).
    #[arg(long)]
    pub logo_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a secret key for one project environment; the key is printed once.
    Create {
        #[arg(long)]
        project: String,
        #[arg(long)]
        environment: String,
        /// Bind the key to one end user: it may then ask for that user's tokens (and the app's).
        #[arg(long)]
        user: Option<String>,
    },
    /// List a project's secret keys (ids and hints, never the keys).
    List {
        #[arg(long)]
        project: String,
    },
    /// Revoke a secret key: it stops working at once here and within 5 seconds on every instance.
    Revoke {
        #[arg(long)]
        project: String,
        #[arg(long)]
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// List a project's connections, a page at a time (pass the printed cursor for the next).
    List {
        #[arg(long)]
        project: String,
        /// Only this environment's.
        #[arg(long)]
        environment: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Where the previous page ended (its `next_cursor`).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Record a GitHub App installation for a project environment (and one end user, or the app):
    /// only recorded installations can be asked for tokens.
    AddInstallation {
        #[arg(long)]
        project: String,
        #[arg(long)]
        environment: String,
        /// The GitHub App connector.
        #[arg(long)]
        connector: String,
        /// The numeric installation id.
        #[arg(long)]
        installation_id: String,
        /// The end user it belongs to; the app itself when absent.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a connection access token (lk_conn_...), read from standard input; in effect at
    /// once here and within 5 seconds on every instance.
    RevokeToken,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Send a project's events to a URL; prints its signing secret once.
    Add {
        #[arg(long)]
        project: String,
        #[arg(long)]
        url: String,
        /// An event to send (repeatable): connection.created, connection.updated, connection.callable,
        /// connection.invalid, connection.deleted, token_refresh.failed, token_refresh.recovered. All when none.
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// List a project's webhooks.
    List {
        #[arg(long)]
        project: String,
    },
    /// Stop sending to a webhook.
    Remove {
        #[arg(long)]
        project: String,
        #[arg(long)]
        id: String,
    },
    /// The delivery log: every attempt's outcome, newest first.
    Deliveries {
        #[arg(long)]
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Create the table with Latchkey's layout, if it does not exist; add the due index to a table
    /// made before it.
    Create,
    /// Put what an earlier version stored into the due index (connections, pending webhook
    /// deliveries), so the sweep finds it; safe to run again. Either store.
    Reindex,
}
