//! `POST /v1/operator/connectors`: the operator creates a connector over HTTP, as
//! `latchkey connectors create` does from a terminal: from the catalog, from a discovery document,
//! or from explicit endpoints, with typed fields, the proxy's API block, the token-response
//! mapping, narrowing, credential labels and the refresh buffer, every part checked as a catalog
//! entry is. Only the operator token of the configuration opens it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use latchkey::admin::{self, CustomConnector, Endpoints, Quirks};
use latchkey::model::{ApiSpec, AuthMode, ConnectionField, Connector, FieldKind, Narrowing, OAuthEndpoints, ProjectId, RevocationScope, TokenAuthMethod};
use latchkey::{Ports, SecretString};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, OperatorCaller};

/// A connector to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectorRequest {
    /// `provider/name`.
    pub uid: String,
    /// The name people see on the Connect page.
    #[serde(default)]
    pub name: Option<String>,
    /// A catalog provider (`GET /v1/providers`): everything but the client comes from its entry.
    #[serde(default)]
    pub provider: Option<String>,
    /// How connections are authorized (custom connectors; `oauth2` when absent).
    #[serde(default)]
    pub auth_mode: Option<AuthMode>,
    /// An OpenID Connect or RFC 8414 discovery document to read the endpoints from.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// The endpoints, given.
    #[serde(default)]
    pub endpoints: Option<EndpointsInput>,
    /// The OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret (or a signing key's PEM); sealed, never shown again.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    /// Scopes asked for when a link names none.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Values a connection needs, with their kinds (custom connectors).
    #[serde(default)]
    pub fields: Vec<FieldInput>,
    /// How the proxy calls the provider's API (custom connectors).
    #[serde(default)]
    pub api: Option<ApiSpec>,
    /// Where the tokens sit in the token response, by RFC 6749 name (`access_token`:
    /// `authed_user.access_token`; `-` where absent).
    #[serde(default)]
    pub token_response: BTreeMap<String, String>,
    /// Non-secret values to keep: name → dot path, or `query:<param>`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// How its tokens can be narrowed.
    #[serde(default)]
    pub narrowing: Vec<Narrowing>,
    /// What the Connect page's form calls the credential's parts (`api_key`, `username`, `password`).
    #[serde(default)]
    pub credential_labels: BTreeMap<String, String>,
    /// Refresh this long before expiry (0 to 86400; at most a third of a token's lifetime).
    #[serde(default)]
    pub refresh_buffer_secs: Option<i64>,
    /// What a revocation at the provider ends.
    #[serde(default)]
    pub revocation_scope: Option<RevocationScope>,
    /// Project environments that may use it.
    #[serde(default)]
    pub links: Vec<LinkInput>,
}

/// Given OAuth endpoints.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointsInput {
    /// The authorization endpoint (templated with fields).
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revoke_url: Option<String>,
    /// The issuer an authorization response's `iss` must name.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Refuse authorization responses without `iss`.
    #[serde(default)]
    pub requires_iss: bool,
    /// Use PKCE S256 (default true).
    #[serde(default)]
    pub pkce: Option<bool>,
    /// Client authentication at the token endpoint (default `client_secret_basic`).
    #[serde(default)]
    pub token_auth: Option<TokenAuthMethod>,
    /// How scopes are joined (default a space).
    #[serde(default)]
    pub scope_separator: Option<String>,
    /// Extra authorization parameters.
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Lifetime to assume when a token response has no `expires_in` (default 3600).
    #[serde(default)]
    pub default_token_lifetime_secs: Option<i64>,
}

/// A connection field (shared/catalog/SCHEMA.md, "Field kinds").
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    /// The placeholder name (`subdomain` fills `{subdomain}`).
    pub name: String,
    /// What the Connect page calls it.
    pub label: String,
    /// What a value may be.
    #[serde(default)]
    pub kind: FieldKindName,
    /// The values a `choice` takes.
    #[serde(default)]
    pub choices: Vec<String>,
    /// The suffixes a `host` or `url` ends in (`.okta.com`).
    #[serde(default)]
    pub suffixes: Vec<String>,
    /// A `segment` of digits only.
    #[serde(default)]
    pub numeric: bool,
    /// Where the value comes from when the person does not type it (a dot path, `query:<param>`).
    #[serde(default)]
    pub from: Option<String>,
}

