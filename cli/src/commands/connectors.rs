//! `latchkey connectors ...`: a connector from the catalog, or a custom one from a discovery
//! document or explicit endpoints with everything a catalog entry says (typed fields, the
//! token-response mapping, metadata, the proxy's API block, narrowing, labels, the refresh
//! buffer); every part is checked by the core before anything is written.

use latchkey::admin::{self, ConnectorChanges, CustomConnector, Endpoints, Quirks};
use latchkey::model::{ApiSpec, AuditAction, AuthMode, ConnectionField, Connector, Narrowing, OAuthEndpoints, RevocationScope, TokenAuthMethod};
use latchkey::Ports;

use super::{project_id, read_secret, CliError};
use crate::args::{AuthModeArg, ConnectorsCommand, CreateConnector, NarrowingArg, OAuthArgs, QuirkArgs, RefreshTuning, RevocationScopeArg, TokenAuthArg};
use crate::output::Printer;

/// Runs a `connectors` subcommand.
pub async fn connectors(ports: &Ports, command: ConnectorsCommand, print: &Printer) -> Result<(), CliError> {
    match command {
        ConnectorsCommand::Create(args) => print.connectors(std::slice::from_ref(&create(ports, args).await?)),
        ConnectorsCommand::List => print.connectors(&admin::list_connectors(ports).await?),
        ConnectorsCommand::Update { uid, name, client_id, secret, scopes, clear_scopes, tuning } => {
            let default_scopes = if clear_scopes { Some(Vec::new()) } else { Some(scopes).filter(|s| !s.is_empty()) };
            let changes = ConnectorChanges { display_name: name, client_id, client_secret: read_secret(&secret)?, default_scopes, ..tuning_changes(&tuning) };
            let changed = changed_settings(&changes);
            let connector = admin::update_connector(ports, &uid, changes).await?;
            crate::audit::connector_change(ports, &connector, AuditAction::ConnectorChanged, &changed).await;
            print.connectors(std::slice::from_ref(&connector));
        }
        ConnectorsCommand::Delete { uid } => {
            let deleted = admin::delete_connector(ports, &uid).await?;
            crate::audit::connector_change(ports, &deleted, AuditAction::ConnectorDeleted, &[]).await;
            print.message(&format!("deleted {}", deleted.uid), serde_json::json!({"deleted": deleted.uid}));
        }
        ConnectorsCommand::Link { uid, project, environments } => {
            let connector = admin::link_connector(ports, &uid, &project_id(&project)?, &environments).await?;
            print.connectors(std::slice::from_ref(&connector));
        }
        ConnectorsCommand::Unlink { uid, project } => {
            let connector = admin::unlink_connector(ports, &uid, &project_id(&project)?).await?;
            print.connectors(std::slice::from_ref(&connector));
        }
    }
    Ok(())
}

/// `connectors create`: a catalog connector (its provider named or implied by the uid) with any
/// tuning, or a custom one.
async fn create(ports: &Ports, args: CreateConnector) -> Result<Connector, CliError> {
    let CreateConnector { uid, name, auth_mode, oauth, client_id, secret, scopes, fields, quirks } = args;
    let custom = auth_mode.is_some()
        || oauth.authorize_url.is_some()
        || oauth.token_url.is_some()
        || oauth.discovery_url.is_some()
        || !fields.is_empty()
        || quirks.any();
    let catalog_id = oauth.provider.clone().or_else(|| {
        let implied = uid.split_once('/').map(|(p, _)| p.to_owned())?;
        (!custom && latchkey::catalog::provider(&implied).is_some()).then_some(implied)
    });
    let client_secret = read_secret(&secret)?;
    match catalog_id {
        Some(_) if !fields.is_empty() || quirks.any() => {
            Err(CliError::Usage("a catalog connector takes its fields and quirks from the catalog; drop --provider for a custom one".into()))
        }
        Some(provider) => {
            let tuning = tuning_changes(&oauth.tuning);
            let created = admin::create_catalog_connector(ports, &uid, &provider, client_id, client_secret, scopes).await?;
            match tuning.refresh_buffer_secs.is_some() || tuning.revocation_scope.is_some() || tuning.narrowing.is_some() {
                true => Ok(admin::update_connector(ports, &uid, tuning).await?),
                false => Ok(created),
            }
        }
        None => {
            let tuning = tuning_changes(&oauth.tuning);
            let spec = CustomConnector {
                uid,
                display_name: name,
                auth_mode: auth_mode.map_or(AuthMode::OAuth2, mode),
                endpoints: endpoints(oauth)?,
                client_id,
                client_secret,
                scopes,
                fields: parse_fields(&fields, &quirks.field_from)?,
                quirks: Quirks { narrowing: tuning.narrowing.clone().unwrap_or_default(), ..parse_quirks(&quirks)? },
                refresh_buffer_secs: tuning.refresh_buffer_secs,
                revocation_scope: tuning.revocation_scope,
            };
            Ok(admin::create_custom_connector(ports, spec).await?)
        }
    }
}

