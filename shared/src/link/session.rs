//! `POST /v1/sessions`: a Connect session for one consumer (Apideck Vault's shape).

use serde::Deserialize;

use crate::link::allowlist::allowed_redirect_url;
use crate::link::LinkError;
use crate::model::{ConnectorUid, ConsumerId, ConsumerMetadata, Project, Scope, SecretKeyLookup, SessionClaims, SessionSettings, Stored, Theme};
use crate::ports::Ports;
use crate::secret::{random_id, SecretString};

/// The audience of session tokens.
pub const SESSION_AUDIENCE: &str = "latchkey:session";
/// Sessions last an hour unless asked otherwise, and a week at most.
pub const DEFAULT_SESSION_SECS: i64 = 3600;
/// The longest session.
pub const MAX_SESSION_SECS: i64 = 7 * 24 * 3600;

/// The body of `POST /v1/sessions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The consumer (end user); or the `x-latchkey-consumer-id` header.
    #[serde(default)]
    pub consumer_id: Option<String>,
    /// What the page may show about the consumer.
    #[serde(default)]
    pub consumer_metadata: Option<ConsumerMetadata>,
    /// Where the page returns the browser (an allowed origin of the project).
    pub redirect_uri: String,
    /// How the page behaves.
    #[serde(default)]
    pub settings: SessionSettings,
    /// How the page looks.
    #[serde(default)]
    pub theme: Option<Theme>,
}

fn length_secs(raw: Option<&serde_json::Value>) -> Result<i64, LinkError> {
    let invalid = || LinkError::InvalidRequest("settings.session_length must be seconds or a duration like 30m, 2h or 7d, at most 7d".into());
    let secs = match raw {
        None => DEFAULT_SESSION_SECS,
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(invalid)?,
        Some(serde_json::Value::String(s)) => {
            let (number, unit) = s.split_at(s.len().saturating_sub(1));
            let n: i64 = number.parse().map_err(|_| invalid())?;
            n * match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86400,
                _ => return Err(invalid()),
            }
        }
        _ => return Err(invalid()),
    };
    if !(60..=MAX_SESSION_SECS).contains(&secs) {
        return Err(invalid());
    }
    Ok(secs)
}

/// A session: its token, when it ends, and the page URL.
#[derive(Debug)]
pub struct CreatedSession {
    /// The session token (a JWT).
    pub token: SecretString,
    /// Its claims.
    pub claims: SessionClaims,
}

/// Creates a session for the caller's project environment.
pub async fn create_session(ports: &Ports, caller: &SecretKeyLookup, consumer_id: String, request: SessionRequest) -> Result<CreatedSession, LinkError> {
    let consumer_id = ConsumerId::parse(&consumer_id).map_err(|_| {
        LinkError::InvalidRequest("give the consumer id (consumer_id or the x-latchkey-consumer-id header), 1 to 256 printable characters".into())
    })?;
    if !Scope::of_key(caller).allows(&consumer_id) {
        return Err(LinkError::SubjectNotAllowed);
    }
    let project = Stored::<Project>::get(ports.store.as_ref(), &Project::key_of(&caller.project_id)).await?.ok_or(LinkError::LinkTokenInvalid)?.record;
    let redirect_uri = allowed_redirect_url(&project, &request.redirect_uri)?;
    let settings = request.settings;
    for uid in &settings.allowed_connectors {
        ConnectorUid::parse(uid).map_err(|e| LinkError::InvalidRequest(e.to_string()))?;
    }
    if let Some(bad) = settings.unified_apis.iter().find(|c| !crate::catalog::CATEGORIES.contains(&c.as_str())) {
        return Err(LinkError::InvalidRequest(format!("unknown unified API {bad:?}")));
    }
    if let Some(theme) = &request.theme {
        if let Some(color) = &theme.primary_color {
            let hex = color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
            if !hex {
                return Err(LinkError::InvalidRequest("theme.primary_color must look like #2c5bd6".into()));
            }
        }
        if let Some(logo) = &theme.logo {
            allowed_redirect_url(&project, logo).map_err(|_| LinkError::InvalidRequest("theme.logo must be on an allowed origin".into()))?;
        }
    }
    let now = ports.clock.now().0;
    let claims = SessionClaims {
        iss: crate::session::jwt::ISSUER.into(),
        aud: SESSION_AUDIENCE.into(),
        exp: now + length_secs(settings.session_length.as_ref())?,
        iat: now,
        sid: random_id("ses"),
        sub: consumer_id,
        prj: project.id,
        env: caller.environment.clone(),
        redirect_uri,
        settings,
        theme: request.theme,
        consumer_metadata: request.consumer_metadata,
    };
    let token = crate::session::jwt::sign(ports, &claims).await?;
    Ok(CreatedSession { token, claims })
}
