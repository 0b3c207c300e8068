//! The audit trail's record: who did what to which credential, when, from where, and how it ended.
//! Never a secret, a token or a body: identifiers, codes, a host and a path without its query.

use serde::{Deserialize, Serialize};

use super::{ConnectionId, ConnectorUid, EnvironmentName, ProjectId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A provider token was asked for (issued, or refused).
    TokenIssued,
    /// A provider API call went through the proxy (or was refused).
    ProxyCall,
    /// A connection was made.
    ConnectionCreated,
    /// A connection was authorized again, replacing its grant.
    ConnectionRelinked,
    /// A connection's configuration changed.
    ConnectionUpdated,
    /// A connection was disconnected (credentials forgotten).
    ConnectionDisconnected,
    /// A connection was deleted.
    ConnectionDeleted,
    /// Existing credentials were imported.
    CredentialsImported,
    /// A connection access token was minted by an exchange.
    AccessTokenIssued,
    /// A connection access token was revoked.
    AccessTokenRevoked,
    /// A secret key was created.
    SecretKeyCreated,
    /// A secret key was revoked.
    SecretKeyRevoked,
    /// A connector was linked to the project, or its environments changed.
    ConnectorLinked,
    /// A connector was unlinked from the project.
    ConnectorUnlinked,
    /// A connector the project uses changed (its name, client id or secret, scopes or tuning;
    /// `detail.changed` names which, never their values).
    ConnectorChanged,
    /// A connector the project used was deleted.
    ConnectorDeleted,
    /// A trusted issuer was added or changed.
    IssuerTrusted,
    /// A trusted issuer was removed.
    IssuerDistrusted,
    /// The project's allowed origins changed.
    OriginsChanged,
    /// A GitHub App installation was recorded.
    InstallationRecorded,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 20] = [
        AuditAction::TokenIssued,
        AuditAction::ProxyCall,
        AuditAction::ConnectionCreated,
        AuditAction::ConnectionRelinked,
        AuditAction::ConnectionUpdated,
        AuditAction::ConnectionDisconnected,
        AuditAction::ConnectionDeleted,
        AuditAction::CredentialsImported,
        AuditAction::AccessTokenIssued,
        AuditAction::AccessTokenRevoked,
        AuditAction::SecretKeyCreated,
        AuditAction::SecretKeyRevoked,
        AuditAction::ConnectorLinked,
        AuditAction::ConnectorUnlinked,
        AuditAction::ConnectorChanged,
        AuditAction::ConnectorDeleted,
        AuditAction::IssuerTrusted,
        AuditAction::IssuerDistrusted,
        AuditAction::OriginsChanged,
        AuditAction::InstallationRecorded,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TokenIssued => "token_issued",
            AuditAction::ProxyCall => "proxy_call",
            AuditAction::ConnectionCreated => "connection_created",
            AuditAction::ConnectionRelinked => "connection_relinked",
            AuditAction::ConnectionUpdated => "connection_updated",
            AuditAction::ConnectionDisconnected => "connection_disconnected",
            AuditAction::ConnectionDeleted => "connection_deleted",
            AuditAction::CredentialsImported => "credentials_imported",
            AuditAction::AccessTokenIssued => "access_token_issued",
            AuditAction::AccessTokenRevoked => "access_token_revoked",
            AuditAction::SecretKeyCreated => "secret_key_created",
            AuditAction::SecretKeyRevoked => "secret_key_revoked",
            AuditAction::ConnectorLinked => "connector_linked",
            AuditAction::ConnectorUnlinked => "connector_unlinked",
            AuditAction::ConnectorChanged => "connector_changed",
            AuditAction::ConnectorDeleted => "connector_deleted",
            AuditAction::IssuerTrusted => "issuer_trusted",
            AuditAction::IssuerDistrusted => "issuer_distrusted",
            AuditAction::OriginsChanged => "origins_changed",
            AuditAction::InstallationRecorded => "installation_recorded",
        }
    }

    /// The action named `name`.
    pub fn parse(name: &str) -> Option<AuditAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A secret key (`id`: its key id).
    SecretKey,
    /// An OIDC token from a trusted issuer (`id`: `iss` and `sub`).
    Oidc,
    /// A connection access token (`id`: its connection id).
    ConnectionToken,
    /// An end user on the Connect page (`id`: their consumer id).
    EndUser,
    /// The operator, through the CLI.
    Operator,
}

/// One event of the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// `aud_...`, unique.
    pub id: String,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
    /// The project.
    pub project_id: ProjectId,
    /// The environment, when the action had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentName>,
    /// What happened.
    pub action: AuditAction,
    /// Who acted.
    pub actor_kind: ActorKind,
    /// Which one of them.
    pub actor_id: String,
    /// The connection concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<ConnectionId>,
    /// The connector concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<ConnectorUid>,
    /// `ok`, or the stable error code of the refusal.
    pub outcome: String,
    /// The caller's address, when it came over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The caller's user agent (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// What else the action has to say: a proxy call's method, host, path, status and duration; a
    /// token's narrowing; never a secret.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_names_itself_as_serde_does() {
        for action in AuditAction::ALL {
            assert_eq!(serde_json::to_value(action).unwrap(), serde_json::json!(action.as_str()));
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
    }
}
