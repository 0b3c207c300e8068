//! The API against its own OpenAPI document: schemathesis (installed by the test command into
//! `.tools/venv`) generates requests from `/v1/openapi.json` of a fresh `latchkey serve` and runs
//! every check it has — no 5xx, statuses, content types, headers and bodies as documented, bad
//! input refused with a 4xx, good input taken. Deterministic and bounded by
//! `tests/contract/schemathesis.toml`; the values a schema cannot pick (tokens issued before the
//! run, allowed origins) come from that file and `tests/contract/hooks.py`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::{spawn_ready, workspace_binary, workspace_root};

/// `latchkey serve` on a free loopback port over a fresh data folder.
struct Server {
    child: std::process::Child,
    base: String,
    secret_key: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, banner) = spawn_ready(
            || {
                let mut command = Command::new(workspace_binary("latchkey"));
                command
                    .args(["--json", "serve", "--bind", "127.0.0.1:0"])
                    .env("LATCHKEY_DATA_DIR", dir.path())
                    .env_remove("LATCHKEY_STORE")
                    .env_remove("LATCHKEY_KEYRING")
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null())
                    .stderr(Stdio::null());
                command
            },
            "latchkey serve",
        );
        let base = banner["listening"].as_str().expect("listening").to_owned();
        let secret_key = banner["demo_secret_key"].as_str().expect("a demo key on first start").to_owned();
        Server { child, base, secret_key, _dir: dir }
    }

    /// POSTs `body` to `path` with the demo key; the answer's `field`.
    async fn issue(&self, path: &str, body: Value, field: &str) -> String {
        let response = reqwest::Client::new().post(format!("{}{path}", self.base)).bearer_auth(&self.secret_key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{path}");
        response.json::<Value>().await.unwrap()[field].as_str().expect(field).to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn schemathesis() -> PathBuf {
    let path = workspace_root().join(".tools/venv/bin/schemathesis");
    assert!(path.exists(), "{} is missing: run `bash scripts/test.sh`, which installs it", path.display());
    path
}

/// The number in schemathesis' closing line (`=== 3 failures, 1 warning in 9.18s ===`).
fn failures(output: &str) -> Option<usize> {
    let last = output.lines().rev().find(|l| l.starts_with('='))?;
    let count = last.split_whitespace().zip(last.split_whitespace().skip(1)).find(|(_, word)| word.starts_with("failure"));
    Some(count.and_then(|(n, _)| n.parse().ok()).unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_contract_mismatch() {
    // Arrange: a server, and a link token and a session of its demo project for the pages.
    let server = Server::start();
    let link = json!({"end_user": {"id": "contract-user"}, "redirect_url": "http://127.0.0.1:3000/done"});
    let link_token = server.issue("/v1/link/token", link, "link_token").await;
    let session = json!({"consumer_id": "contract-user", "redirect_uri": "http://127.0.0.1:3000/"});
    let session_token = server.issue("/v1/sessions", session, "session_token").await;
    let work = tempfile::tempdir().unwrap();

    // Act
    let root = workspace_root();
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking({
        let (base, key) = (server.base.clone(), server.secret_key.clone());
        move || {
            Command::new(schemathesis())
                .current_dir(work.path())
                .arg("--config-file")
                .arg(root.join("tests/contract/schemathesis.toml"))
                .args(["run", &format!("{base}/v1/openapi.json"), "--no-color"])
                .env("SCHEMATHESIS_HOOKS", root.join("tests/contract/hooks.py"))
                .env("LATCHKEY_SECRET_KEY", key)
                .env("LATCHKEY_LINK_TOKEN", link_token)
                .env("LATCHKEY_SESSION_TOKEN", session_token)
                .output()
                .expect("run schemathesis")
        }
    })
    .await
    .unwrap();

    // Assert: the output is schemathesis' own, with credentials filtered out of it.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("schemathesis ran for {:.0?}", started.elapsed());
    assert_eq!(failures(&stdout), Some(0), "schemathesis found contract mismatches:\n{report}");
    assert!(output.status.success(), "schemathesis failed:\n{report}");
    // Every operation of the route table but the document's own route, which schemathesis skips.
    let selected = stdout.lines().find_map(|l| l.trim().strip_prefix("Operations:")).map(|l| l.split_whitespace().filter_map(|w| w.parse().ok()).collect());
    // (the proxy's one `ANY` route is five documented operations.)
    let operations: usize = latchkey_http::ROUTES.iter().map(|r| if r.method == "ANY" { 5 } else { 1 }).sum();
    assert_eq!(selected, Some(vec![operations - 1; 2]), "not every operation was tested:\n{report}");
}

#[test]
fn the_closing_line_is_read() {
    assert_eq!(failures("x\n======= 15 failures, 1 warning in 6.64s ======="), Some(15));
    assert_eq!(failures("x\n======= 1 failure in 6.64s ======="), Some(1));
    assert_eq!(failures("x\n======= No issues found in 9.1s ======="), Some(0));
    assert_eq!(failures("crashed before the summary"), None);
}
