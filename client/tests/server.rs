//! `latchkey-client` against a real local Latchkey (`latchkey serve`): the proxy's refusals and
//! the audit trail that records them, paged.

mod common;

use std::time::Duration;

use common::{eventually, Server};
use latchkey_client::{AuditParams, Client, Error, Method, ProxyRequest, Subject};
use time::OffsetDateTime;

#[tokio::test]
async fn refused_proxy_calls_are_typed_and_the_audit_trail_records_and_pages_them() {
    // Arrange: a consumer with a demo connection (its connector has no API block) and a key bound
    // to that consumer.
    let server = Server::start();
    let consumer = "rust-proxy";
    let connection = server.import_api_key(consumer, "demo/api-key", "rust-provider-key").await;
    let user_key = server.user_key(consumer);
    let as_user = Client::new(&server.url, user_key.clone()).unwrap();
    let project = Client::new(&server.url, server.secret_key.clone()).unwrap();
    let since = OffsetDateTime::now_utc() - time::Duration::seconds(1);

    // Act
    let request = ProxyRequest::new(Method::POST, Subject::User(consumer.into())).json(&serde_json::json!({"a": 1})).retries(3);
    let not_proxyable = as_user.proxy("demo/api-key", "/v1/things", request).await;
    let empty_segment = as_user.proxy("demo/api-key", "v1//things", ProxyRequest::new(Method::GET, Subject::User(consumer.into()))).await;
    let other_user = as_user.proxy("demo/api-key", "v1/things", ProxyRequest::new(Method::GET, Subject::User("someone-else".into()))).await;
    let too_many_retries = as_user.proxy("demo/api-key", "v1/things", ProxyRequest::new(Method::GET, Subject::User(consumer.into())).retries(4)).await;
    let dot_dot = as_user.proxy("demo/api-key", "v1/%2E%2e/admin", ProxyRequest::new(Method::GET, Subject::User(consumer.into()))).await;
    let params = AuditParams::default().action("proxy_call").between(Some(since), Some(OffsetDateTime::now_utc() + time::Duration::minutes(1)));
    let filed = eventually(Duration::from_secs(5), || async { project.all_audit(&params.clone().limit(1)).await.is_ok_and(|events| events.len() >= 3) }).await;
    let first = project.audit_list(&params.clone().limit(1), None).await.unwrap();
    let every = project.all_audit(&params.clone().limit(1)).await.unwrap();
    let imports = project.all_audit(&AuditParams::default().connection(connection["id"].as_str().unwrap())).await.unwrap();
    let as_user_audit = as_user.audit_list(&AuditParams::default(), None).await;
    let bad_limit = project.audit_list(&AuditParams::default().limit(101), None).await;

    // Assert: each refusal is its own variant, and none shows a credential.
    assert!(matches!(&not_proxyable, Err(Error::ConnectorNotProxyable(_))), "{not_proxyable:?}");
    assert_eq!(not_proxyable.as_ref().unwrap_err().status(), Some(409));
    assert!(matches!(&empty_segment, Err(Error::ProxyPathInvalid(_))), "{empty_segment:?}");
    assert!(matches!(&other_user, Err(Error::SubjectNotAllowed(_))), "{other_user:?}");
    assert!(matches!(&too_many_retries, Err(Error::InvalidRequest(_))), "{too_many_retries:?}");
    assert!(matches!(&dot_dot, Err(Error::ProxyPathInvalid(_))), "{dot_dot:?}");
    for error in [&not_proxyable, &empty_segment, &other_user] {
        let shown = format!("{:?} {}", error, error.as_ref().unwrap_err());
        assert!(!shown.contains(&user_key) && !shown.contains("rust-provider-key"), "{shown}");
    }
    // The trail (a fresh server's): the three refusals the server made, not the two refused
    // before sending, newest first; a path it could not parse leaves the connector out.
    assert!(filed, "the refused calls were filed");
    assert_eq!(first.data.len(), 1);
    assert!(first.next_cursor.is_some(), "a page of one is not the last");
    let outcomes: Vec<(&str, Option<&str>)> = every.iter().map(|e| (e.outcome.as_str(), e.connector.as_deref())).collect();
    assert_eq!(
        outcomes,
        [("subject_not_allowed", Some("demo/api-key")), ("proxy_path_invalid", None), ("connector_not_proxyable", Some("demo/api-key"))],
        "{every:#?}"
    );
    assert_eq!(every[0].id, first.data[0].id, "the first page is the newest event");
    assert!(every.windows(2).all(|w| w[0].at_ms >= w[1].at_ms), "newest first");
    assert!(every.iter().all(|e| e.action == "proxy_call" && e.at() >= since - time::Duration::seconds(1)));
    let refused = &every[2];
    assert_eq!(
        (refused.actor_kind.as_str(), refused.environment.as_deref(), refused.source_ip.as_deref()),
        ("secret_key", Some("development"), Some("127.0.0.1"))
    );
    assert_eq!(refused.project_id, server.project);
    assert_eq!((refused.detail["method"].as_str(), refused.detail["status"].as_u64()), (Some("POST"), Some(409)));
    assert!(!format!("{every:?}").contains(&user_key));
    assert_eq!(imports.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect::<Vec<_>>(), [("credentials_imported", "ok")]);
    assert!(matches!(&as_user_audit, Err(Error::SubjectNotAllowed(_))), "{as_user_audit:?}");
    assert!(matches!(&bad_limit, Err(Error::InvalidRequest(_))), "{bad_limit:?}");
}

#[tokio::test]
async fn revoking_an_unknown_access_token_is_not_an_error_and_needs_a_valid_key() {
    let server = Server::start();
    let project = Client::new(&server.url, server.secret_key.clone()).unwrap();
    let bad = Client::new(&server.url, "lk_sk_notAKeyOfThisServer0000000000000000").unwrap();

    let revoked = project.revoke_access_token("lk_conn_unknown_token").await;
    let refused = bad.revoke_access_token("lk_conn_unknown_token").await;
    let empty = project.revoke_access_token("").await;

    assert_eq!(revoked, Ok(true));
    assert!(matches!(&refused, Err(Error::Unauthenticated(_))), "{refused:?}");
    assert!(!format!("{refused:?}").contains("lk_conn_unknown_token"));
    assert!(matches!(empty, Err(Error::InvalidRequest(_))));
}
