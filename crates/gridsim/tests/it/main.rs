//! Integration tests of the grid crate: one binary, one module per feature.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod dynamics;
mod matpower_cases;
mod reference_solutions;
mod solver;

use std::path::PathBuf;

/// Every case we can find: the repo's own `cases/` and, when present, `../shared/cases`.
/// Keyed by file name; the shared copy wins when both exist (they are byte-identical).
pub fn case_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = std::collections::BTreeMap::new();
    for dir in [root.join("cases"), root.join("../shared/cases")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "m") {
                files.insert(entry.file_name(), path);
            }
        }
    }
    let slow = std::env::var_os("RUN_SLOW_TESTS").is_some();
    files
        .into_values()
        .filter(|p| slow || std::fs::metadata(p).map(|m| m.len() < 4_000_000).unwrap_or(false))
        .collect()
}

pub fn load(path: &std::path::Path) -> gridsim::Case {
    let text = std::fs::read_to_string(path).expect("readable case");
    gridsim::matpower::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
