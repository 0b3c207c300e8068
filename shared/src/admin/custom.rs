//! Custom connectors: a provider the catalog does not know, described by the operator as fully as
//! a catalog entry describes one (endpoints from a discovery document or given, typed fields, the
//! token-response mapping, metadata, the proxy's API block, narrowing, credential labels, the
//! refresh buffer), and checked by the same rules before anything is written. The CLI and the
//! operator route both build a [`CustomConnector`]; the textual forms of fields and API
//! credentials the CLI takes are parsed here, so both speak the same grammar.

use std::collections::BTreeMap;

use super::{create_connector_with, discover, AdminError, NewConnector, Quirks};
use crate::model::{ApiAuth, AuthMode, BasicHalf, ConnectionField, Connector, FieldKind, OAuthEndpoints, RevocationScope, TokenMapping};
use crate::ports::Ports;
use crate::secret::SecretString;

/// Where a custom connector's OAuth endpoints come from.
#[derive(Debug, Clone)]
pub enum Endpoints {
    /// An OpenID Connect or RFC 8414 discovery document.
    Discovery(String),
    /// Given by the operator.
    Given(OAuthEndpoints),
    /// None: an API-key or basic connector.
    None,
}

/// Everything an operator gives for a custom connector.
#[derive(Debug, Clone)]
pub struct CustomConnector {
    /// `provider/name`.
    pub uid: String,
    /// The name people see on the Connect page.
    pub display_name: Option<String>,
    /// How connections are authorized.
    pub auth_mode: AuthMode,
    /// Its endpoints.
    pub endpoints: Endpoints,
    /// The OAuth client id.
    pub client_id: Option<String>,
    /// The client secret (or the PEM of a signing key); sealed before it is stored.
    pub client_secret: Option<SecretString>,
    /// Scopes asked for when a link names none.
    pub scopes: Vec<String>,
    /// Values a connection needs, with their kinds.
    pub fields: Vec<ConnectionField>,
    /// The token-response mapping, metadata, API block, narrowing and credential labels.
    pub quirks: Quirks,
    /// Refresh this long before expiry (default 300 seconds).
    pub refresh_buffer_secs: Option<i64>,
    /// What a revocation at the provider ends.
    pub revocation_scope: Option<RevocationScope>,
}

/// Creates a custom connector: its endpoints read or given, every part checked as the catalog's
/// lint checks an entry, then written once.
pub async fn create_custom_connector(ports: &Ports, spec: CustomConnector) -> Result<Connector, AdminError> {
    check_quirks(spec.auth_mode, &spec.quirks)?;
    let mut oauth = match spec.endpoints {
        Endpoints::Discovery(url) => Some(discover(ports, &url).await?),
        Endpoints::Given(endpoints) => Some(endpoints),
        Endpoints::None => None,
    };
    match oauth.as_mut() {
        Some(endpoints) => {
            endpoints.refresh_buffer_secs = spec.refresh_buffer_secs.unwrap_or(endpoints.refresh_buffer_secs);
            endpoints.revocation_scope = spec.revocation_scope.unwrap_or(endpoints.revocation_scope);
        }
        None if spec.refresh_buffer_secs.is_some() || spec.revocation_scope.is_some() => {
            return Err(AdminError::Invalid("a refresh buffer and a revocation scope apply to connectors with OAuth endpoints".into()));
        }
        None => {}
    }
    let new = NewConnector {
        uid: spec.uid,
        display_name: spec.display_name,
        auth_mode: spec.auth_mode,
        oauth,
        client_id: spec.client_id,
        client_secret: spec.client_secret,
        default_scopes: spec.scopes,
        fields: spec.fields,
    };
    create_connector_with(ports, new, spec.quirks, None).await
}

/// A dot path into a token response (`authed_user.access_token`).
fn is_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 100
        && path.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 32 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The quirks' own rules, beyond the URL templates `create_connector_with` checks: narrowing that
