//! The trainees' evidence view of the built-in exercises: nothing in it attributes, and every
//! question that stands has exactly one right answer, derived here from the evidence alone
//! (the log artefacts, the HMI's and the SCADA master's records, the alerts, the supply
//! figures, the capture's bytes), with the attacker stopped early, late and never.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use exercise::catalogue::Builtin;
use exercise::{Answer, DefenderAction, DefenderRule, Exercise, Trigger, Unless};
use gridsim::sim::SimTime;
use proto_iec104::asdu::cot;
use range::net::WireEvent;
use range::{Entry, Range, RunConfig};
use serde_json::Value;

const EXERCISES: &[&str] = &["ukraine2015", "industroyer2016", "industroyer2022"];

fn exercise(name: &str) -> Exercise {
    exercise::load(exercise::catalogue::exercise(name).unwrap(), &Builtin).unwrap()
}

/// A payload on the wire: source, destination, bytes (client to server or back).
struct Seg {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    bytes: Vec<u8>,
}

/// What a trainee has: the evidence events, and the capture's payloads.
struct Seen {
    events: Vec<Value>,
    capture: Vec<Seg>,
}

fn play(ex: &Exercise, defender: &str, rules: Vec<DefenderRule>) -> (Range, Seen) {
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut r = Range::new(ex.clone(), grid, RunConfig::new(1, defender, rules)).unwrap();
    let mut capture = Vec::new();
    while !r.is_finished() {
        r.step();
        for w in r.take_wire() {
            let (src, dst, bytes) = match w.event {
                WireEvent::ToServer(b) | WireEvent::Datagram(b) => (*w.client.ip(), *w.server.ip(), b),
                WireEvent::ToClient(b) => (*w.server.ip(), *w.client.ip(), b),
                _ => continue,
            };
            capture.push(Seg { src, dst, bytes });
        }
    }
    let events = r
        .journal()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| journal_format::evidence::event(i, e, None, ex))
        .map(|ev| serde_json::to_value(ev).unwrap())
        .collect();
    (r, Seen { events, capture })
}

/// The defender that stops the attacker at `t`: every account the campaign's steps depend
/// on disabled, every host they depend on blocked or cleaned.
fn stop_at(ex: &Exercise, t: SimTime) -> Vec<DefenderRule> {
    let mut actions = Vec::new();
    for u in ex.attack.iter().flat_map(|s| &s.unless) {
        let a = match u {
            Unless::AccountDisabled(a) => DefenderAction::DisableAccount { account: a.clone() },
            Unless::Blocked(h) => DefenderAction::Block { host: h.clone() },
            Unless::Cleaned(h) => DefenderAction::Clean { host: h.clone() },
        };
        if !actions.contains(&a) {
            actions.push(a);
        }
    }
    actions.into_iter().map(|action| DefenderRule { trigger: Trigger::At(t), action }).collect()
}

fn of_kind<'a>(s: &'a Seen, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    s.events.iter().filter(move |e| e["kind"] == kind)
}

fn logs(s: &Seen, host: &str) -> Vec<String> {
    of_kind(s, "log").filter(|e| e["host"] == host).map(|e| e["text"].as_str().unwrap().to_string()).collect()
}

/// The word after `marker` in the first log line of `host` that has it.
fn after(s: &Seen, host: &str, marker: &str) -> Option<String> {
    logs(s, host).iter().find_map(|l| {
        let rest = &l[l.find(marker)? + marker.len()..];
        Some(rest.split(|c: char| c.is_whitespace() || c == ',' || c == ';').next()?.to_string())
    })
}

/// The IEC 104 ASDUs in the capture: (source, destination, ASDU).
fn asdus(s: &Seen) -> Vec<(Ipv4Addr, Ipv4Addr, proto_iec104::Asdu)> {
    let mut out = Vec::new();
    for seg in &s.capture {
        let mut f = proto_iec104::Framer::new();
        f.push(&seg.bytes);
        while let Ok(Some(raw)) = f.next_frame() {
            let Ok(frame) = proto_iec104::Frame::parse(&raw) else { continue };
            if let Ok(a) = proto_iec104::Asdu::parse(&frame.asdu) {
                out.push((seg.src, seg.dst, a));
            }
        }
    }
    out
}

