//! One integration binary for Latchkey's end-to-end tests (the zero-to-production layout): each
//! module is one area, all share `helpers`.

mod accessibility;
mod architecture;
mod attacks_bindings;
mod attacks_outbound;
mod browser;
mod cli;
mod connections_api;
mod contract;
mod counting;
mod helpers;
mod instances;
mod keyring;
mod lambda_emulator;
mod lambdas;
mod lifecycle;
mod link_flow;
mod link_helpers;
mod local_server;
mod machine_grants;
mod oidc_callers;
mod operator_changes;
mod page_states;
mod provider;
mod provider_quirks;
mod refresh_lifetimes;
mod sandbox_flow;
mod screenshots;
mod sessions;
mod store_conformance;
mod template;
mod token_broker;
