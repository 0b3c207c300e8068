//! Logging: tracing, as JSON on Lambda (CloudWatch parses it) and readable text on a terminal.
//!
//! No secret reaches a log line: secrets are newtypes that print `[redacted]`, and handlers log
//! identifiers and error codes, never bodies or headers.

/// Installs the global subscriber, filtered by `RUST_LOG` (default `info`). Safe to call twice.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // Lambda adds its own timestamp; the request id comes from the runtime's span.
        builder.json().without_time().with_current_span(false).with_span_list(false).try_init()
    } else {
        // Colour only for a person at a terminal: a log file or a collector gets plain text.
        use std::io::IsTerminal;
        builder.with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}
