//! What a consumer may do to their connections from a session's overview page: authorize again,
//! disconnect, delete, or finish the configuration step.

use crate::link::connect::ConnectPage;
use crate::link::{post_authorization, LinkError};
use crate::model::{Scope, SessionAction};
use crate::ports::Ports;

/// What the consumer asked for on a session's overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Authorize again.
    Reauthorize,
    /// Revoke the grant at the provider and forget the credentials; the connection stays `added`.
    Disconnect,
    /// Revoke and remove the connection.
    Delete,
    /// Finish the configuration step with this choice.
    Configure(String),
}

impl Action {
    /// Parses an action the session allows (configuring is always allowed: it finishes a connection).
    pub fn allowed(page: &ConnectPage, raw: &str, choice: Option<&str>) -> Result<Action, LinkError> {
        let session = page.link.session.as_ref().ok_or(LinkError::ConnectorNotAllowed)?;
        if raw == "configure" {
            return choice.map(|c| Action::Configure(c.to_owned())).ok_or_else(|| LinkError::InvalidRequest("Choose one.".into()));
        }
        let action = SessionAction::parse(raw).ok_or_else(|| LinkError::InvalidRequest("unknown action".into()))?;
        if !session.settings.allow_actions.contains(&action) {
            return Err(LinkError::InvalidRequest("this session does not allow that action".into()));
        }
        Ok(match action {
            SessionAction::Reauthorize => Action::Reauthorize,
            SessionAction::Disconnect => Action::Disconnect,
            SessionAction::Delete => Action::Delete,
        })
    }
}

/// Disconnects or deletes the consumer's connection at `connector`.
pub async fn act(ports: &Ports, page: &ConnectPage, connector: &str, action: Action) -> Result<(), LinkError> {
    let connector = page.connector(connector)?;
    let connection = page.connection(connector).ok_or(LinkError::ConnectionNotFound)?;
    // The page acts for its one consumer, never beyond.
    let scope = Scope { project_id: page.link.project_id.clone(), environment: page.link.environment.clone(), consumer: Some(page.link.end_user.id.clone()) };
    match action {
        Action::Delete => super::delete_connection(ports, &scope, &connection.id).await.map(|_| ()),
        Action::Disconnect => super::disconnect_connection(ports, &scope, &connection.id).await,
        Action::Configure(choice) => post_authorization::configure(ports, &connection.id, &page.link.project_id, &choice).await.map(|_| ()),
        Action::Reauthorize => Ok(()),
    }
}
