//! Scoring, a pure function of the journal (and the exercise's weights and questions).
//!
//! Components, each 0 to 1, times the exercise's weights:
//! - **service**: energy served over energy demanded, from the minute samples;
//! - **detection**: per attack step on the wire, banded by the team's time to detect (≤ 1 min:
//!   1, ≤ 5 min: 0.75, ≤ 15 min: 0.5, later: 0.25, never: 0), averaged. An alert detects a
//!   step when its evidence cites a capture frame of the step's own exchanges (each command
//!   entry records its frames), at or after the step's start and within a minute of its last
//!   command; the team has detected it when it first acted on it after that alert
//!   (acknowledged its alarm, answered a question about the step, reported or responded:
//!   `acts_on`). An alert nobody acted on detects nothing;
//! - **restoration**: half for the share of the peak's customers back on supply at the end,
//!   half for how little of the time after the first outage customers were off;
//! - **questions**: points of correct answers, less the hints taken for them, over the points
//!   of the questions not withdrawn; an answer is judged against the run's figures as they
//!   stood when it was given (the journal up to it). A question is withdrawn when an attack
//!   step it `requires` did not happen, or when the run ended without the figure it asks for;
//! - **reports**: the share of a checklist (the accounts the attack used, the attacker's
//!   address, the breakers) a filed report names.
//!
//! A pipeline exercise (its journal has `Line` samples) reads **service** as the share of
//! the nomination delivered, and **restoration** as safety: 1 with no segment above its MAOP,
//! halved per excursion, 0 once product is released (a leak, a rupture).
//!
//! Penalties: 5 points per block of an allowlisted host the attack's commands had not come
//! from before the block (a false positive), 5 per host cleaned with nothing in the evidence
//! about it yet (no log artefact on it, no command from it), 2 per breaker an operator opened
//! (load the operators shed themselves).

use std::collections::BTreeMap;

use std::net::Ipv4Addr;

use exercise::{Action, Answer, DefenderAction, Exercise, Expect, Question, RunFigure};
use gridsim::sim::SimTime;

use crate::journal::{Entry, Operation, Outcome, PipeKind, Sender};

/// A component of the score: its name in `Score::components` (and in `score.json`) is
/// `as_str`, its weight the exercise's `scoring`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Service,
    Detection,
    Restoration,
    Questions,
    Reports,
}

impl Component {
    pub const ALL: [Component; 5] = [
        Component::Service,
        Component::Detection,
        Component::Restoration,
        Component::Questions,
        Component::Reports,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Service => "service",
            Component::Detection => "detection",
            Component::Restoration => "restoration",
            Component::Questions => "questions",
            Component::Reports => "reports",
        }
    }

    /// Its weight in the exercise's scoring.
    pub fn weight(self, ex: &Exercise) -> f64 {
        let w = &ex.scoring;
        match self {
            Component::Service => w.service,
            Component::Detection => w.detection,
            Component::Restoration => w.restoration,
            Component::Questions => w.questions,
            Component::Reports => w.reports,
        }
    }
}

/// The score of a run (its JSON form: `journal_format::score`).
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub total: f64,
    pub components: BTreeMap<String, f64>,
    pub penalties: f64,
    pub ens_mwh: f64,
    pub customers_off_peak: u64,
    pub time_to_detect_s: BTreeMap<String, Option<f64>>,
    pub detected_by: BTreeMap<String, Vec<String>>,
    /// When every customer was back on supply after the last outage (None: never, or never off).
    pub restored_at_s: Option<f64>,
    /// Questions the run made meaningless, withdrawn with their points.
    pub withdrawn: Vec<String>,
    /// A pipeline exercise's physical outcome.
    pub line: Option<LineFigures>,
}

/// A score as a team's trainees see it while the run goes on: the total and its components
/// without the reports component (scored against the campaign's truth: watching it move as
/// reports are filed would tell the attacker's address; instructors grade the reports) and
/// without the per-step detection times (they name the campaign's steps).
#[derive(Debug, Clone, PartialEq)]
pub struct TraineeScore {
    pub total: f64,
    pub components: BTreeMap<String, f64>,
    pub penalties: f64,
    pub ens_mwh: f64,
    pub customers_off_peak: u64,
}

impl Score {
    /// A component's value (0 when absent).
    pub fn component(&self, c: Component) -> f64 {
        self.components.get(c.as_str()).copied().unwrap_or(0.0)
    }

