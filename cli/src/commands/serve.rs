//! `latchkey serve`: the local server, with a demo project on first start: a secret key shown
//! once, an API-key connector, and a sandbox connector whose provider is this very server, with a
//! Connect link ready to open, so the whole flow runs with no provider account.

use std::net::SocketAddr;

use latchkey::admin::{self, NewConnector, NewProject, SandboxConnector};
use latchkey::link::token::{create_link_token, EndUserInput, LinkTokenRequest};
use latchkey::model::AuthMode;
use latchkey::Ports;

use super::CliError;
use crate::output::Printer;

/// The demo's sandbox access tokens live this long, so a newcomer sees a refresh within a minute.
const DEMO_TOKEN_LIFETIME_SECS: i64 = 30;

/// Binds, prepares the demo project if there are no projects, prints what to try, and serves
/// until Ctrl-C or SIGTERM, letting requests in flight finish.
pub async fn run(ports: Ports, bind: SocketAddr, print: &Printer) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| CliError::Usage(format!("cannot listen on {bind}: {e}")))?;
    let address = listener.local_addr().map_err(|e| CliError::Io(e.to_string()))?;
    // The address this server answers itself at (loopback when it listens on every address).
    let own = match address.ip().is_unspecified() {
        true => SocketAddr::from(([127, 0, 0, 1], address.port())),
        false => address,
    };
    let mut settings = (*ports.settings).clone();
    // Links may be built from the address this server listens on (and localhost for it),
    // besides any the operator listed; never from whatever Host a request claims.
    for host in [address.to_string(), format!("localhost:{}", address.port())] {
        if !settings.allowed_hosts.contains(&host) {
            settings.allowed_hosts.push(host);
        }
    }
    // The sandbox provider is this server: the outbound policy allows exactly its own address
    // (that host and port, over plain http), and nothing else on loopback.
    if !settings.outbound_allowed_hosts.contains(&own.to_string()) {
        settings.outbound_allowed_hosts.push(own.to_string());
    }
    let ports = ports.with_settings(settings);
    let base = ports.settings.public_url.clone().unwrap_or_else(|| format!("http://{own}"));
    let mut banner = serde_json::json!({"listening": base, "openapi": format!("{base}/v1/openapi.json"), "sandbox": format!("{base}/sandbox")});
    if admin::list_projects(&ports).await?.is_empty() {
        first_start(&ports, address, &base, &mut banner).await?;
    }
    print.banner(&banner);
    // Metrics are counted in process and read at /metrics with the operator token (the sink goes
    // in first: the webhook worker keeps its own copy of the ports).
    let ports = ports.with_metrics(latchkey::metrics::MetricsSink::Registry(Default::default()));
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
/// once, an API-key connector, the sandbox connector, and a Connect link for the sandbox.
async fn first_start(ports: &Ports, address: SocketAddr, base: &str, banner: &mut serde_json::Value) -> Result<(), CliError> {
    // The server itself and the example app (examples/link-app, port 3000).
    let mut origins = vec![
        format!("http://{address}"),
        format!("http://localhost:{}", address.port()),
        "http://127.0.0.1:3000".to_owned(),
        "http://localhost:3000".to_owned(),
    ];
    if !origins.iter().any(|o| o == base) {
        origins.push(base.to_owned());
    }
    let new = NewProject { name: "Demo".into(), environments: Vec::new(), allowed_origins: origins };
    let project = admin::create_project(ports, new).await?;
    let (key, secret) = admin::create_secret_key(ports, &project.id, "development").await?;
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
    let development = ["development".to_owned()];
    admin::link_connector(ports, "demo/api-key", &project.id, &development).await?;
    let localhost = format!("http://localhost:{}", address.port());
    let other_bases = if base.starts_with("http://127.0.0.1:") { vec![localhost] } else { Vec::new() };
    let sandbox = SandboxConnector { uid: "sandbox/demo".into(), base_url: base.to_owned(), other_bases, access_token_lifetime_secs: DEMO_TOKEN_LIFETIME_SECS };
    admin::create_sandbox_connector(ports, sandbox).await?;
    admin::link_connector(ports, "sandbox/demo", &project.id, &development).await?;
    // A link for the demo user that returns to the sandbox's home, which shows the next steps.
    let request = LinkTokenRequest {
        end_user: EndUserInput { id: "demo-user".into(), email: None, display_name: None },
        connectors: Vec::new(),
        connection_id: None,
        redirect_url: Some(format!("{base}/sandbox")),
    };
    let link = create_link_token(ports, &key.lookup(), request).await.map_err(|e| CliError::Io(format!("the demo link: {e}")))?;
    // Shown once, on the operator's own terminal: the whole point of a first start.
    banner["demo_project"] = serde_json::json!(project.id);
    banner["demo_secret_key"] = serde_json::json!(secret.expose());
    banner["try_url"] = serde_json::json!(format!("{base}/connect?link_token={}", link.token.expose()));
    Ok(())
}
