//! The counting store wrapper lives in `latchkey-test-support`, shared with the benchmark harness.

pub use latchkey_test_support::counting::{CountingStore, Counts};
