//! The provider's redirect back: `GET /v1/oauth/callback?code&state&iss` (or `error`).
//!
//! In order: the `state` is consumed exactly once; the flow must have started in this browser (the
//! binding cookie) and its link token must still be live; the provider's `error` ends it; `iss`
//! must name the connector's issuer (RFC 9207); the code is redeemed with the PKCE verifier and
//! the exact redirect URI; the tokens are sealed into the connection; a public token is minted.

use serde::Deserialize;

use super::connection::{save_connection, Connected, Grant};
use super::LinkError;
use crate::model::{ConnectMode, Connector, LinkToken, OAuthFlow, Stored, TokenAuthMethod};
use crate::oauth::{parse_shaped_token_response, Credentials, ResponseShape, TokenError};
use crate::outbound::ProviderError;
use crate::ports::Ports;
use crate::secret::SecretString;

/// The callback's query parameters.
#[derive(Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The state Latchkey sent.
    #[serde(default)]
    pub state: Option<String>,
    /// The issuer (RFC 9207).
    #[serde(default)]
    pub iss: Option<String>,
    /// An OAuth error.
    #[serde(default)]
    pub error: Option<String>,
    /// Every other parameter (QuickBooks' `realmId`, GitHub's `installation_id`); only those a
    /// connector names as metadata are kept.
    #[serde(flatten)]
    pub rest: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams").field("iss", &self.iss).field("error", &self.error).finish_non_exhaustive()
    }
}

/// Where the callback's result goes, known once the flow is found.
#[derive(Debug, Clone)]
pub struct ResultTarget {
    /// How the Connect page was opened.
    pub mode: ConnectMode,
    /// The app origin (modal).
    pub origin: Option<String>,
    /// The link's redirect URL (page mode).
    pub redirect_url: Option<String>,
}

/// The outcome, with where to deliver it (unknown when the state itself was bad).
#[derive(Debug)]
pub struct CallbackOutcome {
    /// Where the result goes.
    pub target: Option<ResultTarget>,
    /// The connection, or why not.
    pub result: Result<Connected, LinkError>,
}

/// Runs the callback.
pub async fn complete_authorization(ports: &Ports, params: CallbackParams, browser_binding: Option<&str>) -> CallbackOutcome {
    let Some(raw_state) = params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512) else {
        return CallbackOutcome { target: None, result: Err(LinkError::StateMissing) };
    };
    let flow = match take_flow(ports, raw_state).await {
        Ok(flow) => flow,
        Err(e) => return CallbackOutcome { target: None, result: Err(e) },
    };
    let link = Stored::<LinkToken>::get(ports.store.as_ref(), &LinkToken::key_of(&flow.link_token_hash)).await;
    let link = match link {
        Ok(link) => link.map(|s| s.record).filter(|l| l.valid_until > ports.clock.now()),
        Err(e) => return CallbackOutcome { target: None, result: Err(e.into()) },
    };
    let target = ResultTarget { mode: flow.mode, origin: flow.origin.clone(), redirect_url: flow.redirect_url.clone() };
    let result = match link {
        None => Err(LinkError::LinkTokenInvalid),
        Some(link) => finish(ports, &flow, &link, &params, browser_binding).await,
    };
    if let Err(error) = &result {
        tracing::info!(error = %error, connector = %flow.connector, "authorization not completed");
    }
    CallbackOutcome { target: Some(target), result }
}

async fn take_flow(ports: &Ports, raw_state: &str) -> Result<OAuthFlow, LinkError> {
    let hash = SecretString::new(raw_state.to_owned()).sha256_hex();
    let item = ports.store.take(&OAuthFlow::key_of(&hash)).await?.ok_or(LinkError::StateInvalid)?;
    Ok(Stored::<OAuthFlow>::from_item(item)?.record)
}

