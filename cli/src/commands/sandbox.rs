//! `latchkey sandbox ...`: a sandbox connector for this deployment, the sandbox's clients, and the
//! switches that make it misbehave on purpose (deny, fail refreshes, answer 503).

use latchkey::admin::{self, SandboxConnector};
use latchkey::model::{ConnectorUid, SandboxClient};
use latchkey::sandbox::clients::{change_client, list_clients, ClientChanges};
use latchkey::Ports;

use super::{project_id, CliError};
use crate::args::{SandboxClientArg, SandboxCommand, Switch};
use crate::output::Printer;

/// Runs a `sandbox` subcommand.
pub async fn sandbox(ports: &Ports, command: SandboxCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        SandboxCommand::Connector { uid, base_url, other_bases, token_lifetime_secs, project, environments } => {
            let project = project.as_deref().map(project_id).transpose()?;
            let spec = SandboxConnector { uid: uid.clone(), base_url, other_bases, access_token_lifetime_secs: token_lifetime_secs };
            let (mut connector, _) = admin::create_sandbox_connector(ports, spec).await?;
            if let Some(project) = project {
                connector = admin::link_connector(ports, &uid, &project, &environments).await?;
            }
            print.connectors(std::slice::from_ref(&connector));
        }
        SandboxCommand::Clients => clients(print, &list_clients(ports).await.map_err(admin::AdminError::from)?),
        SandboxCommand::Set { client, deny, fail_refresh, unavailable, token_lifetime_secs } => {
            let client_id = client_id(ports, client).await?;
            let changes = ClientChanges {
                deny: deny.map(Switch::on),
                fail_refresh: fail_refresh.map(Switch::on),
                unavailable: unavailable.map(Switch::on),
                access_token_lifetime_secs: token_lifetime_secs,
            };
            let changed = change_client(ports, &client_id, changes).await.map_err(admin::AdminError::from)?;
            clients(print, std::slice::from_ref(&changed));
        }
    }
    Ok(())
}

/// The client named directly, or by the sandbox connector that uses it.
async fn client_id(ports: &Ports, arg: SandboxClientArg) -> Result<String, CliError> {
    if let Some(id) = arg.client_id {
        return Ok(id);
    }
    let uid = ConnectorUid::parse(arg.connector.as_deref().unwrap_or_default()).map_err(admin::AdminError::from)?;
    let connector = admin::connector(ports, &uid).await?.record;
    match (connector.provider.as_str(), connector.client_id) {
        ("sandbox", Some(id)) => Ok(id),
        _ => Err(CliError::Usage(format!("{uid} is not a sandbox connector"))),
    }
}

/// Clients with their switches; never their secrets (only hashes are kept).
fn clients(print: &Printer, clients: &[SandboxClient]) {
    let value = serde_json::Value::Array(
        clients
            .iter()
            .map(|c| {
                serde_json::json!({
                    "client_id": c.client_id, "name": c.name, "redirect_uris": c.redirect_uris, "issuer": c.issuer,
                    "access_token_lifetime_secs": c.access_token_lifetime_secs, "switches": c.switches,
                })
            })
            .collect(),
    );
    let lines: Vec<String> = clients
        .iter()
        .map(|c| {
            let on: Vec<&str> = [("deny", c.switches.deny), ("fail-refresh", c.switches.fail_refresh), ("unavailable", c.switches.unavailable)]
                .iter()
                .filter(|(_, on)| *on)
                .map(|(name, _)| *name)
                .collect();
            let switches = if on.is_empty() { "none".to_owned() } else { on.join(",") };
            format!("{}  {}  tokens live {} s  switches on: {switches}", c.client_id, c.name, c.access_token_lifetime_secs)
        })
        .collect();
    print.message(&lines.join("\n"), value);
}
