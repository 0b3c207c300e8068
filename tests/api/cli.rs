//! The `latchkey` operator CLI, run as a process: over the embedded store and over DynamoDB and
//! KMS on loopback.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use latchkey::store::SqliteStore;
use latchkey::{SecretString, SystemClock};
use serde_json::Value;

use crate::helpers;

/// Runs `latchkey` with `args` over the data folder `dir` (and `extra` variables), feeding `stdin`.
pub(crate) fn latchkey(dir: &Path, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(helpers::workspace_binary("latchkey"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("LATCHKEY_") && n != "LATCHKEY_TEST_MOTO_ENDPOINT") {
        command.env_remove(name);
    }
    command
        .env("LATCHKEY_DATA_DIR", dir)
        .env("LATCHKEY_OUTBOUND_ALLOW", helpers::FIXTURE_HOST)
        .env("RUST_LOG", "warn")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run latchkey");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().expect("latchkey output")
}

pub(crate) fn json(output: &Output) -> Value {
    assert!(output.status.success(), "latchkey failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn operators_manage_projects_keys_and_connectors_over_the_embedded_store() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Act: a project, a key, a connector with a secret from stdin, a link.
    let project = json(&latchkey(d, &["--json", "projects", "create", "--name", "Acme", "--allowed-origin", "https://app.acme.test"], &[], None));
    let project_id = project[0]["id"].as_str().unwrap().to_owned();
    let key = json(&latchkey(d, &["--json", "keys", "create", "--project", &project_id, "--environment", "production"], &[], None));
    let secret = key["secret_key"].as_str().unwrap().to_owned();
    let created = json(&latchkey(
        d,
        &[
            "--json",
            "connectors",
            "create",
            "--uid",
            "slack/acme-slack",
            "--name",
            "Acme Slack",
            "--client-id",
            "cid-1",
            "--client-secret-stdin",
            "--scope",
            "chat:write",
            "--authorize-url",
            "https://slack.com/oauth/v2/authorize",
            "--token-url",
            "https://slack.com/api/oauth.v2.access",
            "--scope-separator",
            ",",
        ],
        &[],
        Some("client-secret-that-must-not-leak\n"),
    ));
    let linked = json(&latchkey(
        d,
        &["--json", "connectors", "link", "--uid", "slack/acme-slack", "--project", &project_id, "--environment", "production", "--environment", "preview"],
        &[],
        None,
    ));

    // Assert
    assert!(secret.starts_with("lk_sk_") && secret.len() >= 6 + 32, "{secret}");
    assert_eq!(project[0]["environments"], serde_json::json!(["production", "preview", "development"]));
    assert_eq!(created[0]["has_client_secret"], true);
    assert_eq!(linked[0]["links"][0]["environments"], serde_json::json!(["production", "preview"]));

    let listed_keys = stdout(&latchkey(d, &["keys", "list", "--project", &project_id], &[], None));
    assert!(listed_keys.contains(key["key_id"].as_str().unwrap()) && !listed_keys.contains(&secret), "{listed_keys}");
    let listed_connectors = stdout(&latchkey(d, &["--json", "connectors", "list"], &[], None));
    assert!(!listed_connectors.contains("client-secret-that-must-not-leak"));

    let raw = std::fs::read(d.join("latchkey.sqlite3")).unwrap();
    let wal = std::fs::read(d.join("latchkey.sqlite3-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("client-secret-that-must-not-leak"), "client secret stored in plaintext");
        assert!(!text.contains(&secret), "secret key stored in plaintext");
    }

    let store = SqliteStore::open(&d.join("latchkey.sqlite3"), Arc::new(SystemClock)).unwrap();
    let found = latchkey::token::caller::secret_key_owner(&store, &SecretString::new(secret.clone())).await.unwrap().expect("key authenticates");
    assert_eq!(found.project_id.as_str(), project_id);

    let revoked = latchkey(d, &["keys", "revoke", "--project", &project_id, "--key-id", key["key_id"].as_str().unwrap()], &[], None);
    assert!(revoked.status.success());
    assert!(latchkey::token::caller::secret_key_owner(&store, &SecretString::new(secret)).await.unwrap().is_none(), "a revoked key is refused");

    let updated = json(&latchkey(d, &["--json", "connectors", "update", "--uid", "slack/acme-slack", "--clear-scopes"], &[], None));
    assert_eq!(updated[0]["default_scopes"], serde_json::json!([]));
    assert!(latchkey(d, &["connectors", "unlink", "--uid", "slack/acme-slack", "--project", &project_id], &[], None).status.success());
    assert!(latchkey(d, &["connectors", "delete", "--uid", "slack/acme-slack"], &[], None).status.success());
    assert_eq!(json(&latchkey(d, &["--json", "connectors", "list"], &[], None)), serde_json::json!([]));
    assert_eq!(
        json(&latchkey(d, &["--json", "connections", "list", "--project", &project_id], &[], None)),
        serde_json::json!({"data": [], "next_cursor": null})
    );
}

#[test]
fn bad_input_gets_a_clear_message_a_non_zero_exit_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = json(&latchkey(d, &["--json", "projects", "create", "--name", "Acme"], &[], None));
    let project_id = project[0]["id"].as_str().unwrap().to_owned();
    let before = json(&latchkey(d, &["--json", "projects", "list"], &[], None));

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["projects", "create", "--name", "X", "--environment", "Prod"], "invalid environment"),
        (vec!["projects", "create", "--name", "X", "--allowed-origin", "https://x.test/path"], "invalid origin"),
        (vec!["keys", "create", "--project", &project_id, "--environment", "staging"], "not found"),
        (vec!["keys", "create", "--project", "prj_nope", "--environment", "production"], "not found"),
        (vec!["keys", "create", "--project", "nope", "--environment", "production"], "invalid project id"),
        (vec!["connectors", "create", "--uid", "no-slash"], "invalid connector uid"),
        (vec!["connectors", "create", "--uid", "slack/x", "--auth-mode", "api-key", "--scope", "two words"], "invalid scope"),
        (vec!["connectors", "create", "--uid", "acme/x", "--client-id", "c"], "needs its authorize and token URLs"),
        (
            vec!["connectors", "create", "--uid", "slack/x", "--client-id", "c", "--authorize-url", "http://evil.example/a", "--token-url", "https://x.test/t"],
            "must be an https URL",
        ),
        (vec!["connectors", "create", "--uid", "slack/x", "--authorize-url", "https://x.test/a"], "give both"),
        (vec!["connectors", "link", "--uid", "slack/none", "--project", &project_id, "--environment", "production"], "not found"),
        (vec!["connectors", "create", "--uid", "slack/x", "--auth-mode", "api-key", "--client-secret-env", "LATCHKEY_TEST_UNSET_VARIABLE"], "is not set"),
    ];
    for (args, expected) in cases {
        let output = latchkey(d, &args, &[], None);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in {stderr}");
    }
    assert_eq!(json(&latchkey(d, &["--json", "projects", "list"], &[], None)), before, "nothing changed");
    assert_eq!(json(&latchkey(d, &["--json", "connectors", "list"], &[], None)), serde_json::json!([]));
    let duplicate = latchkey(d, &["connectors", "create", "--uid", "slack/x", "--auth-mode", "api-key"], &[], None);
    assert!(duplicate.status.success());
    let again = latchkey(d, &["connectors", "create", "--uid", "slack/x", "--auth-mode", "api-key"], &[], None);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn the_catalog_is_listed_and_names_a_connectors_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = json(&latchkey(d, &["--json", "providers"], &[], None));
    assert!(all.as_array().unwrap().len() >= 50);
    let crm = json(&latchkey(d, &["--json", "providers", "--category", "crm"], &[], None));
    assert!(crm.as_array().unwrap().iter().any(|p| p["id"] == "salesforce"));
    let created = json(&latchkey(
        d,
        &["--json", "connectors", "create", "--uid", "slack/acme", "--client-id", "123.456", "--client-secret-env", "SLACK_SECRET"],
        &[("SLACK_SECRET", "s3cret")],
        None,
    ));
    assert_eq!(created[0]["provider"], "slack");
    assert!(!created[0]["default_scopes"].as_array().unwrap().is_empty(), "scopes from the catalog");
    let unknown = latchkey(d, &["connectors", "create", "--uid", "x/y", "--provider", "nope", "--client-id", "c"], &[], None);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("not found"));
}

