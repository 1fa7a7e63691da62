//! Solver behaviour beyond the reference solutions: the linear solvers against each other,
//! caches, warm starts, islands, reactive limits and failure as data.

use gridsim::lu::{Block, BlockLu, BlockPattern, FaerLu, LinearSolver};
use gridsim::pf::{self, PfError, PfOptions, PfSolution, PfWorkspace, QLimits, Start};
use gridsim::ybus::YbusPattern;
use gridsim::{BusId, Case};

use crate::{case_files, load};

fn repo_case(name: &str) -> Case {
    load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cases").join(name))
}

/// A small deterministic generator (SplitMix64), so tests need no `rand`.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Random blocks on a case's Y-bus pattern; diagonal blocks get `diag_boost` added.
fn random_system(case: &Case, seed: u64, diag_boost: f64) -> (YbusPattern, Vec<Block>, Vec<f64>) {
    let pattern = YbusPattern::new(case, &vec![true; case.branches.len()]);
    let mut rng = SplitMix(seed);
    let mut values: Vec<Block> = (0..pattern.nnz())
        .map(|_| [rng.next_f64(), rng.next_f64(), rng.next_f64(), rng.next_f64()])
        .collect();
    for &d in &pattern.diag {
        values[d][0] += diag_boost;
        values[d][3] += diag_boost;
    }
    let rhs = (0..2 * case.buses.len()).map(|_| rng.next_f64()).collect();
    (pattern, values, rhs)
}

fn residual(pattern: &YbusPattern, values: &[Block], x: &[f64], b: &[f64]) -> f64 {
    let mut worst = 0.0f64;
    for i in 0..pattern.n_buses {
        let mut r = [b[2 * i], b[2 * i + 1]];
        for s in pattern.row_ptr[i]..pattern.row_ptr[i + 1] {
            let j = pattern.col_idx[s] as usize;
            let a = values[s];
            r[0] -= a[0] * x[2 * j] + a[1] * x[2 * j + 1];
            r[1] -= a[2] * x[2 * j] + a[3] * x[2 * j + 1];
        }
        worst = worst.max(r[0].abs()).max(r[1].abs());
    }
    worst
}

#[test]
fn block_lu_agrees_with_faer_on_every_case_pattern() {
    for path in case_files() {
        let case = load(&path);
        for (seed, boost) in [(1, 40.0), (2, 8.0)] {
            let (pattern, values, rhs) = random_system(&case, seed, boost);
            let bp =
                BlockPattern { n: pattern.n_buses, row_ptr: &pattern.row_ptr, col_idx: &pattern.col_idx };
            let mut ours = BlockLu::analyze(&bp);
            let mut faer = FaerLu::analyze(&bp);
            ours.factor(&values).expect("non-singular");
            faer.factor(&values).expect("non-singular");
            let (mut x_ours, mut x_faer) = (rhs.clone(), rhs.clone());
            ours.solve_in_place(&mut x_ours);
            faer.solve_in_place(&mut x_faer);
            let scale = x_faer.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let diff = x_ours.iter().zip(&x_faer).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                diff <= 1e-9 * scale,
                "{}: seed {seed}: differs by {diff:e} (scale {scale:e})",
                path.display()
            );
            let res = residual(&pattern, &values, &x_ours, &rhs);
            assert!(res < 1e-9, "{}: residual {res:e}", path.display());
            // A second factorisation on the same symbolic analysis gives the same answer.
            ours.factor(&values).expect("non-singular");
            let mut again = rhs.clone();
            ours.solve_in_place(&mut again);
            assert_eq!(again, x_ours);
        }
    }
}

#[test]
fn block_lu_reports_a_singular_pivot_instead_of_dividing_by_zero() {
    let case = repo_case("case9.m");
    let (pattern, mut values, _) = random_system(&case, 3, 10.0);
    let bp = BlockPattern { n: pattern.n_buses, row_ptr: &pattern.row_ptr, col_idx: &pattern.col_idx };
    // Zero every block in bus 0's row and column: structurally present, numerically singular.
    for i in 0..pattern.n_buses {
        for s in pattern.row_ptr[i]..pattern.row_ptr[i + 1] {
            if i == 0 || pattern.col_idx[s] == 0 {
                values[s] = [0.0; 4];
            }
        }
    }
    let mut ours = BlockLu::analyze(&bp);
    assert!(ours.factor(&values).is_err());
}

fn opts(start: Start) -> PfOptions {
    PfOptions { tol_pu: 1e-8, max_iter: 30, start, q_limits: QLimits::Ignore, damped: false }
}

