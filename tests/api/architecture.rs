//! The core's layers, checked: each top-level module of `shared/src` may use only the modules
//! below it in [`LAYERS`] (primitives, model, ports, catalog, flows, in that order), so an import
//! that runs upward, or two modules that import each other, fail here; so does a module that is
//! not placed in a layer. The HTTP layer and the wiring are crates of their own, which the compiler
//! keeps out of the core.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::helpers::workspace_root;

/// The core's modules, lowest first (the order `shared/src/lib.rs` describes).
const LAYERS: &[&str] = &[
    // 1. primitives
    "secret",
    "clock",
    "settings",
    // 2. the records of the table
    "model",
    // 3. ports and their adapters
    "keyring",
    "store",
    "outbound",
    "oauth",
    "outbox",
    "audit",
    "metrics",
    "cache",
    "ports",
    // 4. provider data
    "fields",
    "catalog",
    // 5. flows
    "events",
    "session",
    "token",
    "proxy",
    "link",
    "connections",
    "sandbox",
    "admin",
];

/// The top-level modules `lib.rs` declares.
fn declared(lib: &str) -> Vec<String> {
    lib.lines().filter_map(|l| l.trim().strip_prefix("pub mod ")).map(|m| m.trim_end_matches(';').to_owned()).collect()
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")).collect()
}

/// The top-level modules a module's code names through `crate::`.
fn uses(source: &str, modules: &[String]) -> BTreeSet<String> {
    let code: String = source.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b}`: every first segment of the group.
            let inner = group.split('}').next().unwrap_or_default();
            for part in inner.split(',') {
                let name: String = part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                found.insert(name);
            }
        } else {
            found.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

#[test]
fn every_core_module_uses_only_the_layers_below_it() {
    let src = workspace_root().join("shared/src");
    let order: Vec<String> = LAYERS.iter().map(|m| m.to_string()).collect();
    let mut modules = declared(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    modules.sort();
    let mut placed = order.clone();
    placed.sort();
    assert_eq!(modules, placed, "every module of lib.rs is placed in a layer here, and only those");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &order {
        let path = if src.join(format!("{module}.rs")).exists() { src.join(format!("{module}.rs")) } else { src.join(module) };
        let mut used = BTreeSet::new();
        for file in rust_files(&path) {
            used.extend(uses(&std::fs::read_to_string(&file).unwrap(), &order));
        }
        used.remove(module);
        graph.insert(module.clone(), used);
    }
    let mut upward = Vec::new();
    for (position, module) in order.iter().enumerate() {
        for used in &graph[module] {
            if order.iter().position(|m| m == used).unwrap() > position {
                upward.push(format!("{module} uses {used}, declared after it"));
            }
        }
    }
    assert!(upward.is_empty(), "imports that run upward:\n{}", upward.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_import_and_a_grouped_one() {
    let modules: Vec<String> = ["model", "store", "link"].iter().map(|m| m.to_string()).collect();
    let found = uses("use crate::{model::X, link};\nfn f() { crate::store::get(); } // crate::nothing", &modules);
    assert_eq!(found, ["link", "model", "store"].iter().map(|m| m.to_string()).collect());
}
