//! The trainees' evidence view of a run: what a defender could actually have seen, built
//! from the journal here and nowhere else (the web platform's pages and a headless run's
//! `evidence/` folder both take it from `event`).
//!
//! Evidence is the IDS's alerts (with the capture frames they cite), the IT log artefacts,
//! injects, the HMI's own journal (commands typed at it; a user's name only for the team's
//! own users), the SCADA master's command log (what it sent and how the stations answered,
//! whoever was at the keyboard), the team's own actions and crews, the supply figures. Nothing
//! in it attributes, and that is a property of the types: `Item` has no field for who sent a
//! command (`by`), for a campaign step, for a device's truth or for the grid's own events, so
//! no code path can put them in front of a trainee. The journal stays the instructors'.

use range::journal::{Actor, Operation, Protocol, Sender};
use range::{Entry, Range};
use serde::Serialize;

use crate::action::{ActionJson, OutcomeJson, action, outcome};

/// One piece of evidence: its journal index (`seq`, so a client resumes after the last it
/// saw), its simulated time in seconds, and what it shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub seq: usize,
    pub t: f64,
    #[serde(flatten)]
    pub item: Item,
}

/// What a piece of evidence shows (`kind` names it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// An IDS alert and the capture frames it cites.
    Alert {
        rule: &'static str,
        techniques: &'static [&'static str],
        src: String,
        dst: String,
        frames: Vec<u64>,
        text: String,
    },
    Inject {
        channel: String,
        from: String,
        subject: String,
        text: String,
    },
    /// An IT log artefact.
    Log {
        host: String,
        text: String,
    },
    /// A command typed at the HMI (the user named only for the team's own users).
    Hmi {
        station: u16,
        ioa: u32,
        close: bool,
        user: Option<String>,
        text: String,
    },
    /// The SCADA master's command log: what it sent and how the station answered.
    Command {
        station: Option<u16>,
        ioa: Option<u32>,
        close: Option<bool>,
        outcome: String,
        text: String,
    },
    /// The team's own action and its outcome.
    Action {
        user: String,
        action: ActionJson,
        outcome: OutcomeJson,
    },
    Crew {
        station: u16,
        ioa: u32,
        close: bool,
        text: String,
    },
    /// The supply figures (every simulated minute).
    Supply {
        served_mw: f64,
        demand_mw: f64,
        customers_off: u64,
        ens_mwh: f64,
        f_hz: f64,
        f_min_hz: f64,
        f_max_hz: f64,
    },
    End {
        text: &'static str,
    },
}

impl Item {
    /// The `kind` it is serialised with.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Alert { .. } => "alert",
            Item::Inject { .. } => "inject",
            Item::Log { .. } => "log",
            Item::Hmi { .. } => "hmi",
            Item::Command { .. } => "command",
            Item::Action { .. } => "action",
            Item::Crew { .. } => "crew",
            Item::Supply { .. } => "supply",
            Item::End { .. } => "end",
        }
    }
}

