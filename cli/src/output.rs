//! Printing results as text for people or JSON for scripts. Secrets never pass through here except
//! a newly created secret key, once.

use latchkey::model::{Connection, Connector, Project, SecretKey};
use latchkey::SecretString;
use serde_json::{json, Value};

/// Prints in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// JSON instead of text.
    pub json: bool,
}

impl Printer {
    fn emit(&self, value: &Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }

    /// A one-line outcome.
    pub fn message(&self, text: &str, value: Value) {
        self.emit(&value, || text.to_owned());
    }

    /// The local server's start-up banner.
    pub fn banner(&self, value: &Value) {
        self.emit(value, || {
            let mut lines = vec![format!("Latchkey is listening on {}", value["listening"].as_str().unwrap_or_default())];
            lines.push(format!("  OpenAPI document: {}", value["openapi"].as_str().unwrap_or_default()));
            lines.push(format!("  Sandbox provider: {}", value["sandbox"].as_str().unwrap_or_default()));
            if let Some(project) = value["demo_project"].as_str() {
                lines.push(format!("  Demo project:     {project} (environment development)"));
                lines.push(format!(
                    "  Demo secret key:  {} (shown once; `latchkey keys create` makes more)",
                    value["demo_secret_key"].as_str().unwrap_or_default()
                ));
                lines.push(format!("  Try it:           {} (connect the sandbox; valid 4 hours)", value["try_url"].as_str().unwrap_or_default()));
            }
            lines.join("\n")
        });
    }

    /// Catalog providers.
    pub fn providers(&self, providers: &[&latchkey::catalog::ProviderEntry]) {
        let value = Value::Array(
            providers.iter().map(|p| json!({"id": p.id, "name": p.name, "category": p.category, "auth_mode": p.auth_mode, "docs_url": p.docs_url})).collect(),
        );
        self.emit(&value, || {
            table(providers.iter().map(|p| vec![p.id.clone(), p.name.clone(), p.category.clone(), p.auth_mode.clone()]), &["ID", "NAME", "CATEGORY", "AUTH"])
        });
    }

    /// Projects, one per line (JSON: every field, branding included).
    pub fn projects(&self, projects: &[Project]) {
        let value = json!(projects);
        self.emit(&value, || {
            table(
                projects.iter().map(|p| {
                    let environments: Vec<&str> = p.environments.iter().map(|e| e.as_str()).collect();
                    vec![p.id.to_string(), p.name.clone(), environments.join(","), p.allowed_origins.join(",")]
                }),
                &["ID", "NAME", "ENVIRONMENTS", "ALLOWED ORIGINS"],
            )
        });
    }

    /// A key just created: the only time the key is ever shown.
    pub fn new_secret_key(&self, record: &SecretKey, secret: &SecretString) {
        let value = json!({
            "key_id": record.key_id,
            "project_id": record.project_id,
            "environment": record.environment,
            "secret_key": secret.expose(),
        });
        self.emit(&value, || {
            format!(
                "{}\n\nkey id {} for {} / {}. Store it now: it cannot be shown again.",
                secret.expose(),
                record.key_id,
                record.project_id,
                record.environment
            )
        });
    }

    /// Secret keys (ids and hints).
    pub fn secret_keys(&self, keys: &[SecretKey]) {
        let value = Value::Array(
            keys.iter().map(|k| json!({"key_id": k.key_id, "environment": k.environment, "hint": k.hint, "created_at": k.created_at.to_rfc3339()})).collect(),
        );
        self.emit(&value, || {
            table(
                keys.iter().map(|k| vec![k.key_id.to_string(), k.environment.to_string(), k.hint.clone(), k.created_at.to_rfc3339()]),
                &["KEY ID", "ENVIRONMENT", "HINT", "CREATED"],
            )
        });
    }

    /// Connectors, without their sealed secrets.
    pub fn connectors(&self, connectors: &[Connector]) {
        let value = Value::Array(
            connectors
                .iter()
                .map(|c| {
                    json!({
                        "uid": c.uid, "provider": c.provider, "client_id": c.client_id,
                        "has_client_secret": c.client_secret.is_some(), "default_scopes": c.default_scopes, "links": c.links,
                        "auth_mode": c.auth_mode, "fields": c.fields, "api": c.api, "narrowing": c.narrowing,
                        "refresh_buffer_secs": c.oauth.as_ref().map(|o| o.refresh_buffer_secs),
                        "revocation_scope": c.oauth.as_ref().map(|o| o.revocation_scope),
                    })
                })
                .collect(),
        );
        self.emit(&value, || {
            table(
                connectors.iter().map(|c| {
                    let links: Vec<String> = c
                        .links
                        .iter()
                        .map(|l| {
                            let envs: Vec<&str> = l.environments.iter().map(|e| e.as_str()).collect();
                            format!("{}:{}", l.project_id, envs.join("+"))
                        })
                        .collect();
                    vec![c.uid.to_string(), c.client_id.clone().unwrap_or_default(), c.default_scopes.join(" "), links.join(",")]
                }),
                &["UID", "CLIENT ID", "DEFAULT SCOPES", "LINKS"],
            )
        });
    }

    /// Connections, without their sealed credentials.
    pub fn connections(&self, connections: &[Connection]) {
        self.emit(&Value::Array(connections.iter().map(connection_json).collect()), || connection_table(connections));
    }

    /// One page of connections (`{"data", "next_cursor"}` in JSON, as the API's listing), and
    /// where the next page starts.
    pub fn connection_page(&self, connections: &[Connection], next: Option<&str>) {
        let value = json!({"data": connections.iter().map(connection_json).collect::<Vec<_>>(), "next_cursor": next});
        self.emit(&value, || match next {
            Some(cursor) => format!("{}\nmore: --cursor {cursor}", connection_table(connections)),
            None => connection_table(connections),
        });
    }
}

fn connection_json(c: &Connection) -> Value {
    json!({
        "id": c.id, "environment": c.environment, "connector": c.connector, "subject": c.subject,
        "installation_id": c.installation_id, "state": c.state, "scopes": c.scopes,
        "created_at": c.created_at.to_rfc3339(), "updated_at": c.updated_at.to_rfc3339(),
    })
}

fn connection_table(connections: &[Connection]) -> String {
    table(
        connections.iter().map(|c| {
            let subject =
                format!("{}:{}", json!(c.subject.kind).as_str().unwrap_or_default(), c.subject.id.as_ref().map(|u| u.to_string()).unwrap_or_default());
            vec![c.id.to_string(), c.environment.to_string(), c.connector.to_string(), subject, json!(c.state).as_str().unwrap_or_default().to_owned()]
        }),
        &["ID", "ENVIRONMENT", "CONNECTOR", "SUBJECT", "STATE"],
    )
}

/// Left-aligned columns.
fn table(rows: impl Iterator<Item = Vec<String>>, header: &[&str]) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect()).chain(rows).collect();
    let widths: Vec<usize> = (0..header.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|row| row.iter().enumerate().map(|(i, cell)| format!("{cell:<width$}", width = widths[i])).collect::<Vec<_>>().join("  ").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}
