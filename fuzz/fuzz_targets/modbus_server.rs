//! Fuzz target: a Modbus/TCP byte stream, split at a fuzzed point, through the framer, the
//! request parser and one of case9's Modbus devices (a generator PLC, a protection relay or a
//! UPS, picked by the first octet; they operate the grid and the wiring on writes), the grid
//! stepping 10 ms after each request so breakers move. Nothing may panic; every response the
//! server emits parses back to itself; an accepted request re-emits to the bytes it came from.
#![no_main]

use std::sync::OnceLock;

use devices::{DeviceRef, Devices};
use gridsim::dynamics::Dynamics;
use gridsim::sim::{Sim, SimTime};
use libfuzzer_sys::fuzz_target;
use proto_modbus::{Framer, Request, Response};

const CASE9: &str = include_str!("../../cases/case9.m");

fn fresh() -> (Sim, Devices) {
    static CASE: OnceLock<gridsim::Case> = OnceLock::new();
    let case = CASE.get_or_init(|| gridsim::matpower::parse(CASE9).expect("case9 parses")).clone();
    let sim = Sim::new(case.clone(), Dynamics::defaults(&case)).expect("case9 solves");
    let devices = devices::default_devices(&sim, std::net::Ipv4Addr::new(127, 0, 0, 0)).expect("case9 fits");
    (sim, devices)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else { return };
    let which = match cut % 3 {
        0 => DeviceRef::Plc(1),
        1 => DeviceRef::Relay(3),
        _ => DeviceRef::Ups(0),
    };
    let cut = (cut as usize / 3).min(stream.len());
    let (mut sim, mut devices) = fresh();
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
            let answer = devices.modbus(&mut sim, which, adu.unit(), pdu);
            sim.step(SimTime(10_000));
            let events = sim.take_events();
            devices.step(&sim, SimTime(10_000), &events);
            if let Some(resp) = answer {
                let mut bytes = Vec::new();
                resp.emit(&mut bytes);
                let count = match Request::parse(pdu) {
                    Ok(Request::ReadCoils { count, .. } | Request::ReadDiscreteInputs { count, .. }) => {
                        Some(count)
                    }
                    _ => None,
                };
                let back = Response::parse(&bytes, count).expect("our responses parse");
                assert_eq!(back, resp, "response round-trips");
            }
        }
    }
});
