//! `authorize_url`: a signed, expiring link that starts a consumer's authorization of one
//! connector without a session, and accepts an appended `redirect_uri` (checked on use).

use crate::link::LinkError;
pub use crate::model::{AuthorizeClaims, AUTHORIZE_AUDIENCE};
use crate::model::{Connector, ConsumerId, SecretKeyLookup};
use crate::ports::Ports;
use crate::session::jwt;

/// The authorize URL for `consumer_id` at `connector`, valid for an hour.
pub async fn authorize_link(ports: &Ports, caller: &SecretKeyLookup, consumer_id: &ConsumerId, connector: &Connector, base: &str) -> Result<String, LinkError> {
    let claims = AuthorizeClaims {
        iss: jwt::ISSUER.into(),
        aud: AUTHORIZE_AUDIENCE.into(),
        exp: ports.clock.now().0 + 3600,
        sub: consumer_id.clone(),
        prj: caller.project_id.clone(),
        env: caller.environment.clone(),
        connector: connector.uid.to_string(),
    };
    let token = jwt::sign(ports, &claims).await?;
    let mut url = url::Url::parse(&format!("{base}/connect/authorize")).map_err(|e| LinkError::InvalidRequest(e.to_string()))?;
    url.query_pairs_mut().append_pair("token", token.expose());
    Ok(url.to_string())
}
