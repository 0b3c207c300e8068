//! The CLI and the audit trail: reading it (`latchkey audit list`, `latchkey audit export`), and
//! writing the operator's own changes to it, filed at once (the process ends right after).

use latchkey::audit::{list, AuditCursor, AuditFilter, PAGE_MAX};
use latchkey::model::{ActorKind, AuditAction, AuditEvent, ConnectionId, Connector, ConnectorUid, ProjectId};
use latchkey::Ports;

use crate::args::{AuditCommand, AuditFilterArgs, Command, ConnectionsCommand, ConnectorsCommand, KeysCommand, ProjectsCommand};
use crate::commands::CliError;
use crate::output::Printer;

/// Runs an `audit` subcommand.
pub async fn run(ports: &Ports, command: AuditCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        AuditCommand::List { project, filter, limit, cursor } => {
            if !(1..=PAGE_MAX).contains(&limit) {
                return Err(CliError::Usage(format!("--limit must be 1 to {PAGE_MAX}")));
            }
            let cursor = cursor.map(|c| AuditCursor::decode(&c).ok_or_else(|| CliError::Usage("--cursor is not one this trail gave".into()))).transpose()?;
            let (events, next) = page(ports, &project, &filter, limit, cursor).await?;
            let lines: Vec<String> = events.iter().map(line).collect();
            let text = match &next {
                Some(next) => format!("{}\nmore: --cursor {}", lines.join("\n"), next.encode()),
                None => lines.join("\n"),
            };
            print.message(&text, serde_json::json!({"data": events, "next_cursor": next.map(|c| c.encode())}));
        }
        AuditCommand::Export { project, filter } => {
            let mut cursor = None;
            loop {
                let (events, next) = page(ports, &project, &filter, PAGE_MAX, cursor).await?;
                for event in &events {
                    println!("{}", serde_json::to_string(event).unwrap_or_default());
                }
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

async fn page(
    ports: &Ports,
    project: &str,
    filter: &AuditFilterArgs,
    limit: usize,
    cursor: Option<AuditCursor>,
) -> Result<(Vec<AuditEvent>, Option<AuditCursor>), CliError> {
    let project = ProjectId::parse(project).map_err(|e| CliError::Usage(e.to_string()))?;
    let action =
        filter.action.as_deref().map(|a| AuditAction::parse(a).ok_or_else(|| CliError::Usage(format!("--action {a:?} names no audit action")))).transpose()?;
    let connection_id = filter.connection.as_deref().map(|c| ConnectionId::parse(c).map_err(|e| CliError::Usage(e.to_string()))).transpose()?;
    let filter = AuditFilter { action, connection_id, since: filter.since, until: filter.until, environment: None };
    let found = list(ports.store.as_ref(), &project, &filter, limit, cursor, ports.clock.now(), ports.settings.audit_retention_days).await;
    found.map_err(|e| CliError::Io(e.to_string()))
}

/// One event as a line of text.
fn line(event: &AuditEvent) -> String {
    let at = latchkey::Timestamp(event.at_ms / 1000).to_rfc3339();
    let about = event.connection_id.as_ref().map(|c| c.to_string()).or(event.connector.as_ref().map(|c| c.to_string())).unwrap_or_default();
    format!(
        "{at}  {:<24} {:<8} {}:{}  {about}",
        event.action.as_str(),
        event.outcome,
        serde_json::to_value(event.actor_kind).unwrap_or_default().as_str().unwrap_or(""),
        event.actor_id
    )
}

/// Files `action` on `connector` into the trail of every project it is linked to: connectors are
/// shared, so a change to one (a rotated client secret) is news to each project that uses it.
/// `changed` names the settings that changed, never their values.
pub async fn connector_change(ports: &Ports, connector: &Connector, action: AuditAction, changed: &[&str]) {
    let mut detail = serde_json::Map::new();
    if !changed.is_empty() {
        detail.insert("changed".into(), changed.iter().map(|name| serde_json::Value::from(*name)).collect());
    }
    for link in &connector.links {
        let event = AuditEvent {
            connector: Some(connector.uid.clone()),
            outcome: "ok".into(),
            detail: detail.clone(),
            ..operator_event(link.project_id.clone(), action)
        };
        ports.audit(event).await;
    }
}

/// An event of the operator's at the CLI, now, with no outcome or detail yet.
fn operator_event(project_id: ProjectId, action: AuditAction) -> AuditEvent {
    AuditEvent {
        id: latchkey::audit::event_id(),
        at_ms: latchkey::metrics::now_ms(),
        project_id,
        environment: None,
        action,
        actor_kind: ActorKind::Operator,
        actor_id: std::env::var("USER").unwrap_or_else(|_| "cli".into()),
        connection_id: None,
        connector: None,
        outcome: String::new(),
        source_ip: None,
        user_agent: Some(concat!("latchkey-cli/", env!("CARGO_PKG_VERSION")).into()),
        detail: serde_json::Map::new(),
    }
}

/// The change an operator command makes, as an event to record once it has run.
pub fn planned(command: &Command) -> Option<AuditEvent> {
    let (project, action, connector) = match command {
        Command::Keys(KeysCommand::Create { project, .. }) => (project, AuditAction::SecretKeyCreated, None),
        Command::Keys(KeysCommand::Revoke { project, .. }) => (project, AuditAction::SecretKeyRevoked, None),
        Command::Connectors(ConnectorsCommand::Link { uid, project, .. }) => (project, AuditAction::ConnectorLinked, Some(uid)),
        Command::Connectors(ConnectorsCommand::Unlink { uid, project }) => (project, AuditAction::ConnectorUnlinked, Some(uid)),
        Command::Projects(ProjectsCommand::TrustIssuer { project, .. }) => (project, AuditAction::IssuerTrusted, None),
        Command::Projects(ProjectsCommand::DistrustIssuer { project, .. }) => (project, AuditAction::IssuerDistrusted, None),
        Command::Projects(ProjectsCommand::SetOrigins { project, .. }) => (project, AuditAction::OriginsChanged, None),
        Command::Connections(ConnectionsCommand::AddInstallation { project, connector, .. }) => (project, AuditAction::InstallationRecorded, Some(connector)),
        _ => return None,
    };
    let mut detail = serde_json::Map::new();
    if let Command::Keys(KeysCommand::Revoke { key_id, .. }) = command {
        detail.insert("key_id".into(), key_id.as_str().into());
    }
    Some(AuditEvent { connector: connector.and_then(|c| ConnectorUid::parse(c).ok()), detail, ..operator_event(ProjectId::parse(project).ok()?, action) })
}
