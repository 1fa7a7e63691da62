//! The transport function (IEEE 1815-2012 §8): each link frame's user data starts with one
//! octet, FIN (0x80), FIR (0x40) and a 6-bit sequence number; an application fragment is
//! cut into segments of at most 249 octets and put back together in order.

/// Application octets per segment (a link frame's 250 less the transport octet).
pub const MAX_SEGMENT: usize = 249;
/// Largest fragment we reassemble (IEEE 1815 allows up to 2048 by default).
pub const MAX_FRAGMENT: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("an empty segment")]
    Empty,
    #[error("a fragment over {MAX_FRAGMENT} octets")]
    TooLong,
}

/// Cuts a fragment into segments, numbering from `seq`; returns the next sequence number.
pub fn segment(fragment: &[u8], mut seq: u8, out: &mut Vec<Vec<u8>>) -> u8 {
    let chunks: Vec<&[u8]> =
        if fragment.is_empty() { vec![&[][..]] } else { fragment.chunks(MAX_SEGMENT).collect() };
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut s = Vec::with_capacity(1 + chunk.len());
        s.push(u8::from(i == last) << 7 | u8::from(i == 0) << 6 | seq & 0x3F);
        s.extend_from_slice(chunk);
        out.push(s);
        seq = (seq + 1) & 0x3F;
    }
    seq
}

/// Puts segments back together. Out-of-order or unexpected segments are dropped, as §8
/// prescribes (a new FIR restarts the fragment).
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
    next_seq: Option<u8>,
}

impl Reassembler {
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Adds one segment (link user data); returns a whole fragment when FIN arrives.
    pub fn push(&mut self, segment: &[u8]) -> Result<Option<Vec<u8>>, TransportError> {
        let (&header, body) = segment.split_first().ok_or(TransportError::Empty)?;
        let (fin, fir, seq) = (header & 0x80 != 0, header & 0x40 != 0, header & 0x3F);
        if fir {
            self.buf.clear();
        } else if self.next_seq != Some(seq) {
            // Not the segment we wait for: discard it (and what it would continue).
            self.buf.clear();
            self.next_seq = None;
            return Ok(None);
        }
        if self.buf.len() + body.len() > MAX_FRAGMENT {
            self.buf.clear();
            self.next_seq = None;
            return Err(TransportError::TooLong);
        }
        self.buf.extend_from_slice(body);
        self.next_seq = Some((seq + 1) & 0x3F);
        if fin {
            self.next_seq = None;
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_reassembles() {
        let fragment: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let mut segs = Vec::new();
        assert_eq!(segment(&fragment, 62, &mut segs), 1);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0][0], 0x40 | 62);
        assert_eq!(segs[1][0], 63);
        assert_eq!(segs[2][0], 0x80);
        let mut r = Reassembler::new();
        assert_eq!(r.push(&segs[0]), Ok(None));
        assert_eq!(r.push(&segs[1]), Ok(None));
        assert_eq!(r.push(&segs[2]).unwrap().unwrap(), fragment);
        // A lost middle segment: the fragment is dropped, not glued wrong.
        assert_eq!(r.push(&segs[0]), Ok(None));
        assert_eq!(r.push(&segs[2]), Ok(None));
        // One segment carrying a whole fragment (FIR + FIN).
        let mut one = Vec::new();
        segment(&[0xC0, 0x01, 0x3C, 0x01, 0x06], 0, &mut one);
        assert_eq!(one[0][0], 0xC0);
        assert_eq!(r.push(&one[0]).unwrap().unwrap(), [0xC0, 0x01, 0x3C, 0x01, 0x06]);
    }
}
