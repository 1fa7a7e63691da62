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
use range::Entry;
use range::journal::{Actor, Sender};
use serde_json::{Value, json};

fn secs(t: gridsim::sim::SimTime) -> f64 {
    t.0 as f64 / 1e6
}

/// A journal entry as a trainee of `team` may see it (`None`: not theirs to see).
pub fn trainee_event(seq: usize, e: &Entry, team: &str, ex: &Exercise) -> Option<Value> {
    let t = secs(e.t());
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
                Actor::User { team: t, user, .. } if t == team => Some(user.clone()),
                _ => None,
            };
            json!({"kind": "hmi", "station": point.station, "ioa": point.ioa, "close": close, "user": user,
                   "text": format!("HMI: {} station {} IOA {}", if *close { "close" } else { "open" }, point.station, point.ioa)})
        }
        // The SCADA master's own command log: what it sent, whoever drove the HMI.
        Entry::Command {
            protocol: range::journal::Protocol::Iec104,
            station,
            operation,
            by: Sender::Operator | Sender::Hijack,
            outcome,
            ..
        } => {
            json!({"kind": "command", "station": station, "text": format!("SCADA master: {} → {}", netio::json::detail(operation), netio::json::delivery(*outcome))})
        }
        Entry::Act { actor: Actor::User { team: t, user, .. }, action, outcome, .. } if t == team => {
            json!({"kind": "action", "user": user, "action": netio::json::action(action), "outcome": netio::json::outcome(outcome)})
        }
        Entry::Crew { point, close, status, .. } => json!({
            "kind": "crew", "station": point.station, "ioa": point.ioa, "close": close,
            "text": format!("crew {} station {} IOA {}: {:?}", if *close { "close" } else { "open" }, point.station, point.ioa, status),
        }),
        Entry::End { .. } => json!({"kind": "end", "text": "the exercise has ended"}),
        _ => return None,
    };
    let mut v = v;
    v["seq"] = json!(seq);
    v["t"] = json!(t);
    Some(v)
}

/// Evidence events after `since` (journal index), at most `limit`.
pub fn trainee_events(
    journal: &[Entry],
    since: Option<usize>,
    team: &str,
    ex: &Exercise,
    limit: usize,
) -> Vec<Value> {
    let from = since.map_or(0, |s| s.saturating_add(1));
    journal
        .iter()
        .enumerate()
        .skip(from)
        .filter_map(|(i, e)| trainee_event(i, e, team, ex))
        .take(limit)
        .collect()
}

/// The latest supply figures (sampled every simulated minute).
pub fn supply(journal: &[Entry]) -> Value {
    journal
        .iter()
        .rev()
        .find_map(|e| match e {
            Entry::Supply { t, served_mw, demand_mw, customers_off, ens_mwh } => Some(json!({
                "t": secs(*t), "served_mw": served_mw, "demand_mw": demand_mw,
                "customers_off": customers_off, "ens_mwh": ens_mwh,
            })),
            _ => None,
        })
        .unwrap_or(Value::Null)
}

/// A team's score as its trainees see it: the total and its components, without the
/// reports component (scored against the campaign's truth: watching it move as reports are
/// filed would tell the attacker's address; instructors grade the reports) and without the
/// per-step detection times (they name the campaign's steps).
pub fn trainee_score(ex: &Exercise, journal: &[Entry]) -> Value {
    let s = range::score::score(ex, journal);
    let reports = s.components.get("reports").copied().unwrap_or(0.0);
    let mut components = s.components.clone();
    components.remove("reports");
    let total = ((s.total - ex.scoring.reports * reports) * 100.0).round() / 100.0 + 0.0;
    json!({
        "total": total, "components": components, "penalties": s.penalties,
        "ens_mwh": s.ens_mwh, "customers_off_peak": s.customers_off_peak,
        "reports": "graded by the instructors",
    })
}

/// The whole score (instructors).
pub fn full_score(ex: &Exercise, journal: &[Entry]) -> Value {
    serde_json::from_str(&netio::json::score(&range::score::score(ex, journal))).unwrap_or(Value::Null)
}

/// The team's questions: text, points, hints (cost always, text once taken), its answers and
/// verdicts. Never the right answer.
pub fn questions(ex: &Exercise, journal: &[Entry], team: &str) -> Value {
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
            json!({"id": q.id, "text": q.text, "points": q.points, "choices": choices, "hints": hints, "answers": mine})
        })
        .collect()
}

/// The SCADA master's point database as the HMI shows it: `[ca, ioa, value, stale]`, with
/// double points as 0-3 and floats rounded for display.
pub fn points(r: &range::Range) -> Vec<(u16, u32, f64, bool)> {
    // A wiped master shows nothing topical: every value is stale, the HMI goes dark.
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

/// The run's frequency as the HMI shows it: the first topical frequency measurement.
pub fn hmi_frequency(points: &[(u16, u32, f64, bool)]) -> Option<f64> {
    points.iter().find(|p| p.1 == 3001 && !p.3 && p.2 > 0.0).map(|p| p.2)
}

/// The instructors' view of an entry: the journal line itself.
pub fn instructor_entry(seq: usize, e: &Entry) -> Value {
    let mut v: Value = serde_json::from_str(&netio::json::entry(e)).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("seq".into(), json!(seq));
    }
    v
}
