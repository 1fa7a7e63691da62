//! The `icsrange` binary: command-line parsing and wiring; no simulation logic lives here.
//!
//! Exit codes are a contract other tools rely on: 0 success, 1 the power flow did not
//! converge (results still printed), 2 bad input (one line on stderr naming file, line and
//! column).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gridsim::pf::{self, PfError, PfOptions, PfSolution, PfWorkspace, QLimits, Start};

mod dto;

/// `println!` without the panic on a closed pipe (`icsrange pf c.m --json | head -c1`): a
/// reader that goes away early must not turn a converged solve into a crash.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod bench_iec104;
mod bench_live;
mod bench_modbus;
mod bench_pipe;
mod bench_platform;
mod devices_cmd;
mod live_cmd;
mod report_cmd;
mod run_cmd;
mod serve_cmd;
mod sim;

#[derive(Debug, Parser)]
#[command(name = "icsrange", version, about = "A cyber range for power-grid and pipeline defenders")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Solve the AC power flow of a MATPOWER case.
    Pf(PfArgs),
    /// Run the grid's dynamics (breakers, frequency, protection, load shedding) over time.
    Sim(sim::SimArgs),
    /// Run a grid with its field devices on real sockets, in real time, until interrupted.
    Devices(devices_cmd::DevicesArgs),
    /// Check an exercise file: every problem at once, with line and column (exit 2).
    Validate(run_cmd::ValidateArgs),
    /// Run an exercise headless: journal, capture, alerts and score into a folder.
    Run(run_cmd::RunArgs),
    /// Run an exercise in real time on real sockets (its campaign, the IDS, the journal);
    /// Ctrl-C stops it and writes the same files as `run`.
    Live(live_cmd::LiveArgs),
    /// Replay a run directory from its journal's inputs and report whether it reproduces.
    Replay(live_cmd::ReplayArgs),
    /// The after-action report of run directories (one team each): self-contained HTML
    /// with plots, or JSON.
    Report(report_cmd::ReportArgs),
    /// The training platform: web pages, API, one live range per team.
    Serve(serve_cmd::ServeArgs),
    /// The platform on an embedded database with one run of Ukraine 2015 (two teams)
    /// started; prints the URL and the accounts' passwords.
    Demo(serve_cmd::DemoArgs),
    /// Platform administration.
    #[command(subcommand)]
    Admin(serve_cmd::AdminCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, clap::Args)]
struct PfArgs {
    /// A MATPOWER case file (format version 2).
    case: PathBuf,
    /// Where Newton-Raphson starts.
    #[arg(long, value_enum, default_value_t = StartArg::Flat)]
    start: StartArg,
    /// Convergence tolerance on the largest P/Q mismatch, p.u.
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// Newton iteration limit.
    #[arg(long, default_value_t = 20)]
    max_iter: u32,
    /// Enforce generator reactive limits (PV buses become PQ at their limit).
    #[arg(long)]
    q_limits: bool,
    /// Print one JSON object to stdout instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StartArg {
    Flat,
    Case,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Time flat-start power flows: with topology caches kept, and from scratch.
    Pf {
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        /// Timed runs per case (after two warm-up runs).
        #[arg(long, default_value_t = 15)]
        runs: usize,
    },
    /// Simulated seconds per wall-clock second of `icsrange sim` runs.
    Sim(sim::BenchSimArgs),
    /// Modbus/TCP load: concurrent connections reading holding registers.
    Modbus(bench_modbus::BenchModbusArgs),
    /// IEC 104: time a general interrogation of many points, act to ActTerm.
    Iec104(bench_iec104::BenchIec104Args),
    /// CPU of live ranges (drivers paced against the wall clock) in one process.
    Live(bench_live::BenchLiveArgs),
    /// The training platform: N team ranges at 1x and M WebSocket HMI clients.
    Platform(bench_platform::BenchPlatformArgs),
    /// Simulated seconds per wall-clock second of a pipeline's transients (MOC).
    Pipe(bench_pipe::BenchPipeArgs),
}

/// Bad input: reported on one line, exit code 2.
#[derive(Debug)]
struct BadInput(String);

/// The log of a running range (connections refused or closed, and why) on stderr, at
/// `ICSRANGE_LOG` (default `info`).
fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ICSRANGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `--base`: a range's address block, a /16 on loopback (127.N.0.0).
fn parse_base(s: &str) -> Result<std::net::Ipv4Addr, String> {
    let addr: std::net::Ipv4Addr = s.parse().map_err(|e| format!("`{s}`: {e}"))?;
    range::check_base(addr).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if let Some(BadInput(msg)) = err.downcast_ref::<BadInput>() {
                eprintln!("error: {msg}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {err:#}");
                ExitCode::from(2)
            }
        }
    }
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Pf(args) => run_pf(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Devices(args) => devices_cmd::run(&args),
        Command::Validate(args) => run_cmd::validate(&args),
        Command::Run(args) => run_cmd::run(&args),
        Command::Live(args) => live_cmd::live(&args),
        Command::Replay(args) => live_cmd::replay(&args),
        Command::Report(args) => report_cmd::report(&args),
        Command::Serve(args) => serve_cmd::serve(&args),
        Command::Demo(args) => serve_cmd::demo(&args),
        Command::Admin(cmd) => serve_cmd::admin(&cmd),
        Command::Bench(BenchCommand::Pf { cases, runs }) => run_bench_pf(&cases, runs.max(1)),
        Command::Bench(BenchCommand::Sim(args)) => sim::bench(&args),
        Command::Bench(BenchCommand::Modbus(args)) => bench_modbus::run(&args),
        Command::Bench(BenchCommand::Iec104(args)) => bench_iec104::run(&args),
        Command::Bench(BenchCommand::Live(args)) => bench_live::run(&args),
        Command::Bench(BenchCommand::Platform(args)) => bench_platform::run(&args),
        Command::Bench(BenchCommand::Pipe(args)) => bench_pipe::run(&args),
    }
}

