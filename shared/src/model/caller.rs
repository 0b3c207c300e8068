//! Who is calling: a caller credential, authenticated, with the binding it acts within.

use super::{Connection, ConnectionAccessToken, ConsumerId, EnvironmentName, ProjectId, SecretKeyLookup};

/// An authenticated caller of the token broker.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A project secret key: may ask for the app subject, or for the user it is bound to.
    SecretKey(SecretKeyLookup),
    /// A connection access token from the link exchange: its own connection only.
    Connection(ConnectionAccessToken),
    /// An OIDC token from an issuer the project trusts, its bound claims satisfied: any user of
    /// its project, or only the one its user claim names.
    Oidc {
        /// The project.
        project_id: ProjectId,
        /// The environment its claims name.
        environment: EnvironmentName,
        /// The token's `iss`, for the audit trail.
        issuer: String,
        /// The token's `sub`, for logs.
        subject: String,
        /// The only user it may ask for, when the trust binds one.
        user: Option<ConsumerId>,
    },
}

impl Caller {
    /// The caller's project.
    pub fn project_id(&self) -> &ProjectId {
        match self {
            Caller::SecretKey(key) => &key.project_id,
            Caller::Connection(token) => &token.project_id,
            Caller::Oidc { project_id, .. } => project_id,
        }
    }

    /// The caller's environment.
    pub fn environment(&self) -> &EnvironmentName {
        match self {
            Caller::SecretKey(key) => &key.environment,
            Caller::Connection(token) => &token.environment,
            Caller::Oidc { environment, .. } => environment,
        }
    }
}

/// What a management call may reach: one project environment, and within it every consumer or,
/// for a key bound to one end user (or a session's page), that consumer only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The project.
    pub project_id: ProjectId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The one consumer it is bound to, if any.
    pub consumer: Option<ConsumerId>,
}

impl Scope {
    /// What a secret key may reach.
    pub fn of_key(key: &SecretKeyLookup) -> Self {
        Self { project_id: key.project_id.clone(), environment: key.environment.clone(), consumer: key.user_id.clone() }
    }

    /// Whether it may act for `consumer`.
    pub fn allows(&self, consumer: &ConsumerId) -> bool {
        self.consumer.as_ref().is_none_or(|bound| bound == consumer)
    }

    /// Whether it reaches `connection` (its project environment, and its consumer where bound; a
    /// key bound to a user never reaches the app's own installations).
    pub fn reaches(&self, connection: &Connection) -> bool {
        let place = connection.project_id == self.project_id && connection.environment == self.environment;
        let whose = match (&self.consumer, &connection.subject.id) {
            (None, _) => true,
            (Some(bound), Some(owner)) => bound == owner,
            (Some(_), None) => false,
        };
        place && whose
    }
}