/// A field's kind.
#[derive(Deserialize, ToSchema, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum FieldKindName {
    /// One DNS label, before a fixed suffix.
    #[default]
    Label,
    /// One of `choices`.
    Choice,
    /// A host ending in one of `suffixes`.
    Host,
    /// An https origin on one of `suffixes`.
    Url,
    /// One path segment.
    Segment,
}

/// A project's environments that may use the connector.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// The project.
    pub project_id: String,
    /// Its environments.
    pub environments: Vec<String>,
}

/// A connector as the operator route answers it (never its secret).
#[derive(Serialize, ToSchema)]
pub struct ConnectorCreated {
    /// `provider/name`.
    pub uid: String,
    /// The catalog provider, or the uid's provider part.
    pub provider: String,
    /// How connections are authorized.
    pub auth_mode: AuthMode,
    /// The client id.
    pub client_id: Option<String>,
    /// Whether a secret is sealed with it.
    pub has_client_secret: bool,
    /// Scopes asked for by default.
    pub default_scopes: Vec<String>,
    /// Its fields' names.
    pub fields: Vec<String>,
    /// Refresh this long before expiry.
    pub refresh_buffer_secs: Option<i64>,
    /// Whether the proxy can call its API.
    pub has_api: bool,
    /// The projects that may use it.
    pub projects: Vec<String>,
}

impl From<&Connector> for ConnectorCreated {
    fn from(c: &Connector) -> Self {
        ConnectorCreated {
            uid: c.uid.to_string(),
            provider: c.provider.clone(),
            auth_mode: c.auth_mode,
            client_id: c.client_id.clone(),
            has_client_secret: c.client_secret.is_some(),
            default_scopes: c.default_scopes.clone(),
            fields: c.fields.iter().map(|f| f.name.clone()).collect(),
            refresh_buffer_secs: c.oauth.as_ref().map(|o| o.refresh_buffer_secs),
            has_api: c.api.is_some(),
            projects: c.links.iter().map(|l| l.project_id.to_string()).collect(),
        }
    }
}

fn field(input: FieldInput) -> ConnectionField {
    let kind = match input.kind {
        FieldKindName::Label => FieldKind::Label,
        FieldKindName::Choice => FieldKind::Choice(input.choices),
        FieldKindName::Host => FieldKind::Host(input.suffixes),
        FieldKindName::Url => FieldKind::Url(input.suffixes),
        FieldKindName::Segment => FieldKind::Segment { numeric: input.numeric },
    };
    ConnectionField { name: input.name, label: input.label, kind, from: input.from }
}

fn endpoints(input: EndpointsInput) -> OAuthEndpoints {
    OAuthEndpoints {
        authorize_url: input.authorize_url,
        token_url: input.token_url,
        revoke_url: input.revoke_url,
        issuer: input.issuer,
        requires_iss: input.requires_iss,
        scope_separator: input.scope_separator.unwrap_or_else(|| " ".into()),
        pkce: input.pkce.unwrap_or(true),
        token_auth: input.token_auth.unwrap_or_default(),
        authorize_params: input.authorize_params,
        default_token_lifetime_secs: input.default_token_lifetime_secs.unwrap_or(latchkey::model::DEFAULT_TOKEN_LIFETIME_SECS),
        refresh_buffer_secs: latchkey::model::DEFAULT_REFRESH_BUFFER_SECS,
        revocation_scope: RevocationScope::Token,
    }
}

