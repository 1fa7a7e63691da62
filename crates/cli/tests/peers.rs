//! Conformance against independent protocol implementations, on real sockets: the binary
//! runs a grid with its devices (`icsrange devices`), peer clients talk to them, and
//! tshark decodes the capture the binary wrote.
//!
//! Peers come from `scripts/test`, which sets `ICSRANGE_PEERS_PYTHON` (a venv with pymodbus, c104 and dnp3-python)
//! and `ICSRANGE_REQUIRE_PEERS=1`, and installs tshark. Without them (a bare `cargo test`)
//! these tests say so and pass; with `ICSRANGE_REQUIRE_PEERS` set, a missing peer or tshark
//! fails.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::process::Command;

use common::{Devices, peers_and_tshark, repo};

/// Frames of a capture that match a tshark display filter.
fn tshark_count(pcap: &std::path::Path, filter: &str) -> usize {
    let out = Command::new("tshark").arg("-r").arg(pcap).args(["-Y", filter]).output().expect("tshark runs");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn run_peer(python: &str, script: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(python).arg(repo(script)).args(args).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), report)
}

/// Counts of what tshark made of a capture: (Modbus/TCP frames, IEC 104 frames, DNP3 frames,
/// frames with payload it decoded as none of them, malformed or broken frames).
fn tshark_view(pcap: &std::path::Path) -> (usize, usize, usize, usize, usize) {
    let count = |filter: &str| tshark_count(pcap, filter);
    (
        count("mbtcp"),
        count("iec60870_104"),
        count("dnp3"),
        count("tcp.len > 0 && !mbtcp && !iec60870_104 && !dnp3"),
        count(
            "_ws.malformed || _ws.expert.severity >= error || tcp.analysis.lost_segment || \
             tcp.analysis.ack_lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order",
        ),
    )
}

/// Runs one peer script against a fresh `icsrange devices` on case9 with a capture; returns
/// the script's report and tshark's view of the capture.
fn against_devices(
    base: &str,
    python: &str,
    script: &str,
    args: &[&str],
) -> (String, (usize, usize, usize, usize, usize)) {
    against_devices_then(base, python, script, args, |_| {})
}

/// As `against_devices`, with one more look at the capture before it is removed.
fn against_devices_then(
    base: &str,
    python: &str,
    script: &str,
    args: &[&str],
    mut inspect: impl FnMut(&std::path::Path),
) -> (String, (usize, usize, usize, usize, usize)) {
    // One peer at a time: the peers are timing-sensitive clients (c104 misses confirmations
    // that are on the wire when its threads are starved of CPU), and on a 2-core machine
    // three at once starve them.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = std::env::temp_dir().join(format!("icsrange-peers-{}-{base}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("devices.pcap");
    let log = dir.join("devices.log");
    let devices = Devices::start("cases/case9.m", base, Some(&pcap), Some(&log));
    let (ok, report) = run_peer(python, script, args);
    devices.stop();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    // On failure the capture stays for a look in Wireshark.
    assert!(ok, "{script}:\n{report}\nicsrange devices said:\n{log}\ncapture kept: {}", pcap.display());
    let view = tshark_view(&pcap);
    inspect(&pcap);
    let _ = std::fs::remove_dir_all(&dir);
    (report, view)
}

#[test]
fn modbus_plcs_conform_to_pymodbus_and_tshark() {
    let Some(python) = peers_and_tshark() else { return };
    // gen 2's PLC (.0.2) is not the reference unit; gens 1 and 3 pick up its output.
    let (report, (modbus, iec104, dnp3, unclaimed, broken)) = against_devices(
        "127.30.0.0",
        &python,
        "tests/peers/modbus_conformance.py",
        &["127.30.0.2", "127.30.0.1", "127.30.0.3"],
    );
    assert!(report.contains("all Modbus checks passed"), "{report}");
    assert!(modbus >= 50 && iec104 == 0 && dnp3 == 0, "tshark decoded {modbus} Modbus/TCP frames");
    assert_eq!((unclaimed, broken), (0, 0), "undecoded payload, malformed or broken frames");
}

#[test]
fn iec104_rtus_conform_to_c104_and_tshark() {
    let Some(python) = peers_and_tshark() else { return };
    // The RTU of bus 4 (common address 4).
    let (report, (modbus, iec104, dnp3, unclaimed, broken)) =
        against_devices("127.31.0.0", &python, "tests/peers/iec104_conformance.py", &["127.31.1.4", "4"]);
    assert!(report.contains("all IEC 104 checks passed"), "{report}");
    assert!(iec104 >= 10 && modbus == 0 && dnp3 == 0, "tshark decoded {iec104} IEC 104 frames");
    assert_eq!((unclaimed, broken), (0, 0), "undecoded payload, malformed or broken frames");
}

