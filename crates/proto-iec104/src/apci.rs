//! APCI: the 6-byte header of every IEC 60870-5-104 frame (IEC 60870-5-104:2006 §5).
//!
//! `0x68`, a length (of the rest: 4 control octets plus the ASDU, at most 253), and four
//! control octets that make it an I-frame (numbered, carries an ASDU), an S-frame
//! (acknowledgement) or a U-frame (STARTDT, STOPDT, TESTFR, act or con).

use std::fmt;

pub const START: u8 = 0x68;
/// Largest value of the length octet.
pub const MAX_LENGTH: usize = 253;
/// Largest frame: start, length and 253 octets.
pub const MAX_FRAME: usize = 255;

/// U-frame functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UFunction {
    StartDtAct,
    StartDtCon,
    StopDtAct,
    StopDtCon,
    TestFrAct,
    TestFrCon,
}

impl UFunction {
    pub fn octet(self) -> u8 {
        match self {
            UFunction::StartDtAct => 0x07,
            UFunction::StartDtCon => 0x0B,
            UFunction::StopDtAct => 0x13,
            UFunction::StopDtCon => 0x23,
            UFunction::TestFrAct => 0x43,
            UFunction::TestFrCon => 0x83,
        }
    }

    fn from_octet(b: u8) -> Option<UFunction> {
        Some(match b {
            0x07 => UFunction::StartDtAct,
            0x0B => UFunction::StartDtCon,
            0x13 => UFunction::StopDtAct,
            0x23 => UFunction::StopDtCon,
            0x43 => UFunction::TestFrAct,
            0x83 => UFunction::TestFrCon,
            _ => return None,
        })
    }
}

/// The control field, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Send and receive sequence numbers (15 bits each).
    I {
        send: u16,
        recv: u16,
    },
    S {
        recv: u16,
    },
    U(UFunction),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApciError {
    #[error("start octet {0:#04x}, expected 0x68")]
    Start(u8),
    #[error("length {0} outside 4..=253")]
    Length(u8),
    #[error("U-frame with control octet {0:#04x}")]
    UFunction(u8),
    #[error("S- or U-frame of length {0}, expected 4")]
    Trailing(u8),
    #[error("I-frame without an ASDU")]
    EmptyI,
    #[error("control field {0:02x?}: bits that must be 0 are set")]
    Control([u8; 4]),
}

/// A whole frame: control plus the ASDU octets (empty for S and U).
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub control: Control,
    pub asdu: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.control)?;
        if !self.asdu.is_empty() {
            write!(f, " asdu {:02x?}", self.asdu)?;
        }
        Ok(())
    }
}

impl Frame {
    pub fn i(send: u16, recv: u16, asdu: Vec<u8>) -> Frame {
        Frame { control: Control::I { send, recv }, asdu }
    }

    pub fn s(recv: u16) -> Frame {
        Frame { control: Control::S { recv }, asdu: Vec::new() }
    }

    pub fn u(f: UFunction) -> Frame {
        Frame { control: Control::U(f), asdu: Vec::new() }
    }

    /// Parses one frame from exactly its bytes.
    pub fn parse(bytes: &[u8]) -> Result<Frame, ApciError> {
        let [start, len, c1, c2, c3, c4, asdu @ ..] = bytes else {
            return Err(ApciError::Length(bytes.get(1).copied().unwrap_or(0)));
        };
        if *start != START {
            return Err(ApciError::Start(*start));
        }
        if !(4..=MAX_LENGTH as u8).contains(len) || *len as usize != 4 + asdu.len() {
            return Err(ApciError::Length(*len));
        }
        let word = |lo: u8, hi: u8| (u16::from(lo) | u16::from(hi) << 8) >> 1;
        // The LSB of octet 3 is 0 in I- and S-frames, and octet 2 of an S-frame is 0 (§5.1).
        let reserved = match c1 & 0x03 {
            0 | 2 => c3 & 1 != 0,
            1 => *c1 != 0x01 || *c2 != 0 || c3 & 1 != 0,
            _ => false,
        };
        if reserved {
            return Err(ApciError::Control([*c1, *c2, *c3, *c4]));
        }
        let control = if c1 & 0x01 == 0 {
            if asdu.is_empty() {
                return Err(ApciError::EmptyI);
            }
            Control::I { send: word(*c1, *c2), recv: word(*c3, *c4) }
        } else {
            if *len != 4 {
                return Err(ApciError::Trailing(*len));
            }
            if c1 & 0x03 == 0x01 {
                Control::S { recv: word(*c3, *c4) }
            } else {
                match UFunction::from_octet(*c1) {
                    Some(u) if *c2 == 0 && *c3 == 0 && *c4 == 0 => Control::U(u),
                    _ => return Err(ApciError::UFunction(*c1)),
                }
            }
        };
        Ok(Frame { control, asdu: asdu.to_vec() })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(START);
        out.push((4 + self.asdu.len()) as u8);
        let put = |out: &mut Vec<u8>, n: u16| {
            let v = (n & 0x7FFF) << 1;
            out.extend_from_slice(&v.to_le_bytes());
        };
        match self.control {
            Control::I { send, recv } => {
                put(out, send);
                put(out, recv);
            }
            Control::S { recv } => {
                out.extend_from_slice(&[0x01, 0x00]);
                put(out, recv);
            }
            Control::U(f) => out.extend_from_slice(&[f.octet(), 0, 0, 0]),
        }
        out.extend_from_slice(&self.asdu);
    }
}

