//! `icsrange sim` and `icsrange bench sim`: wiring between files and `gridsim::sim`.
//!
//! The series CSV has one row at t = 0 and one after every step; the events file has one JSON
//! object per line (`t_s`, `kind`, `element`, `cause`, plus details where they apply).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use gridsim::dynamics::Dynamics;
use gridsim::sim::{Cause, Command, Element, Event, Observation, Sim, SimTime};
use serde::Serialize;

use crate::{BadInput, load_case};

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// A MATPOWER case file.
    case: PathBuf,
    /// Dynamics sidecar (TOML). Default: CASE with `.dyn.toml` in place of `.m`, if present.
    #[arg(long)]
    dynamics: Option<PathBuf>,
    /// Simulated duration, e.g. `60s`, `500ms`, `10min`.
    #[arg(long = "for", value_parser = SimTime::parse_duration, default_value = "60s")]
    duration: SimTime,
    /// Step between observations, e.g. `100ms`.
    #[arg(long, value_parser = SimTime::parse_duration, default_value = "100ms")]
    step: SimTime,
    /// A timed command: `2s open branch 12`, `5s open gen 3`, `20s close branch 12`,
    /// `1s open load 5`, `0s protection off branch 7`, `3s setpoint gen 2 150`. Repeatable.
    #[arg(long = "at", value_parser = parse_timed)]
    at: Vec<(SimTime, Command)>,
    /// Write the time series here (CSV).
    #[arg(long)]
    series: Option<PathBuf>,
    /// Write the events here (JSON lines).
    #[arg(long)]
    events: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct BenchSimArgs {
    #[arg(required = true)]
    cases: Vec<PathBuf>,
    /// Simulated duration per run.
    #[arg(long = "for", value_parser = SimTime::parse_duration, default_value = "60s")]
    duration: SimTime,
    #[arg(long, value_parser = SimTime::parse_duration, default_value = "100ms")]
    step: SimTime,
    /// Power flow interval (overrides the sidecar).
    #[arg(long, value_parser = SimTime::parse_duration, default_value = "1s")]
    pf_every: SimTime,
    /// Timed commands, as for `icsrange sim`. Default: the largest unit trips at 5 s, and
    /// every 10 s from 10 s on the most loaded branch still in service opens.
    #[arg(long = "at", value_parser = parse_timed)]
    at: Vec<(SimTime, Command)>,
}

/// The benchmark's default disturbances (see `BenchSimArgs::at`).
fn default_disturbances(sim: &Sim, duration: SimTime) -> Vec<(SimTime, Command)> {
    let case = sim.case();
    let mut out = Vec::new();
    if let Some(g) = (0..case.gens.len()).max_by(|&a, &b| case.gens[a].pg_mw.total_cmp(&case.gens[b].pg_mw)) {
        out.push((SimTime::from_secs(5.0), Command::Open(Element::Gen(g as u32 + 1))));
    }
    let flows = &sim.power_flow_solution().branches;
    let mut order: Vec<usize> = (0..flows.len()).collect();
    order.sort_by(|&a, &b| flows[b].pf_mw.abs().total_cmp(&flows[a].pf_mw.abs()).then(a.cmp(&b)));
    let mut t = 10.0;
    for k in order {
        if SimTime::from_secs(t) >= duration {
            break;
        }
        out.push((SimTime::from_secs(t), Command::Open(Element::Branch(k as u32 + 1))));
        t += 10.0;
    }
    out
}

/// `2s open branch 12`.
fn parse_timed(s: &str) -> Result<(SimTime, Command), String> {
    let s = s.trim();
    let (t, cmd) =
        s.split_once(char::is_whitespace).ok_or_else(|| format!("expected `TIME COMMAND`, found `{s}`"))?;
    let t = SimTime::parse_duration(t).map_err(|e| e.to_string())?;
    Ok((t, cmd.parse::<Command>().map_err(|e| e.to_string())?))
}

pub(crate) fn load_dynamics(
    case_path: &Path,
    explicit: Option<&Path>,
    case: &gridsim::Case,
) -> anyhow::Result<Dynamics> {
    let implicit = case_path.with_extension("dyn.toml");
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None if implicit.is_file() => implicit,
        None => return Ok(Dynamics::defaults(case)),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| BadInput(format!("{}: cannot read: {e}", path.display())))?;
    Dynamics::from_toml(case, &text).map_err(|errs| {
        let lines: Vec<String> = errs
            .0
            .iter()
            .map(|e| format!("{}:{}:{}: {}", path.display(), e.line, e.col, e.message))
            .collect();
        BadInput(lines.join("\nerror: ")).into()
    })
}