/// The names of the settings `changes` sets, for the trail (never their values).
fn changed_settings(changes: &ConnectorChanges) -> Vec<&'static str> {
    [
        ("display_name", changes.display_name.is_some()),
        ("oauth", changes.oauth.is_some()),
        ("client_id", changes.client_id.is_some()),
        ("client_secret", changes.client_secret.is_some()),
        ("default_scopes", changes.default_scopes.is_some()),
        ("refresh_buffer_secs", changes.refresh_buffer_secs.is_some()),
        ("revocation_scope", changes.revocation_scope.is_some()),
        ("narrowing", changes.narrowing.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

fn mode(arg: AuthModeArg) -> AuthMode {
    match arg {
        AuthModeArg::Oauth2 => AuthMode::OAuth2,
        AuthModeArg::ApiKey => AuthMode::ApiKey,
        AuthModeArg::Basic => AuthMode::Basic,
        AuthModeArg::ClientCredentials => AuthMode::ClientCredentials,
        AuthModeArg::GithubApp => AuthMode::GithubApp,
        AuthModeArg::JwtBearer => AuthMode::JwtBearer,
    }
}

/// The fields of `--field` (with their kinds), their sources from `--field-from`.
fn parse_fields(specs: &[String], sources: &[String]) -> Result<Vec<ConnectionField>, CliError> {
    let mut fields = specs.iter().map(|spec| admin::parse_field(spec)).collect::<Result<Vec<_>, _>>()?;
    for (name, from) in admin::parse_pairs("--field-from", sources)? {
        let field =
            fields.iter_mut().find(|f| f.name == name).ok_or_else(|| CliError::Usage(format!("--field-from names {name}, which no --field declares")))?;
        field.from = Some(from);
    }
    Ok(fields)
}

/// The quirks the flags describe.
fn parse_quirks(args: &QuirkArgs) -> Result<Quirks, CliError> {
    let api = match &args.api_base_url {
        Some(base_url) => Some(ApiSpec {
            base_url: base_url.clone(),
            auth: admin::parse_api_auth(args.api_auth.as_deref().unwrap_or("bearer"))?,
            headers: admin::parse_pairs("--api-header", &args.api_headers)?,
        }),
        None => None,
    };
    Ok(Quirks {
        token_response: admin::token_mapping(&admin::parse_pairs("--token-path", &args.token_paths)?)?,
        metadata_paths: admin::parse_pairs("--metadata", &args.metadata)?,
        post_authorization: None,
        api,
        narrowing: Vec::new(),
        credential_labels: admin::parse_pairs("--credential-label", &args.credential_labels)?,
    })
}

/// The refresh and revocation flags as connector changes.
pub fn tuning_changes(tuning: &RefreshTuning) -> ConnectorChanges {
    ConnectorChanges {
        refresh_buffer_secs: tuning.refresh_buffer_secs,
        revocation_scope: tuning.revocation_scope.map(|scope| match scope {
            RevocationScopeArg::Token => RevocationScope::Token,
            RevocationScopeArg::Grant => RevocationScope::Grant,
        }),
        narrowing: tuning.narrowing.as_ref().map(|ways| ways.iter().filter_map(|way| narrowing(*way)).collect()),
        ..ConnectorChanges::default()
    }
}

/// A `--narrowing` value as the model's way; `none` names none.
fn narrowing(way: NarrowingArg) -> Option<Narrowing> {
    Some(match way {
        NarrowingArg::None => return None,
        NarrowingArg::RefreshScope => Narrowing::RefreshScope,
        NarrowingArg::RefreshResource => Narrowing::RefreshResource,
        NarrowingArg::RefreshAuthorizationDetails => Narrowing::RefreshAuthorizationDetails,
        NarrowingArg::TokenExchange => Narrowing::TokenExchange,
        NarrowingArg::GithubInstallation => Narrowing::GithubInstallation,
        NarrowingArg::ClientCredentialsScope => Narrowing::ClientCredentialsScope,
    })
}

/// Where a custom connector's endpoints come from: the discovery document, the endpoint flags, or
/// nowhere (an API-key or basic connector).
fn endpoints(args: OAuthArgs) -> Result<Endpoints, CliError> {
    if let Some(url) = args.discovery_url {
        return Ok(Endpoints::Discovery(url));
    }
    let (authorize_url, token_url) = match (args.authorize_url, args.token_url) {
        (Some(a), Some(t)) => (a, t),
        (None, None) => return Ok(Endpoints::None),
        _ => return Err(CliError::Usage("give both --authorize-url and --token-url".into())),
    };
    let authorize_params = admin::parse_pairs("--authorize-param", &args.authorize_params)?;
    Ok(Endpoints::Given(OAuthEndpoints {
        authorize_url,
        token_url,
        revoke_url: args.revoke_url,
        issuer: args.issuer,
        requires_iss: args.requires_iss,
        scope_separator: args.scope_separator,
        pkce: !args.no_pkce,
        token_auth: match args.token_auth {
            TokenAuthArg::Basic => TokenAuthMethod::ClientSecretBasic,
            TokenAuthArg::Post => TokenAuthMethod::ClientSecretPost,
        },
        authorize_params,
        default_token_lifetime_secs: args.default_token_lifetime,
        refresh_buffer_secs: latchkey::model::DEFAULT_REFRESH_BUFFER_SECS,
        revocation_scope: RevocationScope::Token,
    }))
}
