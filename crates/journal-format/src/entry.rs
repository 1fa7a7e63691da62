//! A journal entry's JSON line: `kind` first, `t` in simulated seconds.

use std::net::SocketAddrV4;

use range::journal::{Entry, Live, Operation};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::action::{ActionJson, ActorJson, OutcomeJson, action, actor, outcome};

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum EntryJson<'a> {
    Start {
        t: f64,
        format: u32,
        exercise: &'a str,
        seed: u64,
        defender: &'a str,
        base: String,
        start_ms_since_2000: u64,
        demand_mw: f64,
        customers: u64,
    },
    Grid {
        t: f64,
        event: &'static str,
        element: String,
        cause: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        mw: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        customers: Option<u64>,
    },
    Supply {
        t: f64,
        served_mw: f64,
        demand_mw: f64,
        customers_off: u64,
        ens_mwh: f64,
        f_hz: f64,
        f_min_hz: f64,
        f_max_hz: f64,
    },
    Line {
        t: f64,
        flow_in_m3h: f64,
        flow_out_m3h: f64,
        delivered_m3: f64,
        nominated_m3: f64,
        not_delivered_m3: f64,
        released_m3: f64,
        relieved_m3: f64,
        peak_maop_ratio: f64,
        pressures_kpa: &'a [f64],
    },
    Pipe {
        t: f64,
        event: &'static str,
        subject: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pressure_kpa: Option<f64>,
        by_sis: bool,
        what: &'a str,
    },
    Attack {
        t: f64,
        step: &'a str,
        name: &'a str,
        action: &'static str,
        techniques: &'a [String],
        on_wire: bool,
    },
    AttackPrevented {
        t: f64,
        step: &'a str,
        reason: &'a str,
    },
    It {
        t: f64,
        step: &'a str,
        event: &'a str,
        host: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        src: Option<String>,
        artefact: &'a str,
    },
    Command {
        t: f64,
        protocol: &'static str,
        src: String,
        dst: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        station: Option<u16>,
        operation: OperationJson,
        detail: String,
        by: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<&'a str>,
        outcome: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        frames: Option<(u64, u64)>,
    },
    Hmi {
        t: f64,
        actor: ActorJson,
        station: u16,
        ioa: u32,
        close: bool,
    },
    Device {
        t: f64,
        device: &'a str,
        addr: String,
        change: &'static str,
    },
    Alert {
        t: f64,
        rule: &'static str,
        techniques: &'static [&'static str],
        src: String,
        dst: String,
        evidence: &'a [u64],
        message: &'a str,
    },
    Act {
        t: f64,
        actor: ActorJson,
        action: ActionJson,
        outcome: OutcomeJson,
    },
    Live {
        t: f64,
        #[serde(flatten)]
        live: LiveJson,
    },
    Crew {
        t: f64,
        station: u16,
        ioa: u32,
        close: bool,
        status: String,
    },
    Inject {
        t: f64,
        id: &'a str,
        channel: &'a str,
        from: &'a str,
        subject: &'a str,
    },
    Answer {
        t: f64,
        question: &'a str,
        value: &'a str,
    },
    Hint {
        t: f64,
        question: &'a str,
        index: usize,
        cost: f64,
        text: &'a str,
    },
    Report {
        t: f64,
        text: &'a str,
    },
    End {
        t: f64,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
enum OperationJson {
    Breaker {
        ioa: u32,
        close: bool,
        select: bool,
    },
    Setpoint {
        ioa: u32,
        value: f32,
        select: bool,
    },
    Single {
        ioa: u32,
        on: bool,
        select: bool,
    },
    Sweep {
        double: bool,
        first: u32,
        last: u32,
    },
    Toggle {
        round: u32,
        double: bool,
        on: bool,
    },
    Crob {
        feeder: u32,
        close: bool,
    },
    /// A CROB on a line RTU's valve.
    Valve {
        index: u16,
        open: bool,
    },
    /// Modbus FC 20 / FC 21 on a controller's program file.
    ProgramRead {
        file: u16,
        records: u16,
    },
    ProgramWrite {
        file: u16,
        records: u16,
    },
    WriteCoil {
        coil: u16,
        value: bool,
    },
    Write {
        function: u8,
        address: u16,
        count: u16,
    },
    Restart,
    Firmware,
    Datagram {
        port: u16,
        bytes: u16,
        dos: bool,
    },
    /// Start of data transfer / general interrogation / stop (a configured IEC 104 sequence).
    Sequence {
        phase: String,
    },
}

fn operation(op: &Operation) -> OperationJson {
    match *op {
        Operation::Breaker { ioa, close, select } => OperationJson::Breaker { ioa, close, select },
        Operation::Setpoint { ioa, value, select } => OperationJson::Setpoint { ioa, value, select },
        Operation::Single { ioa, on, select } => OperationJson::Single { ioa, on, select },
        Operation::Sweep { double, first, last } => OperationJson::Sweep { double, first, last },
        Operation::Toggle { round, double, on } => OperationJson::Toggle { round, double, on },
        Operation::Crob { feeder, close } => OperationJson::Crob { feeder, close },
        Operation::Valve { index, open } => OperationJson::Valve { index, open },
        Operation::ProgramRead { file, records } => OperationJson::ProgramRead { file, records },
        Operation::ProgramWrite { file, records } => OperationJson::ProgramWrite { file, records },
        Operation::WriteCoil { coil, value } => OperationJson::WriteCoil { coil, value },
        Operation::Write { function, address, count } => OperationJson::Write { function, address, count },
        Operation::Restart => OperationJson::Restart,
        Operation::Firmware => OperationJson::Firmware,
        Operation::Datagram { port, bytes, dos } => OperationJson::Datagram { port, bytes, dos },
        Operation::Interrogation => OperationJson::Sequence { phase: "interrogation".into() },
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum LiveJson {
    Open { client: SocketAddrV4, server: SocketAddrV4, conn: Option<u32> },
    Data { conn: u32, hex: String },
    Close { conn: u32 },
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

pub(crate) fn unhex(s: &str) -> Result<Vec<u8>, Error> {
    if s.len() % 2 != 0 {
        return Err(Error::OddHex);
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16).map_err(|_| Error::Hex(i)))
        .collect()
}

fn to_json(e: &Entry) -> EntryJson<'_> {
    match e {
        Entry::Start {
            t,
            format,
            exercise,
            seed,
            defender,
            base,
            start_ms_since_2000,
            demand_mw,
            customers,
        } => EntryJson::Start {
            t: t.secs(),
            format: *format,
            exercise,
            seed: *seed,
            defender,
            base: base.to_string(),
            start_ms_since_2000: *start_ms_since_2000,
            demand_mw: *demand_mw,
            customers: *customers,
        },
        Entry::Grid { event } => EntryJson::Grid {
            t: event.t.secs(),
            event: event.kind.as_str(),
            element: event.element.to_string(),
            cause: event.cause.as_str(),
            mw: event.mw,
            customers: event.customers,
        },
        Entry::Supply { t, served_mw, demand_mw, customers_off, ens_mwh, f_hz, f_min_hz, f_max_hz } => {
            EntryJson::Supply {
                t: t.secs(),
                served_mw: *served_mw,
                demand_mw: *demand_mw,
                customers_off: *customers_off,
                ens_mwh: *ens_mwh,
                f_hz: *f_hz,
                f_min_hz: *f_min_hz,
                f_max_hz: *f_max_hz,
            }
        }
        Entry::Line {
            t,
            flow_in_m3h,
            flow_out_m3h,
            delivered_m3,
            nominated_m3,
            not_delivered_m3,
            released_m3,
            relieved_m3,
            peak_maop_ratio,
            pressures_kpa,
        } => EntryJson::Line {
            t: t.secs(),
            flow_in_m3h: *flow_in_m3h,
            flow_out_m3h: *flow_out_m3h,
            delivered_m3: *delivered_m3,
            nominated_m3: *nominated_m3,
            not_delivered_m3: *not_delivered_m3,
            released_m3: *released_m3,
            relieved_m3: *relieved_m3,
            peak_maop_ratio: *peak_maop_ratio,
            pressures_kpa,
        },
        Entry::Pipe { t, kind, subject, pressure_kpa, by_sis, what } => EntryJson::Pipe {
            t: t.secs(),
            event: kind.as_str(),
            subject,
            pressure_kpa: *pressure_kpa,
            by_sis: *by_sis,
            what,
        },
        Entry::Attack { t, step, name, kind, techniques, on_wire } => {
            EntryJson::Attack { t: t.secs(), step, name, action: kind, techniques, on_wire: *on_wire }
        }
        Entry::AttackPrevented { t, step, reason } => {
            EntryJson::AttackPrevented { t: t.secs(), step, reason }
        }
        Entry::It { t, step, event, host, account, src, artefact } => EntryJson::It {
            t: t.secs(),
            step,
            event,
            host,
            account: account.as_deref(),
            src: src.map(|a| a.to_string()),
            artefact,
        },
        Entry::Command { t, protocol, src, dst, station, operation: op, by, step, outcome, frames } => {
            EntryJson::Command {
                t: t.secs(),
                protocol: protocol.as_str(),
                src: src.to_string(),
                dst: dst.to_string(),
                station: *station,
                operation: operation(op),
                detail: op.describe(),
                by: by.as_str(),
                step: step.as_deref(),
                outcome: outcome.describe(),
                frames: *frames,
            }
        }
        Entry::Hmi { t, actor: a, point, close } => EntryJson::Hmi {
            t: t.secs(),
            actor: actor(a),
            station: point.station,
            ioa: point.ioa,
            close: *close,
        },
        Entry::Device { t, device, addr, change } => {
            EntryJson::Device { t: t.secs(), device, addr: addr.to_string(), change: change.describe() }
        }
        Entry::Alert { alert } => EntryJson::Alert {
            t: alert.t.secs(),
            rule: alert.rule,
            techniques: alert.techniques,
            src: alert.src.to_string(),
            dst: alert.dst.to_string(),
            evidence: &alert.evidence,
            message: &alert.message,
        },
        Entry::Act { t, actor: a, action: x, outcome: o } => {
            EntryJson::Act { t: t.secs(), actor: actor(a), action: action(x), outcome: outcome(o) }
        }
        Entry::Live { t, live, conn } => EntryJson::Live {
            t: t.secs(),
            live: match live {
                Live::Open { client, server } => {
                    LiveJson::Open { client: *client, server: *server, conn: *conn }
                }
                Live::Data { conn, bytes } => LiveJson::Data { conn: *conn, hex: hex(bytes) },
                Live::Close { conn } => LiveJson::Close { conn: *conn },
            },
        },
        Entry::Crew { t, point, close, status } => EntryJson::Crew {
            t: t.secs(),
            station: point.station,
            ioa: point.ioa,
            close: *close,
            status: status.describe(),
        },
        Entry::Inject { t, id, channel, from, subject } => {
            EntryJson::Inject { t: t.secs(), id, channel, from, subject }
        }
        Entry::Answer { t, question, value } => EntryJson::Answer { t: t.secs(), question, value },
        Entry::Hint { t, question, index, cost, text } => {
            EntryJson::Hint { t: t.secs(), question, index: *index, cost: *cost, text }
        }
        Entry::Report { t, text } => EntryJson::Report { t: t.secs(), text },
        Entry::End { t } => EntryJson::End { t: t.secs() },
    }
}

/// One entry as a JSON line (without the newline).
pub fn entry(e: &Entry) -> String {
    // Entries hold only strings, numbers, lists and finite floats: serialising cannot fail.
    serde_json::to_string(&to_json(e)).unwrap_or_default()
}

/// An entry as the instructors' pages show it: its JSON form with its journal index (`seq`).
pub fn numbered(seq: usize, e: &Entry) -> serde_json::Value {
    #[derive(Serialize)]
    struct Numbered<'a> {
        seq: usize,
        #[serde(flatten)]
        entry: EntryJson<'a>,
    }
    serde_json::to_value(Numbered { seq, entry: to_json(e) }).unwrap_or_default()
}

/// The journal as JSON lines.
pub fn to_jsonl(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&entry(e));
        out.push('\n');
    }
    out
}
