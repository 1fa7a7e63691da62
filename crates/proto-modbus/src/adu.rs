//! Modbus/TCP ADU: MBAP header + PDU (Modbus Messaging on TCP/IP Implementation Guide V1.0b,
//! §3.1.3). The length field counts the unit identifier and the PDU; a PDU holds at most
//! 253 bytes, so an ADU at most 260.

use std::fmt;

mod field {
    use core::ops::Range;
    pub const TRANSACTION: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const UNIT: usize = 6;
    pub const PDU: usize = 7;
}

/// Bytes before the PDU.
pub const HEADER_LEN: usize = field::PDU;
/// The largest PDU (function code and data).
pub const MAX_PDU_LEN: usize = 253;

/// The largest ADU: 7 header bytes and a 253-byte PDU.
pub const MAX_ADU_LEN: usize = 260;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AduError {
    #[error("truncated ADU: {len} bytes, an MBAP header needs 8")]
    Truncated { len: usize },
    #[error("protocol identifier {0:#06x}, Modbus is 0")]
    Protocol(u16),
    #[error("MBAP length {0} outside 2..=254")]
    Length(u16),
    #[error("MBAP length says {declared} bytes follow the header, {actual} do")]
    LengthMismatch { declared: usize, actual: usize },
}

/// A checked view of one ADU.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Adu<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> fmt::Debug for Adu<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adu")
            .field("transaction", &self.transaction())
            .field("unit", &self.unit())
            .field("pdu", &self.pdu())
            .finish()
    }
}

impl<T: AsRef<[u8]>> Adu<T> {
    /// After `Ok`, no accessor panics while the buffer is unchanged.
    pub fn new_checked(buffer: T) -> Result<Adu<T>, AduError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN + 1 {
            return Err(AduError::Truncated { len: b.len() });
        }
        let protocol = u16::from_be_bytes([b[2], b[3]]);
        if protocol != 0 {
            return Err(AduError::Protocol(protocol));
        }
        let length = u16::from_be_bytes([b[4], b[5]]);
        if !(2..=254).contains(&length) {
            return Err(AduError::Length(length));
        }
        let declared = length as usize - 1;
        let actual = b.len() - HEADER_LEN;
        if declared != actual {
            return Err(AduError::LengthMismatch { declared, actual });
        }
        Ok(Adu { buffer })
    }

    pub fn transaction(&self) -> u16 {
        self.read_u16(field::TRANSACTION)
    }

    pub fn protocol(&self) -> u16 {
        self.read_u16(field::PROTOCOL)
    }

    pub fn length(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    pub fn unit(&self) -> u8 {
        self.buffer.as_ref()[field::UNIT]
    }

    pub fn pdu(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PDU..]
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, at: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[at];
        u16::from_be_bytes([b[0], b[1]])
    }
}

/// Writes an ADU around `pdu` into `out` (cleared first).
pub fn emit(transaction: u16, unit: u8, pdu: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&transaction.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
}

/// Splits a TCP byte stream into ADUs by their MBAP length. A header that cannot start a
/// valid ADU is an error, after which the stream cannot be resynchronised (close it).
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

    /// Bytes received but not yet part of a whole ADU.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole ADU, `Ok(None)` when more bytes are needed.
    pub fn next_adu(&mut self) -> Result<Option<Vec<u8>>, AduError> {
        if self.buf.len() < HEADER_LEN - 1 {
            return Ok(None);
        }
        let protocol = u16::from_be_bytes([self.buf[2], self.buf[3]]);
        if protocol != 0 {
            return Err(AduError::Protocol(protocol));
        }
        let length = u16::from_be_bytes([self.buf[4], self.buf[5]]);
        if !(2..=254).contains(&length) {
            return Err(AduError::Length(length));
        }
        let total = 6 + length as usize;
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
    fn framer_splits_and_joins() {
        // Two read-holding-registers requests, the second split across pushes.
        let a = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];
        let b = [0, 2, 0, 0, 0, 6, 1, 3, 0, 10, 0, 1];
        let mut f = Framer::new();
        f.push(&a);
        f.push(&b[..4]);
        assert_eq!(f.next_adu().unwrap().as_deref(), Some(&a[..]));
        assert_eq!(f.next_adu().unwrap(), None);
        f.push(&b[4..]);
        assert_eq!(f.next_adu().unwrap().as_deref(), Some(&b[..]));
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let mut f = Framer::new();
        f.push(&[0, 1, 0, 0, 0xFF, 0xFF, 1]);
        assert_eq!(f.next_adu(), Err(AduError::Length(0xFFFF)));
        let mut f = Framer::new();
        f.push(&[0, 1, 0x12, 0x34, 0, 6, 1]);
        assert_eq!(f.next_adu(), Err(AduError::Protocol(0x1234)));
        assert!(matches!(
            Adu::new_checked(&[0u8, 1, 0, 0, 0, 9, 1, 3][..]),
            Err(AduError::LengthMismatch { .. })
        ));
    }
}
