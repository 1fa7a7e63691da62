//! What crossed the range's network, as the shell receives it (`Range::take_wire`): every
//! connection's open, payloads and close, and every UDP datagram, at simulated time. The shell writes it to the
//! capture, carries it over loopback, and delivers a live connection's answers to its socket.

use std::net::SocketAddrV4;

use gridsim::sim::SimTime;

/// Payload bytes per TCP segment in the capture (the shell's writer cuts at the same size).
pub const SEGMENT: usize = 1400;
/// Packets a connection's handshake takes in the capture (SYN, SYN-ACK, ACK).
pub const OPEN_PACKETS: u64 = 3;
/// Packets its close takes (FIN-ACK, FIN-ACK, ACK).
pub const CLOSE_PACKETS: u64 = 3;

/// Something that went over a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireEvent {
    Open,
    ToServer(Vec<u8>),
    ToClient(Vec<u8>),
    /// The connection ends; `by_client` sent the first FIN.
    Close {
        by_client: bool,
    },
    /// A UDP datagram from the client to the server (no connection: `conn` is 0).
    Datagram(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub t: SimTime,
    pub conn: u32,
    pub client: SocketAddrV4,
    pub server: SocketAddrV4,
    pub event: WireEvent,
}

impl Wire {
    /// How many capture packets it makes.
    pub fn packets(&self) -> u64 {
        match &self.event {
            WireEvent::Open => OPEN_PACKETS,
            WireEvent::Close { .. } => CLOSE_PACKETS,
            WireEvent::ToServer(b) | WireEvent::ToClient(b) => b.len().div_ceil(SEGMENT) as u64,
            WireEvent::Datagram(_) => 1,
        }
    }
}
