//! The extra call some providers need after the token before a connection is usable: which site
//! (Atlassian's accessible resources), which organisation (Xero's tenant list), when the token
//! expires (Salesforce's introspection), or where the account lives (DocuSign's base URI).

use serde_json::Value;

use super::LinkError;
use crate::model::{Connector, PostAuthorization};
use crate::oauth::{at_path, TokenSet};
use crate::ports::Ports;
use crate::secret::SecretString;

/// Whether the connection is ready, or waits for the consumer to choose (a tenant, a site).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Callable now.
    Ready,
    /// Authorized; the consumer must choose one of several (the additional configuration step).
    NeedsChoice,
}

/// Runs the connector's post-authorization step, if it has one, into `tokens`' metadata/expiry.
pub async fn complete(ports: &Ports, connector: &Connector, tokens: &mut TokenSet) -> Result<Readiness, LinkError> {
    let Some(step) = &connector.post_authorization else { return Ok(Readiness::Ready) };
    let mut readiness = Readiness::Ready;
    let bearer = SecretString::new(format!("Bearer {}", tokens.access_token.expose()));
    match step {
        PostAuthorization::AccessibleResources { url, field } | PostAuthorization::TenantList { url, field } => {
            let (id_key, list_name) = match step {
                PostAuthorization::TenantList { .. } => ("tenantId", "tenants"),
                _ => ("id", "resources"),
            };
            let list = get(ports, url, &bearer).await?;
            let items = list.as_array().cloned().unwrap_or_default();
            let first = items
                .first()
                .and_then(|i| i.get(id_key))
                .cloned()
                .ok_or_else(|| LinkError::InvalidRequest("The account has no organisation or site this app can use.".into()))?;
            // One choice is no choice; several wait for the consumer (`authorized` until then).
            if items.len() == 1 {
                tokens.extra.insert(field.clone(), first);
            } else {
                readiness = Readiness::NeedsChoice;
            }
            // The list itself (ids and names only) lets the app offer the choice when there are several.
            let summary: Vec<Value> = items
                .iter()
                .map(|i| {
                    let name = i.get("tenantName").or_else(|| i.get("name")).cloned().unwrap_or(Value::Null);
                    serde_json::json!({"id": i.get(id_key), "name": name})
                })
                .collect();
            tokens.extra.insert(list_name.into(), Value::Array(summary));
        }
        PostAuthorization::Userinfo { url, field, path } => {
            let answer = get(ports, url, &bearer).await?;
            if let Some(found) = at_path(&answer, path).or_else(|| at_path(&answer, &format!("accounts.0.{path}"))) {
                tokens.extra.insert(field.clone(), found.clone());
            }
        }
        PostAuthorization::IntrospectionExpiry { url } => {
            let client_id = connector.client_id.as_deref().unwrap_or_default();
            let secret = match &connector.client_secret {
                Some(sealed) => Some(ports.keyring.open_str(&Connector::client_secret_binding(&connector.uid), sealed).await?),
                None => None,
            };
            let mut form = vec![("token", tokens.access_token.expose()), ("token_type_hint", "access_token")];
            if let Some(secret) = &secret {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret.expose()));
            }
            let response = ports.outbound.post_form(url, &form, None).await.map_err(|_| LinkError::ProviderUnavailable { retry_after: None })?;
            let answer: Value = serde_json::from_slice(&response.body).unwrap_or_default();
            if let Some(exp) = answer.get("exp").and_then(Value::as_i64).filter(|_| answer["active"] == true) {
                tokens.expires_at = crate::Timestamp(exp);
                tokens.expiry_from_provider = true;
            }
        }
    }
    Ok(readiness)
}

/// The choice a connector waits for: the metadata field it sets, and the list it offers.
pub fn choice_of(connector: &Connector) -> Option<(&str, &'static str)> {
    match &connector.post_authorization {
        Some(PostAuthorization::TenantList { field, .. }) => Some((field.as_str(), "tenants")),
        Some(PostAuthorization::AccessibleResources { field, .. }) => Some((field.as_str(), "resources")),
        _ => None,
    }
}

/// Completes the additional configuration step: `value` must be one of the offered ids.
pub async fn configure(
    ports: &Ports,
    connection_id: &crate::model::ConnectionId,
    project: &crate::model::ProjectId,
    value: &str,
) -> Result<crate::model::Connection, LinkError> {
    use crate::model::{Connection, ConnectionState, Record, Stored};
    let connection = super::token::resolve_connection(ports, connection_id).await?.filter(|c| &c.project_id == project).ok_or(LinkError::ConnectionNotFound)?;
    let connector =
        Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(&connection.connector)).await?.ok_or(LinkError::ConnectorNotAllowed)?.record;
    let (field, list) = choice_of(&connector).ok_or_else(|| LinkError::InvalidRequest("this connection has nothing to configure".into()))?;
    let offered = connection.metadata.get(list).and_then(Value::as_array).cloned().unwrap_or_default();
    let chosen = offered.iter().find_map(|o| o.get("id").filter(|id| id.as_str() == Some(value)).cloned());
    let chosen = chosen.ok_or_else(|| LinkError::InvalidRequest(format!("{value:?} is not one of the offered choices")))?;
    let mut stored = Stored::<Connection>::get(ports.store.as_ref(), &connection.key()).await?.ok_or(LinkError::ConnectionNotFound)?;
    stored.record.metadata.insert(field.to_owned(), chosen);
    let became_callable = stored.record.state == ConnectionState::Authorized;
    if became_callable {
        stored.record.state = ConnectionState::Callable;
    }
    stored.record.updated_at = ports.clock.now();
    stored.save(ports.store.as_ref()).await?;
    crate::events::emit(ports, crate::events::EventType::ConnectionUpdated, &stored.record, serde_json::json!({"configured": field})).await;
    if became_callable {
        crate::events::emit(ports, crate::events::EventType::ConnectionCallable, &stored.record, serde_json::json!({})).await;
    }
    Ok(stored.record)
}

async fn get(ports: &Ports, url: &str, bearer: &SecretString) -> Result<Value, LinkError> {
    ports.outbound.get_json_with(url, bearer).await.map_err(|_| LinkError::ProviderUnavailable { retry_after: None })
}
