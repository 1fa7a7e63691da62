//! `icsrange report`: the after-action report of headless run directories, as HTML and
//! JSON, its figures the same as the runs' own `score.json`; and a run directory that is
//! missing, empty, truncated or corrupt is bad input (exit 2) naming the file and what is
//! wrong, with no report written.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn icsrange(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_icsrange")).args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(dir: &Path, defender: &str) {
    let out =
        icsrange(&["run", "industroyer2016", "--defender", defender, "--wire", "none", "--out", s(dir)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Copies a run directory's journal into `dir` (created), changed by `f`.
fn broken(root: &Path, name: &str, journal: &[u8], f: impl FnOnce(&[u8]) -> Vec<u8>) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("journal.jsonl"), f(journal)).unwrap();
    dir
}

/// `report DIR` fails with exit 2, its message naming `file` and saying `what`; nothing
/// written.
fn refused(dir: &Path, file: &str, what: &str) {
    let out = icsrange(&["report", s(dir)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {err}", dir.display());
    assert!(err.contains(file), "{}: the message names {file}: {err}", dir.display());
    assert!(err.contains(what), "{}: the message says {what}: {err}", dir.display());
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!dir.join("report.html").exists(), "{}: no report written", dir.display());
}

#[test]
fn reports_runs_and_refuses_broken_run_directories() {
    let root = std::env::temp_dir().join(format!("icsrange-report-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (none, good) = (root.join("none"), root.join("good"));
    run(&none, "none");
    run(&good, "good");

    // HTML: one self-contained file, both teams, the cohort, four plots each.
    let html_path = root.join("aar.html");
    let out = icsrange(&["report", s(&none), s(&good), "--out", s(&html_path)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("id=\"cohort\"")
            && html.contains("data-team=\"none\"")
            && html.contains("data-team=\"good\"")
    );
    assert_eq!(html.matches("<svg class=\"plot\"").count(), 8);
    assert!(!html.contains("<script") && !html.contains("src="));

    // JSON: the same figures as each run's score.json.
    let json_path = root.join("aar.json");
    let out = icsrange(&["report", s(&none), s(&good), "--format", "json", "--out", s(&json_path)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&json_path);
    assert_eq!(r["exercise"]["id"], "industroyer-2016");
    for (k, dir) in [&none, &good].into_iter().enumerate() {
        let team = &r["teams"][k];
        let score = json(&dir.join("score.json"));
        assert_eq!(team["score"]["total"], score["total"], "{}", dir.display());
        // score.json rounds to 0.1 kWh.
        let ens = team["figures"]["ens_mwh"]["value"].as_f64().unwrap();
        assert!((ens - score["ens_mwh"].as_f64().unwrap()).abs() <= 5e-5, "{}: {ens}", dir.display());
        assert_eq!(
            team["figures"]["customers_off_peak"]["value"].as_f64(),
            score["customers_off_peak"].as_f64()
        );
        let ttd = score["time_to_detect_s"].as_object().unwrap();
        for step in team["steps"].as_array().unwrap() {
            if let Some(want) = ttd.get(step["step"].as_str().unwrap()) {
                // The score's time to detect is the team's act after the alert.
                assert_eq!(step["detected"]["noticed_after_s"].as_f64(), want.as_f64(), "{}", step["step"]);
            }
        }
        let alerts = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap().lines().count();
        assert_eq!(team["figures"]["alerts"]["value"].as_f64(), Some(alerts as f64));
    }
    // Without --out: report.html in the (first) run directory.
    let out = icsrange(&["report", s(&good)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(good.join("report.html").exists());

    // Never over a run's own record; two teams of one name refused.
    let before = std::fs::read(good.join("journal.jsonl")).unwrap();
    let out = icsrange(&["report", s(&good), "--out", s(&good.join("journal.jsonl"))]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the run's own record"));
    assert_eq!(std::fs::read(good.join("journal.jsonl")).unwrap(), before, "the journal is intact");
    let twin = root.join("twin").join("good");
    std::fs::create_dir_all(&twin).unwrap();
    std::fs::copy(good.join("journal.jsonl"), twin.join("journal.jsonl")).unwrap();
    let out = icsrange(&["report", s(&good), s(&twin), "--out", s(&root.join("twins.html"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a second run directory named `good`"));

    // Broken run directories.
    let journal = std::fs::read(good.join("journal.jsonl")).unwrap();
    let lines: Vec<&[u8]> = journal.split_inclusive(|b| *b == b'\n').collect();
    let missing = root.join("no-such-run");
    refused(&missing, "no-such-run", "no run directory");
    let empty_dir = root.join("empty-dir");
    std::fs::create_dir_all(&empty_dir).unwrap();
    refused(&empty_dir, "empty-dir/journal.jsonl", "missing");
    let empty = broken(&root, "empty", &journal, |_| Vec::new());
    refused(&empty, "empty/journal.jsonl", "empty");
    // Cut in the middle of a line (a copy interrupted, a disk full).
    let cut = broken(&root, "cut", &journal, |j| j[..j.len() / 2].to_vec());
    let cut_line = journal[..journal.len() / 2].iter().filter(|b| **b == b'\n').count() + 1;
    refused(&cut, &format!("cut/journal.jsonl:{cut_line}"), "truncated");
    // Cut at a line's end, before the end entry (a run killed).
    let killed = broken(&root, "killed", &journal, |_| lines[..lines.len() / 2].concat());
    refused(&killed, "killed/journal.jsonl", "truncated: no end entry");
    // A line that is not JSON.
    let garbage = broken(&root, "garbage", &journal, |_| {
        let mut l = lines.clone();
        l[9] = b"{\"kind\": \"supply\", \"t\": 6\x30, oops\n";
        l.concat()
    });
    refused(&garbage, "garbage/journal.jsonl:10:", "corrupt");
    // Bytes that are not UTF-8.
    let binary = broken(&root, "binary", &journal, |_| {
        let mut l: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
        l[4] = vec![0xff, 0xfe, b'\n'];
        l.concat()
    });
    refused(&binary, "binary/journal.jsonl:5", "not UTF-8");
    // Valid JSON, edited: a supply figure changed; the run does not give it back.
    let edited_line = lines.iter().position(|l| l.starts_with(b"{\"kind\":\"supply\"")).unwrap() + 3;
    let edited = broken(&root, "edited", &journal, |_| {
        let mut l: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
        let text = String::from_utf8(l[edited_line - 1].clone()).unwrap();
        assert!(text.contains("\"supply\""), "{text}");
        l[edited_line - 1] = text.replacen("\"customers_off\":", "\"customers_off\":1", 1).into_bytes();
        l.concat()
    });
    refused(&edited, &format!("edited/journal.jsonl:{edited_line}"), "corrupt");
    // A journal of another format version.
    let old = broken(&root, "old", &journal, |_| {
        let mut l: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
        let first = String::from_utf8(l[0].clone()).unwrap();
        let v = range::journal::FORMAT_VERSION;
        l[0] = first.replacen(&format!("\"format\":{v}"), &format!("\"format\":{}", v - 1), 1).into_bytes();
        l.concat()
    });
    refused(&old, "old/journal.jsonl", &format!("journal format {}", range::journal::FORMAT_VERSION - 1));
    // A file where the directory should be.
    let file = root.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    refused(&file, "a-file", "not a directory");

    let _ = std::fs::remove_dir_all(&root);
}
