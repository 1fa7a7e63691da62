//! Fuzz target: a Modbus/TCP byte stream, split at a fuzzed point, through the framer, the
//! request parser and a generator PLC of case9 (which operates the grid on writes). Nothing
//! may panic; every response the server emits parses back to itself; an accepted request
//! re-emits to the bytes it came from.
#![no_main]

use std::sync::OnceLock;

use devices::GenPlc;
use gridsim::dynamics::Dynamics;
use gridsim::sim::Sim;
use libfuzzer_sys::fuzz_target;
use proto_modbus::{Framer, Request, Response};

const CASE9: &str = include_str!("../../cases/case9.m");

fn fresh() -> (Sim, GenPlc) {
    static CASE: OnceLock<gridsim::Case> = OnceLock::new();
    let case = CASE.get_or_init(|| gridsim::matpower::parse(CASE9).expect("case9 parses")).clone();
    let sim = Sim::new(case.clone(), Dynamics::defaults(&case)).expect("case9 solves");
    let mut plc = GenPlc::new("gen2".into(), 2, std::net::Ipv4Addr::LOCALHOST);
    plc.refresh(&sim);
    (sim, plc)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else { return };
    let cut = (cut as usize).min(stream.len());
    let (mut sim, mut plc) = fresh();
    let mut framer = Framer::new();
    for part in [&stream[..cut], &stream[cut..]] {
        framer.push(part);
        loop {
            let frame = match framer.next_adu() {
                Ok(Some(f)) => f,
                Ok(None) | Err(_) => break,
            };
            let adu = proto_modbus::Adu::new_checked(&frame[..]).expect("the framer yields whole ADUs");
            let pdu = adu.pdu();
            if let Ok(req) = Request::parse(pdu) {
                let mut again = Vec::new();
                req.emit(&mut again);
                assert_eq!(again, pdu, "request re-emits to its bytes");
            }
            if let Some(resp) = plc.handle(&mut sim, adu.unit(), pdu) {
                let mut bytes = Vec::new();
                resp.emit(&mut bytes);
                let count = match Request::parse(pdu) {
                    Ok(Request::ReadCoils { count, .. } | Request::ReadDiscreteInputs { count, .. }) => Some(count),
                    _ => None,
                };
                let back = Response::parse(&bytes, count).expect("our responses parse");
                assert_eq!(back, resp, "response round-trips");
            }
        }
    }
});
