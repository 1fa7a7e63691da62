//! `icsrange bench pipe`: simulated seconds per wall-clock second of a pipeline's transient
//! simulation (the method of characteristics at a given reach), with the share of one core
//! that real time needs. The run is disturbed so the transient code is exercised: the first
//! pump of the middle station trips at 60 s and restarts at a third of the run, a 1 % leak
//! opens half way along the line at half the run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use pipesim::sim::{Command, SimOptions};
use pipesim::{Sim, SimTime};

use crate::BadInput;

#[derive(Debug, Args)]
pub struct BenchPipeArgs {
    /// Pipeline files (TOML, `pipesim::file`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Simulated duration per run, in seconds.
    #[arg(long = "for", default_value_t = 3600.0)]
    duration_s: f64,
    /// Longest reach of the MOC grid, in metres (one run per value).
    #[arg(long = "reach", default_values_t = [500.0, 100.0, 25.0])]
    reach_m: Vec<f64>,
}

pub fn run(args: &BenchPipeArgs) -> anyhow::Result<ExitCode> {
    out!(
        "{:<14} {:>4} {:>4} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>11} {:>11} {:>7}",
        "line",
        "segs",
        "stns",
        "reach_m",
        "nodes",
        "dt_ms",
        "sim_s",
        "wall_s",
        "steps",
        "sim_per_s",
        "core_at_1x",
        "events"
    );
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("{}: cannot read: {e}", path.display())))?;
        let line = pipesim::file::parse(&text).map_err(|e| {
            BadInput(
                e.0.iter()
                    .map(|e| format!("{}:{}:{}: {}", path.display(), e.line, e.col, e.message))
                    .collect::<Vec<_>>()
                    .join("\nerror: "),
            )
        })?;
        let name =
            path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into());
        let stations: Vec<usize> =
            (0..line.joints.len()).filter(|&j| !line.joints[j].pumps.is_empty()).collect();
        let middle_pump =
            stations.get(stations.len() / 2).and_then(|&j| line.joints[j].pumps.first().copied());
        let half = line.total_length_m() / 2.0;
        let (leak_seg, leak_at) = {
            let mut x = 0.0;
            let mut found = (0, 0.0);
            for (k, s) in line.segments.iter().enumerate() {
                if x + s.length_m >= half {
                    found = (k, half - x);
                    break;
                }
                x += s.length_m;
            }
            found
        };
        let leak_d = line.segments[leak_seg].diameter_m * 0.05;
        for &reach in &args.reach_m {
            let mut sim = Sim::new(line.clone(), SimOptions { max_reach_m: reach });
            let end = SimTime::from_secs(args.duration_s);
            let mut at: Vec<(SimTime, Command)> = Vec::new();
            if let Some(p) = middle_pump {
                at.push((SimTime::from_secs(60.0), Command::TripPump { pump: p }));
                at.push((SimTime::from_secs(args.duration_s / 3.0), Command::StartPump { pump: p }));
            }
            at.push((
                SimTime::from_secs(args.duration_s / 2.0),
                Command::Leak { segment: leak_seg, at_m: leak_at, diameter_m: leak_d },
            ));
            let mut events = 0;
            let started = Instant::now();
            for (t, cmd) in &at {
                sim.step(*t);
                let _ = sim.apply(cmd);
                events += sim.take_events().len();
            }
            sim.step(end);
            events += sim.take_events().len();
            let wall = started.elapsed().as_secs_f64();
            let simulated = sim.time().secs();
            let steps = sim.time().0 / sim.dt().0;
            std::hint::black_box(sim.profile());
            out!(
                "{:<14} {:>4} {:>4} {:>7.0} {:>6} {:>8.2} {:>8.0} {:>8.3} {:>8} {:>11.0} {:>10.3}% {:>7}",
                name,
                line.segments.len(),
                stations.len(),
                reach,
                sim.nodes(),
                sim.dt().secs() * 1e3,
                simulated,
                wall,
                steps,
                simulated / wall,
                100.0 * wall / simulated,
                events
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