#[test]
fn the_refresh_buffer_and_revocation_scope_are_set_for_catalog_discovered_and_custom_connectors() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let provider = crate::provider::Provider::start(&["http://127.0.0.1:1/v1/oauth/callback"]);
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
    let secret = [("SECRET", "s3cret")];

    // Act
    let catalog = json(&latchkey(
        d,
        &["--json", "connectors", "create", "--uid", "slack/acme", "--client-id", "1.2", "--client-secret-env", "SECRET", "--refresh-buffer-secs", "120"],
        &secret,
        None,
    ));
    let discovered = json(&latchkey(
        d,
        &[
            "--json",
            "connectors",
            "create",
            "--uid",
            "oidc/acme",
            "--discovery-url",
            &discovery,
            "--client-id",
            "c",
            "--refresh-buffer-secs",
            "45",
            "--revocation-scope",
            "grant",
        ],
        &[],
        None,
    ));
    let updated = json(&latchkey(d, &["--json", "connectors", "update", "--uid", "slack/acme", "--refresh-buffer-secs", "30"], &[], None));
    let too_long = latchkey(d, &["connectors", "update", "--uid", "slack/acme", "--refresh-buffer-secs", "100000"], &[], None);
    let api_key = latchkey(d, &["connectors", "create", "--uid", "keys/acme", "--auth-mode", "api-key", "--refresh-buffer-secs", "10"], &[], None);

    // Assert
    assert_eq!((catalog[0]["refresh_buffer_secs"].as_i64(), catalog[0]["revocation_scope"].as_str()), (Some(120), Some("token")));
    assert_eq!((discovered[0]["refresh_buffer_secs"].as_i64(), discovered[0]["revocation_scope"].as_str()), (Some(45), Some("grant")));
    assert_eq!(updated[0]["refresh_buffer_secs"], 30);
    assert_eq!(too_long.status.code(), Some(2), "out of range is invalid input");
    assert!(!api_key.status.success(), "an API-key connector has nothing to refresh");
    let listed = json(&latchkey(d, &["--json", "connectors", "list"], &[], None));
    assert!(listed.as_array().unwrap().iter().all(|c| c["uid"] != "keys/acme"), "the refused create changed nothing");
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["projects"],
        &["projects", "create"],
        &["projects", "list"],
        &["keys"],
        &["keys", "create"],
        &["keys", "list"],
        &["keys", "revoke"],
        &["connectors"],
        &["connectors", "create"],
        &["connectors", "list"],
        &["connectors", "update"],
        &["connectors", "delete"],
        &["connectors", "link"],
        &["connectors", "unlink"],
        &["connections"],
        &["connections", "list"],
        &["table"],
        &["table", "create"],
        &["providers"],
        &["webhooks"],
        &["webhooks", "add"],
        &["webhooks", "list"],
        &["webhooks", "remove"],
        &["webhooks", "deliveries"],
        &["projects", "trust-issuer"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = latchkey(dir.path(), &args, &[], None);
        assert!(output.status.success(), "{args:?}");
        assert!(stdout(&output).contains("Usage:"), "{args:?}");
    }
}

