//! The simulator against analytic results and independent power flows.
//!
//! Expected values come from textbook formulas (swing equation, droop), from fresh power
//! flows of the reduced network solved here, and from the IEC 60255 curve evaluated here;
//! never from the simulator's own reports.

use std::path::PathBuf;

use gridsim::dynamics::{Curve, Dynamics};
use gridsim::pf::{self, PfOptions, PfWorkspace};
use gridsim::sim::{Cause, Command, Element, Event, EventKind, Sim, SimTime};
use gridsim::{BusId, Case};

fn repo_case(name: &str) -> (Case, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cases");
    let case = crate::load(&root.join(format!("{name}.m")));
    let sidecar = std::fs::read_to_string(root.join(format!("{name}.dyn.toml"))).unwrap();
    (case, sidecar)
}

fn case118() -> (Case, Dynamics) {
    let (case, text) = repo_case("case118");
    let d = Dynamics::from_toml(&case, &text).unwrap();
    (case, d)
}

fn secs(s: f64) -> SimTime {
    SimTime::from_secs(s)
}

/// Runs to `until` in 10 ms steps, collecting events.
fn run_to(sim: &mut Sim, until: f64, events: &mut Vec<Event>) {
    while sim.time() < secs(until) {
        sim.step(secs(0.01).min(SimTime(secs(until).0 - sim.time().0)));
        events.extend(sim.take_events());
    }
}

const TWO_BUS: &str = "function mpc = two_bus
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
  1 3 0    0   0 0 1 1 0 230 1 1.1 0.9;
  2 2 1000 200 0 0 1 1 0 230 1 1.1 0.9;
];
mpc.gen = [
  1 600 0 9999 -9999 1.0 100 1 1500 0 0 0 0 0 0 0 0 0 0 0 0;
  2 400 0 9999 -9999 1.0 100 1 600  0 0 0 0 0 0 0 0 0 0 0 0;
];
mpc.branch = [
  1 2 0 0.01 0 0 0 0 0 0 1 -360 360;
];
";

const TWO_BUS_DYN: &str = r#"
format = 1
f0_hz = 50.0
load_damping = 1.0
ufls = []

[[gen]]
row = 1
unit = "steam"
reheat = false
h_s = 5.0
droop = 0.05
tg_s = 0.2
tt_s = 0.5
mbase_mva = 1500
pmax_mw = 1500

[[gen]]
row = 2
unit = "gas"
h_s = 4.0
mbase_mva = 600
"#;

/// A lossless two-bus system loses a 400 MW unit. Initial RoCoF must be
/// `−ΔP·f0/(2·H·S)` and the settled deviation `−ΔP/(D + 1/R)` (per unit on the remaining
/// unit's base), both within 1 %.
#[test]
fn rocof_and_settled_frequency_match_the_swing_equation() {
    let case = gridsim::matpower::parse(TWO_BUS).unwrap();
    let d = Dynamics::from_toml(&case, TWO_BUS_DYN).unwrap();
    let mut sim = Sim::new(case, d).unwrap();
    assert!((sim.observe().f_hz - 50.0).abs() < 1e-12, "balanced at the start");
    sim.step(secs(1.0));
    assert!((sim.observe().f_hz - 50.0).abs() < 1e-9, "nothing moves without a disturbance");

    let (f0, dp, h, s, r, d_load, pl) = (50.0, 400.0, 5.0, 1500.0, 0.05, 1.0, 1000.0);
    sim.apply(&Command::Open(Element::Gen(2))).unwrap();
    let rocof = sim.observe().rocof_hz_s;
    let expected = -dp * f0 / (2.0 * h * s);
    assert!((rocof - expected).abs() <= 0.01 * expected.abs(), "RoCoF {rocof} Hz/s, expected {expected}");

    // The first 10 ms fall at that rate.
    let before = sim.observe().f_hz;
    sim.step(secs(0.01));
    let slope = (sim.observe().f_hz - before) / 0.01;
    assert!(
        (slope - expected).abs() <= 0.01 * expected.abs(),
        "df/dt over 10 ms {slope}, expected {expected}"
    );

    sim.step(secs(120.0));
    // On the remaining unit's base: D = d_load·P_load/S, 1/R = 1/r.
    let df_pu = -(dp / s) / (d_load * pl / s + 1.0 / r);
    let settled = sim.observe().f_hz - f0;
    let expected = df_pu * f0;
    assert!(
        (settled - expected).abs() <= 0.01 * expected.abs(),
        "settled Δf {settled} Hz, expected {expected}"
    );
    assert!(sim.observe().rocof_hz_s.abs() < 1e-6);
}

