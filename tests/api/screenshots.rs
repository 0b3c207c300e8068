//! Pictures of every state of the Connect page, at a phone's and a desktop's width, made in
//! headless Chromium with the pages' own Content-Security-Policy in force and kept under
//! `docs/screenshots/` (the README shows them): the list, a search with no match, a form, on the
//! way to the provider, connected, the provider denied, the provider down, an expired link; the
//! list in the dark scheme and in each language; the sandbox's consent page. Each picture must be
//! written and non-empty, and its page must say what its state says, in its language.

use serde_json::{json, Value};

use crate::helpers::{workspace_root, TestApp};
use crate::page_states::{self as world, link, page_url, through_the_sandbox, LISTED};

/// The pictures the README shows.
fn kept_dir() -> std::path::PathBuf {
    workspace_root().join("docs/screenshots")
}

/// Where a run writes its pictures: `LATCHKEY_SCREENSHOTS_DIR` (set it to `docs/screenshots` to
/// renew the kept ones), else a scratch folder, so a test run leaves the checkout as it found it.
fn out_dir(scratch: &std::path::Path) -> std::path::PathBuf {
    let dir = std::env::var_os("LATCHKEY_SCREENSHOTS_DIR").map(Into::into).unwrap_or_else(|| scratch.join("screenshots"));
    std::fs::create_dir_all(&dir).expect("the screenshots folder");
    dir
}

/// Every state: its file name, its page, what a person does there, and the words that prove it.
async fn states(app: &TestApp, key: &str, project: &latchkey::model::ProjectId) -> Vec<Value> {
    let list = page_url(app, &link(app, key, &LISTED, None).await, false);
    let sandbox = |connector: &'static str| async move { page_url(app, &link(app, key, &[connector], None).await, true) };
    let heading = |is: &str| json!({"text": "h1", "is": is});
    let mut states = vec![
        json!({"name": "list", "url": list, "check": heading("Connect an account to Acme CRM")}),
        json!({"name": "search-no-match", "url": list, "steps": [{"fill": "#search", "value": "netsuite"}],
               "check": {"text": "#no-match .empty-title", "is": "No integration matches."}}),
        json!({"name": "form", "url": list, "steps": [{"click": "summary[data-connector='keys/acme']"}],
               "check": {"text": "#key-keys\\/acme ~ button", "is": "Save Acme API key"}}),
        json!({"name": "redirecting", "url": list,
               "steps": [{"hold": true}, {"click": "button[data-connector='sandbox/ok']"}, {"wait": ".connector.busy"}],
               "check": {"text": ".connector.busy .flow-status", "is": "Taking you to Latchkey Sandbox…"}}),
        json!({"name": "success", "url": sandbox("sandbox/ok").await, "steps": through_the_sandbox("sandbox/ok", true), "check": heading("Connected")}),
        json!({"name": "provider-denied", "url": sandbox("sandbox/deny").await, "steps": through_the_sandbox("sandbox/deny", false),
               "check": heading("Access not granted")}),
        json!({"name": "provider-down", "url": sandbox("sandbox/down").await, "steps": through_the_sandbox("sandbox/down", true),
               "check": heading("Latchkey Sandbox is not responding")}),
        json!({"name": "link-expired", "url": page_url(app, &world::expired_link(app, project).await, false), "check": heading("This link has expired")}),
        json!({"name": "list-dark", "url": list, "scheme": "dark", "check": heading("Connect an account to Acme CRM")}),
        json!({"name": "sandbox-consent", "url": sandbox("sandbox/ok").await, "widths": ["phone"],
               "steps": [{"untarget": "form[action='/connect/oauth/start']"}, {"submit": "button[data-connector='sandbox/ok']"}],
               "check": {"text": "#approve", "is": "Allow"}}),
    ];
    for (lang, search) in [("de", "Suche"), ("fr", "Rechercher"), ("es", "Buscar"), ("pt", "Buscar"), ("ja", "検索")] {
        let url = page_url(app, &link(app, key, &LISTED, Some(lang)).await, false);
        states.push(json!({"name": format!("list-{lang}"), "url": url, "widths": ["phone"], "check": {"text": "label[for=search]", "is": search}}));
    }
    states
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_is_photographed_at_phone_and_desktop_width() {
    // Arrange
    let app = TestApp::spawn().await;
    let (project, key) = world::arrange(&app).await;
    let states = states(&app, &key, &project).await;
    let expected: Vec<(String, String, String, String)> = states
        .iter()
        .flat_map(|state| {
            let widths = state["widths"]
                .as_array()
                .map_or(vec!["phone".to_owned(), "desktop".to_owned()], |w| w.iter().map(|v| v.as_str().unwrap().to_owned()).collect());
            let name = state["name"].as_str().unwrap().to_owned();
            let lang = name.strip_prefix("list-").filter(|l| l.len() == 2).unwrap_or("en").to_owned();
            let said = state["check"]["is"].as_str().unwrap().to_owned();
            widths.into_iter().map(move |width| (name.clone(), width, lang.clone(), said.clone()))
        })
        .collect();
    let out = out_dir(app.dir.path());
    for (name, width, _, _) in &expected {
        let _ = std::fs::remove_file(out.join(format!("{name}-{width}.png")));
    }

    // Act
    let arguments = ["--out".to_owned(), out.to_string_lossy().into_owned()];
    let found = tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = arguments.iter().map(String::as_str).collect();
        world::drive("screens.mjs", &Value::Array(states), &extra)
    })
    .await
    .unwrap();

    // Assert: each picture written, not empty, of a page in its language saying what it should.
    let shots = found["shots"].as_array().expect("shots");
    assert_eq!(shots.len(), expected.len(), "{found}");
    for (shot, (name, width, lang, said)) in shots.iter().zip(&expected) {
        assert!(shot["error"].is_null(), "{name} at {width}: {}", shot["error"]);
        let file = out.join(format!("{name}-{width}.png"));
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(bytes > 5_000, "{} is missing or empty ({bytes} bytes)", file.display());
        assert_eq!((shot["lang"].as_str(), shot["said"].as_str()), (Some(lang.as_str()), Some(said.as_str())), "{name} at {width}");
        assert!(kept_dir().join(format!("{name}-{width}.png")).exists(), "docs/screenshots keeps {name} at {width}");
    }
}
