//! What a controlled station answers (IEC 60870-5-101 §7.4 and -104 §9): general
//! interrogation, clock synchronisation, single/double commands and float set points with
//! select-before-operate (and direct execute), negative confirmations (COT 44-47), and
//! spontaneous reports. No I/O, no clock: the caller passes `now` and the station time.

use simcore::SimTime;

use crate::asdu::{Asdu, AsduError, BROADCAST_CA, Cp56Time, MAX_ASDU, Value, cot, type_id};

/// A monitored value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointValue {
    Single(bool),
    /// 1 off, 2 on, 0/3 indeterminate.
    Double(u8),
    Float(f32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub ioa: u32,
    pub value: PointValue,
    /// Quality descriptor bits (IV 0x80, NT 0x40, SB 0x20, BL 0x10).
    pub quality: u8,
}

impl Point {
    fn value(&self) -> Value {
        match self.value {
            PointValue::Single(on) => Value::Single { on, quality: self.quality },
            PointValue::Double(state) => Value::Double { state, quality: self.quality },
            PointValue::Float(value) => Value::Float { value, quality: self.quality },
        }
    }

    fn timed(&self, time: Cp56Time) -> Value {
        match self.value {
            PointValue::Single(on) => Value::SingleTime { on, quality: self.quality, time },
            PointValue::Double(state) => Value::DoubleTime { state, quality: self.quality, time },
            PointValue::Float(value) => Value::FloatTime { value, quality: self.quality, time },
        }
    }
}

/// Kinds of command object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Single,
    Double,
    SetpointFloat,
}

