//! template.yaml against the route table: the same functions, binaries and routes, and the
//! least-privilege rules the design asks for.

use std::collections::BTreeSet;

use latchkey_http::{Function, ROUTES};
use serde_yaml::Value;

use crate::helpers;

fn template() -> Value {
    let text = std::fs::read_to_string(helpers::workspace_root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn function(template: &Value, function: Function) -> &Value {
    let resource = &template["Resources"][function.logical_id()];
    assert_eq!(resource["Type"], "AWS::Serverless::Function", "{}", function.logical_id());
    resource
}

#[test]
fn every_function_builds_its_binary_and_serves_exactly_its_routes() {
    let template = template();
    for f in Function::ALL {
        let resource = function(&template, f);
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(resource["Metadata"]["BuildProperties"]["Binary"], f.binary_name());
        let declared: BTreeSet<(String, String)> = resource["Properties"]["Events"]
            .as_mapping()
            .expect("events")
            .values()
            .filter(|event| event["Type"] == "HttpApi")
            .map(|event| {
                let p = &event["Properties"];
                (p["Method"].as_str().unwrap().to_uppercase(), p["Path"].as_str().unwrap().to_owned())
            })
            .collect();
        // API Gateway writes the rest of a path `{name+}`; axum, `{*name}`.
        let greedy = |path: &str| match path.split_once("{*") {
            Some((head, tail)) => format!("{head}{{{}+}}", tail.trim_end_matches('}')),
            None => path.to_owned(),
        };
        let expected: BTreeSet<(String, String)> = ROUTES.iter().filter(|r| r.function == f).map(|r| (r.method.to_owned(), greedy(r.path))).collect();
        assert_eq!(declared, expected, "{}", f.logical_id());
    }
    let http_functions = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .filter(|r| r["Properties"]["Events"].as_mapping().is_some_and(|e| e.values().any(|ev| ev["Type"] == "HttpApi")))
        .count();
    assert_eq!(http_functions, Function::ALL.len(), "template.yaml has an HTTP function the route table does not know");
    let sweep = &template["Resources"]["SweepFunction"];
    assert_eq!(sweep["Metadata"]["BuildProperties"]["Binary"], "latchkey-scheduled-sweep");
    let schedule = sweep["Properties"]["Events"].as_mapping().unwrap().values().next().unwrap();
    assert_eq!(schedule["Type"], "ScheduleV2");
}

#[test]
fn every_binary_name_is_a_workspace_crate() {
    for f in Function::ALL {
        let dir = f.binary_name().trim_start_matches("latchkey-");
        let manifest = std::fs::read_to_string(helpers::workspace_root().join("functions").join(dir).join("Cargo.toml"))
            .unwrap_or_else(|_| panic!("functions/{dir}/Cargo.toml"));
        assert!(manifest.contains(&format!("name = \"{}\"", f.binary_name())), "{dir}");
    }
}

fn kms_actions(resource: &Value) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let listed = match &statement["Action"] {
                Value::String(s) => vec![s.clone()],
                Value::Sequence(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            };
            actions.extend(listed.into_iter().filter(|a| a.starts_with("kms:")));
        }
    }
    actions
}

#[test]
fn no_function_is_granted_an_action_the_code_never_calls() {
    let raw = std::fs::read_to_string(helpers::workspace_root().join("template.yaml")).unwrap();
    for unused in ["dynamodb:UpdateItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"] {
        assert!(!raw.contains(unused), "{unused} is granted but never called");
    }
}

#[test]
fn kms_permissions_are_least_privilege() {
    let template = template();
    for f in [Function::CreateLinkToken, Function::ExchangePublicToken] {
        assert!(kms_actions(function(&template, f)).is_empty(), "{f:?} seals and opens nothing");
    }
    for f in [Function::IssueToken, Function::OAuthCallback] {
        let actions = kms_actions(function(&template, f));
        assert!(actions.contains("kms:Decrypt") && actions.contains("kms:GenerateDataKey"), "{f:?}: {actions:?}");
    }
    for f in Function::ALL {
        assert!(!kms_actions(function(&template, f)).iter().any(|a| a.contains('*')), "{f:?} has a wildcard KMS action");
    }
    // A function decrypts only for the scopes it serves: sessions sign with the deployment's keys
    // and nothing else; none may decrypt for a scope it does not name.
    let pinned = |logical_id: &str| -> BTreeSet<String> {
        let resource = &template["Resources"][logical_id];
        let mut scopes = BTreeSet::new();
        for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["Statement"].as_sequence().into_iter().flatten().filter(|s| s["Sid"] == "KeyAccess") {
                let values = &statement["Condition"]["StringLike"]["kms:EncryptionContext:latchkey:scope"];
                assert!(values.is_sequence(), "{logical_id} does not pin the encryption context's scope");
                scopes.extend(values.as_sequence().unwrap().iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
        }
        scopes
    };
    assert_eq!(pinned("CreateSessionFunction"), BTreeSet::from(["deployment".to_owned()]));
    assert_eq!(pinned("WebhookDeliveryFunction"), BTreeSet::from(["project:*".to_owned()]));
    for logical_id in ["IssueTokenFunction", "OAuthCallbackFunction", "SweepFunction"] {
        assert!(!pinned(logical_id).contains("deployment"), "{logical_id} signs nothing");
    }
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], "expires_at");
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
}

