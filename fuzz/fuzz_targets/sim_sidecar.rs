//! Fuzz target: a dynamics sidecar and a list of timed commands, through the sidecar reader,
//! the command parser and five simulated seconds of case9. Input: sidecar text, a line
//! `---`, then one `SECONDS COMMAND` per line. Nothing may panic, and every observation
//! stays finite.
#![no_main]

use gridsim::dynamics::Dynamics;
use gridsim::sim::{Command, Sim, SimTime};
use libfuzzer_sys::fuzz_target;

const CASE9: &str = include_str!("../../cases/case9.m");

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (sidecar, script) = text.split_once("\n---\n").unwrap_or((&text, ""));
    let case = gridsim::matpower::parse(CASE9).expect("case9 parses");
    let Ok(dynamics) = Dynamics::from_toml(&case, sidecar) else { return };
    // Keep one input under a few milliseconds.
    if dynamics.substep_s < 1e-3 || dynamics.pf_interval_s < 1e-2 {
        return;
    }
    let Ok(mut sim) = Sim::new(case, dynamics) else { return };
    let mut commands: Vec<(SimTime, Command)> = script
        .lines()
        .filter_map(|l| {
            let (t, c) = l.trim().split_once(' ')?;
            Some((SimTime::from_secs(t.parse::<f64>().ok()?.min(5.0)), c.parse().ok()?))
        })
        .take(32)
        .collect();
    commands.sort_by_key(|(t, _)| *t);
    for (t, cmd) in commands {
        if t > sim.time() {
            sim.step(SimTime(t.0 - sim.time().0));
        }
        let _ = sim.apply(&cmd);
    }
    sim.step(SimTime(SimTime::from_secs(5.0).0.saturating_sub(sim.time().0)));
    let obs = sim.observe();
    let t = &obs.total;
    for v in [
        obs.f_hz,
        obs.rocof_hz_s,
        obs.gen_mw,
        obs.losses_mw,
        t.served_mw,
        t.unserved_mw,
        t.ens_mwh,
        t.nadir_hz,
    ] {
        assert!(v.is_finite(), "non-finite observation: {obs:?}");
    }
    assert!(t.customers_off <= t.customers);
    assert!(t.unserved_mw >= -1e-9 && t.served_mw <= t.demand_mw + 1e-9);
});
