//! Every page state people see, checked by axe-core in headless Chromium (light and dark): the
//! Connect page for a link token (the list, search with and without results, the key and password
//! forms, a connector that asks for a subdomain, on its way to a provider, modal and page mode, in
//! each of its languages and from a browser's `Accept-Language`), a session's overview with
//! connections in each state (and the configuration step), a deep link, the authorize
//! confirmation, the result pages (connected, the provider denied, the provider down, another
//! exit; in page mode a result is a redirect to the app, so there is none to check), the error
//! pages (an expired link, a bad request), and the sandbox provider's consent page. Any violation
//! fails the test with its rule id; so does a search whose result the live region does not
//! announce, or a page that does not speak the language it was asked for.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::link_helpers::APP_ORIGIN;
use crate::page_states::{self as world, link, page_url, through_the_sandbox, CONSUMER, LISTED};

/// A session for `consumer` that returns to the app; its token.
async fn session(app: &TestApp, key: &str, consumer: &str) -> String {
    let body = json!({"consumer_id": consumer, "redirect_uri": format!("{APP_ORIGIN}/done")});
    world::post(app, key, "/v1/sessions", body).await["session_token"].as_str().unwrap().to_owned()
}

/// The Connect page in each language but English, with a word that shows it is spoken.
const LANGUAGES: [(&str, &str); 5] = [("de", "Suche"), ("fr", "Rechercher"), ("es", "Buscar"), ("pt", "Buscar"), ("ja", "検索")];

/// Every state: a name, a URL, and what a person does there before the check.
async fn states(app: &TestApp, key: &str, project: &latchkey::model::ProjectId) -> Value {
    let list = page_url(app, &link(app, key, &LISTED, None).await, false);
    let jwt = session(app, key, CONSUMER).await;
    let listed = app.http.get(app.url(&format!("/v1/connections?consumer_id={CONSUMER}"))).bearer_auth(key).send().await.unwrap();
    let listed: Value = listed.json().await.unwrap();
    let authorize = listed["data"].as_array().unwrap().iter().find_map(|c| c["authorize_url"].as_str()).expect("an authorize link").to_owned();
    let open_key = json!({"click": "summary[data-connector='keys/acme']"});
    let paste = [open_key.clone(), json!({"fill": "#key-keys\\/acme", "value": "typed-by-a-person"}), json!({"submit": "#key-keys\\/acme ~ button"})];
    let blank = [open_key.clone(), json!({"unrequire": "#key-keys\\/acme"}), json!({"submit": "#key-keys\\/acme ~ button"})];
    let overview = app.url(&format!("/connect?jwt={jwt}"));
    let sandbox = |connector: &'static str| async move { page_url(app, &link(app, key, &[connector], None).await, true) };
    let redirecting = [json!({"hold": true}), json!({"click": "button[data-connector='sandbox/ok']"}), json!({"wait": ".connector.busy"})];
    let consent = [json!({"untarget": "form[action='/connect/oauth/start']"}), json!({"submit": "button[data-connector='sandbox/ok']"})];
    let mut states = vec![
        json!({"name": "connect: the connectors (page)", "url": list}),
        json!({"name": "connect: the connectors (modal)", "url": page_url(app, &link(app, key, &LISTED, None).await, true)}),
        json!({"name": "connect: search with results", "url": list,
               "steps": [{"fill": "#search", "value": "ac"}, {"text": "#search-status", "is": "3 integrations match."}]}),
        json!({"name": "connect: search without results", "url": list,
               "steps": [{"fill": "#search", "value": "nothing-matches"}, {"text": "#search-status", "is": "No integration matches."}]}),
        json!({"name": "connect: the API-key form", "url": list, "steps": [open_key]}),
        json!({"name": "connect: the password form", "url": list, "steps": [{"click": "summary[data-connector='basic/acme']"}]}),
        json!({"name": "connect: on the way to the provider", "url": list, "steps": redirecting}),
        json!({"name": "connect: from the browser's language", "url": list, "locale": "fr-FR", "light_only": true, "steps": [{"lang": "fr"}]}),
        json!({"name": "session: the overview", "url": overview}),
        json!({"name": "session: a deep link", "url": app.url(&format!("/connect/accounting/xero?jwt={jwt}"))}),
        json!({"name": "authorize: the confirmation", "url": authorize}),
        json!({"name": "sandbox: the consent page", "url": sandbox("sandbox/ok").await, "steps": consent}),
        json!({"name": "result: success (modal)", "url": page_url(app, &link(app, key, &LISTED, None).await, true), "steps": paste}),
        json!({"name": "result: connected at the provider (modal)", "url": sandbox("sandbox/ok").await, "steps": through_the_sandbox("sandbox/ok", true)}),
        json!({"name": "result: the provider denied (modal)", "url": sandbox("sandbox/deny").await, "steps": through_the_sandbox("sandbox/deny", false)}),
        json!({"name": "result: the provider is down (modal)", "url": sandbox("sandbox/down").await, "steps": through_the_sandbox("sandbox/down", true)}),
        json!({"name": "result: exit (modal)", "url": page_url(app, &link(app, key, &LISTED, None).await, true), "steps": blank}),
        json!({"name": "error: an expired link", "url": page_url(app, &world::expired_link(app, project).await, false)}),
        json!({"name": "error: a bad request", "url": app.url("/connect")}),
    ];
    for (lang, search) in LANGUAGES {
        let url = page_url(app, &link(app, key, &LISTED, Some(lang)).await, false);
        states.push(json!({"name": format!("connect: the connectors in {lang}"), "url": url, "light_only": true,
                           "steps": [{"lang": lang}, {"text": "label[for=search]", "is": search}]}));
    }
    Value::Array(states)
}

#[tokio::test(flavor = "multi_thread")]
async fn axe_finds_no_violation_on_any_page_state() {
    // Arrange
    let app = TestApp::spawn().await;
    let (project, key) = world::arrange(&app).await;
    world::connections(&app, &key, &project).await;
    let states = states(&app, &key, &project).await;
    let both = states.as_array().unwrap().iter().filter(|s| s["light_only"].is_null()).count();
    let expected = both + states.as_array().unwrap().len();

    // Act
    let found = tokio::task::spawn_blocking(move || world::drive("a11y.mjs", &states, &[])).await.unwrap();

    // Assert: every state reached in both schemes, and nothing found on any.
    let results = found["results"].as_array().expect("results");
    assert_eq!(results.len(), expected, "{found}");
    let mut problems = Vec::new();
    for result in results {
        let name = result["name"].as_str().unwrap_or_default();
        if let Some(error) = result["error"].as_str() {
            problems.push(format!("{name}: not reached: {error}"));
        }
        for violation in result["violations"].as_array().into_iter().flatten() {
            problems.push(format!("{name}: {} ({}): {} at {}", violation["id"], violation["impact"], violation["help"], violation["targets"]));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
