//! The pipeline in the journal: its events and its safety system's sequence-of-events log
//! as `Entry::Pipe`, and the minute samples as `Entry::Line`.

use gridsim::sim::SimTime;
use pipesim::sim::EventKind;
use pipesim::sis::{SoeEntry, SoeKind};

use crate::journal::Entry;

fn t(t: pipesim::SimTime) -> SimTime {
    SimTime(t.0)
}

fn kpa(pa: f64) -> f64 {
    (pa / 10.0).round() / 100.0
}

/// A pipeline event as a journal entry.
pub(crate) fn event(p: &pipesim::Pipeline, e: &pipesim::Event) -> Entry {
    let seg = |k: usize| p.segments.get(k).map_or_else(|| format!("segment {k}"), |s| s.name.clone());
    let pump = |k: usize| p.pumps.get(k).map_or_else(|| format!("pump {k}"), |s| s.name.clone());
    let valve = |k: usize| p.valves.get(k).map_or_else(|| format!("valve {k}"), |s| s.name.clone());
    let relief = |k: usize| p.reliefs.get(k).map_or_else(|| format!("relief {k}"), |s| s.name.clone());
    let (kind, subject, pressure, by_sis, what) = match &e.kind {
        EventKind::Overpressure { segment, at_m, pressure_pa } => (
            "overpressure",
            seg(*segment),
            Some(kpa(*pressure_pa)),
            false,
            format!(
                "{} above its MAOP: {:.1} bar at {:.1} km (MAOP {:.1} bar)",
                seg(*segment),
                pressure_pa / 1e5,
                at_m / 1e3,
                p.segments.get(*segment).map_or(0.0, |s| s.maop_pa / 1e5)
            ),
        ),
        EventKind::OverpressureCleared { segment, peak_pa } => (
            "overpressure_cleared",
            seg(*segment),
            Some(kpa(*peak_pa)),
            false,
            format!("{} back below its MAOP (peak {:.1} bar)", seg(*segment), peak_pa / 1e5),
        ),
        EventKind::Rupture { segment, at_m, pressure_pa } => (
            "rupture",
            seg(*segment),
            Some(kpa(*pressure_pa)),
            false,
            format!("{} ruptures at {:.1} km ({:.1} bar)", seg(*segment), at_m / 1e3, pressure_pa / 1e5),
        ),
        EventKind::LeakOpened { segment, at_m, diameter_m } => (
            "leak_opened",
            seg(*segment),
            None,
            false,
            format!("a {:.0} mm leak opens in {} at {:.1} km", diameter_m * 1e3, seg(*segment), at_m / 1e3),
        ),
        EventKind::ReliefLifted { relief: r } => {
            ("relief_lifted", relief(*r), None, false, format!("relief valve {} lifts", relief(*r)))
        }
        EventKind::ReliefReseated { relief: r } => {
            ("relief_reseated", relief(*r), None, false, format!("relief valve {} reseats", relief(*r)))
        }
        EventKind::ColumnSeparation { segment, at_m } => (
            "column_separation",
            seg(*segment),
            None,
            false,
            format!("column separation in {} at {:.1} km", seg(*segment), at_m / 1e3),
        ),
        EventKind::PumpStarted { pump: k } => {
            ("pump_started", pump(*k), None, false, format!("{} starts", pump(*k)))
        }
        EventKind::PumpStopped { pump: k } => {
            ("pump_stopped", pump(*k), None, false, format!("{} at rest", pump(*k)))
        }
        EventKind::PumpTripped { pump: k, by_sis } => (
            "pump_tripped",
            pump(*k),
            None,
            *by_sis,
            format!("{} trips{}", pump(*k), if *by_sis { " (safety system)" } else { "" }),
        ),
        EventKind::ValveMoving { valve: k, target, by_sis } => (
            "valve_moving",
            valve(*k),
            None,
            *by_sis,
            format!(
                "{} {}{}",
                valve(*k),
                if *target <= 0.0 {
                    "closing".to_string()
                } else {
                    format!("moving to {:.0} %", target * 100.0)
                },
                if *by_sis { " (safety system)" } else { "" }
            ),
        ),
        EventKind::ValveClosed { valve: k } => {
            ("valve_closed", valve(*k), None, false, format!("{} closed", valve(*k)))
        }
        EventKind::ValveOpened { valve: k } => {
            ("valve_opened", valve(*k), None, false, format!("{} open", valve(*k)))
        }
        EventKind::LeakAlarm(a) => (
            "leak_alarm",
            "leak detection".into(),
            None,
            false,
            format!(
                "leak alarm: {:.1} m³ imbalance over {:.0} s (threshold {:.1} m³, about {:.0} m³/h)",
                a.imbalance_m3,
                a.window_s,
                a.threshold_m3,
                a.rate_m3_s * 3600.0
            ),
        ),
    };
    Entry::Pipe { t: t(e.t), kind, subject, pressure_kpa: pressure, by_sis, what }
}

