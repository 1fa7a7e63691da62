//! ASDUs (IEC 60870-5-101 §7, with the 104 profile of IEC 60870-5-104 §9: two-octet cause of
//! transmission, two-octet common address, three-octet information object address).

use std::fmt;

/// Type identifications this crate knows.
pub mod type_id {
    pub const M_SP_NA_1: u8 = 1;
    pub const M_DP_NA_1: u8 = 3;
    pub const M_ME_NA_1: u8 = 9;
    pub const M_ME_NC_1: u8 = 13;
    pub const M_SP_TB_1: u8 = 30;
    pub const M_DP_TB_1: u8 = 31;
    pub const M_ME_TF_1: u8 = 36;
    pub const C_SC_NA_1: u8 = 45;
    pub const C_DC_NA_1: u8 = 46;
    pub const C_SE_NC_1: u8 = 50;
    pub const M_EI_NA_1: u8 = 70;
    pub const C_IC_NA_1: u8 = 100;
    pub const C_CS_NA_1: u8 = 103;
}

/// Causes of transmission.
pub mod cot {
    pub const PERIODIC: u8 = 1;
    pub const SPONTANEOUS: u8 = 3;
    pub const INITIALISED: u8 = 4;
    pub const REQUEST: u8 = 5;
    pub const ACTIVATION: u8 = 6;
    pub const ACTIVATION_CON: u8 = 7;
    pub const DEACTIVATION: u8 = 8;
    pub const DEACTIVATION_CON: u8 = 9;
    pub const ACTIVATION_TERM: u8 = 10;
    pub const RETURN_REMOTE: u8 = 11;
    pub const INTERROGATED: u8 = 20;
    pub const UNKNOWN_TYPE: u8 = 44;
    pub const UNKNOWN_COT: u8 = 45;
    pub const UNKNOWN_CA: u8 = 46;
    pub const UNKNOWN_IOA: u8 = 47;
}

/// The broadcast common address.
pub const BROADCAST_CA: u16 = 0xFFFF;
/// Largest ASDU (a frame's 253 octets less the 4 control octets).
pub const MAX_ASDU: usize = 249;

/// CP56Time2a: seven octets, milliseconds to years (IEC 60870-5-4 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cp56Time {
    /// 0..=59999.
    pub ms: u16,
    pub minute: u8,
    pub hour: u8,
    pub day: u8,
    pub weekday: u8,
    pub month: u8,
    /// 0..=99 (years since 2000).
    pub year: u8,
    pub invalid: bool,
    pub summer: bool,
}

impl Cp56Time {
    pub fn parse(b: &[u8; 7]) -> Cp56Time {
        Cp56Time {
            ms: u16::from_le_bytes([b[0], b[1]]),
            minute: b[2] & 0x3F,
            invalid: b[2] & 0x80 != 0,
            hour: b[3] & 0x1F,
            summer: b[3] & 0x80 != 0,
            day: b[4] & 0x1F,
            weekday: b[4] >> 5,
            month: b[5] & 0x0F,
            year: b[6] & 0x7F,
        }
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ms.to_le_bytes());
        out.push(self.minute & 0x3F | if self.invalid { 0x80 } else { 0 });
        out.push(self.hour & 0x1F | if self.summer { 0x80 } else { 0 });
        out.push(self.day & 0x1F | (self.weekday & 0x07) << 5);
        out.push(self.month & 0x0F);
        out.push(self.year & 0x7F);
    }

    /// From milliseconds since 2000-01-01 00:00 UTC, as UTC.
    pub fn from_millis_since_2000(ms_total: u64) -> Cp56Time {
        let ms_of_minute = (ms_total % 60_000) as u16;
        let minutes = ms_total / 60_000;
        let (minute, hours) = ((minutes % 60) as u8, minutes / 60);
        let (hour, mut days) = ((hours % 24) as u8, hours / 24);
        let weekday = ((days + 5) % 7 + 1) as u8; // 2000-01-01 was a Saturday (6)
        let mut year = 0u64;
        loop {
            let len = if year % 4 == 0 { 366 } else { 365 };
            if days < len {
                break;
            }
            days -= len;
            year += 1;
        }
        let months = [31, if year % 4 == 0 { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut month = 0;
        while days >= months[month] {
            days -= months[month];
            month += 1;
        }
        Cp56Time {
            ms: ms_of_minute,
            minute,
            hour,
            day: days as u8 + 1,
            weekday,
            month: month as u8 + 1,
            year: (year % 100) as u8,
            invalid: false,
            summer: false,
        }
    }
}

/// The value of one information object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// SIQ: on/off and the quality bits (BL 0x10, SB 0x20, NT 0x40, IV 0x80).
    Single {
        on: bool,
        quality: u8,
    },
    /// DIQ: 0 indeterminate, 1 off, 2 on, 3 indeterminate.
    Double {
        state: u8,
        quality: u8,
    },
    Normalized {
        value: i16,
        quality: u8,
    },
    Float {
        value: f32,
        quality: u8,
    },
    SingleTime {
        on: bool,
        quality: u8,
        time: Cp56Time,
    },
    DoubleTime {
        state: u8,
        quality: u8,
        time: Cp56Time,
    },
    FloatTime {
        value: f32,
        quality: u8,
        time: Cp56Time,
    },
    EndOfInit {
        coi: u8,
    },
    /// SCO: state, select (S/E = 1) or execute, qualifier of command.
    SingleCommand {
        on: bool,
        select: bool,
        qualifier: u8,
    },
    /// DCO: 1 off, 2 on.
    DoubleCommand {
        state: u8,
        select: bool,
        qualifier: u8,
    },
    SetpointFloat {
        value: f32,
        select: bool,
        qualifier: u8,
    },
    Interrogation {
        qoi: u8,
    },
    ClockSync {
        time: Cp56Time,
    },
}

