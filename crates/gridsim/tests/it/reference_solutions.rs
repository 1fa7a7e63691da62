//! The power flow against the reference solutions in `<case>.ref.json` (PYPOWER runpf,
//! MATPOWER semantics, tolerance 1e-10, cross-checked against lightsim2grid).

use gridsim::pf::{self, PfOptions, PfWorkspace, Start};

use crate::{case_files, load};

fn column(v: &serde_json::Value, name: &str) -> Vec<f64> {
    v[name]
        .as_array()
        .unwrap_or_else(|| panic!("column {name}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn flat_start_matches_every_reference() {
    let mut checked = 0;
    for path in case_files() {
        let Ok(text) = std::fs::read_to_string(path.with_extension("ref.json")) else { continue };
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        let case = load(&path);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut ws = PfWorkspace::new();
        let opts = PfOptions { tol_pu: 1e-8, max_iter: 30, start: Start::Flat, ..PfOptions::default() };
        let sol = pf::solve(&case, &mut ws, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));

        let expected_iters = r["iterations"]["flat_start_tol_1e-8"].as_i64().unwrap();
        assert!(
            (i64::from(sol.iterations) - expected_iters).abs() <= 1,
            "{name}: {} iterations, reference {expected_iters}",
            sol.iterations
        );

        let (vm, va) = (column(&r["bus"], "vm_pu"), column(&r["bus"], "va_deg"));
        let dvm = vm.iter().zip(&sol.vm_pu).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let dva = va.iter().zip(&sol.va_deg).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(dvm < 1e-6, "{name}: max |dVm| {dvm:e}");
        assert!(dva < 1e-4, "{name}: max |dVa| {dva:e} deg");

        let br = &r["branch"];
        let mut dflow = 0.0f64;
        for (col, get) in [
            ("pf_mw", (|f: &pf::BranchFlow| f.pf_mw) as fn(&pf::BranchFlow) -> f64),
            ("qf_mvar", |f| f.qf_mvar),
            ("pt_mw", |f| f.pt_mw),
            ("qt_mvar", |f| f.qt_mvar),
        ] {
            for (a, f) in column(br, col).iter().zip(&sol.branches) {
                dflow = dflow.max((a - get(f)).abs());
            }
        }
        assert!(dflow < 1e-3, "{name}: max branch flow error {dflow:e}");

        let g = &r["gen"];
        let (pg, qg) = (column(g, "pg_mw"), column(g, "qg_mvar"));
        let dpg = pg.iter().zip(&sol.gens).map(|(a, o)| (a - o.pg_mw).abs()).fold(0.0, f64::max);
        let dqg = qg.iter().zip(&sol.gens).map(|(a, o)| (a - o.qg_mvar).abs()).fold(0.0, f64::max);
        assert!(dpg < 1e-3, "{name}: max |dPg| {dpg:e}");
        assert!(dqg < 1e-3, "{name}: max |dQg| {dqg:e}");

        let s = &r["summary"];
        let dloss = (s["losses_mw"].as_f64().unwrap() - sol.losses_mw).abs();
        assert!(dloss < 1e-3, "{name}: losses off by {dloss:e} MW");
        let dslack = (s["slack_p_mw"].as_f64().unwrap() - sol.slack_p_mw()).abs();
        assert!(dslack < 1e-3, "{name}: slack P off by {dslack:e} MW");
        eprintln!(
            "{name}: {} it, dVm {dvm:.1e}, dVa {dva:.1e}, dflow {dflow:.1e}, dQg {dqg:.1e}",
            sol.iterations
        );
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn case_start_takes_the_reference_iteration_count() {
    for path in case_files() {
        let Ok(text) = std::fs::read_to_string(path.with_extension("ref.json")) else { continue };
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        let case = load(&path);
        let opts = PfOptions { tol_pu: 1e-8, max_iter: 30, start: Start::Case, ..PfOptions::default() };
        let sol = pf::solve(&case, &mut PfWorkspace::new(), &opts).unwrap();
        let expected = r["iterations"]["case_start_tol_1e-8"].as_i64().unwrap();
        assert!(
            (i64::from(sol.iterations) - expected).abs() <= 1,
            "{}: {} vs {expected}",
            path.display(),
            sol.iterations
        );
    }
}
