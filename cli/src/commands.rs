//! What each subcommand does: parse, call the core crate's admin actions, print.

use std::io::Read;
use std::sync::Arc;

use latchkey::admin::{self, AdminError, ConnectorChanges, NewConnector, NewProject};
use latchkey::model::{AuthMode, ConnectionField, FieldKind, Narrowing, OAuthEndpoints, ProjectId, RevocationScope, TokenAuthMethod};
use latchkey::{Ports, SecretString};
use latchkey_bootstrap::{Config, ConfigError, StartupError, StoreConfig};

use crate::args::{
    AuthModeArg, Backend, Cli, Command, ConnectionsCommand, ConnectorsCommand, KeysCommand, NarrowingArg, OAuthArgs, ProjectsCommand, RefreshTuning,
    RevocationScopeArg, SecretSource, TableCommand, TokenAuthArg, WebhooksCommand,
};
use crate::output::Printer;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
}

impl CliError {
    /// 2 for input the operator can fix, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Startup(StartupError::Config(_)) => 2,
            CliError::Admin(AdminError::Invalid(_)) => 2,
            CliError::Admin(AdminError::NotFound(_) | AdminError::Conflict(_)) => 3,
            _ => 1,
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(error: ConfigError) -> Self {
        CliError::Startup(error.into())
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let print = Printer { json: cli.json };
    // Listing the catalog needs no store: it is data built into the binary.
    if let Command::Providers { category } = &cli.command {
        let providers: Vec<&latchkey::catalog::ProviderEntry> =
            latchkey::catalog::providers().iter().filter(|p| category.as_deref().is_none_or(|c| p.category == c)).collect();
        print.providers(&providers);
        return Ok(());
    }
    let config = config(&cli.backend)?;
    if let Command::Table(TableCommand::Create) = &cli.command {
        return create_table(config, &print).await;
    }
    let ports = latchkey_bootstrap::build(config).await?;
    if !matches!(cli.command, Command::Serve(_)) {
        // An operator's change is filed at once: the process ends right after it.
        let ports = ports.with_audit(latchkey::audit::AuditSink::Direct);
        let planned = crate::audit::planned(&cli.command);
        let result = operate(&ports, cli.command, &print).await;
        if let Some(mut event) = planned {
            event.outcome = match &result {
                Ok(()) => "ok".into(),
                Err(error) => format!("exit_{}", error.exit_code()),
            };
            ports.audit(event).await;
        }
        return result;
    }
    operate(&ports, cli.command, &print).await
}

async fn operate(ports: &Ports, command: Command, print: &Printer) -> Result<(), CliError> {
    let (ports, print) = (ports.clone(), *print);
    match command {
        Command::Serve(args) => crate::commands::serve::run(ports, args.bind, &print).await,
        Command::Projects(command) => projects(&ports, command, &print).await,
        Command::Keys(command) => keys(&ports, command, &print).await,
        Command::Connectors(command) => connectors(&ports, command, &print).await,
        Command::Connections(command) => connections(&ports, command, &print).await,
        Command::Webhooks(command) => webhooks(&ports, command, &print).await,
        Command::Audit(command) => crate::audit::run(&ports, command, &print).await,
        Command::Sweep => {
            let report = latchkey::token::background::sweep(&ports).await;
            print.message(&format!("{report:?}"), serde_json::json!(report));
            Ok(())
        }
        Command::Table(TableCommand::Reindex) => {
            let done = admin::reindex(&ports).await?;
            let text = format!("read {} items; indexed {} connections and {} webhook deliveries", done.read, done.connections, done.deliveries);
            print.message(&text, serde_json::json!(done));
            Ok(())
        }
        Command::Providers { .. } | Command::Table(TableCommand::Create) => unreachable!("handled before the ports are built"),
    }
}

fn config(backend: &Backend) -> Result<Config, ConfigError> {
    let overrides = [
        ("LATCHKEY_STORE", backend.store.map(|s| s.as_env().to_owned())),
        ("LATCHKEY_DATA_DIR", backend.data_dir.clone()),
        ("LATCHKEY_TABLE", backend.table.clone()),
        ("LATCHKEY_DYNAMODB_ENDPOINT", backend.dynamodb_endpoint.clone()),
        ("LATCHKEY_KEYRING", backend.keyring.map(|k| k.as_env().to_owned())),
        ("LATCHKEY_KMS_KEY_ID", backend.kms_key_id.clone()),
        ("LATCHKEY_KMS_ENDPOINT", backend.kms_endpoint.clone()),
    ];
    Config::from_lookup(|name| {
        match overrides.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => value.clone(),
            None => std::env::var(name).ok(),
        }
        .filter(|v| !v.is_empty())
    })
}

