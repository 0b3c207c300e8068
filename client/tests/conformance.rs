//! Runs `sdks/conformance/cases.json` against `latchkey-client`: every webhook vector, and the
//! stand-in and real-server cases whose calls and expectations this client covers. The rest are
//! listed as not covered (with why), and the cases that must stay covered are named below, so a
//! runner that quietly skipped them would fail.

mod common;

use std::collections::BTreeMap;

use common::{Server, Standin};
use latchkey_client::{verify_webhook, AuditParams, Client, Error, Method, ProxyRequest, Subject, TokenParams, VerifyOptions};
use serde_json::{json, Value};

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdks/conformance/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("cases.json")).expect("cases.json is JSON")
}

/// The calls this client has.
const CALLS: [&str; 7] = ["get_token", "connections_list", "connections_iterate", "audit_list", "audit_iterate", "proxy", "revoke_access_token"];

/// Why this client cannot run `case`, or `None` when it can.
fn not_covered(case: &Value, spec: &Value) -> Option<String> {
    let client = &case["client"];
    if let Some(name) = client["credential"].as_str() {
        if spec["credentials"][name].get("function").is_some() {
            return Some("no credential function (a fixed string only)".into());
        }
    }
    if client["token_cache"] == false {
        return Some("no switch to turn the token cache off".into());
    }
    for step in case["steps"].as_array().into_iter().flatten() {
        if step.get("advance_clock").is_some() {
            return Some("no clock to advance (the cache reads the system clock)".into());
        }
        if step.get("concurrent").is_some() {
            return Some("no single-flight for concurrent calls".into());
        }
        let call = step["call"].as_str().unwrap_or_default();
        if !CALLS.contains(&call) {
            return Some(format!("no {call}"));
        }
        if step["args"].get("force_refresh").is_some() {
            return Some("no force_refresh".into());
        }
        if step["expect"].get("token_requests").is_some() {
            return Some("no hook to count the requests sent to the real server".into());
        }
    }
    None
}

/// The result of one call, as JSON with the API's snake_case names, and how it prints.
struct Outcome {
    result: Result<Value, Error>,
    shown: String,
}

