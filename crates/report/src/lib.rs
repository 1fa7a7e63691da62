//! The after-action report: a pure function of the exercise and each team's journal
//! (`build`), rendered as one self-contained HTML document (`html::render`: inline CSS and
//! SVG, no script, nothing fetched, prints to PDF a section per page) and as JSON
//! (`json`: the model itself).
//!
//! Every figure names the journal entries it came from (`source`: 1-based line numbers of
//! the team's `journal.jsonl`, which holds one entry per line), so a debrief can be checked
//! against the record. What the report computes:
//!
//! - **Per team**: a merged timeline (attack steps with their ATT&CK for ICS ids, the
//!   attacker's IT activity and commands, IDS alerts, actions with their actors, injects,
//!   answers and hints, physical events); per attack step its start, the first alert that
//!   detected it (`range::score::detections`, the score's own rule) and its time to detect,
//!   and when it was **contained**: the first accepted action of the team (a user or its
//!   scripted defender) at or after the step began that cut what the step came through (one
//!   of its `unless` conditions, the block of the host or address it came from, the account
//!   it used disabled, or the host it ran on cleaned); the restoration (every customer back
//!   on supply after the last outage) and the time to it from the first outage; energy not served, peak
//!   customers off, the frequency nadir and zenith (from the minute samples' extremes); the
//!   score's components with their weights, each penalty and each hint's cost; each
//!   question with the team's answer, its verdict, the right answer and where in the
//!   evidence it was.
//! - **Series** for the plots: frequency (now and the extremes between samples), served
//!   against demanded load, customers off, every minute.
//! - **Cohort**: the teams side by side, the steps on the wire no team detected, and
//!   recommendations keyed to ATT&CK for ICS mitigations (`mitigations`) for the gaps found
//!   (a step not detected, a step not contained), each naming the evidence that triggered it.
//!
//! The JSON form (`json`) is documented by the types below (field names as written, `null`
//! for none); `format` is `FORMAT`, bumped when a field changes meaning.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use exercise::{Answer, DefenderAction, Exercise, Unless};
use gridsim::sim::SimTime;
use range::journal::{Action, Actor, CrewStatus, Entry, Outcome, Sender};
use range::score;
use serde::Serialize;

pub mod html;
pub mod mitigations;
mod svg;

/// The version of the report's JSON form.
pub const FORMAT: u32 = 1;

