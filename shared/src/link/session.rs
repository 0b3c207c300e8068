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
    /// The language the page speaks (a BCP 47 tag such as `de` or `pt-BR`) when it can; the
    /// browser's `Accept-Language` otherwise, then English.
    #[serde(default)]
    pub lang: Option<String>,
}

/// The length of a session in seconds: a number, or digits and a unit (`30m`, `2h`, `7d`); from a
/// minute to a week. Total: any input is a length or a refusal, never a panic or an overflow.
fn length_secs(raw: Option<&serde_json::Value>) -> Result<i64, LinkError> {
    let invalid = || LinkError::InvalidRequest("settings.session_length must be seconds or a duration like 30m, 2h or 7d, at most 7d".into());
    let secs = match raw {
        None => DEFAULT_SESSION_SECS,
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(invalid)?,
        Some(serde_json::Value::String(s)) => {
            let unit = match s.chars().last() {
                Some('s') => 1,
                Some('m') => 60,
                Some('h') => 3600,
                Some('d') => 86400,
                _ => return Err(invalid()),
            };
            let digits = &s[..s.len() - 1];
            if digits.is_empty() || digits.len() > 9 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid());
            }
            digits.parse::<i64>().ok().and_then(|n| n.checked_mul(unit)).ok_or_else(invalid)?
        }
        _ => return Err(invalid()),
    };
    if !(60..=MAX_SESSION_SECS).contains(&secs) {
        return Err(invalid());
    }
    Ok(secs)
}

/// The longest session token the Connect page opens; a session whose token would be longer is
/// refused when it is made, so every session `POST /v1/sessions` accepts opens.
pub const MAX_SESSION_TOKEN_BYTES: usize = 8192;

fn check_text(what: &str, value: Option<&str>, max: usize) -> Result<(), LinkError> {
    match value {
        Some(v) if v.is_empty() || v.len() > max || v.chars().any(char::is_control) => {
            Err(LinkError::InvalidRequest(format!("{what} must be 1 to {max} printable characters")))
        }
        _ => Ok(()),
    }
}

/// The limits on what a session carries, checked before anything is read.
fn check_limits(request: &SessionRequest) -> Result<(), LinkError> {
    let settings = &request.settings;
    if settings.allowed_connectors.len() > 100 || settings.unified_apis.len() > 30 || settings.allow_actions.len() > 3 {
        return Err(LinkError::InvalidRequest("settings lists at most 100 connectors and 30 unified APIs".into()));
    }
    if let Some(metadata) = &request.consumer_metadata {
        check_text("consumer_metadata.account_name", metadata.account_name.as_deref(), 200)?;
        check_text("consumer_metadata.user_name", metadata.user_name.as_deref(), 200)?;
        check_text("consumer_metadata.email", metadata.email.as_deref(), 320)?;
    }
    if let Some(theme) = &request.theme {
        check_text("theme.name", theme.name.as_deref(), 80)?;
        check_text("theme.logo", theme.logo.as_deref(), 2048)?;
    }
    Ok(())
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
    check_limits(&request)?;
    let lang = request.lang.as_deref().map(super::token::language_tag).transpose()?;
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
        lang,
    };
    let token = crate::session::jwt::sign(ports, &claims).await?;
    if token.expose().len() > MAX_SESSION_TOKEN_BYTES {
        return Err(LinkError::InvalidRequest(format!("the session carries too much to fit a {MAX_SESSION_TOKEN_BYTES}-byte token; name fewer connectors")));
    }
    Ok(CreatedSession { token, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lengths_parse_totally() {
        let length = |v: serde_json::Value| length_secs(Some(&v));
        assert_eq!(length(serde_json::json!("30m")).unwrap(), 1800);
        assert_eq!(length(serde_json::json!(3600)).unwrap(), 3600);
        for bad in ["5é", "é", "", "d", "106751991167301d", "99999999999999999999s", "-5m", "+5m", "1.5h", "8d", "59s"] {
            assert!(length(serde_json::json!(bad)).is_err(), "{bad}");
        }
        assert!(length(serde_json::json!(i64::MAX)).is_err());
        assert!(length(serde_json::json!(-60)).is_err());
    }
}