fn subject(value: &Value) -> Subject {
    match value["type"].as_str() {
        Some("user") => Subject::User(value["id"].as_str().expect("user id").to_owned()),
        _ => Subject::App,
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

async fn call(client: &Client, name: &str, a: &Value) -> Outcome {
    let shown = |result: &Result<Value, Error>, printed: String| Outcome { shown: format!("{printed} {:?}", result.as_ref().err()), result: result.clone() };
    match name {
        "get_token" => {
            let mut params = TokenParams { subject: subject(&a["subject"]), ..TokenParams::app() };
            params.installation_id = a["installation_id"].as_str().map(str::to_owned);
            if a.get("scopes").is_some() {
                params = params.with_scopes(&strings(&a["scopes"]));
            }
            if a.get("resources").is_some() {
                params = params.with_resources(&strings(&a["resources"]));
            }
            if let Some(details) = a["authorization_details"].as_array() {
                params = params.with_authorization_details(details);
            }
            if a["allow_broader"] == true {
                params = params.allowing_broader();
            }
            let token = client.get_token(a["connector"].as_str().unwrap_or_default(), &params).await;
            let printed = token.as_ref().map(|t| format!("{t:?}")).unwrap_or_default();
            let result = token.map(|t| {
                json!({
                    "access_token": t.access_token(),
                    "token_type": t.token_type,
                    "expires_at": t.expires_at.map(|at| at.format(&time::format_description::well_known::Rfc3339).expect("format")),
                    "scopes": t.scopes,
                    "resources": t.resources,
                    "authorization_details": t.authorization_details,
                    "connection_id": t.connection_id,
                    "installation_id": t.installation_id,
                    "connector": t.connector,
                    "metadata": t.metadata,
                })
            });
            shown(&result, printed)
        }
        "connections_list" => {
            let page =
                client.list_connections(a["consumer_id"].as_str().unwrap_or_default(), a["limit"].as_u64().map(|l| l as usize), a["cursor"].as_str()).await;
            let result = page.map(|p| serde_json::to_value(p).expect("page"));
            shown(&result, format!("{result:?}"))
        }
        "connections_iterate" => {
            let all = client.all_connections(a["consumer_id"].as_str().unwrap_or_default(), a["limit"].as_u64().map(|l| l as usize)).await;
            let result = all.map(|all| serde_json::to_value(all).expect("list"));
            shown(&result, format!("{result:?}"))
        }
        "audit_list" | "audit_iterate" => {
            let at = |name: &str| a[name].as_i64().map(|s| time::OffsetDateTime::from_unix_timestamp(s).expect("unix seconds"));
            let params = AuditParams {
                action: a["action"].as_str().map(str::to_owned),
                connection_id: a["connection_id"].as_str().map(str::to_owned),
                since: at("since"),
                until: at("until"),
                limit: a["limit"].as_u64().map(|l| l as usize),
            };
            let result = if name == "audit_list" {
                client.audit_list(&params, a["cursor"].as_str()).await.map(|p| serde_json::to_value(p).expect("page"))
            } else {
                client.all_audit(&params).await.map(|all| serde_json::to_value(all).expect("list"))
            };
            shown(&result, format!("{result:?}"))
        }
        "proxy" => {
            let method = Method::from_bytes(a["method"].as_str().unwrap_or("GET").as_bytes()).expect("method");
            let mut request = ProxyRequest::new(method, subject(&a["subject"]));
            if let Some(installation) = a["installation_id"].as_str() {
                request = request.installation(installation);
            }
            if let Some(retries) = a["retries"].as_u64() {
                request = request.retries(retries as u8);
            }
            if a.get("json").is_some() {
                request = request.json(&a["json"]);
            } else if let Some(text) = a["text"].as_str() {
                request = request.body(text);
            }
            let answer = client.proxy(a["connector"].as_str().unwrap_or_default(), a["path"].as_str().unwrap_or_default(), request).await;
            let printed = answer.as_ref().map(|r| format!("{r:?}")).unwrap_or_default();
            let result = answer.map(|r| json!({"status": r.status, "body": r.json::<Value>().unwrap_or_else(|_| Value::String(r.text()))}));
            shown(&result, printed)
        }
        "revoke_access_token" => {
            let result = client.revoke_access_token(a["access_token"].as_str().unwrap_or_default()).await.map(|revoked| json!({"revoked": revoked}));
            shown(&result, format!("{result:?}"))
        }
        other => panic!("not a covered call: {other}"),
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |current, segment| current.get(segment).unwrap_or(&Value::Null))
}

fn items(result: &Value) -> &Vec<Value> {
    result.as_array().or_else(|| result["data"].as_array()).expect("a list or a page")
}

/// `expected` is a partial of `actual`: every field it names matches.
fn partial(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match expected {
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| partial(&actual[k.as_str()], v, &format!("{at}.{k}"))),
        _ if actual == expected => Ok(()),
        _ => Err(format!("{at}: {actual} is not {expected}")),
    }
}

struct Ctx<'a> {
    standin: Option<&'a Standin>,
    latchkey_url: String,
    credentials: BTreeMap<String, String>,
}

