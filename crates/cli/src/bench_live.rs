//! `icsrange bench live`: the CPU that live ranges cost. N drivers of one exercise run in one
//! process, each paced against the wall clock (campaign, SCADA master, IDS, journal; no
//! listeners), and the process's CPU time over the measured window is reported per range and
//! as a share of one core.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use netio::driver::{self, Pace};

use crate::run_cmd::{Prepared, prepare};

#[derive(Debug, clap::Args)]
pub struct BenchLiveArgs {
    /// An exercise file (or a built-in exercise's name).
    #[arg(default_value = "ukraine2015")]
    exercise: String,
    /// Ranges running at once.
    #[arg(long, default_value_t = 1)]
    ranges: usize,
    /// A factor of real time (1x, 10x) or max.
    #[arg(long, value_parser = Pace::parse, default_value = "1x")]
    speed: Pace,
    /// Measured wall-clock duration.
    #[arg(long = "for", value_parser = gridsim::sim::SimTime::parse_duration, default_value = "20s")]
    duration: gridsim::sim::SimTime,
}

/// User + system CPU time of this process so far (Linux /proc).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    let Some((_, rest)) = stat.rsplit_once(')') else { return f64::NAN };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // utime and stime are fields 14 and 15 of the whole line; 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn run(args: &BenchLiveArgs) -> anyhow::Result<ExitCode> {
    let mut ranges = Vec::new();
    for _ in 0..args.ranges {
        match prepare(&args.exercise, "none", 1, |_| {})? {
            Ok(Prepared { range, .. }) => ranges.push(range),
            Err(code) => return Ok(code),
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    let window = Duration::from_micros(args.duration.0);
    let (cpu, wall, sim) = rt.block_on(async {
        let mut handles = Vec::new();
        for r in ranges {
            handles.push(driver::spawn(r, args.speed, false, None));
        }
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        tokio::time::sleep(window).await;
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        let mut sim = 0.0;
        for (h, _) in &handles {
            sim += h.state().borrow().hmi.t.secs();
        }
        for (h, _) in &handles {
            h.stop().await;
        }
        (cpu, wall, sim / handles.len().max(1) as f64)
    });
    out!(
        "{} x {} at {:?}: {:.2} s CPU in {:.2} s wall = {:.1} % of one core, {:.2} % per range; simulated {:.0} s per range",
        args.ranges,
        args.exercise,
        args.speed,
        cpu,
        wall,
        100.0 * cpu / wall,
        100.0 * cpu / wall / args.ranges.max(1) as f64,
        sim
    );
    Ok(ExitCode::SUCCESS)
}