/// One team's run: its name and its journal.
#[derive(Debug, Clone, Copy)]
pub struct TeamRun<'a> {
    pub name: &'a str,
    pub journal: &'a [Entry],
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: u32,
    pub exercise: ExerciseInfo,
    pub teams: Vec<TeamReport>,
    pub cohort: Cohort,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExerciseInfo {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub grid: String,
    pub duration_s: f64,
    pub sources: Vec<String>,
    pub techniques: Vec<TechniqueInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TechniqueInfo {
    pub id: String,
    /// Its id in ATT&CK v19 where it changed.
    pub v19: Option<String>,
    pub name: String,
}

/// A number and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// None: never (not restored, no frequency recorded...).
    pub value: Option<f64>,
    /// The simulated time it refers to, seconds.
    pub t_s: Option<f64>,
    /// Journal lines (1-based) it was read from.
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamReport {
    pub team: String,
    pub defender: String,
    pub seed: u64,
    /// The run's address block.
    pub base: String,
    /// The run has its end entry.
    pub ended: bool,
    pub end_s: f64,
    pub entries: usize,
    pub figures: Figures,
    pub score: ScoreBreakdown,
    pub steps: Vec<StepReport>,
    pub questions: Vec<QuestionReport>,
    pub timeline: Vec<Item>,
    pub series: Series,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub ens_mwh: Figure,
    pub customers_off_peak: Figure,
    pub nadir_hz: Figure,
    pub zenith_hz: Figure,
    /// The first minute sample with customers off.
    pub first_outage_s: Figure,
    /// Every customer back on supply after the last outage (none: never, or never off).
    pub restored_at_s: Figure,
    /// From the first outage to that restoration (outages in between included).
    pub time_to_restore_s: Figure,
    /// IDS alerts in the run.
    pub alerts: Figure,
    /// Accepted actions of the team (users and its scripted defender).
    pub actions: Figure,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreBreakdown {
    pub total: f64,
    pub components: Vec<Component>,
    pub penalties: Vec<PenaltyItem>,
    pub penalty_points: f64,
    pub hint_costs: Vec<HintCost>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub name: String,
    /// 0 to 1.
    pub value: f64,
    pub weight: f64,
    /// value × weight.
    pub points: f64,
    /// The entries it was computed from: supply samples (service, restoration), the attack
    /// entries of the steps on the wire and the first alert detecting each (detection),
    /// answers (questions), incident reports (reports).
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PenaltyItem {
    pub t_s: f64,
    pub points: f64,
    pub why: String,
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HintCost {
    pub t_s: f64,
    pub question: String,
    pub cost: f64,
    /// Taken off the score: a hint costs only when its question was answered right and
    /// stands (and never more than the question's points, `QuestionReport::hint_cost`).
    pub deducted: bool,
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: String,
    pub name: String,
    pub kind: String,
    pub techniques: Vec<String>,
    pub on_wire: bool,
    /// When it began (none: it did not).
    pub began_s: Option<f64>,
    /// Why it did not happen, when it was prevented.
    pub prevented: Option<String>,
    pub detected: Option<Detected>,
    pub contained: Option<Contained>,
    /// Its attack (or prevented) entry.
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    pub t_s: f64,
    pub after_s: f64,
    pub rules: Vec<String>,
    /// The first alert that detected it.
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Contained {
    pub t_s: f64,
    pub after_s: f64,
    pub action: String,
    pub actor: String,
    pub source: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionReport {
    pub id: String,
    pub text: String,
    pub points: f64,
    pub withdrawn: bool,
    /// The team's last answer.
    pub answer: Option<String>,
    pub correct: bool,
    pub earned: f64,
    pub hint_cost: f64,
    /// Standing, and not answered right.
    pub missed: bool,
    /// The right answer (a figure of the run as it stood when answered, or at the end).
    pub right_answer: String,
    /// Where in the trainees' evidence the answer was.
    pub evidence: String,
    /// The answer's and the hints' entries.
    pub source: Vec<usize>,
}

/// The kinds of timeline items (the report's filters).
pub const KINDS: &[(&str, &str)] = &[
    ("attack", "attack steps and the attacker's IT activity"),
    ("command", "protocol commands on the wire"),
    ("alert", "IDS alerts"),
    ("action", "actions (team, scripted defender, instructors) and field crews"),
    ("answer", "answers and hints"),
    ("inject", "injects"),
    ("physical", "physical events (grid, devices)"),
];

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub t_s: f64,
    pub kind: &'static str,
    /// Who acted or sent (none for events).
    pub actor: Option<String>,
    /// What kind of actor: `user`, `defender` (scripted), `instructor`, `attacker`, `crew`,
    /// `ids`, `inject` (its sender), or for commands their sender (`operator`, `attacker`,
    /// `hijack`, `external`).
    pub actor_kind: Option<&'static str>,
    pub text: String,
    /// ATT&CK ids (attack steps, alerts).
    pub techniques: Vec<String>,
    pub source: Vec<usize>,
}

/// The minute samples.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    pub t_s: Vec<f64>,
    pub f_hz: Vec<f64>,
    pub f_min_hz: Vec<f64>,
    pub f_max_hz: Vec<f64>,
    pub served_mw: Vec<f64>,
    pub demand_mw: Vec<f64>,
    pub customers_off: Vec<u64>,
    pub ens_mwh: Vec<f64>,
    /// The nominal frequency.
    pub f0_hz: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cohort {
    pub teams: Vec<CohortRow>,
    /// Attack steps on the wire that began in some team's run and that no team detected.
    pub undetected: Vec<String>,
    pub recommendations: Vec<Recommendation>,
    /// Gaps whose techniques the mitigation table does not know (an uploaded exercise's).
    pub unmapped: Vec<Trigger>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CohortRow {
    pub team: String,
    pub total: f64,
    /// Points per component.
    pub components: BTreeMap<String, f64>,
    pub penalty_points: f64,
    pub ens_mwh: f64,
    pub customers_off_peak: f64,
    pub restored_at_s: Option<f64>,
    /// Seconds to detect each attack step on the wire (none: not detected or did not begin).
    pub time_to_detect_s: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub mitigation: String,
    pub name: String,
    pub description: String,
    /// The gaps that call for it.
    pub triggers: Vec<Trigger>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    pub team: String,
    pub step: String,
    /// The step's techniques that call for the mitigation (comma-separated).
    pub technique: String,
    /// `not detected` or `not contained`.
    pub gap: &'static str,
    pub source: Vec<usize>,
}

fn secs(t: SimTime) -> f64 {
    t.0 as f64 / 1e6
}

fn line(i: usize) -> Vec<usize> {
    vec![i + 1]
}

/// An actor in words.
pub fn actor(a: &Actor) -> String {
    match a {
        Actor::User { user, role, .. } => format!("{user} ({})", role.as_str()),
        Actor::Instructor { name } => format!("instructor {name}"),
        Actor::Defender { name } => format!("scripted defender `{name}`"),
        Actor::Attacker => "attacker".into(),
    }
}

/// The kind of an actor (`Item::actor_kind`).
fn actor_kind(a: &Actor) -> &'static str {
    match a {
        Actor::User { .. } => "user",
        Actor::Instructor { .. } => "instructor",
        Actor::Defender { .. } => "defender",
        Actor::Attacker => "attacker",
    }
}

/// An action in words.
pub fn action(a: &Action) -> String {
    match a {
        Action::Defend(d) => defend(d),
        Action::FireInject { inject } => format!("fire inject `{inject}`"),
        Action::SkipStep { step } => format!("skip step `{step}`"),
        Action::TriggerStep { step } => format!("trigger step `{step}`"),
        Action::Pause => "pause".into(),
        Action::Resume => "resume".into(),
        Action::Speed { factor: Some(f) } => format!("speed {f}x"),
        Action::Speed { factor: None } => "speed max".into(),
    }
}

fn defend(d: &DefenderAction) -> String {
    let oc = |close: bool| if close { "close" } else { "open" };
    match d {
        DefenderAction::Operate { point, close } => {
            format!("{} station {} IOA {} (HMI)", oc(*close), point.station, point.ioa)
        }
        DefenderAction::CloseOpened => "re-close what was opened".into(),
        DefenderAction::DispatchCrew { point, close } => {
            format!("crew to {} station {} IOA {} by hand", oc(*close), point.station, point.ioa)
        }
        DefenderAction::Block { host } => format!("block {host}"),
        DefenderAction::DisableAccount { account } => format!("disable account {account}"),
        DefenderAction::Clean { host } => format!("clean {host}"),
        DefenderAction::RestoreFirmware { substation } => format!("replace {substation}'s gateway"),
        DefenderAction::Reboot { device } => format!("reboot device x.x.{}.{}", device.0, device.1),
        DefenderAction::UpsOn { substation } => format!("switch {substation}'s UPS on"),
        DefenderAction::AckAlarms => "acknowledge alarms".into(),
        DefenderAction::Local { device } => format!("device x.x.{}.{} to LOCAL", device.0, device.1),
        DefenderAction::Hint { question, index } => {
            format!("hint {} of question `{question}`", index.saturating_add(1))
        }
        DefenderAction::AnswerQuestion { question, value } => format!("answer `{question}`: {value}"),
        DefenderAction::Report { text } => format!("incident report: {text}"),
    }
}

/// An outcome in words.
pub fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Accepted => "accepted".into(),
        Outcome::Refused(why) => format!("refused: {why}"),
        Outcome::Hint { cost, .. } => format!("hint given (costs {cost})"),
        Outcome::Verdict { correct: true } => "right".into(),
        Outcome::Verdict { correct: false } => "wrong".into(),
        Outcome::Command(d) => d.describe(),
        Outcome::Reclose { commanded, crews } => {
            format!("{commanded} breakers commanded, {crews} crews sent")
        }
    }
}

/// The team's own actors: its users and its scripted defender.
fn team_actor(a: &Actor) -> bool {
    matches!(a, Actor::User { .. } | Actor::Defender { .. })
}

/// Builds the report of one exercise's runs (one per team).
pub fn build(ex: &Exercise, teams: &[TeamRun<'_>]) -> Report {
    let reports: Vec<TeamReport> = teams.iter().map(|t| team(ex, t)).collect();
    let cohort = cohort(ex, &reports);
    Report {
        format: FORMAT,
        exercise: ExerciseInfo {
            id: ex.id.clone(),
            title: ex.title.clone(),
            summary: ex.summary.clone(),
            grid: ex.grid.clone(),
            duration_s: secs(ex.duration),
            sources: ex.sources.clone(),
            techniques: ex
                .techniques
                .iter()
                .map(|t| TechniqueInfo { id: t.id.clone(), v19: t.v19.clone(), name: t.name.clone() })
                .collect(),
        },
        teams: reports,
        cohort,
    }
}

/// The report as pretty JSON.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

fn team(ex: &Exercise, run: &TeamRun<'_>) -> TeamReport {
    let j = run.journal;
    let (defender, seed, base) = j
        .iter()
        .find_map(|e| match e {
            Entry::Start { defender, seed, base, .. } => Some((defender.clone(), *seed, *base)),
            _ => None,
        })
        .unwrap_or(("none".into(), 0, Ipv4Addr::UNSPECIFIED));
    let end = j.iter().rev().find_map(|e| match e {
        Entry::End { t } => Some(*t),
        _ => None,
    });
    let s = score::score(ex, j);
    let series = series(j);
    let questions = questions(ex, j, base);
    TeamReport {
        team: run.name.to_string(),
        defender,
        seed,
        base: base.to_string(),
        ended: end.is_some(),
        end_s: secs(end.unwrap_or_else(|| j.last().map_or(SimTime(0), Entry::t))),
        entries: j.len(),
        figures: figures(j, &s),
        score: breakdown(ex, j, &s, &questions),
        steps: steps(ex, j, base),
        questions,
        timeline: timeline(j),
        series,
    }
}

fn series(j: &[Entry]) -> Series {
    let mut s = Series { f0_hz: 50.0, ..Series::default() };
    let mut first = true;
    for e in j {
        if let Entry::Supply { t, served_mw, demand_mw, customers_off, ens_mwh, f_hz, f_min_hz, f_max_hz } = e
        {
            // The nominal frequency: the first sample's (the run starts in balance).
            if first && *f_hz > 0.0 {
                s.f0_hz = if (f_hz - 60.0).abs() < (f_hz - 50.0).abs() { 60.0 } else { 50.0 };
            }
            first = false;
            s.t_s.push(secs(*t));
            s.f_hz.push(*f_hz);
            s.f_min_hz.push(*f_min_hz);
            s.f_max_hz.push(*f_max_hz);
            s.served_mw.push(*served_mw);
            s.demand_mw.push(*demand_mw);
            s.customers_off.push(*customers_off);
            s.ens_mwh.push(*ens_mwh);
        }
    }
    s
}

fn figures(j: &[Entry], s: &score::Score) -> Figures {
    let supply: Vec<(usize, SimTime, u64, f64, f64, f64)> = j
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Entry::Supply { t, customers_off, ens_mwh, f_min_hz, f_max_hz, .. } => {
                Some((i, *t, *customers_off, *ens_mwh, *f_min_hz, *f_max_hz))
            }
            _ => None,
        })
        .collect();
    let none = || Figure { value: None, t_s: None, source: Vec::new() };
    let at = |x: &(usize, SimTime, u64, f64, f64, f64), v: f64| Figure {
        value: Some(v),
        t_s: Some(secs(x.1)),
        source: line(x.0),
    };
    let ens = supply.last().map_or_else(none, |x| at(x, x.3));
    let peak = supply
        .iter()
        .filter(|x| x.2 == s.customers_off_peak)
        .min_by_key(|x| x.0)
        .map_or_else(none, |x| at(x, x.2 as f64));
    // Extremes among samples with something energised (0 Hz: a blackout, no frequency).
    let nadir = supply
        .iter()
        .filter(|x| x.4 > 0.0)
        .fold(None, |b: Option<&(usize, SimTime, u64, f64, f64, f64)>, x| match b {
            Some(b) if b.4 <= x.4 => Some(b),
            _ => Some(x),
        })
        .map_or_else(none, |x| at(x, x.4));
    let zenith = supply
        .iter()
        .filter(|x| x.5 > 0.0)
        .fold(None, |b: Option<&(usize, SimTime, u64, f64, f64, f64)>, x| match b {
            Some(b) if b.5 >= x.5 => Some(b),
            _ => Some(x),
        })
        .map_or_else(none, |x| at(x, x.5));
    let first_off = supply.iter().find(|x| x.2 > 0).map_or_else(none, |x| at(x, secs(x.1)));
    let restored = match s.restored_at_s {
        Some(r) => supply.iter().find(|x| (secs(x.1) - r).abs() < 1e-9).map_or_else(none, |x| at(x, r)),
        None => none(),
    };
    let to_restore = match (restored.value, first_off.value) {
        (Some(r), Some(f)) => Figure {
            value: Some(r - f),
            t_s: Some(r),
            source: [first_off.source.clone(), restored.source.clone()].concat(),
        },
        _ => none(),
    };
    let alert_lines: Vec<usize> =
        j.iter().enumerate().filter(|(_, e)| matches!(e, Entry::Alert { .. })).map(|(i, _)| i + 1).collect();
    let action_lines: Vec<usize> = j
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(e, Entry::Act { actor, outcome, .. } if team_actor(actor) && !matches!(outcome, Outcome::Refused(_)))
        })
        .map(|(i, _)| i + 1)
        .collect();
    Figures {
        ens_mwh: ens,
        customers_off_peak: peak,
        nadir_hz: nadir,
        zenith_hz: zenith,
        first_outage_s: first_off,
        restored_at_s: restored,
        time_to_restore_s: to_restore,
        alerts: Figure { value: Some(alert_lines.len() as f64), t_s: None, source: alert_lines },
        actions: Figure { value: Some(action_lines.len() as f64), t_s: None, source: action_lines },
    }
}

