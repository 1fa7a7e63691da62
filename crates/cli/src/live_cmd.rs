//! `icsrange live` (an exercise in real time on real sockets) and `icsrange replay` (a run
//! directory rebuilt from its journal's inputs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use netio::capture::Capture;
use netio::driver::{self, Pace};
use range::Entry;
use tokio::signal::unix::{SignalKind, signal};

use crate::BadInput;
use crate::run_cmd::{Prepared, prepare};

#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// An exercise file (or the name of a built-in exercise: ukraine2015, industroyer2016,
    /// industroyer2022, colonial2021, triton2017, triton2017-trip).
    file: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A factor of real time (1x, 10x, 60x) or max [default: the exercise's
    /// `time_compression`, 1x when it has none].
    #[arg(long, value_parser = Pace::parse)]
    speed: Option<Pace>,
    /// none, a defender of the exercise, or a defender file (`rules: [...]`).
    #[arg(long, default_value = "none")]
    defender: String,
    /// Where journal.jsonl, capture.pcap, alerts.jsonl and score.json go when it stops.
    #[arg(long, default_value = "run")]
    out: PathBuf,
    /// The team's address block in 127.0.0.0/8.
    #[arg(long, default_value = "127.10.0.0", value_parser = crate::parse_base)]
    base: std::net::Ipv4Addr,
}