/// fits the auth mode, credential labels only where a form shows them, readable paths.
fn check_quirks(mode: AuthMode, quirks: &Quirks) -> Result<(), AdminError> {
    if let Some(way) = quirks.narrowing.iter().find(|way| !crate::catalog::narrowing_applies(**way, mode)) {
        return Err(AdminError::Invalid(format!("narrowing {way:?} does not apply to this auth mode")));
    }
    let labels: &[&str] = match mode {
        AuthMode::ApiKey => &["api_key"],
        AuthMode::Basic => &["username", "password"],
        _ => &[],
    };
    for (part, label) in &quirks.credential_labels {
        if !labels.contains(&part.as_str()) {
            return Err(AdminError::Invalid(format!("a credential label names {part:?}; this auth mode's form has {}", labels.join(", "))));
        }
        if label.trim().is_empty() || label.chars().count() > 80 || label.chars().any(char::is_control) {
            return Err(AdminError::Invalid("a credential label is 1 to 80 printable characters".into()));
        }
    }
    let mapping = &quirks.token_response;
    let paths = [&mapping.access_token, &mapping.refresh_token, &mapping.expires_in, &mapping.scope, &mapping.user_access_token];
    if let Some(bad) = paths.into_iter().flatten().find(|p| !is_path(p)) {
        return Err(AdminError::Invalid(format!("token response path {bad:?} must be a dot path such as authed_user.access_token")));
    }
    if mapping.access_token.is_none() {
        return Err(AdminError::Invalid("the token response mapping must say where the access token is".into()));
    }
    if quirks.metadata_paths.len() > 32 {
        return Err(AdminError::Invalid("at most 32 metadata values".into()));
    }
    for (name, path) in &quirks.metadata_paths {
        let readable = path.strip_prefix("query:").map_or_else(|| is_path(path), |param| is_path(param) && !param.contains('.'));
        if !is_name(name) || !readable {
            return Err(AdminError::Invalid(format!("metadata {name}={path}: a name of a-z, 0-9 and _, and a dot path or query:<parameter>")));
        }
    }
    Ok(())
}

/// A field as the CLI writes it: `NAME[:KIND[:ARG]]=LABEL`, where KIND is `label` (the default),
/// `choice:a|b`, `host:.suffix|.suffix`, `url:.suffix|.suffix` or `segment[:numeric]`.
pub fn parse_field(spec: &str) -> Result<ConnectionField, AdminError> {
    let grammar = || {
        AdminError::Invalid(format!(
            "--field {spec:?}: give NAME=Label, or NAME:KIND=Label with KIND label, choice:a|b, host:.example.com, url:.example.com or segment[:numeric]"
        ))
    };
    let (head, label) = spec.split_once('=').ok_or_else(grammar)?;
    let mut parts = head.splitn(3, ':');
    let name = parts.next().unwrap_or_default().to_owned();
    let list = |arg: Option<&str>| -> Result<Vec<String>, AdminError> {
        let items: Vec<String> = arg.unwrap_or_default().split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if items.is_empty() {
            return Err(grammar());
        }
        Ok(items)
    };
    let kind = match (parts.next(), parts.next()) {
        (None | Some("label"), None) => FieldKind::Label,
        (Some("choice"), arg) => FieldKind::Choice(list(arg)?),
        (Some("host"), arg) => FieldKind::Host(list(arg)?),
        (Some("url"), arg) => FieldKind::Url(list(arg)?),
        (Some("segment"), None) => FieldKind::Segment { numeric: false },
        (Some("segment"), Some("numeric")) => FieldKind::Segment { numeric: true },
        _ => return Err(grammar()),
    };
    Ok(ConnectionField { name, label: label.to_owned(), kind, from: None })
}

/// How the proxy presents the credential, as the CLI writes it: `bearer`, `header:NAME[:PREFIX]`,
/// `query:NAME`, `basic`, `basic:key-as-username[:PASSWORD]` or `basic:key-as-password[:USERNAME]`.
pub fn parse_api_auth(spec: &str) -> Result<ApiAuth, AdminError> {
    let grammar = || {
        AdminError::Invalid(format!(
            "--api-auth {spec:?}: give bearer, header:NAME[:PREFIX], query:NAME, basic, basic:key-as-username[:PASSWORD] or basic:key-as-password[:USERNAME]"
        ))
    };
    let mut parts = spec.splitn(3, ':');
    let style = parts.next().unwrap_or_default();
    let (first, second) = (parts.next(), parts.next().map(str::to_owned));
    Ok(match (style, first) {
        ("bearer", None) => ApiAuth::Bearer,
        ("header", Some(name)) if !name.is_empty() => ApiAuth::Header { name: name.to_owned(), prefix: second.unwrap_or_default() },
        ("query", Some(name)) if !name.is_empty() && second.is_none() => ApiAuth::Query { name: name.to_owned() },
        ("basic", None) => ApiAuth::Basic { api_key_as: None, username: None, password: None },
        ("basic", Some("key-as-username")) => ApiAuth::Basic { api_key_as: Some(BasicHalf::Username), username: None, password: second },
        ("basic", Some("key-as-password")) => ApiAuth::Basic { api_key_as: Some(BasicHalf::Password), username: second, password: None },
        _ => return Err(grammar()),
    })
}

/// `NAME=VALUE` pairs (`--api-header`, `--metadata`, `--token-path`, `--credential-label`).
pub fn parse_pairs(flag: &str, pairs: &[String]) -> Result<BTreeMap<String, String>, AdminError> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .ok_or_else(|| AdminError::Invalid(format!("{flag} must look like name=value, not {pair:?}")))
        })
        .collect()
}