fn breakdown(ex: &Exercise, j: &[Entry], s: &score::Score, questions: &[QuestionReport]) -> ScoreBreakdown {
    let w = &ex.scoring;
    let lines = |f: &dyn Fn(&Entry) -> bool| -> Vec<usize> {
        j.iter().enumerate().filter(|(_, e)| f(e)).map(|(i, _)| i + 1).collect()
    };
    let supply = lines(&|e| matches!(e, Entry::Supply { .. }));
    let mut detection: Vec<usize> = Vec::new();
    for d in score::detections(j) {
        detection.push(d.began + 1);
        detection.extend(d.first_alert.map(|a| a + 1));
    }
    let answers: Vec<usize> =
        questions.iter().filter(|q| !q.withdrawn).filter_map(|q| q.source.first().copied()).collect();
    let answers = {
        // Only answer entries (a question's source lists its answer first, then its hints).
        let mut a: Vec<usize> =
            answers.into_iter().filter(|l| matches!(j[l - 1], Entry::Answer { .. })).collect();
        a.sort_unstable();
        a
    };
    let reports = lines(&|e| matches!(e, Entry::Report { .. }));
    let source_of = |name: &str| match name {
        "service" | "restoration" => supply.clone(),
        "detection" => detection.clone(),
        "questions" => answers.clone(),
        "reports" => reports.clone(),
        _ => Vec::new(),
    };
    let weights = [
        ("service", w.service),
        ("detection", w.detection),
        ("restoration", w.restoration),
        ("questions", w.questions),
        ("reports", w.reports),
    ];
    let components = weights
        .iter()
        .map(|(name, weight)| {
            let value = s.components.get(*name).copied().unwrap_or(0.0);
            Component {
                name: name.to_string(),
                value,
                weight: *weight,
                points: r2(value * weight),
                source: source_of(name),
            }
        })
        .collect();
    let penalties: Vec<PenaltyItem> = score::penalties(ex, j)
        .into_iter()
        .map(|p| PenaltyItem {
            t_s: secs(j[p.index].t()),
            points: p.points,
            why: p.why.to_string(),
            source: line(p.index),
        })
        .collect();
    let counted = |q: &str| questions.iter().any(|x| x.id == q && x.correct && !x.withdrawn);
    let hint_costs = j
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Entry::Hint { t, question, cost, .. } => Some(HintCost {
                t_s: secs(*t),
                question: question.clone(),
                cost: *cost,
                deducted: counted(question),
                source: line(i),
            }),
            _ => None,
        })
        .collect();
    ScoreBreakdown {
        total: s.total,
        components,
        penalty_points: penalties.iter().map(|p| p.points).sum(),
        penalties,
        hint_costs,
    }
}

fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0 + 0.0
}

/// What a step came through, by what cuts it: the hosts whose block stops it (where it
/// came from), the hosts whose cleaning stops it (where it runs or came from), the accounts
/// it used, and the addresses its commands came from (in the run's block).
struct Through {
    block: Vec<String>,
    clean: Vec<String>,
    accounts: Vec<String>,
    addrs: Vec<Ipv4Addr>,
}

fn through(j: &[Entry], step: &exercise::Step) -> Through {
    let mut t = Through { block: Vec::new(), clean: Vec::new(), accounts: Vec::new(), addrs: Vec::new() };
    for u in &step.unless {
        match u {
            Unless::AccountDisabled(a) => t.accounts.push(a.clone()),
            Unless::Blocked(h) => t.block.push(h.clone()),
            Unless::Cleaned(h) => t.clean.push(h.clone()),
        }
    }
    match &step.action {
        exercise::Action::HmiHijack { account, .. } => t.accounts.push(account.clone()),
        // An IT event is logged on `host` (the VPN concentrator, a workstation) and came
        // from `from`: cleaning the host or blocking the source cuts it.
        exercise::Action::It(it) => {
            t.accounts.extend(it.account.clone());
            t.clean.push(it.host.clone());
            t.block.extend(it.from.clone());
        }
        a => {
            if let Some(h) = a.from_host() {
                // Frames on the wire come from the host: a block or a clean cuts them; a
                // wipe or a killed process runs on it: only cleaning it does.
                if a.on_wire() {
                    t.block.push(h.to_string());
                }
                t.clean.push(h.to_string());
            }
        }
    }
    for e in j {
        if let Entry::Command { by: Sender::Attacker, step: Some(s), src, .. } = e {
            if *s == step.id && !t.addrs.contains(src) {
                t.addrs.push(*src);
            }
        }
    }
    t
}

