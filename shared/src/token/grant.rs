//! The provider calls the broker makes: a refresh-token grant, client credentials, GitHub App
//! installation tokens, the JWT-bearer grant, and the narrowing ones (a narrowed refresh, an RFC 8693
//! token exchange, a GitHub installation token limited to repositories and permissions).

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
    /// A refresh that asks for a narrower access token: a smaller `scope` (RFC 6749 section 6),
    /// `resource` (RFC 8707), `authorization_details` (RFC 9396).
    NarrowedRefresh {
        /// The grant's refresh token.
        refresh_token: &'a str,
        /// The narrowing.
        narrow: Narrow<'a>,
    },
    /// RFC 8693: the grant's access token exchanged for a narrower one.
    TokenExchange {
        /// The access token to exchange.
        subject_token: &'a str,
        /// The narrowing (authorization details are not part of RFC 8693).
        narrow: Narrow<'a>,
    },
    /// A GitHub App installation token limited by `body` (`repositories`, `permissions`), the
    /// request body GitHub documents for the installation token endpoint.
    GithubNarrowed {
        /// The installation id.
        installation_id: &'a str,
        /// `{"repositories": [...], "permissions": {...}}`.
        body: &'a serde_json::Value,
    },
}

/// What a narrowing grant asks for beside the grant itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrow<'a> {
    /// Scopes, if fewer than the grant's.
    pub scopes: Option<&'a [String]>,
    /// Resource indicators, each sent as one `resource` parameter.
    pub resources: &'a [String],
    /// Authorization details as the JSON array text.
    pub authorization_details: Option<&'a str>,
}

/// RFC 8693's grant type and the token type of an OAuth access token.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

impl Grant<'_> {
    /// The scopes the grant asks for, if any.
    fn scopes(&self) -> Option<&[String]> {
        match self {
            Grant::ClientCredentials(scopes) | Grant::JwtBearer { scopes, .. } => Some(scopes),
            Grant::NarrowedRefresh { narrow, .. } | Grant::TokenExchange { narrow, .. } => narrow.scopes,
            _ => None,
        }
    }
}

/// The form of a grant a client authenticates for (everything but JWT bearer and GitHub).
fn form_of<'g>(grant: &'g Grant<'_>, scope: &'g str) -> Vec<(&'static str, &'g str)> {
    let mut form = match grant {
        Grant::Refresh(refresh_token) | Grant::NarrowedRefresh { refresh_token, .. } => {
            vec![("grant_type", "refresh_token"), ("refresh_token", *refresh_token)]
        }
        Grant::TokenExchange { subject_token, .. } => vec![
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", *subject_token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ],
        _ => vec![("grant_type", "client_credentials")],
    };
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    if let Grant::NarrowedRefresh { narrow, .. } | Grant::TokenExchange { narrow, .. } = grant {
        form.extend(narrow.resources.iter().map(|r| ("resource", r.as_str())));
        if let Some(details) = narrow.authorization_details {
            form.push(("authorization_details", details));
        }
    }
    form
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
/// With `body`, the token is limited to what it names; GitHub answers 422 when it names what the
/// installation cannot grant, which is a refusal of the narrowing.
async fn github_installation(ports: &Ports, connector: &Connector, installation_id: &str, body: Option<&serde_json::Value>) -> Result<TokenSet, GrantFailure> {
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
    let mut headers = vec![("accept", "application/vnd.github+json"), ("x-github-api-version", "2022-11-28")];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let text = body.map(serde_json::Value::to_string).unwrap_or_default();
    let response = ports.outbound.post(url, &headers, Some(&authorization), text).await.map_err(unavailable)?;
    let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    match response.status {
        201 | 200 => {
            let token = answer["token"].as_str().ok_or(GrantFailure::Unavailable { retry_after: None })?;
            let expires_at = answer["expires_at"]
                .as_str()
                .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
                .map(|t| crate::Timestamp(t.unix_timestamp()))
                .unwrap_or_else(|| ports.clock.now().plus_secs(oauth.default_token_lifetime_secs));
            let mut extra = serde_json::Map::new();
            for field in ["permissions", "repository_selection"] {
                if let Some(value) = answer.get(field) {
                    extra.insert(field.to_owned(), value.clone());
                }
            }
            if body.is_some() {
                // The repositories a narrowed token reaches, by full name (`owner/repo`).
                let names = answer["repositories"].as_array().into_iter().flatten().filter_map(|r| r["full_name"].as_str()).map(serde_json::Value::from);
                extra.insert("repositories".to_owned(), serde_json::Value::Array(names.collect()));
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
                authorization_details: None,
                field_values: Default::default(),
                extra,
            })
        }
        404 => Err(GrantFailure::Refused("installation_not_found".into())),
        422 if body.is_some() => Err(GrantFailure::Refused("unprocessable_narrowing".into())),
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
    match grant {
        Grant::GithubInstallation(installation_id) => return github_installation(ports, connector, installation_id, None).await,
        Grant::GithubNarrowed { installation_id, body } => return github_installation(ports, connector, installation_id, Some(body)).await,
        _ => {}
    }
    let oauth = connector.oauth.as_ref().ok_or_else(|| GrantFailure::Misconfigured("no OAuth endpoints".into()))?;
    let client_id = connector.client_id.as_deref().ok_or_else(|| GrantFailure::Misconfigured("no client id".into()))?;
    let token_url = crate::fields::fill(&oauth.token_url, fields).map_err(|e| GrantFailure::Misconfigured(e.to_string()))?.to_string();
    let scope_text = grant.scopes().map(|scopes| scopes.join(&oauth.scope_separator)).unwrap_or_default();
    if let Grant::JwtBearer { subject, .. } = &grant {
        return jwt_bearer(ports, connector, client_id, subject, &token_url, &scope_text).await;
    }
    let secret: Option<SecretString> = match &connector.client_secret {
        Some(sealed) => Some(ports.keyring.open_str(&Connector::client_secret_binding(&connector.uid), sealed).await.map_err(GrantFailure::Keyring)?),
        None => None,
    };
    let mut form: Vec<(&str, &str)> = form_of(&grant, &scope_text);
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

/// RFC 7523: an assertion about `subject`, which also authenticates the client (no secret goes
/// along).
async fn jwt_bearer(ports: &Ports, connector: &Connector, client_id: &str, subject: &str, token_url: &str, scope: &str) -> Result<TokenSet, GrantFailure> {
    let now = ports.clock.now().0;
    let claims = serde_json::json!({
        "iss": client_id, "sub": subject, "aud": token_url, "iat": now, "exp": now + 300,
        "jti": crate::secret::random_id("jti"),
    });
    let assertion = sign(ports, connector, &claims).await?;
    let mut form = vec![("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.expose())];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    finish(ports, connector, token_url, &form, None).await
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
