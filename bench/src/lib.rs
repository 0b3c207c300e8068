//! Latchkey's benchmark harness (`bash bench/run.sh` writes BENCHMARKS.md).
//!
//! - [`runtime_api`]: a Lambda Runtime API on loopback that times init and each invocation.
//! - [`fixtures`]: moto behind a relay that counts AWS calls and connections, a provider token
//!   endpoint that counts grants, and the records the measured requests use.
//! - [`measure`]: one run of a measurement: a function under the runtime API, a zip, a wrk load.
//! - [`audit_cost`]: the audit event's and the metrics' share of a warm token's log line, and filing it.
//! - [`sections`]: init times, backend calls, memory and durations, each over repeated runs.
//! - [`refills`]: the store rereads that keep operator changes within 5 s, and their cost.
//! - [`bursts`]: single-flight refresh under bursts from four processes, per token lifetime.
//! - [`sweeps`]: reads and time per sweep pass at 1,000 to 100,000 stored connections, 1% due.
//! - [`load`]: warm issue-token on the local server against a hyper hello-world, under wrk.
//! - [`proxy_memory`]: the local server's peak memory while it proxies a 50 MiB answer.
//! - [`micro`]: the criterion micro-benchmarks, read back from criterion's files.
//! - [`machine`]: the facts of the machine the figures come from.
//! - [`report`]: medians, ranges, the cost model with its prices, and Markdown.
//!
//! What the tests share with it (the counting relay, API Gateway events) is in `latchkey-test-support`.

pub mod audit_cost;
pub mod bursts;
pub mod fixtures;
pub mod load;
pub mod machine;
pub mod measure;
pub mod micro;
pub mod proxy_memory;
pub mod refills;
pub mod report;
pub mod runtime_api;
pub mod sections;
pub mod sweeps;
