//! The range's network, in process: connections between a client (the SCADA master, the
//! attacker, an operator's tool) and a device, carrying the protocols' real bytes. Both ends
//! run here, in lock step with simulated time, so a run is a pure function of its inputs; the
//! shell writes every byte to the capture (and can carry it over real sockets).

use std::net::SocketAddrV4;

use gridsim::sim::SimTime;
use proto_iec104::{Control, Frame, Framer, Params, Session, UFunction};

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
        }
    }
}

/// The controlling side of an IEC 104 connection: sequence numbers, acknowledgement every
/// `w` I-frames and at the end of each burst, TESTFR answered.
#[derive(Debug, Default)]
pub struct Master104 {
    vs: u16,
    vr: u16,
    unacked: u16,
    framer: Framer,
}

const MOD: u16 = 32_768;

impl Master104 {
    pub fn startdt(&self) -> Vec<u8> {
        let mut out = Vec::new();
        Frame::u(UFunction::StartDtAct).emit(&mut out);
        out
    }

    /// An I-frame carrying `asdu`.
    pub fn send(&mut self, asdu: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        Frame::i(self.vs, self.vr, asdu).emit(&mut out);
        self.vs = (self.vs + 1) % MOD;
        self.unacked = 0;
        out
    }

    /// Reads what the station sent: the ASDUs received, and what to answer (acknowledgements,
    /// TESTFR con).
    pub fn receive(&mut self, bytes: &[u8], asdus: &mut Vec<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        self.framer.push(bytes);
        while let Ok(Some(raw)) = self.framer.next_frame() {
            let Ok(frame) = Frame::parse(&raw) else { continue };
            match frame.control {
                Control::I { .. } => {
                    self.vr = (self.vr + 1) % MOD;
                    self.unacked += 1;
                    if self.unacked >= Params::default().w {
                        Frame::s(self.vr).emit(&mut out);
                        self.unacked = 0;
                    }
                    asdus.push(frame.asdu);
                }
                Control::U(UFunction::TestFrAct) => Frame::u(UFunction::TestFrCon).emit(&mut out),
                _ => {}
            }
        }
        if self.unacked > 0 {
            Frame::s(self.vr).emit(&mut out);
            self.unacked = 0;
        }
        out
    }
}

/// The controlled side: the device's session and what waits to go out.
#[derive(Debug)]
pub struct Station104 {
    pub session: Session,
    framer: Framer,
    pub queue: std::collections::VecDeque<Vec<u8>>,
    pub cursor: u64,
    pub announced: bool,
}

impl Station104 {
    pub fn new(now: SimTime, cursor: u64) -> Station104 {
        Station104 {
            session: Session::new(now.0, Params::default()),
            framer: Framer::new(),
            queue: Default::default(),
            cursor,
            announced: false,
        }
    }

    /// Frames received from the master: U/S handled by the session, the ASDUs returned for
    /// the device. `Err`: the session broke (the device closes the connection).
    pub fn receive(
        &mut self,
        now: SimTime,
        bytes: &[u8],
        out: &mut Vec<Frame>,
    ) -> Result<Vec<Vec<u8>>, String> {
        self.framer.push(bytes);
        let mut asdus = Vec::new();
        loop {
            let raw = match self.framer.next_frame() {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(e) => return Err(format!("bad APCI: {e}")),
            };
            let frame = Frame::parse(&raw).map_err(|e| format!("bad APCI: {e}"))?;
            if let Some(asdu) =
                self.session.receive(now.0, &frame, out).map_err(|e| format!("session: {e}"))?
            {
                asdus.push(asdu);
            }
        }
        Ok(asdus)
    }

    /// Sends what the window allows.
    pub fn flush(&mut self, now: SimTime, out: &mut Vec<Frame>) {
        while self.session.can_send() {
            let Some(asdu) = self.queue.pop_front() else { break };
            self.session.send(now.0, asdu, out);
        }
    }
}

/// Bytes of a list of frames.
pub fn emit_frames(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        f.emit(&mut out);
    }
    out
}
