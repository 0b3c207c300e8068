//! Lambda function `latchkey-audit-ingest`: fed by a CloudWatch Logs subscription on every other
//! function's log group, it files the audit events of their log lines in the table.
//!
//! The log line, written while the request was answered, is the durable record; this function
//! only makes it queryable, within seconds. A batch that cannot be filed fails the invocation, so
//! CloudWatch Logs delivers it again: filing is idempotent (a batch's key is its first event's).
#![recursion_limit = "256"]

use aws_lambda_events::cloudwatch_logs::LogsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use latchkey::audit::{events_in_log_lines, file};
use latchkey_bootstrap::{build, telemetry, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ports = build(Config::from_env()?).await?;
    let ports = &ports;
    run(service_fn(move |event: LambdaEvent<LogsEvent>| async move {
        let lines = event.payload.aws_logs.data.log_events.iter().map(|entry| entry.message.as_str());
        let events = events_in_log_lines(lines);
        file(ports.store.as_ref(), &events, ports.settings.audit_retention_days).await?;
        Ok::<_, Error>(())
    }))
    .await
}
