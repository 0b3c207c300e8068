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
        let expected: BTreeSet<(String, String)> = ROUTES.iter().filter(|r| r.function == f).map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
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

#[test]
fn the_sandbox_and_the_operator_routes_are_deployed_only_when_asked_for() {
    let template = template();
    let default = |parameter: &str| template["Parameters"][parameter]["Default"].as_str().map(str::to_owned);
    assert_eq!(default("EnableSandbox").as_deref(), Some("false"), "the sandbox is off by default");
    assert_eq!(default("OperatorTokenSha256").as_deref(), Some(""), "no operator token by default");
    assert_eq!(template["Parameters"]["OperatorTokenSha256"]["NoEcho"], true);
    for (f, condition) in [(Function::Sandbox, "SandboxEnabled"), (Function::OperatorApi, "OperatorRoutesEnabled")] {
        assert_eq!(function(&template, f)["Condition"], condition, "{f:?}");
        assert!(template["Conditions"][condition].is_mapping(), "{condition}");
    }
    assert!(kms_actions(function(&template, Function::Sandbox)).is_empty(), "the sandbox seals nothing");
    assert_eq!(kms_actions(function(&template, Function::OperatorApi)), BTreeSet::from(["kms:GenerateDataKey".to_owned()]));
    let variables = &function(&template, Function::OperatorApi)["Properties"]["Environment"]["Variables"];
    assert!(variables["LATCHKEY_OPERATOR_TOKEN_SHA256"].is_mapping(), "the function gets the token's hash, never the token");
    for f in Function::ALL.into_iter().filter(|f| !matches!(f, Function::Sandbox | Function::OperatorApi)) {
        assert!(function(&template, f).get("Condition").is_none(), "{f:?} is always deployed");
    }
}
