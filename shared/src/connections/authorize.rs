//! `authorize_url`: a signed, expiring link that starts a consumer's authorization of one
//! connector without a session, and accepts an appended `redirect_uri` (checked on use).

use serde::{Deserialize, Serialize};

use crate::link::LinkError;
use crate::model::{Connector, EnvironmentName, ProjectId, SecretKeyLookup};
use crate::session::jwt;
use crate::state::AppState;

/// The audience of authorize links.
pub const AUTHORIZE_AUDIENCE: &str = "latchkey:authorize";

/// What an authorize link says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (epoch seconds).
    pub exp: i64,
    /// The consumer.
    pub sub: String,
    /// The project.
    pub prj: ProjectId,
    /// The environment.
    pub env: EnvironmentName,
    /// The connector.
    pub connector: String,
}

/// The authorize URL for `consumer_id` at `connector`, valid for an hour.
pub async fn authorize_link(state: &AppState, caller: &SecretKeyLookup, consumer_id: &str, connector: &Connector, base: &str) -> Result<String, LinkError> {
    let claims = AuthorizeClaims {
        iss: jwt::ISSUER.into(),
        aud: AUTHORIZE_AUDIENCE.into(),
        exp: state.clock.now().0 + 3600,
        sub: consumer_id.to_owned(),
        prj: caller.project_id.clone(),
        env: caller.environment.clone(),
        connector: connector.uid.to_string(),
    };
    let token = jwt::sign(state, &claims).await?;
    let mut url = url::Url::parse(&format!("{base}/connect/authorize")).map_err(|e| LinkError::InvalidRequest(e.to_string()))?;
    url.query_pairs_mut().append_pair("token", token.expose());
    Ok(url.to_string())
}
