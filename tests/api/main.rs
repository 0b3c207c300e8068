//! One integration binary for Latchkey's end-to-end tests (the zero-to-production layout): each
//! module is one area, all share `helpers`.

mod cli;
mod helpers;
mod keyring;
mod local_server;
mod store_conformance;
mod template;