/// The request as the custom connector it describes.
fn custom(body: CreateConnectorRequest) -> Result<CustomConnector, ApiError> {
    let endpoints = match (body.discovery_url, body.endpoints) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("give discovery_url or endpoints, not both")),
        (Some(url), None) => Endpoints::Discovery(url),
        (None, Some(given)) => Endpoints::Given(endpoints(given)),
        (None, None) => Endpoints::None,
    };
    let quirks = Quirks {
        token_response: admin::token_mapping(&body.token_response)?,
        metadata_paths: body.metadata,
        post_authorization: None,
        api: body.api,
        narrowing: body.narrowing,
        credential_labels: body.credential_labels,
    };
    Ok(CustomConnector {
        uid: body.uid,
        display_name: body.name,
        auth_mode: body.auth_mode.unwrap_or(AuthMode::OAuth2),
        endpoints,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
        fields: body.fields.into_iter().map(field).collect(),
        quirks,
        refresh_buffer_secs: body.refresh_buffer_secs,
        revocation_scope: body.revocation_scope,
    })
}

/// A catalog connector: the entry gives everything the request may not.
async fn from_catalog(ports: &Ports, provider: &str, body: CreateConnectorRequest) -> Result<Connector, ApiError> {
    let custom_only = body.auth_mode.is_some()
        || body.discovery_url.is_some()
        || body.endpoints.is_some()
        || !body.fields.is_empty()
        || body.api.is_some()
        || !body.token_response.is_empty()
        || !body.metadata.is_empty()
        || !body.narrowing.is_empty()
        || !body.credential_labels.is_empty();
    if custom_only {
        return Err(ApiError::invalid("a catalog connector takes its endpoints, fields and quirks from the catalog: give only the client, scopes and tuning"));
    }
    let connector = admin::create_catalog_connector(ports, &body.uid, provider, body.client_id, body.client_secret, body.scopes).await?;
    if body.refresh_buffer_secs.is_none() && body.revocation_scope.is_none() {
        return Ok(connector);
    }
    let tuning = admin::ConnectorChanges { refresh_buffer_secs: body.refresh_buffer_secs, revocation_scope: body.revocation_scope, ..Default::default() };
    Ok(admin::update_connector(ports, &body.uid, tuning).await?)
}

/// `POST /v1/operator/connectors`: create a connector (operator token).
#[utoipa::path(post, path = "/v1/operator/connectors", tag = "operator", request_body = CreateConnectorRequest,
    security(("operator_token" = [])),
    responses((status = 201, description = "Created", body = ConnectorCreated),
              (status = 400, description = "invalid_request, invalid_json: nothing was created", body = ErrorBody),
              (status = 401, description = "unauthenticated: not the operator token, or none is configured", body = ErrorBody),
              (status = 404, description = "not_found: the catalog provider, or a linked project or environment", body = ErrorBody),
              (status = 409, description = "conflict: the connector exists", body = ErrorBody)))]
pub async fn create_connector(
    State(ports): State<Ports>,
    _operator: OperatorCaller,
    ApiJson(body): ApiJson<CreateConnectorRequest>,
) -> Result<(StatusCode, Json<ConnectorCreated>), ApiError> {
    if body.links.len() > 20 {
        return Err(ApiError::invalid("links names at most 20 projects"));
    }
    // Every link is checked before the connector is written, so a refused one leaves nothing.
    let mut links = Vec::new();
    for link in &body.links {
        let project = ProjectId::parse(&link.project_id).map_err(|e| ApiError::from(admin::AdminError::from(e)))?;
        let record = admin::project(&ports, &project).await?.record;
        for raw in &link.environments {
            let environment = latchkey::model::EnvironmentName::parse(raw).map_err(|e| ApiError::from(admin::AdminError::from(e)))?;
            if !record.has_environment(&environment) {
                return Err(admin::AdminError::NotFound(format!("environment {environment} in project {project}")).into());
            }
        }
        if link.environments.is_empty() {
            return Err(ApiError::invalid("a link names at least one environment"));
        }
        links.push((project, link.environments.clone()));
    }
    let uid = body.uid.clone();
    let mut connector = match body.provider.clone() {
        Some(provider) => from_catalog(&ports, &provider, body).await?,
        None => admin::create_custom_connector(&ports, custom(body)?).await?,
    };
    for (project, environments) in links {
        connector = admin::link_connector(&ports, &uid, &project, &environments).await?;
    }
    tracing::info!(connector = %connector.uid, "connector created by the operator route");
    Ok((StatusCode::CREATED, Json(ConnectorCreated::from(&connector))))
}
