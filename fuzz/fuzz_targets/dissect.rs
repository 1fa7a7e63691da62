//! The analyst's dissector on hostile streams: the first byte picks the service (Modbus,
//! IEC 104, DNP3 or another port) and the direction, the rest is cut into segments by one
//! length byte each. Asserts no panic, a line for every decoded frame, and that a broken
//! stream stays silent afterwards.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use gridsim::sim::SimTime;
use ids::Packet;
use ids::dissect::Dissector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else { return };
    let port = [502, 2404, 20000, 8080][(first & 3) as usize];
    let client = SocketAddrV4::new(Ipv4Addr::new(127, 10, 250, 9), 40000);
    let server = SocketAddrV4::new(Ipv4Addr::new(127, 10, 1, 1), port);
    let mut d = Dissector::new();
    let mut number = 0;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        number += 1;
        let to_server = len & 0x80 == 0 || first & 4 != 0;
        let (src, dst) = if to_server { (client, server) } else { (server, client) };
        let out = d.packet(&Packet { number, t: SimTime(number * 1000), src, dst, payload });
        for f in &out {
            assert!(!f.summary.is_empty() || f.protocol == "http");
            assert_eq!(f.frame, number);
        }
        if len == 0xFF {
            d.closed(src, dst);
        }
    }
});
