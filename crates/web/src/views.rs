//! What each audience sees of a team's journal.
//!
//! Trainees get evidence: IDS alerts, the IT log artefacts, injects, the HMI's own records
//! (the commands its SCADA master sent and how the stations answered, whoever was at the
//! keyboard), their team's own actions and crews, and the supply figures. Never a field that
//! attributes (`by`, `step`, attack entries, prevented steps, device truths, the grid's own
//! events): those are the instructors' (`instructor_entry`, the journal's JSON line).
//!
//! Events are numbered by their journal index, so a client that reconnects asks for what
//! came after the last number it saw and misses nothing.

use exercise::Exercise;
use journal_format::evidence::{Evidence, Supply};
use journal_format::score::TraineeScoreJson;
use range::Entry;
use range::journal::Actor;
use serde_json::{Value, json};

/// A journal entry as a trainee of `team` may see it (`None`: not theirs to see): the
/// evidence view (`journal_format::evidence`), less the supply samples (sent on their own).
pub fn trainee_event(seq: usize, e: &Entry, team: &str, ex: &Exercise) -> Option<Evidence> {
    if matches!(e, Entry::Supply { .. }) {
        return None;
    }
    journal_format::evidence::event(seq, e, Some(team), ex)
}

/// Evidence events after `since` (journal index), at most `limit`.
pub fn trainee_events(
    journal: &[Entry],
    since: Option<usize>,
    team: &str,
    ex: &Exercise,
    limit: usize,
) -> Vec<Evidence> {
    let from = since.map_or(0, |s| s.saturating_add(1));
    journal
        .iter()
        .enumerate()
        .skip(from)
        .filter_map(|(i, e)| trainee_event(i, e, team, ex))
        .take(limit)
        .collect()
}

/// The latest supply figures (sampled every simulated minute; `None` before the first).
pub fn supply(journal: &[Entry]) -> Option<Supply> {
    journal_format::evidence::supply(journal)
}

/// A team's score as its trainees see it (`range::score::Score::for_trainees`).
pub fn trainee_score(ex: &Exercise, journal: &[Entry]) -> TraineeScoreJson {
    journal_format::score::trainee(&range::score::score(ex, journal).for_trainees(ex))
}

/// The whole score (instructors), in its JSON form (`journal_format::score::ScoreJson`).
pub fn full_score(ex: &Exercise, journal: &[Entry]) -> Value {
    let score = range::score::score(ex, journal);
    serde_json::to_value(journal_format::score::view(&score)).unwrap_or_default()
}

/// The team's questions: text, points, hints (cost always, text once taken), its answers and
/// verdicts. Never the right answer.
pub fn questions(ex: &Exercise, journal: &[Entry], team: &str) -> Value {
    // Decided once the run has ended (`score::withdrawn`).
    let withdrawn = range::score::withdrawn(ex, journal);
    let mut taken: Vec<(String, usize, String)> = Vec::new();
    let mut answers: Vec<(String, String, bool)> = Vec::new();
    for e in journal {
        if let Entry::Act { actor: Actor::User { team: t, .. }, action, outcome, .. } = e {
            if t != team {
                continue;
            }
            use exercise::DefenderAction as D;
            use range::journal::{Action, Outcome};
            match (action, outcome) {
                (Action::Defend(D::Hint { question, index }), Outcome::Hint { text, .. }) => {
                    taken.push((question.clone(), *index, text.clone()))
                }
                (Action::Defend(D::AnswerQuestion { question, value }), Outcome::Verdict { correct }) => {
                    answers.push((question.clone(), value.clone(), *correct))
                }
                _ => {}
            }
        }
    }
    ex.questions
        .iter()
        .map(|q| {
            let hints: Vec<Value> = q
                .hints
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let text = taken.iter().find(|(qq, ii, _)| qq == &q.id && *ii == i).map(|x| x.2.clone());
                    json!({"index": i, "cost": h.cost, "taken": text.is_some(), "text": text})
                })
                .collect();
            let mine: Vec<Value> = answers
                .iter()
                .filter(|a| a.0 == q.id)
                .map(|a| json!({"value": a.1, "correct": a.2}))
                .collect();
            let choices = match &q.answer {
                exercise::Answer::Choice { options, .. } => json!(options),
                _ => Value::Null,
            };
            json!({"id": q.id, "text": q.text, "points": q.points, "choices": choices, "hints": hints, "answers": mine,
                   "withdrawn": withdrawn.contains(&q.id.as_str())})
        })
        .collect()
}

/// The SCADA master's point database as the HMI shows it: `[ca, ioa, value, stale]`, with
/// double points as 0-3 and floats rounded for display.
pub fn points(r: &crate::platform::Now<'_>) -> Vec<(u16, u32, f64, bool)> {
    r.points().to_vec()
}

/// The run's frequency as the HMI shows it: the first topical frequency measurement.
pub fn hmi_frequency(points: &[(u16, u32, f64, bool)]) -> Option<f64> {
    points.iter().find(|p| p.1 == devices::rtu::ioa::FREQUENCY_HZ && !p.3 && p.2 > 0.0).map(|p| p.2)
}

/// The instructors' view of an entry: the journal line itself, with its index.
pub fn instructor_entry(seq: usize, e: &Entry) -> Value {
    journal_format::entry::numbered(seq, e)
}
