//! Fuzz target: a DNP3 byte stream through the link framer, the CRC-checking frame parser,
//! transport reassembly and an outstation. Nothing may panic; an accepted frame re-emits to
//! its octets; every reassembled fragment segments and reassembles back to itself; the
//! outstation answers every fragment it does not ignore with a response header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto_dnp3::link::{Frame, Framer};
use proto_dnp3::outstation::Outstation;
use proto_dnp3::transport::{Reassembler, segment};

fuzz_target!(|data: &[u8]| {
    let mut framer = Framer::new();
    let mut reassembler = Reassembler::new();
    let mut outstation = Outstation::new(10);
    outstation.binaries = vec![true, false];
    outstation.outputs = vec![true];
    outstation.counters = vec![3];
    outstation.analogs = vec![1, -2, 3];
    let mut now = 0u64;
    framer.push(data);
    while let Ok(Some(raw)) = framer.next_frame() {
        let Ok(frame) = Frame::parse(&raw) else { continue };
        let mut again = Vec::new();
        frame.emit(&mut again);
        assert_eq!(again, raw, "a parsed frame re-emits to its octets");
        if let Ok(Some(fragment)) = reassembler.push(&frame.data) {
            let mut segs = Vec::new();
            segment(&fragment, 0, &mut segs);
            let mut r = Reassembler::new();
            let mut whole = None;
            for s in &segs {
                whole = r.push(s).expect("our segments reassemble");
            }
            assert_eq!(whole.as_deref(), Some(&fragment[..]));
            now += 1000;
            outstation.set_binary(1, now % 3000 == 0, now);
            outstation.set_analog(0, (now / 1000) as i32);
            let (response, _) = outstation.handle(now, &fragment);
            if let Some(r) = response {
                assert!(r.len() >= 4 && r[1] == 129, "a response header");
            }
        }
    }
});