impl Value {
    /// Octets of one element (without its address) of a type, `None` for types we lack.
    pub fn element_len(type_id: u8) -> Option<usize> {
        use type_id::*;
        Some(match type_id {
            M_SP_NA_1 | M_DP_NA_1 | C_SC_NA_1 | C_DC_NA_1 | M_EI_NA_1 | C_IC_NA_1 => 1,
            M_ME_NA_1 => 3,
            M_ME_NC_1 | C_SE_NC_1 => 5,
            M_SP_TB_1 | M_DP_TB_1 | C_CS_NA_1 => 8 - usize::from(type_id == C_CS_NA_1),
            M_ME_TF_1 => 12,
            _ => return None,
        })
    }

    pub fn type_id(&self) -> u8 {
        use type_id::*;
        match self {
            Value::Single { .. } => M_SP_NA_1,
            Value::Double { .. } => M_DP_NA_1,
            Value::Normalized { .. } => M_ME_NA_1,
            Value::Float { .. } => M_ME_NC_1,
            Value::SingleTime { .. } => M_SP_TB_1,
            Value::DoubleTime { .. } => M_DP_TB_1,
            Value::FloatTime { .. } => M_ME_TF_1,
            Value::EndOfInit { .. } => M_EI_NA_1,
            Value::SingleCommand { .. } => C_SC_NA_1,
            Value::DoubleCommand { .. } => C_DC_NA_1,
            Value::SetpointFloat { .. } => C_SE_NC_1,
            Value::Interrogation { .. } => C_IC_NA_1,
            Value::ClockSync { .. } => C_CS_NA_1,
        }
    }

