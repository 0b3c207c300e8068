//! Connections: one authorized account at a connector.
//!
//! A connection lives at its *natural* key, the project partition and
//! `CONNECTION#{environment}#{connector}#{subject}`, so the token path finds it in one read from
//! what the caller asks for. Its public id (`conn_...`) points there through a small index record.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde::{Deserialize, Serialize};

use super::{Binding, Sealed};
use super::{ConnectionId, ConnectorUid, ConsumerId, EnvironmentName, InstallationId, Project, ProjectId, Record};
use super::{Due, DueQueue, Key};
use crate::clock::Timestamp;

/// The sweep refreshes ahead what expires within this window (longer than the 5 minutes between
/// passes on AWS), and only tokens living at least twice as long, so at most once per lifetime.
pub const REFRESH_AHEAD_WINDOW_SECS: i64 = 15 * 60;
/// The sweep refreshes a connection not written for this long, so idle refresh tokens stay alive.
pub const KEEP_ALIVE_SECS: i64 = 7 * 24 * 3600;

/// Characters escaped inside a key segment, so a subject id cannot forge another key.
const KEY_SEGMENT: &AsciiSet = &CONTROLS.add(b'#').add(b'%').add(b' ');

/// Whose grant a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// One end user's own grant.
    User,
    /// A tenant-wide installation (a Slack workspace, a GitHub organisation).
    App,
}

/// The subject a connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subject {
    /// `user` or `app`.
    #[serde(rename = "type")]
    pub kind: SubjectType,
    /// The end user's id in the app (for `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ConsumerId>,
}

impl Subject {
    /// An end user's subject.
    pub fn user(id: ConsumerId) -> Self {
        Self { kind: SubjectType::User, id: Some(id) }
    }

    /// The app itself (a tenant-wide installation).
    pub fn app() -> Self {
        Self { kind: SubjectType::App, id: None }
    }

    fn key_segment(&self, installation_id: Option<&InstallationId>) -> String {
        let escape = |s: &str| utf8_percent_encode(s, KEY_SEGMENT).to_string();
        match self.kind {
            SubjectType::User => format!("user:{}", escape(self.id.as_ref().map_or("-", ConsumerId::as_str))),
            SubjectType::App => format!("app:{}", escape(installation_id.map_or("-", InstallationId::as_str))),
        }
    }
}

/// The end user a link was made for, as the app described them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndUser {
    /// The app's id for the user.
    pub id: ConsumerId,
    /// Their email, if the app gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their name, if the app gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A claim on refreshing a connection's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshLease {
    /// A random id of the claimant.
    pub holder: String,
    /// When the claim lapses if its holder never finishes.
    pub until: Timestamp,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Where a connection stands (the states of Apideck Vault's connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// The connector can be used but nothing is set up yet.
    Available,
    /// Set up, waiting for authorization or required settings.
    Added,
    /// Authorized at the provider, but required settings are missing.
    Authorized,
    /// Ready: tokens can be issued.
    Callable,
    /// The grant no longer works (revoked, refresh failed); needs a new authorization.
    Invalid,
}

/// One authorized account at a connector, with its sealed credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// `conn_...`
    pub id: ConnectionId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// The project environment it belongs to.
    pub environment: EnvironmentName,
    /// The connector it authorizes.
    pub connector: ConnectorUid,
    /// Whose grant it is.
    pub subject: Subject,
    /// The end user who made it, as the app described them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<EndUser>,
    /// The provider's installation id, for app installations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<InstallationId>,
    /// Where it stands.
    pub state: ConnectionState,
    /// The provider credentials (tokens, API key), sealed under the project's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Sealed>,
    /// When the access token in `credentials` expires (not secret; read without opening them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<Timestamp>,
    /// When that access token was obtained: with `token_expires_at`, its lifetime, which bounds
    /// how early it is refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_issued_at: Option<Timestamp>,
    /// The provider did not say when the token expires; `token_expires_at` is Latchkey's
    /// assumption, used to schedule refreshes and never reported as the provider's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token_expiry_assumed: bool,
    /// Counts the authorizations this connection has had: a new link (or update mode) replaces
    /// the grant and moves it, and connection access tokens minted for an earlier one stop working.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub grant_generation: u32,
    /// Scopes the provider granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Who is refreshing the credentials right now, and until when (single-flight across instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lease: Option<RefreshLease>,
    /// Refresh failures in a row (provider down); reset by a success.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refresh_failures: u32,
    /// No refresh is tried before this (the failure cooldown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_retry_at: Option<Timestamp>,
    /// Whether the sweep keeps this grant alive: an OAuth 2.0 grant with a refresh token. Set where
    /// credentials are stored; records from before it was kept count as refreshable, as the sweep
    /// then treated every OAuth 2.0 connection (it clears the flag where the connector says not).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub refreshable: bool,
    /// What the provider returned that callers need (instance URL, tenant id).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The values of the connector's fields, each checked against its kind: the only place the
    /// connector's URLs are filled from.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
    /// Names of metadata entries and fields whose values arrived through the end user's browser
    /// (a callback's query): the end user could have written them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub end_user_supplied: Vec<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl ConnectionState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Available => "available",
            ConnectionState::Added => "added",
            ConnectionState::Authorized => "authorized",
            ConnectionState::Callable => "callable",
            ConnectionState::Invalid => "invalid",
        }
    }
}