/// The actions of a resource's policies that start with `prefix`, with the resources they name.
fn actions_of(resource: &Value, prefix: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let on = serde_yaml::to_string(&statement["Resource"]).unwrap();
            for action in statement["Action"].as_sequence().into_iter().flatten().filter_map(|a| a.as_str()).filter(|a| a.starts_with(prefix)) {
                found.push((action.to_owned(), on.trim().to_owned()));
            }
        }
    }
    found
}

#[test]
fn background_work_is_found_through_the_due_index_and_fans_out_through_a_fifo_queue() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    let index = table["GlobalSecondaryIndexes"].as_sequence().unwrap().iter().find(|i| i["IndexName"] == latchkey::store::DynamoStore::DUE_INDEX);
    let index = index.expect("the due index the DynamoDB adapter queries");
    let keys: Vec<(&str, &str)> =
        index["KeySchema"].as_sequence().unwrap().iter().map(|k| (k["AttributeName"].as_str().unwrap(), k["KeyType"].as_str().unwrap())).collect();
    assert_eq!(keys, [("due_pk", "HASH"), ("due_at", "RANGE")]);
    assert_eq!(index["Projection"]["ProjectionType"], "INCLUDE", "keys and expiry only: no secret in the index");
    assert_eq!(index["Projection"]["NonKeyAttributes"], serde_yaml::to_value(["expires_at"]).unwrap());
    let types: BTreeSet<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().to_owned(), a["AttributeType"].as_str().unwrap().to_owned()))
        .collect();
    assert!(types.contains(&("due_pk".into(), "S".into())) && types.contains(&("due_at".into(), "N".into())), "{types:?}");

    let queue = &template["Resources"]["RefreshQueue"]["Properties"];
    assert_eq!(queue["FifoQueue"], true, "message groups bound each connector's lanes");
    let worker = &template["Resources"]["RefreshWorkerFunction"];
    assert_eq!(worker["Metadata"]["BuildProperties"]["Binary"], "latchkey-refresh-worker");
    assert!(helpers::workspace_root().join("functions/refresh-worker/Cargo.toml").exists());
    let event = worker["Properties"]["Events"].as_mapping().unwrap().values().next().unwrap();
    assert_eq!(event["Type"], "SQS");
    assert!(serde_yaml::to_string(&event["Properties"]["Queue"]).unwrap().contains("RefreshQueue.Arn"));
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= worker["Properties"]["Timeout"].as_u64().unwrap(), "Lambda requires it");
    let worker_table: BTreeSet<String> = actions_of(worker, "dynamodb:").into_iter().map(|(a, _)| a).collect();
    assert_eq!(worker_table, BTreeSet::from(["dynamodb:GetItem".to_owned(), "dynamodb:PutItem".to_owned()]), "reads a connection, writes it");

    // The sweep only reads the index and queues: no key access, no write, Query on the index only.
    let sweep = &template["Resources"]["SweepFunction"];
    assert!(serde_yaml::to_string(&sweep["Properties"]["Environment"]["Variables"]["LATCHKEY_REFRESH_QUEUE_URL"]).unwrap().contains("RefreshQueue"));
    assert!(kms_actions(sweep).is_empty(), "the sweep opens nothing: {:?}", kms_actions(sweep));
    let sweep_table = actions_of(sweep, "dynamodb:");
    assert_eq!(sweep_table.iter().map(|(a, _)| a.as_str()).collect::<BTreeSet<_>>(), BTreeSet::from(["dynamodb:GetItem", "dynamodb:Query"]));
    assert!(sweep_table.iter().filter(|(a, _)| a == "dynamodb:Query").all(|(_, on)| on.contains("/index/due")), "{sweep_table:?}");
}

