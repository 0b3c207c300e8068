//! Adding, listing and removing a project's webhooks, and reading its delivery log.

use super::{project, AdminError};
use crate::model::{Delivery, EventType, Project, ProjectId, Stored, Webhook};
use crate::ports::Ports;
use crate::secret::{random_id, random_token, SecretString};

/// Subscribes `url` to `events` (all when empty); returns the webhook and its signing secret, shown once.
pub async fn add_webhook(ports: &Ports, project_id: &ProjectId, url: &str, events: &[String]) -> Result<(Webhook, SecretString), AdminError> {
    let parsed = url::Url::parse(url).map_err(|_| AdminError::Invalid(format!("invalid webhook URL {url:?}")))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) || !parsed.username().is_empty() {
        return Err(AdminError::Invalid("a webhook URL must be https (http only on loopback), without credentials".into()));
    }
    let events =
        events.iter().map(|e| EventType::parse(e).ok_or_else(|| AdminError::Invalid(format!("unknown event {e:?}")))).collect::<Result<Vec<_>, _>>()?;
    let mut stored = project(ports, project_id).await?;
    if stored.record.webhooks.len() >= 10 {
        return Err(AdminError::Invalid("a project has at most 10 webhooks".into()));
    }
    let id = random_id("wh");
    let secret = SecretString::new(format!("whsec_{}", random_token(32).expose()));
    let sealed = ports.keyring.seal_str(&Webhook::secret_binding(project_id, &id), &secret).await.map_err(crate::store::RecordError::from)?;
    let webhook = Webhook { id, url: parsed.to_string(), secret: sealed, events };
    stored.record.webhooks.push(webhook.clone());
    save(ports, &mut stored).await?;
    Ok((webhook, secret))
}

/// Unsubscribes a webhook.
pub async fn remove_webhook(ports: &Ports, project_id: &ProjectId, webhook_id: &str) -> Result<(), AdminError> {
    let mut stored = project(ports, project_id).await?;
    let before = stored.record.webhooks.len();
    stored.record.webhooks.retain(|w| w.id != webhook_id);
    if stored.record.webhooks.len() == before {
        return Err(AdminError::NotFound(format!("webhook {webhook_id}")));
    }
    save(ports, &mut stored).await
}

/// The project's delivery log, newest first.
pub async fn list_deliveries(ports: &Ports, project_id: &ProjectId) -> Result<Vec<Delivery>, AdminError> {
    project(ports, project_id).await?;
    let stored = Stored::<Delivery>::query(ports.store.as_ref(), &Project::partition_of(project_id), Delivery::SK_PREFIX).await?;
    Ok(stored.into_iter().rev().map(|s| s.record).collect())
}

async fn save(ports: &Ports, stored: &mut Stored<Project>) -> Result<(), AdminError> {
    match stored.save(ports.store.as_ref()).await {
        Ok(()) => Ok(()),
        Err(crate::store::RecordError::Store(crate::store::StoreError::ConditionFailed)) => {
            Err(AdminError::Conflict(format!("a concurrent change to project {}", stored.record.id)))
        }
        Err(e) => Err(e.into()),
    }
}
