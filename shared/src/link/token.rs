//! Minting link tokens.

use serde::Deserialize;

use super::allowlist::allowed_redirect_url;
use super::LinkError;
use crate::model::link::mint_token;
use crate::model::{
    Connection, ConnectionId, ConnectionIdIndex, Connector, ConnectorUid, ConsumerId, EndUser, LinkToken, Project, Record, Scope, SecretKeyLookup, Stored,
    Subject,
};
use crate::ports::Ports;
use crate::secret::SecretString;

/// The body of `POST /v1/link/token`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTokenRequest {
    /// Who is connecting.
    pub end_user: EndUserInput,
    /// Connector uids to offer (at most 100, duplicates ignored); every connector linked to this
    /// project environment when absent.
    #[serde(default)]
    pub connectors: Vec<String>,
    /// Update mode: re-authorize this existing connection.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// Where a full-page Connect returns the browser (an allowed origin of the project).
    #[serde(default)]
    pub redirect_url: Option<String>,
}

/// The end user, as the app knows them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndUserInput {
    /// The app's stable id for the user.
    pub id: String,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// Their name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A minted link token: shown to the caller once, stored as a hash.
#[derive(Debug)]
pub struct MintedLinkToken {
    /// The token.
    pub token: SecretString,
    /// Its record.
    pub record: LinkToken,
}

fn check_text(what: &str, value: &str, max: usize) -> Result<(), LinkError> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(LinkError::InvalidRequest(format!("{what} must be 1 to {max} printable characters")));
    }
    Ok(())
}

/// The most connectors one link token may name.
pub const MAX_LINK_CONNECTORS: usize = 100;

fn end_user(input: EndUserInput) -> Result<EndUser, LinkError> {
    check_text("end_user.id", &input.id, 256)?;
    let id = ConsumerId::parse(&input.id).map_err(|_| LinkError::InvalidRequest("end_user.id must be 1 to 256 printable characters".into()))?;
    if let Some(email) = &input.email {
        check_text("end_user.email", email, 320)?;
        if !email.contains('@') {
            return Err(LinkError::InvalidRequest("end_user.email is not an email address".into()));
        }
    }
    if let Some(name) = &input.display_name {
        check_text("end_user.display_name", name, 200)?;
    }
    Ok(EndUser { id, email: input.email, display_name: input.display_name })
}

/// A BCP 47 language tag as the Connect page takes it (`de`, `pt-BR`, `ja`): a 2 or 3 letter
/// language and optional subtags of 1 to 8 letters or digits, at most 35 characters.
pub fn language_tag(raw: &str) -> Result<String, LinkError> {
    let invalid = || LinkError::InvalidRequest("lang must be a language tag such as en, de, pt-BR or ja".into());
    let mut parts = raw.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok = (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if raw.len() > 35 || !primary_ok || !rest_ok {
        return Err(invalid());
    }
    Ok(raw.to_owned())
}

/// Mints a link token for the caller's project environment. Every field is checked before the one
/// write.
pub async fn create_link_token(ports: &Ports, caller: &SecretKeyLookup, request: LinkTokenRequest) -> Result<MintedLinkToken, LinkError> {
    create_link_token_in(ports, caller, request, None).await
}

/// [`create_link_token`] for a page that speaks `lang` (a BCP 47 tag) when it can.
pub async fn create_link_token_in(
    ports: &Ports,
    caller: &SecretKeyLookup,
    request: LinkTokenRequest,
    lang: Option<&str>,
) -> Result<MintedLinkToken, LinkError> {
    let lang = lang.map(language_tag).transpose()?;
    let end_user = end_user(request.end_user)?;
    if !Scope::of_key(caller).allows(&end_user.id) {
        return Err(LinkError::SubjectNotAllowed);
    }
    let mut uids: Vec<ConnectorUid> = Vec::new();
    for raw in &request.connectors {
        let uid = ConnectorUid::parse(raw).map_err(|e| LinkError::InvalidRequest(e.to_string()))?;
        if !uids.contains(&uid) {
            uids.push(uid);
        }
        // Checked before any read: a long list costs nothing but this refusal.
        if uids.len() > MAX_LINK_CONNECTORS {
            return Err(LinkError::InvalidRequest(format!("connectors names more than {MAX_LINK_CONNECTORS} connectors")));
        }
    }
    let update = request.connection_id.as_deref().map(|raw| ConnectionId::parse(raw).map_err(|_| LinkError::ConnectionNotFound)).transpose()?;
    let project = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&caller.project_id)).await?.ok_or(LinkError::LinkTokenInvalid)?.record;
    let redirect_url = request.redirect_url.as_deref().map(|raw| allowed_redirect_url(&project, raw)).transpose()?;
    let mut connectors = Vec::new();
    for uid in uids {
        let connector = Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(&uid)).await?;
        if !connector.is_some_and(|c| c.record.usable_by(&project.id, &caller.environment)) {
            return Err(LinkError::ConnectorNotAllowed);
        }
        connectors.push(uid);
    }
    let now = ports.clock.now();
    let ttl = if let Some(connection_id) = &update {
        let connection = update_target(ports, &project, caller, connection_id, &end_user).await?;
        connectors = vec![connection.connector];
        ports.settings.update_link_token_ttl_secs
    } else {
        ports.settings.link_token_ttl_secs
    };
    let token = mint_token(LinkToken::PREFIX);
    let record = LinkToken {
        hash: token.sha256_hex(),
        project_id: project.id,
        environment: caller.environment.clone(),
        end_user,
        connectors,
        connection_id: update,
        redirect_url,
        session: None,
        lang,
        created_at: now,
        valid_until: now.plus_secs(ttl),
    };
    ports.store.put_if_absent(&record.to_item()?.expiring_at(record.valid_until)).await?;
    Ok(MintedLinkToken { token, record })
}

