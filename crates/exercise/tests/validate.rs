//! `exercise::load` on hostile and mistaken files: every problem at once, each at its line
//! and column, never a panic.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::PathBuf;

use exercise::catalogue::Builtin;
use exercise::{Action, Diagnostic, load};

/// A small valid exercise on the Ukraine grid; tests break one line of it at a time.
const VALID: &str = "exercise: 1
id: mini
title: A small exercise
sources: [\"a report\"]
grid: ukraine2015
duration: 1h
zones:
  - {id: net, name: Internet}
  - {id: control, name: Control centre}
hosts:
  - {id: attacker, zone: net, addr: 250.66}
  - {id: scada, zone: control, addr: 230.10}
accounts:
  - {id: op, host: scada}
scada: {host: scada, stations: [1004, 1010]}
attack:
  - id: one
    at: 5m
    iec104_command: {from: attacker, targets: [{station: 1004, ioa: 2001}], value: open}
  - id: two
    after: one
    delay: 1m
    ups_off: {from: attacker, substations: [\"Kalush 110/35/10\"]}
questions:
  - {id: q1, text: Who?, answer: {exact: attacker}}
defenders:
  good: [{on_alert: iec104.rogue_master, do: block, host: attacker}]
expect:
  - {defender: none, customers_off_min: 1}
";

fn errors(text: &str) -> Vec<Diagnostic> {
    load(text, &Builtin).err().unwrap_or_default()
}

/// (line, message fragment) of each diagnostic.
fn lines(d: &[Diagnostic]) -> Vec<(usize, String)> {
    d.iter().map(|d| (d.line, d.message.clone())).collect()
}

#[test]
fn the_valid_file_loads() {
    let ex = load(VALID, &Builtin).unwrap();
    assert_eq!(ex.attack.len(), 2);
    assert!(matches!(&ex.attack[0].action, Action::Iec104Commands { targets, .. } if targets.len() == 1));
    assert_eq!(ex.scada.stations, [1004, 1010]);
}

/// Five different mistakes in one file: all five reported, in file order, at their lines.
#[test]
fn five_mistakes_are_reported_at_once_with_their_lines() {
    let text = VALID
        .replace("title: A small exercise", "titel: A small exercise") // line 3: unknown key
        .replace("duration: 1h", "duration: soon") // line 6: wrong type
        .replace("{id: attacker, zone: net,", "{id: attacker, zone: dmz,") // line 11: dangling zone
        .replace("targets: [{station: 1004, ioa: 2001}]", "targets: [{station: 1004, ioa: 2999}]") // line 19: no such IOA
        .replace("after: one", "after: three"); // line 21: no such step
    let d = errors(&text);
    let got = lines(&d);
    assert_eq!(got.len(), 6, "{got:#?}");
    // `titel` is unknown (with a suggestion) and `title` is then missing: both at the top.
    assert_eq!(got[0].0, 1, "{got:?}");
    assert!(got[0].1.contains("needs `title`"), "{got:?}");
    assert_eq!(got[1].0, 3);
    assert!(
        got[1].1.contains("unknown key `titel`") && got[1].1.contains("did you mean `title`"),
        "{}",
        got[1].1
    );
    assert_eq!(got[2].0, 6);
    assert!(got[2].1.contains("`duration` must be a duration"), "{}", got[2].1);
    assert_eq!(got[3].0, 11);
    assert!(got[3].1.contains("zone `dmz`, which is not declared"), "{}", got[3].1);
    assert_eq!(got[4].0, 19);
    assert!(got[4].1.contains("no breaker command (C_DC_NA_1) at IOA 2999"), "{}", got[4].1);
    assert_eq!(got[5].0, 21);
    assert!(got[5].1.contains("after `three`: no such step"), "{}", got[5].1);
    // Columns point at the value, 1-based.
    assert_eq!((d[2].line, d[2].col), (6, 11));
}

#[test]
fn each_kind_of_mistake_has_its_message() {
    let cases: &[(&str, &str, usize, &str)] = &[
        // Syntax.
        ("id: mini", "id: [mini", 3, "YAML syntax"),
        // Duplicate key (the parser refuses it).
        ("grid: ukraine2015", "grid: ukraine2015\ngrid: case9", 6, "duplicate key `grid`"),
        // Wrong type: a list where a value goes.
        ("id: mini", "id: [a, b]", 2, "must be a single value"),
        // Missing key.
        ("    at: 5m\n", "", 17, "needs `at` (a time) or `after`"),
        // Duplicate id.
        ("  - id: two", "  - id: one", 20, "attack step id `one` is used twice"),
        // Dangling references: host, station, substation, account, question, defender.
        ("{from: attacker, targets", "{from: mallory, targets", 19, "no host `mallory`"),
        ("{station: 1004, ioa: 2001}", "{station: 4321, ioa: 2001}", 19, "no RTU with common address 4321"),
        ("[\"Kalush 110/35/10\"]", "[Atlantis]", 23, "no substation `Atlantis`"),
        ("{id: op, host: scada}", "{id: op, host: nowhere}", 14, "no host `nowhere`"),
        ("{defender: none,", "{defender: blue,", 29, "no defender `blue`"),
        // An inject's condition names a step or rule that does not exist; a defender's rule too.
        (
            "questions:\n",
            "injects:\n  - {id: i1, after: nine, channel: phone, subject: s}\nquestions:\n",
            25,
            "no attack step `nine`",
        ),
        (
            "questions:\n",
            "injects:\n  - {id: i1, on_alert: no.rule, channel: phone, subject: s}\nquestions:\n",
            25,
            "no IDS rule `no.rule`",
        ),
        (
            "on_alert: iec104.rogue_master",
            "on_alert: iec104.rouge_master",
            27,
            "no IDS rule `iec104.rouge_master`",
        ),
        // Impossible time.
        ("    at: 5m", "    at: 2h", 18, "due at 2h00m00s, after the exercise ends (1h00m00s)"),
        // A duration beyond any exercise (it would overflow simulated time).
        ("    at: 5m\n", "    at: 5m\n    jitter: 1e300\n", 19, "`jitter` must be a duration"),
        // Bad values.
        ("value: open", "value: ajar", 19, "`value` is open or close"),
        ("addr: 250.66", "addr: 10.66", 11, "last two octets"),
        ("exercise: 1", "exercise: 2", 1, "format version 2 is not supported"),
        ("{exact: attacker}", "{guess: attacker}", 25, "unknown key `guess`"),
        // Anchors and aliases are refused (no billion laughs).
        ("title: A small exercise", "title: &t A small exercise", 3, "anchors and aliases"),
    ];
    let mut wrong = Vec::new();
    for (from, to, line, fragment) in cases {
        assert!(VALID.contains(from), "{from}");
        let d = errors(&VALID.replacen(from, to, 1));
        if !d.iter().any(|d| d.line == *line && d.message.contains(fragment)) {
            wrong.push(format!("`{from}` -> `{to}`: expected line {line} `{fragment}`, got {:?}", lines(&d)));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn hostile_input_never_panics() {
    for text in [
        "",
        "- a\n- b",
        "exercise: 1",
        "attack: 7",
        "attack: [{}]",
        "hosts: [{id: x, zone: y, addr: 999.999}]",
        "duration: 1e400s",
        "duration: -5m",
        "scada: {host: x, stations: [99999999]}",
        "attack: [{id: a, at: 1m, ioa_sweep: {from: x, station: 1, first: 5, last: 1}}]",
        "defenders: [1, 2]",
        "\u{0}\u{1}\u{2}",
        "a: {b: {c: {d: {e: {f: [[[[[[[[[[[[[]]]]]]]]]]]]]}}}}}",
    ] {
        let d = errors(text);
        assert!(!d.is_empty(), "{text:?} loaded");
    }
}

/// The built-in exercise is valid.
#[test]
fn the_built_in_exercises_are_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../exercises");
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(d) = load(&text, &Builtin) {
            panic!("{}: {d:#?}", path.display());
        }
    }
}

/// An upload (the web platform's path) resolves grid names as a folder does: inside the
/// upload, by the same grammar; `..` and absolute names are refused at the `grid:` line.
#[test]
fn an_uploaded_exercise_names_only_its_own_files() {
    let ukraine = exercise::catalogue::GRIDS.iter().find(|g| g.0 == "ukraine2015").unwrap();
    let mut upload = exercise::Bundle::new();
    upload.insert("grids/kyiv.m", ukraine.1.to_string()).unwrap();
    upload.insert("grids/kyiv.dyn.toml", ukraine.2.to_string()).unwrap();
    assert!(upload.insert("../etc/passwd", String::new()).is_err());
    assert!(upload.insert("/etc/passwd", String::new()).is_err());
    let text = VALID.replace("grid: ukraine2015", "grid: grids/kyiv.m");
    assert!(load(&text, &upload).is_ok(), "{:?}", load(&text, &upload).err());
    for bad in ["../grids/kyiv.m", "/grids/kyiv.m", "grids/./kyiv.m", "grids/missing.m"] {
        let text = VALID.replace("grid: ukraine2015", &format!("grid: {bad}"));
        let d = load(&text, &upload).unwrap_err();
        assert_eq!((d[0].line, d[0].col), (5, 7), "{bad}: {d:?}");
    }
}
