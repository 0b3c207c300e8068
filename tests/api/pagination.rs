//! Listings come a page at a time, on the API and the CLI: a cursor continues the listing that
//! gave it and no other, so it cannot carry a caller into another consumer's or project's items;
//! a cursor that is not one the listing gave is a 400 `invalid_cursor` (exit 2 on the CLI).

use std::collections::BTreeSet;

use latchkey::Clock;
use latchkey_test_support::fleet;
use serde_json::Value;

use crate::cli::{json, latchkey};
use crate::helpers::TestApp;
use crate::link_helpers as link;

async fn list(app: &TestApp, key: &str, consumer: &str, query: &str) -> (u16, Value) {
    let response = app.http.get(app.url(&format!("/v1/connections?{query}"))).bearer_auth(key).header("x-latchkey-consumer-id", consumer).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Every page of `consumer`'s listing, `limit` at a time: the connectors in order, and the pages.
async fn every_page(app: &TestApp, key: &str, consumer: &str, limit: usize) -> (Vec<String>, usize) {
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let query = match &cursor {
            Some(c) => format!("limit={limit}&cursor={c}"),
            None => format!("limit={limit}"),
        };
        let (status, body) = list(app, key, consumer, &query).await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap();
        assert!(data.len() <= limit);
        seen.extend(data.iter().map(|c| c["connector"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (seen, pages),
        }
    }
}

#[tokio::test]
async fn the_connections_api_pages_and_its_cursors_continue_only_their_own_listing() {
    // Arrange: five connectors; two projects.
    let app = TestApp::spawn().await;
    let acme = link::project(&app, "Acme").await;
    let other = link::project(&app, "Other").await;
    for i in 0..5 {
        link::api_key_connector(&app, &format!("keys/c{i}"), None, &acme.project_id).await;
    }
    link::api_key_connector(&app, "keys/other", None, &other.project_id).await;

    // Act
    let (seen, pages) = every_page(&app, &acme.secret_key, "alice", 2).await;
    let (_, first) = list(&app, &acme.secret_key, "alice", "limit=2").await;
    let alices = first["next_cursor"].as_str().unwrap().to_owned();
    let refused = [
        ("bob's listing", list(&app, &acme.secret_key, "bob", &format!("cursor={alices}")).await),
        ("another project", list(&app, &other.secret_key, "alice", &format!("cursor={alices}")).await),
        ("made up", list(&app, &acme.secret_key, "alice", "cursor=bm90LWEtY3Vyc29y").await),
        ("garbage", list(&app, &acme.secret_key, "alice", "cursor=%E2%9C%93%00").await),
    ];
    let bad_limits = [list(&app, &acme.secret_key, "alice", "limit=0").await, list(&app, &acme.secret_key, "alice", "limit=101").await];

    // Assert: every connector once, in order, three pages; other listings' cursors refused.
    assert_eq!(seen, (0..5).map(|i| format!("keys/c{i}")).collect::<Vec<_>>());
    assert_eq!(pages, 3);
    for (what, (status, body)) in refused {
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_cursor")), "{what}: {body}");
    }
    for (status, body) in bad_limits {
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{body}");
    }
}

#[tokio::test]
async fn the_cli_lists_a_projects_connections_a_page_at_a_time() {
    // Arrange: 25 connections of one project (and the CLI on the app's own data folder).
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    let uid = fleet::oauth_connector(&app.state, "oauth/fleet", "http://127.0.0.1:9/token", &project.project_id).await.unwrap();
    fleet::seed(&app.state, &project.project_id, &uid, 25, 0, app.clock.now(), 4).await.unwrap();
    let dir = app.dir.path();
    let project_id = project.project_id.to_string();
    let page = |cursor: Option<&str>, extra: &[&str]| {
        let mut args = vec!["--json", "connections", "list", "--project", project_id.as_str(), "--limit", "10"];
        args.extend_from_slice(extra);
        if let Some(cursor) = cursor {
            args.extend_from_slice(&["--cursor", cursor]);
        }
        latchkey(dir, &args, &[], None)
    };

    // Act
    let (mut ids, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let body = json(&page(cursor.as_deref(), &[]));
        ids.extend(body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let staging = json(&page(None, &["--environment", "production"]));
    let crossed = page(staging["next_cursor"].as_str(), &["--environment", "preview"]);
    let too_many = latchkey(dir, &["connections", "list", "--project", &project_id, "--limit", "5000"], &[], None);

    // Assert
    assert_eq!((ids.len(), pages), (25, 3));
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 25, "each once");
    assert_eq!(crossed.status.code(), Some(2), "a cursor of another listing: {}", String::from_utf8_lossy(&crossed.stderr));
    assert_eq!(too_many.status.code(), Some(2));
}

#[tokio::test]
async fn the_rust_client_follows_every_page_and_types_a_bad_cursor() {
    // Arrange
    let app = TestApp::spawn().await;
    let project = link::project(&app, "Acme").await;
    for i in 0..5 {
        link::api_key_connector(&app, &format!("keys/c{i}"), None, &project.project_id).await;
    }
    let client = latchkey_client::Client::new(&app.base, project.secret_key.clone()).unwrap();

    // Act
    let first = client.list_connections("alice", Some(2), None).await.unwrap();
    let all = client.all_connections("alice", Some(2)).await.unwrap();
    let bobs = client.list_connections("bob", Some(2), first.next_cursor.as_deref()).await;

    // Assert
    assert_eq!(first.data.len(), 2);
    assert_eq!(all.iter().map(|c| c.connector.as_str()).collect::<Vec<_>>(), ["keys/c0", "keys/c1", "keys/c2", "keys/c3", "keys/c4"]);
    assert!(all.iter().all(|c| c.state == "available"));
    assert!(matches!(bobs, Err(latchkey_client::Error::InvalidCursor(_))), "{bobs:?}");
}
