//! What the end-to-end tests and the benchmark harness share: loopback servers that count what
//! reaches them, a listener that stands in for an attacker and records every request, and the API
//! Gateway events the Lambda functions are invoked with, and an item store wrapper that counts reads.

pub mod attacker;
pub mod counting;
pub mod events;
pub mod fleet;
pub mod provider_api;
pub mod relay;
