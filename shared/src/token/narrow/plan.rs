//! Deciding how a token can be narrowed to what the caller asked: which of the connector's ways
//! (the catalog's `narrowing`) fit the ask, and the provider call that mints it. Pure: no I/O.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::model::{AuthMode, Connection, Connector, Narrowing, NarrowingAsk};
use crate::token::TokenError;

/// The authorization-details type of a GitHub App installation token (Vercel Connect's name):
/// `{"type": "github_app_installation", "repositories": ["acme/widgets"], "permissions": ["contents:read"]}`.
pub const GITHUB_DETAIL_TYPE: &str = "github_app_installation";
/// GitHub adds read access to metadata to every installation token, asked or not.
const GITHUB_IMPLIED: &str = "metadata:read";
/// GitHub takes at most this many repositories, and we as many permissions.
const MAX_GITHUB_REPOSITORIES: usize = 500;
const MAX_GITHUB_PERMISSIONS: usize = 100;

/// The provider call that mints a narrowed token.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// A refresh with the grant's refresh token, narrowed.
    Refresh {
        /// Scopes fewer than the grant's, if asked.
        scopes: Option<Vec<String>>,
        /// Resource indicators.
        resources: Vec<String>,
        /// Authorization details as JSON text.
        authorization_details: Option<String>,
    },
    /// An RFC 8693 exchange of the grant's access token.
    Exchange {
        /// Scopes fewer than the grant's, if asked.
        scopes: Option<Vec<String>>,
        /// Resource indicators.
        resources: Vec<String>,
    },
    /// A client-credentials request with these scopes.
    ClientCredentials {
        /// The scopes.
        scopes: Vec<String>,
    },
    /// A GitHub App installation token limited to repositories and permissions.
    Github {
        /// Repositories as asked (`owner/name` or `name`), if any were named.
        repositories: Option<Vec<String>>,
        /// Permission → level.
        permissions: BTreeMap<String, String>,
    },
}

/// A way to mint the narrowed token.
#[derive(Debug, Clone, PartialEq)]
pub struct Mint {
    /// The connector's ways it uses.
    pub ways: Vec<Narrowing>,
    /// The provider call.
    pub call: Call,
}

/// What to do with an ask.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing to narrow: the connection's own token is exactly what was asked.
    Full,
    /// Mint a narrowed token.
    Mint(Mint),
    /// The connector cannot narrow by these parts of the ask.
    Unsupported(Vec<&'static str>),
}

/// How `connector` can narrow `connection`'s token to `ask`. A malformed GitHub ask is a 400.
pub fn plan(connector: &Connector, connection: &Connection, ask: &NarrowingAsk) -> Result<Plan, TokenError> {
    if ask.is_empty() {
        return Ok(Plan::Full);
    }
    let offered = &connector.narrowing;
    Ok(match connector.auth_mode {
        AuthMode::OAuth2 => oauth2(offered, connection, ask),
        AuthMode::ClientCredentials => client_credentials(offered, connection, ask),
        AuthMode::GithubApp => github(offered, ask)?,
        AuthMode::ApiKey | AuthMode::Basic | AuthMode::JwtBearer => Plan::Unsupported(parts(ask)),
    })
}

/// The parts of the ask, by their request field names.
fn parts(ask: &NarrowingAsk) -> Vec<&'static str> {
    let mut parts = Vec::new();
    if ask.scopes.is_some() {
        parts.push("scopes");
    }
    if ask.resources.is_some() {
        parts.push("resources");
    }
    if ask.authorization_details.is_some() {
        parts.push("authorization_details");
    }
    parts
}

/// The scopes asked for, unless they are exactly the grant's (then the full token is the answer).
fn fewer_scopes(connection: &Connection, ask: &NarrowingAsk) -> Option<Vec<String>> {
    let scopes = ask.scopes.as_ref()?;
    (connection.scopes.is_empty() || !scopes.same_as(&connection.scopes)).then(|| scopes.as_slice().to_vec())
}

