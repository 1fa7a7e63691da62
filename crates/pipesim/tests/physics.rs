//! The physics against calculations written here, independently of the crate: Darcy–Weisbach
//! with the Swamee–Jain friction factor solved by bisection, Joukowsky's surge, the 2L/a
//! reflection, the leak detection's stated time, and 2-out-of-3 voting.

#![allow(clippy::unwrap_used)]

use pipesim::sim::{Command, EventKind, PumpMode, SimOptions};
use pipesim::sis::TransmitterFault;
use pipesim::{G, Sim, SimTime, file};

const PI: f64 = std::f64::consts::PI;

/// Swamee–Jain, as published: f = 0.25 / log10(ε/3.7D + 5.74/Re^0.9)².
fn swamee_jain(q: f64, d: f64, eps: f64, nu: f64) -> f64 {
    let a = PI * d * d / 4.0;
    let re = q / a * d / nu;
    assert!(re > 4000.0, "the hand calculation is for turbulent flow (Re = {re})");
    0.25 / ((eps / (3.7 * d) + 5.74 / re.powf(0.9)).log10()).powi(2)
}

/// Darcy–Weisbach head loss over length `l`.
fn hf(q: f64, l: f64, d: f64, eps: f64, nu: f64) -> f64 {
    let a = PI * d * d / 4.0;
    let v = q / a;
    swamee_jain(q, d, eps, nu) * l / d * v * v / (2.0 * G)
}

/// The root of a decreasing function by bisection.
fn bisect(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs() / want.abs();
    assert!(err <= rel, "{what}: {got} against {want} ({:.3} %, allowed {:.3} %)", err * 100.0, rel * 100.0);
}

const PRODUCT: &str = r#"
format = 1
name = "test"
[product]
name = "crude"
density_kg_m3 = 850
viscosity_cst = 5.0
vapour_pressure_kpa = 20
"#;

/// One pipe between two tanks: Q from H1 − H2 = hf(Q); the pressure half way.
#[test]
fn single_pipe_steady_state_matches_darcy_weisbach() {
    let text = format!(
        r#"{PRODUCT}
[origin]
name = "A"
elevation_m = 100
level_m = 20
[delivery]
name = "B"
elevation_m = 10
level_m = 5
nomination_m3_h = 1000
[[segment]]
name = "P"
length_km = 12
diameter_mm = 400
roughness_mm = 0.05
wave_speed_m_s = 1000
maop_bar = 50
elevation_m = [[0, 100], [12, 10]]
"#
    );
    let line = file::parse(&text).unwrap();
    let (d, eps, nu, l) = (0.4, 0.05e-3, 5e-6, 12_000.0);
    let dh = (100.0 + 20.0) - (10.0 + 5.0);
    let q = bisect(1e-6, 10.0, |q| dh - hf(q, l, d, eps, nu));
    // Half way: head = H1 − hf over 6 km; elevation 55 m.
    let p_mid = 850.0 * G * (120.0 - hf(q, 6000.0, d, eps, nu) - 55.0);

    let steady = pipesim::steady::solve(&line, &[], &[]);
    close("steady flow", steady.flow_m3_s, q, 0.005);
    let mut sim = Sim::new(line, SimOptions { max_reach_m: 500.0 });
    close("initial flow", sim.joint(0).flow_m3_s, q, 0.005);
    close("pressure half way", sim.pressure_at(0, 6000.0), p_mid, 0.005);
    // The MOC holds the steady state: a minute later, nothing has moved.
    sim.step(SimTime::from_secs(60.0));
    close("flow after a minute", sim.joint(1).flow_m3_s, q, 0.005);
    close("pressure half way after a minute", sim.pressure_at(0, 6000.0), p_mid, 0.005);
}

