//! The journal: an append-only record of everything that happened in a run. Scores,
//! timelines, alerts files and reports are derived from it and nothing else.
//!
//! Entries hold typed values (simulated time, `Element`, addresses, actor, operation,
//! outcome, step and question ids); every reader decides on those, never on text. The JSON
//! form of an entry lives in a shell crate (`netio::json`), documented there; the start
//! entry carries `FORMAT_VERSION`.
//!
//! Inputs (what came from outside: actions, instructor controls, bytes on a live connection)
//! are entries too, at the instant they were applied: `Entry::input` gives them back, and
//! replaying them on the same exercise and seed rebuilds the same journal.

use std::net::{Ipv4Addr, SocketAddrV4};

use exercise::{CommandPoint, DefenderAction};
use gridsim::sim::SimTime;

/// The version of the journal's format, in the start entry. Bumped when an entry changes.
pub const FORMAT_VERSION: u32 = 5;

/// A trainee's role in a team: what they may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Operates the grid: breakers, crews, UPSs, local/remote switches.
    Operator,
    /// Security: firewall blocks, accounts, firmware.
    Analyst,
    /// Everything a team may do.
    Lead,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Analyst => "analyst",
            Role::Lead => "lead",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Operator, Role::Analyst, Role::Lead].into_iter().find(|r| r.as_str() == s)
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    /// A user of a team, with a role.
    User { team: String, user: String, role: Role },
    /// An instructor of the course.
    Instructor { name: String },
    /// The exercise's scripted defender, by its name.
    Defender { name: String },
    /// The attack campaign.
    Attacker,
}

/// Who sent a protocol command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// An operator through the HMI and the SCADA master.
    Operator,
    /// The attacker, from its own address.
    Attacker,
    /// The attacker through the HMI's own session (Ukraine 2015).
    Hijack,
    /// A live connection from outside the range (a trainee's tool, anyone on the network).
    External,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Operator => "operator",
            Sender::Attacker => "attacker",
            Sender::Hijack => "hijack",
            Sender::External => "external",
        }
    }

    /// The attack campaign's own commands.
    pub fn is_attack(self) -> bool {
        matches!(self, Sender::Attacker | Sender::Hijack)
    }
}

/// The protocol a command used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Iec104,
    Modbus,
    Dnp3,
    Http,
    /// A UDP datagram (the SIPROTEC relay's service on port 50000).
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Iec104 => "iec104",
            Protocol::Modbus => "modbus",
            Protocol::Dnp3 => "dnp3",
            Protocol::Http => "http",
            Protocol::Udp => "udp",
        }
    }
}

/// What a command asked of a device.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// IEC 104 C_DC_NA_1 on a breaker: open or close, select-before-operate or direct.
    Breaker { ioa: u32, close: bool, select: bool },
    /// IEC 104 C_SE_NC_1: a set point.
    Setpoint { ioa: u32, value: f32, select: bool },
    /// IEC 104 C_SC_NA_1 (single command) on a point.
    Single { ioa: u32, on: bool, select: bool },
    /// A select sweep over a range of IOAs.
    Sweep { double: bool, first: u32, last: u32 },
    /// One toggle round over the IOAs a sweep found.
    Toggle { round: u32, double: bool, on: bool },
    /// DNP3 DIRECT_OPERATE CROB on a feeder's recloser.
    Crob { feeder: u32, close: bool },
    /// DNP3 CROB on a line RTU's valve (its index at the site): open or close.
    Valve { index: u16, open: bool },
    /// Modbus FC 20: a program (file) read from a controller.
    ProgramRead { file: u16, records: u16 },
    /// Modbus FC 21: records written into a controller's program file.
    ProgramWrite { file: u16, records: u16 },
    /// Modbus FC 5 on a coil.
    WriteCoil { coil: u16, value: bool },
    /// Modbus FC 6, 15, 16 or 23 (writes other than one coil).
    Write { function: u8, address: u16, count: u16 },
    /// Modbus FC 8/1: restart communications.
    Restart,
    /// A firmware upload over HTTP.
    Firmware,
    /// A UDP datagram to a relay's port 50000 (`dos`: the CVE-2015-5374 packet).
    Datagram { port: u16, bytes: u16, dos: bool },
    /// IEC 104 C_IC_NA_1, a station interrogation (a configured attack sequence's first step).
    Interrogation,
}

