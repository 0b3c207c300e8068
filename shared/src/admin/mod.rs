//! Operator actions: projects, secret keys, connectors (from the catalog, custom ones, the
//! sandbox) and their project links, connections.
//!
//! The `latchkey` CLI is a thin shell over these; so is the local server's first start. Every action
//! validates all of its input before its first write, so a refused action changes nothing.

mod connectors;
mod custom;
mod discovery;
mod projects;
mod reindex;
mod sandbox;
mod secret_keys;
mod webhooks;

pub use connectors::{
    connector, create_catalog_connector, create_connector, create_connector_with, delete_connector, link_connector, list_connectors, record_installation,
    unlink_connector, update_connector, ConnectorChanges, NewConnector, Quirks,
};
pub use custom::{create_custom_connector, parse_api_auth, parse_field, parse_pairs, token_mapping, CustomConnector, Endpoints};
pub use discovery::discover;
pub use projects::{
    create_project, distrust_issuer, list_projects, parse_logo_url, parse_origin, set_allowed_origins, set_branding, trust_issuer, Branding, NewProject,
    OIDC_ALGORITHMS,
};
pub use reindex::{reindex, Reindexed};
pub use sandbox::{create_sandbox_connector, SandboxConnector, SANDBOX_CATALOG_ORIGIN};
pub use secret_keys::{create_secret_key, create_user_secret_key, list_secret_keys, revoke_access_token, revoke_secret_key};
pub use webhooks::{add_webhook, list_deliveries, remove_webhook};

use crate::model::{Connection, EnvironmentName, InvalidName, Project, ProjectId, Stored};
use crate::ports::Ports;
use crate::store::{Cursor, RecordError};

/// Why an operator action was refused or failed. Messages name the problem, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is not acceptable; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Something to be created already exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// The store or the keyring failed.
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl From<InvalidName> for AdminError {
    fn from(error: InvalidName) -> Self {
        AdminError::Invalid(error.to_string())
    }
}

impl From<crate::model::CorruptRecord> for AdminError {
    fn from(error: crate::model::CorruptRecord) -> Self {
        AdminError::Record(error.into())
    }
}

impl From<crate::store::StoreError> for AdminError {
    fn from(error: crate::store::StoreError) -> Self {
        AdminError::Record(error.into())
    }
}

/// Reads a project that must exist.
pub async fn project(ports: &Ports, id: &ProjectId) -> Result<Stored<Project>, AdminError> {
    Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(id)).await?.ok_or_else(|| AdminError::NotFound(format!("project {id}")))
}

/// The largest page of an operator listing.
pub const MAX_PAGE: usize = 1000;

/// One page of a project's connections (of one environment, or all), in key order: at most
/// `limit` (1 to [`MAX_PAGE`]) after `cursor`, and the cursor of the next page if one follows.
/// A cursor from another listing is refused.
pub async fn list_connections(
    ports: &Ports,
    project_id: &ProjectId,
    environment: Option<&EnvironmentName>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<(Vec<Connection>, Option<String>), AdminError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AdminError::Invalid(format!("--limit must be 1 to {MAX_PAGE}")));
    }
    project(ports, project_id).await?;
    let partition = Project::partition_of(project_id);
    let prefix = match environment {
        Some(environment) => format!("{}{environment}#", Connection::SK_PREFIX),
        None => Connection::SK_PREFIX.to_owned(),
    };
    let cursors = Cursor::for_query(&format!("admin-connections\n{project_id}\n{prefix}"));
    // The position is the sort key after the prefix, so no cursor can leave the listing's prefix.
    let after = cursor.map(|raw| cursors.decode(raw).map(|rest| format!("{prefix}{rest}"))).transpose().map_err(|e| AdminError::Invalid(e.to_string()))?;
    let (page, next) = Stored::<Connection>::query_page(ports.store.as_ref(), &partition, &prefix, after.as_deref(), limit).await?;
    let next = next.and_then(|sk| sk.strip_prefix(&prefix).map(|rest| cursors.encode(rest)));
    Ok((page.into_iter().map(|s| s.record).collect(), next))
}
