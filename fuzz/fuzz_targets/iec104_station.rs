//! Fuzz target: an IEC 104 byte stream through the framer, the APCI parser, the session and
//! the RTU of case9's bus 4 (which operates the grid on commands), with the session timers
//! polled between chunks. Nothing may panic; every frame the station sends parses back to
//! itself.
#![no_main]

use std::sync::OnceLock;

use devices::BusRtu;
use gridsim::dynamics::Dynamics;
use gridsim::sim::{Sim, SimTime};
use libfuzzer_sys::fuzz_target;
use proto_iec104::apci::{Frame, Framer};
use proto_iec104::{Params, Session};

const CASE9: &str = include_str!("../../cases/case9.m");

fn fresh() -> (Sim, BusRtu) {
    static CASE: OnceLock<gridsim::Case> = OnceLock::new();
    let case = CASE.get_or_init(|| gridsim::matpower::parse(CASE9).expect("case9 parses")).clone();
    let sim = Sim::new(case.clone(), Dynamics::defaults(&case)).expect("case9 solves");
    let rtu = BusRtu::new(&sim, gridsim::BusIdx(3), std::net::Ipv4Addr::LOCALHOST);
    (sim, rtu)
}

fuzz_target!(|data: &[u8]| {
    let (mut sim, mut rtu) = fresh();
    let mut session = Session::new(SimTime(0), Params::default());
    let mut framer = Framer::new();
    let mut now = SimTime(0);
    // Chunks: a length octet, then that many bytes; the clock advances 1 s per chunk.
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = (n as usize).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        now += SimTime(1_000_000);
        framer.push(chunk);
        let mut out = Vec::new();
        if session.poll(now, &mut out).is_err() {
            return;
        }
        loop {
            let raw = match framer.next_frame() {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(_) => return,
            };
            let Ok(frame) = Frame::parse(&raw) else { return };
            let mut again = Vec::new();
            frame.emit(&mut again);
            assert_eq!(again, raw, "a parsed frame re-emits to its bytes");
            match session.receive(now, &frame, &mut out) {
                Ok(Some(asdu)) => {
                    let mut answers = Vec::new();
                    rtu.handle(&mut sim, now, &asdu, &mut answers);
                    for a in answers {
                        if session.can_send() {
                            session.send(now, a, &mut out);
                        }
                    }
                }
                Ok(None) => {}
                Err(_) => return,
            }
        }
        for f in out {
            let mut bytes = Vec::new();
            f.emit(&mut bytes);
            assert_eq!(Frame::parse(&bytes).as_ref(), Ok(&f), "our frames parse back");
        }
    }
});