/// The token-response mapping with the operator's `name=path` overrides of the RFC 6749 names
/// (`access_token`, `refresh_token`, `expires_in`, `scope`, `user_access_token`); `-` as a path
/// says the provider sends no such field.
pub fn token_mapping(overrides: &BTreeMap<String, String>) -> Result<TokenMapping, AdminError> {
    let mut mapping = TokenMapping::default();
    for (name, path) in overrides {
        let value = (path != "-").then(|| path.clone());
        match name.as_str() {
            "access_token" => mapping.access_token = value,
            "refresh_token" => mapping.refresh_token = value,
            "expires_in" => mapping.expires_in = value,
            "scope" => mapping.scope = value,
            "user_access_token" => mapping.user_access_token = value,
            other => return Err(AdminError::Invalid(format!("unknown token response field {other:?}"))),
        }
    }
    Ok(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Narrowing;

    #[test]
    fn fields_parse_every_kind_and_refuse_what_is_not_one() {
        assert_eq!(parse_field("subdomain=Your subdomain").unwrap().kind, FieldKind::Label);
        assert_eq!(parse_field("subdomain:label=Sub").unwrap().kind, FieldKind::Label);
        assert_eq!(parse_field("dc:choice:com|eu=Data centre").unwrap().kind, FieldKind::Choice(vec!["com".into(), "eu".into()]));
        assert_eq!(
            parse_field("okta:host:.okta.com|.oktapreview.com=Okta").unwrap().kind,
            FieldKind::Host(vec![".okta.com".into(), ".oktapreview.com".into()])
        );
        assert_eq!(parse_field("instance_url:url:.salesforce.com=Instance").unwrap().kind, FieldKind::Url(vec![".salesforce.com".into()]));
        assert_eq!(parse_field("tenant:segment=Tenant").unwrap().kind, FieldKind::Segment { numeric: false });
        assert_eq!(parse_field("account:segment:numeric=Account").unwrap().kind, FieldKind::Segment { numeric: true });
        assert_eq!(parse_field("okta:host:.okta.com=Okta: the domain").unwrap().label, "Okta: the domain");
        for bad in ["subdomain", "dc:choice=Data centre", "x:host=X", "x:segment:alpha=X", "x:password=X", "x:label:y=X"] {
            assert!(parse_field(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_credentials_parse_every_style() {
        assert_eq!(parse_api_auth("bearer").unwrap(), ApiAuth::Bearer);
        assert_eq!(
            parse_api_auth("header:Authorization:Klaviyo-API-Key ").unwrap(),
            ApiAuth::Header { name: "Authorization".into(), prefix: "Klaviyo-API-Key ".into() }
        );
        assert_eq!(parse_api_auth("header:X-API-Key").unwrap(), ApiAuth::Header { name: "X-API-Key".into(), prefix: String::new() });
        assert_eq!(parse_api_auth("query:api_key").unwrap(), ApiAuth::Query { name: "api_key".into() });
        assert_eq!(
            parse_api_auth("basic:key-as-username:X").unwrap(),
            ApiAuth::Basic { api_key_as: Some(BasicHalf::Username), username: None, password: Some("X".into()) }
        );
        for bad in ["", "Bearer", "header", "header:", "query:a:b", "basic:half", "oauth"] {
            assert!(parse_api_auth(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quirks_follow_the_catalogs_rules() {
        let quirks = |change: fn(&mut Quirks)| {
            let mut quirks = Quirks::default();
            change(&mut quirks);
            quirks
        };
        assert!(check_quirks(AuthMode::OAuth2, &Quirks::default()).is_ok());
        assert!(check_quirks(AuthMode::OAuth2, &quirks(|q| q.narrowing = vec![Narrowing::GithubInstallation])).is_err());
        assert!(check_quirks(AuthMode::ApiKey, &quirks(|q| q.credential_labels = BTreeMap::from([("api_key".into(), "API token".into())]))).is_ok());
        assert!(check_quirks(AuthMode::ApiKey, &quirks(|q| q.credential_labels = BTreeMap::from([("password".into(), "P".into())]))).is_err());
        assert!(check_quirks(AuthMode::OAuth2, &quirks(|q| q.token_response.access_token = Some("a..b".into()))).is_err());
        assert!(check_quirks(AuthMode::OAuth2, &quirks(|q| q.metadata_paths = BTreeMap::from([("realm".into(), "query:realmId".into())]))).is_ok());
        assert!(check_quirks(AuthMode::OAuth2, &quirks(|q| q.metadata_paths = BTreeMap::from([("Realm".into(), "x".into())]))).is_err());
        let mapping = token_mapping(&BTreeMap::from([("access_token".into(), "authed_user.access_token".into()), ("refresh_token".into(), "-".into())]));
        assert_eq!(mapping.as_ref().unwrap().access_token.as_deref(), Some("authed_user.access_token"));
        assert_eq!(mapping.unwrap().refresh_token, None);
        assert!(token_mapping(&BTreeMap::from([("id_token".into(), "x".into())])).is_err());
    }
}
