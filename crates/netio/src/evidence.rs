//! The trainees' evidence view of a run: what a defender could actually have seen, built
//! from the journal in one place for the web platform (`web::views`) and for a headless
//! run's `evidence/` folder (`write`).
//!
//! Evidence is the IDS's alerts (with the capture frames they cite), the IT log artefacts,
//! injects, the HMI's own journal (commands typed at it; a user's name only for the team's
//! own users), the SCADA master's command log (what it sent and how the stations answered,
//! whoever was at the keyboard), the team's own actions and crews, the supply figures, the
//! SCADA master's point history and the capture. Nothing in it attributes: no `by`, no step
//! ids or names, no attack or prevented-step entries, no device truths, no grid events (the
//! grid's ground truth is the instructors'). The journal stays the instructors'.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use exercise::Exercise;
use gridsim::sim::SimTime;
use range::journal::{Actor, Protocol, Sender};
use range::{Entry, Range};
use serde_json::{Value, json};

fn secs(t: SimTime) -> f64 {
    t.0 as f64 / 1e6
}

/// A journal entry as a trainee may see it (`None`: not evidence). `team`: the team whose
/// own actions and HMI users are shown (none for a headless run).
pub fn event(seq: usize, e: &Entry, team: Option<&str>, ex: &Exercise) -> Option<Value> {
    let ours = |t: &str| team == Some(t);
    let v = match e {
        Entry::Alert { alert } => json!({
            "kind": "alert", "rule": alert.rule, "techniques": alert.techniques,
            "src": alert.src.to_string(), "dst": alert.dst.to_string(),
            "frames": alert.evidence, "text": alert.message,
        }),
        Entry::Inject { id, channel, from, subject, .. } => {
            let body = ex.injects.iter().find(|i| &i.id == id).map_or("", |i| i.body.as_str());
            json!({"kind": "inject", "channel": channel, "from": from, "subject": subject, "text": body})
        }
        Entry::It { host, artefact, .. } => json!({"kind": "log", "host": host, "text": artefact}),
        Entry::Hmi { actor, point, close, .. } => {
            let user = match actor {
                Actor::User { team: t, user, .. } if ours(t) => Some(user.clone()),
                _ => None,
            };
            json!({"kind": "hmi", "station": point.station, "ioa": point.ioa, "close": close, "user": user,
                   "text": format!("HMI: {} station {} IOA {}", if *close { "close" } else { "open" }, point.station, point.ioa)})
        }
        // The SCADA master's own command log: what it sent, whoever drove the HMI.
        Entry::Command {
            protocol: Protocol::Iec104,
            station,
            operation,
            by: Sender::Operator | Sender::Hijack,
            outcome,
            ..
        } => {
            let (ioa, close) = match operation {
                range::journal::Operation::Breaker { ioa, close, .. } => (Some(*ioa), Some(*close)),
                _ => (None, None),
            };
            json!({"kind": "command", "station": station, "ioa": ioa, "close": close,
                   "outcome": outcome.describe(),
                   "text": format!("SCADA master: {} → {}", operation.describe(), outcome.describe())})
        }
        Entry::Act { actor: Actor::User { team: t, user, .. }, action, outcome, .. } if ours(t) => {
            json!({"kind": "action", "user": user, "action": crate::json::action(action), "outcome": crate::json::outcome(outcome)})
        }
        Entry::Crew { point, close, status, .. } => json!({
            "kind": "crew", "station": point.station, "ioa": point.ioa, "close": close,
            "text": format!("crew {} station {} IOA {}: {:?}", if *close { "close" } else { "open" }, point.station, point.ioa, status),
        }),
        Entry::Supply { served_mw, demand_mw, customers_off, ens_mwh, f_hz, f_min_hz, f_max_hz, .. } => {
            json!({
                "kind": "supply", "served_mw": served_mw, "demand_mw": demand_mw,
                "customers_off": customers_off, "ens_mwh": ens_mwh,
                "f_hz": f_hz, "f_min_hz": f_min_hz, "f_max_hz": f_max_hz,
            })
        }
        Entry::End { .. } => json!({"kind": "end", "text": "the exercise has ended"}),
        _ => return None,
    };
    let mut v = v;
    v["seq"] = json!(seq);
    v["t"] = json!(secs(e.t()));
    Some(v)
}

/// The SCADA master's point database as the HMI shows it: `(ca, ioa, value, stale)`, double
/// points as 0-3, floats rounded for display; a wiped master shows every value stale.
pub fn points(r: &Range) -> Vec<(u16, u32, f64, bool)> {
    let alive = r.scada().alive();
    r.scada()
        .points()
        .iter()
        .filter(
            |((_, ioa), _)| matches!(ioa, 500 | 1001..=1099 | 1500 | 1601..=1699 | 3000..=3002 | 3101..=3199),
        )
        .map(|(&(ca, ioa), p)| {
            let v = match p.value {
                range::scada::PointValue::Single(b) => f64::from(u8::from(b)),
                range::scada::PointValue::Double(d) => f64::from(d),
                range::scada::PointValue::Float(f) => (f64::from(f) * 100.0).round() / 100.0,
            };
            (ca, ioa, v, p.stale() || !alive)
        })
        .collect()
}

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
        let t = secs(r.time());
        for (ca, ioa, v, stale) in points(r) {
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
    let events: Vec<Value> =
        r.journal().iter().enumerate().filter_map(|(i, e)| event(i, e, None, r.exercise())).collect();
    for (name, kinds) in FILES {
        let mut text = String::new();
        for v in events.iter().filter(|v| kinds.iter().any(|k| v["kind"] == *k)) {
            text.push_str(&v.to_string());
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
                secs(*t)
            );
        }
    }
    crate::files::write_atomic(dir, "supply.csv", supply.as_bytes())?;
    crate::files::write_atomic(dir, "points.csv", history.csv.as_bytes())?;
    Ok(())
}