#[tokio::test]
async fn the_cli_runs_against_dynamodb_and_kms() {
    // Arrange: a table and a KMS key on the loopback moto_server.
    let dir = tempfile::tempdir().unwrap();
    let endpoint = helpers::moto_endpoint();
    let table = helpers::unique("cli");
    let key_id = helpers::kms_provider().await.key_id().to_owned();
    let env = [
        ("LATCHKEY_STORE", "dynamodb"),
        ("LATCHKEY_TABLE", table.as_str()),
        ("LATCHKEY_DYNAMODB_ENDPOINT", endpoint.as_str()),
        ("LATCHKEY_KEYRING", "kms"),
        ("LATCHKEY_KMS_KEY_ID", key_id.as_str()),
        ("LATCHKEY_KMS_ENDPOINT", endpoint.as_str()),
    ];

    // Act
    assert!(latchkey(dir.path(), &["table", "create"], &env, None).status.success());
    let project = json(&latchkey(dir.path(), &["--json", "projects", "create", "--name", "Acme"], &env, None));
    let created = json(&latchkey(
        dir.path(),
        &[
            "--json",
            "connectors",
            "create",
            "--uid",
            "github/acme",
            "--client-id",
            "cid",
            "--client-secret-env",
            "GH_SECRET",
            "--authorize-url",
            "https://github.com/login/oauth/authorize",
            "--token-url",
            "https://github.com/login/oauth/access_token",
        ],
        &[env.as_slice(), &[("GH_SECRET", "gh-secret-value")]].concat(),
        None,
    ));

    // Assert: listed through the CLI, and the raw item holds only ciphertext.
    let listed = json(&latchkey(dir.path(), &["--json", "projects", "list"], &env, None));
    assert_eq!(listed[0]["id"], project[0]["id"]);
    assert_eq!(created[0]["has_client_secret"], true);
    let client = latchkey_bootstrap::dynamodb_client(&helpers::aws().await, Some(&endpoint));
    let scan = client.scan().table_name(&table).send().await.unwrap();
    let raw = format!("{:?}", scan.items());
    assert!(raw.contains("github/acme") && raw.contains("lk1."), "{raw}");
    assert!(!raw.contains("gh-secret-value"));
}

#[test]
fn a_connector_is_told_how_its_tokens_narrow_and_refuses_ways_its_auth_mode_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let endpoints = ["--authorize-url", "https://id.acme.test/authorize", "--token-url", "https://id.acme.test/token"];
    let mut create = vec!["--json", "connectors", "create", "--uid", "custom/acme", "--client-id", "cid"];
    create.extend(endpoints);
    create.extend(["--narrowing", "refresh_scope,refresh_resource"]);
    let update = |ways: &str| latchkey(d, &["--json", "connectors", "update", "--uid", "custom/acme", "--narrowing", ways], &[], None);

    let created = json(&latchkey(d, &create, &[], None));
    let exchanged = json(&update("token_exchange"));
    let cleared = json(&update("none"));
    let wrong_mode = update("github_installation");
    let unknown = update("refresh_everything");

    assert_eq!(created[0]["narrowing"], serde_json::json!(["refresh_scope", "refresh_resource"]));
    assert_eq!(exchanged[0]["narrowing"], serde_json::json!(["token_exchange"]));
    assert_eq!(cleared[0]["narrowing"], serde_json::json!([]));
    assert!(!wrong_mode.status.success() && String::from_utf8_lossy(&wrong_mode.stderr).contains("does not apply"), "{wrong_mode:?}");
    assert!(!unknown.status.success(), "{unknown:?}");
}