fn new_sim(path: &Path, dynamics: Option<&Path>) -> anyhow::Result<Sim> {
    let case = load_case(path)?;
    let dynamics = load_dynamics(path, dynamics, &case)?;
    Sim::new(case, dynamics).map_err(|e| BadInput(format!("{}: {e}", path.display())).into())
}

/// Runs `sim` to `end`, applying `commands` at their times and calling `each_step` after
/// every step (and once at the start).
fn drive(
    sim: &mut Sim,
    end: SimTime,
    step: SimTime,
    commands: &[(SimTime, Command)],
    mut each_step: impl FnMut(&mut Sim) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut commands: Vec<&(SimTime, Command)> = commands.iter().collect();
    commands.sort_by_key(|(t, _)| *t);
    let mut next_cmd = 0;
    let step = step.0.max(1);
    let mut next_obs = SimTime(0);
    loop {
        while let Some((t, cmd)) = commands.get(next_cmd).filter(|(t, _)| *t <= sim.time()) {
            let _ = t;
            sim.apply(cmd).map_err(|e| BadInput(format!("at {}: {cmd}: {e}", sim.time())))?;
            next_cmd += 1;
        }
        if sim.time() >= next_obs {
            each_step(sim)?;
            next_obs = SimTime(next_obs.0 + step);
        }
        if sim.time() >= end {
            return Ok(());
        }
        let mut to = next_obs.min(end);
        if let Some((t, _)) = commands.get(next_cmd) {
            to = to.min(*t);
        }
        sim.step(SimTime(to.0 - sim.time().0));
    }
}

pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let mut sim = new_sim(&args.case, args.dynamics.as_deref())?;
    // Check every command's element before running: a typo should not surface after a minute.
    for (_, cmd) in &args.at {
        sim.validate(cmd).map_err(|e| BadInput(format!("--at {cmd}: {e}")))?;
    }
    let create = |p: &Path| -> anyhow::Result<BufWriter<File>> {
        Ok(BufWriter::new(
            File::create(p).map_err(|e| BadInput(format!("{}: cannot create: {e}", p.display())))?,
        ))
    };
    let mut series = args.series.as_deref().map(create).transpose()?;
    let mut events = args.events.as_deref().map(create).transpose()?;
    if let Some(w) = &mut series {
        writeln!(w, "{}", SERIES_HEADER)?;
    }
    let mut n_events = 0usize;
    let started = Instant::now();
    drive(&mut sim, args.duration, args.step, &args.at, |sim| {
        for ev in sim.take_events() {
            n_events += 1;
            if let Some(w) = &mut events {
                writeln!(w, "{}", serde_json::to_string(&EventLine::from(&ev))?)?;
            }
        }
        if let Some(w) = &mut series {
            write_row(w, &sim.observe())?;
        }
        Ok(())
    })?;
    if let Some(mut w) = series {
        w.flush().context("writing the series")?;
    }
    if let Some(mut w) = events {
        w.flush().context("writing the events")?;
    }
    let wall = started.elapsed().as_secs_f64();
    let obs = sim.observe();
    let stats = sim.stats();
    out!("simulated   {:.3} s in {:.3} s wall", obs.t.secs(), wall);
    out!(
        "frequency   {:.4} Hz now, nadir {:.4} Hz, zenith {:.4} Hz",
        obs.f_hz,
        obs.total.nadir_hz,
        obs.total.zenith_hz
    );
    out!(
        "served      {:.3} of {:.3} MW ({:.3} MW unserved)",
        obs.total.served_mw,
        obs.total.demand_mw,
        obs.total.unserved_mw
    );
    out!("not served  {:.4} MWh", obs.total.ens_mwh);
    out!("customers   {} of {} without supply", obs.total.customers_off, obs.total.customers);
    let live = obs.islands.iter().filter(|i| i.energised).count();
    out!("islands     {} energised, {} dead", live, obs.islands.len() - live);
    for isl in obs.islands.iter().filter(|i| i.energised).take(5) {
        out!(
            "  island {:<5} {:>5} buses  {:.4} Hz  {:.1} MW generated  {:.1} MW served",
            isl.name.to_string(),
            isl.buses,
            isl.f_hz,
            isl.gen_mw,
            isl.served_mw
        );
    }
    out!("events      {n_events}");
    out!(
        "work        {} power flows, {} Newton iterations, {} topology analyses",
        stats.power_flows,
        stats.newton_iterations,
        stats.topology_analyses
    );
    Ok(ExitCode::SUCCESS)
}