fn project_id(raw: &str) -> Result<ProjectId, CliError> {
    ProjectId::parse(raw).map_err(|e| CliError::Admin(e.into()))
}

async fn create_table(config: Config, print: &Printer) -> Result<(), CliError> {
    let StoreConfig::Dynamo { table, endpoint } = &config.store else {
        return Err(CliError::Usage("`table create` needs --store dynamodb and --table".into()));
    };
    let aws = latchkey_bootstrap::aws_sdk_config().await;
    let store = latchkey::store::DynamoStore::new(latchkey_bootstrap::dynamodb_client(&aws, endpoint.as_deref()), table, Arc::new(latchkey::SystemClock));
    store.create_table().await.map_err(|e| CliError::Admin(e.into()))?;
    print.message(&format!("table {table} is ready"), serde_json::json!({"table": table}));
    Ok(())
}

async fn projects(ports: &Ports, command: ProjectsCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        ProjectsCommand::Create { name, environments, allowed_origins } => {
            let project = admin::create_project(ports, NewProject { name, environments, allowed_origins }).await?;
            print.projects(std::slice::from_ref(&project));
        }
        ProjectsCommand::List => print.projects(&admin::list_projects(ports).await?),
        ProjectsCommand::TrustIssuer { project, issuer, audience, jwks_url, environment_claim, algorithms, claims, allow_unbound_claims, user_claim } => {
            let algorithms = if algorithms.is_empty() { vec!["RS256".to_owned(), "ES256".to_owned()] } else { algorithms };
            let bound_claims = claims
                .iter()
                .map(|c| {
                    c.split_once('=')
                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                        .ok_or_else(|| CliError::Usage(format!("--claim must look like name=value, not {c:?}")))
                })
                .collect::<Result<_, _>>()?;
            let trust = latchkey::model::TrustedIssuer {
                issuer,
                audience,
                jwks_url,
                environment_claim,
                algorithms,
                bound_claims,
                allow_unbound: allow_unbound_claims,
                user_claim,
            };
            let project = admin::trust_issuer(ports, &project_id(&project)?, trust).await?;
            print.projects(std::slice::from_ref(&project));
        }
        ProjectsCommand::DistrustIssuer { project, issuer } => {
            let project = admin::distrust_issuer(ports, &project_id(&project)?, &issuer).await?;
            print.projects(std::slice::from_ref(&project));
        }
        ProjectsCommand::SetOrigins { project, allowed_origins } => {
            let project = admin::set_allowed_origins(ports, &project_id(&project)?, &allowed_origins).await?;
            print.projects(std::slice::from_ref(&project));
        }
    }
    Ok(())
}

async fn connections(ports: &Ports, command: ConnectionsCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        ConnectionsCommand::List { project, environment, limit, cursor } => {
            let environment = environment.map(|e| latchkey::model::EnvironmentName::parse(&e)).transpose().map_err(AdminError::from)?;
            let (page, next) = admin::list_connections(ports, &project_id(&project)?, environment.as_ref(), limit, cursor.as_deref()).await?;
            print.connection_page(&page, next.as_deref());
        }
        ConnectionsCommand::AddInstallation { project, environment, connector, installation_id, user } => {
            let connection = admin::record_installation(ports, &connector, &project_id(&project)?, &environment, &installation_id, user.as_deref()).await?;
            print.connections(std::slice::from_ref(&connection));
        }
        ConnectionsCommand::RevokeToken => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::Io(format!("cannot read standard input: {e}")))?;
            let revoked = admin::revoke_access_token(ports, &SecretString::new(text.trim().to_owned())).await?;
            print.message(if revoked { "revoked" } else { "no such token" }, serde_json::json!({"revoked": revoked}));
        }
    }
    Ok(())
}

async fn keys(ports: &Ports, command: KeysCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        KeysCommand::Create { project, environment, user } => {
            let (record, secret) = admin::create_user_secret_key(ports, &project_id(&project)?, &environment, user).await?;
            print.new_secret_key(&record, &secret);
        }
        KeysCommand::List { project } => print.secret_keys(&admin::list_secret_keys(ports, &project_id(&project)?).await?),
        KeysCommand::Revoke { project, key_id } => {
            let record = admin::revoke_secret_key(ports, &project_id(&project)?, &key_id).await?;
            print.message(&format!("revoked {}", record.key_id), serde_json::json!({"revoked": record.key_id}));
        }
    }
    Ok(())
}