async fn finish(ports: &Ports, flow: &OAuthFlow, link: &LinkToken, params: &CallbackParams, browser_binding: Option<&str>) -> Result<Connected, LinkError> {
    let bound = browser_binding.is_some_and(|b| SecretString::new(b.to_owned()).sha256_hex() == flow.browser_hash);
    if !bound {
        return Err(LinkError::StateMismatch);
    }
    if let Some(error) = &params.error {
        return Err(LinkError::ProviderDenied { error: error.chars().take(64).collect() });
    }
    let connector = Stored::<Connector>::get(ports.store.as_ref(), &Connector::key_of(&flow.connector))
        .await?
        .map(|s| s.record)
        .filter(|c| c.usable_by(&link.project_id, &link.environment))
        .ok_or(LinkError::ConnectorNotAllowed)?;
    let oauth = connector.oauth.as_ref().ok_or_else(|| LinkError::ConnectorMisconfigured("no OAuth endpoints".into()))?;
    match (&params.iss, &oauth.issuer) {
        (Some(iss), Some(expected)) if iss != expected => return Err(LinkError::IssuerMismatch),
        (None, _) if oauth.requires_iss => return Err(LinkError::IssuerMismatch),
        _ => {}
    }
    let code = params.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| LinkError::InvalidRequest("the response has no code".into()))?;
    let mut tokens = redeem(ports, flow, &connector, code, &params.rest).await?;
    let readiness = super::post_authorization::complete(ports, &connector, &mut tokens).await?;
    let credentials = Credentials::from_tokens(&tokens, None);
    let scopes = tokens.scopes.clone().unwrap_or_else(|| flow.scopes.clone());
    let mut metadata = tokens.extra.clone();
    metadata.extend(flow.fields.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))));
    let ready = readiness == super::post_authorization::Readiness::Ready;
    let grant = Grant { credentials, token_expires_at: Some(tokens.expires_at), scopes, metadata, ready };
    save_connection(ports, link, &connector, grant).await
}

async fn redeem(
    ports: &Ports,
    flow: &OAuthFlow,
    connector: &Connector,
    code: &str,
    query: &std::collections::BTreeMap<String, String>,
) -> Result<crate::oauth::TokenSet, LinkError> {
    let oauth = connector.oauth.as_ref().ok_or_else(|| LinkError::ConnectorMisconfigured("no OAuth endpoints".into()))?;
    let client_id = connector.client_id.as_deref().ok_or_else(|| LinkError::ConnectorMisconfigured("no client id".into()))?;
    let client_secret = match &connector.client_secret {
        Some(sealed) => Some(ports.keyring.open_str(&Connector::client_secret_binding(&connector.uid), sealed).await?),
        None => None,
    };
    let verifier = match &flow.pkce_verifier {
        Some(sealed) => Some(ports.keyring.open_str(&OAuthFlow::verifier_binding(&flow.project_id, &flow.state_hash), sealed).await?),
        None => None,
    };
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &flow.redirect_uri)];
    if let Some(verifier) = &verifier {
        form.push(("code_verifier", verifier.expose()));
    }
    let basic = match (oauth.token_auth, &client_secret) {
        (TokenAuthMethod::ClientSecretBasic, Some(secret)) => Some((client_id, secret)),
        (TokenAuthMethod::ClientSecretPost, Some(secret)) => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret.expose()));
            None
        }
        (_, None) => {
            form.push(("client_id", client_id));
            None
        }
    };
    let token_url = crate::fields::fill(&oauth.token_url, &flow.fields)?;
    let response = ports.outbound.post_form(&token_url, &form, basic).await.map_err(|e| match e {
        ProviderError::Unavailable { retry_after, .. } => LinkError::ProviderUnavailable { retry_after },
        ProviderError::Unreachable(_) => LinkError::ProviderUnavailable { retry_after: None },
        ProviderError::Refused(refused) => LinkError::DestinationRefused(refused.to_string()),
    })?;
    let separator = oauth.scope_separator.as_str();
    let shape = ResponseShape { mapping: &connector.token_response, metadata: &connector.metadata_paths, query };
    let now = ports.clock.now();
    parse_shaped_token_response(response.status, &response.body, now, oauth.default_token_lifetime_secs, separator, shape).map_err(|e| match e {
        TokenError::Refused { error, .. } => LinkError::CodeExchangeFailed { error: error.chars().take(64).collect() },
        TokenError::Malformed(detail) => {
            tracing::warn!(connector = %connector.uid, detail = %detail, "malformed token response");
            LinkError::CodeExchangeFailed { error: "malformed_response".into() }
        }
    })
}
