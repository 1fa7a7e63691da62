//! One team's report, from its journal: figures, score, steps, questions, timeline, series.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use exercise::{Answer, DefenderAction, Exercise, RunFigure, Unless};
use gridsim::sim::SimTime;
use range::journal::{Action, Entry, Outcome, Sender};
use range::score;

use crate::words::{action, actor, actor_kind, defend, outcome, team_actor};
use crate::*;

pub(crate) fn team(ex: &Exercise, run: &TeamRun<'_>) -> TeamReport {
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
        end_s: end.unwrap_or_else(|| j.last().map_or(SimTime(0), Entry::t)).secs(),
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
            s.t_s.push(t.secs());
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
        t_s: Some(x.1.secs()),
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
    let first_off = supply.iter().find(|x| x.2 > 0).map_or_else(none, |x| at(x, x.1.secs()));
    let restored = match s.restored_at_s {
        Some(r) => supply.iter().find(|x| (x.1.secs() - r).abs() < 1e-9).map_or_else(none, |x| at(x, r)),
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
    let lines = |f: &dyn Fn(&Entry) -> bool| -> Vec<usize> {
        j.iter().enumerate().filter(|(_, e)| f(e)).map(|(i, _)| i + 1).collect()
    };
    let supply = lines(&|e| matches!(e, Entry::Supply { .. }));
    let mut detection: Vec<usize> = Vec::new();
    for d in score::detections(ex, j) {
        detection.push(d.began + 1);
        detection.extend(d.first_alert.map(|a| a + 1));
        detection.extend(d.noticed.map(|a| a + 1));
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
    let source_of = |c: score::Component| match c {
        score::Component::Service | score::Component::Restoration => supply.clone(),
        score::Component::Detection => detection.clone(),
        score::Component::Questions => answers.clone(),
        score::Component::Reports => reports.clone(),
    };
    let components = score::Component::ALL
        .iter()
        .map(|&c| {
            let (value, weight) = (s.component(c), c.weight(ex));
            Component {
                name: c.as_str().to_string(),
                value,
                weight,
                points: r2(value * weight),
                source: source_of(c),
            }
        })
        .collect();
    let penalties: Vec<PenaltyItem> = score::penalties(ex, j)
        .into_iter()
        .map(|p| PenaltyItem {
            t_s: j[p.index].t().secs(),
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
                t_s: t.secs(),
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
        score::detections(ex, j).into_iter().map(|d| (d.step.clone(), d)).collect();
    // A host as a defender named it: its id (a scripted defender) or its address (a trainee).
    let addr_of = |host: &str| ex.host_named(host, base).map(|h| h.addr.in_block(base));
    let id_of = |host: &str| ex.host_named(host, base).map(|h| h.id.clone());
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
                    t_s: j[i].t().secs(),
                    after_s: d.alert_ttd_s.unwrap_or(0.0),
                    noticed_after_s: d.ttd_s,
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
                            th.block.contains(host)
                                || id_of(host).is_some_and(|h| th.block.contains(&h))
                                || addr_of(host).is_some_and(|a| th.addrs.contains(&a))
                                || host
                                    .parse::<devices::Prefix>()
                                    .is_ok_and(|p| th.addrs.iter().any(|a| p.contains(*a)))
                        }
                        DefenderAction::DisableAccount { account } => th.accounts.contains(account),
                        DefenderAction::Clean { host } => {
                            th.clean.contains(host) || id_of(host).is_some_and(|h| th.clean.contains(&h))
                        }
                        _ => false,
                    };
                    cuts.then(|| Contained {
                        t_s: t.secs(),
                        after_s: t.secs() - t0.secs(),
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
                began_s: began.map(|b| b.1.secs()),
                prevented: prevented.as_ref().map(|p| p.1.clone()),
                detected,
                contained,
                source: began.map(|b| b.0).or(prevented.map(|p| p.0)).map(line).unwrap_or_default(),
            }
        })
        .collect()
}

/// Where a figure of the run shows in the evidence (the default of a question's `evidence`).
fn figure_evidence(figure: RunFigure) -> &'static str {
    match figure {
        RunFigure::CustomersOffPeak => "the supply figures (evidence/supply.csv, customers_off): their peak",
        RunFigure::EnsMwh => "the supply figures (evidence/supply.csv, ens_mwh): the last row",
        RunFigure::BreakersOpened => {
            "the SCADA master's command log set against the HMI's journal (evidence/hmi.jsonl): the opens nobody in the control room gave"
        }
        RunFigure::FirstCommandStation => {
            "the SCADA master's command log (evidence/hmi.jsonl) or the capture: the first command's common address"
        }
        RunFigure::AttackerAddress => "the alerts and the capture: the source of the commands",
        RunFigure::VpnSource => {
            "the VPN concentrator's log (evidence/logs.jsonl): the login's source address"
        }
        RunFigure::StationsCommanded => "the capture: the common addresses of the commands' ASDUs",
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
                Answer::Number { value, tolerance, unit } => {
                    let u = unit.map_or(String::new(), |u| format!(" {}", u.name));
                    format!("{value}{u} (± {tolerance}{u})")
                }
                Answer::Choice { correct, .. } => correct.clone(),
                Answer::FromRun { figure, tolerance } => match score::run_figure(upto, *figure) {
                    Some(v) if *tolerance > 0.0 => format!("{v} (within {} %)", tolerance * 100.0),
                    Some(v) => v,
                    None => "(the run has no such figure)".into(),
                },
            };
            let evidence = q.evidence.clone().unwrap_or_else(|| match &q.answer {
                Answer::FromRun { figure, .. } => figure_evidence(*figure).to_string(),
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
        let t_s = e.t().secs();
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
                    status.describe()
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
            Entry::Pipe { what, .. } => item("physical", None, what.clone(), vec![]),
            // Supply is plotted; answers, hints and reports show through their action entry;
            // live bytes and the start and end frame the run.
            Entry::Start { .. }
            | Entry::Supply { .. }
            | Entry::Line { .. }
            | Entry::Answer { .. }
            | Entry::Hint { .. }
            | Entry::Report { .. }
            | Entry::Live { .. }
            | Entry::End { .. } => continue,
        });
    }
    out
}