async fn connectors(ports: &Ports, command: ConnectorsCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        ConnectorsCommand::Create { uid, name, auth_mode, oauth, client_id, secret, scopes, fields } => {
            let catalog_id = oauth.provider.clone().or_else(|| {
                let implied = uid.split_once('/').map(|(p, _)| p.to_owned())?;
                let custom = auth_mode.is_some() || oauth.authorize_url.is_some() || oauth.token_url.is_some() || oauth.discovery_url.is_some();
                (!custom && latchkey::catalog::provider(&implied).is_some()).then_some(implied)
            });
            let tuning = tuning_changes(&oauth.tuning);
            if let Some(provider) = catalog_id {
                let client_secret = read_secret(&secret)?;
                let mut connector = admin::create_catalog_connector(ports, &uid, &provider, client_id, client_secret, scopes).await?;
                if tuning.refresh_buffer_secs.is_some() || tuning.revocation_scope.is_some() || tuning.narrowing.is_some() {
                    connector = admin::update_connector(ports, &uid, tuning).await?;
                }
                print.connectors(std::slice::from_ref(&connector));
                return Ok(());
            }
            let fields = fields
                .iter()
                .map(|f| {
                    f.split_once('=')
                        .map(|(name, label)| ConnectionField { name: name.to_owned(), label: label.to_owned(), kind: FieldKind::Label, from: None })
                        .ok_or_else(|| CliError::Usage(format!("--field must look like name=Label, not {f:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let client_secret = read_secret(&secret)?;
            let auth_mode = match auth_mode.unwrap_or(AuthModeArg::Oauth2) {
                AuthModeArg::Oauth2 => AuthMode::OAuth2,
                AuthModeArg::ApiKey => AuthMode::ApiKey,
                AuthModeArg::Basic => AuthMode::Basic,
                AuthModeArg::ClientCredentials => AuthMode::ClientCredentials,
                AuthModeArg::GithubApp => AuthMode::GithubApp,
                AuthModeArg::JwtBearer => AuthMode::JwtBearer,
            };
            let mut oauth = match &oauth.discovery_url {
                Some(url) => Some(admin::discover(ports, url).await?),
                None => oauth_endpoints(oauth)?,
            };
            match oauth.as_mut() {
                Some(endpoints) => {
                    endpoints.refresh_buffer_secs = tuning.refresh_buffer_secs.unwrap_or(endpoints.refresh_buffer_secs);
                    endpoints.revocation_scope = tuning.revocation_scope.unwrap_or(endpoints.revocation_scope);
                }
                None if tuning.refresh_buffer_secs.is_some() || tuning.revocation_scope.is_some() => {
                    return Err(CliError::Usage("--refresh-buffer-secs and --revocation-scope apply to connectors with OAuth endpoints".into()));
                }
                None => {}
            }
            let new = NewConnector { uid, display_name: name, auth_mode, oauth, client_id, client_secret, default_scopes: scopes, fields };
            let quirks = admin::Quirks { narrowing: tuning.narrowing.unwrap_or_default(), ..admin::Quirks::default() };
            print.connectors(std::slice::from_ref(&admin::create_connector_with(ports, new, quirks, None).await?));
        }
        ConnectorsCommand::List => print.connectors(&admin::list_connectors(ports).await?),
        ConnectorsCommand::Update { uid, name, client_id, secret, scopes, clear_scopes, tuning } => {
            let default_scopes = if clear_scopes { Some(Vec::new()) } else { Some(scopes).filter(|s| !s.is_empty()) };
            let changes = ConnectorChanges { display_name: name, client_id, client_secret: read_secret(&secret)?, default_scopes, ..tuning_changes(&tuning) };
            print.connectors(std::slice::from_ref(&admin::update_connector(ports, &uid, changes).await?));
        }
        ConnectorsCommand::Delete { uid } => {
            let deleted = admin::delete_connector(ports, &uid).await?;
            print.message(&format!("deleted {}", deleted.uid), serde_json::json!({"deleted": deleted.uid}));
        }
        ConnectorsCommand::Link { uid, project, environments } => {
            let connector = admin::link_connector(ports, &uid, &project_id(&project)?, &environments).await?;
            print.connectors(std::slice::from_ref(&connector));
        }
        ConnectorsCommand::Unlink { uid, project } => {
            let connector = admin::unlink_connector(ports, &uid, &project_id(&project)?).await?;
            print.connectors(std::slice::from_ref(&connector));
        }
    }
    Ok(())
}

/// The refresh and revocation flags as connector changes.
fn tuning_changes(tuning: &RefreshTuning) -> ConnectorChanges {
    ConnectorChanges {
        refresh_buffer_secs: tuning.refresh_buffer_secs,
        revocation_scope: tuning.revocation_scope.map(|scope| match scope {
            RevocationScopeArg::Token => RevocationScope::Token,
            RevocationScopeArg::Grant => RevocationScope::Grant,
        }),
        narrowing: tuning.narrowing.as_ref().map(|ways| ways.iter().filter_map(|way| narrowing(*way)).collect()),
        ..ConnectorChanges::default()
    }
}

/// A `--narrowing` value as the model's way; `none` names none.
fn narrowing(way: NarrowingArg) -> Option<Narrowing> {
    Some(match way {
        NarrowingArg::None => return None,
        NarrowingArg::RefreshScope => Narrowing::RefreshScope,
        NarrowingArg::RefreshResource => Narrowing::RefreshResource,
        NarrowingArg::RefreshAuthorizationDetails => Narrowing::RefreshAuthorizationDetails,
        NarrowingArg::TokenExchange => Narrowing::TokenExchange,
        NarrowingArg::GithubInstallation => Narrowing::GithubInstallation,
        NarrowingArg::ClientCredentialsScope => Narrowing::ClientCredentialsScope,
    })
}

/// The OAuth endpoints the flags describe; `None` when no endpoint flag is given.
fn oauth_endpoints(args: OAuthArgs) -> Result<Option<OAuthEndpoints>, CliError> {
    let (authorize_url, token_url) = match (args.authorize_url, args.token_url) {
        (Some(a), Some(t)) => (a, t),
        (None, None) => return Ok(None),
        _ => return Err(CliError::Usage("give both --authorize-url and --token-url".into())),
    };
    let mut authorize_params = std::collections::BTreeMap::new();
    for pair in args.authorize_params {
        let (name, value) = pair.split_once('=').ok_or_else(|| CliError::Usage(format!("--authorize-param must look like name=value, not {pair:?}")))?;
        authorize_params.insert(name.to_owned(), value.to_owned());
    }
    Ok(Some(OAuthEndpoints {
        authorize_url,
        token_url,
        revoke_url: args.revoke_url,
        issuer: args.issuer,
        requires_iss: args.requires_iss,
        scope_separator: args.scope_separator,
        pkce: !args.no_pkce,
        token_auth: match args.token_auth {
            TokenAuthArg::Basic => TokenAuthMethod::ClientSecretBasic,
            TokenAuthArg::Post => TokenAuthMethod::ClientSecretPost,
        },
        authorize_params,
        default_token_lifetime_secs: args.default_token_lifetime,
        refresh_buffer_secs: latchkey::model::DEFAULT_REFRESH_BUFFER_SECS,
        revocation_scope: RevocationScope::Token,
    }))
}

async fn webhooks(ports: &Ports, command: WebhooksCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        WebhooksCommand::Add { project, url, events } => {
            let (webhook, secret) = admin::add_webhook(ports, &project_id(&project)?, &url, &events).await?;
            let value = serde_json::json!({"id": webhook.id, "url": webhook.url, "signing_secret": secret.expose()});
            print.message(&format!("{} -> {}\nsigning secret (shown once): {}", webhook.id, webhook.url, secret.expose()), value);
        }
        WebhooksCommand::List { project } => {
            let project = admin::project(ports, &project_id(&project)?).await?.record;
            let hooks: Vec<serde_json::Value> = project.webhooks.iter().map(|w| serde_json::json!({"id": w.id, "url": w.url, "events": w.events})).collect();
            let text = hooks.iter().map(|h| format!("{}  {}", h["id"].as_str().unwrap_or_default(), h["url"].as_str().unwrap_or_default())).collect::<Vec<_>>();
            print.message(&text.join("\n"), serde_json::Value::Array(hooks));
        }
        WebhooksCommand::Remove { project, id } => {
            admin::remove_webhook(ports, &project_id(&project)?, &id).await?;
            print.message(&format!("removed {id}"), serde_json::json!({"removed": id}));
        }
        WebhooksCommand::Deliveries { project } => {
            let deliveries = admin::list_deliveries(ports, &project_id(&project)?).await?;
            let rows: Vec<serde_json::Value> = deliveries
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "event_id": d.event_id, "event": d.event, "webhook_id": d.webhook_id, "status": d.status,
                        "attempts": d.attempts, "last_status": d.last_status, "last_error": d.last_error,
                        "created_at": d.created_at.to_rfc3339(),
                    })
                })
                .collect();
            let text = rows.iter().map(|r| format!("{}  {}  {}  attempts={}", r["event_id"], r["event"], r["status"], r["attempts"])).collect::<Vec<_>>();
            print.message(&text.join("\n"), serde_json::Value::Array(rows));
        }
    }
    Ok(())
}

