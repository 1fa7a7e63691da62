//! DNP3 data link layer frames (IEEE 1815-2012 §9.2).
//!
//! `05 64`, LEN (octets after LEN, CRCs excluded: 5 + user data), CTRL, DEST and SRC (little
//! endian), a CRC over those eight octets; then the user data in blocks of 16 octets (the last
//! may be shorter), each followed by its CRC. CRC-16/DNP: polynomial 0x3D65, reflected, initial
//! value 0, result complemented.

/// Largest user data in one frame (LEN is at most 255).
pub const MAX_USER_DATA: usize = 250;
/// Largest frame on the wire: 10 header octets, 250 data octets, 16 block CRCs.
pub const MAX_FRAME: usize = 292;

/// CRC-16/DNP of `bytes`.
pub fn crc(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA6BC } else { crc >> 1 };
        }
    }
    !crc
}

/// Link function codes.
pub mod function {
    // Primary (PRM = 1).
    pub const RESET_LINK_STATES: u8 = 0;
    pub const TEST_LINK_STATES: u8 = 2;
    pub const CONFIRMED_USER_DATA: u8 = 3;
    pub const UNCONFIRMED_USER_DATA: u8 = 4;
    pub const REQUEST_LINK_STATUS: u8 = 9;
    // Secondary (PRM = 0).
    pub const ACK: u8 = 0;
    pub const NACK: u8 = 1;
    pub const LINK_STATUS: u8 = 11;
    pub const NOT_SUPPORTED: u8 = 15;
}

/// The control octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// DIR: set on frames from the master.
    pub from_master: bool,
    /// PRM: set on primary frames.
    pub primary: bool,
    /// FCB (primary) or ACD (secondary).
    pub fcb: bool,
    /// FCV (primary) or DFC (secondary).
    pub fcv: bool,
    pub function: u8,
}

impl Control {
    pub fn octet(&self) -> u8 {
        u8::from(self.from_master) << 7
            | u8::from(self.primary) << 6
            | u8::from(self.fcb) << 5
            | u8::from(self.fcv) << 4
            | self.function & 0x0F
    }

    pub fn from_octet(b: u8) -> Control {
        Control {
            from_master: b & 0x80 != 0,
            primary: b & 0x40 != 0,
            fcb: b & 0x20 != 0,
            fcv: b & 0x10 != 0,
            function: b & 0x0F,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub control: Control,
    pub destination: u16,
    pub source: u16,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("start octets {0:#04x} {1:#04x}, expected 0x05 0x64")]
    Start(u8, u8),
    #[error("LEN {0} below 5")]
    Length(u8),
    #[error("header CRC {got:#06x}, computed {computed:#06x}")]
    HeaderCrc { got: u16, computed: u16 },
    #[error("CRC of data block {block}: {got:#06x}, computed {computed:#06x}")]
    BlockCrc { block: usize, got: u16, computed: u16 },
    #[error("frame of {actual} octets, LEN says {expected}")]
    Size { expected: usize, actual: usize },
}

/// Octets on the wire of a frame whose LEN octet is `len`.
pub fn wire_len(len: u8) -> usize {
    let data = (len as usize).saturating_sub(5);
    10 + data + 2 * data.div_ceil(16)
}

impl Frame {
    pub fn emit(&self, out: &mut Vec<u8>) {
        let data = &self.data[..self.data.len().min(MAX_USER_DATA)];
        let start = out.len();
        out.extend_from_slice(&[0x05, 0x64, (5 + data.len()) as u8, self.control.octet()]);
        out.extend_from_slice(&self.destination.to_le_bytes());
        out.extend_from_slice(&self.source.to_le_bytes());
        let c = crc(&out[start..]);
        out.extend_from_slice(&c.to_le_bytes());
        for block in data.chunks(16) {
            out.extend_from_slice(block);
            out.extend_from_slice(&crc(block).to_le_bytes());
        }
    }