fn oauth2(offered: &[Narrowing], connection: &Connection, ask: &NarrowingAsk) -> Plan {
    let scopes = fewer_scopes(connection, ask);
    let resources = ask.resource_strings();
    let details = ask.authorization_details.as_ref().map(|d| d.to_json());
    let wanted: Vec<(Narrowing, &'static str)> = [
        (scopes.is_some(), Narrowing::RefreshScope, "scopes"),
        (!resources.is_empty(), Narrowing::RefreshResource, "resources"),
        (details.is_some(), Narrowing::RefreshAuthorizationDetails, "authorization_details"),
    ]
    .into_iter()
    .filter_map(|(asked, way, part)| asked.then_some((way, part)))
    .collect();
    if wanted.is_empty() {
        return Plan::Full;
    }
    if wanted.iter().all(|(way, _)| offered.contains(way)) {
        let ways = wanted.iter().map(|(way, _)| *way).collect();
        return Plan::Mint(Mint { ways, call: Call::Refresh { scopes, resources, authorization_details: details } });
    }
    // RFC 8693 carries scope and resource, not authorization details.
    if offered.contains(&Narrowing::TokenExchange) && details.is_none() {
        return Plan::Mint(Mint { ways: vec![Narrowing::TokenExchange], call: Call::Exchange { scopes, resources } });
    }
    // What neither a refresh the connector offers nor an exchange (scope and resource only) covers.
    let exchange = offered.contains(&Narrowing::TokenExchange);
    let covered = |way: &Narrowing, part: &str| offered.contains(way) || (exchange && part != "authorization_details");
    let missing: Vec<&'static str> = wanted.iter().filter(|(way, part)| !covered(way, part)).map(|(_, part)| *part).collect();
    Plan::Unsupported(if missing.is_empty() { wanted.iter().map(|(_, part)| *part).collect() } else { missing })
}

fn client_credentials(offered: &[Narrowing], connection: &Connection, ask: &NarrowingAsk) -> Plan {
    let mut unsupported: Vec<&'static str> = parts(ask).into_iter().filter(|part| *part != "scopes").collect();
    let scopes = fewer_scopes(connection, ask);
    if scopes.is_some() && !offered.contains(&Narrowing::ClientCredentialsScope) {
        unsupported.insert(0, "scopes");
    }
    match (scopes, unsupported.is_empty()) {
        (_, false) => Plan::Unsupported(unsupported),
        (Some(scopes), true) => Plan::Mint(Mint { ways: vec![Narrowing::ClientCredentialsScope], call: Call::ClientCredentials { scopes } }),
        (None, true) => Plan::Full,
    }
}

fn github(offered: &[Narrowing], ask: &NarrowingAsk) -> Result<Plan, TokenError> {
    let details = ask.details();
    let mut unsupported = Vec::new();
    if ask.resources.is_some() {
        unsupported.push("resources");
    }
    let is_github = |d: &&Map<String, Value>| d.get("type").and_then(Value::as_str) == Some(GITHUB_DETAIL_TYPE);
    if !details.iter().all(|d| is_github(&d)) {
        unsupported.push("authorization_details");
    }
    let mut permissions = BTreeMap::new();
    for scope in ask.scopes.iter().flat_map(|s| s.as_slice()) {
        add_permission(&mut permissions, scope)?;
    }
    let mut repositories: Option<Vec<String>> = None;
    for detail in details.iter().filter(is_github) {
        github_detail(detail, &mut permissions, &mut repositories)?;
    }
    if permissions.len() > MAX_GITHUB_PERMISSIONS || repositories.as_ref().is_some_and(|r| r.len() > MAX_GITHUB_REPOSITORIES) {
        return Err(invalid(format!("at most {MAX_GITHUB_REPOSITORIES} repositories and {MAX_GITHUB_PERMISSIONS} permissions")));
    }
    if !offered.contains(&Narrowing::GithubInstallation) {
        for part in parts(ask) {
            if !unsupported.contains(&part) {
                unsupported.push(part);
            }
        }
    }
    if !unsupported.is_empty() {
        return Ok(Plan::Unsupported(unsupported));
    }
    if permissions.is_empty() && repositories.is_none() {
        return Ok(Plan::Full);
    }
    Ok(Plan::Mint(Mint { ways: vec![Narrowing::GithubInstallation], call: Call::Github { repositories, permissions } }))
}

fn invalid(message: String) -> TokenError {
    TokenError::InvalidRequest(format!("a GitHub App token is narrowed by repositories and permissions: {message}"))
}