fn load_case(path: &Path) -> anyhow::Result<gridsim::Case> {
    let bytes = std::fs::read(path).map_err(|e| BadInput(format!("{}: cannot read: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    gridsim::matpower::parse(&text).map_err(|e| {
        anyhow::Error::new(BadInput(format!("{}:{}:{}: {}", path.display(), e.pos.line, e.pos.col, e.kind)))
    })
}

fn run_pf(args: &PfArgs) -> anyhow::Result<ExitCode> {
    if !(args.tol.is_finite() && args.tol > 0.0) {
        return Err(BadInput(format!("--tol must be a positive number, not {}", args.tol)).into());
    }
    let case = load_case(&args.case)?;
    let opts = PfOptions {
        tol_pu: args.tol,
        max_iter: args.max_iter,
        start: match args.start {
            StartArg::Flat => Start::Flat,
            StartArg::Case => Start::Case,
        },
        q_limits: if args.q_limits { QLimits::Enforce } else { QLimits::Ignore },
        damped: false,
    };
    let started = Instant::now();
    let outcome = pf::solve(&case, &mut PfWorkspace::new(), &opts);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    let (sol, failure) = match outcome {
        Ok(sol) => (sol, None),
        Err(PfError::NotConverged { iterations, mismatch_pu, bus, last }) => {
            (*last, Some((iterations, mismatch_pu, bus)))
        }
    };
    if args.json {
        let out = dto::PfJson::new(&case, &sol, failure.map(|f| (f.1, f.2)));
        let text = serde_json::to_string(&out).context("serialising the result")?;
        out!("{text}");
    } else {
        print_summary(&args.case, &case, &sol, elapsed_ms);
    }
    if let Some((iterations, mismatch_pu, bus)) = failure {
        eprintln!(
            "error: no convergence after {iterations} iterations: mismatch {mismatch_pu:.1e} p.u. at bus {bus}"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(path: &Path, case: &gridsim::Case, sol: &PfSolution, elapsed_ms: f64) {
    let live = || sol.vm_pu.iter().copied().filter(|&v| v > 0.0);
    let vmin = live().fold(f64::INFINITY, f64::min);
    let vmax = live().fold(f64::NEG_INFINITY, f64::max);
    let dead: usize = sol.islands.iter().filter(|i| i.reference.is_none()).map(|i| i.buses.len()).sum();
    out!("case        {}", path.display());
    out!("buses       {}", case.buses.len());
    out!("branches    {}", case.branches.len());
    out!("generators  {}", case.gens.len());
    out!("islands     {} ({dead} buses de-energised)", sol.islands.len());
    out!("iterations  {}", sol.iterations);
    out!("mismatch    {:.2e} p.u.", sol.max_mismatch_pu);
    out!("time        {elapsed_ms:.3} ms");
    out!("losses      {:.3} MW, {:.3} MVAr", sol.losses_mw, sol.losses_mvar);
    out!("slack       {:.3} MW", sol.slack_p_mw());
    if vmin.is_finite() {
        out!("|V| min/max {vmin:.4} / {vmax:.4} p.u.");
    }
}

fn run_bench_pf(paths: &[PathBuf], runs: usize) -> anyhow::Result<ExitCode> {
    let opts = PfOptions { tol_pu: 1e-8, max_iter: 30, start: Start::Flat, ..PfOptions::default() };
    out!(
        "{:<18} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "case",
        "buses",
        "branches",
        "iterations",
        "median_ms",
        "cold_ms",
        "lu_blocks",
        "block_flops"
    );
    let mut code = ExitCode::SUCCESS;
    for path in paths {
        let case = load_case(path)?;
        let name =
            path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into());
        let mut ws = PfWorkspace::new();
        let mut iterations = 0;
        let mut solve = |ws: &mut PfWorkspace| -> Result<f64, PfError> {
            let t = Instant::now();
            let sol = pf::solve(&case, ws, &opts)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            iterations = sol.iterations;
            std::hint::black_box(sol);
            Ok(ms)
        };
        let timed = |solve: &mut dyn FnMut(&mut PfWorkspace) -> Result<f64, PfError>,
                     ws: &mut PfWorkspace,
                     cold: bool|
         -> Result<f64, PfError> {
            let mut times = Vec::with_capacity(runs);
            for k in 0..runs + 2 {
                if cold {
                    ws.clear();
                }
                let ms = solve(ws)?;
                if k >= 2 {
                    times.push(ms);
                }
            }
            Ok(median(&mut times))
        };
        match timed(&mut solve, &mut ws, false).and_then(|warm| Ok((warm, timed(&mut solve, &mut ws, true)?)))
        {
            Ok((warm_ms, cold_ms)) => {
                // Fill of the factorisation: 2x2 blocks in L and U, multiply-adds per refactor.
                let (lu_blocks, block_flops) = ws.factor_stats().unwrap_or((0, 0));
                out!(
                    "{:<18} {:>6} {:>8} {:>10} {:>10.4} {:>10.4} {:>10} {:>12}",
                    name,
                    case.buses.len(),
                    case.branches.len(),
                    iterations,
                    warm_ms,
                    cold_ms,
                    lu_blocks,
                    block_flops
                );
            }
            Err(e) => {
                eprintln!("error: {name}: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    Ok(code)
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n % 2 == 1 { times[n / 2] } else { 0.5 * (times[n / 2 - 1] + times[n / 2]) }
}
