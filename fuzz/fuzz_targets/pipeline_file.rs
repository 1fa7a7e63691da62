//! Fuzz target: bytes as a pipeline file (then, if it loads, thirty simulated seconds of it
//! with its pumps tripped and its valves slammed: pressures stay finite), and the same bytes
//! as a safety program image for the built-in Colonial-style line (a decoded program encodes
//! back to the same bytes). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipesim::sim::{Command, SimOptions};
use pipesim::{Sim, SimTime, file, sis};

const COLONIAL: &str = include_str!("../../pipelines/colonial.toml");

fuzz_target!(|data: &[u8]| {
    let line = file::parse(COLONIAL).expect("the built-in line parses");
    let stations: Vec<usize> = (0..line.joints.len()).filter(|&j| !line.joints[j].pumps.is_empty()).collect();
    let esd: Vec<bool> = line.valves.iter().map(|v| v.esd).collect();
    if let Ok(functions) = sis::decode(data, &stations, &esd, 100e5) {
        assert_eq!(sis::encode(&functions), data, "a decoded image encodes back to itself");
    }

    let text = String::from_utf8_lossy(data);
    let Ok(p) = file::parse(&text) else { return };
    let pumps = p.pumps.len();
    let valves = p.valves.len();
    let mut sim = Sim::new(p, SimOptions { max_reach_m: 2000.0 });
    if sim.nodes() > 20_000 || sim.dt() < SimTime(5_000) {
        return;
    }
    sim.step(SimTime::from_secs(5.0));
    for k in 0..pumps {
        let _ = sim.apply(&Command::TripPump { pump: k });
    }
    for k in 0..valves {
        let _ = sim.apply(&Command::MoveValve { valve: k, open: 0.0 });
    }
    let _ = sim.apply(&Command::Leak { segment: 0, at_m: 50.0, diameter_m: 0.01 });
    sim.step(SimTime::from_secs(30.0));
    for p in sim.profile() {
        assert!(p.head_m.is_finite() && p.flow_m3_s.is_finite(), "{p:?}");
    }
});