/// `contents:read` into the permission map; a permission asked twice at two levels is refused.
fn add_permission(permissions: &mut BTreeMap<String, String>, text: &str) -> Result<(), TokenError> {
    let bad = || invalid("a permission is name:level, such as contents:read (levels: read, write, admin)".into());
    let (name, level) = text.split_once(':').ok_or_else(bad)?;
    let name_ok = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !name_ok || !["read", "write", "admin"].contains(&level) {
        return Err(bad());
    }
    match permissions.insert(name.to_owned(), level.to_owned()) {
        Some(earlier) if earlier != level => Err(invalid(format!("permission {name} is asked at two levels"))),
        _ => Ok(()),
    }
}

/// One `github_app_installation` detail: `repositories` (`owner/name` or `name`) and
/// `permissions` (`["contents:read"]`, or GitHub's own `{"contents": "read"}`).
fn github_detail(detail: &Map<String, Value>, permissions: &mut BTreeMap<String, String>, repositories: &mut Option<Vec<String>>) -> Result<(), TokenError> {
    match detail.get("permissions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                add_permission(permissions, item.as_str().ok_or_else(|| invalid("permissions are strings such as contents:read".into()))?)?;
            }
        }
        Some(Value::Object(map)) => {
            for (name, level) in map {
                add_permission(permissions, &format!("{name}:{}", level.as_str().unwrap_or_default()))?;
            }
        }
        Some(_) => return Err(invalid("permissions are a list such as [\"contents:read\"]".into())),
    }
    if let Some(listed) = detail.get("repositories").filter(|v| !v.is_null()) {
        let items = listed.as_array().ok_or_else(|| invalid("repositories are a list of names".into()))?;
        let target = repositories.get_or_insert_with(Vec::new);
        for item in items {
            let name = item.as_str().filter(|n| repository_name(n)).ok_or_else(|| invalid("a repository is owner/name or name".into()))?;
            if !target.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                target.push(name.to_owned());
            }
        }
    }
    Ok(())
}

/// `owner/name` or `name`, as GitHub spells them.
fn repository_name(text: &str) -> bool {
    let part =
        |p: &str, max: usize| !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) && p != "." && p != "..";
    match text.split_once('/') {
        Some((owner, name)) => part(owner, 39) && part(name, 100),
        None => part(text, 100),
    }
}

/// The request body GitHub documents for `POST /app/installations/{id}/access_tokens`:
/// repository names without their owner, and the permission map.
pub fn github_body(repositories: Option<&[String]>, permissions: &BTreeMap<String, String>) -> Value {
    let mut body = Map::new();
    if let Some(repositories) = repositories {
        let names: Vec<&str> = repositories.iter().map(|r| r.rsplit('/').next().unwrap_or(r)).collect();
        body.insert("repositories".into(), json!(names));
    }
    if !permissions.is_empty() {
        body.insert("permissions".into(), json!(permissions));
    }
    Value::Object(body)
}