fn assert_finite(sol: &PfSolution) {
    assert!(sol.is_finite(), "non-finite value in a result");
}

/// Generation equals load plus losses in every energised island.
fn assert_balanced(case: &Case, sol: &PfSolution) {
    let gen_p: f64 = sol.gens.iter().map(|g| g.pg_mw).sum();
    let load_p: f64 = case
        .buses
        .iter()
        .zip(&sol.vm_pu)
        .map(|(b, &vm)| if vm > 0.0 { b.pd_mw + b.gs_mw * vm * vm } else { 0.0 })
        .sum();
    let branch_loss: f64 = sol.branches.iter().map(|f| f.pf_mw + f.pt_mw).sum();
    assert!(
        (gen_p - load_p - branch_loss).abs() < 1e-5,
        "P balance off: {gen_p} vs {load_p} + {branch_loss}"
    );
    assert!((branch_loss - sol.losses_mw).abs() < 1e-9);
}

#[test]
fn symbolic_analysis_runs_once_per_topology() {
    let mut case = repo_case("case118.m");
    let mut ws = PfWorkspace::new();
    let first = pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    let second = pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    assert_eq!(ws.analyses, 1);
    assert_eq!(first, second, "a cached solve gives the same answer as a fresh one");

    case.branches[10].in_service = false;
    let opened = pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    assert_eq!(ws.analyses, 2);
    assert_eq!(opened.branches[10].pf_mw, 0.0);
    let fresh = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert_eq!(opened, fresh);

    // A tap change alters values, not the pattern: no new analysis, but a new answer.
    case.branches[10].in_service = true;
    pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    let k = case.branches.iter().position(|b| b.tap_ratio != 0.0).expect("a transformer");
    case.branches[k].tap_ratio *= 1.05;
    let tapped = pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    assert_eq!(ws.analyses, 3);
    assert_eq!(tapped, pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap());
    assert_eq!(ws.fallbacks, 0);
}

#[test]
fn warm_start_after_a_small_change_takes_fewer_iterations() {
    let mut case = repo_case("case118.m");
    let mut ws = PfWorkspace::new();
    let flat = pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    for bus in &mut case.buses {
        bus.pd_mw *= 1.01;
        bus.qd_mvar *= 1.01;
    }
    let warm = pf::solve(&case, &mut ws, &opts(Start::Warm)).unwrap();
    let cold = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert!(warm.iterations <= 3 && warm.iterations < flat.iterations, "{} iterations", warm.iterations);
    let dvm = warm.vm_pu.iter().zip(&cold.vm_pu).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(dvm < 1e-8, "warm and flat solutions differ by {dvm:e}");
    // Unchanged input from a converged state: zero iterations.
    let again = pf::solve(&case, &mut ws, &opts(Start::Warm)).unwrap();
    assert_eq!(again.iterations, 0);
}

#[test]
fn an_island_without_generation_is_deenergised_not_an_error() {
    let mut case = repo_case("case14.m");
    // Bus 14 hangs on branches 9-14 and 13-14.
    for k in [16, 19] {
        assert!(case.bus(case.branches[k].to).id == BusId(14));
        case.branches[k].in_service = false;
    }
    let sol = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert_eq!(sol.islands.len(), 2);
    let dead: Vec<_> = sol.islands.iter().filter(|i| i.reference.is_none()).collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].buses, vec![case.bus_idx(BusId(14)).unwrap()]);
    assert_eq!(sol.vm_pu[13], 0.0);
    assert_finite(&sol);
    assert_balanced(&case, &sol);
}

#[test]
fn an_island_with_generation_gets_its_own_reference_bus() {
    let mut case = repo_case("case9.m");
    // Opening 7-8 and 8-9 leaves generator 2 alone with bus 8.
    for k in [5, 7] {
        case.branches[k].in_service = false;
    }
    let sol = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert_eq!(sol.islands.len(), 2);
    let small = sol.islands.iter().find(|i| i.buses.len() == 2).expect("island {2, 8}");
    assert_eq!(small.reference, case.bus_idx(BusId(2)));
    // Nothing to supply but transformer losses, which are zero (r = 0, no load at bus 8).
    assert!(small.slack_p_mw.abs() < 1e-9, "{}", small.slack_p_mw);
    let big = sol.islands.iter().find(|i| i.buses.len() == 7).expect("the rest");
    assert_eq!(big.reference, case.bus_idx(BusId(1)));
    assert_finite(&sol);
    assert_balanced(&case, &sol);
}

