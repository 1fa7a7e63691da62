//! Fuzz target: a journal's text through the reader `icsrange replay` and `icsrange report`
//! use (`journal_format::read_inputs`), then the same bytes as every free text a journal holds
//! (an answer, actors' names, a log artefact, an inject's subject and channel, an incident
//! report, a refusal, an alert's message, a hint's question with the largest index) through
//! the after-action report and its HTML. Nothing may panic, and no text reaches the HTML
//! unescaped (no `<script`, no raw `<` of the input).
#![no_main]

use std::sync::OnceLock;

use exercise::{DefenderAction, Exercise};
use gridsim::sim::SimTime;
use libfuzzer_sys::fuzz_target;
use range::journal::{Action, Actor, Entry, Outcome, Role};

fn ukraine() -> &'static Exercise {
    static EX: OnceLock<Exercise> = OnceLock::new();
    EX.get_or_init(|| {
        let text = exercise::catalogue::exercise("ukraine2015").expect("built in");
        exercise::load(text, &exercise::catalogue::Builtin).expect("loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = journal_format::read_inputs(text);
    let raw = text;
    // Between markers, so that the input is told apart from the report's own markup.
    let marked = format!("\u{27e6}{text}\u{27e7}");
    let text = marked.as_str();

    let ex = ukraine();
    let s = |x: u64| SimTime(x * 1_000_000);
    let user = Actor::User { team: "t".into(), user: text.into(), role: Role::Lead };
    let supply = |t: u64, off: u64| Entry::Supply {
        t: s(t),
        served_mw: 30.0,
        demand_mw: 33.0,
        customers_off: off,
        ens_mwh: 0.1 * t as f64,
        f_hz: 50.0,
        f_min_hz: 49.9,
        f_max_hz: 50.1,
    };
    let journal = vec![
        Entry::Start {
            t: s(0),
            format: range::journal::FORMAT_VERSION,
            exercise: ex.id.clone(),
            seed: 1,
            defender: "none".into(),
            base: std::net::Ipv4Addr::new(127, 10, 0, 0),
            start_ms_since_2000: 0,
            demand_mw: 33.0,
            customers: 225_000,
        },
        supply(0, 0),
        Entry::It {
            t: s(30),
            step: "vpn".into(),
            event: "vpn_login".into(),
            host: "vpn".into(),
            account: Some(text.into()),
            src: None,
            artefact: text.into(),
        },
        Entry::Inject { t: s(40), id: text.into(), channel: "email".into(), from: text.into(), subject: text.into() },
        supply(60, 10),
        Entry::Act {
            t: s(70),
            actor: user.clone(),
            action: Action::Defend(DefenderAction::AnswerQuestion { question: "account".into(), value: text.into() }),
            outcome: Outcome::Verdict { correct: false },
        },
        Entry::Answer { t: s(70), question: "account".into(), value: text.into() },
        Entry::Act {
            t: s(80),
            actor: user,
            action: Action::Defend(DefenderAction::Report { text: text.into() }),
            outcome: Outcome::Refused(text.into()),
        },
        Entry::Report { t: s(80), text: text.into() },
        Entry::Act {
            t: s(90),
            actor: Actor::Defender { name: text.into() },
            action: Action::Defend(DefenderAction::Hint { question: text.into(), index: usize::MAX }),
            outcome: Outcome::Hint { text: text.into(), cost: 1.0 },
        },
        Entry::Act {
            t: s(95),
            actor: Actor::Instructor { name: text.into() },
            action: Action::Defend(DefenderAction::Block { host: text.into() }),
            outcome: Outcome::Accepted,
        },
        Entry::Alert {
            alert: ids::Alert {
                rule: "corr.unexplained_command",
                techniques: &["T0855"],
                t: s(100),
                src: std::net::Ipv4Addr::new(127, 10, 0, 1),
                dst: std::net::Ipv4Addr::new(127, 10, 1, 1),
                evidence: vec![u64::MAX],
                message: text.into(),
            },
        },
        Entry::Inject { t: s(110), id: "x".into(), channel: text.into(), from: "y".into(), subject: "z".into() },
        supply(120, 0),
        Entry::End { t: s(120) },
    ];
    let r = report::build(ex, &[report::TeamRun { name: text, journal: &journal }]);
    let html = report::html::render(&r);
    assert!(!html.contains("<script"), "a script in the report");
    if raw.contains(['<', '>', '&', '"']) {
        assert!(!html.contains(text), "the input reached the HTML unescaped");
    }
    let _ = report::json(&r);
});