/// Splits a TCP byte stream into frames by their length octet.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame's bytes; an error when the stream cannot be a 104 stream.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, ApciError> {
        let Some(&start) = self.buf.first() else { return Ok(None) };
        if start != START {
            return Err(ApciError::Start(start));
        }
        let Some(&len) = self.buf.get(1) else { return Ok(None) };
        if !(4..=MAX_LENGTH as u8).contains(&len) {
            return Err(ApciError::Length(len));
        }
        let total = 2 + len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames from IEC 60870-5-104 §5 (control field formats) as every capture shows them.
    #[test]
    fn u_s_and_i_frames() {
        for (bytes, control) in [
            (&[0x68u8, 0x04, 0x07, 0, 0, 0][..], Control::U(UFunction::StartDtAct)),
            (&[0x68, 0x04, 0x0B, 0, 0, 0], Control::U(UFunction::StartDtCon)),
            (&[0x68, 0x04, 0x43, 0, 0, 0], Control::U(UFunction::TestFrAct)),
            (&[0x68, 0x04, 0x01, 0x00, 0x0A, 0x00], Control::S { recv: 5 }),
        ] {
            let f = Frame::parse(bytes).unwrap();
            assert_eq!(f.control, control);
            let mut out = Vec::new();
            f.emit(&mut out);
            assert_eq!(out, bytes);
        }
        // C_IC_NA_1 act, CA 1, QOI 20, as the first I-frame (N(S) = 0, N(R) = 0).
        let gi = [0x68, 0x0E, 0, 0, 0, 0, 0x64, 0x01, 0x06, 0x00, 0x01, 0x00, 0, 0, 0, 0x14];
        let f = Frame::parse(&gi).unwrap();
        assert_eq!(f.control, Control::I { send: 0, recv: 0 });
        // N(S) = 3, N(R) = 2 encode as 06 00 04 00.
        let mut out = Vec::new();
        Frame::i(3, 2, vec![1]).emit(&mut out);
        assert_eq!(out, [0x68, 5, 6, 0, 4, 0, 1]);
        assert_eq!(Frame::parse(&out).unwrap().control, Control::I { send: 3, recv: 2 });
        // 32767 wraps in 15 bits.
        let mut out = Vec::new();
        Frame::i(0x7FFF, 0, vec![1]).emit(&mut out);
        assert_eq!(&out[2..4], [0xFE, 0xFF]);
    }

    #[test]
    fn bad_frames() {
        assert_eq!(Frame::parse(&[0x69, 4, 7, 0, 0, 0]), Err(ApciError::Start(0x69)));
        assert_eq!(Frame::parse(&[0x68, 4, 0x17, 0, 0, 0]), Err(ApciError::UFunction(0x17)));
        assert_eq!(Frame::parse(&[0x68, 5, 0x07, 0, 0, 0, 1]), Err(ApciError::Trailing(5)));
        assert_eq!(Frame::parse(&[0x68, 4, 0, 0, 0, 0]), Err(ApciError::EmptyI));
        assert_eq!(Frame::parse(&[0x68, 5, 0, 0, 1, 0, 9]), Err(ApciError::Control([0, 0, 1, 0])));
        assert_eq!(Frame::parse(&[0x68, 4, 0x05, 0, 0, 0]), Err(ApciError::Control([5, 0, 0, 0])));
        let mut f = Framer::new();
        f.push(&[0x68, 0xFF]);
        assert_eq!(f.next_frame(), Err(ApciError::Length(0xFF)));
    }
}
