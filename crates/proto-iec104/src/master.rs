//! The controlling side of a connection (the SCADA master's, a test client's, the load
//! generator's): sequence numbers, an S-frame every `w` I-frames and at the end of each
//! burst, TESTFR answered. One implementation for every runtime that controls a station.

use crate::apci::{Control, Frame, Framer, UFunction};
use crate::session::Params;

const MOD: u16 = 32_768;

#[derive(Debug, Default)]
pub struct Master {
    vs: u16,
    vr: u16,
    unacked: u16,
    framer: Framer,
}

impl Master {
    /// STARTDT act.
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

    /// Reads what the station sent: the ASDUs received go to `asdus`; returns what to
    /// answer (acknowledgements, TESTFR con).
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