impl CommandKind {
    fn type_id(self) -> u8 {
        match self {
            CommandKind::Single => type_id::C_SC_NA_1,
            CommandKind::Double => type_id::C_DC_NA_1,
            CommandKind::SetpointFloat => type_id::C_SE_NC_1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandPoint {
    pub ioa: u32,
    pub kind: CommandKind,
    /// Execute only after a select (no direct execute).
    pub sbo_required: bool,
}

/// What an accepted command asks the device to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operation {
    Single { ioa: u32, on: bool },
    Double { ioa: u32, on: bool },
    Setpoint { ioa: u32, value: f32 },
    ClockSync(Cp56Time),
}

#[derive(Debug, Clone)]
pub struct Station {
    pub common_address: u16,
    pub points: Vec<Point>,
    pub commands: Vec<CommandPoint>,
    /// How long a select stays armed.
    pub sbo_timeout: SimTime,
    selected: Option<Selection>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Selection {
    ioa: u32,
    value: Value,
    until: SimTime,
}

/// The command's value with S/E cleared, to compare a select with its execute.
fn unselected(v: Value) -> Value {
    match v {
        Value::SingleCommand { on, qualifier, .. } => Value::SingleCommand { on, select: false, qualifier },
        Value::DoubleCommand { state, qualifier, .. } => {
            Value::DoubleCommand { state, select: false, qualifier }
        }
        Value::SetpointFloat { value, qualifier, .. } => {
            Value::SetpointFloat { value, select: false, qualifier }
        }
        other => other,
    }
}

impl Station {
    pub fn new(common_address: u16) -> Station {
        Station {
            common_address,
            points: Vec::new(),
            commands: Vec::new(),
            sbo_timeout: SimTime(10_000_000),
            selected: None,
        }
    }

    /// Answers one received ASDU: responses go to `out` (ASDU octets, in order), accepted
    /// operations are returned for the device to carry out.
    pub fn handle(&mut self, now: SimTime, raw: &[u8], out: &mut Vec<Vec<u8>>) -> Vec<Operation> {
        let Ok((type_id, cause, ca)) = Asdu::header(raw) else { return Vec::new() };
        let asdu = match Asdu::parse(raw) {
            Ok(a) => a,
            Err(AsduError::UnknownType(_)) => {
                out.push(Asdu::mirror(raw, cot::UNKNOWN_TYPE, true));
                return Vec::new();
            }
            Err(_) => return Vec::new(),
        };
        let broadcast_ok = matches!(type_id, type_id::C_IC_NA_1 | type_id::C_CS_NA_1);
        if ca != self.common_address && !(ca == BROADCAST_CA && broadcast_ok) {
            out.push(Asdu::mirror(raw, cot::UNKNOWN_CA, true));
            return Vec::new();
        }
        // A broadcast is answered with the station's own address.
        let reply = |cause: u8, negative: bool, objects: Vec<(u32, Value)>| {
            let mut a = Asdu::new(cause, self.common_address, objects);
            a.type_id = type_id;
            a.negative = negative;
            a.originator = asdu.originator;
            a.to_bytes()
        };
        match type_id {
            type_id::C_IC_NA_1 => {
                if cause == cot::DEACTIVATION {
                    out.push(reply(cot::DEACTIVATION_CON, false, asdu.objects.clone()));
                    return Vec::new();
                }
                if cause != cot::ACTIVATION {
                    out.push(Asdu::mirror(raw, cot::UNKNOWN_COT, true));
                    return Vec::new();
                }
                let qoi = match asdu.objects.first() {
                    Some((_, Value::Interrogation { qoi })) => *qoi,
                    _ => 0,
                };
                match qoi {
                    // Station interrogation: every point, COT 20.
                    20 => {
                        out.push(reply(cot::ACTIVATION_CON, false, asdu.objects.clone()));
                        self.interrogation(asdu.originator, out);
                        out.push(reply(cot::ACTIVATION_TERM, false, asdu.objects.clone()));
                    }
                    // Group 1-16 interrogation (COT 21-36): no point is assigned to a group,
                    // so the answer is the confirmation and the termination.
                    21..=36 => {
                        out.push(reply(cot::ACTIVATION_CON, false, asdu.objects.clone()));
                        out.push(reply(cot::ACTIVATION_TERM, false, asdu.objects.clone()));
                    }
                    _ => out.push(reply(cot::ACTIVATION_CON, true, asdu.objects.clone())),
                }
                Vec::new()
            }
            type_id::C_CS_NA_1 => {
                if cause != cot::ACTIVATION {
                    out.push(Asdu::mirror(raw, cot::UNKNOWN_COT, true));
                    return Vec::new();
                }
                out.push(reply(cot::ACTIVATION_CON, false, asdu.objects.clone()));
                match asdu.objects.first() {
                    Some((_, Value::ClockSync { time })) => vec![Operation::ClockSync(*time)],
                    _ => Vec::new(),
                }
            }
            type_id::C_SC_NA_1 | type_id::C_DC_NA_1 | type_id::C_SE_NC_1 => {
                let Some(&(ioa, value)) = asdu.objects.first() else { return Vec::new() };
                // A command carries exactly one object (IEC 60870-5-101 §7.3.2).
                if asdu.objects.len() != 1 {
                    out.push(reply(cot::ACTIVATION_CON, true, asdu.objects.clone()));
                    return Vec::new();
                }
                if cause == cot::DEACTIVATION {
                    self.selected = None;
                    out.push(reply(cot::DEACTIVATION_CON, false, asdu.objects.clone()));
                    return Vec::new();
                }
                if cause != cot::ACTIVATION {
                    out.push(Asdu::mirror(raw, cot::UNKNOWN_COT, true));
                    return Vec::new();
                }
                let Some(cmd) =
                    self.commands.iter().find(|c| c.ioa == ioa && c.kind.type_id() == type_id).copied()
                else {
                    out.push(Asdu::mirror(raw, cot::UNKNOWN_IOA, true));
                    return Vec::new();
                };
                let (select, op) = match value {
                    Value::SingleCommand { on, select, .. } => (select, Some(Operation::Single { ioa, on })),
                    Value::DoubleCommand { state: s @ (1 | 2), select, .. } => {
                        (select, Some(Operation::Double { ioa, on: s == 2 }))
                    }
                    Value::DoubleCommand { select, .. } => (select, None),
                    Value::SetpointFloat { value, select, .. } if value.is_finite() => {
                        (select, Some(Operation::Setpoint { ioa, value }))
                    }
                    Value::SetpointFloat { select, .. } => (select, None),
                    _ => (false, None),
                };
                let Some(op) = op else {
                    out.push(reply(cot::ACTIVATION_CON, true, asdu.objects.clone()));
                    return Vec::new();
                };
                if select {
                    self.selected =
                        Some(Selection { ioa, value: unselected(value), until: now + self.sbo_timeout });
                    out.push(reply(cot::ACTIVATION_CON, false, asdu.objects.clone()));
                    return Vec::new();
                }
                let armed = self.selected.take();
                let matches =
                    armed.is_some_and(|s| s.ioa == ioa && s.value == unselected(value) && now <= s.until);
                if !matches && (armed.is_some() || cmd.sbo_required) {
                    out.push(reply(cot::ACTIVATION_CON, true, asdu.objects.clone()));
                    return Vec::new();
                }
                out.push(reply(cot::ACTIVATION_CON, false, asdu.objects.clone()));
                out.push(reply(cot::ACTIVATION_TERM, false, asdu.objects.clone()));
                vec![op]
            }
            _ => {
                out.push(Asdu::mirror(raw, cot::UNKNOWN_TYPE, true));
                Vec::new()
            }
        }
    }

    /// Every point, with COT 20, in as few ASDUs as fit, one type per ASDU.
    fn interrogation(&self, originator: u8, out: &mut Vec<Vec<u8>>) {
        let per_asdu = |v: &Value| (MAX_ASDU - 6) / (3 + Value::element_len(v.type_id()).unwrap_or(MAX_ASDU));
        let mut i = 0;
        while i < self.points.len() {
            let first = self.points[i].value();
            let cap = per_asdu(&first).max(1);
            let mut objects = Vec::new();
            while i < self.points.len()
                && objects.len() < cap
                && self.points[i].value().type_id() == first.type_id()
            {
                objects.push((self.points[i].ioa, self.points[i].value()));
                i += 1;
            }
            let mut a = Asdu::new(cot::INTERROGATED, self.common_address, objects);
            a.originator = originator;
            out.push(a.to_bytes());
        }
    }

    /// A spontaneous report (COT 3, with time) of point `index`.
    pub fn spontaneous(&self, index: usize, time: Cp56Time) -> Option<Vec<u8>> {
        let p = self.points.get(index)?;
        Some(Asdu::new(cot::SPONTANEOUS, self.common_address, vec![(p.ioa, p.timed(time))]).to_bytes())
    }

    /// End of initialisation (M_EI_NA_1, COT 4); the RTU server sends it once per
    /// connection, when data transfer first starts.
    pub fn end_of_init(&self) -> Vec<u8> {
        let mut a = Asdu::new(cot::INITIALISED, self.common_address, vec![(0, Value::EndOfInit { coi: 0 })]);
        a.type_id = type_id::M_EI_NA_1;
        a.to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station() -> Station {
        let mut s = Station::new(5);
        s.points.push(Point { ioa: 1001, value: PointValue::Double(2), quality: 0 });
        s.points.push(Point { ioa: 3000, value: PointValue::Float(110.5), quality: 0 });
        s.commands.push(CommandPoint { ioa: 2001, kind: CommandKind::Double, sbo_required: false });
        s
    }

    fn causes(out: &[Vec<u8>]) -> Vec<(u8, u8, bool, u16)> {
        out.iter().map(|a| (a[0], a[2] & 0x3F, a[2] & 0x40 != 0, u16::from_le_bytes([a[4], a[5]]))).collect()
    }

    #[test]
    fn broadcast_interrogation_is_answered_with_the_own_address() {
        let mut s = station();
        let mut out = Vec::new();
        s.handle(SimTime(0), &[100, 1, 6, 0, 0xFF, 0xFF, 0, 0, 0, 20], &mut out);
        assert_eq!(
            causes(&out),
            [(100, 7, false, 5), (3, 20, false, 5), (13, 20, false, 5), (100, 10, false, 5)]
        );
    }

    #[test]
    fn group_and_bad_qualifiers() {
        let mut s = station();
        let mut out = Vec::new();
        s.handle(SimTime(0), &[100, 1, 6, 0, 5, 0, 0, 0, 0, 21], &mut out);
        assert_eq!(causes(&out), [(100, 7, false, 5), (100, 10, false, 5)], "group 1: con and term only");
        out.clear();
        s.handle(SimTime(0), &[100, 1, 6, 0, 5, 0, 0, 0, 0, 99], &mut out);
        assert_eq!(causes(&out), [(100, 7, true, 5)], "QOI 99 refused");
        out.clear();
        let two = [46, 2, 6, 0, 5, 0, 0xD1, 0x07, 0, 0x01, 0xD1, 0x07, 0, 0x01];
        assert!(s.handle(SimTime(0), &two, &mut out).is_empty());
        assert_eq!(causes(&out), [(46, 7, true, 5)], "two objects in one command refused");
    }

    #[test]
    fn select_then_execute_and_negative_confirmations() {
        let mut s = station();
        let mut out = Vec::new();
        let select = [46, 1, 6, 0, 5, 0, 0xD1, 0x07, 0, 0x81];
        let execute = [46, 1, 6, 0, 5, 0, 0xD1, 0x07, 0, 0x01];
        assert!(s.handle(SimTime(0), &select, &mut out).is_empty());
        let ops = s.handle(SimTime(1), &execute, &mut out);
        assert_eq!(ops, [Operation::Double { ioa: 2001, on: false }]);
        assert_eq!(causes(&out), [(46, 7, false, 5), (46, 7, false, 5), (46, 10, false, 5)]);
        // Select, then the timeout passes: the execute is refused.
        out.clear();
        s.handle(SimTime(0), &select, &mut out);
        assert!(s.handle(s.sbo_timeout + SimTime(1), &execute, &mut out).is_empty());
        assert_eq!(causes(&out)[1], (46, 7, true, 5));
        // Direct execute is allowed on this point.
        out.clear();
        assert_eq!(s.handle(SimTime(0), &execute, &mut out).len(), 1);
        // Unknown IOA, CA, type; wrong cause.
        out.clear();
        s.handle(SimTime(0), &[46, 1, 6, 0, 5, 0, 0xD2, 0x07, 0, 0x01], &mut out);
        s.handle(SimTime(0), &[46, 1, 6, 0, 9, 0, 0xD1, 0x07, 0, 0x01], &mut out);
        s.handle(SimTime(0), &[48, 1, 6, 0, 5, 0, 0xD1, 0x07, 0, 0, 0, 0], &mut out);
        s.handle(SimTime(0), &[46, 1, 3, 0, 5, 0, 0xD1, 0x07, 0, 0x01], &mut out);
        assert_eq!(
            causes(&out),
            [(46, 47, true, 5), (46, 46, true, 9), (48, 44, true, 5), (46, 45, true, 5)]
        );
    }
}