fn steps(ex: &Exercise, j: &[Entry], base: Ipv4Addr) -> Vec<StepReport> {
    let detections: BTreeMap<String, score::Detection> =
        score::detections(j).into_iter().map(|d| (d.step.clone(), d)).collect();
    let addr_of = |host: &str| ex.host(host).map(|h| h.addr.in_block(base));
    ex.attack
        .iter()
        .map(|step| {
            let began = j.iter().enumerate().find_map(|(i, e)| match e {
                Entry::Attack { t, step: s, .. } if *s == step.id => Some((i, *t)),
                _ => None,
            });
            let prevented = j.iter().enumerate().find_map(|(i, e)| match e {
                Entry::AttackPrevented { step: s, reason, .. } if *s == step.id => Some((i, reason.clone())),
                _ => None,
            });
            let detected = detections.get(&step.id).and_then(|d| {
                let i = d.first_alert?;
                Some(Detected {
                    t_s: secs(j[i].t()),
                    after_s: d.ttd_s.unwrap_or(0.0),
                    rules: d.rules.clone(),
                    source: line(i),
                })
            });
            let contained = began.and_then(|(bi, t0)| {
                let th = through(j, step);
                j.iter().enumerate().skip(bi).find_map(|(i, e)| {
                    let Entry::Act { t, actor: who, action: Action::Defend(d), outcome, .. } = e else {
                        return None;
                    };
                    if !team_actor(who) || matches!(outcome, Outcome::Refused(_)) {
                        return None;
                    }
                    let cuts = match d {
                        DefenderAction::Block { host } => {
                            th.block.contains(host) || addr_of(host).is_some_and(|a| th.addrs.contains(&a))
                        }
                        DefenderAction::DisableAccount { account } => th.accounts.contains(account),
                        DefenderAction::Clean { host } => th.clean.contains(host),
                        _ => false,
                    };
                    cuts.then(|| Contained {
                        t_s: secs(*t),
                        after_s: secs(*t) - secs(t0),
                        action: defend(d),
                        actor: actor(who),
                        source: line(i),
                    })
                })
            });
            let (kind, on_wire) = (step.action.kind().to_string(), step.action.on_wire());
            StepReport {
                step: step.id.clone(),
                name: step.name.clone(),
                kind,
                techniques: step.techniques.clone(),
                on_wire,
                began_s: began.map(|b| secs(b.1)),
                prevented: prevented.as_ref().map(|p| p.1.clone()),
                detected,
                contained,
                source: began.map(|b| b.0).or(prevented.map(|p| p.0)).map(line).unwrap_or_default(),
            }
        })
        .collect()
}