const SERIES_HEADER: &str =
    "t_s,f_hz,rocof_hz_s,served_mw,unserved_mw,ens_mwh,customers_off,gen_mw,losses_mw,islands,nadir_hz";

fn write_row(w: &mut impl Write, o: &Observation) -> std::io::Result<()> {
    let live = o.islands.iter().filter(|i| i.energised).count();
    writeln!(
        w,
        "{:.3},{:.6},{:.6},{:.3},{:.3},{:.6},{},{:.3},{:.3},{},{:.6}",
        o.t.secs(),
        o.f_hz,
        o.rocof_hz_s,
        o.total.served_mw,
        o.total.unserved_mw,
        o.total.ens_mwh,
        o.total.customers_off,
        o.gen_mw,
        o.losses_mw,
        live,
        o.total.nadir_hz
    )
}

/// One line of the events file.
#[derive(Serialize)]
struct EventLine {
    t_s: f64,
    kind: &'static str,
    element: String,
    cause: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    curve: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multiple: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    f_hz: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mw: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buses: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parts: Option<u32>,
}

fn round(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    // `+ 0.0` turns −0 (an empty f64 sum) into 0.
    (v * s).round() / s + 0.0
}

impl From<&Event> for EventLine {
    fn from(ev: &Event) -> EventLine {
        let mut line = EventLine {
            t_s: round(ev.t.secs(), 6),
            kind: ev.kind.as_str(),
            element: ev.element.to_string(),
            cause: ev.cause.as_str(),
            by: None,
            curve: None,
            tms: None,
            multiple: None,
            f_hz: None,
            stage: None,
            mw: ev.mw.map(|v| round(v, 3)),
            customers: ev.customers,
            buses: ev.buses,
            parts: ev.parts,
        };
        match ev.cause {
            Cause::Overcurrent { curve, tms, multiple } => {
                line.by = Some(format!("overcurrent relay of {}", ev.element));
                line.curve = Some(curve.name());
                line.tms = Some(tms);
                line.multiple = Some(round(multiple, 4));
            }
            Cause::Instantaneous { multiple } => {
                line.by = Some(format!("instantaneous element of {}", ev.element));
                line.multiple = Some(round(multiple, 4));
            }
            Cause::UnderFrequency { f_hz } | Cause::OverFrequency { f_hz } => {
                line.f_hz = Some(round(f_hz, 4))
            }
            Cause::Ufls { stage, f_hz } => {
                line.stage = Some(stage);
                line.f_hz = Some(round(f_hz, 4));
            }
            Cause::Switching(el) => line.by = Some(el.to_string()),
            Cause::Command | Cause::VoltageCollapse => {}
        }
        line
    }
}

pub fn bench(args: &BenchSimArgs) -> anyhow::Result<ExitCode> {
    out!(
        "{:<20} {:>6} {:>8} {:>8} {:>10} {:>12} {:>8} {:>8} {:>8} {:>8}",
        "case",
        "buses",
        "sim_s",
        "wall_s",
        "sim_per_s",
        "core_at_1x",
        "pf_runs",
        "nr_iter",
        "topo",
        "events"
    );
    for path in &args.cases {
        let name =
            path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into());
        // The interval is a sidecar setting; rebuild with the benchmark's.
        let case = load_case(path)?;
        let mut dynamics = load_dynamics(path, None, &case)?;
        dynamics.pf_interval_s = args.pf_every.secs();
        let mut sim = Sim::new(case, dynamics).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
        let at = if args.at.is_empty() { default_disturbances(&sim, args.duration) } else { args.at.clone() };
        let mut events = 0;
        let started = Instant::now();
        drive(&mut sim, args.duration, args.step, &at, |sim| {
            std::hint::black_box(sim.observe());
            events += sim.take_events().len();
            Ok(())
        })?;
        let wall = started.elapsed().as_secs_f64();
        let stats = sim.stats();
        let simulated = sim.time().secs();
        out!(
            "{:<20} {:>6} {:>8.1} {:>8.3} {:>10.1} {:>11.2}% {:>8} {:>8} {:>8} {:>8}",
            name,
            sim.case().buses.len(),
            simulated,
            wall,
            simulated / wall,
            100.0 * wall / simulated,
            stats.power_flows,
            stats.newton_iterations,
            stats.topology_analyses,
            events
        );
    }
    Ok(ExitCode::SUCCESS)
}
