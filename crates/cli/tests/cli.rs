//! The `icsrange` command-line contract, run as a real process: output shape, exit codes,
//! and one-line errors that name the line and column.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

fn icsrange(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_icsrange")).args(args).output().expect("binary runs")
}

fn repo_case(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cases").join(name)
}

/// A file in a scratch directory of its own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn with(name: &str, text: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "icsrange-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Scratch(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

#[test]
fn pf_json_matches_the_reference_and_keeps_file_order() {
    let case = repo_case("case9.m");
    let out = icsrange(&["pf", case.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["converged"], true);
    assert_eq!(v["iterations"], 4);
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_case("case9.ref.json")).unwrap()).unwrap();
    let buses = v["bus"].as_array().unwrap();
    assert_eq!(buses.len(), 9);
    for (k, bus) in buses.iter().enumerate() {
        assert_eq!(bus["id"], reference["bus"]["bus_i"][k]);
        let dvm = bus["vm_pu"].as_f64().unwrap() - reference["bus"]["vm_pu"][k].as_f64().unwrap();
        let dva = bus["va_deg"].as_f64().unwrap() - reference["bus"]["va_deg"][k].as_f64().unwrap();
        assert!(dvm.abs() < 1e-6 && dva.abs() < 1e-4, "bus {k}: {dvm:e} {dva:e}");
    }
    let branches = v["branch"].as_array().unwrap();
    assert_eq!(branches.len(), 9);
    for (k, br) in branches.iter().enumerate() {
        assert_eq!(br["from"], reference["branch"]["f_bus"][k]);
        assert_eq!(br["to"], reference["branch"]["t_bus"][k]);
        for col in ["pf_mw", "qf_mvar", "pt_mw", "qt_mvar"] {
            let d = br[col].as_f64().unwrap() - reference["branch"][col][k].as_f64().unwrap();
            assert!(d.abs() < 1e-3, "branch {k} {col}: {d:e}");
        }
    }
    let gens = v["gen"].as_array().unwrap();
    assert_eq!(gens.len(), 3);
    for (k, g) in gens.iter().enumerate() {
        assert_eq!(g["bus"], reference["gen"]["bus"][k]);
        let d = g["pg_mw"].as_f64().unwrap() - reference["gen"]["pg_mw"][k].as_f64().unwrap();
        assert!(d.abs() < 1e-3);
    }
}