/// Where a figure of the run shows in the evidence (the default of a question's `evidence`).
fn figure_evidence(figure: &str) -> &'static str {
    match figure {
        "customers_off_peak" => "the supply figures (evidence/supply.csv, customers_off): their peak",
        "ens_mwh" => "the supply figures (evidence/supply.csv, ens_mwh): the last row",
        "breakers_opened" => {
            "the SCADA master's command log set against the HMI's journal (evidence/hmi.jsonl): the opens nobody in the control room gave"
        }
        "first_command_station" => {
            "the SCADA master's command log (evidence/hmi.jsonl) or the capture: the first command's common address"
        }
        "attacker_address" => "the alerts and the capture: the source of the commands",
        "vpn_source" => "the VPN concentrator's log (evidence/logs.jsonl): the login's source address",
        "stations_commanded" => "the capture: the common addresses of the commands' ASDUs",
        _ => "the run's figures",
    }
}

fn questions(ex: &Exercise, j: &[Entry], base: Ipv4Addr) -> Vec<QuestionReport> {
    let withdrawn = score::withdrawn(ex, j);
    ex.questions
        .iter()
        .map(|q| {
            let last = j.iter().enumerate().rev().find_map(|(i, e)| match e {
                Entry::Answer { question, value, .. } if *question == q.id => Some((i, value.clone())),
                _ => None,
            });
            let hints: Vec<(usize, f64)> = j
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match e {
                    Entry::Hint { question, cost, .. } if *question == q.id => Some((i, *cost)),
                    _ => None,
                })
                .collect();
            let hint_cost: f64 = hints.iter().map(|h| h.1).sum();
            let is_withdrawn = withdrawn.contains(&q.id.as_str());
            let correct = last.as_ref().is_some_and(|(i, v)| score::judge(ex, q, v, &j[..=*i]));
            let earned = if correct && !is_withdrawn { (q.points - hint_cost).max(0.0) } else { 0.0 };
            // A figure of the run as it stood when answered (as it was judged), else at the end.
            let upto = last.as_ref().map_or(j, |(i, _)| &j[..=*i]);
            let right_answer = match &q.answer {
                Answer::Host(h) => ex.host(h).map_or_else(
                    || format!("the address of {h}"),
                    |x| format!("{} ({h})", x.addr.in_block(base)),
                ),
                Answer::Exact(x) => x.clone(),
                Answer::Regex(x) => x.split('|').map(str::trim).collect::<Vec<_>>().join(" or "),
                Answer::Number { value, tolerance } => format!("{value} (± {tolerance})"),
                Answer::Choice { correct, .. } => correct.clone(),
                Answer::FromRun { figure, tolerance } => match score::run_figure(upto, figure) {
                    Some(v) if *tolerance > 0.0 => format!("{v} (within {} %)", tolerance * 100.0),
                    Some(v) => v,
                    None => "(the run has no such figure)".into(),
                },
            };
            let evidence = q.evidence.clone().unwrap_or_else(|| match &q.answer {
                Answer::FromRun { figure, .. } => figure_evidence(figure).to_string(),
                _ => "(the exercise does not say)".to_string(),
            });
            let mut source: Vec<usize> = last.as_ref().map(|l| l.0 + 1).into_iter().collect();
            source.extend(hints.iter().map(|h| h.0 + 1));
            QuestionReport {
                id: q.id.clone(),
                text: q.text.clone(),
                points: q.points,
                withdrawn: is_withdrawn,
                answer: last.map(|l| l.1),
                correct,
                earned,
                hint_cost,
                missed: !is_withdrawn && !correct,
                right_answer,
                evidence,
                source,
            }
        })
        .collect()
}