    fn parse(type_id: u8, b: &[u8]) -> Value {
        use type_id::*;
        let time = |b: &[u8]| {
            let mut t = [0u8; 7];
            t.copy_from_slice(&b[..7]);
            Cp56Time::parse(&t)
        };
        let f32_at = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        match type_id {
            M_SP_NA_1 => Value::Single { on: b[0] & 1 != 0, quality: b[0] & 0xF0 },
            M_DP_NA_1 => Value::Double { state: b[0] & 3, quality: b[0] & 0xF0 },
            M_ME_NA_1 => Value::Normalized { value: i16::from_le_bytes([b[0], b[1]]), quality: b[2] & 0xF1 },
            M_ME_NC_1 => Value::Float { value: f32_at(b), quality: b[4] & 0xF1 },
            M_SP_TB_1 => Value::SingleTime { on: b[0] & 1 != 0, quality: b[0] & 0xF0, time: time(&b[1..]) },
            M_DP_TB_1 => Value::DoubleTime { state: b[0] & 3, quality: b[0] & 0xF0, time: time(&b[1..]) },
            M_ME_TF_1 => Value::FloatTime { value: f32_at(b), quality: b[4] & 0xF1, time: time(&b[5..]) },
            M_EI_NA_1 => Value::EndOfInit { coi: b[0] },
            C_SC_NA_1 => Value::SingleCommand {
                on: b[0] & 1 != 0,
                select: b[0] & 0x80 != 0,
                qualifier: b[0] >> 2 & 0x1F,
            },
            C_DC_NA_1 => Value::DoubleCommand {
                state: b[0] & 3,
                select: b[0] & 0x80 != 0,
                qualifier: b[0] >> 2 & 0x1F,
            },
            C_SE_NC_1 => {
                Value::SetpointFloat { value: f32_at(b), select: b[4] & 0x80 != 0, qualifier: b[4] & 0x7F }
            }
            C_IC_NA_1 => Value::Interrogation { qoi: b[0] },
            _ => Value::ClockSync { time: time(b) },
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        let se = |select: bool| if select { 0x80u8 } else { 0 };
        match *self {
            Value::Single { on, quality } => out.push(u8::from(on) | quality & 0xF0),
            Value::Double { state, quality } => out.push(state & 3 | quality & 0xF0),
            Value::Normalized { value, quality } => {
                out.extend_from_slice(&value.to_le_bytes());
                out.push(quality);
            }
            Value::Float { value, quality } => {
                out.extend_from_slice(&value.to_le_bytes());
                out.push(quality);
            }
            Value::SingleTime { on, quality, time } => {
                out.push(u8::from(on) | quality & 0xF0);
                time.emit(out);
            }
            Value::DoubleTime { state, quality, time } => {
                out.push(state & 3 | quality & 0xF0);
                time.emit(out);
            }
            Value::FloatTime { value, quality, time } => {
                out.extend_from_slice(&value.to_le_bytes());
                out.push(quality);
                time.emit(out);
            }
            Value::EndOfInit { coi } => out.push(coi),
            Value::SingleCommand { on, select, qualifier } => {
                out.push(u8::from(on) | (qualifier & 0x1F) << 2 | se(select))
            }
            Value::DoubleCommand { state, select, qualifier } => {
                out.push(state & 3 | (qualifier & 0x1F) << 2 | se(select))
            }
            Value::SetpointFloat { value, select, qualifier } => {
                out.extend_from_slice(&value.to_le_bytes());
                out.push(qualifier & 0x7F | se(select));
            }
            Value::Interrogation { qoi } => out.push(qoi),
            Value::ClockSync { time } => time.emit(out),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AsduError {
    #[error("ASDU of {0} octets, the header alone needs 6")]
    Truncated(usize),
    #[error("type identification {0} is not supported")]
    UnknownType(u8),
    #[error("{objects} objects of type {type_id} need {expected} octets, found {actual}")]
    Length { type_id: u8, objects: u8, expected: usize, actual: usize },
    #[error("an ASDU without objects")]
    Empty,
}

/// An ASDU, decoded.
#[derive(Clone, PartialEq)]
pub struct Asdu {
    pub type_id: u8,
    /// SQ: one address, then consecutive objects.
    pub sequence: bool,
    /// Cause of transmission (6 bits).
    pub cause: u8,
    pub negative: bool,
    pub test: bool,
    pub originator: u8,
    pub common_address: u16,
    pub objects: Vec<(u32, Value)>,
}

impl fmt::Debug for Asdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "type {} cot {}{} ca {} {:?}",
            self.type_id,
            self.cause,
            if self.negative { " (negative)" } else { "" },
            self.common_address,
            self.objects
        )
    }
}

impl Asdu {
    pub fn new(cause: u8, common_address: u16, objects: Vec<(u32, Value)>) -> Asdu {
        let type_id = objects.first().map_or(0, |(_, v)| v.type_id());
        Asdu {
            type_id,
            sequence: false,
            cause,
            negative: false,
            test: false,
            originator: 0,
            common_address,
            objects,
        }
    }

    /// The header fields from raw octets (enough to answer an ASDU we cannot decode).
    pub fn header(raw: &[u8]) -> Result<(u8, u8, u16), AsduError> {
        if raw.len() < 6 {
            return Err(AsduError::Truncated(raw.len()));
        }
        Ok((raw[0], raw[2] & 0x3F, u16::from_le_bytes([raw[4], raw[5]])))
    }

    /// `raw` sent back with another cause and the P/N bit (a negative confirmation mirrors
    /// the request).
    pub fn mirror(raw: &[u8], cause: u8, negative: bool) -> Vec<u8> {
        let mut out = raw.to_vec();
        if out.len() >= 3 {
            out[2] = cause & 0x3F | if negative { 0x40 } else { 0 } | out[2] & 0x80;
        }
        out
    }

