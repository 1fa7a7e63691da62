//! A flow's framing state ends with the flow: a new connection on the same addresses and
//! ports (a client port reused) is read from its first byte, not glued to a dead one's
//! unfinished frame.
//!
//! `rules`: every rule, a test that fires it and a near miss that stays quiet; the rule table.

mod rules;

use std::net::{Ipv4Addr, SocketAddrV4};

use ids::{Config, Ids, Packet};
use simcore::SimTime;

#[test]
fn a_reused_four_tuple_is_read_afresh_after_close() {
    let client = SocketAddrV4::new(Ipv4Addr::new(127, 10, 250, 99), 40_000);
    let relay = SocketAddrV4::new(Ipv4Addr::new(127, 10, 5, 1), 502);
    let mut ids = Ids::new(Config::default());
    let packet = |number, payload| Packet { number, t: SimTime(1_000_000), src: client, dst: relay, payload };
    // The MBAP header of a request whose PDU never comes; then the connection closes.
    ids.observe(&packet(4, &[0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01]));
    ids.closed(client, relay);
    // Write Single Coil (FC 5) from a host not on the allowlist, on a new connection.
    let write = [0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x05, 0x00, 0x00, 0xff, 0x00];
    ids.observe(&packet(9, &write));
    let alerts = ids.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].rule, "modbus.write_unlisted");
    assert_eq!(alerts[0].evidence, vec![9]);
}