fn timeline(j: &[Entry]) -> Vec<Item> {
    let mut out = Vec::new();
    for (i, e) in j.iter().enumerate() {
        let t_s = secs(e.t());
        let item = |kind: &'static str,
                    actor: Option<(&'static str, String)>,
                    text: String,
                    techniques: Vec<String>| {
            let (actor_kind, actor) = actor.map_or((None, None), |(k, a)| (Some(k), Some(a)));
            Item { t_s, kind, actor, actor_kind, text, techniques, source: line(i) }
        };
        out.push(match e {
            Entry::Attack { step, name, techniques, .. } => item(
                "attack",
                Some(("attacker", "attacker".into())),
                format!("step `{step}` begins: {name}"),
                techniques.clone(),
            ),
            Entry::AttackPrevented { step, reason, .. } => item(
                "attack",
                Some(("attacker", "attacker".into())),
                format!("step `{step}` does not happen: {reason}"),
                vec![],
            ),
            Entry::It { step, host, artefact, .. } => item(
                "attack",
                Some(("attacker", "attacker".into())),
                format!("`{step}` on {host}: {artefact}"),
                vec![],
            ),
            Entry::Command { protocol, src, dst, station, operation, by, outcome, frames, .. } => item(
                "command",
                Some((by.as_str(), by.as_str().to_string())),
                format!(
                    "{} {src} → {dst}{}: {} → {}{}",
                    protocol.as_str(),
                    station.map(|s| format!(" station {s}")).unwrap_or_default(),
                    operation.describe(),
                    outcome.describe(),
                    frames.map(|(a, b)| format!(" (frames {a}-{b})")).unwrap_or_default()
                ),
                vec![],
            ),
            Entry::Alert { alert } => item(
                "alert",
                Some(("ids", "IDS".into())),
                format!(
                    "{}: {} ({} → {}{})",
                    alert.rule,
                    alert.message,
                    alert.src,
                    alert.dst,
                    match alert.evidence.as_slice() {
                        [] => String::new(),
                        [f] => format!(", frame {f}"),
                        [f, .., l] => format!(", frames {f}…{l}"),
                    }
                ),
                alert.techniques.iter().map(|t| t.to_string()).collect(),
            ),
            Entry::Act { actor: who, action: a, outcome: o, .. } => {
                let kind = match a {
                    Action::Defend(DefenderAction::AnswerQuestion { .. } | DefenderAction::Hint { .. }) => {
                        "answer"
                    }
                    _ => "action",
                };
                item(
                    kind,
                    Some((actor_kind(who), actor(who))),
                    format!("{} → {}", action(a), outcome(o)),
                    vec![],
                )
            }
            Entry::Hmi { actor: who, point, close, .. } => item(
                "action",
                Some((actor_kind(who), actor(who))),
                format!(
                    "HMI: {} station {} IOA {}",
                    if *close { "close" } else { "open" },
                    point.station,
                    point.ioa
                ),
                vec![],
            ),
            Entry::Crew { point, close, status, .. } => item(
                "action",
                Some(("crew", "field crew".into())),
                format!(
                    "{} station {} IOA {}: {}",
                    if *close { "close" } else { "open" },
                    point.station,
                    point.ioa,
                    match status {
                        CrewStatus::Dispatched { on_site } => format!("dispatched, on site at {on_site}"),
                        CrewStatus::OperatedByHand => "operated by hand".into(),
                        CrewStatus::CouldNotOperate => "could not operate".into(),
                        CrewStatus::NoSuchBreaker => "no such breaker".into(),
                    }
                ),
                vec![],
            ),
            Entry::Inject { channel, from, subject, .. } => {
                item("inject", Some(("inject", from.clone())), format!("{channel}: {subject}"), vec![])
            }
            Entry::Grid { event } => item(
                "physical",
                None,
                format!(
                    "{} {} ({}){}{}",
                    event.kind.as_str(),
                    event.element,
                    event.cause.as_str(),
                    event.mw.map(|m| format!(", {m:.1} MW")).unwrap_or_default(),
                    event.customers.map(|c| format!(", {c} customers")).unwrap_or_default()
                ),
                vec![],
            ),
            Entry::Device { device, addr, change, .. } => {
                item("physical", None, format!("{device} ({addr}): {}", change.describe()), vec![])
            }
            // Supply is plotted; answers, hints and reports show through their action entry;
            // live bytes and the start and end frame the run.
            Entry::Start { .. }
            | Entry::Supply { .. }
            | Entry::Answer { .. }
            | Entry::Hint { .. }
            | Entry::Report { .. }
            | Entry::Live { .. }
            | Entry::End { .. } => continue,
        });
    }
    out
}

fn cohort(ex: &Exercise, teams: &[TeamReport]) -> Cohort {
    let wire_steps: Vec<&exercise::Step> = ex.attack.iter().filter(|s| s.action.on_wire()).collect();
    let rows = teams
        .iter()
        .map(|t| CohortRow {
            team: t.team.clone(),
            total: t.score.total,
            components: t.score.components.iter().map(|c| (c.name.clone(), c.points)).collect(),
            penalty_points: t.score.penalty_points,
            ens_mwh: t.figures.ens_mwh.value.unwrap_or(0.0),
            customers_off_peak: t.figures.customers_off_peak.value.unwrap_or(0.0),
            restored_at_s: t.figures.restored_at_s.value,
            time_to_detect_s: wire_steps
                .iter()
                .map(|s| {
                    let d = t.steps.iter().find(|r| r.step == s.id).and_then(|r| r.detected.as_ref());
                    (s.id.clone(), d.map(|d| d.after_s))
                })
                .collect(),
        })
        .collect();
    let undetected = wire_steps
        .iter()
        .filter(|s| {
            let began: Vec<&StepReport> = teams
                .iter()
                .filter_map(|t| t.steps.iter().find(|r| r.step == s.id && r.began_s.is_some()))
                .collect();
            !began.is_empty() && began.iter().all(|r| r.detected.is_none())
        })
        .map(|s| s.id.clone())
        .collect();
    // Gaps: a step that began and was not detected (on the wire), or not contained.
    let mut recs: BTreeMap<&'static str, Vec<Trigger>> = BTreeMap::new();
    let mut unmapped: Vec<Trigger> = Vec::new();
    for t in teams {
        for r in t.steps.iter().filter(|r| r.began_s.is_some()) {
            let mut gaps = Vec::new();
            if r.on_wire && r.detected.is_none() {
                gaps.push("not detected");
            }
            if r.contained.is_none() {
                gaps.push("not contained");
            }
            for gap in gaps {
                for tech in &r.techniques {
                    if mitigations::direct(tech).next().is_none() {
                        unmapped.push(Trigger {
                            team: t.team.clone(),
                            step: r.step.clone(),
                            technique: tech.clone(),
                            gap,
                            source: r.source.clone(),
                        });
                    }
                    for m in mitigations::direct(tech) {
                        let list = recs.entry(m).or_default();
                        // One trigger per gap: a step's techniques (an id and its v19
                        // successor, say) that call for the same mitigation are listed together.
                        match list.last_mut() {
                            Some(last) if last.team == t.team && last.step == r.step && last.gap == gap => {
                                last.technique = format!("{}, {tech}", last.technique);
                            }
                            _ => list.push(Trigger {
                                team: t.team.clone(),
                                step: r.step.clone(),
                                technique: tech.clone(),
                                gap,
                                source: r.source.clone(),
                            }),
                        }
                    }
                }
            }
        }
    }
    let mut recommendations: Vec<Recommendation> = recs
        .into_iter()
        .filter_map(|(id, triggers)| {
            let m = mitigations::mitigation(id)?;
            Some(Recommendation {
                mitigation: id.to_string(),
                name: m.name.to_string(),
                description: m.description.to_string(),
                triggers,
            })
        })
        .collect();
    // The mitigations that answer the most gaps first (then by id, as the map gave them).
    recommendations.sort_by_key(|r| std::cmp::Reverse(r.triggers.len()));
    Cohort { teams: rows, undetected, recommendations, unmapped }
}