#[test]
fn isolated_buses_and_out_of_service_generators_are_left_out() {
    let mut case = repo_case("case9.m");
    case.gens[2].in_service = false; // generator at bus 3: bus 3 becomes PQ
    let sol = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert_eq!(sol.gens[2].pg_mw, 0.0);
    assert_balanced(&case, &sol);
    let bus9 = case.bus_idx(BusId(9)).unwrap().get();
    case.buses[bus9].kind = gridsim::BusType::Isolated;
    let sol = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert_eq!(sol.vm_pu[bus9], 0.0);
    assert_eq!(sol.branches[7].pf_mw, 0.0); // 8-9
    assert_eq!(sol.branches[8].pf_mw, 0.0); // 9-4
    assert_finite(&sol);
    assert_balanced(&case, &sol);
}

#[test]
fn non_convergence_is_data_with_finite_values() {
    let mut case = repo_case("case9.m");
    for bus in &mut case.buses {
        bus.pd_mw *= 25.0;
        bus.qd_mvar *= 25.0;
    }
    match pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)) {
        Ok(sol) => panic!("converged at 25x load: {sol:?}"),
        Err(PfError::NotConverged { iterations, mismatch_pu, bus, last }) => {
            assert!(iterations <= 30);
            assert!(mismatch_pu.is_finite() && mismatch_pu > 1e-8, "{mismatch_pu}");
            assert!(case.bus_idx(bus).is_some(), "worst bus {bus} is a real bus");
            assert_finite(&last);
        }
    }
}

#[test]
fn reactive_limits_switch_pv_buses_to_pq() {
    let case = repo_case("case14.m");
    let free = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    let violated = case
        .gens
        .iter()
        .zip(&free.gens)
        .filter(|(g, o)| o.qg_mvar > g.qmax_mvar + 1e-6 || o.qg_mvar < g.qmin_mvar - 1e-6)
        .count();
    assert!(violated > 0, "case14 has generators beyond their Q limits without enforcement");
    let limited = pf::solve(
        &case,
        &mut PfWorkspace::new(),
        &PfOptions { q_limits: QLimits::Enforce, ..opts(Start::Flat) },
    )
    .unwrap();
    let reference = case.bus_idx(BusId(1)).unwrap();
    for (g, o) in case.gens.iter().zip(&limited.gens) {
        if g.bus != reference {
            assert!(
                o.qg_mvar <= g.qmax_mvar + 1e-6 && o.qg_mvar >= g.qmin_mvar - 1e-6,
                "generator at bus {} outside its limits: {}",
                case.bus(g.bus).id,
                o.qg_mvar
            );
        }
    }
    assert!(limited.max_mismatch_pu < 1e-8);
    assert_balanced(&case, &limited);
}

#[test]
fn a_rewired_branch_is_a_new_topology() {
    let mut case = repo_case("case9.m");
    let mut ws = PfWorkspace::new();
    pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    // Same counts and statuses, different wiring: 8-9 becomes 8-5.
    case.branches[7].to = case.bus_idx(BusId(5)).unwrap();
    let rewired = pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    assert_eq!(ws.analyses, 2);
    assert_eq!(rewired, pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap());
}

#[test]
fn warm_start_after_the_reference_moves_matches_a_cold_solve() {
    let mut case = repo_case("case9.m");
    let mut ws = PfWorkspace::new();
    pf::solve(&case, &mut ws, &opts(Start::Flat)).unwrap();
    case.gens[0].in_service = false; // the slack unit trips; bus 2 becomes the reference
    let warm = pf::solve(&case, &mut ws, &opts(Start::Warm)).unwrap();
    let cold = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert_eq!(warm.islands[0].reference, case.bus_idx(BusId(2)));
    let dva = warm.va_deg.iter().zip(&cold.va_deg).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(dva < 1e-6, "warm and cold angles differ by {dva:e} deg");
}

#[test]
fn a_case_without_generators_is_dark_not_an_error() {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cases/case9.m"),
    )
    .unwrap();
    let start = text.find("mpc.gen = [").unwrap();
    let end = start + text[start..].find("];").unwrap() + 2;
    let no_gen = format!("{}mpc.gen = [];{}", &text[..start], &text[end..]);
    let case = gridsim::matpower::parse(&no_gen).unwrap();
    let sol = pf::solve(&case, &mut PfWorkspace::new(), &opts(Start::Flat)).unwrap();
    assert!(sol.islands.iter().all(|i| i.reference.is_none()));
    assert!(sol.vm_pu.iter().all(|&v| v == 0.0));
    assert_finite(&sol);
}
