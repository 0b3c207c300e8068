//! The provider calls the broker makes: a refresh-token grant, or a client-credentials grant.

use crate::model::{Connector, TokenAuthMethod};
use crate::oauth::{parse_token_response, ProviderError, TokenError as ResponseError, TokenSet};
use crate::secret::SecretString;
use crate::state::AppState;

/// How a grant failed.
#[derive(Debug)]
pub enum GrantFailure {
    /// The provider refused the grant (`invalid_grant`, `invalid_client`, ...): only a person can fix it.
    Refused(String),
    /// The provider is down or answered nonsense: try again later.
    Unavailable {
        /// Seconds the provider asked to wait.
        retry_after: Option<u64>,
    },
    /// The provider is rate limiting.
    RateLimited {
        /// Seconds the provider asked to wait.
        retry_after: Option<u64>,
    },
    /// The connector lacks what the grant needs.
    Misconfigured(String),
    /// Opening the client secret failed.
    Keyring(crate::keyring::KeyringError),
}

/// What to ask for.
pub enum Grant<'a> {
    /// `grant_type=refresh_token`.
    Refresh(&'a str),
    /// `grant_type=client_credentials`, with scopes.
    ClientCredentials(&'a [String]),
}

/// Calls the connector's token endpoint.
pub async fn request(state: &AppState, connector: &Connector, grant: Grant<'_>, fields: &std::collections::BTreeMap<String, String>) -> Result<TokenSet, GrantFailure> {
    let oauth = connector.oauth.as_ref().ok_or_else(|| GrantFailure::Misconfigured("no OAuth endpoints".into()))?;
    let client_id = connector.client_id.as_deref().ok_or_else(|| GrantFailure::Misconfigured("no client id".into()))?;
    let secret: Option<SecretString> = match &connector.client_secret {
        Some(sealed) => Some(state.keyring.open_str(&Connector::client_secret_binding(&connector.uid), sealed).await.map_err(GrantFailure::Keyring)?),
        None => None,
    };
    let scope_text;
    let mut form: Vec<(&str, &str)> = match &grant {
        Grant::Refresh(refresh_token) => vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        Grant::ClientCredentials(scopes) => {
            scope_text = scopes.join(&oauth.scope_separator);
            let mut form = vec![("grant_type", "client_credentials")];
            if !scopes.is_empty() {
                form.push(("scope", scope_text.as_str()));
            }
            form
        }
    };
    let basic = match (oauth.token_auth, &secret) {
        (TokenAuthMethod::ClientSecretBasic, Some(secret)) => Some((client_id, secret)),
        (_, secret) => {
            form.push(("client_id", client_id));
            if let Some(secret) = secret {
                form.push(("client_secret", secret.expose()));
            }
            None
        }
    };
    let token_url = crate::link::fields::fill(&oauth.token_url, fields).map_err(|e| GrantFailure::Misconfigured(e.to_string()))?;
    let response = state.provider.post_form(&token_url, &form, basic).await.map_err(|e| match e {
        ProviderError::Unavailable { status: 429, retry_after } => GrantFailure::RateLimited { retry_after },
        ProviderError::Unavailable { retry_after, .. } => GrantFailure::Unavailable { retry_after },
        ProviderError::Unreachable(_) => GrantFailure::Unavailable { retry_after: None },
    })?;
    let now = state.clock.now();
    parse_token_response(response.status, &response.body, now, oauth.default_token_lifetime_secs, &oauth.scope_separator).map_err(|e| match e {
        ResponseError::Refused { error, .. } if error == "temporarily_unavailable" || error == "server_error" => {
            GrantFailure::Unavailable { retry_after: response.retry_after }
        }
        ResponseError::Refused { error, .. } => GrantFailure::Refused(error),
        ResponseError::Malformed(detail) => {
            tracing::warn!(connector = %connector.uid, detail = %detail, "malformed token response");
            GrantFailure::Unavailable { retry_after: None }
        }
    })
}
