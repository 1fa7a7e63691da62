//! Newton-Raphson AC power flow in polar form, as MATPOWER's `newtonpf`.
//!
//! The unknowns are the angle of every non-reference bus and |V| of every PQ bus; the
//! equations are the P mismatch at those buses and the Q mismatch at PQ buses. Each
//! iteration assembles the Jacobian in place on the Y-bus pattern (2×2 block per Y-bus entry,
//! identity rows for fixed variables), refactors it numerically with the symbolic analysis
//! made once per topology (`PfWorkspace`), and updates angles and magnitudes.
//!
//! Islands: the live network is split into connected components. An island needs a
//! reference bus: its type-3 buses with a generator in service, else its first PV bus with
//! one, else its first bus with one. An island without generation is de-energised (|V| = 0)
//! and reported, not an error.
//!
//! Failure is data: `PfError::NotConverged` names the iterations, the final mismatch and the
//! worst bus, and carries the last finite state. No result ever holds NaN.

use num_complex::Complex64 as C64;

use crate::case::{BusId, BusIdx, BusType, Case};
use crate::lu::{Block, BlockLu, BlockPattern, FaerLu, LinearSolver};
use crate::ybus::{self, BranchAdmittance, YbusPattern};

/// Where Newton-Raphson starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// |V| = 1 and angle 0, except the reference bus keeps its angle from the case;
    /// generator buses take |V| = Vg.
    Flat,
    /// |V| and angle from the case's bus table; generator buses take |V| = Vg.
    Case,
    /// The previous solution held by the workspace (flat where there is none).
    Warm,
}

/// Whether generator reactive limits are enforced (PV buses switched to PQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QLimits {
    Ignore,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PfOptions {
    /// Convergence when the largest P or Q mismatch is below this, in p.u.
    pub tol_pu: f64,
    pub max_iter: u32,
    pub start: Start,
    pub q_limits: QLimits,
    /// Damped Newton: a step that does not reduce the largest mismatch is halved (up to ten
    /// times) before it is taken. Slower, but it rescues starts far from the solution, such as
    /// the first solve after a large disturbance.
    pub damped: bool,
}

