//! A headless run's evidence files (`evidence/`): the trainees' view of the run, from
//! `journal_format::evidence` (which alone decides what a trainee may see), with the SCADA
//! master's point history and the supply figures as CSV.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use journal_format::evidence::{Evidence, event, line, points};
use range::{Entry, Range};

/// The SCADA point history of a headless run: the point database sampled as it runs
/// (`sample`), a CSV line per point whose value or staleness changed.
#[derive(Debug, Default)]
pub struct PointHistory {
    last: std::collections::BTreeMap<(u16, u32), (f64, bool)>,
    csv: String,
}

impl PointHistory {
    pub fn sample(&mut self, r: &Range) {
        if self.csv.is_empty() {
            self.csv.push_str("t_s,station,ioa,value,stale\n");
        }
        let t = r.time().secs();
        // The recorded history keeps the set it always had (no unit outputs).
        for p in points(r).into_iter().filter(|p| devices::rtu::ioa::is_shown(p.ioa)) {
            let (ca, ioa, v, stale) = (p.ca, p.ioa, p.value, p.stale());
            if self.last.get(&(ca, ioa)) != Some(&(v, stale)) {
                self.last.insert((ca, ioa), (v, stale));
                let _ = writeln!(self.csv, "{t},{ca},{ioa},{v},{}", u8::from(stale));
            }
        }
    }
}

/// The files of `evidence/`, by kind of evidence (the capture is written beside them by the
/// caller, as `evidence/capture.pcap`).
pub const FILES: &[(&str, &[&str])] = &[
    ("alerts.jsonl", &["alert"]),
    ("logs.jsonl", &["log"]),
    ("hmi.jsonl", &["hmi", "command"]),
    ("injects.jsonl", &["inject"]),
    ("crews.jsonl", &["crew"]),
];

/// A headless run's evidence view, written whole into `dir` (created if needed; a symlink or
/// a file planted at its name is replaced by a folder, never written through).
pub fn write(dir: &Path, r: &Range, history: &PointHistory) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => std::fs::remove_file(dir).map_err(named)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(named(e)),
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(named(e)),
    }
    // A link planted between the check and the creation is caught here (and each file is
    // then written by name inside, never through a link at its own name).
    if !std::fs::symlink_metadata(dir).map_err(named)?.is_dir() {
        return Err(named(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "not a folder (a link was planted?)",
        )));
    }
    let events: Vec<Evidence> =
        r.journal().iter().enumerate().filter_map(|(i, e)| event(i, e, None, r.exercise())).collect();
    for (name, kinds) in FILES {
        let mut text = String::new();
        for v in events.iter().filter(|v| kinds.contains(&v.item.kind())) {
            text.push_str(&line(v));
            text.push('\n');
        }
        crate::files::write_atomic(dir, name, text.as_bytes())?;
    }
    let mut supply = String::from("t_s,served_mw,demand_mw,customers_off,ens_mwh,f_hz,f_min_hz,f_max_hz\n");
    for e in r.journal() {
        if let Entry::Supply { t, served_mw, demand_mw, customers_off, ens_mwh, f_hz, f_min_hz, f_max_hz } = e
        {
            let _ = writeln!(
                supply,
                "{},{served_mw:.3},{demand_mw:.3},{customers_off},{ens_mwh:.4},{f_hz:.4},{f_min_hz:.4},{f_max_hz:.4}",
                t.secs()
            );
        }
    }
    crate::files::write_atomic(dir, "supply.csv", supply.as_bytes())?;
    crate::files::write_atomic(dir, "points.csv", history.csv.as_bytes())?;
    Ok(())
}