    /// What the team's trainees see of it (`TraineeScore`).
    pub fn for_trainees(&self, ex: &Exercise) -> TraineeScore {
        let reports = self.component(Component::Reports);
        let mut components = self.components.clone();
        components.remove(Component::Reports.as_str());
        TraineeScore {
            total: ((self.total - Component::Reports.weight(ex) * reports) * 100.0).round() / 100.0 + 0.0,
            components,
            penalties: self.penalties,
            ens_mwh: self.ens_mwh,
            customers_off_peak: self.customers_off_peak,
        }
    }
}

/// What a pipeline run did, from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFigures {
    pub nominated_m3: f64,
    pub delivered_m3: f64,
    pub not_delivered_m3: f64,
    pub released_m3: f64,
    pub relieved_m3: f64,
    /// Excursions of a segment above its MAOP.
    pub overpressure_events: u32,
    pub ruptures: u32,
    pub relief_lifts: u32,
    pub leak_alarms: u32,
    pub sis_trips: u32,
}

/// The pipeline's figures, when the run has a pipeline.
pub fn line_figures(journal: &[Entry]) -> Option<LineFigures> {
    let last = journal.iter().rev().find_map(|e| match e {
        Entry::Line { nominated_m3, delivered_m3, not_delivered_m3, released_m3, relieved_m3, .. } => {
            Some((*nominated_m3, *delivered_m3, *not_delivered_m3, *released_m3, *relieved_m3))
        }
        _ => None,
    })?;
    let count = |k: PipeKind| {
        journal.iter().filter(|e| matches!(e, Entry::Pipe { kind, .. } if *kind == k)).count() as u32
    };
    Some(LineFigures {
        nominated_m3: last.0,
        delivered_m3: last.1,
        not_delivered_m3: last.2,
        released_m3: last.3,
        relieved_m3: last.4,
        overpressure_events: count(PipeKind::Overpressure),
        ruptures: count(PipeKind::Rupture),
        relief_lifts: count(PipeKind::ReliefLifted),
        leak_alarms: count(PipeKind::LeakAlarm),
        sis_trips: count(PipeKind::SisTrip) + count(PipeKind::SisFault),
    })
}

fn r2(v: f64) -> f64 {
    // + 0.0 turns -0.0 (an empty float sum) into 0.
    (v * 100.0).round() / 100.0 + 0.0
}

fn r4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4 + 0.0
}

/// A command of a step: source, destination, time, capture frames.
type StepCommand = (Ipv4Addr, Ipv4Addr, SimTime, Option<(u64, u64)>);

/// Breakers the attack opened: confirmed open commands of the campaign.
fn attack_opened(e: &Entry) -> bool {
    matches!(e, Entry::Command { by, outcome, operation: Operation::Breaker { close: false, .. }, .. }
        if by.is_attack() && outcome.done())
}

/// A figure of the run a question can ask for (`exercise::RunFigure`), as it stands in
/// `journal`.
pub fn run_figure(journal: &[Entry], figure: RunFigure) -> Option<String> {
    match figure {
        RunFigure::CustomersOffPeak => Some(peak(journal).to_string()),
        RunFigure::EnsMwh => journal.iter().rev().find_map(|e| match e {
            Entry::Supply { ens_mwh, .. } => Some(format!("{ens_mwh:.3}")),
            _ => None,
        }),
        RunFigure::BreakersOpened => Some(journal.iter().filter(|e| attack_opened(e)).count().to_string()),
        RunFigure::FirstCommandStation => journal.iter().find_map(|e| match e {
            Entry::Command { by, station: Some(s), .. } if by.is_attack() => Some(s.to_string()),
            _ => None,
        }),
        RunFigure::AttackerAddress => journal.iter().find_map(|e| match e {
            Entry::Command { by: Sender::Attacker, src, .. } => Some(src.to_string()),
            _ => None,
        }),
        RunFigure::VpnSource => journal.iter().find_map(|e| match e {
            Entry::It { event, src: Some(src), .. } if event == "vpn_login" => Some(src.to_string()),
            _ => None,
        }),
        // Stations the attack's commands reached on the wire (the capture shows each).
        RunFigure::StationsCommanded => {
            let mut stations: Vec<u16> = journal
                .iter()
                .filter_map(|e| match e {
                    Entry::Command { by, station: Some(s), frames: Some(_), .. } if by.is_attack() => {
                        Some(*s)
                    }
                    _ => None,
                })
                .collect();
            stations.sort_unstable();
            stations.dedup();
            Some(stations.len().to_string())
        }
    }
}

