//! The provider's redirect back: `GET /v1/oauth/callback?code&state&iss` (or `error`).
//!
//! In order: the flow must have started in this browser (the binding cookie), checked before its
//! `state` is consumed, exactly once; its link token must still be live; the provider's `error` ends it; `iss`
//! must name the connector's issuer (RFC 9207); the code is redeemed with the PKCE verifier and
//! the exact redirect URI; the tokens are sealed into the connection; a public token is minted.

use std::collections::BTreeMap;

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
    /// The language the link asked for.
    pub lang: Option<String>,
    /// The connector's name, as the page showed it.
    pub connector_name: Option<String>,
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
    let key = OAuthFlow::key_of(&SecretString::new(raw_state.to_owned()).sha256_hex());
    let flow = match peek_flow(ports, &key).await {
        Ok(flow) => flow,
        Err(e) => return CallbackOutcome { target: None, result: Err(e) },
    };
    let target = ResultTarget {
        mode: flow.mode,
        origin: flow.origin.clone(),
        redirect_url: flow.redirect_url.clone(),
        lang: flow.lang.clone(),
        connector_name: flow.connector_name.clone(),
    };
    // The browser binding is checked before the state is consumed: a state replayed from another
    // browser must not burn the flow its owner is still finishing.
    let bound = browser_binding.is_some_and(|b| SecretString::new(b.to_owned()).sha256_hex() == flow.browser_hash);
    if !bound {
        tracing::info!(connector = %flow.connector, "callback from another browser refused");
        return CallbackOutcome { target: Some(target), result: Err(LinkError::StateMismatch) };
    }
    match ports.store.take(&key).await {
        Ok(Some(_)) => {}
        Ok(None) => return CallbackOutcome { target: None, result: Err(LinkError::StateInvalid) },
        Err(e) => return CallbackOutcome { target: None, result: Err(e.into()) },
    }
    let link = Stored::<LinkToken>::get(ports.store.as_ref(), &LinkToken::key_of(&flow.link_token_hash)).await;
    let link = match link {
        Ok(link) => link.map(|s| s.record).filter(|l| l.valid_until > ports.clock.now()),
        Err(e) => return CallbackOutcome { target: None, result: Err(e.into()) },
    };
    let result = match link {
        None => Err(LinkError::LinkTokenInvalid),
        Some(link) => finish(ports, &flow, &link, &params).await,
    };
    if let Err(error) = &result {
        tracing::info!(error = %error, connector = %flow.connector, "authorization not completed");
    }
    CallbackOutcome { target: Some(target), result }
}

async fn peek_flow(ports: &Ports, key: &crate::model::Key) -> Result<OAuthFlow, LinkError> {
    Ok(Stored::<OAuthFlow>::get(ports.store.as_ref(), key).await?.ok_or(LinkError::StateInvalid)?.record)
}

async fn finish(ports: &Ports, flow: &OAuthFlow, link: &LinkToken, params: &CallbackParams) -> Result<Connected, LinkError> {
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
    let (fields, end_user_supplied) = provider_fields(&connector, flow, &tokens)?;
    let ready = readiness == super::post_authorization::Readiness::Ready;
    let grant = Grant {
        credentials,
        token_expires_at: Some(tokens.expires_at),
        token_issued_at: Some(tokens.obtained_at),
        expiry_assumed: !tokens.expiry_from_provider,
        scopes,
        metadata: tokens.extra.clone(),
        fields,
        end_user_supplied,
        ready,
    };
    save_connection(ports, link, &connector, grant).await
}

/// The connection's field values: those the end user typed when the flow started, and those the
/// provider's response or the callback's query carry, each checked against its kind. Values that
/// came through the browser's query are recorded as end-user supplied.
fn provider_fields(connector: &Connector, flow: &OAuthFlow, tokens: &crate::oauth::TokenSet) -> Result<(BTreeMap<String, String>, Vec<String>), LinkError> {
    let mut values = flow.fields.clone();
    let mut end_user_supplied: Vec<String> =
        connector.metadata_paths.iter().filter(|(_, path)| path.starts_with("query:")).map(|(name, _)| name.clone()).collect();
    for field in connector.fields.iter().filter(|f| !f.entered_by_user()) {
        let Some(raw) = tokens.field_values.get(&field.name) else { continue };
        values.insert(field.name.clone(), crate::fields::value(field, raw)?);
        if field.from_callback() {
            end_user_supplied.push(field.name.clone());
        }
    }
    Ok((values, end_user_supplied))
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
    let token_url = crate::fields::fill(&oauth.token_url, &flow.fields)?.to_string();
    let response = ports.outbound.post_form(&token_url, &form, basic).await.map_err(|e| match e {
        ProviderError::Unavailable { retry_after, .. } => LinkError::ProviderUnavailable { retry_after },
        ProviderError::Unreachable(_) => LinkError::ProviderUnavailable { retry_after: None },
        ProviderError::Refused(refused) => LinkError::DestinationRefused(refused.to_string()),
    })?;
    let separator = oauth.scope_separator.as_str();
    let shape = ResponseShape { mapping: &connector.token_response, metadata: &connector.metadata_paths, query, fields: &connector.fields };
    let now = ports.clock.now();
    parse_shaped_token_response(response.status, &response.body, now, oauth.default_token_lifetime_secs, separator, shape).map_err(|e| match e {
        TokenError::Refused { error, .. } => LinkError::CodeExchangeFailed { error: error.chars().take(64).collect() },
        TokenError::Malformed(detail) => {
            tracing::warn!(connector = %connector.uid, detail = %detail, "malformed token response");
            LinkError::CodeExchangeFailed { error: "malformed_response".into() }
        }
    })
}