/// Opening a loaded branch of case118: the simulator's flows are those of a fresh power
/// flow of the reduced network with the same dispatch.
#[test]
fn opening_a_branch_matches_a_fresh_power_flow_of_the_reduced_network() {
    let (case, d) = case118();
    let base_mva = case.base_mva;
    let mut sim = Sim::new(case.clone(), d).unwrap();
    // The most loaded branch whose loss splits nothing.
    let flows = sim.power_flow_solution().branches.clone();
    let mut order: Vec<usize> = (0..flows.len()).collect();
    order.sort_by(|&a, &b| flows[b].pf_mw.abs().total_cmp(&flows[a].pf_mw.abs()));
    let mut opened = None;
    for k in order {
        let mut probe = case.clone();
        probe.branches[k].in_service = false;
        let sol = pf::solve(&probe, &mut PfWorkspace::new(), &PfOptions::default()).unwrap();
        if sol.islands.len() == 1 {
            opened = Some(k);
            break;
        }
    }
    let k = opened.unwrap();
    assert!(flows[k].pf_mw.abs() > 100.0, "a loaded branch: {} MW", flows[k].pf_mw);
    sim.apply(&Command::Open(Element::Branch(k as u32 + 1))).unwrap();

    // The reference: the file's case, branch out, units at the simulator's dispatch.
    let mut reduced = case.clone();
    reduced.branches[k].in_service = false;
    for (g, pe) in sim.gen_pe_mw().into_iter().enumerate() {
        reduced.gens[g].pg_mw = pe;
    }
    let fresh = pf::solve(&reduced, &mut PfWorkspace::new(), &PfOptions::default()).unwrap();
    let ours = sim.power_flow_solution();
    let mut worst: f64 = 0.0;
    for (a, b) in ours.branches.iter().zip(&fresh.branches) {
        for (x, y) in [(a.pf_mw, b.pf_mw), (a.qf_mvar, b.qf_mvar), (a.pt_mw, b.pt_mw), (a.qt_mvar, b.qt_mvar)]
        {
            worst = worst.max((x - y).abs() / base_mva);
        }
    }
    assert!(worst < 1e-6, "largest flow difference {worst:e} p.u.");
    assert_eq!(ours.branches[k].pf_mw, 0.0);
    // Only the losses changed (a few MW of 4242), so frequency moves by hundredths of a hertz.
    sim.step(secs(5.0));
    let f = sim.observe().f_hz;
    assert!(f < 50.0 && f > 49.9, "{f} Hz");
    assert_eq!(sim.stats().topology_analyses, 2, "one analysis per topology, none per periodic solve");
}

const THREE_UNITS: &str = "function mpc = three_units
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
  1 3 0    0   0 0 1 1 0 230 1 1.1 0.9;
  2 2 1100 200 0 0 1 1 0 230 1 1.1 0.9;
];
mpc.gen = [
  1 600 0 9999 -9999 1.0 100 1 1500 0 0 0 0 0 0 0 0 0 0 0 0;
  2 400 0 9999 -9999 1.0 100 1 600  0 0 0 0 0 0 0 0 0 0 0 0;
  1 100 0 9999 -9999 1.0 100 1 500  0 0 0 0 0 0 0 0 0 0 0 0;
];
mpc.branch = [
  1 2 0 0.01 0 0 0 0 0 0 1 -360 360;
];
";

