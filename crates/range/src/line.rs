//! The pipeline in the journal: its events and its safety system's sequence-of-events log
//! as `Entry::Pipe`, and the minute samples as `Entry::Line`.

use gridsim::sim::SimTime;
use pipesim::sim::EventKind;
use pipesim::sis::{SoeEntry, SoeKind};

use crate::journal::{Entry, PipeKind};

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
            PipeKind::Overpressure,
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
            PipeKind::OverpressureCleared,
            seg(*segment),
            Some(kpa(*peak_pa)),
            false,
            format!("{} back below its MAOP (peak {:.1} bar)", seg(*segment), peak_pa / 1e5),
        ),
        EventKind::Rupture { segment, at_m, pressure_pa } => (
            PipeKind::Rupture,
            seg(*segment),
            Some(kpa(*pressure_pa)),
            false,
            format!("{} ruptures at {:.1} km ({:.1} bar)", seg(*segment), at_m / 1e3, pressure_pa / 1e5),
        ),
        EventKind::LeakOpened { segment, at_m, diameter_m } => (
            PipeKind::LeakOpened,
            seg(*segment),
            None,
            false,
            format!("a {:.0} mm leak opens in {} at {:.1} km", diameter_m * 1e3, seg(*segment), at_m / 1e3),
        ),
        EventKind::ReliefLifted { relief: r } => {
            (PipeKind::ReliefLifted, relief(*r), None, false, format!("relief valve {} lifts", relief(*r)))
        }
        EventKind::ReliefReseated { relief: r } => (
            PipeKind::ReliefReseated,
            relief(*r),
            None,
            false,
            format!("relief valve {} reseats", relief(*r)),
        ),
        EventKind::ColumnSeparation { segment, at_m } => (
            PipeKind::ColumnSeparation,
            seg(*segment),
            None,
            false,
            format!("column separation in {} at {:.1} km", seg(*segment), at_m / 1e3),
        ),
        EventKind::PumpStarted { pump: k } => {
            (PipeKind::PumpStarted, pump(*k), None, false, format!("{} starts", pump(*k)))
        }
        EventKind::PumpStopped { pump: k } => {
            (PipeKind::PumpStopped, pump(*k), None, false, format!("{} at rest", pump(*k)))
        }
        EventKind::PumpTripped { pump: k, by_sis } => (
            PipeKind::PumpTripped,
            pump(*k),
            None,
            *by_sis,
            format!("{} trips{}", pump(*k), if *by_sis { " (safety system)" } else { "" }),
        ),
        EventKind::ValveMoving { valve: k, target, by_sis } => (
            PipeKind::ValveMoving,
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
            (PipeKind::ValveClosed, valve(*k), None, false, format!("{} closed", valve(*k)))
        }
        EventKind::ValveOpened { valve: k } => {
            (PipeKind::ValveOpened, valve(*k), None, false, format!("{} open", valve(*k)))
        }
        EventKind::LeakAlarm(a) => (
            PipeKind::LeakAlarm,
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
    Entry::Pipe { t: e.t, kind, subject, pressure_kpa: pressure, by_sis, what }
}

/// A safety system SOE entry as a journal entry.
pub(crate) fn soe(e: &SoeEntry) -> Entry {
    let (kind, pressure, what) = match &e.kind {
        SoeKind::Beyond { function, value_pa } => {
            (PipeKind::SisBeyond, Some(kpa(*value_pa)), format!("{} beyond {function}'s set point", e.tag))
        }
        SoeKind::Back { function, value_pa } => {
            (PipeKind::SisBack, Some(kpa(*value_pa)), format!("{} back within {function}'s set point", e.tag))
        }
        SoeKind::Trip { function } => (PipeKind::SisTrip, None, format!("safety function {function} trips")),
        SoeKind::DemandBypassed { function } => (
            PipeKind::SisDemandBypassed,
            None,
            format!("safety function {function}: demand while bypassed, no trip"),
        ),
        SoeKind::Reset { function } => {
            (PipeKind::SisReset, None, format!("safety function {function} reset"))
        }
        SoeKind::Bypass { function, on } => (
            PipeKind::SisBypass,
            None,
            format!("safety function {function} bypass {}", if *on { "on" } else { "off" }),
        ),
        SoeKind::Key { from, to } => {
            (PipeKind::SisKey, None, format!("key switch {} → {}", from.name(), to.name()))
        }
        SoeKind::Download { old_checksum, new_checksum } => (
            PipeKind::SisDownload,
            None,
            format!("program downloaded: CRC-32 {old_checksum:08x} → {new_checksum:08x}"),
        ),
        SoeKind::Fault { why } => {
            (PipeKind::SisFault, None, format!("controller fault, every function tripped: {why}"))
        }
        SoeKind::TransmitterFault { fault } => (
            PipeKind::SisTransmitter,
            None,
            format!("{}: {}", e.tag, fault.map_or("healthy".into(), |f| format!("{f:?}"))),
        ),
    };
    Entry::Pipe { t: e.t, kind, subject: e.tag.clone(), pressure_kpa: pressure, by_sis: true, what }
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
