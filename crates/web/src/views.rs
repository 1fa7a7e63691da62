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
use journal_format::evidence::{Evidence, HmiPoint, Supply};
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

/// One total for everyone (trainees' and instructors' views), with the part that waits for
/// the instructors' grading shown as pending until the run ends: while it goes on, the total
/// leaves the incident reports out (scored against the campaign's truth, their moving
/// component would tell the attacker's address) and both views say how many points are
/// pending; once it has ended, the total is the whole score for everyone. Each penalty comes
/// with its reason and time.
pub fn scores(ex: &Exercise, journal: &[Entry]) -> (Value, Value) {
    let ended = journal.iter().rev().any(|e| matches!(e, Entry::End { .. }));
    let score = range::score::score(ex, journal);
    let penalties: Vec<Value> = range::score::penalties(ex, journal)
        .iter()
        .map(|p| json!({"t": journal.get(p.index).map_or(0.0, |e| e.t().secs()), "points": p.points, "why": p.why}))
        .collect();
    let pending = if ended { 0.0 } else { range::score::Component::Reports.weight(ex) };
    let mut trainee =
        serde_json::to_value(journal_format::score::trainee(&score.for_trainees(ex))).unwrap_or_default();
    let mut staff = serde_json::to_value(journal_format::score::view(&score)).unwrap_or_default();
    if ended {
        trainee["total"] = json!(score.total);
        trainee["components"]["reports"] = json!(score.component(range::score::Component::Reports));
    } else {
        staff["graded_total"] = staff["total"].clone();
        staff["total"] = trainee["total"].clone();
    }
    for v in [&mut trainee, &mut staff] {
        v["pending"] = json!(pending);
        v["penalty_list"] = json!(penalties);
        v["ended"] = json!(ended);
    }
    (trainee, staff)
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
            // Choices in an order of the team's own (the right one is not always first).
            let choices = match &q.answer {
                exercise::Answer::Choice { options, .. } => {
                    let mut o: Vec<&String> = options.iter().collect();
                    o.sort_by_key(|c| fnv(&[team, &q.id, c]));
                    json!(o)
                }
                _ => Value::Null,
            };
            json!({"id": q.id, "text": q.text, "points": q.points, "choices": choices, "hints": hints, "answers": mine,
                   "withdrawn": withdrawn.contains(&q.id.as_str())})
        })
        .collect()
}

/// FNV-1a of some strings: a stable order that is not the file's.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The SCADA master's point database as the HMI shows it: `[ca, ioa, value, stale]`, with
/// double points as 0-3 and floats rounded for display.
pub fn points(r: &crate::platform::Now<'_>) -> Vec<HmiPoint> {
    r.points().to_vec()
}

/// The run's frequency as the HMI shows it: the first topical frequency measurement.
pub fn hmi_frequency(points: &[HmiPoint]) -> Option<f64> {
    points
        .iter()
        .find(|p| p.ioa == devices::rtu::ioa::FREQUENCY_HZ && !p.stale() && p.value > 0.0)
        .map(|p| p.value)
}

/// A point on the wire to the page: `[ca, ioa, value, quality bits, seconds received]`.
pub fn point_json(p: &HmiPoint) -> Value {
    json!([p.ca, p.ioa, p.value, p.quality, p.at_s])
}

/// The instructors' view of an entry: the journal line itself, with its index.
pub fn instructor_entry(seq: usize, e: &Entry) -> Value {
    journal_format::entry::numbered(seq, e)
}
