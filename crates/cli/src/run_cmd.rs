//! `icsrange validate` and `icsrange run`: exercises as code, headless.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use exercise::Exercise;
use netio::capture::{Capture, Flow};
use netio::files::{Folder, read_text};
use range::{Range, RunConfig};

use crate::BadInput;

/// The exercise text and where it came from: a built-in name or a file (whose folder is the
/// only place the grid it names is read from).
fn read_exercise(arg: &str) -> anyhow::Result<(String, String, Folder)> {
    if let Some(text) = exercise::catalogue::exercise(arg) {
        return Ok((format!("(built-in) {arg}"), text.to_string(), Folder::builtin()));
    }
    let path = Path::new(arg);
    let text = read_text(path, exercise::yaml::MAX_BYTES as u64).map_err(|e| BadInput(e.to_string()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((arg.to_string(), text, Folder::new(&dir)))
}

/// A loaded exercise with its grids and display name; or the name and every problem.
type Loaded = Result<(Exercise, Folder, String), (String, Vec<exercise::Diagnostic>)>;

fn load(arg: &str) -> anyhow::Result<Loaded> {
    let (name, text, grids) = read_exercise(arg)?;
    Ok(match exercise::load(&text, &grids) {
        Ok(ex) => Ok((ex, grids, name)),
        Err(diags) => Err((name, diags)),
    })
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// An exercise file (or the name of a built-in exercise).
    file: String,
}

pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    match load(&args.file)? {
        Ok((ex, _, _)) => {
            let wire = ex.attack.iter().filter(|s| s.action.on_wire()).count();
            out!(
                "{}: valid: `{}` on {}, {} attack steps ({wire} on the wire), {} injects, {} questions, defenders: {}",
                args.file,
                ex.id,
                ex.grid,
                ex.attack.len(),
                ex.injects.len(),
                ex.questions.len(),
                if ex.defenders.is_empty() {
                    "none".to_string()
                } else {
                    ex.defenders.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err((name, diags)) => {
            for d in &diags {
                eprintln!("{name}:{}:{}: {}", d.line, d.col, d.message);
            }
            eprintln!("{name}: {} problem{}", diags.len(), if diags.len() == 1 { "" } else { "s" });
            Ok(ExitCode::from(2))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Max,
    Times(f64),
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.strip_suffix('x').and_then(|n| n.parse::<f64>().ok()) {
        Some(n) if n > 0.0 && n.is_finite() => Ok(Speed::Times(n)),
        _ => Err(format!("`{s}`: max, or a factor such as 1x or 10x")),
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// An exercise file (or the name of a built-in exercise: ukraine2015, industroyer2016,
    /// industroyer2022, colonial2021, triton2017, triton2017-trip).
    file: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// max (as fast as possible), or a factor of real time: 1x, 10x.
    #[arg(long, value_parser = parse_speed, default_value = "max")]
    speed: Speed,
    /// none, a defender of the exercise, or a defender file (`rules: [...]`).
    #[arg(long, default_value = "none")]
    defender: String,
    /// Where journal.jsonl, capture.pcap, alerts.jsonl and score.json go (the instructors'
    /// record), and evidence/ (what the trainees could have seen: the capture, alerts, IT
    /// logs, the HMI's journal, SCADA point history, supply, injects; nothing attributes).
    #[arg(long, default_value = "run")]
    out: PathBuf,
    /// Also check the exercise's `expect` blocks for this defender (exit 1 when one fails).
    #[arg(long)]
    check: bool,
    /// The team's address block in 127.0.0.0/8.
    #[arg(long, default_value = "127.10.0.0", value_parser = crate::parse_base)]
    base: std::net::Ipv4Addr,
    /// loopback: every frame of the run also crosses a real TCP connection on loopback, from
    /// the sender's own address to the device's (a sniffer on `lo` sees the run); none: the
    /// capture only.
    #[arg(long, value_enum, default_value_t = WireMode::Loopback)]
    wire: WireMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WireMode {
    Loopback,
    None,
}

/// A whole run without files: for expectations that compare with another defender's run.
fn run_quiet(ex: &Exercise, grids: &Folder, defender: &str, seed: u64) -> anyhow::Result<Range> {
    let cfg = RunConfig::for_defender(ex, seed, defender).map_err(|e| BadInput(e.to_string()))?;
    let mut r =
        range::Setup { exercise: ex.clone(), grids, cfg }.build().map_err(|e| BadInput(e.to_string()))?;
    r.run_to_end();
    Ok(r)
}

/// An exercise ready to run: loaded, its grid built, its defender resolved.
pub struct Prepared {
    pub ex: Exercise,
    pub name: String,
    pub defender: String,
    pub range: Range,
    grids: Folder,
}

/// Loads an exercise and builds its range for `defender` (none, a defender of the exercise,
/// or a defender file); `setup` adjusts the run's configuration (address block, epoch,
/// campaign). `Err(code)`: the problems were printed, exit with it.
pub fn prepare(
    file: &str,
    defender: &str,
    seed: u64,
    setup: impl FnOnce(&mut RunConfig),
) -> anyhow::Result<Result<Prepared, ExitCode>> {
    let (ex, grids, name) = match load(file)? {
        Ok(x) => x,
        Err((name, diags)) => {
            for d in &diags {
                eprintln!("{name}:{}:{}: {}", d.line, d.col, d.message);
            }
            return Ok(Err(ExitCode::from(2)));
        }
    };
    let mut cfg = match RunConfig::for_defender(&ex, seed, defender) {
        Ok(cfg) => cfg,
        Err(range::Error::NoDefender(_)) => {
            let text = read_text(Path::new(defender), exercise::yaml::MAX_BYTES as u64).map_err(|e| {
                BadInput(format!("--defender {defender}: not a defender of the exercise, and {e}"))
            })?;
            let grid = exercise::build_grid(&grids, &ex.grid).map_err(|e| BadInput(e.to_string()))?;
            match exercise::load_defender(&text, &ex, &grid) {
                Ok(rules) => RunConfig::new(seed, defender, rules),
                Err(diags) => {
                    for d in &diags {
                        eprintln!("{defender}:{}:{}: {}", d.line, d.col, d.message);
                    }
                    return Ok(Err(ExitCode::from(2)));
                }
            }
        }
        Err(e) => return Err(BadInput(e.to_string()).into()),
    };
    setup(&mut cfg);
    let defender = cfg.defender.clone();
    let range = range::Setup { exercise: ex.clone(), grids: &grids, cfg }
        .build()
        .map_err(|e| BadInput(e.to_string()))?;
    Ok(Ok(Prepared { ex, name, defender, range, grids }))
}

/// Plays an exercise headless and writes its files into `--out`.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let Prepared { ex, name, defender, mut range, grids } =
        match prepare(&args.file, &args.defender, args.seed, |cfg| cfg.base = args.base)? {
            Ok(p) => p,
            Err(code) => return Ok(code),
        };
    std::fs::create_dir_all(&args.out).map_err(|e| BadInput(format!("{}: {e}", args.out.display())))?;
    let capture = Arc::new(
        Capture::create(&args.out.join("capture.pcap"))
            .map_err(|e| BadInput(format!("{}: {e}", args.out.display())))?,
    );
    let started = Instant::now();
    let mut flows: BTreeMap<u32, Flow> = BTreeMap::new();
    let total = ex.duration;
    let mut last_shown = Instant::now() - Duration::from_secs(1);
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut carrier = netio::carrier::Carrier::default();
    // A carrier that fails stops carrying; the run itself goes on to the end and its files
    // are written before the failure is reported (nothing recorded is lost).
    let mut carry_failed = None;
    // The SCADA master's point history for the evidence view, every 10 simulated seconds.
    let mut history = netio::evidence::PointHistory::default();
    let mut next_sample = gridsim::sim::SimTime(0);
    while !range.is_finished() {
        range.step();
        if range.time() >= next_sample || range.is_finished() {
            history.sample(&range);
            next_sample = gridsim::sim::SimTime(range.time().0.saturating_add(10_000_000));
        }
        let wire = range.take_wire();
        if args.wire == WireMode::Loopback && carry_failed.is_none() {
            for w in &wire {
                if let Err(e) = carrier.carry(w) {
                    carry_failed = Some(e);
                    break;
                }
            }
        }
        netio::driver::write_wire(&capture, &mut flows, wire);
        let _ = std::io::stderr().flush();
        if let Speed::Times(k) = args.speed {
            let due = Duration::from_secs_f64(range.time().secs() / k);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if last_shown.elapsed() >= Duration::from_millis(200) || range.is_finished() {
            last_shown = Instant::now();
            let frac = (range.time().secs() / total.secs().max(1e-9)).clamp(0.0, 1.0);
            let filled = (frac * 30.0).round() as usize;
            let off = range.sim().observe().total.customers_off;
            let line = format!(
                "[{}{}] {:>3.0}%  t = {}  customers off {off}  packets {}",
                "#".repeat(filled),
                " ".repeat(30 - filled),
                frac * 100.0,
                range.time(),
                range.packets()
            );
            if tty {
                eprint!("\r{line}");
            } else if range.is_finished() {
                eprintln!("{line}");
            }
        }
    }
    if tty {
        eprintln!();
    }
    // The journal first: whatever fails after, the run's record is there.
    let score = netio::files::write_run(&args.out, &ex, &range)?;
    capture.finish()?;
    // What the trainees could have seen, capture included; nothing in it attributes.
    let evidence = args.out.join("evidence");
    netio::evidence::write(&evidence, &range, &history)?;
    netio::files::copy_atomic(&args.out.join("capture.pcap"), &evidence, "capture.pcap")?;
    let journal = range.journal();
    let alerts = journal.iter().filter(|e| matches!(e, range::Entry::Alert { .. })).count();
    out!(
        "{name}: defender {defender}, seed {}: score {:.2}, customers off at the peak {}, {:.3} MWh not served, {} alerts, {} packets, {:.1} s",
        args.seed,
        score.total,
        score.customers_off_peak,
        score.ens_mwh,
        alerts,
        capture.packets(),
        started.elapsed().as_secs_f64()
    );
    if args.wire == WireMode::Loopback && carry_failed.is_none() {
        out!(
            "{} bytes crossed loopback on {} device listeners, every one as sent{}",
            carrier.bytes,
            carrier.listeners.len(),
            match carrier.strangers {
                0 => String::new(),
                n => format!(" ({n} connections from outside the run closed)"),
            }
        );
    }
    out!(
        "wrote {}/{{journal.jsonl, capture.pcap, alerts.jsonl, score.json}} and the trainees' evidence/",
        args.out.display()
    );
    if let Some(e) = carry_failed {
        return Err(BadInput(format!("carrying the run over loopback: {e} (--wire none skips it)")).into());
    }
    if !args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for expect in ex.expect.iter().filter(|e| e.defender == defender) {
        let mut others = BTreeMap::new();
        if let Some(other) = &expect.score_above {
            let r = run_quiet(&ex, &grids, other, args.seed)?;
            others.insert(other.clone(), range::score::score(&ex, r.journal()).total);
        }
        let fails = range::score::check(&ex, expect, journal, &score, &others);
        if fails.is_empty() {
            out!("expect (defender {defender}): holds");
        }
        for f in fails {
            failed = true;
            out!("expect (defender {defender}): FAILED: {f}");
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
