//! `latchkey`: the operator CLI, and `latchkey serve`, the local server.
//!
//! Every command runs against the store and keyring the configuration names: the embedded store
//! and a local key by default, or DynamoDB and KMS (`--store dynamodb --table ... --keyring kms
//! --kms-key-id ...`, or the same `LATCHKEY_*` variables the Lambdas read).

mod args;
mod audit;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    latchkey_bootstrap::telemetry::init();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