impl Default for PfOptions {
    fn default() -> Self {
        PfOptions { tol_pu: 1e-8, max_iter: 20, start: Start::Flat, q_limits: QLimits::Ignore, damped: false }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PfError {
    #[error("no convergence after {iterations} iterations: mismatch {mismatch_pu:.1e} p.u. at bus {bus}")]
    NotConverged {
        iterations: u32,
        mismatch_pu: f64,
        bus: BusId,
        /// The last finite iterate, with flows and generation computed from it.
        last: Box<PfSolution>,
    },
}

/// Power flowing into a branch at each end.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BranchFlow {
    pub pf_mw: f64,
    pub qf_mvar: f64,
    pub pt_mw: f64,
    pub qt_mvar: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GenOutput {
    pub pg_mw: f64,
    pub qg_mvar: f64,
}

/// A connected part of the live network.
#[derive(Debug, Clone, PartialEq)]
pub struct Island {
    pub buses: Vec<BusIdx>,
    /// The reference bus, or `None` when the island has no generation and is de-energised.
    pub reference: Option<BusIdx>,
    /// Active power of the generators at the island's reference buses.
    pub slack_p_mw: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PfSolution {
    /// Newton iterations (linear solves), summed over reactive-limit rounds.
    pub iterations: u32,
    pub max_mismatch_pu: f64,
    pub vm_pu: Vec<f64>,
    pub va_deg: Vec<f64>,
    /// In the case's branch order; zero for branches out of service or de-energised.
    pub branches: Vec<BranchFlow>,
    /// In the case's generator order; zero for generators out of service or de-energised.
    pub gens: Vec<GenOutput>,
    pub islands: Vec<Island>,
    /// Active power lost in branches (sum of the power entering both ends).
    pub losses_mw: f64,
    /// Reactive power absorbed by branches, line charging included (so often negative);
    /// MATPOWER reports the I²X part and the charging separately.
    pub losses_mvar: f64,
}

impl PfSolution {
    /// Whether every number in the result is finite (the solver guarantees it; tests and the
    /// fuzz target check it).
    pub fn is_finite(&self) -> bool {
        let flows = self.branches.iter().flat_map(|f| [f.pf_mw, f.qf_mvar, f.pt_mw, f.qt_mvar]);
        let gens = self.gens.iter().flat_map(|g| [g.pg_mw, g.qg_mvar]);
        let islands = self.islands.iter().map(|i| i.slack_p_mw);
        self.vm_pu
            .iter()
            .chain(&self.va_deg)
            .copied()
            .chain(flows)
            .chain(gens)
            .chain(islands)
            .chain([self.losses_mw, self.losses_mvar])
            .all(f64::is_finite)
    }

    /// Active power of all reference generators.
    pub fn slack_p_mw(&self) -> f64 {
        self.islands.iter().map(|i| i.slack_p_mw).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ref,
    Pv,
    Pq,
    Dead,
}

/// What depends on the topology only: which branches are live, the Y-bus pattern, the
/// islands and the symbolic factorisation. Rebuilt only when the topology changes.
#[derive(Debug)]
struct Topology {
    live_branch: Vec<bool>,
    /// Endpoints of every branch: a rewired branch is a new topology.
    ends: Vec<(BusIdx, BusIdx)>,
    bus_isolated: Vec<bool>,
    pattern: YbusPattern,
    /// Island number of each bus, `u32::MAX` for isolated buses.
    island_of: Vec<u32>,
    n_islands: usize,
    lu: BlockLu,
    fallback: Option<FaerLu>,
}

/// Caches kept between solves: topology, symbolic factorisation, scratch and the last state.
#[derive(Debug, Default)]
pub struct PfWorkspace {
    topo: Option<Topology>,
    ybus: Vec<C64>,
    jac: Vec<Block>,
    v: Vec<C64>,
    vm: Vec<f64>,
    va: Vec<f64>,
    inv_vm: Vec<f64>,
    /// `V_i · conj(I_i)`, the computed injection.
    s_calc: Vec<C64>,
    sbus: Vec<C64>,
    rhs: Vec<f64>,
    mask_p: Vec<f64>,
    mask_q: Vec<f64>,
    roles: Vec<Role>,
    saved_vm: Vec<f64>,
    saved_va: Vec<f64>,
    /// Whether `v` holds a solution usable for a warm start.
    have_solution: bool,
    /// How many times the symbolic analysis ran (for tests and benchmarks).
    pub analyses: u32,
    /// How many numeric factorisations fell back to the pivoting solver.
    pub fallbacks: u32,
}

impl PfWorkspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every cache, as if new (a cold solve).
    pub fn clear(&mut self) {
        *self = PfWorkspace::default();
    }

    /// Blocks in L and U, and 2×2 block multiply-adds per factorisation, of the current
    /// topology.
    pub fn factor_stats(&self) -> Option<(usize, usize)> {
        self.topo.as_ref().map(|t| (t.lu.factor_nnz(), t.lu.block_flops()))
    }

    fn ensure_topology(&mut self, case: &Case) {
        let n = case.buses.len();
        let bus_isolated = |i: usize| case.buses[i].kind == BusType::Isolated;
        let live = |k: usize| {
            let br = &case.branches[k];
            br.in_service && !bus_isolated(br.from.get()) && !bus_isolated(br.to.get())
        };
        if let Some(t) = &self.topo
            && t.live_branch.len() == case.branches.len()
            && t.bus_isolated.len() == n
            && (0..n).all(|i| t.bus_isolated[i] == bus_isolated(i))
            && (0..case.branches.len()).all(|k| {
                let br = &case.branches[k];
                t.live_branch[k] == live(k) && t.ends[k] == (br.from, br.to)
            })
        {
            return;
        }
        let live_branch: Vec<bool> = (0..case.branches.len()).map(live).collect();
        let ends = case.branches.iter().map(|br| (br.from, br.to)).collect();
        let bus_isolated: Vec<bool> = (0..n).map(bus_isolated).collect();
        let pattern = YbusPattern::new(case, &live_branch);
        // Connected components of the live network.
        let mut island_of = vec![u32::MAX; n];
        let mut n_islands = 0;
        let mut stack = Vec::new();
        for root in 0..n {
            if bus_isolated[root] || island_of[root] != u32::MAX {
                continue;
            }
            island_of[root] = n_islands as u32;
            stack.push(root);
            while let Some(i) = stack.pop() {
                for &j in &pattern.col_idx[pattern.row_ptr[i]..pattern.row_ptr[i + 1]] {
                    let j = j as usize;
                    if island_of[j] == u32::MAX {
                        island_of[j] = n_islands as u32;
                        stack.push(j);
                    }
                }
            }
            n_islands += 1;
        }
        let bp = BlockPattern { n, row_ptr: &pattern.row_ptr, col_idx: &pattern.col_idx };
        let lu = BlockLu::analyze(&bp);
        self.analyses += 1;
        self.have_solution = false;
        self.topo = Some(Topology {
            live_branch,
            ends,
            bus_isolated,
            pattern,
            island_of,
            n_islands,
            lu,
            fallback: None,
        });
    }
}

/// Solves the AC power flow of `case`, reusing what `ws` caches.
pub fn solve(case: &Case, ws: &mut PfWorkspace, opts: &PfOptions) -> Result<PfSolution, PfError> {
    ws.ensure_topology(case);
    {
        let topo = ws.topo.as_ref().expect("topology built above");
        ybus::fill_values(case, &topo.pattern, &mut ws.ybus);
    }
    let islands = assign_roles(case, ws);

    // Reactive output fixed at a limit, per generator (reactive-limit enforcement).
    let mut q_fixed: Vec<Option<f64>> = vec![None; case.gens.len()];
    initial_voltage(case, ws, opts.start);
    let mut iterations = 0;
    loop {
        fill_sbus(case, ws, &q_fixed);
        // Each reactive-limit round restarts the iteration count, as MATPOWER's runpf does.
        let outcome = newton(ws, opts, opts.max_iter);
        iterations += outcome.iterations;
        if !outcome.converged {
            let last = results(case, ws, &islands, &q_fixed, iterations, outcome.mismatch_pu);
            ws.have_solution = false;
            return Err(PfError::NotConverged {
                iterations,
                mismatch_pu: outcome.mismatch_pu,
                bus: case.buses.get(outcome.worst_bus).map_or(BusId(0), |b| b.id),
                last: Box::new(last),
            });
        }
        let sol = results(case, ws, &islands, &q_fixed, iterations, outcome.mismatch_pu);
        if opts.q_limits == QLimits::Enforce && switch_violating_pv(case, ws, &sol, &mut q_fixed) {
            continue;
        }
        ws.have_solution = true;
        return Ok(sol);
    }
}

/// Converts PV buses whose generators exceed their reactive limits to PQ, with those
/// generators fixed at the limit. Returns whether anything changed.
fn switch_violating_pv(
    case: &Case,
    ws: &mut PfWorkspace,
    sol: &PfSolution,
    q_fixed: &mut [Option<f64>],
) -> bool {
    let mut changed = false;
    let tol_mvar = 1e-6;
    let mut to_pq = Vec::new();
    for (g, unit) in case.gens.iter().enumerate() {
        let b = unit.bus.get();
        if !unit.in_service || ws.roles[b] != Role::Pv || q_fixed[g].is_some() {
            continue;
        }
        let q = sol.gens[g].qg_mvar;
        if q > unit.qmax_mvar + tol_mvar {
            q_fixed[g] = Some(unit.qmax_mvar);
            to_pq.push(b);
        } else if q < unit.qmin_mvar - tol_mvar {
            q_fixed[g] = Some(unit.qmin_mvar);
            to_pq.push(b);
        }
    }
    for b in to_pq {
        // The other generators at the bus keep the reactive output they had.
        for (g, unit) in case.gens.iter().enumerate() {
            if unit.in_service && unit.bus.get() == b && q_fixed[g].is_none() {
                q_fixed[g] = Some(sol.gens[g].qg_mvar);
            }
        }
        ws.roles[b] = Role::Pq;
        ws.mask_q[b] = 1.0;
        changed = true;
    }
    changed
}

/// Decides each bus's role from the islands and the generators in service.
fn assign_roles(case: &Case, ws: &mut PfWorkspace) -> Vec<Island> {
    let topo = ws.topo.as_ref().expect("topology built");
    let n = case.buses.len();
    let mut has_gen = vec![false; n];
    for unit in &case.gens {
        if unit.in_service {
            has_gen[unit.bus.get()] = true;
        }
    }
    let mut islands: Vec<Island> =
        (0..topo.n_islands).map(|_| Island { buses: Vec::new(), reference: None, slack_p_mw: 0.0 }).collect();
    for i in 0..n {
        if let Some(isl) = islands.get_mut(topo.island_of[i] as usize) {
            isl.buses.push(BusIdx(i as u32));
        }
    }
    ws.roles.clear();
    ws.roles.resize(n, Role::Dead);
    for isl in &mut islands {
        let buses = &isl.buses;
        let with_gen = |kind: Option<BusType>| {
            buses
                .iter()
                .copied()
                .filter(|b| has_gen[b.get()] && kind.is_none_or(|k| case.bus(*b).kind == k))
                .collect::<Vec<_>>()
        };
        let mut refs = with_gen(Some(BusType::Ref));
        if refs.is_empty() {
            refs = with_gen(Some(BusType::Pv)).into_iter().take(1).collect();
        }
        if refs.is_empty() {
            refs = with_gen(None).into_iter().take(1).collect();
        }
        let Some(&first) = refs.first() else {
            continue; // no generation: de-energised
        };
        isl.reference = Some(first);
        for &b in buses {
            let i = b.get();
            ws.roles[i] = if case.buses[i].kind == BusType::Pv && has_gen[i] { Role::Pv } else { Role::Pq };
        }
        for &b in &refs {
            ws.roles[b.get()] = Role::Ref;
        }
    }
    ws.mask_p.clear();
    ws.mask_q.clear();
    for &role in &ws.roles {
        ws.mask_p.push(if matches!(role, Role::Pv | Role::Pq) { 1.0 } else { 0.0 });
        ws.mask_q.push(if role == Role::Pq { 1.0 } else { 0.0 });
    }
    islands
}

fn initial_voltage(case: &Case, ws: &mut PfWorkspace, start: Start) {
    let n = case.buses.len();
    let warm = start == Start::Warm && ws.have_solution && ws.vm.len() == n;
    ws.vm.resize(n, 1.0);
    ws.va.resize(n, 0.0);
    for i in 0..n {
        let bus = &case.buses[i];
        let role = ws.roles[i];
        // Reference buses always take the case's angle, also on a warm start: the reference
        // may have moved to another bus, or its angle may have been edited.
        if warm && role != Role::Ref && ws.vm[i] > 0.0 && ws.vm[i].is_finite() && ws.va[i].is_finite() {
            continue;
        }
        let (vm, va) = match start {
            Start::Case => (bus.vm_pu, bus.va_deg.to_radians()),
            Start::Flat | Start::Warm if role == Role::Ref => (1.0, bus.va_deg.to_radians()),
            Start::Flat | Start::Warm => (1.0, 0.0),
        };
        ws.vm[i] = vm;
        ws.va[i] = va;
    }
    // Generator buses hold their set point (MATPOWER: the last generator listed wins).
    for unit in &case.gens {
        let b = unit.bus.get();
        if unit.in_service && matches!(ws.roles[b], Role::Ref | Role::Pv) {
            ws.vm[b] = unit.vg_pu;
        }
    }
    for i in 0..n {
        if ws.roles[i] == Role::Dead {
            ws.vm[i] = 0.0;
            ws.va[i] = 0.0;
        }
    }
    ws.v.clear();
    ws.v.extend(ws.vm.iter().zip(&ws.va).map(|(&m, &a)| C64::from_polar(m, a)));
}

fn fill_sbus(case: &Case, ws: &mut PfWorkspace, q_fixed: &[Option<f64>]) {
    let base = case.base_mva;
    ws.sbus.clear();
    ws.sbus.extend(case.buses.iter().map(|b| C64::new(-b.pd_mw, -b.qd_mvar) / base));
    for (g, unit) in case.gens.iter().enumerate() {
        if unit.in_service {
            let q = q_fixed[g].unwrap_or(unit.qg_mvar);
            ws.sbus[unit.bus.get()] += C64::new(unit.pg_mw, q) / base;
        }
    }
}

struct NewtonOutcome {
    converged: bool,
    iterations: u32,
    mismatch_pu: f64,
    worst_bus: usize,
}

/// Computes `s_calc = V·conj(Y·V)` and returns the largest mismatch and its bus.
fn mismatch(ws: &mut PfWorkspace) -> (f64, usize) {
    let topo = ws.topo.as_ref().expect("topology built");
    let p = &topo.pattern;
    let n = p.n_buses;
    ws.s_calc.resize(n, C64::new(0.0, 0.0));
    let mut worst = (0.0f64, 0usize);
    for i in 0..n {
        let mut acc = C64::new(0.0, 0.0);
        for s in p.row_ptr[i]..p.row_ptr[i + 1] {
            acc += ws.ybus[s] * ws.v[p.col_idx[s] as usize];
        }
        let s_calc = ws.v[i] * acc.conj();
        ws.s_calc[i] = s_calc;
        let d = s_calc - ws.sbus[i];
        let m = (d.re * ws.mask_p[i]).abs().max((d.im * ws.mask_q[i]).abs());
        // NaN compares false, so a NaN mismatch is made to win here on purpose.
        if m > worst.0 || m.is_nan() {
            worst = (if m.is_nan() { f64::INFINITY } else { m }, i);
        }
    }
    worst
}

fn newton(ws: &mut PfWorkspace, opts: &PfOptions, max_iter: u32) -> NewtonOutcome {
    let n = ws.vm.len();
    let (mut norm, mut worst) = mismatch(ws);
    let mut iterations = 0;
    // `mismatch` never returns NaN (it maps NaN to infinity).
    while norm >= opts.tol_pu && iterations < max_iter {
        if !norm.is_finite() {
            break;
        }
        iterations += 1;
        assemble_jacobian(ws);
        ws.rhs.clear();
        for i in 0..n {
            let d = ws.s_calc[i] - ws.sbus[i];
            ws.rhs.push(d.re * ws.mask_p[i]);
            ws.rhs.push(d.im * ws.mask_q[i]);
        }
        let topo = ws.topo.as_mut().expect("topology built");
        if topo.lu.factor(&ws.jac).is_ok() {
            topo.lu.solve_in_place(&mut ws.rhs);
        } else {
            // A static pivot failed: use the pivoting solver for this iteration.
            ws.fallbacks += 1;
            let fallback = topo.fallback.get_or_insert_with(|| {
                let p = &topo.pattern;
                FaerLu::analyze(&BlockPattern { n, row_ptr: &p.row_ptr, col_idx: &p.col_idx })
            });
            if fallback.factor(&ws.jac).is_err() {
                break; // singular Jacobian: report non-convergence at the worst bus
            }
            fallback.solve_in_place(&mut ws.rhs);
        }
        ws.saved_vm.clone_from(&ws.vm);
        ws.saved_va.clone_from(&ws.va);
        let mut scale = 1.0;
        let (new_norm, new_worst) = loop {
            for i in 0..n {
                ws.va[i] = ws.saved_va[i] - scale * ws.rhs[2 * i];
                ws.vm[i] = ws.saved_vm[i] - scale * ws.rhs[2 * i + 1];
            }
            for i in 0..n {
                ws.v[i] = C64::from_polar(ws.vm[i], ws.va[i]);
            }
            let (m, w) = mismatch(ws);
            if !opts.damped || m < norm || scale < 1e-3 {
                break (m, w);
            }
            scale *= 0.5;
        };
        if !new_norm.is_finite() {
            // Keep the last finite iterate.
            ws.vm.clone_from(&ws.saved_vm);
            ws.va.clone_from(&ws.saved_va);
            for i in 0..n {
                ws.v[i] = C64::from_polar(ws.vm[i], ws.va[i]);
            }
            let (m, w) = mismatch(ws);
            norm = m;
            worst = if new_worst < n { new_worst } else { w };
            break;
        }
        norm = new_norm;
        worst = new_worst;
    }
    // MATPOWER keeps |V| positive by taking abs/angle of V; do the same.
    for i in 0..n {
        if ws.vm[i] < 0.0 {
            ws.vm[i] = -ws.vm[i];
            ws.va[i] += std::f64::consts::PI;
        }
    }
    NewtonOutcome { converged: norm < opts.tol_pu, iterations, mismatch_pu: norm, worst_bus: worst }
}

/// Writes the Jacobian blocks into `ws.jac`, one per Y-bus slot.
fn assemble_jacobian(ws: &mut PfWorkspace) {
    let topo = ws.topo.as_ref().expect("topology built");
    let p = &topo.pattern;
    let n = p.n_buses;
    ws.inv_vm.clear();
    ws.inv_vm.extend(ws.vm.iter().map(|&m| if m != 0.0 { 1.0 / m } else { 0.0 }));
    ws.jac.resize(p.nnz(), [0.0; 4]);
    for i in 0..n {
        let vi = ws.v[i];
        let (mpi, mqi) = (ws.mask_p[i], ws.mask_q[i]);
        let range = p.row_ptr[i]..p.row_ptr[i + 1];
        for s in range {
            let j = p.col_idx[s] as usize;
            // a = V_i · conj(Y_ij · V_j)
            let a = vi * (ws.ybus[s] * ws.v[j]).conj();
            let inv_vmj = ws.inv_vm[j];
            if i != j {
                let (mpj, mqj) = (ws.mask_p[j], ws.mask_q[j]);
                ws.jac[s] = [
                    a.im * mpi * mpj,
                    a.re * inv_vmj * mpi * mqj,
                    -a.re * mqi * mpj,
                    a.im * inv_vmj * mqi * mqj,
                ];
            } else {
                let c = ws.s_calc[i];
                let dth = c - a; // dS/dθ_i = j(c − a)
                let dvm = (a + c) * inv_vmj; // dS/d|V|_i = (a + c)/|V_i|
                ws.jac[s] = [
                    if mpi != 0.0 { -dth.im } else { 1.0 },
                    dvm.re * mpi * mqi,
                    dth.re * mqi * mpi,
                    if mqi != 0.0 { dvm.im } else { 1.0 },
                ];
            }
        }
    }
}

/// Flows, generation and losses from the current state.
fn results(
    case: &Case,
    ws: &PfWorkspace,
    islands: &[Island],
    q_fixed: &[Option<f64>],
    iterations: u32,
    mismatch_pu: f64,
) -> PfSolution {
    let base = case.base_mva;
    let topo = ws.topo.as_ref().expect("topology built");
    let n = case.buses.len();
    let vm_pu: Vec<f64> = ws.vm.iter().map(|&v| if v.is_finite() { v } else { 0.0 }).collect();
    let va_deg: Vec<f64> = ws
        .va
        .iter()
        .zip(&ws.roles)
        .map(|(&a, &r)| if a.is_finite() && r != Role::Dead { wrap_deg(a.to_degrees()) } else { 0.0 })
        .collect();

    let mut losses = C64::new(0.0, 0.0);
    let branches: Vec<BranchFlow> = case
        .branches
        .iter()
        .enumerate()
        .map(|(k, br)| {
            let (f, t) = (br.from.get(), br.to.get());
            if !topo.live_branch[k] || ws.roles[f] == Role::Dead {
                return BranchFlow::default();
            }
            let y = BranchAdmittance::of(br);
            let (vf, vt) = (ws.v[f], ws.v[t]);
            let sf = vf * (y.yff * vf + y.yft * vt).conj() * base;
            let st = vt * (y.ytf * vf + y.ytt * vt).conj() * base;
            losses += sf + st;
            BranchFlow { pf_mw: sf.re, qf_mvar: sf.im, pt_mw: st.re, qt_mvar: st.im }
        })
        .collect();

    // Generators: P as dispatched, except at reference buses; Q from the solution at PV
    // and reference buses, split as MATPOWER 8.1 does.
    let mut gens: Vec<GenOutput> = case
        .gens
        .iter()
        .map(|g| {
            if g.in_service && ws.roles[g.bus.get()] != Role::Dead {
                GenOutput { pg_mw: g.pg_mw, qg_mvar: g.qg_mvar }
            } else {
                GenOutput::default()
            }
        })
        .collect();
    let mut at_bus: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (g, unit) in case.gens.iter().enumerate() {
        if unit.in_service && ws.roles[unit.bus.get()] != Role::Dead {
            at_bus[unit.bus.get()].push(g);
        }
    }
    let q_free = |b: usize| matches!(ws.roles[b], Role::Ref | Role::Pv);
    for b in 0..n {
        let list = &at_bus[b];
        if list.is_empty() {
            continue;
        }
        let s_inj = ws.s_calc[b] * base;
        if q_free(b) {
            let q_total = s_inj.im + case.buses[b].qd_mvar;
            split_q(case, list, q_total, &mut gens);
        } else {
            // A PQ bus: generators inject what Sbus holds for them.
            for &g in list {
                gens[g].qg_mvar = q_fixed[g].unwrap_or(case.gens[g].qg_mvar);
            }
        }
        if ws.roles[b] == Role::Ref {
            let others: f64 = list[1..].iter().map(|&g| gens[g].pg_mw).sum();
            gens[list[0]].pg_mw = s_inj.re + case.buses[b].pd_mw - others;
        }
    }
    let islands = islands
        .iter()
        .map(|isl| {
            let slack_p_mw = isl
                .buses
                .iter()
                .filter(|b| ws.roles[b.get()] == Role::Ref)
                .flat_map(|b| at_bus[b.get()].iter())
                .map(|&g| gens[g].pg_mw)
                .sum();
            Island { slack_p_mw, ..isl.clone() }
        })
        .collect();
    let mut sol = PfSolution {
        iterations,
        max_mismatch_pu: mismatch_pu,
        vm_pu,
        va_deg,
        branches,
        gens,
        islands,
        losses_mw: losses.re,
        losses_mvar: losses.im,
    };
    sanitise(&mut sol);
    sol
}

/// An angle in degrees brought into (-180, 180], as MATPOWER's `angle(V)`.
fn wrap_deg(deg: f64) -> f64 {
    let w = deg.rem_euclid(360.0);
    if w > 180.0 { w - 360.0 } else { w }
}

/// The last line of defence for "no NaN in a result": a non-finite value (possible only from
/// extreme data, e.g. a hand-built case with |V| = 1e200) becomes 0.
fn sanitise(sol: &mut PfSolution) {
    let fix = |v: &mut f64| {
        if !v.is_finite() {
            *v = 0.0;
        }
    };
    sol.vm_pu.iter_mut().chain(sol.va_deg.iter_mut()).for_each(fix);
    for f in &mut sol.branches {
        [&mut f.pf_mw, &mut f.qf_mvar, &mut f.pt_mw, &mut f.qt_mvar].into_iter().for_each(fix);
    }
    for g in &mut sol.gens {
        [&mut g.pg_mw, &mut g.qg_mvar].into_iter().for_each(fix);
    }
    for isl in &mut sol.islands {
        fix(&mut isl.slack_p_mw);
    }
    fix(&mut sol.losses_mw);
    fix(&mut sol.losses_mvar);
    if sol.max_mismatch_pu.is_nan() {
        sol.max_mismatch_pu = f64::INFINITY;
    }
}

/// Splits a bus's reactive output among its generators in proportion to their reactive
/// ranges, with infinite limits replaced by a finite proxy (MATPOWER 8.1).
fn split_q(case: &Case, list: &[usize], q_total: f64, gens: &mut [GenOutput]) {
    if let [g] = list {
        gens[*g].qg_mvar = q_total;
        return;
    }
    let avg = (q_total / list.len() as f64).abs();
    let proxy: f64 = list
        .iter()
        .map(|&g| {
            let unit = &case.gens[g];
            let mut m = avg;
            if unit.qmax_mvar.is_finite() {
                m += unit.qmax_mvar.abs();
            }
            if unit.qmin_mvar.is_finite() {
                m += unit.qmin_mvar.abs();
            }
            m
        })
        .sum();
    let limit = |v: f64| if v.is_infinite() { proxy.copysign(v) } else { v };
    let mn: Vec<f64> = list.iter().map(|&g| limit(case.gens[g].qmin_mvar)).collect();
    let mx: Vec<f64> = list.iter().map(|&g| limit(case.gens[g].qmax_mvar)).collect();
    let mut range: Vec<f64> = mx.iter().zip(&mn).map(|(a, b)| a - b).collect();
    let rmax = range.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    if rmax < 10.0 * f64::EPSILON {
        range.iter_mut().for_each(|r| *r = 1.0);
    }
    let sum_mn: f64 = mn.iter().sum();
    let sum_r: f64 = range.iter().sum();
    let lam = if sum_r != 0.0 { (q_total - sum_mn) / sum_r } else { 0.0 };
    let shares: Vec<f64> = (0..list.len()).map(|k| mn[k] + range[k] * lam).collect();
    if shares.iter().all(|q| q.is_finite()) {
        for (&g, q) in list.iter().zip(shares) {
            gens[g].qg_mvar = q;
        }
    } else {
        // Limits so large that the proportional split overflows: share equally.
        for &g in list {
            gens[g].qg_mvar = q_total / list.len() as f64;
        }
    }
}
