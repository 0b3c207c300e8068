//! Test-only crate: the tests live in `api/`.
