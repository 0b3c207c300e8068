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

/// How a connector authorizes (`--auth-mode`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AuthModeArg {
    Oauth2,
    ApiKey,
    Basic,
    ClientCredentials,
    GithubApp,
    JwtBearer,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TokenAuthArg {
    Basic,
    Post,
}

/// OAuth 2.0 endpoints and quirks of a connector.
#[derive(Debug, Args)]
pub struct OAuthArgs {
    /// A catalog provider (`latchkey providers`): its endpoints, scopes, fields and quirks.
    /// Implied when the uid's provider part is in the catalog and no endpoint is given.
    #[arg(long)]
    pub provider: Option<String>,
    /// An OpenID Connect / OAuth discovery document to read the endpoints from.
    #[arg(long, conflicts_with_all = ["provider", "authorize_url"])]
    pub discovery_url: Option<String>,
    /// Authorization endpoint.
    #[arg(long)]
    pub authorize_url: Option<String>,
    /// Token endpoint.
    #[arg(long)]
    pub token_url: Option<String>,
    /// Revocation endpoint (RFC 7009).
    #[arg(long)]
    pub revoke_url: Option<String>,
    /// Issuer identifier; an `iss` in the authorization response must equal it (RFC 9207).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Refuse authorization responses without `iss` (for providers that always send it).
    #[arg(long)]
    pub requires_iss: bool,
    /// Do not use PKCE (only for providers that reject it).
    #[arg(long)]
    pub no_pkce: bool,
    /// Client authentication at the token endpoint.
    #[arg(long, value_enum, default_value = "basic")]
    pub token_auth: TokenAuthArg,
    /// Scope separator in the authorize URL.
    #[arg(long, default_value = " ")]
    pub scope_separator: String,
    /// Extra authorize-URL parameter as name=value (repeatable), e.g. access_type=offline.
    #[arg(long = "authorize-param")]
    pub authorize_params: Vec<String>,
    /// Seconds a token lives when the provider's response has no expires_in.
    #[arg(long, default_value_t = 3600)]
    pub default_token_lifetime: i64,
    #[command(flatten)]
    pub tuning: RefreshTuning,
}

/// How a connector's tokens are refreshed, revoked and narrowed; for catalog, discovered and
/// custom connectors alike.
#[derive(Debug, Args, Default)]
pub struct RefreshTuning {
    /// Refresh tokens this many seconds before they expire (default 300; never more than a third
    /// of a token's lifetime, so short-lived tokens are not refreshed at once).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    pub refresh_buffer_secs: Option<i64>,
    /// What revoking one token ends at the provider: `token` (the usual RFC 7009 reading; a grant
    /// replaced by a new link is then revoked) or `grant` (the account's whole authorization, as
    /// at Google; replaced grants are then left alone).
    #[arg(long, value_enum)]
    pub revocation_scope: Option<RevocationScopeArg>,
    /// How the provider can mint tokens with fewer rights than the grant, comma-separated
    /// (replacing the catalog's or the current list; `none` for none): refresh_scope,
    /// refresh_resource, refresh_authorization_details, token_exchange, github_installation,
    /// client_credentials_scope. Name only ways the provider's documentation promises.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub narrowing: Option<Vec<NarrowingArg>>,
}

/// `--narrowing`: the catalog's names (shared/catalog/SCHEMA.md, "Narrowing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum NarrowingArg {
    None,
    RefreshScope,
    RefreshResource,
    RefreshAuthorizationDetails,
    TokenExchange,
    GithubInstallation,
    ClientCredentialsScope,
}

/// `--revocation-scope`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RevocationScopeArg {
    Token,
    Grant,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Create a connector such as slack/acme-slack.
    Create {
        #[arg(long)]
        uid: String,
        /// The name people see on the Connect page.
        #[arg(long)]
        name: Option<String>,
        /// How connections are authorized (oauth2 unless the catalog says otherwise).
        #[arg(long, value_enum)]
        auth_mode: Option<AuthModeArg>,
        #[command(flatten)]
        oauth: OAuthArgs,
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        secret: SecretSource,
        /// A default scope (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A value the end user gives before authorizing, as name=Label (repeatable); URLs name it {name}.
        #[arg(long = "field")]
        fields: Vec<String>,
    },
    /// List connectors.
    List,
    /// Change a connector's name, client id, secret or default scopes (a new secret is used at once
    /// here and within 5 seconds on every instance; the old one is never sent again).
    Update {
        #[arg(long)]
        uid: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
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
        #[command(flatten)]
        tuning: RefreshTuning,
    },
    /// Delete a connector (in effect at once here, within 5 seconds on every instance).
    Delete {
        #[arg(long)]
        uid: String,
    },
    /// Let a project use the connector in exactly these environments (dropping one takes effect
    /// within 5 seconds on every instance).
    Link {
        #[arg(long)]
        uid: String,
        #[arg(long)]
        project: String,
        /// An environment (repeatable, at least one).
        #[arg(long = "environment", required = true)]
        environments: Vec<String>,
    },
    /// Remove a project's link to the connector (in effect at once here, within 5 seconds on every
    /// instance).
    Unlink {
        #[arg(long)]
        uid: String,
        #[arg(long)]
        project: String,
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
