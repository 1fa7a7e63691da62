//! The after-action report of every built-in exercise, headless, with no defender and with
//! each scripted defender (seed 1): every figure checked against a value computed here,
//! straight from the journal's entries (not through the report's or the score's code), and
//! every journal line the report cites pointing at an entry of the right kind and time.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use exercise::catalogue::{Builtin, EXERCISES};
use exercise::{DefenderAction, Exercise, Unless};
use range::journal::{Action, Actor, Entry, Outcome, Sender};
use range::{Range, RunConfig};

fn run(ex: &Exercise, defender: &str) -> Vec<Entry> {
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let rules = if defender == "none" { Vec::new() } else { ex.defenders[defender].clone() };
    let mut r = Range::new(ex.clone(), grid, RunConfig::new(1, defender, rules)).unwrap();
    r.run_to_end();
    r.journal().to_vec()
}

fn secs(t: gridsim::sim::SimTime) -> f64 {
    t.0 as f64 / 1e6
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// (t, customers off, ens, f_min) of every supply sample, with its journal line.
fn samples(j: &[Entry]) -> Vec<(usize, f64, u64, f64, f64)> {
    j.iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Entry::Supply { t, customers_off, ens_mwh, f_min_hz, .. } => {
                Some((i + 1, secs(*t), *customers_off, *ens_mwh, *f_min_hz))
            }
            _ => None,
        })
        .collect()
}

/// A command of a step: source, destination, time, capture frames.
type StepCommand = (Ipv4Addr, Ipv4Addr, f64, Option<(u64, u64)>);

/// The first alert that cites a frame of the step's commands (or, without evidence, is
/// between their endpoints), from the step's start to a minute after its last command.
fn first_detection(j: &[Entry], step: &str, start: f64) -> Option<(usize, f64)> {
    let cmds: Vec<StepCommand> = j
        .iter()
        .filter_map(|e| match e {
            Entry::Command { t, src, dst, step: Some(s), frames, .. } if s == step => {
                Some((*src, *dst, secs(*t), *frames))
            }
            _ => None,
        })
        .collect();
    let last = cmds.iter().map(|c| c.2).fold(start, f64::max);
    j.iter().enumerate().find_map(|(i, e)| {
        let Entry::Alert { alert } = e else { return None };
        let t = secs(alert.t);
        if t < start || t > last + 60.0 {
            return None;
        }
        let cites =
            cmds.iter().filter_map(|c| c.3).any(|(a, b)| alert.evidence.iter().any(|f| *f >= a && *f <= b));
        let between = alert.evidence.is_empty()
            && cmds
                .iter()
                .any(|c| (alert.src == c.0 && alert.dst == c.1) || (alert.src == c.1 && alert.dst == c.0));
        (cites || between).then_some((i + 1, t))
    })
}

/// The first accepted action of the team at or after `start` that cuts what the step came
/// through: an `unless` of the step; a block of the host it came from or of its commands'
/// source; its account disabled; a clean of the host it ran on or came from.
fn first_containment(ex: &Exercise, j: &[Entry], step: &exercise::Step, start: f64) -> Option<(usize, f64)> {
    let base = j.iter().find_map(|e| match e {
        Entry::Start { base, .. } => Some(*base),
        _ => None,
    })?;
    let (mut block, mut clean, mut accounts): (Vec<String>, Vec<String>, Vec<String>) = Default::default();
    for u in &step.unless {
        match u {
            Unless::AccountDisabled(a) => accounts.push(a.clone()),
            Unless::Blocked(h) => block.push(h.clone()),
            Unless::Cleaned(h) => clean.push(h.clone()),
        }
    }
    match &step.action {
        exercise::Action::HmiHijack { account, .. } => accounts.push(account.clone()),
        exercise::Action::It(it) => {
            accounts.extend(it.account.clone());
            clean.push(it.host.clone());
            block.extend(it.from.clone());
        }
        exercise::Action::Iec104Commands { from, .. }
        | exercise::Action::IoaSweep { from, .. }
        | exercise::Action::Iec104Sequence { from, .. }
        | exercise::Action::SiprotecDos { from, .. }
        | exercise::Action::Dnp3Operate { from, .. }
        | exercise::Action::ModbusWrite { from, .. }
        | exercise::Action::ModbusRestart { from, .. }
        | exercise::Action::Firmware { from, .. }
        | exercise::Action::UpsOff { from, .. }
        | exercise::Action::ModbusRegister { from, .. }
        | exercise::Action::Dnp3Valve { from, .. }
        | exercise::Action::SisProgram { from, .. } => {
            block.push(from.clone());
            clean.push(from.clone());
        }
        exercise::Action::Wipe { host } | exercise::Action::ServiceStop { host, .. } => {
            clean.push(host.clone())
        }
    }
    let sources: Vec<Ipv4Addr> = j
        .iter()
        .filter_map(|e| match e {
            Entry::Command { by: Sender::Attacker, step: Some(s), src, .. } if *s == step.id => Some(*src),
            _ => None,
        })
        .collect();
    j.iter().enumerate().find_map(|(i, e)| {
        let Entry::Act { t, actor, action: Action::Defend(d), outcome, .. } = e else { return None };
        if secs(*t) < start
            || !matches!(actor, Actor::User { .. } | Actor::Defender { .. })
            || matches!(outcome, Outcome::Refused(_))
        {
            return None;
        }
        let cuts = match d {
            DefenderAction::Block { host } => {
                block.contains(host)
                    || ex.host(host).is_some_and(|h| sources.contains(&h.addr.in_block(base)))
            }
            DefenderAction::DisableAccount { account } => accounts.contains(account),
            DefenderAction::Clean { host } => clean.contains(host),
            _ => false,
        };
        cuts.then_some((i + 1, secs(*t)))
    })
}