const TWO_STATIONS: &str = r#"
[origin]
name = "Tank farm"
elevation_m = 20
level_m = 10
[delivery]
name = "Terminal"
elevation_m = 80
level_m = 10
nomination_m3_h = 1500
[[segment]]
name = "S1"
length_km = 50
diameter_mm = 500
roughness_mm = 0.045
wave_speed_m_s = 1100
maop_bar = 60
elevation_m = [[0, 20], [30, 90], [50, 60]]
[[segment]]
name = "S2"
length_km = 40
diameter_mm = 450
roughness_mm = 0.045
wave_speed_m_s = 1050
maop_bar = 60
elevation_m = [[0, 60], [40, 80]]
[[station]]
name = "PS1"
at = "origin"
[[station.pump]]
name = "P1"
shutoff_head_m = 500
rated_flow_m3_h = 1500
rated_head_m = 400
rated_speed_rpm = 3000
min_speed_rpm = 1500
ramp_rpm_s = 50
rundown_s = 5
speed_rpm = 3000
[[station]]
name = "PS2"
at = "S1"
[[station.pump]]
name = "P2"
shutoff_head_m = 500
rated_flow_m3_h = 1500
rated_head_m = 400
rated_speed_rpm = 3000
min_speed_rpm = 1500
ramp_rpm_s = 50
rundown_s = 5
speed_rpm = 2700
"#;

/// Two stations: Q from the energy balance with both pump curves (the second at 90 % speed,
/// by the affinity laws), then the pressures at each station from the heads.
#[test]
fn two_station_line_steady_state_matches_hand_calculation() {
    let text = format!("{PRODUCT}{TWO_STATIONS}");
    let line = file::parse(&text).unwrap();
    let nu = 5e-6;
    let eps = 0.045e-3;
    let k = (500.0 - 400.0) / (1500.0f64 / 3600.0).powi(2);
    let pump = |q: f64, r: f64| 500.0 * r * r - k * q * q;
    let balance = |q: f64| {
        30.0 + pump(q, 1.0) - hf(q, 50_000.0, 0.5, eps, nu) + pump(q, 0.9)
            - hf(q, 40_000.0, 0.45, eps, nu)
            - 90.0
    };
    let q = bisect(1e-6, 2.0, balance);
    let rho_g = 850.0 * G;
    let ps1_discharge = rho_g * (30.0 + pump(q, 1.0) - 20.0);
    let ps2_suction = rho_g * (30.0 + pump(q, 1.0) - hf(q, 50_000.0, 0.5, eps, nu) - 60.0);
    let ps2_discharge = ps2_suction + rho_g * pump(q, 0.9);

    let mut sim = Sim::new(line, SimOptions::default());
    for t in [0.0, 120.0] {
        sim.step(SimTime::from_secs(t));
        close("flow", sim.joint(2).flow_m3_s, q, 0.005);
        close("PS1 discharge", sim.joint_pressures(0)[1], ps1_discharge, 0.005);
        close("PS2 suction", sim.joint_pressures(1)[0], ps2_suction, 0.005);
        close("PS2 discharge", sim.joint_pressures(1)[1], ps2_discharge, 0.005);
    }
}

/// A reservoir, 1 km of pipe, a valve at its end: L/a = 1 s.
fn valve_line(travel_s: f64) -> Sim {
    let text = format!(
        r#"{PRODUCT}
[origin]
name = "Reservoir"
elevation_m = 0
level_m = 100
[delivery]
name = "Outfall"
elevation_m = 0
level_m = 0
nomination_m3_h = 500
[[segment]]
name = "P"
length_km = 1
diameter_mm = 300
roughness_mm = 0.01
wave_speed_m_s = 1000
maop_bar = 100
elevation_m = 0
[[valve]]
name = "V"
at = "P"
diameter_mm = 300
loss_coefficient = 80
travel_s = {travel_s}
"#
    );
    Sim::new(file::parse(&text).unwrap(), SimOptions { max_reach_m: 25.0 })
}

