//! The provider calls the broker makes: a refresh-token grant, or a client-credentials grant.

use crate::model::{Connector, TokenAuthMethod};
use crate::oauth::{parse_shaped_token_response, ResponseShape, TokenError as ResponseError, TokenSet};
use crate::outbound::ProviderError;
use crate::ports::Ports;
use crate::secret::SecretString;

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
    /// A GitHub App installation token for this installation id.
    GithubInstallation(&'a str),
    /// RFC 7523: an assertion about `subject`, with scopes.
    JwtBearer {
        /// The assertion's `sub`.
        subject: &'a str,
        /// Scopes to ask for.
        scopes: &'a [String],
    },
}

/// Signs an RS256 JWT with the connector's sealed private key.
async fn sign(ports: &Ports, connector: &Connector, claims: &serde_json::Value) -> Result<SecretString, GrantFailure> {
    let sealed = connector.client_secret.as_ref().ok_or_else(|| GrantFailure::Misconfigured("no private key".into()))?;
    let pem = ports.keyring.open(&Connector::client_secret_binding(&connector.uid), sealed).await.map_err(GrantFailure::Keyring)?;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose()).map_err(|_| GrantFailure::Misconfigured("the private key is not an RSA PEM".into()))?;
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, claims, &key).map(SecretString::new).map_err(|_| GrantFailure::Misconfigured("could not sign".into()))
}

/// A GitHub App installation token (`POST /app/installations/{id}/access_tokens` with the app JWT).
async fn github_installation(ports: &Ports, connector: &Connector, installation_id: &str) -> Result<TokenSet, GrantFailure> {
    let oauth = connector.oauth.as_ref().ok_or_else(|| GrantFailure::Misconfigured("no token URL".into()))?;
    let app_id = connector.client_id.as_deref().ok_or_else(|| GrantFailure::Misconfigured("no app id".into()))?;
    let now = ports.clock.now().0;
    // GitHub allows at most ten minutes; a minute back-dated absorbs clock drift (GitHub's advice).
    let claims = serde_json::json!({"iat": now - 60, "exp": now + 540, "iss": app_id});
    let jwt = sign(ports, connector, &claims).await?;
    let authorization = SecretString::new(format!("Bearer {}", jwt.expose()));
    let values = std::collections::BTreeMap::from([(crate::fields::INSTALLATION_ID.to_owned(), installation_id.to_owned())]);
    let url = crate::fields::fill(&oauth.token_url, &values).map_err(|e| GrantFailure::Misconfigured(e.to_string()))?;
    let url = url.as_str();
    let headers = [("accept", "application/vnd.github+json"), ("x-github-api-version", "2022-11-28")];
    let response = ports.outbound.post(url, &headers, Some(&authorization), String::new()).await.map_err(unavailable)?;
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    match response.status {
        201 | 200 => {
            let token = body["token"].as_str().ok_or(GrantFailure::Unavailable { retry_after: None })?;
            let expires_at = body["expires_at"]
                .as_str()
                .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
                .map(|t| crate::Timestamp(t.unix_timestamp()))
                .unwrap_or_else(|| ports.clock.now().plus_secs(oauth.default_token_lifetime_secs));
            let mut extra = serde_json::Map::new();
            for field in ["permissions", "repository_selection"] {
                if let Some(value) = body.get(field) {
                    extra.insert(field.to_owned(), value.clone());
                }
            }
            Ok(TokenSet {
                access_token: SecretString::new(token.to_owned()),
                refresh_token: None,
                id_token: None,
                user_access_token: None,
                token_type: "Bearer".into(),
                expires_at,
                expiry_from_provider: true,
                obtained_at: ports.clock.now(),
                scopes: None,
                field_values: Default::default(),
                extra,
            })
        }
        404 => Err(GrantFailure::Refused("installation_not_found".into())),
        _ => Err(GrantFailure::Misconfigured(format!("GitHub answered {} to the app JWT", response.status))),
    }
}

fn unavailable(error: ProviderError) -> GrantFailure {
    match error {
        ProviderError::Unavailable { status: 429, retry_after } => GrantFailure::RateLimited { retry_after },
        ProviderError::Unavailable { retry_after, .. } => GrantFailure::Unavailable { retry_after },
        ProviderError::Unreachable(_) => GrantFailure::Unavailable { retry_after: None },
        ProviderError::Refused(refused) => GrantFailure::Misconfigured(refused.to_string()),
    }
}

/// Calls the connector's token endpoint.
pub async fn request(
    ports: &Ports,
    connector: &Connector,
    grant: Grant<'_>,
    fields: &std::collections::BTreeMap<String, String>,
) -> Result<TokenSet, GrantFailure> {
    if let Grant::GithubInstallation(installation_id) = grant {
        return github_installation(ports, connector, installation_id).await;
    }
    let oauth = connector.oauth.as_ref().ok_or_else(|| GrantFailure::Misconfigured("no OAuth endpoints".into()))?;
    let client_id = connector.client_id.as_deref().ok_or_else(|| GrantFailure::Misconfigured("no client id".into()))?;
    let secret: Option<SecretString> = match &connector.client_secret {
        Some(sealed) => Some(ports.keyring.open_str(&Connector::client_secret_binding(&connector.uid), sealed).await.map_err(GrantFailure::Keyring)?),
        None => None,
    };
    let token_url = crate::fields::fill(&oauth.token_url, fields).map_err(|e| GrantFailure::Misconfigured(e.to_string()))?.to_string();
    let scope_text;
    let assertion;
    let mut form: Vec<(&str, &str)> = match &grant {
        Grant::GithubInstallation(_) => unreachable!("handled above"),
        Grant::JwtBearer { subject, scopes } => {
            let now = ports.clock.now().0;
            let claims = serde_json::json!({
                "iss": client_id, "sub": subject, "aud": token_url, "iat": now, "exp": now + 300,
                "jti": crate::secret::random_id("jti"),
            });
            assertion = sign(ports, connector, &claims).await?;
            scope_text = scopes.join(&oauth.scope_separator);
            let mut form = vec![("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.expose())];
            if !scopes.is_empty() {
                form.push(("scope", scope_text.as_str()));
            }
            // The assertion authenticates the client; no secret goes along.
            return finish(ports, connector, &token_url, &form, None).await;
        }
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
    finish(ports, connector, &token_url, &form, basic).await
}

/// Posts the grant and reads the token response.
async fn finish(
    ports: &Ports,
    connector: &Connector,
    token_url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &SecretString)>,
) -> Result<TokenSet, GrantFailure> {
    let oauth = connector.oauth.as_ref().ok_or_else(|| GrantFailure::Misconfigured("no OAuth endpoints".into()))?;
    let response = ports.outbound.post_form(token_url, form, basic).await.map_err(unavailable)?;
    let now = ports.clock.now();
    let query = std::collections::BTreeMap::new();
    let shape = ResponseShape { mapping: &connector.token_response, metadata: &connector.metadata_paths, query: &query, fields: &[] };
    parse_shaped_token_response(response.status, &response.body, now, oauth.default_token_lifetime_secs, &oauth.scope_separator, shape).map_err(|e| match e {
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
