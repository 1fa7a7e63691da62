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
//! Modules: `model` (the types, documented field by field: the JSON form, `null` for none;
//! `format` is `FORMAT`, bumped when a field changes meaning), `team` (one team's report from
//! its journal), `cohort`, `words` (actors, actions, outcomes in words), `html` and `svg`
//! (rendering), `mitigations`.

use exercise::Exercise;
use range::journal::Entry;

mod cohort;
pub mod escape;
pub mod html;
pub mod mitigations;
mod model;
mod svg;
mod team;
mod words;

pub use model::*;
pub use words::{action, actor, outcome};

/// One team's run: its name and its journal.
#[derive(Debug, Clone, Copy)]
pub struct TeamRun<'a> {
    pub name: &'a str,
    pub journal: &'a [Entry],
}

pub(crate) fn line(i: usize) -> Vec<usize> {
    vec![i + 1]
}

/// Builds the report of one exercise's runs (one per team).
pub fn build(ex: &Exercise, teams: &[TeamRun<'_>]) -> Report {
    let reports: Vec<TeamReport> = teams.iter().map(|t| team::team(ex, t)).collect();
    let cohort = cohort::cohort(ex, &reports);
    Report {
        format: FORMAT,
        exercise: ExerciseInfo {
            id: ex.id.clone(),
            title: ex.title.clone(),
            summary: ex.summary.clone(),
            grid: ex.grid.clone(),
            duration_s: ex.duration.secs(),
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