/// A journal entry as a trainee may see it (`None`: not evidence). `team`: the team whose
/// own actions and HMI users are shown (none for a headless run).
pub fn event(seq: usize, e: &Entry, team: Option<&str>, ex: &exercise::Exercise) -> Option<Evidence> {
    let ours = |t: &str| team == Some(t);
    let item = match e {
        Entry::Alert { alert } => Item::Alert {
            rule: alert.rule,
            techniques: alert.techniques,
            src: alert.src.to_string(),
            dst: alert.dst.to_string(),
            frames: alert.evidence.clone(),
            text: alert.message.clone(),
        },
        Entry::Inject { id, channel, from, subject, .. } => {
            let body = ex.injects.iter().find(|i| &i.id == id).map_or("", |i| i.body.as_str());
            Item::Inject {
                channel: channel.clone(),
                from: from.clone(),
                subject: subject.clone(),
                text: body.into(),
            }
        }
        Entry::It { host, artefact, .. } => Item::Log { host: host.clone(), text: artefact.clone() },
        Entry::Hmi { actor, point, close, .. } => {
            let user = match actor {
                Actor::User { team: t, user, .. } if ours(t) => Some(user.clone()),
                _ => None,
            };
            Item::Hmi {
                station: point.station,
                ioa: point.ioa,
                close: *close,
                user,
                text: format!(
                    "HMI: {} station {} IOA {}",
                    if *close { "close" } else { "open" },
                    point.station,
                    point.ioa
                ),
            }
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
                Operation::Breaker { ioa, close, .. } => (Some(*ioa), Some(*close)),
                _ => (None, None),
            };
            Item::Command {
                station: *station,
                ioa,
                close,
                outcome: outcome.describe(),
                text: format!("SCADA master: {} → {}", operation.describe(), outcome.describe()),
            }
        }
        Entry::Act { actor: Actor::User { team: t, user, .. }, action: a, outcome: o, .. } if ours(t) => {
            Item::Action { user: user.clone(), action: action(a), outcome: outcome(o) }
        }
        Entry::Crew { point, close, status, .. } => Item::Crew {
            station: point.station,
            ioa: point.ioa,
            close: *close,
            text: format!(
                "crew {} station {} IOA {}: {:?}",
                if *close { "close" } else { "open" },
                point.station,
                point.ioa,
                status
            ),
        },
        Entry::Supply { served_mw, demand_mw, customers_off, ens_mwh, f_hz, f_min_hz, f_max_hz, .. } => {
            Item::Supply {
                served_mw: *served_mw,
                demand_mw: *demand_mw,
                customers_off: *customers_off,
                ens_mwh: *ens_mwh,
                f_hz: *f_hz,
                f_min_hz: *f_min_hz,
                f_max_hz: *f_max_hz,
            }
        }
        Entry::End { .. } => Item::End { text: "the exercise has ended" },
        _ => return None,
    };
    Some(Evidence { seq, t: e.t().secs(), item })
}

/// Evidence as one JSON line, its keys in sorted order (as the evidence files have always
/// been written).
pub fn line(ev: &Evidence) -> String {
    // Evidence holds only strings, numbers and finite floats: serialising cannot fail.
    serde_json::to_value(ev).map(|v| v.to_string()).unwrap_or_default()
}

/// The latest supply figures as the pages show them (sampled every simulated minute).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Supply {
    pub t: f64,
    pub served_mw: f64,
    pub demand_mw: f64,
    pub customers_off: u64,
    pub ens_mwh: f64,
}

/// The journal's latest supply sample.
pub fn supply(journal: &[Entry]) -> Option<Supply> {
    journal.iter().rev().find_map(|e| match e {
        Entry::Supply { t, served_mw, demand_mw, customers_off, ens_mwh, .. } => Some(Supply {
            t: t.secs(),
            served_mw: *served_mw,
            demand_mw: *demand_mw,
            customers_off: *customers_off,
            ens_mwh: *ens_mwh,
        }),
        _ => None,
    })
}

/// One point of the SCADA master's database as the HMI shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HmiPoint {
    /// The station's common address.
    pub ca: u16,
    pub ioa: u32,
    /// Double points as 0-3 (1 open, 2 closed, 0 and 3 indeterminate), singles as 0/1,
    /// floats rounded for display.
    pub value: f64,
    /// The IEC 60870-5-104 quality bits as received (IV 0x80, NT 0x40, SB 0x20, BL 0x10,
    /// OV 0x01), with NT set when the station's session is lost or the master is down.
    pub quality: u8,
    /// When the master received it, seconds of simulated time.
    pub at_s: f64,
}

impl HmiPoint {
    /// Not to be shown as live: invalid or not topical.
    pub fn stale(&self) -> bool {
        self.quality & (range::scada::IV | range::scada::NT) != 0
    }
}

/// The SCADA master's point database as the HMI shows it, in (ca, ioa) order; a wiped
/// master shows every value not topical.
pub fn points(r: &Range) -> Vec<HmiPoint> {
    let alive = r.scada().alive();
    r.scada()
        .points()
        .iter()
        .filter(|((_, ioa), _)| devices::rtu::ioa::is_displayed(*ioa))
        .map(|(&(ca, ioa), p)| {
            let value = match p.value {
                range::scada::PointValue::Single(b) => f64::from(u8::from(b)),
                range::scada::PointValue::Double(d) => f64::from(d),
                range::scada::PointValue::Float(f) => (f64::from(f) * 100.0).round() / 100.0,
            };
            let quality = if alive { p.quality } else { p.quality | range::scada::NT };
            HmiPoint { ca, ioa, value, quality, at_s: p.at.secs() }
        })
        .collect()
}