fn read_secret(source: &SecretSource) -> Result<Option<SecretString>, CliError> {
    if source.client_secret_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::Io(format!("cannot read standard input: {e}")))?;
        let secret = SecretString::new(text.trim_end_matches(['\r', '\n']).to_owned());
        return Ok(Some(secret));
    }
    match &source.client_secret_env {
        Some(name) => std::env::var(name).map(|v| Some(SecretString::new(v))).map_err(|_| CliError::Usage(format!("environment variable {name} is not set"))),
        None => Ok(None),
    }
}

pub mod serve {
    //! `latchkey serve`: the local server, with a demo project on first start.

    use std::net::SocketAddr;

    use latchkey::admin::{self, NewConnector, NewProject};
    use latchkey::model::AuthMode;
    use latchkey::Ports;

    use super::CliError;
    use crate::output::Printer;

    /// Binds, prepares the demo project if there are no projects, prints what to try, and serves
    /// until Ctrl-C or SIGTERM, letting requests in flight finish.
    pub async fn run(ports: Ports, bind: SocketAddr, print: &Printer) -> Result<(), CliError> {
        let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| CliError::Usage(format!("cannot listen on {bind}: {e}")))?;
        let address = listener.local_addr().map_err(|e| CliError::Io(e.to_string()))?;
        let mut settings = (*ports.settings).clone();
        // Links may be built from the address this server listens on (and localhost for it),
        // besides any the operator listed; never from whatever Host a request claims.
        for host in [address.to_string(), format!("localhost:{}", address.port())] {
            if !settings.allowed_hosts.contains(&host) {
                settings.allowed_hosts.push(host);
            }
        }
        let ports = ports.with_settings(settings);
        let base = ports.settings.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
        let mut banner = serde_json::json!({"listening": base, "openapi": format!("{base}/v1/openapi.json")});
        if admin::list_projects(&ports).await?.is_empty() {
            first_start(&ports, address, &mut banner).await?;
        }
        print.banner(&banner);
        let ports = latchkey::events::with_worker(ports);
        // Audit events are filed a moment after their log line, off the request path.
        let ports = ports.clone().with_audit(latchkey::audit::queue(ports.store.clone(), ports.settings.audit_retention_days));
        // The local stand-in for the scheduled Lambda: a sweep every minute.
        let sweeper = ports.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                latchkey::token::background::sweep(&sweeper).await;
            }
        });
        let router = latchkey_http::router(ports, None);
        latchkey_http::server::serve(listener, router, latchkey_http::server::shutdown_signal()).await.map_err(|e| CliError::Io(e.to_string()))
    }

    /// The demo project: allowed origins for this server and the example app, a secret key shown
    /// once, and a connector that needs no provider account.
    async fn first_start(ports: &Ports, address: SocketAddr, banner: &mut serde_json::Value) -> Result<(), CliError> {
        // The server itself and the example app (examples/link-app, port 3000).
        let origins = vec![
            format!("http://{address}"),
            format!("http://localhost:{}", address.port()),
            "http://127.0.0.1:3000".to_owned(),
            "http://localhost:3000".to_owned(),
        ];
        let new = NewProject { name: "Demo".into(), environments: Vec::new(), allowed_origins: origins };
        let project = admin::create_project(ports, new).await?;
        let (_, secret) = admin::create_secret_key(ports, &project.id, "development").await?;
        let demo = NewConnector {
            uid: "demo/api-key".into(),
            display_name: Some("Demo service (API key)".into()),
            auth_mode: AuthMode::ApiKey,
            oauth: None,
            client_id: None,
            client_secret: None,
            default_scopes: Vec::new(),
            fields: Vec::new(),
        };
        admin::create_connector(ports, demo).await?;
        admin::link_connector(ports, "demo/api-key", &project.id, &["development".to_owned()]).await?;
        // Shown once, on the operator's own terminal: the whole point of a first start.
        banner["demo_project"] = serde_json::json!(project.id);
        banner["demo_secret_key"] = serde_json::json!(secret.expose());
        Ok(())
    }
}
