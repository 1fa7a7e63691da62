//! The JSON forms of the range's journal and score (the pure crates derive no `Serialize`).
//!
//! `journal.jsonl` holds one object per line, `kind` first, `t` in simulated seconds. The
//! start entry carries `format` (`range::journal::FORMAT_VERSION`). Kinds and their fields:
//!
//! - `start`: `format`, `exercise`, `seed`, `defender`, `base`, `start_ms_since_2000` (the
//!   devices' clock at simulated time 0), `demand_mw`, `customers`.
//! - `grid`: `event` (open, close, shed, island_split, ...), `element` (`branch 12`, `gen 3`,
//!   `load 5`, `island 117`), `cause`, and `mw`, `customers` where they apply.
//! - `supply`: `served_mw`, `demand_mw`, `customers_off`, `ens_mwh`, and the frequency: `f_hz`
//!   (the main island's now, 0 in a blackout), `f_min_hz` and `f_max_hz` (its extremes since the
//!   last sample, energised parts; 0 when nothing was energised) (every minute).
//! - `attack`, `attack_prevented`, `it` (`event`, `host`, `account`, `src`: where the activity
//!   came from, `artefact`): the campaign (instructors' view only).
//! - `command`: `protocol`, `src`, `dst`, `station`, `operation` (typed: `{"op": "breaker",
//!   "ioa", "close", "select"}` ...), `detail` (the same, for people), `by` (operator,
//!   attacker, hijack, external), `step`, `outcome` (confirmed, refused, accepted,
//!   `exception 04`, `crob status 7`, sent, `swept 3`, no answer, blocked, unreachable,
//!   `no session`, `no device`), `frames` (first and last capture frame of the exchange).
//! - `hmi`: an operator's command in the HMI: `actor`, `station`, `ioa`, `close`.
//! - `device`: `device`, `addr`, `change`.
//! - `alert`: `rule`, `techniques`, `src`, `dst`, `evidence` (capture frames), `message`.
//! - `act` (an input, unless its actor is the scripted defender): `actor` (`{"kind": "user",
//!   "team", "user", "role"}`, `{"kind": "instructor", "name"}`, `{"kind": "defender",
//!   "name"}`), `action` (`{"do": "operate", "station", "ioa", "close"}`, `{"do": "block",
//!   "host"}`, `{"do": "fire_inject", "inject"}` ...), `outcome` (`{"result": "accepted"}`,
//!   `{"result": "refused", "reason"}`, `{"result": "hint", "text", "cost"}`, `{"result":
//!   "verdict", "correct"}`, `{"result": "command", "outcome"}`, `{"result": "reclose",
//!   "commanded", "crews"}`).
//! - `live` (an input): `event` `open` (`client`, `server`, and `conn`, the id given, or
//!   null when refused), `data` (`conn`, `hex`: the bytes), `close` (`conn`).
//! - `crew`, `inject`, `answer`, `hint`, `report`, `end`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use exercise::{CommandPoint, DefenderAction, Offset};
use gridsim::sim::SimTime;
use range::journal::{Action, Actor, Entry, Input, Live, Operation, Outcome, Role};
use range::score::Score;
use serde::{Deserialize, Serialize};

/// Seconds, as the journal prints them (exact for whole microseconds).
fn secs(t: SimTime) -> f64 {
    t.0 as f64 / 1e6
}

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
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActorJson {
    User { team: String, user: String, role: String },
    Instructor { name: String },
    Defender { name: String },
    Attacker,
}

pub fn actor(a: &Actor) -> ActorJson {
    match a {
        Actor::User { team, user, role } => {
            ActorJson::User { team: team.clone(), user: user.clone(), role: role.as_str().into() }
        }
        Actor::Instructor { name } => ActorJson::Instructor { name: name.clone() },
        Actor::Defender { name } => ActorJson::Defender { name: name.clone() },
        Actor::Attacker => ActorJson::Attacker,
    }
}

pub fn actor_from(a: ActorJson) -> Result<Actor, String> {
    Ok(match a {
        ActorJson::User { team, user, role } => Actor::User {
            team,
            user,
            role: Role::parse(&role).ok_or_else(|| format!("unknown role `{role}`"))?,
        },
        ActorJson::Instructor { name } => Actor::Instructor { name },
        ActorJson::Defender { name } => Actor::Defender { name },
        ActorJson::Attacker => Actor::Attacker,
    })
}

