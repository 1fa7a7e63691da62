//! `icsrange live`: the Ukraine exercise in real time on real sockets while the campaign
//! runs, and trainees' own tools inside the same range: an external pymodbus client switches
//! a UPS off from an address that is not the SCADA master's, and a c104 client sends a
//! C_DC_NA_1 to an RTU. Each is seen by the IDS (an alert naming its source), journaled with
//! its source and outcome, changes the range, and is in the capture, which tshark decodes
//! with no malformed frame.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::peers_and_tshark;

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};

const PYMODBUS: &str = r#"
import sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient(sys.argv[1], port=int(sys.argv[2]), source_address=(sys.argv[3], 0), timeout=5, retries=0)
assert c.connect(), "connect"
rr = c.write_coil(0, False, device_id=1)
assert not rr.isError(), rr
c.close()
print("UPS output off")
"#;

const C104: &str = r#"
import sys, time
import c104
host, port, ca, ioa = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
client = c104.Client()
conn = client.add_connection(ip=host, port=port, init=c104.Init.NONE)
st = conn.add_station(common_address=ca)
cmd = st.add_point(io_address=ioa, type=c104.Type.C_DC_NA_1)
client.start()
def wait(pred, secs=10.0):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False
assert wait(lambda: conn.is_connected), "connect"
if not wait(lambda: conn.state == c104.ConnectionState.OPEN, 1.0):
    conn.unmute()
assert wait(lambda: conn.state == c104.ConnectionState.OPEN and not conn.is_muted), "STARTDT"
# Direct execute: one ActCon to wait for (c104 can give up between a select's ActCon and its
# own execute when starved of CPU).
cmd.command_mode = c104.CommandMode.DIRECT
cmd.value = c104.Double.OFF
# The range journals the station's answer; c104's own verdict is not needed.
cmd.transmit(cause=c104.Cot.ACTIVATION)
time.sleep(0.5)
client.stop()
print("C_DC_NA_1 sent")
"#;

/// `icsrange live ukraine2015 ARGS --out DIR`, once it is ready: the child, the rest of its
/// output, and its first line.
fn start_live(args: &[&str], dir: &std::path::Path) -> (Child, Lines<BufReader<ChildStdout>>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_icsrange"))
        .args(["live", "ukraine2015"])
        .args(args)
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "ready", "{first}");
    (child, lines, first)
}

#[test]
fn trainees_tools_reach_the_live_range_the_ids_and_the_journal() {
    let Some(python) = peers_and_tshark() else { return };
    let dir = std::env::temp_dir().join(format!("icsrange-live-{}", std::process::id()));
    let (mut child, mut lines, first) = start_live(&["--speed", "10x"], &dir);
    let offset = first.contains("port + 10000");
    let port = |p: u16| if offset { p + 10_000 } else { p }.to_string();
    // The UPS of the first substation with feeders, from a host the exercise does not list.
    let out = Command::new(&python)
        .args(["-c", PYMODBUS, "127.10.5.1", &port(502), "127.10.250.99"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pymodbus: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Station 1004 (127.10.1.10): open its breaker IOA 2001 before the hijack does (600 s).
    let out = Command::new(&python)
        .args(["-c", C104, "127.10.1.10", &port(2404), "1004", "2001"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "c104: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Ctrl-C: the run stops and writes its files.
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    for _ in lines.by_ref() {}
    assert!(child.wait().unwrap().success());

    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let hijack_t = 600.0;
    // The UPS write: a command by an external source, accepted; the alert names the source.
    let ups = entries
        .iter()
        .find(|e| e["kind"] == "command" && e["by"] == "external" && e["dst"] == "127.10.5.1")
        .expect("the UPS write is journaled");
    assert_eq!(ups["src"], "127.10.250.99");
    assert_eq!(ups["operation"]["op"], "write_coil");
    assert_eq!(ups["outcome"], "accepted");
    assert!(entries.iter().any(|e| e["kind"] == "alert"
        && e["rule"] == "modbus.write_unlisted"
        && e["src"] == "127.10.250.99"));
    // The C_DC_NA_1: journaled with its source (c104 connects from 127.0.0.1), confirmed,
    // caught as a rogue master, and the breaker opened by command before the hijack.
    let dc = entries
        .iter()
        .find(|e| {
            e["kind"] == "command"
                && e["by"] == "external"
                && e["dst"] == "127.10.1.10"
                && e["operation"]["select"] == false
        })
        .expect("the C_DC_NA_1 execute is journaled");
    assert_eq!(dc["src"], "127.0.0.1");
    assert_eq!(dc["outcome"], "confirmed");
    assert_eq!(dc["operation"]["op"], "breaker");
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "alert" && e["rule"] == "iec104.rogue_master" && e["src"] == "127.0.0.1")
    );
    let opened = entries.iter().any(|e| {
        e["kind"] == "grid"
            && e["event"] == "open"
            && e["cause"] == "command"
            && e["t"].as_f64().unwrap() < hijack_t
    });
    assert!(opened, "the breaker opened before the campaign's hijack");
    let frames = |e: &serde_json::Value| (e["frames"][0].as_u64().unwrap(), e["frames"][1].as_u64().unwrap());
    let (ups_lo, _) = frames(ups);
    let (dc_lo, _) = frames(dc);

    let pcap = dir.join("capture.pcap");
    let count = |filter: &str| {
        let out = Command::new("tshark").arg("-r").arg(&pcap).args(["-Y", filter]).output().unwrap();
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(count("_ws.malformed || _ws.expert.severity >= error"), 0, "malformed frames");
    assert_eq!(
        count(&format!("frame.number == {ups_lo} && modbus.func_code == 5 && ip.src == 127.10.250.99")),
        1
    );
    assert!(
        count(&format!("frame.number >= {dc_lo} && iec60870_asdu.typeid == 46 && ip.src == 127.0.0.1")) >= 1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A service manager stops a range with SIGTERM: the run stops as on Ctrl-C and its files are
/// written, the capture complete.
#[test]
fn sigterm_stops_a_live_range_and_writes_its_files() {
    let dir = std::env::temp_dir().join(format!("icsrange-live-term-{}", std::process::id()));
    let (mut child, lines, _) = start_live(&["--speed", "60x", "--base", "127.13.0.0"], &dir);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    let summary = rest.last().expect("a summary line");
    assert!(summary.contains("stopped at t ="), "{summary}");
    for f in ["journal.jsonl", "capture.pcap", "alerts.jsonl", "score.json"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(journal.lines().last().unwrap().contains("\"kind\":\"end\""), "the journal is closed");
    let _ = std::fs::remove_dir_all(&dir);
}
