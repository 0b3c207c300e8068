//! The real OAuth 2.0 / OpenID provider on loopback: panva's oidc-provider, run by node from
//! `tests/e2e/oidc-server.mjs`. Each test starts its own; it dies with the test.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::{spawn_ready, workspace_root};

/// A running provider.
pub struct Provider {
    child: Child,
    /// Its discovery-like endpoints.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
}

impl Provider {
    /// Starts a provider that accepts `redirect_uris`.
    pub fn start(redirect_uris: &[&str]) -> Provider {
        Provider::start_with(redirect_uris, &[])
    }

    /// Starts one with environment settings (`OIDC_ACCESS_TOKEN_TTL`, `OIDC_GRANT_PER_AUTHORIZATION`).
    pub fn start_with(redirect_uris: &[&str], env: &[(&str, &str)]) -> Provider {
        let dir = workspace_root().join("tests").join("e2e");
        let (child, ready) = spawn_ready(
            || {
                let mut command = Command::new("node");
                command.current_dir(&dir).arg("oidc-server.mjs").args(["--port", "0"]).envs(env.iter().copied());
                for uri in redirect_uris {
                    command.args(["--redirect-uri", uri]);
                }
                command.stdin(Stdio::piped()).stderr(Stdio::inherit());
                command
            },
            "tests/e2e/oidc-server.mjs (run `npm ci` in tests/e2e, or the test command)",
        );
        let text = |k: &str| ready[k].as_str().unwrap_or_else(|| panic!("{k} in {ready}")).to_owned();
        Provider {
            issuer: text("issuer"),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            revocation_endpoint: text("revocation_endpoint"),
            introspection_endpoint: text("introspection_endpoint"),
            child,
        }
    }

    /// Every token the provider has issued, and its grant counts.
    pub async fn issued(&self) -> Value {
        reqwest::get(format!("{}/test/tokens", self.issuer)).await.unwrap().json().await.unwrap()
    }

    /// Whether the provider still accepts `token` (RFC 7662 introspection, as the auto client).
    pub async fn is_active(&self, token: &str) -> bool {
        let response = reqwest::Client::new()
            .post(&self.introspection_endpoint)
            .basic_auth("latchkey-auto", Some("auto-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "introspection: {}", response.status());
        response.json::<Value>().await.unwrap()["active"] == Value::Bool(true)
    }

    /// Makes the next `count` token-endpoint requests fail with `status`.
    pub async fn fail_token_endpoint(&self, status: u16, count: u32) {
        let url = format!("{}/test/fail-token-endpoint?status={status}&count={count}", self.issuer);
        let response = reqwest::Client::new().post(url).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