/// A safety system SOE entry as a journal entry.
pub(crate) fn soe(e: &SoeEntry) -> Entry {
    let (kind, pressure, what) = match &e.kind {
        SoeKind::Beyond { function, value_pa } => {
            ("sis_beyond", Some(kpa(*value_pa)), format!("{} beyond {function}'s set point", e.tag))
        }
        SoeKind::Back { function, value_pa } => {
            ("sis_back", Some(kpa(*value_pa)), format!("{} back within {function}'s set point", e.tag))
        }
        SoeKind::Trip { function } => ("sis_trip", None, format!("safety function {function} trips")),
        SoeKind::DemandBypassed { function } => (
            "sis_demand_bypassed",
            None,
            format!("safety function {function}: demand while bypassed, no trip"),
        ),
        SoeKind::Reset { function } => ("sis_reset", None, format!("safety function {function} reset")),
        SoeKind::Bypass { function, on } => (
            "sis_bypass",
            None,
            format!("safety function {function} bypass {}", if *on { "on" } else { "off" }),
        ),
        SoeKind::Key { from, to } => ("sis_key", None, format!("key switch {} → {}", from.name(), to.name())),
        SoeKind::Download { old_checksum, new_checksum } => (
            "sis_download",
            None,
            format!("program downloaded: CRC-32 {old_checksum:08x} → {new_checksum:08x}"),
        ),
        SoeKind::Fault { why } => {
            ("sis_fault", None, format!("controller fault, every function tripped: {why}"))
        }
        SoeKind::TransmitterFault { fault } => (
            "sis_transmitter",
            None,
            format!("{}: {}", e.tag, fault.map_or("healthy".into(), |f| format!("{f:?}"))),
        ),
    };
    Entry::Pipe { t: t(e.t), kind, subject: e.tag.clone(), pressure_kpa: pressure, by_sis: true, what }
}

/// The minute sample.
pub(crate) fn sample(now: SimTime, sim: &pipesim::Sim) -> Entry {
    let p = sim.pipeline();
    let tot = sim.totals();
    let r = |v: f64| (v * 1e3).round() / 1e3;
    let peak = sim.peak_pressures().iter().zip(&p.segments).map(|(pk, s)| pk / s.maop_pa).fold(0.0, f64::max);
    Entry::Line {
        t: now,
        flow_in_m3h: r(sim.joint(0).flow_m3_s * 3600.0),
        flow_out_m3h: r(sim.joint(p.segments.len()).flow_m3_s * 3600.0),
        delivered_m3: r(tot.delivered_m3),
        nominated_m3: r(p.nomination_m3_s * now.secs()),
        not_delivered_m3: r(tot.not_delivered_m3),
        released_m3: r(tot.released_m3),
        relieved_m3: r(tot.relieved_m3),
        peak_maop_ratio: (peak * 1e4).round() / 1e4,
        pressures_kpa: (0..p.joints.len()).map(|j| kpa(sim.joint_pressures(j)[2])).collect(),
    }
}