/// The one source of the commands nobody in the control room gave: the correlation alerts'.
fn unexplained_source(s: &Seen) -> Option<String> {
    let srcs: BTreeSet<String> = of_kind(s, "alert")
        .filter(|a| a["rule"] == "corr.unexplained_command")
        .map(|a| a["src"].as_str().unwrap().to_string())
        .collect();
    assert!(srcs.len() <= 1, "one source: {srcs:?}");
    srcs.into_iter().next()
}

/// Stations (common addresses) that received command activations from `src`.
fn stations_from(s: &Seen, src: &str) -> BTreeSet<u16> {
    asdus(s)
        .into_iter()
        .filter(|(from, _, a)| {
            from.to_string() == src && a.cause == cot::ACTIVATION && (45..=51).contains(&a.type_id)
        })
        .map(|(_, _, a)| a.common_address)
        .collect()
}

/// The SCADA master's confirmed opens for which the HMI's journal has no operator's
/// command on that point just before: (station, IOA), in order.
fn unexplained_opens(s: &Seen) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for c in of_kind(s, "command") {
        if c["close"] != false || c["outcome"] != "confirmed" {
            continue;
        }
        let (t, st, ioa) =
            (c["t"].as_f64().unwrap(), c["station"].as_u64().unwrap(), c["ioa"].as_u64().unwrap());
        let typed = of_kind(s, "hmi").any(|h| {
            h["station"] == st
                && h["ioa"] == ioa
                && h["t"].as_f64().unwrap() <= t
                && h["t"].as_f64().unwrap() >= t - 10.0
        });
        if !typed {
            out.push((st, ioa));
        }
    }
    out
}

/// The option of a choice question whose text holds `needle`, the only one.
fn option_with(q: &exercise::Question, needle: &str) -> String {
    let Answer::Choice { options, .. } = &q.answer else { panic!("{}: not a choice", q.id) };
    let hits: Vec<&String> = options.iter().filter(|o| o.contains(needle)).collect();
    assert_eq!(hits.len(), 1, "{}: options with `{needle}`: {hits:?}", q.id);
    hits[0].clone()
}

/// A question's answer, as a trainee derives it from the evidence (None: the evidence does
/// not hold it).
fn derive(ex: &Exercise, q: &exercise::Question, s: &Seen) -> Option<String> {
    let supply: Vec<&Value> = of_kind(s, "supply").collect();
    match (ex.id.as_str(), q.id.as_str()) {
        (_, "customers") => {
            supply.iter().map(|v| v["customers_off"].as_u64().unwrap()).max().map(|m| m.to_string())
        }
        (_, "ens") => supply.last().map(|v| format!("{:.3}", v["ens_mwh"].as_f64().unwrap())),
        ("ukraine-2015", "account") => after(s, "vpn", "VPN log: "),
        ("ukraine-2015", "source") => after(s, "vpn", " from "),
        ("ukraine-2015", "breakers") => Some(unexplained_opens(s).len().to_string()),
        ("ukraine-2015", "first-station") => unexplained_opens(s).first().map(|p| p.0.to_string()),
        ("ukraine-2015", "why-manual") => {
            of_kind(s, "alert").any(|a| a["rule"] == "fw.transfer").then(|| option_with(q, "gateways"))
        }
        (_, "source") => unexplained_source(s),
        ("industroyer-2016", "process") => {
            after(s, "scada", "Service Control Manager on the SCADA front end: ")
        }
        ("industroyer-2022", "process") => after(s, "scada", "Application log on the SCADA front end: "),
        (_, "stations") => unexplained_source(s).map(|src| stations_from(s, &src).len().to_string()),
        ("industroyer-2016", "cot") => {
            let causes: BTreeSet<u8> =
                asdus(s).into_iter().filter(|(_, _, a)| a.negative).map(|(_, _, a)| a.cause).collect();
            assert!(causes.len() <= 1, "one cause of refusal: {causes:?}");
            causes.first().map(|c| option_with(q, &c.to_string()))
        }
        ("industroyer-2016", "why-reboot") => {
            of_kind(s, "alert").any(|a| a["rule"] == "siprotec.dos").then(|| option_with(q, "UDP"))
        }
        ("industroyer-2022", "when") => {
            let at = after(s, "scada", "once at 2022-04-08 ")?;
            Some(at.get(..5)?.to_string())
        }
        ("industroyer-2022", "first-type") => {
            let src = unexplained_source(s)?;
            // The first ASDU the source sent each station.
            let mut first = BTreeSet::new();
            let mut seen = BTreeSet::new();
            for (from, _, a) in asdus(s) {
                if from.to_string() == src && a.cause == cot::ACTIVATION && seen.insert(a.common_address) {
                    first.insert(a.type_id);
                }
            }
            assert_eq!(first.len(), 1, "the same first type at every station: {first:?}");
            Some(option_with(q, &format!("type {}", first.first().unwrap())))
        }
        (id, q) => panic!(
            "{id}: no derivation for question `{q}` (add one: every question must be answerable from the evidence)"
        ),
    }
}

