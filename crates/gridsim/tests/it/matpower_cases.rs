//! Every shipped and shared case parses, with the counts its reference says.

use crate::{case_files, load};

#[test]
fn every_case_parses_with_the_reference_counts() {
    let files = case_files();
    assert!(files.len() >= 4, "found only {files:?}");
    for path in files {
        let case = load(&path);
        let ref_path = path.with_extension("ref.json");
        let Ok(text) = std::fs::read_to_string(&ref_path) else { continue };
        let r: serde_json::Value = serde_json::from_str(&text).expect("reference JSON");
        let counts = &r["counts"];
        let name = path.display();
        assert_eq!(case.buses.len() as u64, counts["bus"].as_u64().unwrap(), "{name}");
        assert_eq!(case.gens.len() as u64, counts["gen"].as_u64().unwrap(), "{name}");
        assert_eq!(case.branches.len() as u64, counts["branch"].as_u64().unwrap(), "{name}");
        let phase_shifters = case.branches.iter().filter(|b| b.shift_deg != 0.0).count();
        assert_eq!(phase_shifters as u64, counts["phase_shifters"].as_u64().unwrap(), "{name}");
        assert_eq!(case.base_mva, r["baseMVA"].as_f64().unwrap(), "{name}");
    }
}

/// Hostile input as normal input: every prefix of a real case, and byte-level mutations of
/// it, either parse or fail with a position inside the text; whatever parses also solves
/// (or fails as data) without a panic. A deterministic, CI-sized cousin of the fuzz target.
#[test]
fn truncated_and_mutated_cases_never_panic() {
    use gridsim::pf::{self, PfOptions, PfWorkspace};
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cases/case9.m"),
    )
    .unwrap();
    let check = |input: &str| match gridsim::matpower::parse(input) {
        Ok(case) => {
            let opts = PfOptions { max_iter: 6, ..PfOptions::default() };
            let _ = pf::solve(&case, &mut PfWorkspace::new(), &opts);
        }
        Err(e) => {
            let lines = input.split('\n').count() as u32;
            assert!(e.pos.line >= 1 && e.pos.line <= lines && e.pos.col >= 1, "{e}");
        }
    };
    for (cut, _) in text.char_indices() {
        check(&text[..cut]);
    }
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b" \t\n;[]{}'%.-+eE0123456789Infabc=,";
    for _ in 0..3000 {
        let mut bytes = text.clone().into_bytes();
        for _ in 0..1 + next() % 4 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        }
        check(&String::from_utf8_lossy(&bytes));
    }
}