#[test]
fn instantaneous_closure_gives_joukowsky_and_reflects_at_2l_over_a() {
    let mut sim = valve_line(1e-4);
    assert_eq!(sim.dt(), SimTime(25_000), "25 m reaches at 1000 m/s");
    sim.step(SimTime::from_secs(1.0));
    let v0 = sim.joint(1).flow_m3_s / (PI * 0.3 * 0.3 / 4.0);
    assert!(v0 > 1.0, "a real flow before the closure: {v0} m/s");
    let p0 = sim.joint_pressures(1)[0];
    let t0 = sim.time();
    sim.apply(&Command::MoveValve { valve: 0, open: 0.0 }).unwrap();
    let joukowsky = 850.0 * 1000.0 * v0;
    let mut rise = None;
    let mut drop_at = None;
    while sim.time() < SimTime(t0.0 + 3_000_000) {
        sim.step(SimTime(sim.time().0 + 25_000));
        let dp = sim.joint_pressures(1)[0] - p0;
        if sim.time() == SimTime(t0.0 + 50_000) {
            rise = Some(dp);
        }
        if rise.is_some() && drop_at.is_none() && dp < joukowsky / 2.0 {
            drop_at = Some(sim.time());
        }
    }
    close("Joukowsky rise ρ·a·Δv", rise.unwrap(), joukowsky, 0.02);
    // The wave goes to the reservoir and back: the valve's pressure falls at t0 + 2L/a.
    let back = drop_at.unwrap().secs() - t0.secs();
    assert!((back - 2.0).abs() <= 0.05 + 1e-9, "reflection after {back} s, 2L/a = 2 s");
}

#[test]
fn slow_closure_gives_a_much_smaller_surge() {
    let peak = |travel: f64| {
        let mut sim = valve_line(travel);
        sim.step(SimTime::from_secs(1.0));
        let p0 = sim.joint_pressures(1)[0];
        let v0 = sim.joint(1).flow_m3_s / (PI * 0.3 * 0.3 / 4.0);
        sim.apply(&Command::MoveValve { valve: 0, open: 0.0 }).unwrap();
        let mut peak = 0.0f64;
        let end = SimTime::from_secs(1.0 + travel + 10.0);
        while sim.time() < end {
            sim.step(SimTime(sim.time().0 + 25_000));
            peak = peak.max(sim.joint_pressures(1)[0] - p0);
        }
        (peak, 850.0 * 1000.0 * v0)
    };
    // At once, the peak is at least Joukowsky's (the vapour cavity that forms after the
    // reflection collapses into another surge); over ten times 2L/a, a fraction of it.
    let (fast, joukowsky) = peak(1e-4);
    let (slow, _) = peak(10.0 * 2.0);
    assert!(fast >= 0.98 * joukowsky, "closing at once: peak {fast} Pa, Joukowsky {joukowsky} Pa");
    assert!(slow < 0.25 * joukowsky, "closing over 10 × 2L/a: {slow} Pa, Joukowsky {joukowsky} Pa");
    eprintln!("surge: at once {fast:.0} Pa, over 20 s {slow:.0} Pa, Joukowsky {joukowsky:.0} Pa");
}

fn colonial() -> Sim {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/colonial.toml"))
        .unwrap();
    Sim::new(file::parse(&text).unwrap(), SimOptions::default())
}

fn leak_alarms(events: &[pipesim::Event]) -> Vec<SimTime> {
    events.iter().filter(|e| matches!(e.kind, EventKind::LeakAlarm(_))).map(|e| e.t).collect()
}

/// A leak of 2 % of the nomination, sized here from the orifice equation at the pressure
/// where it opens, is found within the leak detection's stated time.
#[test]
fn a_two_percent_leak_is_detected_within_the_stated_time() {
    let mut sim = colonial();
    sim.step(SimTime::from_secs(1200.0));
    assert_eq!(leak_alarms(&sim.take_events()), vec![], "no alarm in steady flow");
    let q_nom = sim.pipeline().nomination_m3_s;
    let q_leak = 0.02 * q_nom;
    let seg = sim.pipeline().segment_index("L10").unwrap();
    let head = sim.pressure_at(seg, 5000.0) / (740.0 * G);
    let area = q_leak / (0.61 * (2.0 * G * head).sqrt());
    let diameter_m = (4.0 * area / PI).sqrt();
    let stated = sim.cpm().unwrap().detection_time_s(q_leak).unwrap();
    let t0 = sim.time();
    let released0 = sim.totals().released_m3;
    sim.apply(&Command::Leak { segment: seg, at_m: 5000.0, diameter_m }).unwrap();
    sim.step(SimTime(t0.0 + SimTime::from_secs(stated + 60.0).0));
    let alarms = leak_alarms(&sim.take_events());
    assert_eq!(alarms.len(), 1, "one alarm");
    let took = alarms[0].secs() - t0.secs();
    assert!(took <= stated, "detected after {took:.0} s; stated {stated:.0} s");
    // The hole really leaks about 2 % (the pressure falls a little once it is open).
    let rate = (sim.totals().released_m3 - released0) / (sim.time().secs() - t0.secs());
    assert!((0.017..=0.021).contains(&(rate / q_nom)), "leak rate {:.4} of the nomination", rate / q_nom);
    eprintln!(
        "2 % leak: detected after {took:.0} s, stated {stated:.0} s, minimum detectable {:.2} %",
        sim.cpm().unwrap().minimum_detectable_m3_s() / q_nom * 100.0
    );
}

