//! Other `latchkey serve` processes over the same store and key as a test's app: what several
//! Lambda instances, or several local servers, are to one another.

use std::io::BufRead;

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// A running `latchkey serve` child process; killed when dropped.
pub struct ServeProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl ServeProcess {
    /// Starts one over `app`'s store and key: its SQLite file and master key, or its DynamoDB
    /// table and KMS key.
    pub fn beside(app: &TestApp) -> ServeProcess {
        let mut env = vec![("LATCHKEY_OUTBOUND_ALLOW".to_owned(), crate::helpers::FIXTURE_HOST.to_owned()), ("RUST_LOG".to_owned(), "warn".to_owned())];
        match app.backend() {
            Backend::Local => env.push(("LATCHKEY_DATA_DIR".into(), app.dir.path().display().to_string())),
            Backend::Aws => {
                let endpoint = crate::helpers::moto_endpoint();
                env.extend([
                    ("LATCHKEY_STORE".into(), "dynamodb".into()),
                    ("LATCHKEY_TABLE".into(), app.table.clone().expect("a table on the AWS backend")),
                    ("LATCHKEY_DYNAMODB_ENDPOINT".into(), endpoint.clone()),
                    ("LATCHKEY_KEYRING".into(), "kms".into()),
                    ("LATCHKEY_KMS_KEY_ID".into(), app.kms.as_ref().expect("a KMS key on the AWS backend").key_id().to_owned()),
                    ("LATCHKEY_KMS_ENDPOINT".into(), endpoint),
                ]);
            }
        }
        ServeProcess::start(&env)
    }

    fn start(env: &[(String, String)]) -> ServeProcess {
        let mut child = std::process::Command::new(crate::helpers::workspace_binary("latchkey"))
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start latchkey serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let banner: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("banner: {line:?}"));
        ServeProcess { base: banner["listening"].as_str().unwrap().to_owned(), child }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