/// A wrong answer next to the derived one.
fn wrong(v: &str) -> String {
    if let Ok(a) = v.parse::<Ipv4Addr>() {
        let [x, y, z, w] = a.octets();
        return Ipv4Addr::new(x, y, z, w.wrapping_add(1)).to_string();
    }
    match v.parse::<f64>() {
        Ok(n) => format!("{}", n * 1.5 + 1.0),
        Err(_) => format!("{v}x"),
    }
}

/// When the campaign's first step on the wire starts, in a run without defender.
fn first_wire_step(r: &Range) -> SimTime {
    r.journal()
        .iter()
        .find_map(|e| match e {
            Entry::Attack { t, on_wire: true, .. } => Some(*t),
            _ => None,
        })
        .unwrap()
}

fn every_question_answerable(name: &str) {
    let ex = exercise(name);
    let (never, seen) = play(&ex, "none", Vec::new());
    let t0 = first_wire_step(&never);
    let mut runs = vec![("never", never, seen)];
    for (label, at) in [("early", SimTime(t0.0 - 60_000_000)), ("late", SimTime(t0.0 + 90_000_000))] {
        let (r, s) = play(&ex, label, stop_at(&ex, at));
        runs.push((label, r, s));
    }
    let mut withdrawn_somewhere = false;
    let mut answered: BTreeSet<&str> = BTreeSet::new();
    for (label, r, s) in &runs {
        let score = range::score::score(&ex, r.journal());
        for q in &ex.questions {
            if score.withdrawn.contains(&q.id) {
                withdrawn_somewhere = true;
                continue;
            }
            let v = derive(&ex, q, s)
                .unwrap_or_else(|| panic!("{name} ({label}): `{}` not in the evidence", q.id));
            eprintln!("{name} ({label}): {} = {v}", q.id);
            answered.insert(&q.id);
            assert!(
                range::score::judge(&ex, q, &v, r.journal()),
                "{name} ({label}): `{}` = {v} judged wrong",
                q.id
            );
            match &q.answer {
                Answer::Choice { options, .. } => {
                    let right =
                        options.iter().filter(|o| range::score::judge(&ex, q, o, r.journal())).count();
                    assert_eq!(right, 1, "{name} ({label}): `{}` has one right option", q.id);
                }
                _ => {
                    let w = wrong(&v);
                    assert!(
                        !range::score::judge(&ex, q, &w, r.journal()),
                        "{name} ({label}): `{}` = {w} judged right too",
                        q.id
                    );
                }
            }
        }
    }
    // Stopping the attacker early makes some question meaningless in every exercise; every
    // question stands in some run.
    assert!(withdrawn_somewhere, "{name}: no question was ever withdrawn");
    assert_eq!(answered.len(), ex.questions.len(), "{name}: answered {answered:?}");
}

#[test]
fn ukraine_questions_are_answerable_from_the_evidence() {
    every_question_answerable("ukraine2015");
}

#[test]
fn industroyer2016_questions_are_answerable_from_the_evidence() {
    every_question_answerable("industroyer2016");
}

