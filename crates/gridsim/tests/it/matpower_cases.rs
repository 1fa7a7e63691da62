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
