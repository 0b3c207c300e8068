//! The connectors' command line: creating one from the catalog, a discovery document or explicit
//! endpoints (with typed fields and the quirks a catalog entry has), and changing, linking and
//! deleting them.

use clap::{Args, Subcommand};

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
    Create(CreateConnector),
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

/// What a custom connector says beyond its endpoints, as a catalog entry would: the token-response
/// mapping, metadata, the proxy's API block and the Connect page's labels (narrowing is a
/// tuning flag, for catalog connectors too).
#[derive(Debug, Args, Default)]
pub struct QuirkArgs {
    /// Where a field's value comes from when the end user does not type it, as NAME=PATH: a dot
    /// path in the token response (instance_url) or query:<param> (repeatable).
    #[arg(long = "field-from", value_name = "NAME=PATH")]
    pub field_from: Vec<String>,
    /// The base URL the proxy sends the connector's API calls to (templated with fields).
    #[arg(long)]
    pub api_base_url: Option<String>,
    /// How the proxy presents the credential: bearer (default), header:NAME[:PREFIX], query:NAME,
    /// basic, basic:key-as-username[:PASSWORD] or basic:key-as-password[:USERNAME].
    #[arg(long, requires = "api_base_url")]
    pub api_auth: Option<String>,
    /// A fixed header every API call needs, as Name=Value (repeatable; never a secret).
    #[arg(long = "api-header", value_name = "NAME=VALUE", requires = "api_base_url")]
    pub api_headers: Vec<String>,
    /// Where a token sits in the token response when not at its RFC 6749 name, as
    /// NAME=PATH (access_token=authed_user.access_token; PATH - for none) (repeatable).
    #[arg(long = "token-path", value_name = "NAME=PATH")]
    pub token_paths: Vec<String>,
    /// A non-secret value to keep from the token response, as NAME=PATH or NAME=query:<param>
    /// (repeatable).
    #[arg(long = "metadata", value_name = "NAME=PATH")]
    pub metadata: Vec<String>,
    /// What the Connect page's form calls a credential's part, as api_key=LABEL, username=LABEL or
    /// password=LABEL (repeatable).
    #[arg(long = "credential-label", value_name = "PART=LABEL")]
    pub credential_labels: Vec<String>,
}

impl QuirkArgs {
    /// Whether any flag was given (a catalog connector takes none: they come from the catalog).
    pub fn any(&self) -> bool {
        !self.field_from.is_empty()
            || self.api_base_url.is_some()
            || !self.token_paths.is_empty()
            || !self.metadata.is_empty()
            || !self.credential_labels.is_empty()
    }
}

/// `connectors create`: a catalog connector, or a custom one from its endpoints and quirks.
#[derive(Debug, Args)]
pub struct CreateConnector {
    #[arg(long)]
    pub uid: String,
    /// The name people see on the Connect page.
    #[arg(long)]
    pub name: Option<String>,
    /// How connections are authorized (oauth2 unless the catalog says otherwise).
    #[arg(long, value_enum)]
    pub auth_mode: Option<AuthModeArg>,
    #[command(flatten)]
    pub oauth: OAuthArgs,
    #[arg(long)]
    pub client_id: Option<String>,
    #[command(flatten)]
    pub secret: SecretSource,
    /// A default scope (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// A value a connection needs (repeatable); URLs name it {name}. NAME=Label is a `label`
    /// (one DNS label); NAME:KIND=Label gives its kind: choice:a|b, host:.example.com|.example.net,
    /// url:.example.com, segment or segment:numeric (shared/catalog/SCHEMA.md, "Field kinds").
    #[arg(long = "field")]
    pub fields: Vec<String>,
    #[command(flatten)]
    pub quirks: QuirkArgs,
}
