//! Many connections at once, written straight to the store as the link flow would leave them: the
//! population the sweep's tests and the harness's sweep section measure a pass over.

use futures::StreamExt;
use latchkey::model::{Connection, ConnectionId, ConnectorUid, ConsumerId, EnvironmentName, Key, ProjectId, Record, Subject};
use latchkey::oauth::Credentials;
use latchkey::{Ports, Timestamp};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long the fleet's access tokens live: an hour, so the sweep refreshes them ahead.
pub const LIFETIME_SECS: i64 = 3600;

/// The connection of consumer `user-{index}` at `connector`: a one-hour token that the sweep
/// finds due at `now` when `due` (ten minutes left, inside its window), and not otherwise (fifty
/// minutes left, written a minute ago).
pub async fn connection(ports: &Ports, project: &ProjectId, connector: &ConnectorUid, index: usize, due: bool, now: Timestamp) -> Result<Connection, Error> {
    let left = if due { 600 } else { 3000 };
    let written = now.plus_secs(-60);
    let subject = Subject::user(ConsumerId::parse(&format!("user-{index}"))?);
    let production = EnvironmentName::parse("production")?;
    let mut connection = Connection::new(ConnectionId::generate(), project.clone(), production, connector.clone(), subject, None, written);
    connection.token_expires_at = Some(now.plus_secs(left));
    connection.token_issued_at = Some(now.plus_secs(left - LIFETIME_SECS));
    connection.refreshable = true;
    let mut credentials = Credentials::default();
    credentials.access_token = Some(format!("access-{index}"));
    credentials.refresh_token = Some(format!("refresh-{index}-{}", connection.id));
    credentials.token_type = Some("Bearer".into());
    connection.credentials = Some(ports.keyring.seal(&connection.credentials_binding(), &credentials.to_sealable()).await?);
    Ok(connection)
}

/// Writes `count` connections of `connector`, every `due_every`-th of them due at `now` (none when
/// it is 0); answers the keys of the due ones. Writes go `parallel` at a time.
pub async fn seed(
    ports: &Ports,
    project: &ProjectId,
    connector: &ConnectorUid,
    count: usize,
    due_every: usize,
    now: Timestamp,
    parallel: usize,
) -> Result<Vec<Key>, Error> {
    let writes = futures::stream::iter(0..count).map(|index| async move {
        let due = due_every > 0 && index % due_every == 0;
        let connection = connection(ports, project, connector, index, due, now).await?;
        ports.store.put(&connection.to_item()?).await?;
        Ok::<_, Error>(due.then(|| connection.key()))
    });
    let written: Vec<Result<Option<Key>, Error>> = writes.buffer_unordered(parallel.max(1)).collect().await;
    let mut due = Vec::new();
    for result in written {
        due.extend(result?);
    }
    Ok(due)
}

/// Makes the connections at `keys` due at `now` again (after a pass refreshed them).
pub async fn make_due(ports: &Ports, keys: &[Key], now: Timestamp) -> Result<(), Error> {
    for key in keys {
        let mut stored = latchkey::model::Stored::<Connection>::get(ports.store.as_ref(), key).await?.ok_or("a due connection went away")?;
        stored.record.token_expires_at = Some(now.plus_secs(600));
        stored.record.token_issued_at = Some(now.plus_secs(600 - LIFETIME_SECS));
        stored.save(ports.store.as_ref()).await?;
    }
    Ok(())
}

/// Creates the OAuth connector `uid` whose token endpoint is `token_url` (a loopback
/// [`crate::relay::TokenEndpoint`]) and lets `project`'s production environment use it.
pub async fn oauth_connector(ports: &Ports, uid: &str, token_url: &str, project: &ProjectId) -> Result<ConnectorUid, Error> {
    use latchkey::admin::{self, NewConnector};
    use latchkey::model::{AuthMode, OAuthEndpoints, TokenAuthMethod};
    let oauth = OAuthEndpoints {
        authorize_url: token_url.replace("/token", "/authorize"),
        token_url: token_url.to_owned(),
        revoke_url: None,
        issuer: None,
        requires_iss: false,
        scope_separator: " ".into(),
        pkce: true,
        token_auth: TokenAuthMethod::ClientSecretPost,
        authorize_params: Default::default(),
        default_token_lifetime_secs: LIFETIME_SECS,
        refresh_buffer_secs: 300,
        revocation_scope: Default::default(),
    };
    let connector = NewConnector {
        uid: uid.into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        oauth: Some(oauth),
        client_id: Some("fleet-client".into()),
        client_secret: Some(latchkey::SecretString::new("fleet-secret")),
        default_scopes: Vec::new(),
        fields: Vec::new(),
    };
    admin::create_connector(ports, connector).await?;
    admin::link_connector(ports, uid, project, &["production".into()]).await?;
    Ok(ConnectorUid::parse(uid)?)
}