/// The device's answer to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// IEC 104 positive activation confirmation.
    Confirmed,
    /// IEC 104 negative confirmation (refused by the device).
    Refused,
    /// A normal response (Modbus, HTTP 200).
    Accepted,
    /// A Modbus exception, with its code.
    Exception(u8),
    /// A DNP3 CROB status (0: success).
    CrobStatus(u8),
    /// Sent; no confirmation is read back.
    Sent,
    /// A sweep: how many IOAs answered positively.
    Swept(u32),
    NoAnswer,
    /// The range firewall dropped the connection.
    Blocked,
    /// The device does not answer (dark, bricked, unpowered).
    Unreachable,
    /// The SCADA master has no session to the station.
    NoSession,
    /// No device at that address.
    NoDevice,
}

impl Delivery {
    /// The device carried it out.
    pub fn done(self) -> bool {
        matches!(self, Delivery::Confirmed | Delivery::Accepted | Delivery::CrobStatus(0))
    }
}

/// Why a device changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChange {
    FirmwareCorrupt,
    FirmwareRestored,
    Local,
    /// The SCADA master's host was wiped: loss of view and control.
    Wiped,
    /// A process killed on a host; on the SCADA master's, its communication service: loss of
    /// view and control.
    ServiceStopped,
    /// A relay hung by a denial-of-service packet: it answers nothing and its protection is
    /// out of service until rebooted by hand.
    Hung,
    /// Rebooted by a crew on site: it answers again, its protection back in service.
    Rebooted,
}

/// A crew's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrewStatus {
    /// Sent; on site at the time given.
    Dispatched {
        on_site: SimTime,
    },
    OperatedByHand,
    CouldNotOperate,
    NoSuchBreaker,
}

/// Something an actor asks of the range: a defender's action, or an instructor's control.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A team's action (the exercise's defender vocabulary: operate, block, hint, answer...).
    Defend(DefenderAction),
    /// Fire an inject now (an instructor).
    FireInject {
        inject: String,
    },
    /// Skip a campaign step that has not started (an instructor).
    SkipStep {
        step: String,
    },
    /// Start a campaign step now (an instructor).
    TriggerStep {
        step: String,
    },
    /// Pause, resume or change the pace of the run (an instructor; the driver does the
    /// pacing, the journal keeps the record).
    Pause,
    Resume,
    Speed {
        factor: Option<f64>,
    },
}

/// What a pipeline event or a safety system SOE entry is (`Entry::Pipe`); its journal name
/// is `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PipeKind {
    ColumnSeparation,
    LeakAlarm,
    LeakOpened,
    Overpressure,
    OverpressureCleared,
    PumpStarted,
    PumpStopped,
    PumpTripped,
    ReliefLifted,
    ReliefReseated,
    Rupture,
    SisBack,
    SisBeyond,
    SisBypass,
    SisDemandBypassed,
    SisDownload,
    SisFault,
    SisKey,
    SisReset,
    SisTransmitter,
    SisTrip,
    ValveClosed,
    ValveMoving,
    ValveOpened,
}

impl PipeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PipeKind::ColumnSeparation => "column_separation",
            PipeKind::LeakAlarm => "leak_alarm",
            PipeKind::LeakOpened => "leak_opened",
            PipeKind::Overpressure => "overpressure",
            PipeKind::OverpressureCleared => "overpressure_cleared",
            PipeKind::PumpStarted => "pump_started",
            PipeKind::PumpStopped => "pump_stopped",
            PipeKind::PumpTripped => "pump_tripped",
            PipeKind::ReliefLifted => "relief_lifted",
            PipeKind::ReliefReseated => "relief_reseated",
            PipeKind::Rupture => "rupture",
            PipeKind::SisBack => "sis_back",
            PipeKind::SisBeyond => "sis_beyond",
            PipeKind::SisBypass => "sis_bypass",
            PipeKind::SisDemandBypassed => "sis_demand_bypassed",
            PipeKind::SisDownload => "sis_download",
            PipeKind::SisFault => "sis_fault",
            PipeKind::SisKey => "sis_key",
            PipeKind::SisReset => "sis_reset",
            PipeKind::SisTransmitter => "sis_transmitter",
            PipeKind::SisTrip => "sis_trip",
            PipeKind::ValveClosed => "valve_closed",
            PipeKind::ValveMoving => "valve_moving",
            PipeKind::ValveOpened => "valve_opened",
        }
    }
}