#[test]
fn industroyer2022_questions_are_answerable_from_the_evidence() {
    every_question_answerable("industroyer2022");
}

/// Nothing a trainee sees names the attacker, a step or a hidden truth: only evidence kinds,
/// no attributing field, no step's id in a field or name in a text, no attack entry behind
/// any event.
#[test]
fn the_evidence_view_never_attributes() {
    for name in EXERCISES {
        let ex = exercise(name);
        for defender in ["none", "good"] {
            let rules = if defender == "none" { Vec::new() } else { ex.defenders[defender].clone() };
            let (r, s) = play(&ex, defender, rules);
            let allowed = ["alert", "inject", "log", "hmi", "command", "crew", "supply", "end"];
            let keys = [
                "kind",
                "rule",
                "techniques",
                "src",
                "dst",
                "frames",
                "text",
                "channel",
                "from",
                "subject",
                "host",
                "station",
                "ioa",
                "close",
                "user",
                "outcome",
                "served_mw",
                "demand_mw",
                "customers_off",
                "ens_mwh",
                // The frequency, as the HMI shows it.
                "f_hz",
                "f_min_hz",
                "f_max_hz",
                "seq",
                "t",
            ];
            for e in &s.events {
                let kind = e["kind"].as_str().unwrap();
                assert!(allowed.contains(&kind), "{name}: a `{kind}` event");
                for (k, v) in e.as_object().unwrap() {
                    assert!(keys.contains(&k.as_str()), "{name}: field `{k}` in {e}");
                    if let (Some(text), false) = (v.as_str(), k == "host") {
                        for step in &ex.attack {
                            assert!(!text.contains(&step.name), "{name}: step `{}` named in {e}", step.id);
                            assert_ne!(text, step.id, "{name}: step id in {e}");
                        }
                        for w in ["attacker", "hijack", "campaign"] {
                            assert!(!text.to_lowercase().contains(w), "{name}: `{w}` in {e}");
                        }
                    }
                }
                // Behind the event: never an attack, a prevented step, a device truth or the
                // grid's own record.
                let behind = &r.journal()[e["seq"].as_u64().unwrap() as usize];
                assert!(
                    !matches!(
                        behind,
                        Entry::Attack { .. }
                            | Entry::AttackPrevented { .. }
                            | Entry::Device { .. }
                            | Entry::Grid { .. }
                    ),
                    "{name}: {behind:?}"
                );
            }
            // The SCADA master's command log holds the hijack's commands, never who sent them.
            assert!(s.events.iter().all(|e| e.get("by").is_none() && e.get("step").is_none()));
        }
    }
}

/// An answer is judged on the figures as they stood when it was given: the energy not served
/// at 20 minutes, answered then, stays right although the run's figure grows after it.
#[test]
fn an_answer_is_judged_when_it_is_given() {
    let ex = exercise("ukraine2015");
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut r = Range::new(ex.clone(), grid, RunConfig::new(1, "none", Vec::new())).unwrap();
    while r.time() < SimTime::from_secs(1200.0) {
        r.step();
    }
    let then = r
        .journal()
        .iter()
        .rev()
        .find_map(|e| match e {
            Entry::Supply { ens_mwh, .. } => Some(format!("{ens_mwh:.3}")),
            _ => None,
        })
        .unwrap();
    let actor = range::Actor::User { team: "t".into(), user: "u".into(), role: range::Role::Lead };
    let out = r.act(
        actor,
        range::Action::Defend(DefenderAction::AnswerQuestion { question: "ens".into(), value: then.clone() }),
    );
    assert_eq!(out, range::Outcome::Verdict { correct: true });
    r.run_to_end();
    let q = ex.questions.iter().find(|q| q.id == "ens").unwrap();
    assert!(!range::score::judge(&ex, q, &then, r.journal()), "the figure grew after the answer");
    let s = range::score::score(&ex, r.journal());
    let standing: f64 = ex.questions.iter().filter(|q| !s.withdrawn.contains(&q.id)).map(|q| q.points).sum();
    assert_eq!(s.components["questions"], ((q.points / standing) * 1e4).round() / 1e4);
}