/// Whether what GitHub granted stays within what was asked: the repositories named (by full name
/// where an owner was given), and the permissions at no higher level (metadata read is implied).
pub fn github_within(asked_repositories: Option<&[String]>, asked: &BTreeMap<String, String>, granted_repositories: &[String], granted: &[String]) -> bool {
    let rank = |level: &str| ["read", "write", "admin"].iter().position(|l| *l == level);
    let permissions_ok = granted.iter().all(|p| {
        let (name, level) = p.split_once(':').unwrap_or((p, ""));
        p == GITHUB_IMPLIED || asked.get(name).is_some_and(|want| rank(level) <= rank(want))
    });
    let repositories_ok = match asked_repositories {
        None => true,
        Some(asked) => granted_repositories.iter().all(|full| {
            let name = full.rsplit('/').next().unwrap_or(full);
            asked.iter().any(|a| if a.contains('/') { a.eq_ignore_ascii_case(full) } else { a.eq_ignore_ascii_case(name) })
        }),
    };
    (asked.is_empty() || permissions_ok) && repositories_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connector(mode: &str, narrowing: Value) -> Connector {
        // `AuthMode::OAuth2` is stored as `o_auth2`.
        let mode = if mode == "oauth2" { "o_auth2" } else { mode };
        serde_json::from_value(json!({"uid": "p/c", "provider": "p", "auth_mode": mode, "narrowing": narrowing, "created_at": 0, "updated_at": 0})).unwrap()
    }

    fn connection(scopes: Value) -> Connection {
        serde_json::from_value(json!({
            "id": "conn_t", "project_id": "prj_t", "environment": "production", "connector": "p/c",
            "subject": {"type": "user", "id": "u"}, "state": "callable", "created_at": 0, "updated_at": 0, "scopes": scopes,
        }))
        .unwrap()
    }

    fn ask(v: Value) -> NarrowingAsk {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn oauth2_narrows_by_refresh_where_every_part_is_offered_else_by_exchange() {
        let grant = connection(json!(["a", "b"]));
        let refresh = connector("oauth2", json!(["refresh_scope", "refresh_resource"]));
        let both = ask(json!({"scopes": ["a"], "resources": ["https://r.example"]}));
        let Ok(Plan::Mint(mint)) = plan(&refresh, &grant, &both) else { panic!() };
        assert_eq!(mint.ways, [Narrowing::RefreshScope, Narrowing::RefreshResource]);
        assert!(
            matches!(mint.call, Call::Refresh { scopes: Some(ref s), ref resources, authorization_details: None } if s == &["a"] && resources == &["https://r.example"])
        );
        assert_eq!(plan(&refresh, &grant, &ask(json!({"scopes": ["b", "a"]}))).unwrap(), Plan::Full, "the grant's own scopes: the full token");
        let details = ask(json!({"authorization_details": [{"type": "t"}]}));
        assert_eq!(plan(&refresh, &grant, &details).unwrap(), Plan::Unsupported(vec!["authorization_details"]));
        let exchange = connector("oauth2", json!(["token_exchange"]));
        assert!(matches!(plan(&exchange, &grant, &both).unwrap(), Plan::Mint(Mint { call: Call::Exchange { .. }, .. })));
        assert_eq!(plan(&exchange, &grant, &details).unwrap(), Plan::Unsupported(vec!["authorization_details"]));
        assert_eq!(plan(&connector("oauth2", json!([])), &grant, &both).unwrap(), Plan::Unsupported(vec!["scopes", "resources"]));
    }

    #[test]
    fn keys_and_client_credentials_narrow_only_as_they_can() {
        let scopes = ask(json!({"scopes": ["a"]}));
        assert_eq!(plan(&connector("api_key", json!([])), &connection(json!([])), &scopes).unwrap(), Plan::Unsupported(vec!["scopes"]));
        let cc = connector("client_credentials", json!(["client_credentials_scope"]));
        assert!(matches!(plan(&cc, &connection(json!(["a", "b"])), &scopes).unwrap(), Plan::Mint(Mint { call: Call::ClientCredentials { .. }, .. })));
        let with_resource = ask(json!({"scopes": ["a"], "resources": ["https://r.example"]}));
        assert_eq!(plan(&cc, &connection(json!(["a", "b"])), &with_resource).unwrap(), Plan::Unsupported(vec!["resources"]));
    }

    #[test]
    fn github_asks_become_the_documented_body_and_are_checked() {
        let app = connector("github_app", json!(["github_installation"]));
        let none = connection(json!([]));
        let detail = ask(json!({"authorization_details": [{"type": GITHUB_DETAIL_TYPE, "repositories": ["acme/widgets"], "permissions": ["contents:read"]}],
            "scopes": ["issues:write"]}));
        let Ok(Plan::Mint(Mint { call: Call::Github { repositories, permissions }, .. })) = plan(&app, &none, &detail) else { panic!() };
        let body = github_body(repositories.as_deref(), &permissions);
        assert_eq!(body, json!({"repositories": ["widgets"], "permissions": {"contents": "read", "issues": "write"}}));
        for bad in [
            json!({"scopes": ["contents"]}),
            json!({"scopes": ["contents:read", "contents:write"]}),
            json!({"authorization_details": [{"type": GITHUB_DETAIL_TYPE, "repositories": ["a/b/c"]}]}),
        ] {
            assert!(matches!(plan(&app, &none, &ask(bad.clone())), Err(TokenError::InvalidRequest(_))), "{bad}");
        }
        assert_eq!(plan(&app, &none, &ask(json!({"resources": ["https://x.example"]}))).unwrap(), Plan::Unsupported(vec!["resources"]));
        let perms = BTreeMap::from([("contents".to_owned(), "write".to_owned())]);
        let asked = vec!["acme/widgets".to_owned()];
        assert!(github_within(Some(&asked), &perms, &["acme/widgets".into()], &["contents:read".into(), "metadata:read".into()]));
        assert!(!github_within(Some(&asked), &perms, &["other/widgets".into()], &[]), "another owner's repository");
        assert!(!github_within(None, &perms, &[], &["contents:admin".into()]), "a higher level");
    }
}