impl Action {
    /// Whether the action controls the exercise (an instructor's), rather than plays it.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Action::FireInject { .. }
                | Action::SkipStep { .. }
                | Action::TriggerStep { .. }
                | Action::Pause
                | Action::Resume
                | Action::Speed { .. }
        )
    }
}

/// What came of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Accepted,
    /// Refused, with the reason; nothing changed.
    Refused(String),
    /// A hint's text and what it costs.
    Hint {
        text: String,
        cost: f64,
    },
    /// An answer's verdict (never the right answer).
    Verdict {
        correct: bool,
    },
    /// A breaker command: how the station answered.
    Command(Delivery),
    /// Re-closing what was opened: breakers commanded, crews sent.
    Reclose {
        commanded: u32,
        crews: u32,
    },
}

/// A connection from outside the range, by the id the range gave it.
pub type ConnId = u32;

/// What arrives on a live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// A client connected to a device's listener.
    Open { client: SocketAddrV4, server: SocketAddrV4 },
    /// Bytes from the client.
    Data { conn: ConnId, bytes: Vec<u8> },
    /// The client closed (or the shell gave up on it).
    Close { conn: ConnId },
}

/// Everything from outside a run; a run is a pure function of (exercise, seed, inputs).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Act { actor: Actor, action: Action },
    Live(Live),
}