/// Right after a unit trips, the survivors pick up the lost power in proportion to their
/// inertia H·S (before any governor moves): 7500 : 1500 MW·s here.
#[test]
fn the_first_response_is_shared_by_inertia() {
    let case = gridsim::matpower::parse(THREE_UNITS).unwrap();
    let text = format!(
        "{TWO_BUS_DYN}\n[[gen]]\nrow = 3\nunit = \"hydro\"\nh_s = 3.0\nmbase_mva = 500\npmax_mw = 500\n"
    );
    let d = Dynamics::from_toml(&case, &text).unwrap();
    let mut sim = Sim::new(case, d).unwrap();
    sim.apply(&Command::Open(Element::Gen(2))).unwrap();
    let (pe, pm) = (sim.gen_pe_mw(), sim.gen_pm_mw());
    let pick_up = [pe[0] - pm[0], pe[2] - pm[2]];
    assert!((pick_up[0] + pick_up[1] - 400.0).abs() < 1e-6, "{pick_up:?}");
    assert!((pick_up[0] - 400.0 * 7500.0 / 9000.0).abs() < 1e-6, "{pick_up:?}");
    assert_eq!(pe[1], 0.0);
}

const WEAK_TIE: &str = "function mpc = weak_tie
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
  1 3 0   0   0 0 1 1 0 230 1 1.1 0.9;
  2 1 600 100 0 0 1 1 0 230 1 1.1 0.9;
];
mpc.gen = [
  1 600 0 9999 -9999 1.0 100 1 1500 0 0 0 0 0 0 0 0 0 0 0 0;
];
mpc.branch = [
  1 2 0 0.02 0 0 0 0 0 0 1 -360 360;
  1 2 0 0.50 0 0 0 0 0 0 1 -360 360;
];
";

/// Losing the strong line leaves 600 MW on a tie that can carry at most V²/X = 200 MW: the
/// power flow has no solution (also damped, also from flat), so the island collapses, its
/// units trip and it blacks out.
#[test]
fn an_unsolvable_island_collapses() {
    let case = gridsim::matpower::parse(WEAK_TIE).unwrap();
    let d = Dynamics::defaults(&case);
    let mut sim = Sim::new(case, d).unwrap();
    let before = sim.stats().power_flows;
    sim.apply(&Command::Open(Element::Branch(1))).unwrap();
    assert!(sim.stats().power_flows - before >= 3, "plain, damped and flat attempts");
    let events = sim.take_events();
    let kinds: Vec<(EventKind, Element, Cause)> =
        events.iter().map(|e| (e.kind, e.element, e.cause)).collect();
    assert!(
        kinds.contains(&(EventKind::Collapse, Element::Island(BusId(1)), Cause::VoltageCollapse)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(EventKind::Open, Element::Gen(1), Cause::VoltageCollapse)), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.0 == EventKind::Blackout), "{kinds:?}");
    let obs = sim.observe();
    assert_eq!(obs.total.served_mw, 0.0);
    assert_eq!(obs.f_hz, 0.0);
}

/// Current of each branch over its relay's pickup, from a power flow of `case`.
fn multiples(case: &Case, d: &Dynamics) -> Vec<f64> {
    let sol = pf::solve(case, &mut PfWorkspace::new(), &PfOptions::default()).unwrap();
    case.branches
        .iter()
        .zip(&sol.branches)
        .zip(&d.relays)
        .map(|((br, f), relay)| {
            if relay.rating_mva <= 0.0 || !br.in_service {
                return 0.0;
            }
            let i_f = f.pf_mw.hypot(f.qf_mvar) / sol.vm_pu[br.from.get()];
            let i_t = f.pt_mw.hypot(f.qt_mvar) / sol.vm_pu[br.to.get()];
            i_f.max(i_t) / (relay.pickup * relay.rating_mva)
        })
        .collect()
}

