//! The criterion micro-benchmarks (`bench/benches/core.rs`), read back from criterion's own files:
//! the median estimate, and the fastest and slowest sample per iteration.

use std::path::Path;

use serde_json::Value;

use crate::measure::Error;
use crate::report::{Markdown, Stat};

/// The benchmark ids, as `bench/benches/core.rs` names them.
pub const IDS: [&str; 7] =
    ["seal_token", "open_token", "decode_connection_item", "verify_jwt", "verify_jwt_signature_only", "mint_link_token", "mint_link_token_random_only"];

/// One benchmark's figures in microseconds.
fn read(dir: &Path, id: &str) -> Result<Stat, Error> {
    let estimates: Value = serde_json::from_slice(&std::fs::read(dir.join(id).join("new/estimates.json"))?)?;
    let sample: Value = serde_json::from_slice(&std::fs::read(dir.join(id).join("new/sample.json"))?)?;
    let median = estimates["median"]["point_estimate"].as_f64().ok_or("no median")? / 1000.0;
    let iters = sample["iters"].as_array().ok_or("no iters")?;
    let times = sample["times"].as_array().ok_or("no times")?;
    let per_iter: Vec<f64> = iters.iter().zip(times).filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()? / 1000.0)).collect();
    let spread = Stat::of(&per_iter);
    Ok(Stat { median, min: spread.min, max: spread.max })
}

/// The section, from `target/criterion`.
pub fn section(criterion_dir: &Path, md: &mut Markdown) -> Result<(), Error> {
    let mut rows = Vec::new();
    for id in IDS {
        rows.push(vec![format!("`{id}`"), read(criterion_dir, id)?.show(2)]);
    }
    md.heading(2, "Micro-benchmarks");
    md.para(
        "Criterion (`cargo bench -p latchkey-bench --bench core`): the median estimate per iteration, with the fastest \
         and slowest sample's mean per iteration. Seal and open use a warm data-key cache, as a warm request does.",
    );
    md.table(&["benchmark", "µs, median (min–max)"], &rows);
    Ok(())
}