/// The questions the run withdrew, decided when it has ended (before, a withdrawal would
/// tell the trainees that a step did not happen): an attack step they require did not
/// happen, or the run ended without the figure they ask for.
pub fn withdrawn<'a>(ex: &'a Exercise, journal: &[Entry]) -> Vec<&'a str> {
    if !journal.iter().rev().any(|e| matches!(e, Entry::End { .. })) {
        return Vec::new();
    }
    let started =
        |step: &str| journal.iter().any(|e| matches!(e, Entry::Attack { step: s, .. } if s == step));
    ex.questions
        .iter()
        .filter(|q| {
            q.requires.iter().any(|s| !started(s))
                || matches!(&q.answer, Answer::FromRun { figure, .. } if run_figure(journal, *figure).is_none())
        })
        .map(|q| q.id.as_str())
        .collect()
}

/// The run's address block (from the start entry).
fn base_of(journal: &[Entry]) -> Option<Ipv4Addr> {
    journal.iter().find_map(|e| match e {
        Entry::Start { base, .. } => Some(*base),
        _ => None,
    })
}

/// The address of a host of the exercise in the run's block, the host named by its id or by
/// that address.
fn host_address(ex: &Exercise, host: &str, journal: &[Entry]) -> Option<Ipv4Addr> {
    let base = base_of(journal)?;
    Some(ex.host_named(host, base)?.addr.in_block(base))
}

/// The id of a host named by its id or its address.
fn host_id<'e>(ex: &'e Exercise, host: &str, journal: &[Entry]) -> Option<&'e str> {
    Some(ex.host_named(host, base_of(journal)?)?.id.as_str())
}