pub fn live(args: &LiveArgs) -> anyhow::Result<ExitCode> {
    let start_ms_since_2000 = wall_clock_ms_since_2000();
    let setup = |cfg: &mut range::RunConfig| {
        cfg.base = args.base;
        cfg.start_ms_since_2000 = start_ms_since_2000;
    };
    let Prepared { ex, name, defender, range, .. } =
        match prepare(&args.file, &args.defender, args.seed, setup)? {
            Ok(p) => p,
            Err(code) => return Ok(code),
        };
    crate::init_log();
    let speed = args.speed.unwrap_or(Pace::Times(ex.time_compression));
    std::fs::create_dir_all(&args.out).map_err(|e| BadInput(format!("{}: {e}", args.out.display())))?;
    let capture = Arc::new(
        Capture::create(&args.out.join("capture.pcap"))
            .map_err(|e| BadInput(format!("{}: {e}", args.out.display())))?,
    );
    // One range, one thread: its connections and its driver take the range's lock without
    // ever contending for it (measured: two workers contending cost more than they gain).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let range = rt.block_on(async {
        let services = netio::live::services(&range);
        let (handle, mut task) = driver::spawn(range, speed, false, Some(capture.clone()));
        let mut entries = handle.entries();
        let listeners = netio::live::listen(&handle, &services).await?;
        let fallback = listeners.iter().filter(|l| l.local.port() != l.device.port()).count();
        out!(
            "{name}: defender {defender}, seed {}, {:?}: {} device services listening{}; Ctrl-C stops and writes {}",
            args.seed,
            speed,
            listeners.len(),
            if fallback > 0 { format!(" ({fallback} on their port + 10000)") } else { String::new() },
            args.out.display()
        );
        // SIGINT or SIGTERM stops the run and writes its files. The signal streams are made
        // once, before `ready` and the loop: a future made anew on each turn would miss a
        // signal that arrives while the loop prints (under load, most of the time).
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        out!("ready");
        let mut printing = true;
        let range = loop {
            tokio::select! {
                batch = entries.recv(), if printing => match batch {
                    Ok(batch) => {
                        for e in batch.iter() {
                            if let Entry::Alert { alert } = e {
                                out!("{} alert {} {} -> {}: {}", alert.t, alert.rule, alert.src, alert.dst, alert.message);
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("(printing fell {n} journal batches behind)");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => printing = false,
                },
                _ = int.recv() => break handle.stop().await,
                _ = term.recv() => break handle.stop().await,
                done = &mut task => break done.ok().flatten(),
            }
        };
        anyhow::Ok(range)
    })?;
    let Some(range) = range else {
        return Err(anyhow::anyhow!("the range stopped without handing its state back"));
    };
    // The journal first: whatever fails after, the run's record is there.
    let score = netio::files::write_run(&args.out, &ex, &range)?;
    capture.finish()?;
    out!(
        "{name}: stopped at t = {}: score {:.2}, customers off at the peak {}, {} packets; wrote {}/{{journal.jsonl, capture.pcap, alerts.jsonl, score.json}}",
        range.time(),
        score.total,
        score.customers_off_peak,
        range.packets(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The wall clock now, in milliseconds since 2000-01-01 UTC: a live run's devices start
/// their clocks there (the start entry keeps it, so a replay gives the same time tags).
pub fn wall_clock_ms_since_2000() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(devices::recloser::DNP3_EPOCH_OFFSET_MS)
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A run directory (journal.jsonl, and score.json and capture.pcap to compare with).
    dir: PathBuf,
    /// The exercise file, when the run's exercise is not built in.
    #[arg(long)]
    exercise: Option<String>,
}

/// The range of a recorded run, ready to replay its inputs: its exercise (`exercise`, or the
/// built-in one the journal names), seed, defender, address block and clock. The exercise
/// must be the one the journal names. `Err(code)`: the problems were printed.
pub fn prepare_recorded(
    start: &journal_format::StartInfo,
    exercise: Option<&str>,
    journal: &std::path::Path,
) -> anyhow::Result<Result<Prepared, ExitCode>> {
    let file = match exercise {
        Some(f) => f.to_string(),
        None => exercise::catalogue::name_of_id(&start.exercise).map(str::to_string).ok_or_else(|| {
            BadInput(format!(
                "{}: exercise `{}` is not built in: name its file with --exercise",
                journal.display(),
                start.exercise
            ))
        })?,
    };
    let setup = |cfg: &mut range::RunConfig| {
        cfg.base = start.base;
        cfg.start_ms_since_2000 = start.start_ms_since_2000;
    };
    let prepared = prepare(&file, &start.defender, start.seed, setup)?;
    if let Ok(p) = &prepared {
        if p.ex.id != start.exercise {
            return Err(BadInput(format!(
                "{}: a run of `{}`, not of `{}` ({file})",
                journal.display(),
                start.exercise,
                p.ex.id
            ))
            .into());
        }
    }
    Ok(prepared)
}

pub fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let path = args.dir.join("journal.jsonl");
    let recorded =
        std::fs::read_to_string(&path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let journal_format::Recorded { start, inputs, end } =
        journal_format::read_inputs(&recorded).map_err(|e| BadInput(format!("{}:{e}", path.display())))?;
    let Prepared { ex, mut range, .. } = match prepare_recorded(&start, args.exercise.as_deref(), &path)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    // A new folder of our own (create_dir fails on one planted in advance).
    let dir = netio::files::temp_beside(&std::env::temp_dir().join("icsrange-replay"));
    std::fs::create_dir(&dir).map_err(|e| BadInput(format!("{}: {e}", dir.display())))?;
    let capture = Capture::create(&dir.join("capture.pcap"))?;
    let mut flows = std::collections::BTreeMap::new();
    let end = end.unwrap_or(range.exercise().duration);
    range.replay(&inputs, end, |r| driver::write_wire(&capture, &mut flows, r.take_wire()));
    driver::write_wire(&capture, &mut flows, range.take_wire());
    capture.finish()?;
    let replayed = journal_format::to_jsonl(range.journal());
    let mut diverged = false;
    let (a, b): (Vec<&str>, Vec<&str>) = (recorded.lines().collect(), replayed.lines().collect());
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        diverged = true;
        out!("journal diverges at line {}:", i + 1);
        out!("  recorded: {}", a.get(i).unwrap_or(&"(end of journal)"));
        out!("  replayed: {}", b.get(i).unwrap_or(&"(end of journal)"));
    } else {
        out!("journal: {} entries, identical", a.len());
    }
    let score = journal_format::score(&range::score::score(&ex, range.journal()));
    match std::fs::read_to_string(args.dir.join("score.json")) {
        Ok(s) if s == score => out!("score.json: identical"),
        Ok(_) => {
            diverged = true;
            out!("score.json differs");
        }
        Err(_) => out!("score.json: none to compare"),
    }
    let replayed_pcap = std::fs::read(dir.join("capture.pcap"))?;
    match std::fs::read(args.dir.join("capture.pcap")) {
        Ok(p) if p == replayed_pcap => out!("capture.pcap: {} bytes, identical", p.len()),
        Ok(p) => {
            diverged = true;
            let at = p
                .iter()
                .zip(&replayed_pcap)
                .position(|(x, y)| x != y)
                .unwrap_or(p.len().min(replayed_pcap.len()));
            out!(
                "capture.pcap differs from byte {at} ({} recorded, {} replayed)",
                p.len(),
                replayed_pcap.len()
            );
        }
        Err(_) => out!("capture.pcap: none to compare"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    out!("{}", if diverged { "does not reproduce" } else { "reproduces" });
    Ok(if diverged { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
