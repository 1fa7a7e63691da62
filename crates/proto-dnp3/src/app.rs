//! DNP3 application layer (IEEE 1815-2012 §4): fragment headers and object headers.

/// Application control octet bits.
pub mod ac {
    pub const FIR: u8 = 0x80;
    pub const FIN: u8 = 0x40;
    pub const CON: u8 = 0x20;
    pub const UNS: u8 = 0x10;
}

/// Function codes.
pub mod fc {
    pub const CONFIRM: u8 = 0;
    pub const READ: u8 = 1;
    pub const WRITE: u8 = 2;
    pub const SELECT: u8 = 3;
    pub const OPERATE: u8 = 4;
    pub const DIRECT_OPERATE: u8 = 5;
    pub const DIRECT_OPERATE_NR: u8 = 6;
    pub const COLD_RESTART: u8 = 13;
    pub const WARM_RESTART: u8 = 14;
    pub const ENABLE_UNSOLICITED: u8 = 20;
    pub const DISABLE_UNSOLICITED: u8 = 21;
    pub const DELAY_MEASURE: u8 = 23;
    pub const RECORD_CURRENT_TIME: u8 = 24;
    pub const RESPONSE: u8 = 129;
    pub const UNSOLICITED_RESPONSE: u8 = 130;
}

/// Internal indications (IIN1 in the low octet, IIN2 in the high octet).
pub mod iin {
    pub const BROADCAST: u16 = 0x0001;
    pub const CLASS_1_EVENTS: u16 = 0x0002;
    pub const CLASS_2_EVENTS: u16 = 0x0004;
    pub const CLASS_3_EVENTS: u16 = 0x0008;
    pub const NEED_TIME: u16 = 0x0010;
    pub const LOCAL_CONTROL: u16 = 0x0020;
    pub const DEVICE_TROUBLE: u16 = 0x0040;
    pub const DEVICE_RESTART: u16 = 0x0080;
    pub const NO_FUNC_CODE_SUPPORT: u16 = 0x0100;
    pub const OBJECT_UNKNOWN: u16 = 0x0200;
    pub const PARAMETER_ERROR: u16 = 0x0400;
    pub const EVENT_BUFFER_OVERFLOW: u16 = 0x0800;
}

/// How an object header says which objects (the qualifier's range specifier and prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// 0x06: all objects of the group/variation.
    All,
    /// 0x00/0x01: start and stop indexes.
    StartStop { start: u16, stop: u16 },
    /// 0x07/0x08: a count of objects without index prefixes.
    Count(u16),
    /// 0x17/0x28: a count of objects, each prefixed with its index.
    Indexed(u16),
}

/// One object header and the octets of its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHeader<'a> {
    pub group: u8,
    pub variation: u8,
    pub qualifier: u8,
    pub range: Range,
    /// For `Indexed`, the (index, object octets) pairs; otherwise the objects back to back.
    pub objects: &'a [u8],
    /// Octets of one object (without prefix), when the parser knows the type.
    pub size: usize,
    /// Width of an index prefix (1 or 2), for `Indexed`.
    pub prefix: usize,
}

impl ObjectHeader<'_> {
    /// The objects with their indexes.
    pub fn items(&self) -> Vec<(u16, &[u8])> {
        match self.range {
            Range::StartStop { start, .. } => {
                if self.size == 0 {
                    return Vec::new();
                }
                self.objects
                    .chunks_exact(self.size)
                    .enumerate()
                    .map(|(i, o)| (start.wrapping_add(i as u16), o))
                    .collect()
            }
            Range::Indexed(_) => self
                .objects
                .chunks_exact(self.prefix + self.size)
                .map(|c| {
                    let index =
                        if self.prefix == 1 { u16::from(c[0]) } else { u16::from_le_bytes([c[0], c[1]]) };
                    (index, &c[self.prefix..])
                })
                .collect(),
            Range::Count(_) | Range::All => {
                if self.size == 0 {
                    return Vec::new();
                }
                self.objects.chunks_exact(self.size).enumerate().map(|(i, o)| (i as u16, o)).collect()
            }
        }
    }

    /// How many objects the header names (`All` names none in particular).
    pub fn count(&self) -> usize {
        match self.range {
            Range::All => 0,
            Range::StartStop { start, stop } => (stop as usize + 1).saturating_sub(start as usize),
            Range::Count(n) | Range::Indexed(n) => n as usize,
        }
    }
}