fn check(expect: &Value, outcome: &Outcome, ctx: &Ctx) -> Result<(), String> {
    let fill = |v: &Value| match v.as_str() {
        Some(text) => Value::String(text.replace("{latchkey_url}", &ctx.latchkey_url)),
        None => v.clone(),
    };
    match (&outcome.result, expect.get("error")) {
        (Err(error), Some(wanted)) => {
            // This client reads an answer that is not Latchkey's JSON as a transport error.
            let code = if error.code() == "transport" { "unexpected_response" } else { error.code() };
            if code != wanted["code"] {
                return Err(format!("error {code} ({error}), not {}", wanted["code"]));
            }
            if let (Some(status), Some(wanted)) = (error.status(), wanted["status"].as_u64()) {
                if u64::from(status) != wanted {
                    return Err(format!("status {status}, not {wanted}"));
                }
            }
            if let Some(seconds) = wanted["retry_after"].as_u64() {
                if error.retry_after() != Some(seconds) {
                    return Err(format!("retry_after {:?}, not {seconds}", error.retry_after()));
                }
            }
            if let Some(details) = wanted.get("details") {
                partial(&error.details(), details, "details")?;
            }
        }
        (Ok(result), Some(wanted)) => return Err(format!("expected error {}, got {result}", wanted["code"])),
        (Err(error), None) => return Err(format!("failed: {error:?}")),
        (Ok(_), None) => {}
    }
    let result = outcome.result.as_ref().ok();
    for (path, wanted) in expect["result"].as_object().into_iter().flatten() {
        let got = lookup(result.expect("a result"), path);
        if *got != fill(wanted) {
            return Err(format!("result.{path} = {got}, not {wanted}"));
        }
    }
    for (path, prefix) in expect["result_prefix"].as_object().into_iter().flatten() {
        let got = lookup(result.expect("a result"), path).as_str().unwrap_or_default();
        if !got.starts_with(fill(prefix).as_str().unwrap_or_default()) {
            return Err(format!("result.{path} = {got} does not start with {prefix}"));
        }
    }
    if let Some(ids) = expect.get("result_ids") {
        let got: Vec<&Value> = items(result.expect("a result")).iter().map(|i| &i["id"]).collect();
        if got != ids.as_array().expect("ids").iter().collect::<Vec<_>>() {
            return Err(format!("ids {got:?}, not {ids}"));
        }
    }
    if let Some(wanted) = expect["result_contains"].as_object() {
        let list = items(result.expect("a result"));
        if !list.iter().any(|item| wanted.iter().all(|(path, v)| lookup(item, path) == v)) {
            return Err(format!("no item has {wanted:?} in {list:?}"));
        }
    }
    if let Some(wanted) = expect["result_every"].as_object() {
        for item in items(result.expect("a result")) {
            if let Some((path, v)) = wanted.iter().find(|(path, v)| lookup(item, path) != *v) {
                return Err(format!("an item's {path} is not {v}: {item}"));
            }
        }
    }
    if let Some(count) = expect["requests"].as_u64() {
        let got = ctx.standin.expect("a stand-in").count() as u64;
        if got != count {
            return Err(format!("{got} requests to the stand-in, not {count}"));
        }
    }
    if let Some(wanted) = expect.get("last_request") {
        let last = ctx.standin.expect("a stand-in").last().ok_or("no request was made")?;
        let recorded = json!({"method": last.method, "path": last.path, "query": last.query, "body": last.body});
        for field in ["method", "path", "query", "body"] {
            if let Some(v) = wanted.get(field) {
                partial(&recorded[field], v, &format!("request.{field}"))?;
            }
        }
        for (name, v) in wanted["headers"].as_object().into_iter().flatten() {
            if last.headers.get(&name.to_ascii_lowercase()).map(String::as_str) != v.as_str() {
                return Err(format!("request header {name} = {:?}, not {v}", last.headers.get(name)));
            }
        }
        for name in strings(&wanted["absent_headers"]) {
            if last.headers.contains_key(name) {
                return Err(format!("request header {name} was sent"));
            }
        }
        if let Some(body) = wanted.get("json") {
            let sent: Value = serde_json::from_str(&last.body).map_err(|_| format!("the body is not JSON: {}", last.body))?;
            if sent != *body {
                return Err(format!("request body {sent}, not {body}"));
            }
        }
    }
    for name in strings(&expect["secrets_not_shown"]) {
        let secret = match name.strip_prefix("result.") {
            Some(path) => result.map(|r| lookup(r, path).as_str().unwrap_or_default().to_owned()).unwrap_or_default(),
            None => ctx.credentials.get(name).cloned().unwrap_or_else(|| name.to_owned()),
        };
        let printed = match &outcome.result {
            Err(error) => format!("{error} {error:?} {}", outcome.shown),
            Ok(_) => outcome.shown.clone(),
        };
        if !secret.is_empty() && printed.contains(&secret) {
            return Err(format!("a secret ({name}) is shown"));
        }
    }
    Ok(())
}

async fn run_steps(case: &Value, base: &str, ctx: &Ctx<'_>, default_credential: &str) -> Result<(), String> {
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
        let name = step["credential"].as_str().or(case["client"]["credential"].as_str()).unwrap_or(default_credential).to_owned();
        if !clients.contains_key(&name) {
            let credential = ctx.credentials.get(&name).unwrap_or_else(|| panic!("credential {name}"));
            let mut client = Client::new(base, credential.clone()).expect("client");
            if let Some(buffer) = case["client"]["cache_buffer_seconds"].as_u64() {
                client = client.with_buffer(std::time::Duration::from_secs(buffer));
            }
            clients.insert(name.clone(), client);
        }
        let outcome = call(&clients[&name], step["call"].as_str().expect("call"), &step["args"]).await;
        check(&step["expect"], &outcome, ctx).map_err(|e| format!("step {} ({}): {e}", i + 1, step["call"]))?;
    }
    Ok(())
}

fn literal_credentials(spec: &Value) -> BTreeMap<String, String> {
    spec["credentials"].as_object().expect("credentials").iter().filter_map(|(name, def)| Some((name.clone(), def["value"].as_str()?.to_owned()))).collect()
}

/// Every case must pass or be named here; these must run.
fn assert_ran(ran: &[String], must: &[&str]) {
    for name in must {
        assert!(ran.iter().any(|r| r.starts_with(name)), "the case {name:?} did not run: {ran:#?}");
    }
}