/// The report's kind of a journal entry (none: not in the timeline).
fn kind(e: &Entry) -> Option<&'static str> {
    Some(match e {
        Entry::Attack { .. } | Entry::AttackPrevented { .. } | Entry::It { .. } => "attack",
        Entry::Command { .. } => "command",
        Entry::Alert { .. } => "alert",
        Entry::Act {
            action: Action::Defend(DefenderAction::AnswerQuestion { .. } | DefenderAction::Hint { .. }),
            ..
        } => "answer",
        Entry::Act { .. } | Entry::Hmi { .. } | Entry::Crew { .. } => "action",
        Entry::Inject { .. } => "inject",
        Entry::Grid { .. } | Entry::Device { .. } | Entry::Pipe { .. } => "physical",
        _ => return None,
    })
}

fn check_team(ex: &Exercise, name: &str, j: &[Entry], t: &report::TeamReport) {
    let at = |what: &str| format!("{}, {name}: {what}", ex.id);
    let s = samples(j);
    assert!(t.ended, "{}", at("ended"));
    assert_eq!(t.entries, j.len(), "{}", at("entries"));

    // Energy not served: the last sample's.
    let last = s.last().unwrap();
    assert!(close(t.figures.ens_mwh.value.unwrap(), last.3), "{}", at("ens"));
    assert_eq!(t.figures.ens_mwh.source, vec![last.0], "{}", at("ens source"));
    // Peak customers off: the largest sample, first reached.
    let peak = s.iter().map(|x| x.2).max().unwrap();
    let first_peak = s.iter().find(|x| x.2 == peak).unwrap();
    assert_eq!(t.figures.customers_off_peak.value, Some(peak as f64), "{}", at("peak"));
    assert_eq!(t.figures.customers_off_peak.source, vec![first_peak.0], "{}", at("peak source"));
    // Frequency nadir: the lowest of the minimum frequencies between samples (energised).
    let nadir = s.iter().filter(|x| x.4 > 0.0).map(|x| x.4).fold(f64::INFINITY, f64::min);
    assert!(
        close(t.figures.nadir_hz.value.unwrap(), nadir),
        "{}: {:?} vs {nadir}",
        at("nadir"),
        t.figures.nadir_hz
    );
    // The first outage, and the restoration: the first sample of the final stretch at zero.
    let first_off = s.iter().find(|x| x.2 > 0).map(|x| x.1);
    assert_eq!(t.figures.first_outage_s.value, first_off, "{}", at("first outage"));
    let restored = match (first_off, last.2) {
        (Some(_), 0) => s.iter().rev().take_while(|x| x.2 == 0).last().map(|x| x.1),
        _ => None,
    };
    match (t.figures.restored_at_s.value, restored) {
        (Some(a), Some(b)) => assert!(close(a, b), "{}: {a} vs {b}", at("restored")),
        (a, b) => assert_eq!(a, b, "{}", at("restored")),
    }
    match (restored, first_off) {
        (Some(r), Some(f)) => {
            assert!(close(t.figures.time_to_restore_s.value.unwrap(), r - f), "{}", at("ttr"))
        }
        _ => assert_eq!(t.figures.time_to_restore_s.value, None, "{}", at("ttr")),
    }
    let alerts = j.iter().filter(|e| matches!(e, Entry::Alert { .. })).count();
    assert_eq!(t.figures.alerts.value, Some(alerts as f64), "{}", at("alerts"));

    // Steps: start, detection, containment.
    for (k, step) in ex.attack.iter().enumerate() {
        let r = &t.steps[k];
        assert_eq!(r.step, step.id);
        let began = j.iter().enumerate().find_map(|(i, e)| match e {
            Entry::Attack { t, step: s, .. } if *s == step.id => Some((i + 1, secs(*t))),
            _ => None,
        });
        assert_eq!(r.began_s, began.map(|b| b.1), "{}", at(&step.id));
        let Some((line, start)) = began else {
            assert!(r.detected.is_none() && r.contained.is_none(), "{}", at(&step.id));
            continue;
        };
        assert_eq!(r.source, vec![line], "{}", at(&step.id));
        let det = if step.action.on_wire() { first_detection(j, &step.id, start) } else { None };
        match (&r.detected, det) {
            (None, None) => {}
            (Some(d), Some((l, when))) => {
                assert_eq!(d.source, vec![l], "{}", at(&format!("{} detection", step.id)));
                assert!(close(d.after_s, when - start), "{}", at(&format!("{} ttd", step.id)));
            }
            (got, want) => {
                panic!("{}: report {got:?}, journal {want:?}", at(&format!("{} detection", step.id)))
            }
        }
        let con = first_containment(ex, j, step, start);
        match (&r.contained, con) {
            (None, None) => {}
            (Some(c), Some((l, when))) => {
                assert_eq!(c.source, vec![l], "{}", at(&format!("{} containment", step.id)));
                assert!(close(c.after_s, when - start), "{}", at(&format!("{} ttc", step.id)));
            }
            (got, want) => {
                panic!("{}: report {got:?}, journal {want:?}", at(&format!("{} containment", step.id)))
            }
        }
    }

    // Score: the components' points less the penalties make the total; each penalty and
    // hint cites an entry of its kind.
    let sum: f64 =
        t.score.components.iter().map(|c| c.value * c.weight).sum::<f64>() - t.score.penalty_points;
    assert!((sum - t.score.total).abs() < 0.011, "{}: {sum} vs {}", at("total"), t.score.total);
    for p in &t.score.penalties {
        assert!(matches!(j[p.source[0] - 1], Entry::Act { .. } | Entry::Command { .. }), "{}", at("penalty"));
    }
    let hints: f64 =
        j.iter().filter_map(|e| if let Entry::Hint { cost, .. } = e { Some(*cost) } else { None }).sum();
    assert!(close(t.score.hint_costs.iter().map(|h| h.cost).sum::<f64>(), hints), "{}", at("hints"));
    // A hint is deducted when its question's last answer was judged right and the question
    // stands: the points it earned are its points less those hints.
    for h in &t.score.hint_costs {
        let q = t.questions.iter().find(|q| q.id == h.question).unwrap();
        let right = j.iter().rev().find_map(|e| match e {
            Entry::Act {
                action: Action::Defend(DefenderAction::AnswerQuestion { question, .. }),
                outcome: Outcome::Verdict { correct },
                ..
            } if *question == q.id => Some(*correct),
            _ => None,
        });
        assert_eq!(h.deducted, right == Some(true) && !q.withdrawn, "{}", at(&format!("hint for {}", q.id)));
        if h.deducted {
            assert!(close(q.earned, (q.points - q.hint_cost).max(0.0)), "{}", at(&q.id));
        }
    }

    // Questions: the verdict the run gave the last answer; missed when standing and not right.
    for q in &t.questions {
        let verdict = j.iter().rev().find_map(|e| match e {
            Entry::Act {
                action: Action::Defend(DefenderAction::AnswerQuestion { question, .. }),
                outcome: Outcome::Verdict { correct },
                ..
            } if *question == q.id => Some(*correct),
            _ => None,
        });
        assert_eq!(q.correct, verdict.unwrap_or(false), "{}", at(&format!("question {}", q.id)));
        assert_eq!(q.missed, !q.withdrawn && !q.correct, "{}", at(&format!("question {}", q.id)));
        // The right answer the report gives is one the range accepts (for the answers that
        // are a plain value), judged on the journal as the team's answer was (or whole).
        let spec = ex.questions.iter().find(|x| x.id == q.id).unwrap();
        if matches!(
            spec.answer,
            exercise::Answer::Exact(_) | exercise::Answer::Choice { .. } | exercise::Answer::FromRun { .. }
        ) && !q.withdrawn
        {
            let upto = j
                .iter()
                .rposition(|e| matches!(e, Entry::Answer { question, .. } if *question == q.id))
                .unwrap_or(j.len() - 1);
            let value = q.right_answer.split(" (within").next().unwrap();
            assert!(
                range::score::judge(ex, spec, value, &j[..=upto]),
                "{}: `{value}` judged wrong",
                at(&q.id)
            );
        }
    }

    // Timeline: one item per entry of each kind, in journal order, each citing its entry.
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for e in j {
        if let Some(k) = kind(e) {
            *want.entry(k).or_default() += 1;
        }
    }
    let mut got: BTreeMap<&str, usize> = BTreeMap::new();
    let mut prev = 0;
    for it in &t.timeline {
        *got.entry(it.kind).or_default() += 1;
        let l = it.source[0];
        assert!(l > prev, "{}", at("timeline order"));
        prev = l;
        let e = &j[l - 1];
        assert_eq!(kind(e), Some(it.kind), "{}", at(&format!("timeline line {l}")));
        assert!(close(secs(e.t()), it.t_s), "{}", at(&format!("timeline line {l} time")));
    }
    assert_eq!(got, want, "{}", at("timeline kinds"));

    // Series: one point per supply sample.
    assert_eq!(t.series.t_s.len(), s.len(), "{}", at("series"));
}

