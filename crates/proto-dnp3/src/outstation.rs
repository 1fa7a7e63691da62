//! A DNP3 outstation's application logic (IEEE 1815-2012 §4-5), without I/O: static data
//! (g1v2, g10v2, g20v1, g30v1), events in classes (g2v2 in class 1, g32v1 in class 2) kept
//! until confirmed, CROB (g12v1) select/operate/direct operate with a select timeout,
//! restarts, time, unsolicited enable/disable (accepted and recorded; nothing is sent
//! unsolicited yet: masters poll), delay measurement and IIN.
//!
//! A READ response longer than a fragment (`MAX_FRAGMENT`) goes out as several: each but the
//! last asks for confirmation (CON), and the next follows, with the next sequence number,
//! only when that confirmation arrives (IEEE 1815-2012 §4.4.13); a new request abandons the
//! rest. The events of a response are cleared when the fragment holding the last of them is
//! confirmed.

use std::collections::VecDeque;

use crate::app::{AppError, MAX_FRAGMENT, Range, Request, Response, ac, fc, iin};

/// What an accepted request asks the device to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A CROB on output `index`: `close` true for LATCH_ON / CLOSE, false for LATCH_OFF / TRIP.
    Control {
        index: u16,
        close: bool,
    },
    ColdRestart,
    WarmRestart,
    /// The master set the time (ms since 1970).
    SetTime(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    /// g2v2: state and time (ms since 1970).
    Binary { value: bool, time_ms: u64 },
    /// g32v1.
    Analog { value: i32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Event {
    id: u64,
    class: u8,
    index: u16,
    kind: EventKind,
}

/// Events in one response: 150 × at most 11 octets stays well inside a 2048-octet fragment;
/// the rest wait for the next read.
const MAX_EVENTS_PER_RESPONSE: usize = 150;

/// CROB status codes.
mod status {
    pub const SUCCESS: u8 = 0;
    pub const TIMEOUT: u8 = 1;
    pub const NO_SELECT: u8 = 2;
    pub const FORMAT_ERROR: u8 = 3;
    pub const NOT_SUPPORTED: u8 = 4;
    pub const LOCAL: u8 = 7;
}

#[derive(Debug, Clone)]
pub struct Outstation {
    pub address: u16,
    pub binaries: Vec<bool>,
    pub outputs: Vec<bool>,
    pub counters: Vec<u32>,
    pub analogs: Vec<i32>,
    /// Change of an analog that makes an event.
    pub deadbands: Vec<i32>,
    pub sbo_timeout_ms: u64,
    pub event_limit: usize,
    /// The local/remote switch at LOCAL: controls answer status LOCAL (7), IIN1.5 is set.
    pub local: bool,
    iin: u16,
    events: VecDeque<Event>,
    next_event: u64,
    /// The fragment with this sequence number awaits CONFIRM; the events it clears.
    pending: Option<(u8, Vec<u64>)>,
    /// The rest of a multi-fragment response: bodies, and whether each is the one whose
    /// confirmation clears `queued_events`.
    queue: VecDeque<(Vec<u8>, bool)>,
    queued_events: Vec<u64>,
    /// IIN bits the whole response carries (object unknown...).
    queued_iin: u16,
    selected: Option<(u16, [u8; 11], u64)>,
    unsolicited: u8,
}

impl Outstation {
    pub fn new(address: u16) -> Outstation {
        Outstation {
            address,
            binaries: Vec::new(),
            outputs: Vec::new(),
            counters: Vec::new(),
            analogs: Vec::new(),
            deadbands: Vec::new(),
            sbo_timeout_ms: 5_000,
            event_limit: 1000,
            local: false,
            iin: iin::DEVICE_RESTART,
            events: VecDeque::new(),
            next_event: 0,
            pending: None,
            queue: VecDeque::new(),
            queued_events: Vec::new(),
            queued_iin: 0,
            selected: None,
            unsolicited: 0,
        }
    }

    pub fn iin(&self) -> u16 {
        let mut v = self.iin;
        if self.local {
            v |= iin::LOCAL_CONTROL;
        }
        for e in &self.events {
            v |= match e.class {
                1 => iin::CLASS_1_EVENTS,
                2 => iin::CLASS_2_EVENTS,
                _ => iin::CLASS_3_EVENTS,
            };
        }
        v
    }

    fn push_event(&mut self, class: u8, index: u16, kind: EventKind) {
        if self.events.len() >= self.event_limit {
            self.events.pop_front();
            self.iin |= iin::EVENT_BUFFER_OVERFLOW;
        }
        self.events.push_back(Event { id: self.next_event, class, index, kind });
        self.next_event += 1;
    }

    /// Sets a binary input; a change makes a class 1 event.
    pub fn set_binary(&mut self, index: usize, value: bool, time_ms: u64) {
        if let Some(b) = self.binaries.get_mut(index)
            && *b != value
        {
            *b = value;
            self.push_event(1, index as u16, EventKind::Binary { value, time_ms });
        }
    }

    /// Sets an analog input; a change beyond its deadband makes a class 2 event.
    pub fn set_analog(&mut self, index: usize, value: i32) {
        let band = self.deadbands.get(index).copied().unwrap_or(0).max(1);
        if let Some(a) = self.analogs.get_mut(index)
            && (i64::from(*a) - i64::from(value)).abs() >= i64::from(band)
        {
            *a = value;
            self.push_event(2, index as u16, EventKind::Analog { value });
        }
    }

    /// Answers one request fragment; `None` when no response is due (CONFIRM,
    /// DIRECT_OPERATE_NR, or a fragment too short to answer).
    pub fn handle(&mut self, now_ms: u64, fragment: &[u8]) -> (Option<Vec<u8>>, Vec<Operation>) {
        let (control, function) = match fragment {
            [c, f, ..] => (*c, *f),
            _ => return (None, Vec::new()),
        };
        let seq = control & 0x0F;
        let mut ops = Vec::new();
        if function != fc::CONFIRM {
            // A new request abandons what is left of a multi-fragment response.
            self.queue.clear();
        }
        let req = match Request::parse(fragment) {
            Ok(r) => r,
            Err(e) => {
                if function == fc::CONFIRM || function == fc::DIRECT_OPERATE_NR {
                    return (None, ops);
                }
                let bit = match e {
                    AppError::Object { .. } => iin::OBJECT_UNKNOWN,
                    _ => iin::PARAMETER_ERROR,
                };
                let r = Response::new(ac::FIR | ac::FIN | seq, fc::RESPONSE, self.iin() | bit);
                return (Some(r.bytes), ops);
            }
        };
        let reply = |extra: u16, this: &Outstation| {
            Response::new(ac::FIR | ac::FIN | seq, fc::RESPONSE, this.iin() | extra)
        };
        match function {
            fc::CONFIRM => {
                if let Some((s, sent)) = self.pending.take() {
                    if s == seq {
                        self.events.retain(|e| !sent.contains(&e.id));
                        if self.events.is_empty() {
                            self.iin &= !iin::EVENT_BUFFER_OVERFLOW;
                        }
                        return (self.next_fragment((seq + 1) & 0x0F, false), ops);
                    }
                    self.pending = Some((s, sent));
                }
                (None, ops)
            }
            fc::READ => {
                let mut resp = reply(0, self);
                let mut unknown = false;
                let mut sent = Vec::new();
                let mut classes = [false; 4];
                for h in &req.headers {
                    match (h.group, h.variation) {
                        (60, 1) => classes[0] = true,
                        (60, v @ 2..=4) => classes[v as usize - 1] = true,
                        (1, 0 | 2) => self.statics(&mut resp, 1),
                        (10, 0 | 2) => self.statics(&mut resp, 10),
                        (20, 0 | 1) => self.statics(&mut resp, 20),
                        (30, 0 | 1) => self.statics(&mut resp, 30),
                        (2, 0 | 2) => self.event_objects(&mut resp, Some(2), &[1, 2, 3], &mut sent),
                        (32, 0 | 1) => self.event_objects(&mut resp, Some(32), &[1, 2, 3], &mut sent),
                        _ => unknown = true,
                    }
                }
                let event_classes: Vec<u8> = (1..=3).filter(|&c| classes[c as usize]).collect();
                if !event_classes.is_empty() {
                    self.event_objects(&mut resp, None, &event_classes, &mut sent);
                }
                let events_end = if sent.is_empty() { 0 } else { resp.bytes.len() };
                if classes[0] {
                    for g in [1, 10, 20, 30] {
                        self.statics(&mut resp, g);
                    }
                }
                let mut start = 4;
                self.queue = resp
                    .bodies(MAX_FRAGMENT)
                    .into_iter()
                    .map(|(body, end)| {
                        let clears = events_end > start && events_end <= end;
                        start = end;
                        (body, clears)
                    })
                    .collect();
                self.queued_events = sent;
                self.queued_iin = if unknown { iin::OBJECT_UNKNOWN } else { 0 };
                (self.next_fragment(seq, true), ops)
            }
            fc::WRITE => {
                let mut bits = 0;
                for h in &req.headers {
                    match (h.group, h.variation, h.range) {
                        (80, 1, Range::StartStop { start: 7, stop: 7 }) if h.objects.first() == Some(&0) => {
                            self.iin &= !iin::DEVICE_RESTART;
                        }
                        (50, 1, _) if h.objects.len() >= 6 => {
                            let mut t = [0u8; 8];
                            t[..6].copy_from_slice(&h.objects[..6]);
                            ops.push(Operation::SetTime(u64::from_le_bytes(t)));
                            self.iin &= !iin::NEED_TIME;
                        }
                        _ => bits |= iin::PARAMETER_ERROR,
                    }
                }
                (Some(reply(bits, self).bytes), ops)
            }
            fc::SELECT | fc::OPERATE | fc::DIRECT_OPERATE | fc::DIRECT_OPERATE_NR => {
                let mut resp = reply(0, self);
                let mut bits = 0;
                for h in &req.headers {
                    if (h.group, h.variation) != (12, 1) || !matches!(h.range, Range::Indexed(_)) {
                        bits |= iin::OBJECT_UNKNOWN;
                        continue;
                    }
                    let range_octets: Vec<u8> = if h.prefix == 1 {
                        vec![h.count() as u8]
                    } else {
                        (h.count() as u16).to_le_bytes().to_vec()
                    };
                    let mut echoed = Vec::new();
                    for (index, obj) in h.items() {
                        let mut crob = [0u8; 11];
                        crob.copy_from_slice(obj);
                        let code = crob[0];
                        let close = crate::app::crob_closes(code);
                        let st = if index as usize >= self.outputs.len() {
                            status::NOT_SUPPORTED
                        } else if self.local {
                            status::LOCAL
                        } else if close.is_none() {
                            status::FORMAT_ERROR
                        } else {
                            match function {
                                fc::SELECT => {
                                    self.selected = Some((index, crob, now_ms + self.sbo_timeout_ms));
                                    status::SUCCESS
                                }
                                fc::OPERATE => match self.selected.take() {
                                    Some((i, c, until)) if i == index && c[..10] == crob[..10] => {
                                        if now_ms <= until { status::SUCCESS } else { status::TIMEOUT }
                                    }
                                    _ => status::NO_SELECT,
                                },
                                _ => status::SUCCESS,
                            }
                        };
                        if st == status::SUCCESS
                            && function != fc::SELECT
                            && let Some(close) = close
                        {
                            ops.push(Operation::Control { index, close });
                        }
                        crob[10] = st;
                        if h.prefix == 1 {
                            echoed.push(index as u8);
                        } else {
                            echoed.extend_from_slice(&index.to_le_bytes());
                        }
                        echoed.extend_from_slice(&crob);
                    }
                    resp.echo(h, &echoed, &range_octets);
                }
                if function == fc::DIRECT_OPERATE_NR {
                    return (None, ops);
                }
                resp.set_iin(self.iin() | bits);
                (Some(resp.bytes), ops)
            }
            fc::COLD_RESTART | fc::WARM_RESTART => {
                ops.push(if function == fc::COLD_RESTART {
                    Operation::ColdRestart
                } else {
                    Operation::WarmRestart
                });
                self.iin |= iin::DEVICE_RESTART;
                let mut resp = reply(0, self);
                // g52v2 time delay fine: ready again in 1000 ms.
                resp.bytes.extend_from_slice(&[52, 2, 0x07, 1]);
                resp.bytes.extend_from_slice(&1000u16.to_le_bytes());
                (Some(resp.bytes), ops)
            }
            fc::ENABLE_UNSOLICITED | fc::DISABLE_UNSOLICITED => {
                let mut mask = 0;
                for h in &req.headers {
                    if h.group == 60 && (2..=4).contains(&h.variation) {
                        mask |= 1 << (h.variation - 1);
                    }
                }
                if function == fc::ENABLE_UNSOLICITED {
                    self.unsolicited |= mask;
                } else {
                    self.unsolicited &= !mask;
                }
                (Some(reply(0, self).bytes), ops)
            }
            fc::DELAY_MEASURE => {
                let mut resp = reply(0, self);
                resp.bytes.extend_from_slice(&[52, 2, 0x07, 1, 0, 0]);
                (Some(resp.bytes), ops)
            }
            fc::RECORD_CURRENT_TIME => (Some(reply(0, self).bytes), ops),
            _ => (Some(reply(iin::NO_FUNC_CODE_SUPPORT, self).bytes), ops),
        }
    }

    /// The next fragment of the queued response, with sequence number `seq`: FIR on the
    /// first, FIN on the last, CON on every one but the last and on the one that clears the
    /// events (it then awaits CONFIRM).
    fn next_fragment(&mut self, seq: u8, first: bool) -> Option<Vec<u8>> {
        let (body, clears) = self.queue.pop_front()?;
        let fin = self.queue.is_empty();
        let con = !fin || clears;
        let control = seq
            | if first { ac::FIR } else { 0 }
            | if fin { ac::FIN } else { 0 }
            | if con { ac::CON } else { 0 };
        let mut bytes = Response::new(control, fc::RESPONSE, self.iin() | self.queued_iin).bytes;
        bytes.extend_from_slice(&body);
        if con {
            let events = if clears { std::mem::take(&mut self.queued_events) } else { Vec::new() };
            self.pending = Some((seq, events));
        }
        Some(bytes)
    }

    fn statics(&self, resp: &mut Response, group: u8) {
        let flag = |v: bool| 0x01 | if v { 0x80 } else { 0 };
        match group {
            1 => resp.range(1, 2, 0, &self.binaries.iter().map(|&b| vec![flag(b)]).collect::<Vec<_>>()),
            10 => resp.range(10, 2, 0, &self.outputs.iter().map(|&b| vec![flag(b)]).collect::<Vec<_>>()),
            20 => resp.range(
                20,
                1,
                0,
                &self.counters.iter().map(|c| [&[0x01][..], &c.to_le_bytes()].concat()).collect::<Vec<_>>(),
            ),
            _ => resp.range(
                30,
                1,
                0,
                &self.analogs.iter().map(|a| [&[0x01][..], &a.to_le_bytes()].concat()).collect::<Vec<_>>(),
            ),
        }
    }

    /// Event objects of `classes` (and of one group, if given), at most `MAX_EVENTS_PER_RESPONSE`
    /// so a response stays one fragment; their ids go to `sent`.
    fn event_objects(&self, resp: &mut Response, group: Option<u8>, classes: &[u8], sent: &mut Vec<u64>) {
        let mut binaries = Vec::new();
        let mut analogs = Vec::new();
        for e in &self.events {
            if !classes.contains(&e.class) || sent.contains(&e.id) {
                continue;
            }
            if sent.len() >= MAX_EVENTS_PER_RESPONSE {
                break;
            }
            match e.kind {
                EventKind::Binary { value, time_ms } if group.is_none_or(|g| g == 2) => {
                    let mut o = vec![0x01 | if value { 0x80 } else { 0 }];
                    o.extend_from_slice(&time_ms.to_le_bytes()[..6]);
                    binaries.push((e.index, o));
                    sent.push(e.id);
                }
                EventKind::Analog { value } if group.is_none_or(|g| g == 32) => {
                    analogs.push((e.index, [&[0x01][..], &value.to_le_bytes()].concat()));
                    sent.push(e.id);
                }
                _ => {}
            }
        }
        resp.indexed(2, 2, &binaries);
        resp.indexed(32, 1, &analogs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station() -> Outstation {
        let mut o = Outstation::new(10);
        o.binaries = vec![true, true];
        o.outputs = vec![true];
        o.counters = vec![0];
        o.analogs = vec![3_500, 345_000];
        o.deadbands = vec![100, 1000];
        o
    }

    #[test]
    fn integrity_poll() {
        let mut o = station();
        let (r, _) = o.handle(0, &[0xC0, 1, 60, 2, 6, 60, 3, 6, 60, 4, 6, 60, 1, 6]);
        let r = r.unwrap();
        assert_eq!(&r[..4], [0xC0, 129, 0x80, 0x00], "DEVICE_RESTART set until cleared");
        // g1v2 0..1, g10v2 0..0, g20v1 0..0, g30v1 0..1.
        assert_eq!(&r[4..13], [1, 2, 1, 0, 0, 1, 0, 0x81, 0x81]);
        let (r, _) = o.handle(0, &[0xC1, 2, 80, 1, 0x00, 7, 7, 0]);
        assert_eq!(&r.unwrap()[2..4], [0, 0], "WRITE g80v1.7 clears DEVICE_RESTART");
    }

    #[test]
    fn select_operate_and_events() {
        let mut o = station();
        let select = [0xC2, 3, 12, 1, 0x28, 1, 0, 0, 0, 0x04, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let (r, ops) = o.handle(0, &select);
        assert!(ops.is_empty());
        assert_eq!(*r.unwrap().last().unwrap(), 0, "SELECT success");
        let mut operate = select;
        operate[0] = 0xC3;
        operate[1] = 4;
        let (r, ops) = o.handle(10, &operate);
        assert_eq!(ops, [Operation::Control { index: 0, close: false }]);
        assert_eq!(*r.unwrap().last().unwrap(), 0);
        let (r, ops) = o.handle(20, &operate);
        assert!(ops.is_empty());
        assert_eq!(*r.unwrap().last().unwrap(), status::NO_SELECT);
        // A change makes a class 1 event, sent with CON and kept until confirmed.
        o.set_binary(0, false, 1_000);
        let (r, _) = o.handle(30, &[0xC4, 1, 60, 2, 6]);
        let r = r.unwrap();
        assert_eq!(r[0] & ac::CON, ac::CON);
        assert_eq!(&r[4..9], [2, 2, 0x28, 1, 0]);
        assert_eq!(o.iin() & iin::CLASS_1_EVENTS, iin::CLASS_1_EVENTS);
        o.handle(31, &[0xC4, 0]);
        assert_eq!(o.iin() & iin::CLASS_1_EVENTS, 0, "confirmed");
        // A CONFIRM removes only what that response carried: class 2 events stay.
        o.set_binary(1, false, 2_000);
        o.set_analog(0, 9_999);
        let (r, _) = o.handle(40, &[0xC6, 1, 60, 2, 6]);
        assert_eq!(r.unwrap()[0] & ac::CON, ac::CON);
        o.handle(41, &[0xC6, 0]);
        assert_eq!(o.iin() & (iin::CLASS_1_EVENTS | iin::CLASS_2_EVENTS), iin::CLASS_2_EVENTS);
        let (r, _) = o.handle(32, &[0xC5, 99]);
        assert_eq!(&r.unwrap()[2..4], [0x84, 0x01], "unknown function (class 2 still pending)");
    }

    /// Walks the object headers of a response body: (group, variation, first index, count)
    /// for start/stop ranges (qualifier 0x01) and count-indexed headers (0x28), with each
    /// object's size given per (group, variation).
    fn headers(body: &[u8]) -> Vec<(u8, u8, u16, u16)> {
        let size = |g: u8, v: u8| match (g, v) {
            (1, 2) | (10, 2) => 1,
            (20, 1) | (30, 1) | (32, 1) => 5,
            (2, 2) => 7,
            _ => panic!("unexpected g{g}v{v}"),
        };
        let (mut out, mut i) = (Vec::new(), 0);
        while i < body.len() {
            let (g, v, q) = (body[i], body[i + 1], body[i + 2]);
            let w = |k: usize| u16::from_le_bytes([body[k], body[k + 1]]);
            match q {
                0x01 => {
                    let (start, stop) = (w(i + 3), w(i + 5));
                    out.push((g, v, start, stop - start + 1));
                    i += 7 + (stop - start + 1) as usize * size(g, v);
                }
                0x28 => {
                    let n = w(i + 3);
                    out.push((g, v, w(i + 5), n));
                    i += 5 + n as usize * (2 + size(g, v));
                }
                _ => panic!("qualifier {q:#x}"),
            }
        }
        assert_eq!(i, body.len(), "headers end exactly at the body's end");
        out
    }

    #[test]
    fn a_long_response_goes_out_in_confirmed_fragments() {
        let mut o = station();
        o.binaries = vec![true; 600];
        o.analogs = (0..1000).collect();
        o.deadbands = vec![1; 1000];
        // 40 analog events (class 2), sent first, cleared only by the confirmation of the
        // fragment holding them.
        for i in 0..40 {
            o.set_analog(i, -1);
        }
        let (r, _) = o.handle(0, &[0xC3, 1, 60, 2, 6, 60, 3, 6, 60, 4, 6, 60, 1, 6]);
        let mut fragment = r.unwrap();
        let mut seq = 3u8;
        let mut seen: Vec<(u8, u8, u16, u16)> = Vec::new();
        let mut n = 0;
        loop {
            assert!(fragment.len() <= MAX_FRAGMENT, "{} octets", fragment.len());
            let control = fragment[0];
            assert_eq!(control & 0x0F, seq);
            assert_eq!(control & ac::FIR != 0, n == 0, "FIR only on the first");
            let fin = control & ac::FIN != 0;
            assert_eq!(fragment[1], fc::RESPONSE);
            seen.extend(headers(&fragment[4..]));
            n += 1;
            if fin {
                assert_eq!(control & ac::CON, 0, "the last fragment holds no events here");
                break;
            }
            assert_ne!(control & ac::CON, 0, "CON on every fragment but the last");
            if n == 1 {
                // The events were in the first fragment; they go when it is confirmed.
                assert_ne!(o.iin() & iin::CLASS_2_EVENTS, 0);
            }
            let (next, _) = o.handle(0, &[0xC0 | seq, fc::CONFIRM]);
            if n == 1 {
                assert_eq!(o.iin() & iin::CLASS_2_EVENTS, 0, "confirmed events are cleared");
            }
            seq = (seq + 1) & 0x0F;
            fragment = next.expect("the next fragment follows the confirmation");
        }
        assert!(n >= 3, "{n} fragments");
        // Every point exactly once, in order, across the fragments.
        let count = |g: u8| seen.iter().filter(|h| h.0 == g).map(|h| u32::from(h.3)).sum::<u32>();
        assert_eq!((count(32), count(1), count(10), count(20), count(30)), (40, 600, 1, 1, 1000));
        let analog_starts: Vec<u16> = seen.iter().filter(|h| h.0 == 30).map(|h| h.2).collect();
        let mut expect = 0;
        for h in seen.iter().filter(|h| h.0 == 30) {
            assert_eq!(h.2, expect, "consecutive ranges: {analog_starts:?}");
            expect += h.3;
        }
        // No more fragments after the last one.
        assert_eq!(o.handle(0, &[0xC0 | seq, fc::CONFIRM]).0, None);

        // A new request abandons the rest of a response: the old confirmation brings nothing.
        let (r, _) = o.handle(0, &[0xC5, 1, 60, 1, 6]);
        assert_eq!(r.unwrap()[0] & (ac::FIR | ac::FIN), ac::FIR);
        let (r, _) = o.handle(0, &[0xC6, 1, 60, 2, 6]);
        assert_eq!(r.unwrap()[0] & (ac::FIR | ac::FIN), ac::FIR | ac::FIN);
        assert_eq!(o.handle(0, &[0xC5, fc::CONFIRM]).0, None);
    }
}
