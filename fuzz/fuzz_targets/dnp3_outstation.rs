//! Fuzz target: application fragments straight into a DNP3 outstation (the link target's
//! CRCs keep random input from reaching it). Input: fragments, each behind a length octet.
//! Nothing may panic; every response starts with a response header; a CONFIRM or
//! DIRECT_OPERATE_NR gets none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto_dnp3::app::{Request, fc};
use proto_dnp3::outstation::Outstation;

fuzz_target!(|data: &[u8]| {
    let mut o = Outstation::new(10);
    o.binaries = vec![true, false];
    o.outputs = vec![true, false];
    o.counters = vec![7];
    o.analogs = vec![100, -5, 49_990];
    o.deadbands = vec![10, 1, 5];
    let mut rest = data;
    let mut now = 0;
    while let Some((&n, tail)) = rest.split_first() {
        let n = (n as usize).min(tail.len());
        let (fragment, tail) = tail.split_at(n);
        rest = tail;
        now += 997;
        o.set_binary(1, now % 2 == 0, now);
        o.set_analog(0, (now % 500) as i32);
        let _ = Request::parse(fragment);
        let (response, _) = o.handle(now, fragment);
        match fragment.get(1) {
            Some(&fc::CONFIRM) | Some(&fc::DIRECT_OPERATE_NR) => {}
            Some(_) => {
                let r = response.expect("every other request is answered");
                assert!(r.len() >= 4 && r[1] == fc::RESPONSE && r[0] & 0x0F == fragment[0] & 0x0F);
            }
            None => assert!(response.is_none()),
        }
    }
});