/// One journal entry; `t` is simulated time since the start.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Start {
        t: SimTime,
        format: u32,
        exercise: String,
        seed: u64,
        defender: String,
        base: Ipv4Addr,
        start_ms_since_2000: u64,
        demand_mw: f64,
        customers: u64,
    },
    /// A physical event of the grid (breaker moved, island, blackout, shedding...).
    Grid {
        event: gridsim::sim::Event,
    },
    /// Supply, sampled every minute, with the frequency: now (the main island's, 0 in a
    /// blackout) and its extremes since the last sample (energised parts; 0 when nothing was
    /// energised in between; the frequency now at the first sample).
    Supply {
        t: SimTime,
        served_mw: f64,
        demand_mw: f64,
        customers_off: u64,
        ens_mwh: f64,
        f_hz: f64,
        f_min_hz: f64,
        f_max_hz: f64,
    },
    /// The pipeline, sampled every minute (with the supply): the line's ends, the totals
    /// so far, and the highest pressure against its segment's MAOP since the start.
    Line {
        t: SimTime,
        flow_in_m3h: f64,
        flow_out_m3h: f64,
        delivered_m3: f64,
        /// The nomination's volume so far, and what of it was not delivered.
        nominated_m3: f64,
        not_delivered_m3: f64,
        released_m3: f64,
        relieved_m3: f64,
        /// Highest pressure over MAOP of any segment since the start.
        peak_maop_ratio: f64,
        /// Each joint's outlet pressure, kPa, in order of flow.
        pressures_kpa: Vec<f64>,
    },
    /// A physical event of the pipeline or an entry of its safety system's sequence-of-events
    /// log: `kind` names it (`overpressure`, `rupture`, `relief_lifted`, `pump_tripped`,
    /// `leak_alarm`, `sis_trip`, `sis_download`, `sis_fault`, `sis_key`...), `what` says it.
    Pipe {
        t: SimTime,
        kind: PipeKind,
        /// The segment, pump, valve, relief or safety function's tag it is about.
        subject: String,
        /// A pressure it carries, kPa.
        pressure_kpa: Option<f64>,
        /// The safety system did it.
        by_sis: bool,
        what: String,
    },
    /// An attack step begins.
    Attack {
        t: SimTime,
        step: String,
        name: String,
        kind: &'static str,
        techniques: Vec<String>,
        on_wire: bool,
    },
    /// An attack step does not happen, and why.
    AttackPrevented {
        t: SimTime,
        step: String,
        reason: String,
    },
    /// IT-side activity and the log artefact it leaves.
    It {
        t: SimTime,
        step: String,
        event: String,
        host: String,
        account: Option<String>,
        /// Where the activity came from (a VPN login's source address).
        src: Option<Ipv4Addr>,
        /// The log line, addresses filled in.
        artefact: String,
    },
    /// A protocol command on the wire, with its source and who sent it.
    Command {
        t: SimTime,
        protocol: Protocol,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        /// The IEC 104 station (common address) a command went to.
        station: Option<u16>,
        operation: Operation,
        by: Sender,
        /// The attack step it belongs to.
        step: Option<String>,
        outcome: Delivery,
        /// The capture frames of the exchange, first and last (none when nothing was sent).
        frames: Option<(u64, u64)>,
    },
    /// An operator's command in the HMI (the HMI journal the correlation rule reads).
    Hmi {
        t: SimTime,
        actor: Actor,
        point: CommandPoint,
        close: bool,
    },
    /// A device's state changed.
    Device {
        t: SimTime,
        device: String,
        addr: Ipv4Addr,
        change: DeviceChange,
    },
    Alert {
        alert: ids::Alert,
    },
    /// An actor's action and its outcome. Every action but a scripted defender's (which the
    /// run's configuration replays by itself) is an input.
    Act {
        t: SimTime,
        actor: Actor,
        action: Action,
        outcome: Outcome,
    },
    /// What arrived on a live connection: an input. `conn` is the id the range gave the
    /// connection (none: refused at open).
    Live {
        t: SimTime,
        live: Live,
        conn: Option<ConnId>,
    },
    Crew {
        t: SimTime,
        point: CommandPoint,
        close: bool,
        status: CrewStatus,
    },
    Inject {
        t: SimTime,
        id: String,
        channel: String,
        from: String,
        subject: String,
    },
    Answer {
        t: SimTime,
        question: String,
        value: String,
    },
    /// A hint taken (its cost comes off the question's points).
    Hint {
        t: SimTime,
        question: String,
        index: usize,
        cost: f64,
        text: String,
    },
    Report {
        t: SimTime,
        text: String,
    },
    End {
        t: SimTime,
    },
}

impl Entry {
    pub fn t(&self) -> SimTime {
        match self {
            Entry::Grid { event } => event.t,
            Entry::Alert { alert } => alert.t,
            Entry::Start { t, .. }
            | Entry::Supply { t, .. }
            | Entry::Line { t, .. }
            | Entry::Pipe { t, .. }
            | Entry::Attack { t, .. }
            | Entry::AttackPrevented { t, .. }
            | Entry::It { t, .. }
            | Entry::Command { t, .. }
            | Entry::Hmi { t, .. }
            | Entry::Device { t, .. }
            | Entry::Act { t, .. }
            | Entry::Live { t, .. }
            | Entry::Crew { t, .. }
            | Entry::Inject { t, .. }
            | Entry::Answer { t, .. }
            | Entry::Hint { t, .. }
            | Entry::Report { t, .. }
            | Entry::End { t } => *t,
        }
    }

    /// The input it records, if it is one, with the time it was applied.
    pub fn input(&self) -> Option<(SimTime, Input)> {
        match self {
            Entry::Act { t, actor, action, .. } if !matches!(actor, Actor::Defender { .. }) => {
                Some((*t, Input::Act { actor: actor.clone(), action: action.clone() }))
            }
            Entry::Live { t, live, .. } => Some((*t, Input::Live(live.clone()))),
            _ => None,
        }
    }
}