fn report(target: &str, ran: &[String], skipped: &[(String, String)], failed: &[String]) {
    println!("{target}: {} ran, {} not covered, {} failed", ran.len(), skipped.len(), failed.len());
    for (name, why) in skipped {
        println!("  not covered: {name}: {why}");
    }
    assert!(failed.is_empty(), "{target} cases failed:\n{}", failed.join("\n"));
}

#[test]
fn webhook_vectors() {
    let spec = spec();
    let mut ran = 0;
    for case in spec["cases"].as_array().expect("cases").iter().filter(|c| c["target"] == "webhook") {
        let (w, expect, name) = (&case["webhook"], &case["expect"], case["name"].as_str().unwrap_or_default());
        let headers: Vec<(String, String)> =
            w["headers"].as_object().expect("headers").iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect();
        let options = VerifyOptions { now: w["now"].as_i64(), tolerance_seconds: w["tolerance_seconds"].as_u64().unwrap_or(300) };
        let secret = w["secret"].as_str().expect("secret");
        let outcome = verify_webhook(secret, &headers, w["body"].as_str().expect("body").as_bytes(), options);
        if expect["ok"] == true {
            let event = outcome.unwrap_or_else(|e| panic!("{name}: refused: {e}"));
            let event = json!({"id": event.id, "type": event.event_type, "timestamp": event.timestamp, "payload": event.payload});
            for (path, v) in expect["event"].as_object().into_iter().flatten() {
                assert_eq!(lookup(&event, path), v, "{name}: event.{path}");
            }
        } else {
            let refused = outcome.expect_err(name);
            assert_eq!(refused.reason.as_str(), expect["reason"], "{name}");
            assert!(!refused.to_string().contains(secret) && !format!("{refused:?}").contains(secret), "{name}");
        }
        ran += 1;
    }
    assert!(ran >= 11, "{ran} webhook vectors");
}

#[tokio::test]
async fn standin_cases() {
    let spec = spec();
    let (mut ran, mut skipped, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for case in spec["cases"].as_array().expect("cases").iter().filter(|c| c["target"] == "standin") {
        let name = case["name"].as_str().unwrap_or_default().to_owned();
        if let Some(why) = not_covered(case, &spec) {
            skipped.push((name, why));
            continue;
        }
        let standin = Standin::start(case["standin"].as_array().expect("routes").clone());
        let ctx = Ctx { standin: Some(&standin), latchkey_url: standin.url.clone(), credentials: literal_credentials(&spec) };
        if let Err(e) = run_steps(case, &standin.url, &ctx, "standin_key").await {
            failed.push(format!("{name}: {e}"));
        }
        ran.push(name);
    }
    report("stand-in", &ran, &skipped, &failed);
    assert_ran(
        &ran,
        &[
            "proxy: the request names its subject",
            "pagination: the audit iterator",
            "errors: every stable code maps to its class",
            "getToken sends the connector as one encoded segment",
            "revokeAccessToken posts the token",
            "pagination: the connections iterator",
        ],
    );
}

#[tokio::test]
async fn real_server_cases() {
    let spec = spec();
    let server = Server::start();
    let mut credentials = literal_credentials(&spec);
    credentials.insert("secret_key".into(), server.secret_key.clone());
    credentials.insert("alice_key".into(), server.user_key("alice"));
    // The file's setup: alice's demo connection (imported by the fixture; this client has no import).
    for step in spec["setup"].as_array().expect("setup") {
        assert_eq!(step["call"], "connections_import", "a setup step this runner knows");
        let a = &step["args"];
        server.import_api_key(a["consumer_id"].as_str().unwrap(), a["connector"].as_str().unwrap(), a["credentials"]["api_key"].as_str().unwrap()).await;
    }
    let ctx = Ctx { standin: None, latchkey_url: server.url.clone(), credentials };
    let (mut ran, mut skipped, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for case in spec["cases"].as_array().expect("cases").iter().filter(|c| c["target"] == "server") {
        let name = case["name"].as_str().unwrap_or_default().to_owned();
        if let Some(why) = not_covered(case, &spec) {
            skipped.push((name, why));
            continue;
        }
        if let Err(e) = run_steps(case, &server.url, &ctx, "secret_key").await {
            failed.push(format!("{name}: {e}"));
        }
        ran.push(name);
    }
    report("real server", &ran, &skipped, &failed);
    assert_ran(
        &ran,
        &[
            "proxy: a connector without an API block is connector_not_proxyable",
            "audit: a secret key reads its environment's trail",
            "revoking an unknown access token",
            "a bad secret key is unauthenticated",
        ],
    );
}
