//! A run is a pure function of (exercise, seed, inputs): a headless run with the actions of
//! two actors, an instructor's control and a live connection replays byte for byte through
//! `icsrange replay`, and a journal whose inputs were tampered with is reported where it
//! diverges.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

use common::repo;
use exercise::DefenderAction;
use exercise::catalogue::Builtin;
use gridsim::sim::SimTime;
use netio::capture::Capture;
use range::{Action, Actor, Live, Range, Role, RunConfig};

#[test]
fn a_run_with_actions_and_a_live_connection_replays_byte_for_byte() {
    let ex = exercise::load(&std::fs::read_to_string(repo("exercises/ukraine2015.yaml")).unwrap(), &Builtin)
        .unwrap();
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut r = Range::new(ex.clone(), grid, RunConfig::new(5, "none", Vec::new())).unwrap();
    let dir = std::env::temp_dir().join(format!("icsrange-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = Capture::create(&dir.join("capture.pcap")).unwrap();
    let mut flows = Default::default();
    let analyst = Actor::User { team: "blue".into(), user: "ana".into(), role: Role::Analyst };
    let operator = Actor::User { team: "blue".into(), user: "olek".into(), role: Role::Operator };
    let mut done = [false; 3];
    while !r.is_finished() {
        let t = r.time();
        if t >= SimTime::from_secs(300.0) && !done[0] {
            done[0] = true;
            // A trainee's tool on the network: FC 5 coil 0 = 0 to a UPS, from 127.10.250.99.
            let client = SocketAddrV4::new(Ipv4Addr::new(127, 10, 250, 99), 40_999);
            let server = SocketAddrV4::new(Ipv4Addr::new(127, 10, 5, 1), 502);
            let conn = r.live(Live::Open { client, server }).unwrap().unwrap();
            let mut adu = Vec::new();
            let mut pdu = Vec::new();
            proto_modbus::Request::WriteSingleCoil { address: 0, value: false }.emit(&mut pdu);
            proto_modbus::adu::emit(1, 1, &pdu, &mut adu);
            r.live(Live::Data { conn, bytes: adu }).unwrap();
            r.live(Live::Close { conn }).unwrap();
            r.act(Actor::Instructor { name: "ines".into() }, Action::FireInject { inject: "press".into() });
        }
        if t >= SimTime::from_secs(700.0) && !done[1] {
            done[1] = true;
            r.act(analyst.clone(), Action::Defend(DefenderAction::Block { host: "attacker".into() }));
            // Refused: operating breakers is the operator's.
            r.act(analyst.clone(), Action::Defend(DefenderAction::CloseOpened));
        }
        if t >= SimTime::from_secs(1500.0) && !done[2] {
            done[2] = true;
            r.act(operator.clone(), Action::Defend(DefenderAction::CloseOpened));
        }
        r.step();
        netio::driver::write_wire(&capture, &mut flows, r.take_wire());
    }
    capture.finish().unwrap();
    let journal = journal_format::to_jsonl(r.journal());
    std::fs::write(dir.join("journal.jsonl"), &journal).unwrap();
    let score = range::score::score(&ex, r.journal());
    std::fs::write(dir.join("score.json"), journal_format::score(&score)).unwrap();
    assert!(journal.contains("\"by\":\"external\""), "the live write is a command with its source");
    assert!(journal.contains("operating the grid is the operator's"), "the refusal is journaled");

    let out = Command::new(env!("CARGO_BIN_EXE_icsrange")).arg("replay").arg(&dir).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    for line in ["journal: ", "score.json: identical", "capture.pcap: ", "reproduces"] {
        assert!(said.contains(line), "{line}: {said}");
    }

    // Tampered: the live write asks for the coil on instead of off.
    let tampered =
        journal.replace("\"hex\":\"000100000006010500000000\"", "\"hex\":\"00010000000601050000ff00\"");
    assert_ne!(tampered, journal);
    std::fs::write(dir.join("journal.jsonl"), &tampered).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_icsrange")).arg("replay").arg(&dir).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    let line = tampered.lines().position(|l| l.contains("00010000000601050000ff00")).unwrap() + 1;
    // The input itself replays as written; the first entry to differ is what the device did.
    let first = said.lines().find_map(|l| l.strip_prefix("journal diverges at line ")).unwrap();
    let at: usize = first.trim_end_matches(':').parse().unwrap();
    assert!(at > line, "diverges at {at}, after the tampered input on line {line}: {said}");
    assert!(said.contains("does not reproduce"));
    let _ = std::fs::remove_dir_all(&dir);
}
