//! Conformance against independent protocol implementations, on real sockets: the binary
//! runs a grid with its devices (`icsrange devices`), a peer client talks to them, and
//! tshark decodes the capture the binary wrote.
//!
//! Peers come from `scripts/test`, which sets `ICSRANGE_PEERS_PYTHON` (a venv with pymodbus)
//! and `ICSRANGE_REQUIRE_PEERS=1`. Without them (a bare `cargo test`) these tests say so and
//! pass; with `ICSRANGE_REQUIRE_PEERS` set, a missing peer fails.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::process::Command;

use common::{Devices, repo};

fn peer_python() -> Option<String> {
    match std::env::var("ICSRANGE_PEERS_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("ICSRANGE_REQUIRE_PEERS").is_some() => {
            panic!("ICSRANGE_REQUIRE_PEERS is set but ICSRANGE_PEERS_PYTHON is not")
        }
        Err(_) => {
            eprintln!("skipped: no protocol peers (run ./scripts/test, which installs them)");
            None
        }
    }
}

/// tshark's view of a capture: frames with payload that its dissector did not claim, and
/// frames it found malformed or broken at the TCP level.
fn tshark_problems(pcap: &std::path::Path, proto: &str) -> (usize, usize, usize) {
    let count = |filter: &str| {
        let out =
            Command::new("tshark").arg("-r").arg(pcap).args(["-Y", filter]).output().expect("tshark runs");
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let decoded = count(proto);
    let unclaimed = count(&format!("tcp.len > 0 && !{proto}"));
    let broken = count(
        "_ws.malformed || _ws.expert.severity >= error || tcp.analysis.lost_segment || \
         tcp.analysis.ack_lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order",
    );
    (decoded, unclaimed, broken)
}

#[test]
fn modbus_plcs_conform_to_pymodbus_and_tshark() {
    let Some(python) = peer_python() else { return };
    let dir = std::env::temp_dir().join(format!("icsrange-peers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("modbus.pcap");
    // case9: gen 2 (127.30.0.2) is not the reference unit; gens 1 and 3 pick up its output.
    let devices = Devices::start("cases/case9.m", "127.30.0.0", Some(&pcap), None);
    let out = Command::new(&python)
        .arg(repo("tests/peers/modbus_conformance.py"))
        .args(["127.30.0.2", "127.30.0.1", "127.30.0.3"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    devices.stop();
    assert!(out.status.success(), "pymodbus conformance failed:\n{report}");
    assert!(report.contains("all Modbus checks passed"), "{report}");

    let (decoded, unclaimed, broken) = tshark_problems(&pcap, "mbtcp");
    assert!(decoded >= 50, "tshark decoded {decoded} Modbus/TCP frames");
    assert_eq!(unclaimed, 0, "payload tshark did not decode as Modbus/TCP");
    assert_eq!(broken, 0, "malformed or broken frames");
    let _ = std::fs::remove_dir_all(&dir);
}