/// Pumps stopped from upstream to downstream, then the valves closed over their travel: the
/// line is shut in without a leak alarm, an overpressure or a release.
#[test]
fn an_orderly_shutdown_raises_no_leak_alarm() {
    let mut sim = colonial();
    sim.step(SimTime::from_secs(1200.0));
    let mut events = sim.take_events();
    for k in 0..3 {
        sim.apply(&Command::StopPump { pump: k }).unwrap();
        let t = sim.time();
        sim.step(SimTime(t.0 + 60_000_000));
    }
    for v in 0..sim.pipeline().valves.len() {
        sim.apply(&Command::MoveValve { valve: v, open: 0.0 }).unwrap();
    }
    sim.step(SimTime::from_secs(1200.0 + 7200.0));
    events.extend(sim.take_events());
    assert_eq!(leak_alarms(&events), vec![], "no leak alarm");
    assert!(
        !events.iter().any(|e| matches!(e.kind, EventKind::Overpressure { .. })),
        "no overpressure: {events:?}"
    );
    assert_eq!(sim.totals().released_m3, 0.0);
    assert!(sim.joint(20).flow_m3_s.abs() < 1e-9, "shut in");
    assert!((0..3).all(|k| sim.pump(k).mode == PumpMode::Stopped));
}

/// 2-out-of-3: one discharge transmitter failed high does not trip the station; a second
/// does, within the stated response time.
#[test]
fn two_out_of_three_voting() {
    let mut sim = colonial();
    sim.step(SimTime::from_secs(10.0));
    let sis = sim.sis().unwrap();
    let f = sis.functions().iter().position(|f| f.tag == "PAHH-201").unwrap();
    let tx = |tag: &str| sis.transmitters().iter().position(|t| t.tag == tag).unwrap();
    let (a, b) = (tx("PT-PS2-D-A"), tx("PT-PS2-D-B"));
    let response = sis.response_time_s(f);
    let ps2 = sim.pipeline().pump_index("P-201").unwrap();

    sim.apply(&Command::TransmitterFault { transmitter: a, fault: Some(TransmitterFault::FailedHigh) })
        .unwrap();
    sim.step(SimTime::from_secs(70.0));
    assert!(!sim.sis().unwrap().tripped(f), "one transmitter failed high: no trip");
    assert_eq!(sim.pump(ps2).mode, PumpMode::Running);
    sim.take_events();

    sim.apply(&Command::TransmitterFault { transmitter: b, fault: Some(TransmitterFault::FailedHigh) })
        .unwrap();
    let t1 = sim.time();
    sim.step(SimTime::from_secs(80.0));
    let trip = sim
        .take_events()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::PumpTripped { pump, by_sis: true } if pump == ps2))
        .expect("the second transmitter trips the station");
    let took = trip.t.secs() - t1.secs();
    assert!(took <= response + 1e-6, "tripped {took:.3} s after the second failure; stated {response:.3} s");
    assert!(took >= 0.5, "not before its 500 ms delay: {took:.3} s");
    assert!(sim.sis().unwrap().tripped(f));
    // The trip latches: the station cannot be restarted until it is reset.
    assert!(sim.apply(&Command::StartPump { pump: ps2 }).is_err());
}
