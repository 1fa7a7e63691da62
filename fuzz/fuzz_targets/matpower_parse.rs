//! Fuzz target: any bytes through the MATPOWER parser, and any case it accepts through the
//! power flow. Neither may panic, and a power-flow result never holds NaN or infinity.
#![no_main]

use gridsim::pf::{self, PfError, PfOptions, PfSolution, PfWorkspace, QLimits, Start};
use libfuzzer_sys::fuzz_target;

fn assert_finite(sol: &PfSolution) {
    assert!(sol.is_finite(), "non-finite value in a power-flow result");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(case) = gridsim::matpower::parse(&text) else { return };
    if case.buses.len() > 300 {
        return;
    }
    let mut ws = PfWorkspace::new();
    for (start, q_limits) in [(Start::Flat, QLimits::Ignore), (Start::Warm, QLimits::Enforce)] {
        let opts = PfOptions { tol_pu: 1e-8, max_iter: 8, start, q_limits, damped: start == Start::Warm };
        match pf::solve(&case, &mut ws, &opts) {
            Ok(sol) => assert_finite(&sol),
            Err(PfError::NotConverged { last, .. }) => assert_finite(&last),
        }
    }
});