#[test]
fn dnp3_reclosers_conform_to_opendnp3_and_tshark() {
    let Some(python) = peers_and_tshark() else { return };
    // The recloser of case9's load at bus 5 (the first load: 127.32.2.1, outstation 10).
    let mut crob_ok = (false, false);
    let (report, (modbus, iec104, dnp3, unclaimed, broken)) = against_devices_then(
        "127.32.0.0",
        &python,
        "tests/peers/dnp3_conformance.py",
        &["127.32.2.1"],
        |pcap| {
            // Responses (0x81) whose request was a SELECT (3) / OPERATE (4), with status 0.
            let statuses = |func: u8| {
                let out = Command::new("tshark")
                    .arg("-r")
                    .arg(pcap)
                    .args(["-Y", &format!("dnp3.al.func == {func}"), "-T", "fields", "-e", "frame.number"])
                    .output()
                    .unwrap();
                !String::from_utf8_lossy(&out.stdout).trim().is_empty()
            };
            let ok = tshark_count(pcap, "dnp3.al.func == 0x81 && dnp3.al.ctrlstatus == 0") >= 2;
            crob_ok = (statuses(3) && ok, statuses(4) && ok);
        },
    );
    assert!(report.contains("all DNP3 checks passed"), "{report}");
    assert!(dnp3 >= 20 && modbus == 0 && iec104 == 0, "tshark decoded {dnp3} DNP3 frames");
    // The SELECT and the OPERATE were each echoed with CROB status 0 (SUCCESS), as tshark
    // reads them (the peer's own result callback is broken in dnp3-python 0.3.0b1).
    let (select_ok, operate_ok) = (crob_ok.0, crob_ok.1);
    assert!(select_ok && operate_ok, "CROB echoes: select {select_ok}, operate {operate_ok}");
    assert_eq!((unclaimed, broken), (0, 0), "undecoded payload, malformed or broken frames");
}

/// The pipeline's devices (the built-in Colonial-style line, the safety controller's key at
/// RUN): pymodbus reads a station PLC and the safety controller (its program through FC 20,
/// a download and a bypass refused at RUN), opendnp3 polls a line RTU and closes its valve;
/// tshark decodes every frame, the file record functions and the CROB echoes included.
#[test]
fn pipeline_devices_conform_to_pymodbus_opendnp3_and_tshark() {
    let Some(python) = peers_and_tshark() else { return };
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = std::env::temp_dir().join(format!("icsrange-peers-{}-pipeline", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exercise = dir.join("pipeline-devices.yaml");
    std::fs::write(
        &exercise,
        "exercise: 1\nid: pipeline-devices\ntitle: The Colonial-style line's devices, key at RUN\n\
         sources: [\"pipelines/colonial.toml\"]\ngrid: station-supply\n\
         pipeline: {line: colonial, engineering: [ews], key: run}\nduration: 1h\n\
         zones: [{id: ot, name: OT}]\nhosts: [{id: scada, zone: ot, addr: 230.10}, {id: ews, zone: ot, addr: 230.20}]\n\
         scada: {host: scada, stations: []}\n",
    )
    .unwrap();
    let pcap = dir.join("devices.pcap");
    let log = dir.join("devices.log");
    // PS2's PLC, the safety controller, the first line RTU (block valve BV-1, outstation 20).
    let devices = Devices::start_exercise(&exercise, "127.33.0.0", Some(&pcap), Some(&log));
    let (ok, report) = run_peer(
        &python,
        "tests/peers/pipeline_conformance.py",
        &["127.33.6.2", "127.33.8.1", "127.33.7.1", "20"],
    );
    devices.stop();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        ok,
        "pipeline_conformance.py:\n{report}\nicsrange devices said:\n{log}\ncapture kept: {}",
        pcap.display()
    );
    assert!(report.contains("all pipeline checks passed"), "{report}");
    let (modbus, iec104, dnp3, unclaimed, broken) = tshark_view(&pcap);
    assert!(
        modbus >= 30 && dnp3 >= 6 && iec104 == 0,
        "tshark decoded {modbus} Modbus/TCP and {dnp3} DNP3 frames"
    );
    assert_eq!((unclaimed, broken), (0, 0), "undecoded payload, malformed or broken frames");
    // Two reads of file 1 and one of file 2 (refused), with their answers.
    assert_eq!(
        tshark_count(&pcap, "modbus.func_code == 20"),
        6,
        "FC 20 requests and answers, named by tshark"
    );
    assert!(
        tshark_count(&pcap, "modbus.func_code == 21 || modbus.func_code == 149") >= 2,
        "the refused FC 21"
    );
    assert!(
        tshark_count(&pcap, "dnp3.al.func == 0x81 && dnp3.al.ctrlstatus == 0") >= 2,
        "the CROB's echoes with status 0"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