impl Operation {
    /// The operation in words, for people (the journal's `detail` field, the report).
    pub fn describe(&self) -> String {
        let dc = |double: bool| if double { "C_DC_NA_1" } else { "C_SC_NA_1" };
        match *self {
            Operation::Breaker { ioa, close, select } => format!(
                "C_DC_NA_1 {} IOA {ioa}{}",
                if close { "close" } else { "open" },
                if select { "" } else { " (direct execute)" }
            ),
            Operation::Setpoint { ioa, value, .. } => format!("C_SE_NC_1 IOA {ioa} = {value}"),
            Operation::Single { ioa, on, .. } => {
                format!("C_SC_NA_1 {} IOA {ioa}", if on { "on" } else { "off" })
            }
            Operation::Sweep { double, first, last } => {
                format!("{} select sweep of IOAs {first}..{last}", dc(double))
            }
            Operation::Toggle { round, double, on } => {
                format!("toggle round {round}: {} {}", dc(double), if on { "on" } else { "off" })
            }
            Operation::Crob { feeder, close } => {
                format!(
                    "DIRECT_OPERATE CROB {} feeder {feeder}",
                    if close { "LATCH_ON" } else { "LATCH_OFF" }
                )
            }
            Operation::Valve { index, open } => {
                format!("CROB {} valve {index}", if open { "LATCH_ON (open)" } else { "LATCH_OFF (close)" })
            }
            Operation::ProgramRead { file, records } => format!("FC 20 read file {file}, {records} records"),
            Operation::ProgramWrite { file, records } => {
                format!("FC 21 write file {file}, {records} records")
            }
            Operation::WriteCoil { coil, value } => format!("FC 5 coil {coil} = {}", u8::from(value)),
            Operation::Write { function, address, count } => {
                format!("FC {function} at {address}, {count} values")
            }
            Operation::Restart => "FC 8/1 restart communications".into(),
            Operation::Firmware => "firmware upload".into(),
            Operation::Datagram { port, bytes, dos } => format!(
                "UDP datagram to port {port}, {bytes} bytes{}",
                if dos { " (the CVE-2015-5374 packet)" } else { "" }
            ),
            Operation::Interrogation => "C_IC_NA_1 general interrogation".into(),
        }
    }
}

impl Delivery {
    /// The answer in words (the journal's `outcome` field of a command).
    pub fn describe(self) -> String {
        match self {
            Delivery::Confirmed => "confirmed".into(),
            Delivery::Refused => "refused".into(),
            Delivery::Accepted => "accepted".into(),
            Delivery::Exception(c) => format!("exception {c:02x}"),
            Delivery::CrobStatus(s) => format!("crob status {s}"),
            Delivery::Sent => "sent".into(),
            Delivery::Swept(n) => format!("swept {n}"),
            Delivery::NoAnswer => "no answer".into(),
            Delivery::Blocked => "blocked".into(),
            Delivery::Unreachable => "unreachable".into(),
            Delivery::NoSession => "no session".into(),
            Delivery::NoDevice => "no device".into(),
        }
    }
}

impl CrewStatus {
    /// The crew's progress in words.
    pub fn describe(self) -> String {
        match self {
            CrewStatus::Dispatched { on_site } => format!("dispatched, on site at {on_site}"),
            CrewStatus::OperatedByHand => "operated by hand".into(),
            CrewStatus::CouldNotOperate => "could not operate".into(),
            CrewStatus::NoSuchBreaker => "no such breaker".into(),
        }
    }
}

impl DeviceChange {
    /// The change in words.
    pub fn describe(self) -> &'static str {
        match self {
            DeviceChange::FirmwareCorrupt => {
                "firmware corrupt: the gateway and the devices behind it go dark"
            }
            DeviceChange::FirmwareRestored => "replaced with a spare (a bricked unit cannot be reflashed)",
            DeviceChange::Local => "switched to LOCAL",
            DeviceChange::Wiped => "wiped: the SCADA master stops (loss of view and control)",
            DeviceChange::ServiceStopped => {
                "process killed (on the SCADA master's host: loss of view and control)"
            }
            DeviceChange::Hung => {
                "hung by a denial-of-service packet: answers nothing, protection out of service"
            }
            DeviceChange::Rebooted => "rebooted by hand: answers again, protection in service",
        }
    }
}