/// An action's JSON form (`do` names it), for the journal and for clients that send them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum ActionJson {
    Operate {
        station: u16,
        ioa: u32,
        close: bool,
    },
    CloseOpened,
    DispatchCrew {
        station: u16,
        ioa: u32,
        close: bool,
    },
    Block {
        host: String,
    },
    DisableAccount {
        account: String,
    },
    Clean {
        host: String,
    },
    RestoreFirmware {
        substation: String,
    },
    UpsOn {
        substation: String,
    },
    AckAlarms,
    Pump {
        pump: String,
        run: bool,
    },
    Valve {
        valve: String,
        open: bool,
    },
    /// `key`: run, program or remote.
    SisKey {
        key: String,
    },
    SisRestore,
    Local {
        device: String,
    },
    Reboot {
        device: String,
    },
    Hint {
        question: String,
        index: usize,
    },
    Answer {
        question: String,
        value: String,
    },
    Report {
        text: String,
    },
    FireInject {
        inject: String,
    },
    SkipStep {
        step: String,
    },
    TriggerStep {
        step: String,
    },
    Pause,
    Resume,
    Speed {
        factor: Option<f64>,
    },
}

pub fn action(a: &Action) -> ActionJson {
    match a {
        Action::Defend(d) => match d {
            DefenderAction::Operate { point, close } => {
                ActionJson::Operate { station: point.station, ioa: point.ioa, close: *close }
            }
            DefenderAction::CloseOpened => ActionJson::CloseOpened,
            DefenderAction::DispatchCrew { point, close } => {
                ActionJson::DispatchCrew { station: point.station, ioa: point.ioa, close: *close }
            }
            DefenderAction::Block { host } => ActionJson::Block { host: host.clone() },
            DefenderAction::DisableAccount { account } => {
                ActionJson::DisableAccount { account: account.clone() }
            }
            DefenderAction::Clean { host } => ActionJson::Clean { host: host.clone() },
            DefenderAction::RestoreFirmware { substation } => {
                ActionJson::RestoreFirmware { substation: substation.clone() }
            }
            DefenderAction::UpsOn { substation } => ActionJson::UpsOn { substation: substation.clone() },
            DefenderAction::AckAlarms => ActionJson::AckAlarms,
            DefenderAction::Pump { pump, run } => ActionJson::Pump { pump: pump.clone(), run: *run },
            DefenderAction::Valve { valve, open } => ActionJson::Valve { valve: valve.clone(), open: *open },
            DefenderAction::SisKey { key } => ActionJson::SisKey { key: key.name().to_lowercase() },
            DefenderAction::SisRestore => ActionJson::SisRestore,
            DefenderAction::Local { device } => {
                ActionJson::Local { device: format!("{}.{}", device.0, device.1) }
            }
            DefenderAction::Reboot { device } => {
                ActionJson::Reboot { device: format!("{}.{}", device.0, device.1) }
            }
            DefenderAction::Hint { question, index } => {
                ActionJson::Hint { question: question.clone(), index: *index }
            }
            DefenderAction::AnswerQuestion { question, value } => {
                ActionJson::Answer { question: question.clone(), value: value.clone() }
            }
            DefenderAction::Report { text } => ActionJson::Report { text: text.clone() },
        },
        Action::FireInject { inject } => ActionJson::FireInject { inject: inject.clone() },
        Action::SkipStep { step } => ActionJson::SkipStep { step: step.clone() },
        Action::TriggerStep { step } => ActionJson::TriggerStep { step: step.clone() },
        Action::Pause => ActionJson::Pause,
        Action::Resume => ActionJson::Resume,
        Action::Speed { factor } => ActionJson::Speed { factor: *factor },
    }
}