/// Octets of one object of a group/variation in a request or response, `None` when unknown.
/// Packed binaries (g1v1, g10v1, g80v1) are given per bit by `bits`.
pub fn object_size(group: u8, variation: u8) -> Option<usize> {
    Some(match (group, variation) {
        (1, 2) | (10, 2) => 1,
        (2, 2) => 7,
        (12, 1) => 11,
        (20, 1) => 5,
        (30, 1) => 5,
        (30, 5) => 5,
        (32, 1) => 5,
        (50, 1) => 6,
        (52, 2) => 2,
        (60, _) => 0,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("fragment of {0} octets, a request header needs 2")]
    Truncated(usize),
    #[error("object header at octet {at}: qualifier {qualifier:#04x} not supported")]
    Qualifier { at: usize, qualifier: u8 },
    #[error("object header at octet {at}: group {group} variation {variation} not supported")]
    Object { at: usize, group: u8, variation: u8 },
    #[error("object header at octet {at}: its objects run past the fragment")]
    Overrun { at: usize },
}

/// A request fragment: application control, function and the object headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub control: u8,
    pub function: u8,
    pub headers: Vec<ObjectHeader<'a>>,
}

impl<'a> Request<'a> {
    pub fn seq(&self) -> u8 {
        self.control & 0x0F
    }

    /// Parses a request fragment. Object data is checked against the header's range.
    pub fn parse(fragment: &'a [u8]) -> Result<Request<'a>, AppError> {
        let [control, function, rest @ ..] = fragment else {
            return Err(AppError::Truncated(fragment.len()));
        };
        let mut headers = Vec::new();
        let mut at = 2;
        let mut rest = rest;
        while !rest.is_empty() {
            let [group, variation, qualifier, tail @ ..] = rest else { return Err(AppError::Overrun { at }) };
            let (group, variation, qualifier) = (*group, *variation, *qualifier);
            let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
            let (range, prefix, used) = match qualifier {
                0x06 => (Range::All, 0, 0),
                0x00 if tail.len() >= 2 => {
                    (Range::StartStop { start: u16::from(tail[0]), stop: u16::from(tail[1]) }, 0, 2)
                }
                0x01 if tail.len() >= 4 => {
                    (Range::StartStop { start: u16_at(tail, 0), stop: u16_at(tail, 2) }, 0, 4)
                }
                0x07 if !tail.is_empty() => (Range::Count(u16::from(tail[0])), 0, 1),
                0x08 if tail.len() >= 2 => (Range::Count(u16_at(tail, 0)), 0, 2),
                0x17 if !tail.is_empty() => (Range::Indexed(u16::from(tail[0])), 1, 1),
                0x28 if tail.len() >= 2 => (Range::Indexed(u16_at(tail, 0)), 2, 2),
                0x00 | 0x01 | 0x07 | 0x08 | 0x17 | 0x28 => return Err(AppError::Overrun { at }),
                _ => return Err(AppError::Qualifier { at, qualifier }),
            };
            if let Range::StartStop { start, stop } = range
                && stop < start
            {
                return Err(AppError::Qualifier { at, qualifier });
            }
            let tail = &tail[used..];
            // Objects carried: none in READs (the function decides), per type otherwise.
            let carries = *function != fc::READ && !matches!(range, Range::All);
            let (size, len) = if !carries {
                // A READ names objects without data; indexed qualifiers still list the indexes.
                let n = match range {
                    Range::Indexed(n) => n as usize * prefix,
                    _ => 0,
                };
                (object_size(group, variation).unwrap_or(0), n)
            } else if (group, variation) == (80, 1) {
                // Packed bits.
                let n = match range {
                    Range::StartStop { start, stop } => (stop - start) as usize + 1,
                    _ => return Err(AppError::Qualifier { at, qualifier }),
                };
                (0, n.div_ceil(8))
            } else {
                let size = object_size(group, variation).ok_or(AppError::Object { at, group, variation })?;
                let n = match range {
                    Range::StartStop { start, stop } => (stop - start) as usize + 1,
                    Range::Count(n) | Range::Indexed(n) => n as usize,
                    Range::All => 0,
                };
                (size, n * (size + prefix))
            };
            if tail.len() < len {
                return Err(AppError::Overrun { at });
            }
            headers.push(ObjectHeader {
                group,
                variation,
                qualifier,
                range,
                objects: &tail[..len],
                size,
                prefix,
            });
            at += 3 + used + len;
            rest = &tail[len..];
        }
        Ok(Request { control: *control, function: *function, headers })
    }
}

/// Largest application fragment either side sends by default (IEEE 1815-2012 §4.2.2.3).
pub const MAX_FRAGMENT: usize = 2048;

/// Object data of one header block is kept at most this long, so any block fits a fragment
/// after the 4-octet response header.
const MAX_BLOCK: usize = 1024;

/// Builds a response: its header and object blocks, which `fragments` packs into one or more
/// fragments without splitting a block.
#[derive(Debug, Clone)]
pub struct Response {
    pub bytes: Vec<u8>,
    /// Where each object header starts in `bytes`.
    marks: Vec<usize>,
}

impl Response {
    pub fn new(control: u8, function: u8, iin: u16) -> Response {
        let mut bytes = vec![control, function];
        bytes.extend_from_slice(&iin.to_le_bytes());
        Response { bytes, marks: Vec::new() }
    }