impl Connection {
    /// The sort-key prefix of every connection in a project partition.
    pub const SK_PREFIX: &'static str = "CONNECTION#";

    /// The natural key of the connection of `subject` at `connector` in a project environment.
    pub fn key_of(
        project_id: &ProjectId,
        environment: &EnvironmentName,
        connector: &ConnectorUid,
        subject: &Subject,
        installation_id: Option<&InstallationId>,
    ) -> Key {
        Key::new(Project::partition_of(project_id), format!("{}{environment}#{}#{connector}", Self::SK_PREFIX, subject.key_segment(installation_id)))
    }

    /// A callable connection of `subject` at `connector` with nothing granted yet: no credentials,
    /// no scopes, no refresh state.
    pub fn new(
        id: ConnectionId,
        project_id: ProjectId,
        environment: EnvironmentName,
        connector: ConnectorUid,
        subject: Subject,
        installation_id: Option<InstallationId>,
        now: Timestamp,
    ) -> Self {
        Connection {
            id,
            project_id,
            environment,
            connector,
            subject,
            end_user: None,
            installation_id,
            state: ConnectionState::Callable,
            credentials: None,
            token_expires_at: None,
            token_issued_at: None,
            token_expiry_assumed: false,
            grant_generation: 0,
            scopes: Vec::new(),
            refresh_lease: None,
            refresh_failures: 0,
            refresh_retry_at: None,
            refreshable: false,
            metadata: serde_json::Map::new(),
            fields: Default::default(),
            end_user_supplied: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The sort-key prefix of one end user's connections in an environment. The subject comes
    /// before the connector in the key so that listing a consumer's connections reads only theirs,
    /// however many other consumers the environment has.
    pub fn consumer_prefix(environment: &EnvironmentName, consumer_id: &ConsumerId) -> String {
        format!("{}{environment}#{}#", Self::SK_PREFIX, Subject::user(consumer_id.clone()).key_segment(None))
    }

    /// The key of the index record that maps a connection id to its natural key.
    pub fn id_key(id: &ConnectionId) -> Key {
        Key::new(format!("CONNECTION_ID#{id}"), "CONNECTION_ID")
    }

    /// How long the current access token lives, when both ends are known.
    pub fn token_lifetime_secs(&self) -> Option<i64> {
        match (self.token_issued_at, self.token_expires_at) {
            (Some(issued), Some(expires)) if expires.0 > issued.0 => Some(expires.0 - issued.0),
            _ => None,
        }
    }

    /// The binding its credentials are sealed with.
    pub fn credentials_binding(&self) -> Binding {
        Binding::new(format!("project:{}", self.project_id), &self.key(), "credentials")
    }

    /// Whether the sweep refreshes the token ahead of expiry at `now`: it expires within the
    /// window and lives long enough (or for an unknown time, as an imported one) that the new
    /// token outlives the next passes. Shorter-lived tokens are refreshed on demand.
    pub fn refresh_ahead(&self, now: Timestamp) -> bool {
        self.refresh_ahead_at().is_some_and(|at| at <= now)
    }

    fn refresh_ahead_at(&self) -> Option<Timestamp> {
        let lives_long = self.token_lifetime_secs().is_none_or(|lifetime| lifetime >= 2 * REFRESH_AHEAD_WINDOW_SECS);
        self.token_expires_at.filter(|_| lives_long).map(|at| at.plus_secs(-REFRESH_AHEAD_WINDOW_SECS))
    }

    /// When the sweep next has work on this connection: the refresh ahead of expiry or the
    /// keep-alive of an idle refresh token, whichever comes first, but not before a failure
    /// cooldown ends; none for a connection the sweep never refreshes (not callable, no
    /// credentials, nothing to refresh with). The one place this is derived: every write of a
    /// connection stores it (see [`Record::due`]).
    pub fn background_due(&self) -> Option<Timestamp> {
        if self.state != ConnectionState::Callable || self.credentials.is_none() || !self.refreshable {
            return None;
        }
        let keep_alive = self.updated_at.plus_secs(KEEP_ALIVE_SECS);
        let natural = self.refresh_ahead_at().map_or(keep_alive, |ahead| ahead.min(keep_alive));
        Some(self.refresh_retry_at.map_or(natural, |retry| retry.max(natural)))
    }

    /// The connector uid a connection's sort key ends with (the due index holds keys only).
    pub fn connector_in_key(key: &Key) -> Option<&str> {
        key.sk.strip_prefix(Self::SK_PREFIX)?.rsplit_once('#').map(|(_, connector)| connector)
    }
}

impl Record for Connection {
    fn key(&self) -> Key {
        Self::key_of(&self.project_id, &self.environment, &self.connector, &self.subject, self.installation_id.as_ref())
    }

    fn due(&self) -> Option<Due> {
        self.background_due().map(|at| Due { queue: DueQueue::Refresh, at })
    }
}

/// Maps a connection id to the connection's natural key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionIdIndex {
    /// The connection id.
    pub id: ConnectionId,
    /// Its project.
    pub project_id: ProjectId,
    /// Its natural sort key in the project partition.
    pub connection_sk: String,
}

impl ConnectionIdIndex {
    /// The index record of `connection`.
    pub fn of(connection: &Connection) -> Self {
        ConnectionIdIndex { id: connection.id.clone(), project_id: connection.project_id.clone(), connection_sk: connection.key().sk }
    }
}

impl Record for ConnectionIdIndex {
    fn key(&self) -> Key {
        Connection::id_key(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_prefix_covers_their_connections_and_no_one_elses() {
        let project = ProjectId::generate();
        let production = EnvironmentName::parse("production").unwrap();
        let connector = ConnectorUid::parse("keys/acme").unwrap();
        let user = |id: &str| ConsumerId::parse(id).unwrap();
        let key = |id: &str| Connection::key_of(&project, &production, &connector, &Subject::user(user(id)), None).sk;
        let prefix = Connection::consumer_prefix(&production, &user("user-1"));
        assert!(key("user-1").starts_with(&prefix));
        for other in ["user-10", "user-1#x", "user", "USER-1"] {
            assert!(!key(other).starts_with(&prefix), "{other}");
        }
        let staging = EnvironmentName::parse("staging").unwrap();
        assert!(!Connection::key_of(&project, &staging, &connector, &Subject::user(user("user-1")), None).sk.starts_with(&prefix));
        let tricky = Connection::key_of(&project, &production, &connector, &Subject::user(user("a#b/c%")), None);
        assert_eq!(Connection::connector_in_key(&tricky), Some("keys/acme"), "a subject cannot change the connector read from the key");
    }

    fn callable(issued: i64, expires: i64, updated: i64) -> Connection {
        serde_json::from_value(serde_json::json!({
            "id": "conn_t", "project_id": "prj_t", "environment": "production", "connector": "oidc/t",
            "subject": {"type": "user", "id": "u"}, "state": "callable", "created_at": 0, "updated_at": updated,
            "token_issued_at": issued, "token_expires_at": expires,
            "credentials": "sealed",
        }))
        .unwrap()
    }

    #[test]
    fn the_due_time_is_the_refresh_ahead_or_the_keep_alive_and_waits_out_a_cooldown() {
        let window = REFRESH_AHEAD_WINDOW_SECS;
        let hour = callable(0, 3600, 0);
        assert!(hour.refreshable, "a record from before the flag counts as refreshable");
        assert_eq!(hour.background_due(), Some(Timestamp(3600 - window)));
        assert_eq!(hour.due(), Some(Due { queue: DueQueue::Refresh, at: Timestamp(3600 - window) }));
        assert_eq!(callable(0, 60, 0).background_due(), Some(Timestamp(KEEP_ALIVE_SECS)), "a minute token: only the keep-alive");
        assert_eq!(callable(0, 30 * 86400, 100).background_due(), Some(Timestamp(100 + KEEP_ALIVE_SECS)), "a month token: kept alive first");
        let mut cooling = callable(0, 3600, 0);
        cooling.refresh_retry_at = Some(Timestamp(5000));
        assert_eq!(cooling.background_due(), Some(Timestamp(5000)));
        for change in
            [|c: &mut Connection| c.state = ConnectionState::Invalid, |c: &mut Connection| c.credentials = None, |c: &mut Connection| c.refreshable = false]
        {
            let mut c = callable(0, 3600, 0);
            change(&mut c);
            assert_eq!(c.background_due(), None);
            assert_eq!(crate::model::Record::to_item(&c).unwrap().due, None, "no due time, not in the index");
        }
        assert!(hour.refresh_ahead(Timestamp(3600 - window)) && !hour.refresh_ahead(Timestamp(3600 - window - 1)));
    }
}
