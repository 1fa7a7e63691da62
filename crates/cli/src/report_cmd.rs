//! `icsrange report`: the after-action report of one or more headless run directories (one
//! team each, the same exercise), as a self-contained HTML file or JSON.
//!
//! The typed journal the report reads is rebuilt by replaying the recorded inputs on the
//! exercise and seed the journal names, and checked line by line against `journal.jsonl`: a
//! journal that is missing, empty, cut short, not JSON, or that its own run does not give
//! back (edited, corrupt, another version) is bad input (exit 2) naming the file, the line
//! and what is wrong.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::BadInput;
use crate::live_cmd::prepare_recorded;
use crate::run_cmd::Prepared;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Run directories (`icsrange run --out DIR`), one per team, all of one exercise; each
    /// team is named after its directory.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where the report goes (default: report.html or report.json in the first directory).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Html)]
    format: Format,
    /// The exercise file, when the runs' exercise is not built in.
    #[arg(long)]
    exercise: Option<String>,
}

/// The files of a run directory that are its record (`--out` never replaces them).
const RECORD: &[&str] = &["journal.jsonl", "capture.pcap", "alerts.jsonl", "score.json"];

/// The most a journal may weigh (a 3-hour run writes a few MB).
const MAX_JOURNAL: u64 = 512 << 20;

/// Reads a run directory's journal and rebuilds its typed entries; every problem is bad
/// input naming the file.
fn read_run(
    dir: &Path,
    exercise: Option<&str>,
) -> anyhow::Result<Result<(exercise::Exercise, Vec<range::Entry>), ExitCode>> {
    let bad = |msg: String| anyhow::Error::new(BadInput(msg));
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(bad(format!(
                "{}: not a directory (a run directory holds journal.jsonl)",
                dir.display()
            )));
        }
        Err(e) => return Err(bad(format!("{}: no run directory here: {e}", dir.display()))),
    }
    let path = dir.join("journal.jsonl");
    let name = path.display().to_string();
    let bytes = match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => return Err(bad(format!("{name}: not a file"))),
        Ok(m) if m.len() > MAX_JOURNAL => {
            return Err(bad(format!(
                "{name}: {} bytes, more than a journal can be ({MAX_JOURNAL})",
                m.len()
            )));
        }
        Ok(_) => std::fs::read(&path).map_err(|e| bad(format!("{name}: cannot read: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(format!("{name}: missing (is {} a run directory?)", dir.display())));
        }
        Err(e) => return Err(bad(format!("{name}: cannot read: {e}"))),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(format!("{name}: empty (the run wrote nothing)")));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        bad(format!("{name}:{line}: corrupt: not UTF-8 text"))
    })?;
    let lines: Vec<&str> = text.lines().collect();
    // Every line one JSON object; a last line cut short is a truncated journal.
    for (i, l) in lines.iter().enumerate() {
        if let Err(e) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(l) {
            let last = i + 1 == lines.len() && !text.ends_with('\n');
            return Err(bad(if last && e.is_eof() {
                format!("{name}:{}: truncated: the last entry is cut short (column {})", i + 1, e.column())
            } else {
                format!("{name}:{}:{}: corrupt: not a journal entry: {e}", i + 1, e.column())
            }));
        }
    }
    let recorded = journal_format::read_inputs(&text).map_err(|e| bad(format!("{name}: {e}")))?;
    let Some(end) = recorded.end else {
        return Err(bad(format!(
            "{name}: truncated: no end entry after line {} (the run was stopped before it ended, or the file was cut)",
            lines.len()
        )));
    };
    let Prepared { ex, mut range, .. } = match prepare_recorded(&recorded.start, exercise, &path)? {
        Ok(p) => p,
        Err(code) => return Ok(Err(code)),
    };
    range.replay(&recorded.inputs, end, |r| drop(r.take_wire()));
    let replayed = journal_format::to_jsonl(range.journal());
    let again: Vec<&str> = replayed.lines().collect();
    if let Some(i) = (0..lines.len().max(again.len())).find(|&i| lines.get(i) != again.get(i)) {
        return Err(bad(format!(
            "{name}:{}: corrupt: the run its exercise, seed and inputs give differs here (the journal was edited, damaged, or written by another version)",
            i + 1
        )));
    }
    Ok(Ok((ex, range.journal().to_vec())))
}

pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let mut ex: Option<exercise::Exercise> = None;
    let mut runs: Vec<(String, Vec<range::Entry>)> = Vec::new();
    for dir in &args.dirs {
        let (e, journal) = match read_run(dir, args.exercise.as_deref())? {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        if let Some(first) = &ex {
            if first.id != e.id {
                return Err(BadInput(format!(
                    "{}: a run of `{}`, the others are of `{}` (a report covers one exercise)",
                    dir.join("journal.jsonl").display(),
                    e.id,
                    first.id
                ))
                .into());
            }
        }
        let team = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        if runs.iter().any(|(t, _)| *t == team) {
            return Err(BadInput(format!(
                "{}: a second run directory named `{team}` (teams are named after their directories: rename one)",
                dir.display()
            ))
            .into());
        }
        runs.push((team, journal));
        ex.get_or_insert(e);
    }
    let Some(ex) = ex else { return Err(BadInput("no run directory".into()).into()) };
    let teams: Vec<report::TeamRun<'_>> =
        runs.iter().map(|(name, journal)| report::TeamRun { name, journal }).collect();
    let r = report::build(&ex, &teams);
    let (text, default) = match args.format {
        Format::Html => (report::html::render(&r), "report.html"),
        Format::Json => (report::json(&r), "report.json"),
    };
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].join(default));
    let (dir, file) = match (out.parent(), out.file_name()) {
        (Some(d), Some(f)) => {
            (if d.as_os_str().is_empty() { Path::new(".") } else { d }, f.to_string_lossy().into_owned())
        }
        _ => return Err(BadInput(format!("--out {}: not a file name", out.display())).into()),
    };
    // Never over a run's own record (nor inside its evidence).
    let target = dir.canonicalize().map_err(|e| BadInput(format!("--out {}: {e}", out.display())))?;
    for d in &args.dirs {
        let Ok(run) = d.canonicalize() else { continue };
        if (target == run && RECORD.contains(&file.as_str())) || target.starts_with(run.join("evidence")) {
            return Err(
                BadInput(format!("--out {}: that is part of the run's own record", out.display())).into()
            );
        }
    }
    // write_atomic names the file in its errors.
    netio::files::write_atomic(dir, &file, text.as_bytes()).map_err(|e| BadInput(e.to_string()))?;
    out!(
        "{}: after-action report of `{}`, {} team{} ({}), {} bytes",
        out.display(),
        ex.id,
        teams.len(),
        if teams.len() == 1 { "" } else { "s" },
        r.teams.iter().map(|t| format!("{} {:.2}", t.team, t.score.total)).collect::<Vec<_>>().join(", "),
        text.len()
    );
    Ok(ExitCode::SUCCESS)
}
