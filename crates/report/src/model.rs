//! The report's model: what `build` computes, and the report's JSON form (field names as
//! written, `null` for none).

use std::collections::BTreeMap;

use serde::Serialize;

/// The version of the report's JSON form.
pub const FORMAT: u32 = 1;

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
    /// From the step's start to the first alert that detected it (the built-in IDS).
    pub after_s: f64,
    /// From the step's start to the team's first act after that alert (the score's time to
    /// detect); `None`: nobody acted on it.
    pub noticed_after_s: Option<f64>,
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