    /// Object headers with 2-octet start/stop ranges (qualifier 0x01) and their objects; a
    /// long range becomes several headers of consecutive sub-ranges.
    pub fn range(&mut self, group: u8, variation: u8, start: u16, objects: &[Vec<u8>]) {
        let size = objects.first().map_or(1, Vec::len).max(1);
        let per_block = (MAX_BLOCK / size).max(1);
        for (i, chunk) in objects.chunks(per_block).enumerate() {
            let first = start + (i * per_block) as u16;
            self.marks.push(self.bytes.len());
            self.bytes.extend_from_slice(&[group, variation, 0x01]);
            self.bytes.extend_from_slice(&first.to_le_bytes());
            self.bytes.extend_from_slice(&(first + chunk.len() as u16 - 1).to_le_bytes());
            for o in chunk {
                self.bytes.extend_from_slice(o);
            }
        }
    }

    /// Object headers with 2-octet indexes and count (qualifier 0x28); many objects become
    /// several headers.
    pub fn indexed(&mut self, group: u8, variation: u8, objects: &[(u16, Vec<u8>)]) {
        let size = objects.first().map_or(1, |(_, o)| o.len() + 2).max(1);
        let per_block = (MAX_BLOCK / size).max(1);
        for chunk in objects.chunks(per_block) {
            self.marks.push(self.bytes.len());
            self.bytes.extend_from_slice(&[group, variation, 0x28]);
            self.bytes.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            for (i, o) in chunk {
                self.bytes.extend_from_slice(&i.to_le_bytes());
                self.bytes.extend_from_slice(o);
            }
        }
    }

    /// The object blocks (each an object header with its objects) packed in order into
    /// fragment bodies of at most `max_len` − 4 octets (room for the response header), each
    /// with the offset in `bytes` where it ends. At least one body, empty when there are no
    /// objects.
    pub fn bodies(&self, max_len: usize) -> Vec<(Vec<u8>, usize)> {
        let room = max_len.saturating_sub(4).max(MAX_BLOCK + 16);
        let mut bounds: Vec<usize> = self.marks.clone();
        bounds.push(self.bytes.len());
        // Anything between the response header and the first block goes with the first body.
        let mut current = self.bytes[4.min(bounds[0])..bounds[0]].to_vec();
        let mut out = Vec::new();
        for w in bounds.windows(2) {
            let block = &self.bytes[w[0]..w[1]];
            if !current.is_empty() && current.len() + block.len() > room {
                out.push((std::mem::take(&mut current), w[0]));
            }
            current.extend_from_slice(block);
        }
        out.push((current, self.bytes.len()));
        out
    }

    /// A header echoed with its objects (as SELECT/OPERATE responses do).
    pub fn echo(&mut self, header: &ObjectHeader<'_>, objects: &[u8], range_octets: &[u8]) {
        self.marks.push(self.bytes.len());
        self.bytes.extend_from_slice(&[header.group, header.variation, header.qualifier]);
        self.bytes.extend_from_slice(range_octets);
        self.bytes.extend_from_slice(objects);
    }

