//! Finding 4 of the hardening review: any local process could abort `icsrange run --wire
//! loopback` by connecting to a device's listener before the run's own next connection
//! (the run took the stranger's connection, waited for bytes that never came and exited 2).
//! The carrier takes only its own connection and closes the stranger's.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::time::Duration;

use gridsim::sim::SimTime;
use netio::carrier::Carrier;
use range::net::{Wire, WireEvent};

fn wire(conn: u32, client: SocketAddrV4, server: SocketAddrV4, event: WireEvent) -> Wire {
    Wire { t: SimTime(0), conn, client, server, event }
}

#[test]
fn a_stranger_connected_first_does_not_take_the_runs_connection() {
    let server = SocketAddrV4::new(Ipv4Addr::new(127, 48, 3, 1), 502);
    let master = SocketAddrV4::new(Ipv4Addr::new(127, 48, 200, 10), 40_001);
    let mut carrier = Carrier::default();
    // The run's first connection binds the device's listener.
    carrier.carry(&wire(1, master, server, WireEvent::Open)).unwrap();
    carrier
        .carry(&wire(1, master, server, WireEvent::ToServer(vec![0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])))
        .unwrap();
    let listening = carrier.listeners[&server].local_addr().unwrap();
    // A stranger connects and sends nothing, before the run's next connection.
    let mut stranger = TcpStream::connect(listening).unwrap();
    carrier.carry(&wire(2, master, server, WireEvent::Open)).unwrap();
    carrier
        .carry(&wire(2, master, server, WireEvent::ToServer(vec![0, 2, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])))
        .unwrap();
    carrier
        .carry(&wire(2, master, server, WireEvent::ToClient(vec![0, 2, 0, 0, 0, 5, 1, 3, 2, 0, 0])))
        .unwrap();
    assert_eq!(carrier.strangers, 1);
    assert_eq!(carrier.bytes, 12 + 12 + 11);
    // The stranger's connection was closed.
    stranger.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 8];
    match stranger.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the stranger's connection is still open: {other:?}"),
    }
}