#[test]
fn the_sandbox_and_the_operator_routes_are_deployed_only_when_asked_for() {
    let template = template();
    let default = |parameter: &str| template["Parameters"][parameter]["Default"].as_str().map(str::to_owned);
    assert_eq!(default("EnableSandbox").as_deref(), Some("false"), "the sandbox is off by default");
    assert_eq!(default("OperatorTokenSha256").as_deref(), Some(""), "no operator token by default");
    assert_eq!(template["Parameters"]["OperatorTokenSha256"]["NoEcho"], true);
    for (f, condition) in [(Function::Sandbox, "SandboxEnabled"), (Function::OperatorApi, "OperatorRoutesEnabled")] {
        assert_eq!(function(&template, f)["Condition"], condition, "{f:?}");
        assert!(!template["Conditions"][condition].is_null(), "{condition}");
    }
    assert!(kms_actions(function(&template, Function::Sandbox)).is_empty(), "the sandbox seals nothing");
    assert_eq!(kms_actions(function(&template, Function::OperatorApi)), BTreeSet::from(["kms:GenerateDataKey".to_owned()]));
    let variables = &function(&template, Function::OperatorApi)["Properties"]["Environment"]["Variables"];
    let hash = serde_yaml::to_string(&variables["LATCHKEY_OPERATOR_TOKEN_SHA256"]).unwrap();
    assert!(hash.contains("OperatorTokenSha256"), "the function gets the token's hash, never the token: {hash}");
    assert!(variables.get("LATCHKEY_OPERATOR_TOKEN").is_none());
    for f in Function::ALL.into_iter().filter(|f| !matches!(f, Function::Sandbox | Function::OperatorApi)) {
        assert!(function(&template, f).get("Condition").is_none(), "{f:?} is always deployed");
    }
}

#[test]
fn alarms_watch_dead_letters_refresh_failures_server_errors_and_throttles_and_a_dashboard_shows_the_metrics() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let alarms: Vec<&serde_yaml::Value> = resources.values().filter(|r| r["Type"] == "AWS::CloudWatch::Alarm").collect();
    let metric_of = |alarm: &serde_yaml::Value| -> Vec<String> {
        let mut names: Vec<String> = alarm["Properties"]["MetricName"].as_str().map(str::to_owned).into_iter().collect();
        for query in alarm["Properties"]["Metrics"].as_sequence().into_iter().flatten() {
            names.extend(query["MetricStat"]["Metric"]["MetricName"].as_str().map(str::to_owned));
        }
        names
    };
    let watched: Vec<String> = alarms.iter().flat_map(|a| metric_of(a)).collect();
    for metric in ["Refreshes", "5xx", "Throttles"] {
        assert!(watched.iter().any(|w| w == metric), "no alarm on {metric}: {watched:?}");
    }
    let dead_letters: BTreeSet<String> = alarms
        .iter()
        .filter(|a| a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible")
        .map(|a| serde_yaml::to_string(&a["Properties"]["Dimensions"]).unwrap())
        .collect();
    assert!(dead_letters.iter().any(|d| d.contains("WebhookDeadLetterQueue")) && dead_letters.iter().any(|d| d.contains("RefreshDeadLetterQueue")));

    // The refresh alarm reads what the functions write: the same namespace, name and dimension.
    let line = latchkey::metrics::emf_line(&latchkey::metrics::Metric::Refresh { connector: "slack/acme".into(), outcome: "refused" }, 0);
    let emitted: serde_json::Value = serde_json::from_str(&line).unwrap();
    let directive = &emitted["_aws"]["CloudWatchMetrics"][0];
    let refresh = alarms.iter().find(|a| a["Properties"]["MetricName"] == "Refreshes").unwrap();
    assert_eq!(refresh["Properties"]["Namespace"].as_str(), directive["Namespace"].as_str());
    assert_eq!(directive["Metrics"][0]["Name"], "Refreshes");
    assert_eq!(refresh["Properties"]["Dimensions"][0]["Name"].as_str(), Some("Outcome"));
    assert_eq!(directive["Dimensions"][0], serde_json::json!(["Outcome"]), "an alarm can watch every connector at once");
    assert_eq!(refresh["Properties"]["Dimensions"][0]["Value"].as_str(), emitted["Outcome"].as_str());

    let dashboard = resources.values().find(|r| r["Type"] == "AWS::CloudWatch::Dashboard").expect("a dashboard");
    let body = serde_yaml::to_string(&dashboard["Properties"]["DashboardBody"]).unwrap();
    for metric in ["TokenLatency", "Refreshes", "ProxyCalls", "WebhookDeliveries", "AuthRefusals"] {
        assert!(body.contains(metric), "the dashboard shows {metric}");
    }
}

#[test]
fn lambdas_log_their_own_lines_only_and_lambda_drops_none_of_them() {
    // Arrange
    let template = template();
    let logging = &template["Globals"]["Function"]["LoggingConfig"];

    // Assert: platform lines (about 500 bytes an invocation) are billed, so only their warnings are
    // kept; an application level would filter the audit lines, which carry no level (Lambda reads
    // them as INFO), and lose the trail.
    assert_eq!(logging["LogFormat"], "JSON");
    assert_eq!(logging["SystemLogLevel"], "WARN");
    assert!(logging["ApplicationLogLevel"].is_null(), "an ApplicationLogLevel would drop audit lines");
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let own = &resource["Properties"]["LoggingConfig"];
        assert!(own.is_null() || own["ApplicationLogLevel"].is_null(), "{name:?} filters its application log");
    }
}