/// A device's address offset, `x.y`.
fn offset(device: &str) -> Result<Offset, String> {
    let bad = || format!("device `{device}`: an offset such as 2.7");
    let (a, b) = device.split_once('.').ok_or_else(bad)?;
    Ok(Offset(a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

pub fn action_from(a: ActionJson) -> Result<Action, String> {
    let d = |d: DefenderAction| Action::Defend(d);
    Ok(match a {
        ActionJson::Operate { station, ioa, close } => {
            d(DefenderAction::Operate { point: CommandPoint { station, ioa }, close })
        }
        ActionJson::CloseOpened => d(DefenderAction::CloseOpened),
        ActionJson::DispatchCrew { station, ioa, close } => {
            d(DefenderAction::DispatchCrew { point: CommandPoint { station, ioa }, close })
        }
        ActionJson::Block { host } => d(DefenderAction::Block { host }),
        ActionJson::DisableAccount { account } => d(DefenderAction::DisableAccount { account }),
        ActionJson::Clean { host } => d(DefenderAction::Clean { host }),
        ActionJson::RestoreFirmware { substation } => d(DefenderAction::RestoreFirmware { substation }),
        ActionJson::UpsOn { substation } => d(DefenderAction::UpsOn { substation }),
        ActionJson::AckAlarms => d(DefenderAction::AckAlarms),
        ActionJson::Pump { pump, run } => d(DefenderAction::Pump { pump, run }),
        ActionJson::Valve { valve, open } => d(DefenderAction::Valve { valve, open }),
        ActionJson::SisKey { key } => d(DefenderAction::SisKey {
            key: match key.as_str() {
                "run" => pipesim::sis::KeySwitch::Run,
                "program" => pipesim::sis::KeySwitch::Program,
                "remote" => pipesim::sis::KeySwitch::Remote,
                other => return Err(format!("key `{other}`: run, program or remote")),
            },
        }),
        ActionJson::SisRestore => d(DefenderAction::SisRestore),
        ActionJson::Local { device } => d(DefenderAction::Local { device: offset(&device)? }),
        ActionJson::Reboot { device } => d(DefenderAction::Reboot { device: offset(&device)? }),
        ActionJson::Hint { question, index } => d(DefenderAction::Hint { question, index }),
        ActionJson::Answer { question, value } => d(DefenderAction::AnswerQuestion { question, value }),
        ActionJson::Report { text } => d(DefenderAction::Report { text }),
        ActionJson::FireInject { inject } => Action::FireInject { inject },
        ActionJson::SkipStep { step } => Action::SkipStep { step },
        ActionJson::TriggerStep { step } => Action::TriggerStep { step },
        ActionJson::Pause => Action::Pause,
        ActionJson::Resume => Action::Resume,
        ActionJson::Speed { factor } => Action::Speed { factor },
    })
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OutcomeJson {
    Accepted,
    Refused { reason: String },
    Hint { text: String, cost: f64 },
    Verdict { correct: bool },
    Command { outcome: String },
    Reclose { commanded: u32, crews: u32 },
}

pub fn outcome(o: &Outcome) -> OutcomeJson {
    match o {
        Outcome::Accepted => OutcomeJson::Accepted,
        Outcome::Refused(reason) => OutcomeJson::Refused { reason: reason.clone() },
        Outcome::Hint { text, cost } => OutcomeJson::Hint { text: text.clone(), cost: *cost },
        Outcome::Verdict { correct } => OutcomeJson::Verdict { correct: *correct },
        Outcome::Command(d) => OutcomeJson::Command { outcome: d.describe() },
        Outcome::Reclose { commanded, crews } => {
            OutcomeJson::Reclose { commanded: *commanded, crews: *crews }
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
enum LiveJson {
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

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16).map_err(|_| format!("bad hex at {i}"))
        })
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
            t: secs(*t),
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
            t: secs(event.t),
            event: event.kind.as_str(),
            element: event.element.to_string(),
            cause: event.cause.as_str(),
            mw: event.mw,
            customers: event.customers,
        },
        Entry::Supply { t, served_mw, demand_mw, customers_off, ens_mwh, f_hz, f_min_hz, f_max_hz } => {
            EntryJson::Supply {
                t: secs(*t),
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
            t: secs(*t),
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
            t: secs(*t),
            event: kind,
            subject,
            pressure_kpa: *pressure_kpa,
            by_sis: *by_sis,
            what,
        },
        Entry::Attack { t, step, name, kind, techniques, on_wire } => {
            EntryJson::Attack { t: secs(*t), step, name, action: kind, techniques, on_wire: *on_wire }
        }
        Entry::AttackPrevented { t, step, reason } => {
            EntryJson::AttackPrevented { t: secs(*t), step, reason }
        }
        Entry::It { t, step, event, host, account, src, artefact } => EntryJson::It {
            t: secs(*t),
            step,
            event,
            host,
            account: account.as_deref(),
            src: src.map(|a| a.to_string()),
            artefact,
        },
        Entry::Command { t, protocol, src, dst, station, operation: op, by, step, outcome, frames } => {
            EntryJson::Command {
                t: secs(*t),
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
            t: secs(*t),
            actor: actor(a),
            station: point.station,
            ioa: point.ioa,
            close: *close,
        },
        Entry::Device { t, device, addr, change } => {
            EntryJson::Device { t: secs(*t), device, addr: addr.to_string(), change: change.describe() }
        }
        Entry::Alert { alert } => EntryJson::Alert {
            t: secs(alert.t),
            rule: alert.rule,
            techniques: alert.techniques,
            src: alert.src.to_string(),
            dst: alert.dst.to_string(),
            evidence: &alert.evidence,
            message: &alert.message,
        },
        Entry::Act { t, actor: a, action: x, outcome: o } => {
            EntryJson::Act { t: secs(*t), actor: actor(a), action: action(x), outcome: outcome(o) }
        }
        Entry::Live { t, live, conn } => EntryJson::Live {
            t: secs(*t),
            live: match live {
                Live::Open { client, server } => {
                    LiveJson::Open { client: *client, server: *server, conn: *conn }
                }
                Live::Data { conn, bytes } => LiveJson::Data { conn: *conn, hex: hex(bytes) },
                Live::Close { conn } => LiveJson::Close { conn: *conn },
            },
        },
        Entry::Crew { t, point, close, status } => EntryJson::Crew {
            t: secs(*t),
            station: point.station,
            ioa: point.ioa,
            close: *close,
            status: status.describe(),
        },
        Entry::Inject { t, id, channel, from, subject } => {
            EntryJson::Inject { t: secs(*t), id, channel, from, subject }
        }
        Entry::Answer { t, question, value } => EntryJson::Answer { t: secs(*t), question, value },
        Entry::Hint { t, question, index, cost, text } => {
            EntryJson::Hint { t: secs(*t), question, index: *index, cost: *cost, text }
        }
        Entry::Report { t, text } => EntryJson::Report { t: secs(*t), text },
        Entry::End { t } => EntryJson::End { t: secs(*t) },
    }
}

/// One entry as a JSON line (without the newline).
pub fn entry(e: &Entry) -> String {
    // Entries hold only strings, numbers, lists and finite floats: serialising cannot fail.
    serde_json::to_string(&to_json(e)).unwrap_or_default()
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

/// What the start entry of a journal says, for a replay to rebuild the run.
#[derive(Debug, Clone, PartialEq)]
pub struct StartInfo {
    pub format: u32,
    pub exercise: String,
    pub seed: u64,
    pub defender: String,
    pub base: Ipv4Addr,
    pub start_ms_since_2000: u64,
}

#[derive(Deserialize)]
struct StartLine {
    kind: String,
    format: Option<u32>,
    exercise: String,
    seed: u64,
    defender: String,
    base: Ipv4Addr,
    start_ms_since_2000: u64,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum InputLine {
    Act {
        t: f64,
        actor: ActorJson,
        action: ActionJson,
    },
    Live {
        t: f64,
        #[serde(flatten)]
        live: LiveJson,
    },
}

/// A journal read back for a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub start: StartInfo,
    /// The inputs, each with the instant it was applied.
    pub inputs: Vec<(SimTime, Input)>,
    /// When the run ended (its end entry), if it did.
    pub end: Option<SimTime>,
}

/// Reads a journal back for a replay: the start entry, the inputs and the end. Errors name
/// the line.
pub fn read_inputs(jsonl: &str) -> Result<Recorded, String> {
    let mut lines = jsonl.lines().enumerate();
    let (_, first) = lines.next().ok_or("an empty journal")?;
    let start: StartLine = serde_json::from_str(first).map_err(|e| format!("line 1: {e}"))?;
    if start.kind != "start" {
        return Err("line 1: the journal does not begin with its start entry".into());
    }
    let info = StartInfo {
        format: start.format.unwrap_or(1),
        exercise: start.exercise,
        seed: start.seed,
        defender: start.defender,
        base: start.base,
        start_ms_since_2000: start.start_ms_since_2000,
    };
    if info.format != range::journal::FORMAT_VERSION {
        return Err(format!(
            "line 1: journal format {}, this build reads {}",
            info.format,
            range::journal::FORMAT_VERSION
        ));
    }
    let mut inputs = Vec::new();
    let mut end = None;
    for (i, line) in lines {
        let at_line = |e: String| format!("line {}: {e}", i + 1);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| at_line(e.to_string()))?;
        let scripted = v["actor"]["kind"] == "defender";
        match v["kind"].as_str() {
            Some("end") => end = v["t"].as_f64().map(SimTime::from_secs),
            Some("live") => {}
            Some("act") if !scripted => {}
            _ => continue,
        }
        if end.is_some() {
            continue;
        }
        let parsed: InputLine = serde_json::from_value(v).map_err(|e| at_line(e.to_string()))?;
        inputs.push(match parsed {
            InputLine::Act { t, actor, action } => (
                SimTime::from_secs(t),
                Input::Act {
                    actor: actor_from(actor).map_err(at_line)?,
                    action: action_from(action).map_err(at_line)?,
                },
            ),
            InputLine::Live { t, live } => (
                SimTime::from_secs(t),
                Input::Live(match live {
                    LiveJson::Open { client, server, .. } => Live::Open { client, server },
                    LiveJson::Data { conn, hex } => Live::Data { conn, bytes: unhex(&hex).map_err(at_line)? },
                    LiveJson::Close { conn } => Live::Close { conn },
                }),
            ),
        });
    }
    Ok(Recorded { start: info, inputs, end })
}

#[derive(Serialize)]
struct ScoreJson<'a> {
    total: f64,
    components: &'a BTreeMap<String, f64>,
    penalties: f64,
    ens_mwh: f64,
    customers_off_peak: u64,
    time_to_detect_s: &'a BTreeMap<String, Option<f64>>,
    detected_by: &'a BTreeMap<String, Vec<String>>,
    restored_at_s: Option<f64>,
    withdrawn: &'a [String],
    /// A pipeline exercise's physical outcome (absent for a grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<LineJson>,
}

#[derive(Serialize)]
struct LineJson {
    nominated_m3: f64,
    delivered_m3: f64,
    not_delivered_m3: f64,
    released_m3: f64,
    relieved_m3: f64,
    overpressure_events: u32,
    ruptures: u32,
    relief_lifts: u32,
    leak_alarms: u32,
    sis_trips: u32,
}

/// The score as pretty JSON (`score.json`).
pub fn score(s: &Score) -> String {
    let j = ScoreJson {
        total: s.total,
        components: &s.components,
        penalties: s.penalties,
        ens_mwh: s.ens_mwh,
        customers_off_peak: s.customers_off_peak,
        time_to_detect_s: &s.time_to_detect_s,
        detected_by: &s.detected_by,
        restored_at_s: s.restored_at_s,
        withdrawn: &s.withdrawn,
        line: s.line.as_ref().map(|l| LineJson {
            nominated_m3: l.nominated_m3,
            delivered_m3: l.delivered_m3,
            not_delivered_m3: l.not_delivered_m3,
            released_m3: l.released_m3,
            relieved_m3: l.relieved_m3,
            overpressure_events: l.overpressure_events,
            ruptures: l.ruptures,
            relief_lifts: l.relief_lifts,
            leak_alarms: l.leak_alarms,
            sis_trips: l.sis_trips,
        }),
    };
    serde_json::to_string_pretty(&j).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip_through_their_json_form() {
        let entries = vec![
            Entry::Start {
                t: SimTime(0),
                format: range::journal::FORMAT_VERSION,
                exercise: "x".into(),
                seed: 3,
                defender: "none".into(),
                base: Ipv4Addr::new(127, 10, 0, 0),
                start_ms_since_2000: 0,
                demand_mw: 1.0,
                customers: 2,
            },
            Entry::Act {
                t: SimTime(1_500_000),
                actor: Actor::User { team: "blue".into(), user: "ana".into(), role: Role::Operator },
                action: Action::Defend(DefenderAction::Local { device: Offset(2, 7) }),
                outcome: Outcome::Accepted,
            },
            Entry::Act {
                t: SimTime(2_000_000),
                actor: Actor::Defender { name: "good".into() },
                action: Action::Defend(DefenderAction::AckAlarms),
                outcome: Outcome::Accepted,
            },
            Entry::Live {
                t: SimTime(2_100_000),
                live: Live::Data { conn: 4, bytes: vec![0, 1, 0xfe, 0xff] },
                conn: None,
            },
        ];
        let Recorded { start: info, inputs, end } =
            read_inputs(&to_jsonl(&entries)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.seed, 3);
        assert_eq!(end, None, "a journal without its end entry");
        // The scripted defender's act is not an input: the run's configuration replays it.
        let want: Vec<_> = entries.iter().filter_map(Entry::input).collect();
        assert_eq!(want.len(), 2);
        assert_eq!(inputs, want);
    }
}