#[test]
fn every_builtin_exercise_with_and_without_its_defenders() {
    for (name, text) in EXERCISES {
        let ex = exercise::load(text, &Builtin).unwrap();
        let defenders: Vec<String> =
            std::iter::once("none".to_string()).chain(ex.defenders.keys().cloned()).collect();
        let journals: Vec<(String, Vec<Entry>)> =
            defenders.iter().map(|d| (d.clone(), run(&ex, d))).collect();
        let teams: Vec<report::TeamRun<'_>> =
            journals.iter().map(|(n, j)| report::TeamRun { name: n, journal: j }).collect();
        let r = report::build(&ex, &teams);
        assert_eq!(r.teams.len(), defenders.len());
        for ((d, j), t) in journals.iter().zip(&r.teams) {
            check_team(&ex, d, j, t);
        }

        // A missed question says where its answer was: the exercise's own words when it has
        // them (`evidence:`), else where the run's figure shows.
        for (t, q) in
            r.teams.iter().flat_map(|t| t.questions.iter().map(move |q| (t, q))).filter(|(_, q)| q.missed)
        {
            let spec = ex.questions.iter().find(|x| x.id == q.id).unwrap();
            match (&spec.evidence, &spec.answer) {
                (Some(e), _) => assert_eq!(&q.evidence, e, "{name}, {}: {}", t.team, q.id),
                (None, exercise::Answer::FromRun { .. }) => assert!(
                    q.evidence.contains("evidence/") || q.evidence.contains("capture"),
                    "{}",
                    q.evidence
                ),
                (None, _) => {}
            }
            assert!(!q.evidence.starts_with('('), "{name}, {}: no fallback for a built-in question", q.id);
        }

        // The cohort: each team's row, and the steps on the wire no team detected.
        for (row, t) in r.cohort.teams.iter().zip(&r.teams) {
            assert_eq!(row.total, t.score.total);
            assert_eq!(row.ens_mwh, t.figures.ens_mwh.value.unwrap());
        }
        for step in ex.attack.iter().filter(|s| s.action.on_wire()) {
            let began: Vec<&Vec<Entry>> = journals
                .iter()
                .map(|(_, j)| j)
                .filter(|j| j.iter().any(|e| matches!(e, Entry::Attack { step: s, .. } if *s == step.id)))
                .collect();
            let start = |j: &Vec<Entry>| {
                j.iter()
                    .find_map(|e| match e {
                        Entry::Attack { t, step: s, .. } if *s == step.id => Some(secs(*t)),
                        _ => None,
                    })
                    .unwrap()
            };
            let none =
                !began.is_empty() && began.iter().all(|j| first_detection(j, &step.id, start(j)).is_none());
            assert_eq!(r.cohort.undetected.contains(&step.id), none, "{name}: undetected {}", step.id);
        }
        // A recommendation names an ATT&CK mitigation and the gaps behind it, each a step
        // that began in that team's run and was not detected or not contained there.
        for rec in &r.cohort.recommendations {
            assert!(rec.mitigation.starts_with('M') && !rec.triggers.is_empty());
            for tr in &rec.triggers {
                let t = r.teams.iter().find(|t| t.team == tr.team).unwrap();
                let s = t.steps.iter().find(|s| s.step == tr.step).unwrap();
                assert!(s.began_s.is_some());
                match tr.gap {
                    "not detected" => assert!(s.on_wire && s.detected.is_none()),
                    "not contained" => assert!(s.contained.is_none()),
                    g => panic!("gap {g}"),
                }
                assert!(tr.technique.split(", ").all(|x| s.techniques.iter().any(|y| y == x)));
            }
        }

        // The HTML: self-contained, a plot of each kind per team with its data.
        let html = report::html::render(&r);
        for bad in ["<script", "src=", "href=\"http", "@import", "url("] {
            assert!(!html.contains(bad), "{name}: the report holds `{bad}`");
        }
        for plot in ["frequency", "load", "customers", "activity"] {
            let n = html.matches(&format!("data-plot=\"{plot}\"")).count();
            assert_eq!(n, r.teams.len(), "{name}: {plot} plots");
        }
        let json: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
        assert_eq!(json["format"], report::FORMAT);
        assert_eq!(json["teams"].as_array().unwrap().len(), r.teams.len());
    }
}