/// The connection update mode re-authorizes: it must be this project environment's and this end
/// user's.
async fn update_target(
    ports: &Ports,
    project: &Project,
    caller: &SecretKeyLookup,
    connection_id: &ConnectionId,
    end_user: &EndUser,
) -> Result<Connection, LinkError> {
    let connection = resolve_connection(ports, connection_id).await?.ok_or(LinkError::ConnectionNotFound)?;
    let same_place = connection.project_id == project.id && connection.environment == caller.environment;
    if !same_place || connection.subject != Subject::user(end_user.id.clone()) {
        return Err(LinkError::ConnectionNotFound);
    }
    Ok(connection)
}

/// Reads a connection by its public id (two reads: the id index, then the connection).
pub async fn resolve_connection(ports: &Ports, connection_id: &ConnectionId) -> Result<Option<Connection>, LinkError> {
    let Some(index) = Stored::<ConnectionIdIndex>::get(ports.store.as_ref(), &Connection::id_key(connection_id)).await? else {
        return Ok(None);
    };
    let key = crate::store::Key::new(Project::partition_of(&index.record.project_id), index.record.connection_sk);
    Ok(Stored::<Connection>::get(ports.store.as_ref(), &key).await?.map(|s| s.record))
}

/// Finds the live link token `raw` names.
pub async fn find_link_token(ports: &Ports, raw: &str) -> Result<LinkToken, LinkError> {
    if raw.starts_with("eyJ") && raw.len() <= super::session::MAX_SESSION_TOKEN_BYTES {
        return link_for_session(ports, raw).await;
    }
    if !raw.starts_with(LinkToken::PREFIX) || raw.len() > 128 {
        return Err(LinkError::LinkTokenInvalid);
    }
    let hash = SecretString::new(raw.to_owned()).sha256_hex();
    let stored = Stored::<LinkToken>::get(ports.store.as_ref(), &LinkToken::key_of(&hash)).await?;
    // The store hides expired items; the record's own expiry is checked too, in case its item
    // expiry and record disagree.
    stored.map(|s| s.record).filter(|link| link.valid_until > ports.clock.now()).ok_or(LinkError::LinkTokenInvalid)
}

/// The link record a session token stands for, made on its first use: the page, its forms and the
/// callback then treat a session exactly like a link token (stored under the token's hash).
async fn link_for_session(ports: &Ports, raw: &str) -> Result<LinkToken, LinkError> {
    let hash = SecretString::new(raw.to_owned()).sha256_hex();
    if let Some(stored) = Stored::<LinkToken>::get(ports.store.as_ref(), &LinkToken::key_of(&hash)).await? {
        let live = stored.record.valid_until > ports.clock.now();
        return if live { Ok(stored.record) } else { Err(LinkError::LinkTokenInvalid) };
    }
    let claims: crate::model::SessionClaims =
        crate::session::jwt::verify(ports, raw, super::session::SESSION_AUDIENCE).await?.ok_or(LinkError::LinkTokenInvalid)?;
    let connectors = claims.settings.allowed_connectors.iter().filter_map(|c| ConnectorUid::parse(c).ok()).collect();
    let metadata = claims.consumer_metadata.clone().unwrap_or_default();
    let link = LinkToken {
        hash,
        project_id: claims.prj.clone(),
        environment: claims.env.clone(),
        end_user: EndUser { id: claims.sub.clone(), email: metadata.email, display_name: metadata.user_name },
        connectors,
        connection_id: None,
        redirect_url: Some(claims.redirect_uri.clone()),
        lang: claims.lang.clone(),
        created_at: ports.clock.now(),
        valid_until: crate::Timestamp(claims.exp),
        session: Some(claims),
    };
    match ports.store.put_if_absent(&link.to_item()?.expiring_at(link.valid_until)).await {
        Ok(()) | Err(crate::store::StoreError::ConditionFailed) => Ok(link),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::language_tag;

    #[test]
    fn language_tags_are_checked_not_guessed() {
        for good in ["en", "de", "pt-BR", "ja", "zh-Hant-TW", "gsw"] {
            assert_eq!(language_tag(good).unwrap(), good);
        }
        for bad in ["", "e", "english", "de_DE", "de-", "<script>", "pt-BRAZILIAN1", "en-US-x-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
            assert!(language_tag(bad).is_err(), "{bad}");
        }
    }
}
