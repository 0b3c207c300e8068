//! `POST /v1/sessions`: a Connect session for one consumer (Apideck Vault's shape).

use serde::{Deserialize, Serialize};

use crate::link::allowlist::allowed_redirect_url;
use crate::link::LinkError;
use crate::model::{ConnectorUid, EnvironmentName, ProjectId, SecretKeyLookup};
use crate::secret::{random_id, SecretString};
use crate::state::AppState;

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

/// What the page may show about the consumer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerMetadata {
    /// Their account or company name.
    #[serde(default)]
    pub account_name: Option<String>,
    /// Their name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
}

/// A session's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// Send the browser to `redirect_uri` once a connection is callable.
    pub auto_redirect: bool,
    /// Deep links show only their connector, with no way back to the overview.
    pub isolation_mode: bool,
    /// Only these connectors (uids).
    pub allowed_connectors: Vec<String>,
    /// Only these unified APIs (catalog categories: crm, accounting, ...).
    pub unified_apis: Vec<String>,
    /// Seconds the session lasts (default 3600, at most a week); or a duration like "30m", "2h", "7d".
    #[schema(value_type = Option<String>)]
    pub session_length: Option<serde_json::Value>,
    /// Show the list of connectors beside a deep-linked one.
    pub show_sidebar: bool,
    /// Hide per-connection settings.
    pub hide_resource_settings: bool,
    /// What the consumer may do to an existing connection: reauthorize, disconnect, delete.
    pub allow_actions: Vec<String>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            auto_redirect: false,
            isolation_mode: false,
            allowed_connectors: Vec::new(),
            unified_apis: Vec::new(),
            session_length: None,
            show_sidebar: true,
            hide_resource_settings: false,
            allow_actions: vec!["reauthorize".into(), "disconnect".into(), "delete".into()],
        }
    }
}

/// How the page looks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// The app's name, shown in the heading.
    #[serde(default)]
    pub name: Option<String>,
    /// The app's logo (an https URL on the project's allowlist, shown as an image).
    #[serde(default)]
    pub logo: Option<String>,
    /// `#rrggbb`.
    #[serde(default)]
    pub primary_color: Option<String>,
}

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Session id.
    pub sid: String,
    /// The consumer.
    pub sub: String,
    /// The project.
    pub prj: ProjectId,
    /// The environment.
    pub env: EnvironmentName,
    /// Where to return.
    pub redirect_uri: String,
    /// Settings.
    pub settings: SessionSettings,
    /// Theme.
    #[serde(default)]
    pub theme: Option<Theme>,
    /// Consumer metadata.
    #[serde(default)]
    pub consumer_metadata: Option<ConsumerMetadata>,
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
pub async fn create_session(state: &AppState, caller: &SecretKeyLookup, consumer_id: String, request: SessionRequest) -> Result<CreatedSession, LinkError> {
    let consumer_id = crate::connections::consumer(Some(&consumer_id))?;
    let project = crate::admin::project(state, &caller.project_id).await.map_err(|_| LinkError::LinkTokenInvalid)?.record;
    let redirect_uri = allowed_redirect_url(&project, &request.redirect_uri)?;
    let settings = request.settings;
    if let Some(bad) = settings.allow_actions.iter().find(|a| !["reauthorize", "disconnect", "delete"].contains(&a.as_str())) {
        return Err(LinkError::InvalidRequest(format!("unknown action {bad:?} in settings.allow_actions")));
    }
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
    let now = state.clock.now().0;
    let claims = SessionClaims {
        iss: super::jwt::ISSUER.into(),
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
    let token = super::jwt::sign(state, &claims).await?;
    Ok(CreatedSession { token, claims })
}