fn peak(journal: &[Entry]) -> u64 {
    journal
        .iter()
        .filter_map(|e| match e {
            Entry::Supply { customers_off, .. } => Some(*customers_off),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Whether `value` answers `q`, given the journal up to the answer (figures from the run
/// come from it, as they stood then).
pub fn judge(ex: &Exercise, q: &Question, value: &str, journal: &[Entry]) -> bool {
    // Nothing is right about a step that has not begun (a figure of 0 before the attack is
    // no answer to what the attack did).
    let begun = |step: &str| journal.iter().any(|e| matches!(e, Entry::Attack { step: s, .. } if s == step));
    if !q.requires.iter().all(|s| begun(s)) {
        return false;
    }
    use exercise::answers::{in_unit, normalise, quantity, time_of_day};
    let v = value.trim();
    // A number as typed ("225,000", "73.4 MWh", "90 bar") in the unit the question declares.
    let number = |declared| quantity(v).and_then(|(n, u)| in_unit(n, u, declared));
    // Text as typed: case, spaces, quotes and a final full stop aside; a time of day in any
    // of its spellings.
    let same_text =
        |x: &str| normalise(v) == normalise(x) || time_of_day(x).is_some_and(|t| time_of_day(v) == Some(t));
    match &q.answer {
        Answer::Host(h) => {
            host_address(ex, h, journal).is_some_and(|a| v.parse::<Ipv4Addr>().is_ok_and(|given| given == a))
        }
        Answer::Exact(x) => same_text(x),
        // Without a regex engine in the pure core, a regex answer matches literally or as a
        // set of alternatives `a|b|c`.
        Answer::Regex(x) => x.split('|').any(&same_text),
        Answer::Number { value, tolerance, unit } => {
            number(*unit).is_some_and(|n| (n - value).abs() <= *tolerance)
        }
        Answer::Choice { correct, .. } => same_text(correct),
        Answer::FromRun { figure, tolerance } => {
            let Some(truth) = run_figure(journal, *figure) else { return false };
            match truth.parse::<f64>() {
                Ok(t) => {
                    number(figure.unit()).is_some_and(|n| (n - t).abs() <= tolerance * t.abs().max(1e-9))
                }
                _ => same_text(&truth),
            }
        }
    }
}

pub fn score(ex: &Exercise, journal: &[Entry]) -> Score {
    let w = &ex.scoring;
    // Service.
    let samples: Vec<(f64, f64, f64, u64)> = journal
        .iter()
        .filter_map(|e| match e {
            Entry::Supply { t, served_mw, demand_mw, customers_off, .. } => {
                Some((t.secs(), *served_mw, *demand_mw, *customers_off))
            }
            _ => None,
        })
        .collect();
    let (served, demanded) = samples.iter().fold((0.0, 0.0), |(s, d), x| (s + x.1, d + x.2));
    let line = line_figures(journal);
    // A pipeline: service is the share of the nomination delivered.
    let service = match &line {
        Some(l) if l.nominated_m3 > 0.0 => (1.0 - l.not_delivered_m3 / l.nominated_m3).clamp(0.0, 1.0),
        Some(_) => 1.0,
        None if demanded > 0.0 => served / demanded,
        None => 1.0,
    };
    let ens_mwh = journal
        .iter()
        .rev()
        .find_map(|e| match e {
            Entry::Supply { ens_mwh, .. } => Some(*ens_mwh),
            _ => None,
        })
        .unwrap_or(0.0);
    let peak_off = peak(journal);

    // Detection.
    let mut time_to_detect = BTreeMap::new();
    let mut detected_by = BTreeMap::new();
    let mut bands = Vec::new();
    for d in detections(ex, journal) {
        bands.push(match d.ttd_s {
            Some(x) if x <= 60.0 => 1.0,
            Some(x) if x <= 300.0 => 0.75,
            Some(x) if x <= 900.0 => 0.5,
            Some(_) => 0.25,
            None => 0.0,
        });
        time_to_detect.insert(d.step.clone(), d.ttd_s);
        detected_by.insert(d.step, d.rules);
    }
    let detection = if bands.is_empty() { 1.0 } else { bands.iter().sum::<f64>() / bands.len() as f64 };

    // Restoration.
    let end_t = journal.last().map_or(0.0, |e| e.t().secs());
    let end_off = samples.last().map_or(0, |s| s.3);
    let first_off = samples.iter().find(|s| s.3 > 0).map(|s| s.0);
    let mut restored_at = None;
    let restoration = match first_off {
        None => 1.0,
        Some(t0) => {
            let off_time: f64 = samples.windows(2).filter(|p| p[0].3 > 0).map(|p| p[1].0 - p[0].0).sum();
            let span = (end_t - t0).max(1.0);
            if end_off == 0 {
                restored_at = samples.iter().rev().take_while(|s| s.3 == 0).last().map(|s| s.0);
            }
            let back =
                if peak_off > 0 { (peak_off - end_off.min(peak_off)) as f64 / peak_off as f64 } else { 1.0 };
            0.5 * back + 0.5 * (1.0 - (off_time / span).min(1.0))
        }
    };

    // A pipeline: restoration becomes safety: nothing released and no segment above its
    // MAOP is 1; each excursion halves it (a relief valve lifts only above the MAOP); a
    // rupture or any product released is 0.
    let restoration = match &line {
        Some(l) if l.ruptures > 0 || l.released_m3 > 0.0 => 0.0,
        Some(l) => 0.5f64.powi(l.overpressure_events.min(30) as i32),
        None => restoration,
    };

    // Questions: the last answer to each counts, judged on the journal up to it.
    let mut answers: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    for (i, e) in journal.iter().enumerate() {
        if let Entry::Answer { question, value, .. } = e {
            answers.insert(question, (value, i));
        }
    }
    let withdrawn = withdrawn(ex, journal);
    let standing = || ex.questions.iter().filter(|q| !withdrawn.contains(&q.id.as_str()));
    let total_points: f64 = standing().map(|q| q.points).sum();
    // A correct answer earns its points less the hints taken for it (never below zero).
    let mut hint_cost: BTreeMap<&str, f64> = BTreeMap::new();
    for e in journal {
        if let Entry::Hint { question, cost, .. } = e {
            *hint_cost.entry(question).or_default() += cost;
        }
    }
    let got: f64 = standing()
        .filter(|q| answers.get(q.id.as_str()).is_some_and(|(v, i)| judge(ex, q, v, &journal[..=*i])))
        .map(|q| (q.points - hint_cost.get(q.id.as_str()).copied().unwrap_or(0.0)).max(0.0))
        .sum();
    let questions = if total_points > 0.0 { got / total_points } else { 1.0 };

    // Reports.
    let mut checklist: Vec<String> = Vec::new();
    for s in &ex.attack {
        match &s.action {
            Action::HmiHijack { account, .. } => checklist.push(account.clone()),
            Action::It(it) => checklist.extend(it.account.clone()),
            _ => {}
        }
    }
    if let Some(a) = run_figure(journal, RunFigure::AttackerAddress) {
        checklist.push(a);
    }
    checklist.push("breaker".into());
    checklist.sort();
    checklist.dedup();
    let text: String = journal
        .iter()
        .filter_map(|e| match e {
            Entry::Report { text, .. } => Some(text.to_lowercase()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let reports = if text.is_empty() {
        0.0
    } else {
        checklist.iter().filter(|c| text.contains(&c.to_lowercase())).count() as f64 / checklist.len() as f64
    };

    let penalties: f64 = penalties(ex, journal).iter().map(|p| p.points).sum();

    let mut components = BTreeMap::new();
    for (c, value) in [
        (Component::Service, service),
        (Component::Detection, detection),
        (Component::Restoration, restoration),
        (Component::Questions, questions),
        (Component::Reports, reports),
    ] {
        components.insert(c.as_str().to_string(), r4(value));
    }
    let total = w.service * service
        + w.detection * detection
        + w.restoration * restoration
        + w.questions * questions
        + w.reports * reports
        - penalties;
    Score {
        total: r2(total),
        components,
        penalties,
        ens_mwh: r4(ens_mwh),
        customers_off_peak: peak_off,
        time_to_detect_s: time_to_detect,
        detected_by,
        restored_at_s: restored_at,
        withdrawn: withdrawn.iter().map(|q| q.to_string()).collect(),
        line,
    }
}

/// How an attack step on the wire was detected (the score's detection component and the
/// after-action report read it).
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub step: String,
    /// The index of the step's attack entry in the journal.
    pub began: usize,
    /// The index of the first alert that detected it.
    pub first_alert: Option<usize>,
    /// Seconds from the step's start to that alert (the built-in IDS's time to detect).
    pub alert_ttd_s: Option<f64>,
    /// The index of the team's first act on it: its first action after that alert (an
    /// acknowledgement, an answer, a report, a response); an alert nobody acted on detects
    /// nothing for the team.
    pub noticed: Option<usize>,
    /// Seconds from the step's start to the team's act (the score's time to detect).
    pub ttd_s: Option<f64>,
    /// The rules whose alerts detected it, in the order they first did.
    pub rules: Vec<String>,
}

/// Each attack step on the wire, in the order they began, and how it was detected: an alert
/// detects a step when its evidence cites a capture frame of the step's own exchanges, at or
/// after the step's start and within a minute of its last command (an alert without evidence
/// counts when it is between the step's endpoints).
pub fn detections(ex: &Exercise, journal: &[Entry]) -> Vec<Detection> {
    let mut out = Vec::new();
    for (began, e) in journal.iter().enumerate() {
        let Entry::Attack { t: start, step, on_wire: true, .. } = e else { continue };
        let commands: Vec<StepCommand> = journal
            .iter()
            .filter_map(|c| match c {
                Entry::Command { t, src, dst, step: Some(s), frames, .. } if s == step => {
                    Some((*src, *dst, *t, *frames))
                }
                _ => None,
            })
            .collect();
        let last = commands.iter().map(|p| p.2).fold(*start, SimTime::max);
        let mut rules: Vec<String> = Vec::new();
        let mut first: Option<(SimTime, usize)> = None;
        for (i, a) in journal.iter().enumerate() {
            let Entry::Alert { alert } = a else { continue };
            let (t, rule, src, dst, evidence) = (&alert.t, alert.rule, alert.src, alert.dst, &alert.evidence);
            if *t < *start || t.0 > last.0.saturating_add(60_000_000) {
                continue;
            }
            let cites = commands
                .iter()
                .filter_map(|c| c.3)
                .any(|(lo, hi)| evidence.iter().any(|n| (lo..=hi).contains(n)));
            let between =
                commands.iter().any(|(s, d, _, _)| (src == *s && dst == *d) || (src == *d && dst == *s));
            if cites || (evidence.is_empty() && between) {
                if !rules.iter().any(|r| r == rule) {
                    rules.push(rule.to_string());
                }
                if first.is_none_or(|(f, _)| *t < f) {
                    first = Some((*t, i));
                }
            }
        }
        // The alerts that detected it: acknowledging one of them is acting on it.
        let alerts: Vec<String> = journal
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Entry::Alert { alert } if rules.iter().any(|r| r == alert.rule)))
            .map(|(i, _)| format!("ids:{i}"))
            .collect();
        let noticed = first
            .and_then(|(_, i)| (i + 1..journal.len()).find(|&k| acts_on(ex, &journal[k], step, &alerts)));
        out.push(Detection {
            step: step.clone(),
            began,
            first_alert: first.map(|f| f.1),
            alert_ttd_s: first.map(|(f, _)| r4(f.secs() - start.secs())),
            noticed,
            ttd_s: noticed.map(|k| r4(journal[k].t().secs() - start.secs())),
            rules,
        });
    }
    out
}

/// Whether an entry is the team acting on an attack step after its alert: acknowledging that
/// alarm (or all of them), answering a question about the step, filing a report, or a
/// response to the incident (a block, a clean, an account disabled, a crew, LOCAL, a breaker
/// operated); never a hint (asking is not noticing), a refused action, an answer about another
/// step, or shelving the alarm away.
fn acts_on(ex: &Exercise, e: &Entry, step: &str, alerts: &[String]) -> bool {
    use crate::journal::{Action as A, Actor};
    use exercise::AlarmOp;
    let Entry::Act {
        actor: Actor::User { .. } | Actor::Defender { .. }, action: A::Defend(d), outcome, ..
    } = e
    else {
        return false;
    };
    if matches!(outcome, Outcome::Refused(_)) {
        return false;
    }
    match d {
        DefenderAction::Hint { .. } => false,
        DefenderAction::Alarms { op: AlarmOp::Ack, keys } => keys.iter().any(|k| alerts.contains(k)),
        DefenderAction::Alarms { .. } => false,
        DefenderAction::AnswerQuestion { question, .. } => {
            ex.questions.iter().any(|q| q.id == *question && q.requires.iter().any(|s| s == step))
        }
        _ => true,
    }
}

/// A penalty: the journal entry it weighs, its points, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Penalty {
    pub index: usize,
    pub points: f64,
    pub why: &'static str,
}

/// The run's penalties, each with the entry it weighs (their sum is the score's).
pub fn penalties(ex: &Exercise, journal: &[Entry]) -> Vec<Penalty> {
    let listed: Vec<&str> = ex.allowlist.iter().map(String::as_str).chain([ex.scada.host.as_str()]).collect();
    // Where the attack's commands came from on the wire, and since when.
    let first_command_from = |addr: Ipv4Addr| {
        journal.iter().find_map(|e| match e {
            Entry::Command { by: Sender::Attacker, src, frames: Some(_), t, .. } if *src == addr => Some(*t),
            _ => None,
        })
    };
    // What the evidence showed on a host before `t`: its log artefacts, or commands from it.
    let evidence_on = |host: &str, t: SimTime| {
        let id = host_id(ex, host, journal).unwrap_or(host);
        journal.iter().take_while(|e| e.t() <= t).any(|e| matches!(e, Entry::It { host: h, .. } if h == id))
            || host_address(ex, host, journal).and_then(first_command_from).is_some_and(|c| c <= t)
    };
    // The listed hosts' addresses a block covers (a host named, or any prefix typed).
    let listed_blocked = |named: &str| -> Vec<Ipv4Addr> {
        let prefix = match host_address(ex, named, journal) {
            Some(a) => devices::Prefix { addr: a, len: 32 },
            None => match named.parse::<devices::Prefix>() {
                Ok(p) => p,
                Err(_) => return Vec::new(),
            },
        };
        listed.iter().filter_map(|h| host_address(ex, h, journal)).filter(|a| prefix.contains(*a)).collect()
    };
    let mut out = Vec::new();
    for (index, e) in journal.iter().enumerate() {
        match e {
            // Blocking a listed host is a false positive, unless the attack's commands had
            // come from it before (Industroyer's payload ran on the master's host).
            Entry::Act {
                action: crate::Action::Defend(DefenderAction::Block { host }),
                outcome: Outcome::Accepted,
                t,
                ..
            } if listed_blocked(host).into_iter().any(|a| first_command_from(a).is_none_or(|c| c > *t)) => {
                out.push(Penalty {
                    index,
                    points: 5.0,
                    why: "blocked a listed host the attack's commands had not come from",
                });
            }
            // Cleaning a host (taking it down to remove an implant) with nothing in the
            // evidence about it yet is a guess, paid for like a false block.
            Entry::Act {
                action: crate::Action::Defend(DefenderAction::Clean { host }),
                outcome: Outcome::Accepted,
                t,
                ..
            } if !evidence_on(host, *t) => {
                out.push(Penalty {
                    index,
                    points: 5.0,
                    why: "cleaned a host with nothing in the evidence about it",
                });
            }
            Entry::Command {
                by: Sender::Operator,
                operation: Operation::Breaker { close: false, .. },
                outcome,
                ..
            } if outcome.done() => {
                out.push(Penalty {
                    index,
                    points: 2.0,
                    why: "an operator opened a breaker (load shed by the team)",
                });
            }
            _ => {}
        }
    }
    out
}

/// What an expectation asks of a run: the failures, empty when it holds. `scores` holds the
/// totals of the other defenders' runs it may compare with.
pub fn check(
    ex: &Exercise,
    expect: &Expect,
    journal: &[Entry],
    s: &Score,
    scores: &BTreeMap<String, f64>,
) -> Vec<String> {
    let mut fails = Vec::new();
    if let Some(min) = expect.customers_off_min {
        if s.customers_off_peak < min {
            fails.push(format!("customers off at the peak: {} < {min}", s.customers_off_peak));
        }
    }
    if let Some(max) = expect.customers_off_max {
        if s.customers_off_peak > max {
            fails.push(format!("customers off at the peak: {} > {max}", s.customers_off_peak));
        }
    }
    if let Some(min) = expect.ens_min_mwh {
        if s.ens_mwh < min {
            fails.push(format!("energy not served: {} MWh < {min}", s.ens_mwh));
        }
    }
    if let Some(max) = expect.ens_max_mwh {
        if s.ens_mwh > max {
            fails.push(format!("energy not served: {} MWh > {max}", s.ens_mwh));
        }
    }
    if expect.wire_steps_detected {
        for step in &ex.attack {
            let Some(rules) = s.detected_by.get(&step.id) else { continue };
            let hijack = matches!(step.action, Action::HmiHijack { .. });
            let ok = if hijack { rules.iter().any(|r| r.starts_with("corr.")) } else { !rules.is_empty() };
            if !ok {
                fails.push(format!(
                    "attack step `{}` was not detected ({})",
                    step.id,
                    if hijack { "by correlation" } else { "by any rule" }
                ));
            }
        }
    }
    if let Some(within) = expect.restored_within {
        let end_off = journal.iter().rev().find_map(|e| match e {
            Entry::Supply { customers_off, .. } => Some(*customers_off),
            _ => None,
        });
        match (end_off, s.restored_at_s) {
            (Some(0), Some(at)) if at <= within.secs() => {}
            (Some(0), None) => {}
            (off, at) => fails.push(format!(
                "not restored within {within}: {} customers off at the end, restored at {at:?}",
                off.unwrap_or(0)
            )),
        }
    }
    let l = s.line.as_ref();
    let flag = |fails: &mut Vec<String>, want: Option<bool>, got: Option<u32>, what: &str| {
        if let Some(want) = want {
            let n = got.unwrap_or(0);
            if (n > 0) != want {
                fails
                    .push(format!("{what}: expected {}, {n} in the run", if want { "some" } else { "none" }));
            }
        }
    };
    flag(&mut fails, expect.overpressure, l.map(|l| l.overpressure_events), "segments above MAOP");
    flag(&mut fails, expect.rupture, l.map(|l| l.ruptures), "ruptures");
    flag(&mut fails, expect.relief_lifted, l.map(|l| l.relief_lifts), "relief valves lifting");
    if let (Some(max), Some(l)) = (expect.not_delivered_max_m3, l)
        && l.not_delivered_m3 > max
    {
        fails.push(format!("product not delivered: {:.0} m³ > {max}", l.not_delivered_m3));
    }
    if let (Some(max), Some(l)) = (expect.released_max_m3, l)
        && l.released_m3 > max
    {
        fails.push(format!("product released: {:.1} m³ > {max}", l.released_m3));
    }
    if let Some(other) = &expect.score_above {
        match scores.get(other) {
            Some(o) if s.total > *o => {}
            Some(o) => fails.push(format!("score {} is not above {other}'s {o}", s.total)),
            None => fails.push(format!("no run of `{other}` to compare with")),
        }
    }
    fails
}