    pub fn parse(raw: &[u8]) -> Result<Asdu, AsduError> {
        let (type_id, cause, common_address) = Asdu::header(raw)?;
        let size = Value::element_len(type_id).ok_or(AsduError::UnknownType(type_id))?;
        let (sequence, n) = (raw[1] & 0x80 != 0, raw[1] & 0x7F);
        if n == 0 {
            return Err(AsduError::Empty);
        }
        let body = &raw[6..];
        let expected = if sequence { 3 + n as usize * size } else { n as usize * (3 + size) };
        if body.len() != expected {
            return Err(AsduError::Length { type_id, objects: n, expected, actual: body.len() });
        }
        let ioa = |b: &[u8]| u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
        let objects = if sequence {
            let first = ioa(body);
            body[3..]
                .chunks_exact(size)
                .enumerate()
                .map(|(i, e)| (first + i as u32, Value::parse(type_id, e)))
                .collect()
        } else {
            body.chunks_exact(3 + size).map(|e| (ioa(e), Value::parse(type_id, &e[3..]))).collect()
        };
        Ok(Asdu {
            type_id,
            sequence,
            cause,
            negative: raw[2] & 0x40 != 0,
            test: raw[2] & 0x80 != 0,
            originator: raw[3],
            common_address,
            objects,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.type_id);
        out.push(self.objects.len() as u8 & 0x7F | if self.sequence { 0x80 } else { 0 });
        out.push(self.cause & 0x3F | if self.negative { 0x40 } else { 0 } | if self.test { 0x80 } else { 0 });
        out.push(self.originator);
        out.extend_from_slice(&self.common_address.to_le_bytes());
        for (i, (ioa, v)) in self.objects.iter().enumerate() {
            if i == 0 || !self.sequence {
                out.extend_from_slice(&ioa.to_le_bytes()[..3]);
            }
            v.emit(out);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrogation_and_double_command_bytes() {
        // C_IC_NA_1, act, CA 1, IOA 0, QOI 20 (station).
        let gi = [0x64, 0x01, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x14];
        let a = Asdu::parse(&gi).unwrap();
        assert_eq!(a.objects, [(0, Value::Interrogation { qoi: 20 })]);
        assert_eq!((a.cause, a.common_address), (cot::ACTIVATION, 1));
        assert_eq!(a.to_bytes(), gi);
        // C_DC_NA_1 select OFF at IOA 2001: DCO = 0x81.
        let dc = [0x2E, 0x01, 0x06, 0x00, 0x05, 0x00, 0xD1, 0x07, 0x00, 0x81];
        let a = Asdu::parse(&dc).unwrap();
        assert_eq!(a.objects, [(2001, Value::DoubleCommand { state: 1, select: true, qualifier: 0 })]);
        assert_eq!(a.to_bytes(), dc);
        // Negative confirmation (COT 47 unknown IOA) mirrors the request with P/N set.
        assert_eq!(Asdu::mirror(&dc, cot::UNKNOWN_IOA, true)[2], 0x6F);
    }

    #[test]
    fn measurements_and_time() {
        let t = Cp56Time::from_millis_since_2000(
            ((26 * 365 + 7 + 329) * 86_400 + 15 * 3600 + 35 * 60) * 1000 + 12_345,
        );
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.ms), (26, 11, 26, 15, 35, 12_345));
        let a = Asdu::new(
            cot::SPONTANEOUS,
            7,
            vec![(3001, Value::FloatTime { value: 49.98, quality: 0, time: t })],
        );
        let bytes = a.to_bytes();
        assert_eq!(bytes.len(), 6 + 3 + 12);
        assert_eq!(Asdu::parse(&bytes).unwrap(), a);
        // SQ = 1: three singles from IOA 100.
        let sq = [0x01, 0x83, 0x14, 0x00, 0x01, 0x00, 100, 0, 0, 1, 0, 0x81];
        let a = Asdu::parse(&sq).unwrap();
        assert_eq!(a.objects[2], (102, Value::Single { on: true, quality: 0x80 }));
        assert_eq!(a.to_bytes(), sq);
    }

    #[test]
    fn bad_asdus() {
        assert_eq!(Asdu::parse(&[1, 1, 3, 0, 1]), Err(AsduError::Truncated(5)));
        assert_eq!(Asdu::parse(&[99, 1, 3, 0, 1, 0, 0, 0, 0, 0]), Err(AsduError::UnknownType(99)));
        assert!(matches!(Asdu::parse(&[1, 2, 3, 0, 1, 0, 1, 0, 0, 1]), Err(AsduError::Length { .. })));
        assert_eq!(Asdu::parse(&[1, 0, 3, 0, 1, 0]), Err(AsduError::Empty));
    }
}