fn with_dispatch(case: &Case, sim: &Sim, open: &[usize]) -> Case {
    let mut c = case.clone();
    for &k in open {
        c.branches[k].in_service = false;
    }
    for (g, pe) in sim.gen_pe_mw().into_iter().enumerate() {
        c.gens[g].pg_mw = pe;
    }
    c
}

/// N-2 on case118 (branches 36 and 50, both out at t = 1 s): the neighbours overload and
/// their relays trip one after another, each when `∫dt/t(M)` reaches 1 under the currents
/// of the moment; then the grid splits and parts black out.
#[test]
fn an_n2_outage_cascades_through_inverse_time_relays_in_order() {
    let (case, d) = case118();
    let relays = d.relays.clone();
    let mut sim = Sim::new(case.clone(), d.clone()).unwrap();
    let mut events = Vec::new();
    run_to(&mut sim, 1.0, &mut events);
    sim.apply(&Command::Open(Element::Branch(36))).unwrap();
    sim.apply(&Command::Open(Element::Branch(50))).unwrap();
    events.extend(sim.take_events());

    // Reference: currents after the N-2, from a fresh power flow here.
    let m0 = multiples(&with_dispatch(&case, &sim, &[35, 49]), &d);
    let t_of = |k: usize, m: f64| relays[k].curve.trip_time_s(relays[k].tms, m);
    let (first, t_first) =
        (0..m0.len()).map(|k| (k, t_of(k, m0[k]))).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert!(t_first.is_finite() && t_first > 1.0, "an inverse-time trip, not instantaneous: {t_first} s");
    assert_eq!(relays[first].curve, Curve::IecStandard);

    // Run until a relay operates.
    let trips = |events: &[Event]| -> Vec<(u32, f64)> {
        events
            .iter()
            .filter(|e| matches!(e.cause, Cause::Overcurrent { .. }))
            .map(|e| match e.element {
                Element::Branch(r) => (r, e.t.secs()),
                other => panic!("overcurrent on {other}"),
            })
            .collect()
    };
    while trips(&events).is_empty() && sim.time() < secs(60.0) {
        sim.step(secs(0.01));
        events.extend(sim.take_events());
    }
    let (row1, t1) = trips(&events)[0];
    assert_eq!(row1 as usize, first + 1, "the most overloaded relay operates first");
    let expected = 1.0 + t_first;
    assert!((t1 - expected).abs() <= 0.01 * t_first, "first trip at {t1} s, expected {expected} s");

    // The second: integrated under the N-2 currents until t1, then under the N-3 currents.
    let m1 = multiples(&with_dispatch(&case, &sim, &[35, 49, first]), &d);
    let (second, t_second) = (0..m1.len())
        .filter(|&k| k != first)
        .map(|k| {
            let done = if m0[k] > 1.0 { (t1 - 1.0) / t_of(k, m0[k]) } else { 0.0 };
            (k, t1 + (1.0 - done).max(0.0) * t_of(k, m1[k]))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    run_to(&mut sim, 60.0, &mut events);
    let all = trips(&events);
    assert!(all.len() >= 3, "a cascade, not one trip: {all:?}");
    let (row2, t2) = all[1];
    assert_eq!(row2 as usize, second + 1, "second relay");
    assert!((t2 - t_second).abs() <= 0.02 * (t_second - 1.0), "second trip at {t2} s, expected {t_second} s");

    // In order, each after a delay.
    assert!(all.windows(2).all(|w| w[0].1 < w[1].1), "trips in time order: {all:?}");
    assert!(events.iter().any(|e| e.kind == EventKind::IslandSplit));
}

/// Losing the largest unit (bus 89, 607 MW, 14 % of generation): UFLS arrests the fall
/// before units trip at 47.5 Hz. Without UFLS the same loss takes the grid below 47.5 Hz.
#[test]
fn ufls_arrests_the_loss_of_the_largest_unit() {
    let (case, d) = case118();
    let lost = case.gens.iter().position(|g| case.bus(g.bus).id == BusId(89)).unwrap();
    let generation: f64 = case.gens.iter().map(|g| g.pg_mw).sum();
    assert!((0.13..0.16).contains(&(case.gens[lost].pg_mw / generation)));

    let run = |d: Dynamics| {
        let mut sim = Sim::new(case.clone(), d).unwrap();
        let mut events = Vec::new();
        run_to(&mut sim, 1.0, &mut events);
        // The frequency window before the loss: nominal.
        let (lo, hi) = sim.take_frequency_window().unwrap();
        assert!((lo - 50.0).abs() < 1e-3 && (hi - 50.0).abs() < 1e-3, "{lo}..{hi} Hz before the loss");
        sim.apply(&Command::Open(Element::Gen(lost as u32 + 1))).unwrap();
        run_to(&mut sim, 40.0, &mut events);
        // The window since then holds the nadir; read, it starts again empty.
        let window = sim.take_frequency_window().unwrap();
        assert_eq!(sim.take_frequency_window(), None, "nothing stepped since");
        assert_eq!(window.0, sim.observe().total.nadir_hz, "the window's low is the nadir");
        (sim.observe(), events)
    };

    let (obs, events) = run(d.clone());
    let under = d.gen_under_hz;
    assert_eq!(under, 47.5);
    assert!(obs.total.nadir_hz > under, "nadir {} Hz", obs.total.nadir_hz);
    assert!(obs.total.nadir_hz < d.ufls[0].f_hz, "the first stage was reached");
    let shed: Vec<&Event> = events.iter().filter(|e| e.kind == EventKind::Shed).collect();
    assert!(!shed.is_empty());
    assert!(shed.iter().all(|e| matches!(e.cause, Cause::Ufls { stage: 1, .. })), "stage 1 was enough");
    assert!(!events.iter().any(|e| matches!(e.cause, Cause::UnderFrequency { .. })), "no unit tripped");
    assert!(obs.f_hz > 49.8, "recovered to {} Hz", obs.f_hz);
    let main = obs.islands.iter().find(|i| i.energised).unwrap();
    assert_eq!(main.nadir_hz, obs.total.nadir_hz, "one island throughout: its nadir is the grid's");
    // 12.5 % of every participating load, to the customer.
    let shed_mw: f64 = shed.iter().map(|e| e.mw.unwrap()).sum();
    assert!((shed_mw - 0.125 * obs.total.demand_mw).abs() < 1e-6, "{shed_mw} MW shed");
    assert!((obs.total.unserved_mw - shed_mw).abs() < 1e-6);

    let mut no_ufls = d;
    no_ufls.ufls.clear();
    let (obs, events) = run(no_ufls);
    assert!(obs.total.nadir_hz <= under, "without UFLS: nadir {} Hz", obs.total.nadir_hz);
    assert!(events.iter().any(|e| matches!(e.cause, Cause::UnderFrequency { .. })));
}

/// Bus 117 hangs off bus 12 alone. Cut off, it blacks out and accrues energy not served at
/// its demand; its customers are counted off supply; reconnected, it is served again.
#[test]
fn an_island_without_generation_blacks_out_and_accrues_energy_not_served() {
    let (case, d) = case118();
    let bus = case.bus_idx(BusId(117)).unwrap();
    let radial: Vec<usize> = (0..case.branches.len())
        .filter(|&k| case.branches[k].from == bus || case.branches[k].to == bus)
        .collect();
    assert_eq!(radial.len(), 1);
    let demand = case.bus(bus).pd_mw;
    let customers = d.loads.iter().find(|l| l.bus == bus).unwrap().customers as u64;
    let row = radial[0] as u32 + 1;

    let mut sim = Sim::new(case, d).unwrap();
    sim.step(secs(1.0));
    sim.apply(&Command::Open(Element::Branch(row))).unwrap();
    let events = sim.take_events();
    let blackout = events.iter().find(|e| e.kind == EventKind::Blackout).expect("a blackout event");
    assert_eq!(blackout.element, Element::Island(BusId(117)));
    assert_eq!(blackout.cause, Cause::Switching(Element::Branch(row)));
    assert_eq!(blackout.mw, Some(demand));
    assert_eq!(blackout.customers, Some(customers));
    let obs = sim.observe();
    assert_eq!(obs.total.customers_off, customers);
    assert!((obs.total.unserved_mw - demand).abs() < 1e-9);

    sim.step(secs(90.0));
    let ens = sim.observe().total.ens_mwh;
    assert!((ens - demand * 90.0 / 3600.0).abs() < 1e-9, "{ens} MWh");
    assert!(sim.bus_frequency_hz(bus).is_none());

    sim.apply(&Command::Close(Element::Branch(row))).unwrap();
    assert!(sim.take_events().iter().any(|e| e.kind == EventKind::Energised));
    sim.step(secs(30.0));
    let obs = sim.observe();
    assert_eq!(obs.total.customers_off, 0);
    assert!((obs.total.ens_mwh - ens).abs() < 1e-9, "no more energy lost once restored");
    // Area 1 carries it all.
    let (_, area1) = obs.areas.iter().find(|(a, _)| *a == 1).unwrap();
    assert!((area1.ens_mwh - ens).abs() < 1e-12);
}

/// The same inputs give the same events and observations, to the bit.
#[test]
fn runs_are_deterministic() {
    let (case, d) = case118();
    let run = || {
        let mut sim = Sim::new(case.clone(), d.clone()).unwrap();
        let mut log = String::new();
        for step in 0..300 {
            if step == 10 {
                sim.apply(&Command::Open(Element::Branch(36))).unwrap();
                sim.apply(&Command::Open(Element::Branch(50))).unwrap();
            }
            sim.step(secs(0.1));
            log += &format!("{:?}\n{:?}\n", sim.take_events(), sim.observe());
        }
        log
    };
    let a = run();
    assert!(a.contains("Overcurrent"));
    assert_eq!(a, run());
}

#[test]
fn sidecar_errors_carry_line_and_column() {
    let case = gridsim::matpower::parse(TWO_BUS).unwrap();
    let text = "f0_hz = 50\n[[gen]]\nrow = 7\nh_s = -1\n\n[[load]]\nbus = 1\n";
    let err = Dynamics::from_toml(&case, text).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("3:7: generator row 7 does not exist (the case has 2)"), "{shown}");
    assert!(shown.contains("7:7: bus 1 has no demand"), "{shown}");
    // Both reported at once; h_s of a missing row is not checked.
    assert_eq!(err.0.len(), 2, "{shown}");

    let err = Dynamics::from_toml(&case, "f0_hz = 50\nspeed = 3\n").unwrap_err();
    assert_eq!((err.0[0].line, err.0[0].col), (2, 1), "{err}");
    assert!(err.0[0].message.contains("unknown field `speed`"), "{err}");

    let err = Dynamics::from_toml(&case, "[[gen]]\nrow = 1\nunit = \"diesel\"\n").unwrap_err();
    assert_eq!(err.0[0].line, 3, "{err}");
    assert!(err.0[0].message.contains("diesel"), "{err}");
}

/// The Ukraine 2015 grid: three companies of at least eight substations each (110/35/10 kV),
/// about 225,000 customers, fed from a 330 kV ring; opening a company's two supply
/// transformers puts exactly its customers off supply, while the interconnection holds the
/// frequency.
#[test]
fn the_ukraine_grid_has_the_shape_of_the_incident() {
    let (case, text) = repo_case("ukraine2015");
    let d = Dynamics::from_toml(&case, &text).unwrap();
    let total: u64 = d.loads.iter().map(|l| l.customers as u64).sum();
    assert!((220_000..=230_000).contains(&total), "{total} customers");
    for area in 1..=3 {
        let loads: Vec<_> = d.loads.iter().filter(|l| d.bus_area[l.bus.get()] == area).collect();
        let mut subs: Vec<&str> = loads.iter().map(|l| l.substation.as_str()).collect();
        subs.sort_unstable();
        subs.dedup();
        assert!(subs.len() >= 8, "area {area}: {} substations", subs.len());
        let kv: Vec<f64> = case.buses.iter().filter(|b| b.area == area).map(|b| b.base_kv).collect();
        for level in [110.0, 35.0, 10.0] {
            assert!(kv.contains(&level), "area {area} has {level} kV");
        }
    }
    assert!(case.buses.iter().any(|b| b.base_kv == 330.0));

    let mut sim = Sim::new(case.clone(), d.clone()).unwrap();
    // The supply of area 1: branches from 330 kV into it.
    let feeds: Vec<u32> = case
        .branches
        .iter()
        .enumerate()
        .filter(|(_, br)| {
            let (f, t) = (case.bus(br.from), case.bus(br.to));
            (f.base_kv == 330.0) != (t.base_kv == 330.0) && (f.area == 1 || t.area == 1)
        })
        .map(|(k, _)| k as u32 + 1)
        .collect();
    assert_eq!(feeds.len(), 2);
    for row in &feeds {
        sim.apply(&Command::Open(Element::Branch(*row))).unwrap();
    }
    sim.step(secs(60.0));
    let obs = sim.observe();
    let area1: u64 =
        d.loads.iter().filter(|l| d.bus_area[l.bus.get()] == 1).map(|l| l.customers as u64).sum();
    assert_eq!(obs.total.customers_off, area1);
    let (_, a1) = obs.areas.iter().find(|(a, _)| *a == 1).unwrap();
    assert_eq!(a1.customers_off, area1);
    assert!((a1.ens_mwh - a1.demand_mw * 60.0 / 3600.0).abs() < 1e-9);
    assert!((obs.f_hz - 50.0).abs() < 0.1, "the interconnection holds: {} Hz", obs.f_hz);
    assert!(sim.take_events().iter().all(|e| !matches!(e.cause, Cause::Overcurrent { .. })));
}

/// An attacker (or a careless engineer) puts the relay that would trip first out of service:
/// it never operates, and the relay that would have been second goes first.
#[test]
fn a_relay_out_of_service_does_not_trip() {
    let (case, d) = case118();
    let mut sim = Sim::new(case.clone(), d.clone()).unwrap();
    sim.apply(&Command::Open(Element::Branch(36))).unwrap();
    sim.apply(&Command::Open(Element::Branch(50))).unwrap();
    let m0 = multiples(&with_dispatch(&case, &sim, &[35, 49]), &d);
    let t_of = |k: usize| d.relays[k].curve.trip_time_s(d.relays[k].tms, m0[k]);
    let first = (0..m0.len()).min_by(|&a, &b| t_of(a).total_cmp(&t_of(b))).unwrap();
    let row = first as u32 + 1;
    sim.step(secs(0.5 * t_of(first)));
    sim.apply(&Command::Protection(Element::Branch(row), false)).unwrap();
    let mut events = sim.take_events();
    assert_eq!(events[events.len() - 1].kind, EventKind::ProtectionOff);
    run_to(&mut sim, 2.0 * t_of(first), &mut events);
    assert!(
        !events.iter().any(|e| e.element == Element::Branch(row) && e.kind == EventKind::Open),
        "branch {row} tripped with its relay out of service"
    );
    assert_eq!(sim.branch_closed(row), Some(true));
}

/// Area 3 of the regional grid (East) separates along its four tie-lines: two energised
/// islands with frequencies of their own, reported per area; reclosing one tie merges them.
#[test]
fn areas_separate_and_resynchronise_along_their_ties() {
    let (case, d) = case118();
    let ties: Vec<u32> = (0..case.branches.len())
        .filter(|&k| {
            let br = &case.branches[k];
            (d.bus_area[br.from.get()] == 3) != (d.bus_area[br.to.get()] == 3)
        })
        .map(|k| k as u32 + 1)
        .collect();
    assert_eq!(ties, [30, 104, 105, 106]);
    let mut sim = Sim::new(case, d).unwrap();
    for &row in &ties {
        sim.apply(&Command::Open(Element::Branch(row))).unwrap();
    }
    let events = sim.take_events();
    let split = events.iter().find(|e| e.kind == EventKind::IslandSplit).expect("a split");
    assert_eq!(split.parts, Some(2));
    assert_eq!(split.cause, Cause::Switching(Element::Branch(106)), "the last tie split it");
    sim.step(secs(5.0));
    let obs = sim.observe();
    let live: Vec<_> = obs.islands.iter().filter(|i| i.energised).collect();
    assert_eq!(live.len(), 2);
    assert!((live[0].f_hz - live[1].f_hz).abs() > 1e-3, "separate frequencies: {live:?}");
    let area = |a: u32| obs.areas.iter().find(|(id, _)| *id == a).unwrap().1.clone();
    // Area 3 exported before the split, so it speeds up; the rest slows down.
    assert!(area(3).zenith_hz > 50.0 && area(1).nadir_hz < 50.0, "{:?} {:?}", area(3), area(1));
    assert!(area(3).nadir_hz >= 50.0 - 1e-9);

    sim.apply(&Command::Close(Element::Branch(30))).unwrap();
    let events = sim.take_events();
    assert!(events.iter().any(|e| e.kind == EventKind::IslandMerge), "{events:?}");
    assert_eq!(sim.observe().islands.len(), 1);
}

/// A scheduled command (a breaker's operating time) applies at its instant exactly, however
/// long the caller's step; commands due together apply in the order they were scheduled, and
/// a command naming a missing element is refused when scheduled, not later.
#[test]
fn scheduled_commands_apply_at_their_instant_in_order() {
    let (case, d) = case118();
    let bus = case.bus_idx(BusId(117)).unwrap();
    let row = (0..case.branches.len())
        .find(|&k| case.branches[k].from == bus || case.branches[k].to == bus)
        .unwrap() as u32
        + 1;
    let mut sim = Sim::new(case, d).unwrap();
    sim.step(secs(1.0));
    let el = Element::Branch(row);
    sim.schedule(secs(1.06), Command::Open(el)).unwrap();
    sim.schedule(secs(1.5), Command::Close(el)).unwrap();
    sim.schedule(secs(1.5), Command::Open(el)).unwrap();
    assert_eq!(
        sim.schedule(secs(2.0), Command::Open(Element::Branch(10_000))),
        Err(gridsim::sim::CommandError::NoSuchElement(Element::Branch(10_000)))
    );
    assert_eq!(sim.scheduled().len(), 3);
    assert_eq!(sim.branch_closed(row), Some(true), "nothing moves before its time");

    // One long step: the open lands at 1.06 s, not at the step's end.
    sim.step(secs(0.1));
    let events = sim.take_events();
    let open = events.iter().find(|e| e.kind == EventKind::Open && e.element == el).expect("opened");
    assert_eq!(open.t, secs(1.06));
    let blackout = events.iter().find(|e| e.kind == EventKind::Blackout).expect("bus 117 blacks out");
    assert_eq!(blackout.t, secs(1.06));
    assert_eq!(sim.branch_closed(row), Some(false));

    // Close then open at 1.5 s, in the order scheduled: it ends open, having closed once.
    sim.step(secs(1.0));
    let events = sim.take_events();
    let kinds: Vec<_> = events.iter().filter(|e| e.element == el).map(|e| (e.kind, e.t)).collect();
    assert_eq!(kinds, vec![(EventKind::Close, secs(1.5)), (EventKind::Open, secs(1.5))]);
    assert_eq!(sim.branch_closed(row), Some(false));
    assert!(sim.scheduled().is_empty());

    // Due now or in the past: applied at once.
    sim.schedule(secs(0.0), Command::Close(el)).unwrap();
    assert_eq!(sim.branch_closed(row), Some(true));
}
