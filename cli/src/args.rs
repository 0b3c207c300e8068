//! The command line, declared with clap: every subcommand has `--help`.

use clap::{Args, Parser, Subcommand};

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
    #[arg(long, global = true, env = "LATCHKEY_STORE")]
    pub store: Option<String>,
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
    #[arg(long, global = true, env = "LATCHKEY_KEYRING")]
    pub keyring: Option<String>,
    /// KMS key id, ARN or alias.
    #[arg(long, global = true, env = "LATCHKEY_KMS_KEY_ID")]
    pub kms_key_id: Option<String>,
    /// KMS endpoint override (a local KMS-API server).
    #[arg(long, global = true, env = "LATCHKEY_KMS_ENDPOINT")]
    pub kms_endpoint: Option<String>,
}

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
    /// The DynamoDB table (for local DynamoDB-API servers; on AWS the stack creates it).
    #[command(subcommand)]
    Table(TableCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, env = "LATCHKEY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
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
    },
    /// List projects.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a secret key for one project environment; the key is printed once.
    Create {
        #[arg(long)]
        project: String,
        #[arg(long)]
        environment: String,
    },
    /// List a project's secret keys (ids and hints, never the keys).
    List {
        #[arg(long)]
        project: String,
    },
    /// Revoke a secret key: it stops working at once.
    Revoke {
        #[arg(long)]
        project: String,
        #[arg(long)]
        key_id: String,
    },
}

/// Where a client secret comes from: never a plain argument, which shell history and `ps` keep.
#[derive(Debug, Args)]
pub struct SecretSource {
    /// Read the client secret from standard input.
    #[arg(long, conflicts_with = "client_secret_env")]
    pub client_secret_stdin: bool,
    /// Read the client secret from this environment variable.
    #[arg(long, value_name = "VARIABLE")]
    pub client_secret_env: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Create a connector such as slack/acme-slack.
    Create {
        #[arg(long)]
        uid: String,
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        secret: SecretSource,
        /// A default scope (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List connectors.
    List,
    /// Change a connector's client id, secret or default scopes.
    Update {
        #[arg(long)]
        uid: String,
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        secret: SecretSource,
        /// Replace the default scopes (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Remove every default scope.
        #[arg(long, conflicts_with = "scopes")]
        clear_scopes: bool,
    },
    /// Delete a connector.
    Delete {
        #[arg(long)]
        uid: String,
    },
    /// Let a project use the connector in some of its environments.
    Link {
        #[arg(long)]
        uid: String,
        #[arg(long)]
        project: String,
        /// An environment (repeatable, at least one).
        #[arg(long = "environment", required = true)]
        environments: Vec<String>,
    },
    /// Remove a project's link to the connector.
    Unlink {
        #[arg(long)]
        uid: String,
        #[arg(long)]
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// List a project's connections.
    List {
        #[arg(long)]
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Create the table with Latchkey's layout, if it does not exist.
    Create,
}