    pub fn set_iin(&mut self, iin: u16) {
        self.bytes[2..4].copy_from_slice(&iin.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_poll_and_crob() {
        // READ class 1, 2, 3, 0 (what opendnp3 sends as an integrity poll).
        let poll = [0xC3, 0x01, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06];
        let r = Request::parse(&poll).unwrap();
        assert_eq!((r.function, r.seq(), r.headers.len()), (fc::READ, 3, 4));
        assert_eq!(r.headers[3].range, Range::All);
        // SELECT g12v1, 0x28, one CROB at index 0: LATCH_OFF (0x04), count 1, 0 ms, 0 ms, status 0.
        let crob = [0xC4, 0x03, 12, 1, 0x28, 1, 0, 0, 0, 0x04, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let r = Request::parse(&crob).unwrap();
        let items = r.headers[0].items();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0, 0);
        assert_eq!(items[0].1[0], 0x04);
        // WRITE g80v1 index 7 = 0 (clear DEVICE_RESTART).
        let w = [0xC5, 0x02, 80, 1, 0x00, 7, 7, 0x00];
        let r = Request::parse(&w).unwrap();
        assert_eq!(r.headers[0].objects, [0]);
        assert!(matches!(Request::parse(&[0xC0, 0x02, 80, 1, 0x00, 7]), Err(AppError::Overrun { .. })));
        // READ g30v1 of indexes 0 and 2 (qualifier 0x17), then class 0: both headers found.
        let r = Request::parse(&[0xC6, 0x01, 30, 1, 0x17, 2, 0, 2, 60, 1, 0x06]).unwrap();
        assert_eq!(r.headers.len(), 2);
        assert_eq!((r.headers[1].group, r.headers[1].variation), (60, 1));
        assert!(matches!(Request::parse(&[0xC0, 0x01, 1, 2, 0x5B]), Err(AppError::Qualifier { .. })));
    }
}

/// Control codes of a CROB (g12v1) the recloser acts on.
pub mod crob {
    pub const LATCH_ON: u8 = 0x03;
    pub const LATCH_OFF: u8 = 0x04;
    pub const CLOSE: u8 = 0x41;
    pub const TRIP: u8 = 0x81;
}

/// Whether a CROB control code closes (LATCH_ON, CLOSE) or opens (LATCH_OFF, TRIP).
pub fn crob_closes(code: u8) -> Option<bool> {
    match (code >> 6, code & 0x0F) {
        (0, 3) | (1, 1) => Some(true),
        (0, 4) | (2, 1) => Some(false),
        _ => None,
    }
}

/// A request fragment with one CROB (g12v1, qualifier 0x28) on output `index`.
pub fn crob_request(seq: u8, function: u8, index: u16, code: u8) -> Vec<u8> {
    let mut out = vec![ac::FIR | ac::FIN | (seq & 0x0F), function, 12, 1, 0x28, 1, 0];
    out.extend_from_slice(&index.to_le_bytes());
    // Control code, count 1, on-time and off-time 0 ms, status 0.
    out.extend_from_slice(&[code, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

/// The first CROB an operating request carries (SELECT does not operate): its index and
/// control code.
pub fn operated_crob(fragment: &[u8]) -> Option<(u16, u8)> {
    let req = Request::parse(fragment).ok()?;
    if !matches!(req.function, fc::OPERATE | fc::DIRECT_OPERATE | fc::DIRECT_OPERATE_NR) {
        return None;
    }
    let h = req.headers.iter().find(|h| (h.group, h.variation) == (12, 1))?;
    h.items().first().and_then(|(i, obj)| Some((*i, *obj.first()?)))
}

/// The status of the first CROB a response echoes.
pub fn crob_status(response: &[u8]) -> Option<u8> {
    if response.len() < 4 || response[1] != fc::RESPONSE {
        return None;
    }
    // The response's object headers parse as a request's once the IIN is set aside.
    let mut as_request = vec![response[0], fc::DIRECT_OPERATE];
    as_request.extend_from_slice(&response[4..]);
    let req = Request::parse(&as_request).ok()?;
    let h = req.headers.iter().find(|h| (h.group, h.variation) == (12, 1))?;
    h.items().first().and_then(|(_, obj)| obj.get(10).copied())
}

#[cfg(test)]
mod crob_tests {
    use super::*;

    /// IEEE 1815 §A.8 (g12v1): control code, count, on-time, off-time, status; built
    /// here and read back, and the outstation's echo read for its status.
    #[test]
    fn crob_request_round_trips() {
        let r = crob_request(0, fc::DIRECT_OPERATE, 0, crob::LATCH_OFF);
        assert_eq!(r, [0xC0, 0x05, 12, 1, 0x28, 1, 0, 0, 0, 0x04, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(operated_crob(&r), Some((0, crob::LATCH_OFF)));
        assert_eq!(crob_closes(crob::LATCH_OFF), Some(false));
        assert_eq!(crob_closes(crob::CLOSE), Some(true));
        assert_eq!(operated_crob(&crob_request(0, fc::SELECT, 0, crob::TRIP)), None);
        let mut resp = vec![0xC0, fc::RESPONSE, 0, 0];
        resp.extend_from_slice(&r[2..]);
        *resp.last_mut().unwrap_or(&mut 0) = 7;
        assert_eq!(crob_status(&resp), Some(7));
    }
}
