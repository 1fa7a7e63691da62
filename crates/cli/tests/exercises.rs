//! `icsrange validate` and `icsrange run` through the binary: exit codes, reproducible
//! output files, and a capture tshark decodes without a malformed packet.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::process::Command;

use common::{repo, tshark};

fn icsrange(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_icsrange")).args(args).output().unwrap()
}

#[test]
fn validate_reports_every_problem_with_line_and_column_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("icsrange-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(repo("exercises/ukraine2015.yaml")).unwrap();
    let bad = good
        .replace("title: \"Ukraine 2015", "titel: \"Ukraine 2015")
        .replace("crew_delay: 40m", "crew_delay: an hour")
        .replace("{id: mail, zone: it,", "{id: mail, zone: office,")
        .replace("    at: 40m\n", "    at: 4h\n")
        .replace("firmware: {from: attacker,", "firmware: {from: atacker,");
    let path = dir.join("bad.yaml");
    std::fs::write(&path, &bad).unwrap();
    let out = icsrange(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (needle, message) in [
        ("titel:", "unknown key `titel`"),
        ("crew_delay: an hour", "`crew_delay` must be a duration"),
        ("zone: office", "zone `office`, which is not declared"),
        ("at: 4h", "after the exercise ends"),
        ("from: atacker", "no host `atacker`"),
    ] {
        let want = format!("bad.yaml:{}:", line_of(needle));
        assert!(err.lines().any(|l| l.contains(&want) && l.contains(message)), "{want} {message}:\n{err}");
    }
    let out = icsrange(&["validate", repo("exercises/ukraine2015.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("valid"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two runs of the same file and seed write byte-identical journal.jsonl and score.json, and
/// tshark decodes the capture with no malformed packet.
#[test]
fn runs_are_byte_identical_and_the_capture_decodes() {
    let dir = std::env::temp_dir().join(format!("icsrange-run-{}", std::process::id()));
    let exercise = repo("exercises/ukraine2015.yaml");
    let mut outputs = Vec::new();
    for k in 0..2 {
        let out_dir = dir.join(format!("run{k}"));
        let out = icsrange(&[
            "run",
            exercise.to_str().unwrap(),
            "--seed",
            "3",
            "--defender",
            "none",
            "--out",
            out_dir.to_str().unwrap(),
            "--check",
        ]);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("expect (defender none): holds"));
        let journal = std::fs::read(out_dir.join("journal.jsonl")).unwrap();
        let score = std::fs::read(out_dir.join("score.json")).unwrap();
        let alerts = std::fs::read(out_dir.join("alerts.jsonl")).unwrap();
        outputs.push((journal, score, alerts));
    }
    assert!(outputs[0] == outputs[1], "the two runs differ");
    let score: serde_json::Value = serde_json::from_slice(&outputs[0].1).unwrap();
    for key in ["total", "components", "ens_mwh", "customers_off_peak", "time_to_detect_s"] {
        assert!(score.get(key).is_some(), "score.json lacks {key}: {score}");
    }
    assert!(score["customers_off_peak"].as_u64().unwrap() >= 150_000);

    let pcap = dir.join("run0/capture.pcap");
    if !tshark() {
        return;
    }
    let count = |filter: &str| {
        let out = Command::new("tshark").arg("-r").arg(&pcap).args(["-Y", filter]).output().unwrap();
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let bad = count(
        "_ws.malformed || _ws.expert.severity >= error || tcp.analysis.lost_segment || \
         tcp.analysis.ack_lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order",
    );
    assert_eq!(bad, 0, "malformed or broken packets in the run's capture");
    assert!(count("iec60870_asdu.typeid == 46") >= 27, "the hijack's C_DC_NA_1 commands");
    assert!(count("modbus.func_code == 5") >= 27, "the UPS writes");
    assert!(count("http.request.method == \"POST\"") >= 27, "the firmware uploads");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The built-in exercises are in the binary, by name, and valid.
#[test]
fn built_in_exercises_are_valid_by_name() {
    for name in ["ukraine2015", "industroyer2016", "industroyer2022"] {
        let out = icsrange(&["validate", name]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = icsrange(&["validate", "atlantis2031"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Industroyer's relay denial of service is a real UDP datagram: in the capture (and across
/// loopback), 18 bytes to port 50000 of each relay, the CVE-2015-5374 packet; the IDS alert
/// cites those frames, in the trainees' evidence too; tshark decodes the whole capture with
/// no malformed frame.
#[test]
fn industroyer_relay_dos_is_a_udp_datagram_in_the_capture() {
    let dir = std::env::temp_dir().join(format!("icsrange-udp-{}", std::process::id()));
    // Its own block: the other tests of this binary carry their runs on 127.10.0.0/16.
    let out = icsrange(&["run", "industroyer2016", "--base", "127.31.0.0", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts = std::fs::read_to_string(dir.join("evidence/alerts.jsonl")).unwrap();
    let dos: Vec<serde_json::Value> = alerts
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["rule"] == "siprotec.dos")
        .collect();
    assert_eq!(dos.len(), 4, "an alert per relay: {alerts}");
    let cited: Vec<u64> = dos.iter().map(|a| a["frames"][0].as_u64().unwrap()).collect();
    if !tshark() {
        return;
    }
    let pcap = dir.join("evidence/capture.pcap");
    let fields = |filter: &str, field: &str| -> Vec<String> {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-Y", filter, "-T", "fields", "-e", field])
            .output()
            .unwrap();
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    };
    let frames: Vec<u64> =
        fields("udp.dstport == 50000", "frame.number").iter().map(|n| n.parse().unwrap()).collect();
    assert_eq!(frames, cited, "the alerts cite the datagrams");
    let payloads = fields("udp.dstport == 50000", "data.data");
    assert!(
        payloads.iter().all(|p| p.replace(':', "") == "11490000000000000000000000000000289e"),
        "the CVE-2015-5374 packet: {payloads:?}"
    );
    let bad = fields(
        "_ws.malformed || _ws.expert.severity >= error || tcp.analysis.lost_segment || \
         tcp.analysis.ack_lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order",
        "frame.number",
    );
    assert!(bad.is_empty(), "malformed or broken frames: {bad:?}");
    assert!(fields("iec60870_asdu.typeid == 46", "frame.number").len() >= 3, "the payload's C_DC_NA_1");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every built-in exercise with no defender and with each of its scripted defenders (seed 1,
/// no wire) writes the journal, capture, alerts, score and evidence files whose SHA-256 were
/// recorded in `tests/golden/runs.sha256` (`scripts/record-golden`): a change of structure
/// changes no byte of what a run records. Re-record only for a difference that is a fixed bug,
/// named in the commit.
#[test]
fn built_in_runs_match_their_recorded_digests() {
    use sha2::Digest;
    let recorded = std::fs::read_to_string(repo("tests/golden/runs.sha256")).unwrap();
    let mut runs: std::collections::BTreeMap<(String, String), Vec<(String, String)>> = Default::default();
    for line in recorded.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 4, "tests/golden/runs.sha256: {line}");
        runs.entry((f[0].into(), f[1].into())).or_default().push((f[2].into(), f[3].into()));
    }
    let mut exercises: Vec<String> = std::fs::read_dir(repo("exercises"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".yaml").map(str::to_string))
        .collect();
    exercises.sort();
    let played: std::collections::BTreeSet<&String> = runs.keys().map(|k| &k.0).collect();
    assert_eq!(
        played.into_iter().cloned().collect::<Vec<_>>(),
        exercises,
        "every built-in exercise recorded"
    );
    let dir = std::env::temp_dir().join(format!("icsrange-golden-{}", std::process::id()));
    let jobs: Vec<_> = runs.into_iter().collect();
    // Two at a time (the runs are independent processes).
    let failures: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = jobs.chunks(jobs.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let dir = &dir;
                s.spawn(move || {
                    let mut failures = Vec::new();
                    for ((ex, defender), files) in chunk {
                        let out_dir = dir.join(format!("{ex}-{defender}"));
                        let out = icsrange(&[
                            "run",
                            ex,
                            "--defender",
                            defender,
                            "--seed",
                            "1",
                            "--wire",
                            "none",
                            "--out",
                            out_dir.to_str().unwrap(),
                        ]);
                        assert!(
                            out.status.success(),
                            "{ex} {defender}: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        for (file, want) in files {
                            let got = std::fs::read(out_dir.join(file))
                                .map(|b| {
                                    sha2::Sha256::digest(&b).iter().map(|x| format!("{x:02x}")).collect()
                                })
                                .unwrap_or_else(|e| format!("missing: {e}"));
                            if &got != want {
                                failures.push(format!("{ex} {defender} {file}: {got}, recorded {want}"));
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "runs differ from their recorded digests:\n{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