    /// Parses exactly one frame, checking every CRC.
    pub fn parse(bytes: &[u8]) -> Result<Frame, LinkError> {
        if bytes.len() < 10 {
            return Err(LinkError::Size { expected: 10, actual: bytes.len() });
        }
        if bytes[0] != 0x05 || bytes[1] != 0x64 {
            return Err(LinkError::Start(bytes[0], bytes[1]));
        }
        if bytes[2] < 5 {
            return Err(LinkError::Length(bytes[2]));
        }
        let expected = wire_len(bytes[2]);
        if bytes.len() != expected {
            return Err(LinkError::Size { expected, actual: bytes.len() });
        }
        let computed = crc(&bytes[..8]);
        let got = u16::from_le_bytes([bytes[8], bytes[9]]);
        if got != computed {
            return Err(LinkError::HeaderCrc { got, computed });
        }
        let mut data = Vec::with_capacity(bytes[2] as usize - 5);
        for (block, chunk) in bytes[10..].chunks(18).enumerate() {
            let (body, c) = chunk.split_at(chunk.len() - 2);
            let computed = crc(body);
            let got = u16::from_le_bytes([c[0], c[1]]);
            if got != computed {
                return Err(LinkError::BlockCrc { block, got, computed });
            }
            data.extend_from_slice(body);
        }
        Ok(Frame {
            control: Control::from_octet(bytes[3]),
            destination: u16::from_le_bytes([bytes[4], bytes[5]]),
            source: u16::from_le_bytes([bytes[6], bytes[7]]),
            data,
        })
    }
}

/// Splits a TCP byte stream into link frames.
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

    /// Bytes received that are not yet a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame's octets (CRCs not yet checked: `Frame::parse` does that).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, LinkError> {
        if self.buf.len() < 3 {
            if let [a, b, ..] = self.buf[..]
                && (a != 0x05 || b != 0x64)
            {
                return Err(LinkError::Start(a, b));
            }
            return Ok(None);
        }
        if self.buf[0] != 0x05 || self.buf[1] != 0x64 {
            return Err(LinkError::Start(self.buf[0], self.buf[1]));
        }
        if self.buf[2] < 5 {
            return Err(LinkError::Length(self.buf[2]));
        }
        let total = wire_len(self.buf[2]);
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

    #[test]
    fn crc_check_value() {
        // The CRC catalogue's check value of CRC-16/DNP over "123456789".
        assert_eq!(crc(b"123456789"), 0xEA82);
    }

    #[test]
    fn reset_link_states_frame() {
        // RESET_LINK_STATES from master 1024 to outstation 1, as it appears in captures
        // and DNP3 literature: 05 64 05 C0 01 00 00 04 E9 21.
        let f = Frame {
            control: Control { from_master: true, primary: true, fcb: false, fcv: false, function: 0 },
            destination: 1,
            source: 1024,
            data: Vec::new(),
        };
        let mut out = Vec::new();
        f.emit(&mut out);
        assert_eq!(out, [0x05, 0x64, 0x05, 0xC0, 0x01, 0x00, 0x00, 0x04, 0xE9, 0x21]);
        assert_eq!(Frame::parse(&out).unwrap(), f);
    }

    #[test]
    fn frames_round_trip_with_block_crcs() {
        // A READ class 0 request (transport C0, app C0 01 3C 01 06) from master 1 to outstation 10.
        let f = Frame {
            control: Control { from_master: true, primary: true, fcb: false, fcv: false, function: 4 },
            destination: 10,
            source: 1,
            data: vec![0xC0, 0xC0, 0x01, 0x3C, 0x01, 0x06],
        };
        let mut out = Vec::new();
        f.emit(&mut out);
        assert_eq!(&out[..8], [0x05, 0x64, 0x0B, 0xC4, 0x0A, 0x00, 0x01, 0x00]);
        assert_eq!(out.len(), wire_len(0x0B));
        assert_eq!(Frame::parse(&out).unwrap(), f);
        // 40 octets of data: blocks of 16, 16 and 8, each with its CRC.
        let big = Frame { data: (0..40).collect(), ..f.clone() };
        let mut out = Vec::new();
        big.emit(&mut out);
        assert_eq!(out.len(), 10 + 40 + 6);
        assert_eq!(Frame::parse(&out).unwrap(), big);
        let mut bad = out.clone();
        bad[20] ^= 1;
        assert!(matches!(Frame::parse(&bad), Err(LinkError::BlockCrc { block: 0, .. })));
        let mut bad = out;
        bad[4] ^= 1;
        assert!(matches!(Frame::parse(&bad), Err(LinkError::HeaderCrc { .. })));
    }

    #[test]
    fn framer() {
        let f =
            Frame { control: Control::from_octet(0x44), destination: 1, source: 1024, data: vec![1, 2, 3] };
        let mut bytes = Vec::new();
        f.emit(&mut bytes);
        let mut fr = Framer::new();
        fr.push(&bytes[..5]);
        assert_eq!(fr.next_frame(), Ok(None));
        fr.push(&bytes[5..]);
        assert_eq!(fr.next_frame().unwrap().as_deref(), Some(&bytes[..]));
        let mut fr = Framer::new();
        fr.push(b"GET");
        assert_eq!(fr.next_frame(), Err(LinkError::Start(b'G', b'E')));
    }
}
