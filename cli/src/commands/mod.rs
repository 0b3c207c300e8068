//! What each subcommand does: parse, call the core crate's admin actions, print. Connectors, the
//! sandbox and the local server have modules of their own.

mod connectors;
mod sandbox;
pub mod serve;

use std::io::Read;
use std::sync::Arc;

use latchkey::admin::{self, AdminError, Branding, NewProject};
use latchkey::model::ProjectId;
use latchkey::{Ports, SecretString};
use latchkey_bootstrap::{Config, ConfigError, StartupError, StoreConfig};

use crate::args::{Backend, BrandingArgs, Cli, Command, ConnectionsCommand, KeysCommand, ProjectsCommand, SecretSource, TableCommand, WebhooksCommand};
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
        Command::Serve(args) => serve::run(ports, args.bind, &print).await,
        Command::Projects(command) => projects(&ports, command, &print).await,
        Command::Keys(command) => keys(&ports, command, &print).await,
        Command::Connectors(command) => connectors::connectors(&ports, command, &print).await,
        Command::Sandbox(command) => sandbox::sandbox(&ports, command, &print).await,
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

fn branding_of(args: BrandingArgs) -> Branding {
    Branding { display_name: args.display_name, logo_url: args.logo_url }
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
        ProjectsCommand::Create { name, environments, allowed_origins, branding } => {
            // Checked before the project is made, so a refused logo leaves nothing behind.
            if let Some(logo) = branding.logo_url.as_deref().filter(|l| !l.is_empty()) {
                admin::parse_logo_url(logo)?;
            }
            let mut project = admin::create_project(ports, NewProject { name, environments, allowed_origins }).await?;
            if branding.display_name.is_some() || branding.logo_url.is_some() {
                project = admin::set_branding(ports, &project.id, branding_of(branding)).await?;
            }
            print.projects(std::slice::from_ref(&project));
        }
        ProjectsCommand::SetBranding { project, branding } => {
            let project = admin::set_branding(ports, &project_id(&project)?, branding_of(branding)).await?;
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