#[test]
fn pf_summary_names_the_figures() {
    let out = icsrange(&["pf", repo_case("case14.m").to_str().unwrap(), "--start", "case"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in
        ["buses       14", "branches    20", "iterations  2", "losses", "|V| min/max 1.0100 / 1.0900", "time"]
    {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn pf_that_does_not_converge_exits_1_and_still_prints_json() {
    let text = std::fs::read_to_string(repo_case("case9.m")).unwrap();
    // 25 times the load of case9 has no solution.
    let heavy = text
        .replace("\t5\t1\t90\t30\t", "\t5\t1\t2250\t750\t")
        .replace("\t7\t1\t100\t35\t", "\t7\t1\t2500\t875\t")
        .replace("\t9\t1\t125\t50\t", "\t9\t1\t3125\t1250\t");
    assert_ne!(heavy, text);
    let file = Scratch::with("heavy.m", &heavy);
    let out = icsrange(&["pf", file.path(), "--json", "--max-iter", "15"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["converged"], false);
    assert!(v["iterations"].as_u64().unwrap() <= 15);
    assert!(v["worst_bus"].as_u64().is_some());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: no convergence after"), "{stderr}");
}

/// Malformed input: exit 2, one line on stderr, `file:line:col: reason`.
#[track_caller]
fn check_bad(name: &str, text: &str, expected: &str) {
    let file = Scratch::with(name, text);
    let out = icsrange(&["pf", file.path()]);
    assert_eq!(out.status.code(), Some(2), "{name}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let want = format!("error: {}:{expected}\n", file.path());
    assert_eq!(stderr, want);
}

#[test]
fn malformed_files_exit_2_naming_line_and_column() {
    let good = std::fs::read_to_string(repo_case("case9.m")).unwrap();
    // Truncated in the middle of the branch matrix.
    let cut = good.find("\t8\t9\t0.032").unwrap();
    check_bad("truncated.m", &good[..cut], "50:14: `[` opened here is never closed");
    check_bad(
        "word.m",
        &good.replace("\t7\t1\t100\t35", "\t7\t1\tlots\t35"),
        "35:6: expected a number, found `lots`",
    );
    check_bad(
        "no_base.m",
        &good.replace("mpc.baseMVA = 100;", "% baseMVA removed"),
        "71:1: missing `mpc.baseMVA`",
    );
    check_bad(
        "unknown_bus.m",
        &good.replace("\t8\t9\t0.032", "\t8\t19\t0.032"),
        "58:4: branch row 8: bus 19 is not in `mpc.bus`",
    );
    check_bad("empty.m", "", "1:1: empty file: no MATPOWER case here");
    check_bad("binary.m", "\u{0}\u{1}garbage", "1:1: unexpected character `\u{0}`");
}

#[test]
fn unreadable_file_and_bad_options_exit_2() {
    let out = icsrange(&["pf", "/nonexistent/case.m"]);
    assert_eq!(out.status.code(), Some(2));
    let out = icsrange(&["pf", repo_case("case9.m").to_str().unwrap(), "--tol", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = icsrange(&["pf", repo_case("case9.m").to_str().unwrap(), "--start", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_pf_prints_one_line_per_case_with_the_contract_columns() {
    let cases = [repo_case("case9.m"), repo_case("case14.m")];
    let args: Vec<&str> = ["bench", "pf"]
        .into_iter()
        .chain(cases.iter().map(|p| p.to_str().unwrap()))
        .chain(["--runs", "3"])
        .collect();
    let out = icsrange(&args);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0][..6], ["case", "buses", "branches", "iterations", "median_ms", "cold_ms"]);
    assert_eq!(lines.len(), 3);
    assert_eq!(&lines[1][..4], ["case9", "9", "9", "4"]);
    assert_eq!(&lines[2][..4], ["case14", "14", "20", "4"]);
    for line in &lines[1..] {
        for ms in &line[4..6] {
            assert!(ms.parse::<f64>().unwrap() > 0.0);
        }
    }
}

/// Runs `icsrange sim` writing series and events into a scratch directory; returns
/// (exit code, stdout, series, events).
fn sim(args: &[&str]) -> (Option<i32>, String, String, String) {
    let dir = Scratch::with("marker", "");
    let series = dir.0.with_file_name("series.csv");
    let events = dir.0.with_file_name("events.jsonl");
    let mut all = vec!["sim"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--series", series.to_str().unwrap(), "--events", events.to_str().unwrap()]);
    let out = icsrange(&all);
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr;
    (out.status.code(), stdout, read(&series), read(&events))
}

#[test]
fn sim_writes_the_series_and_events_contract() {
    let case = repo_case("case118.m");
    let (code, stdout, series, events) = sim(&[
        case.to_str().unwrap(),
        "--for",
        "30s",
        "--step",
        "100ms",
        "--at",
        "2s open branch 36",
        "--at",
        "2s open branch 50",
        "--at",
        "20s close branch 36",
    ]);
    assert_eq!(code, Some(0), "{stdout}");
    let mut lines = series.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for col in ["t_s", "f_hz", "served_mw", "unserved_mw", "ens_mwh", "customers_off"] {
        assert!(header.contains(&col), "series header lacks {col}: {header:?}");
    }
    let rows: Vec<Vec<f64>> = lines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 301, "t = 0, 0.1, ..., 30 s");
    assert_eq!(rows[0][0], 0.0);
    assert_eq!(rows[300][0], 30.0);
    assert_eq!(rows[0][1], 50.0);
    let ens = header.iter().position(|c| *c == "ens_mwh").unwrap();
    assert!(rows.windows(2).all(|w| w[1][ens] >= w[0][ens]), "energy not served never decreases");

    let events: Vec<serde_json::Value> = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for e in &events {
        for key in ["t_s", "kind", "element", "cause"] {
            assert!(e.get(key).is_some(), "event without {key}: {e}");
        }
    }
    assert_eq!(events[0]["t_s"], 2.0);
    assert_eq!(events[0]["kind"], "open");
    assert_eq!(events[0]["element"], "branch 36");
    assert_eq!(events[0]["cause"], "command");
    let relay = events.iter().find(|e| e["cause"] == "overcurrent").expect("a relay operates");
    assert_eq!(relay["curve"], "IEC standard inverse");
    assert!(relay["multiple"].as_f64().unwrap() > 1.0);
    let times: Vec<f64> = events.iter().map(|e| e["t_s"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "events in time order");
    assert!(events.iter().any(|e| e["element"] == "branch 36" && e["kind"] == "close"));
}

#[test]
fn sim_runs_are_byte_identical() {
    let case = repo_case("case118.m");
    let args =
        [case.to_str().unwrap(), "--for", "40s", "--at", "1s open branch 36", "--at", "1s open branch 50"];
    let (code, _, series_a, events_a) = sim(&args);
    assert_eq!(code, Some(0));
    let (_, _, series_b, events_b) = sim(&args);
    assert!(events_a.lines().count() > 20, "a cascade with many events");
    assert_eq!(events_a, events_b);
    assert_eq!(series_a, series_b);
}

#[test]
fn sim_rejects_bad_commands_and_sidecars_with_positions() {
    let case = repo_case("case9.m");
    let (code, out, _, _) = sim(&[case.to_str().unwrap(), "--at", "2s open branch 99"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("branch 99 does not exist"), "{out}");

    let (code, out, _, _) = sim(&[case.to_str().unwrap(), "--at", "soon open branch 1"]);
    assert_eq!(code, Some(2), "{out}");

    let sidecar = Scratch::with("bad.dyn.toml", "f0_hz = 50\n\n[[gen]]\nrow = 1\nh_s = \"big\"\n");
    let (code, out, _, _) = sim(&[case.to_str().unwrap(), "--dynamics", sidecar.path()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("bad.dyn.toml:5:7:"), "{out}");
}
