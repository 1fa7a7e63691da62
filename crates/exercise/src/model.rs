//! The exercise model: the typed values a file loads into (hosts, steps, injects, questions,
//! defenders, expectations). Built by `load`, read by the range runtime.

use std::collections::BTreeMap;

use gridsim::BusId;
use gridsim::sim::SimTime;

/// A crew's next job at the site it is already on: walking to the next bay and operating.
pub const CREW_SAME_SITE: SimTime = SimTime(120_000_000);

/// The exercise format version this build reads.
pub const FORMAT_VERSION: i64 = 1;

/// Where a device or host sits in the team's block: the last two octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u8, pub u8);

impl Offset {
    pub fn in_block(self, base: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        let [a, b, _, _] = base.octets();
        std::net::Ipv4Addr::new(a, b, self.0, self.1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamMode {
    Isolated,
    Regional,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Technique {
    pub id: String,
    pub v19: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub id: String,
    pub zone: String,
    pub addr: Offset,
    /// What the utility calls it (its asset register's name); hosts in the `internet` zone
    /// are not the utility's and are on no register.
    pub name: Option<String>,
}

impl Host {
    /// Whether the host is the utility's own (on its asset register): not in the zone
    /// `internet`.
    pub fn on_file(&self) -> bool {
        self.zone != "internet"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub host: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scada {
    pub host: String,
    /// Common addresses of the RTUs it polls (all: every RTU).
    pub stations: Vec<u16>,
    pub interrogation: SimTime,
}

/// How the exercise sets up the grid's devices (the default address plan and point maps of
/// `devices::default_devices`, then these).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceSettings {
    /// Stations whose commands need select before operate (a direct execute is refused).
    pub sbo_required: Vec<u16>,
    /// Devices whose local/remote switch starts at LOCAL.
    pub local: Vec<Offset>,
}

/// A breaker command point: an RTU's common address and a C_DC_NA_1 IOA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandPoint {
    pub station: u16,
    pub ioa: u32,
}

/// When a step happens.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    At(SimTime),
    After { step: String, delay: SimTime },
}

/// What stops a step (and the steps after it) from happening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unless {
    AccountDisabled(String),
    /// The host's address is blocked at the range firewall.
    Blocked(String),
    /// The host was cleaned by the defenders (the implant, its scheduled task and binaries
    /// removed).
    Cleaned(String),
}

/// IT-side activity, recorded in the journal with its log artefact.
#[derive(Debug, Clone, PartialEq)]
pub struct ItEvent {
    pub kind: String,
    pub host: String,
    pub account: Option<String>,
    /// The host the activity came from (its address is the event's source in the journal).
    pub from: Option<String>,
    /// The log line; `{addr:HOST}` stands for that host's address in the team's block.
    pub artefact: String,
}

/// What an attack step does. Every kind but `It` and `Wipe` puts frames on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    It(ItEvent),
    /// Commands sent through the SCADA master's own session (the operators' HMI), so they
    /// come from the legitimate master: only correlation with the HMI journal catches them.
    HmiHijack {
        account: String,
        targets: Vec<CommandPoint>,
        close: bool,
        spread: SimTime,
    },
    /// A rogue IEC 104 master: STARTDT, then select and execute (or direct execute).
    Iec104Commands {
        from: String,
        targets: Vec<CommandPoint>,
        close: bool,
        select: bool,
        spread: SimTime,
    },
    /// Industroyer's range mode: commands (selects) on increasing IOAs, collecting negative
    /// confirmations, then toggling the IOAs that answered positively, `toggles` rounds
    /// `period` apart, off first. `double`: C_DC_NA_1 (breakers), else C_SC_NA_1.
    IoaSweep {
        from: String,
        station: u16,
        double: bool,
        first: u32,
        last: u32,
        period: SimTime,
        toggles: u32,
    },
    /// A configured IEC 104 sequence from one host to one station (Industroyer's sequence
    /// mode, Industroyer2's per-station configuration): TESTFR, STARTDT, a general
    /// interrogation if asked, then a command on each configured IOA with its fixed value
    /// (`close`: ON/close, else OFF/open), then STOPDT. No sweep: the IOAs are known.
    Iec104Sequence {
        from: String,
        station: u16,
        interrogate: bool,
        double: bool,
        select: bool,
        ioas: Vec<u32>,
        close: bool,
    },
    /// The SIPROTEC denial of service (CVE-2015-5374): one 18-byte UDP datagram to each
    /// relay's port 50000. A relay hangs (answers nothing, its protection out of service)
    /// until a crew reboots it by hand.
    SiprotecDos {
        from: String,
        devices: Vec<Offset>,
    },
    /// DNP3 DIRECT_OPERATE of a feeder recloser (by its load bus).
    Dnp3Operate {
        from: String,
        feeders: Vec<BusId>,
        close: bool,
    },
    /// Modbus write single coil to a device at an address offset.
    ModbusWrite {
        from: String,
        device: Offset,
        coil: u16,
        value: bool,
    },
    /// Modbus FC 8 restart communications.
    ModbusRestart {
        from: String,
        device: Offset,
    },
    /// Firmware uploads to substations' serial gateways: they and what is behind go dark.
    Firmware {
        from: String,
        substations: Vec<String>,
    },
    /// UPS outputs switched off over Modbus.
    UpsOff {
        from: String,
        substations: Vec<String>,
    },
    /// The HMI wiped: the SCADA master stops (denial of view).
    Wipe {
        host: String,
    },
    /// A process killed on a host (Industroyer's launcher, Industroyer2): on the SCADA
    /// master's host, its communication service, so the master stops polling. The host's
    /// own log keeps `artefact` (`{addr:HOST}` filled in).
    ServiceStop {
        host: String,
        process: String,
        artefact: String,
    },
    /// Modbus FC 6 to a holding register of a device (a station PLC's set point).
    ModbusRegister {
        from: String,
        device: Offset,
        register: u16,
        value: u16,
    },
    /// A DNP3 SELECT/OPERATE CROB on a line RTU's valve (LATCH_ON opens, LATCH_OFF closes).
    Dnp3Valve {
        from: String,
        device: Offset,
        index: u16,
        open: bool,
    },
    /// Through the safety controller's engineering interface: read its program (FC 20), and
    /// with `change`, write a modified one back (FC 21; it takes only at PROGRAM).
    SisProgram {
        from: String,
        change: Option<ProgramChange>,
    },
}

/// How an attacker modifies a safety program.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramChange {
    /// These functions disabled: the image stays valid, the trips never come.
    Disable(Vec<String>),
    /// An image the controller cannot run (as TRITON's injected code failed the Triconex's
    /// checks): the controller faults and trips the line safe.
    Fault,
}

impl Action {
    /// Whether the step puts frames on the wire.
    pub fn on_wire(&self) -> bool {
        !matches!(self, Action::It(_) | Action::Wipe { .. } | Action::ServiceStop { .. })
    }

    /// The host the step comes from or runs on (none: an IT event, whose host is where it
    /// is logged, or a hijacked HMI session).
    pub fn from_host(&self) -> Option<&str> {
        match self {
            Action::It(_) | Action::HmiHijack { .. } => None,
            Action::Iec104Commands { from, .. }
            | Action::IoaSweep { from, .. }
            | Action::Iec104Sequence { from, .. }
            | Action::SiprotecDos { from, .. }
            | Action::Dnp3Operate { from, .. }
            | Action::ModbusWrite { from, .. }
            | Action::ModbusRestart { from, .. }
            | Action::Firmware { from, .. }
            | Action::UpsOff { from, .. }
            | Action::ModbusRegister { from, .. }
            | Action::Dnp3Valve { from, .. }
            | Action::SisProgram { from, .. } => Some(from),
            Action::Wipe { host } | Action::ServiceStop { host, .. } => Some(host),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::It(_) => "it",
            Action::HmiHijack { .. } => "hmi_hijack",
            Action::Iec104Commands { .. } => "iec104_command",
            Action::IoaSweep { .. } => "ioa_sweep",
            Action::Iec104Sequence { .. } => "iec104_sequence",
            Action::SiprotecDos { .. } => "siprotec_dos",
            Action::Dnp3Operate { .. } => "dnp3_operate",
            Action::ModbusWrite { .. } => "modbus_write",
            Action::ModbusRestart { .. } => "modbus_restart",
            Action::Firmware { .. } => "firmware",
            Action::UpsOff { .. } => "ups_off",
            Action::Wipe { .. } => "wipe",
            Action::ServiceStop { .. } => "service_stop",
            Action::ModbusRegister { .. } => "modbus_register",
            Action::Dnp3Valve { .. } => "dnp3_valve",
            Action::SisProgram { .. } => "sis_program",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub techniques: Vec<String>,
    pub when: When,
    pub jitter: SimTime,
    pub unless: Vec<Unless>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inject {
    pub id: String,
    pub when: InjectWhen,
    pub channel: String,
    pub from: String,
    pub subject: String,
    pub body: String,
}

/// When an inject arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum InjectWhen {
    At(SimTime),
    /// When an attack step starts (not when it is prevented), plus a delay.
    AfterStep {
        step: String,
        delay: SimTime,
    },
    /// At the first alert of an IDS rule, plus a delay.
    OnAlert {
        rule: String,
        delay: SimTime,
    },
    /// When more than this many customers are off supply, plus a delay.
    CustomersOff {
        over: u64,
        delay: SimTime,
    },
}

/// How an answer is judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Exact(String),
    Regex(String),
    /// A number within `tolerance`, in `unit` when it declares one (an answer in another unit
    /// of the same dimension is converted: `90 bar` answers 9000 kPa).
    Number {
        value: f64,
        tolerance: f64,
        unit: Option<&'static crate::answers::Unit>,
    },
    Choice {
        options: Vec<String>,
        correct: String,
    },
    /// A figure of the run itself, within a relative tolerance, as it stood when the answer
    /// was given.
    FromRun {
        figure: RunFigure,
        tolerance: f64,
    },
    /// A host's address in the team's own block (never a literal address).
    Host(String),
}

/// A figure of a run a question can ask for (`from_run`), parsed once by the loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunFigure {
    CustomersOffPeak,
    EnsMwh,
    BreakersOpened,
    FirstCommandStation,
    AttackerAddress,
    VpnSource,
    StationsCommanded,
}

impl RunFigure {
    /// The unit the figure is in, when it has one (an answer in another unit of the same
    /// dimension is converted).
    pub fn unit(self) -> Option<&'static crate::answers::Unit> {
        match self {
            RunFigure::EnsMwh => crate::answers::unit("MWh"),
            _ => None,
        }
    }

    pub const ALL: [RunFigure; 7] = [
        RunFigure::CustomersOffPeak,
        RunFigure::EnsMwh,
        RunFigure::BreakersOpened,
        RunFigure::FirstCommandStation,
        RunFigure::AttackerAddress,
        RunFigure::VpnSource,
        RunFigure::StationsCommanded,
    ];

    /// Its name in an exercise file.
    pub fn as_str(self) -> &'static str {
        match self {
            RunFigure::CustomersOffPeak => "customers_off_peak",
            RunFigure::EnsMwh => "ens_mwh",
            RunFigure::BreakersOpened => "breakers_opened",
            RunFigure::FirstCommandStation => "first_command_station",
            RunFigure::AttackerAddress => "attacker_address",
            RunFigure::VpnSource => "vpn_source",
            RunFigure::StationsCommanded => "stations_commanded",
        }
    }

    pub fn from_name(name: &str) -> Option<RunFigure> {
        RunFigure::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub text: String,
    pub cost: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub points: f64,
    pub answer: Answer,
    pub hints: Vec<Hint>,
    /// Attack steps the question is about: when one of them does not happen, the question is
    /// withdrawn with its points (a `from_run` question is also withdrawn when the run ends
    /// without its figure).
    pub requires: Vec<String>,
    /// Where in the trainees' evidence the answer is (the after-action report shows it with
    /// a missed question's right answer); none: the report says where the answer's figure
    /// comes from.
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub service: f64,
    pub detection: f64,
    pub restoration: f64,
    pub questions: f64,
    pub reports: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { service: 35.0, detection: 20.0, restoration: 20.0, questions: 10.0, reports: 15.0 }
    }
}

/// When a scripted defender acts.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    At(SimTime),
    /// The first alert of this IDS rule (plus a reaction delay).
    OnAlert {
        rule: String,
        delay: SimTime,
    },
}

/// What an operator does to alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmOp {
    Ack,
    /// Hidden from the list for a while (the HMI shows how many are shelved).
    Shelve,
    Unshelve,
}

impl AlarmOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmOp::Ack => "ack",
            AlarmOp::Shelve => "shelve",
            AlarmOp::Unshelve => "unshelve",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmOp> {
        [AlarmOp::Ack, AlarmOp::Shelve, AlarmOp::Unshelve].into_iter().find(|o| o.as_str() == s)
    }
}

/// What a defender does (the typed API the web platform calls too).
#[derive(Debug, Clone, PartialEq)]
pub enum DefenderAction {
    /// Operate a breaker through the SCADA master.
    Operate {
        point: CommandPoint,
        close: bool,
    },
    /// Re-close through the SCADA master every breaker still open that the attack opened or
    /// protection opened (shed feeders, tripped units, relays): branches, then units, then
    /// feeders; a crew goes where the RTU does not answer.
    CloseOpened,
    /// Send a field crew to operate a breaker by hand (after `crew_delay`).
    DispatchCrew {
        point: CommandPoint,
        close: bool,
    },
    /// Block a host's address (or an address offset) at the range firewall.
    Block {
        host: String,
    },
    DisableAccount {
        account: String,
    },
    /// Remove an implant from a host: its scheduled tasks and binaries (incident response on
    /// the host; steps `unless: [{cleaned: HOST}]` do not happen after it).
    Clean {
        host: String,
    },
    /// Replace a substation's bricked gateway with a spare (a crew, then an hour on site).
    RestoreFirmware {
        substation: String,
    },
    /// Send a crew to reboot a hung device by hand (after `crew_delay`).
    Reboot {
        device: Offset,
    },
    /// Switch a UPS output back on (over Modbus from the SCADA host).
    UpsOn {
        substation: String,
    },
    AckAlarms,
    /// Alarms acknowledged, shelved or unshelved by their keys (ISA-18.2: one alarm or a
    /// group; the HMI names each alarm's key: `ids:SEQ`, `brk:CA:IOA`, `comm:CA`).
    Alarms {
        op: AlarmOp,
        keys: Vec<String>,
    },
    /// A pipeline pump from the control room: run (start) or an orderly stop (its drive ramps
    /// it down).
    Pump {
        pump: String,
        run: bool,
    },
    /// A pipeline valve from the control room: open or close, over its travel.
    Valve {
        valve: String,
        open: bool,
    },
    /// Someone at the safety controller's cabinet turns its key.
    SisKey {
        key: pipesim::sis::KeySwitch,
    },
    /// At the cabinet: the commissioned program loaded again, the trips reset, the key at RUN.
    SisRestore,
    /// Put a device's local/remote switch at LOCAL (a crew on site): it keeps reporting but
    /// refuses remote operations, the attacker's included.
    Local {
        device: Offset,
    },
    /// Take the `index`-th hint of a question (its cost comes off that question's points).
    Hint {
        question: String,
        index: usize,
    },
    AnswerQuestion {
        question: String,
        value: String,
    },
    Report {
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DefenderRule {
    pub trigger: Trigger,
    pub action: DefenderAction,
}

/// What a headless run must show (checked by tests and `icsrange run --check`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// `none` or a defender of the file.
    pub defender: String,
    pub customers_off_min: Option<u64>,
    pub customers_off_max: Option<u64>,
    /// Energy not served by the end, within these bounds (MWh).
    pub ens_min_mwh: Option<f64>,
    pub ens_max_mwh: Option<f64>,
    /// Every attack step on the wire is detected by at least one rule (the HMI hijack only
    /// by correlation).
    pub wire_steps_detected: bool,
    /// Every customer back on supply by then.
    pub restored_within: Option<SimTime>,
    /// The total score beats that of this defender's run.
    pub score_above: Option<String>,
    /// A pipeline: whether a segment went above its MAOP, whether one ruptured, whether a
    /// relief valve lifted; product not delivered and released at most this much (m³).
    pub overpressure: Option<bool>,
    pub rupture: Option<bool>,
    pub relief_lifted: Option<bool>,
    pub not_delivered_max_m3: Option<f64>,
    pub released_max_m3: Option<f64>,
}

/// The oil sector: the pipeline an exercise runs, besides its (station supply) grid.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSettings {
    /// A built-in pipeline (`catalogue::PIPELINES`).
    pub line: String,
    /// The hosts that are the safety controller's engineering stations: writes to it from
    /// any other host are an alert.
    pub engineering: Vec<String>,
    /// Where the safety controller's key switch stands at the start.
    pub key: pipesim::sis::KeySwitch,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub sources: Vec<String>,
    pub techniques: Vec<Technique>,
    pub grid: String,
    /// A pipeline with its field devices (then the grid only supplies its stations: it gets
    /// no devices of its own on the network).
    pub pipeline: Option<PipelineSettings>,
    pub team_mode: TeamMode,
    pub duration: SimTime,
    /// How many times faster than real time a live run plays by default (the simulation
    /// itself is in real-world time: every figure is in real-world units).
    pub time_compression: f64,
    pub crew_delay: SimTime,
    /// Field crews available (0: as many as needed). A crew does one job at a time: the
    /// travel and manual operation take `crew_delay`, a further job at the site it is on
    /// `CREW_SAME_SITE`; restoration becomes a scheduling problem.
    pub crews: u32,
    pub zones: Vec<Zone>,
    pub hosts: Vec<Host>,
    pub accounts: Vec<Account>,
    pub scada: Scada,
    pub device_settings: DeviceSettings,
    pub allowlist: Vec<String>,
    pub attack: Vec<Step>,
    pub injects: Vec<Inject>,
    pub questions: Vec<Question>,
    pub scoring: Weights,
    pub defenders: BTreeMap<String, Vec<DefenderRule>>,
    pub expect: Vec<Expect>,
    /// The scenario's wall clock: where t = 0 sits in the incident's local time.
    pub clock: Option<Clock>,
    /// What the teams read before the start and at any time: the situation, their role,
    /// their assets, what they may do, how they are scored.
    pub briefing: Option<String>,
}

/// The scenario's clock: the local date and time at t = 0 and its zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// Seconds from 1970-01-01 00:00 to the start, in local time (as if it were UTC).
    pub start_local_s: i64,
    /// The zone's abbreviation as the incident's reports give it (`EET`, `EEST`, `EDT`).
    pub zone: String,
    /// Local time minus UTC, in minutes.
    pub utc_offset_min: i32,
}

impl Exercise {
    /// A grid and its devices with nothing else: no hosts, no SCADA master, no campaign (what
    /// `icsrange devices` runs when given a grid alone).
    pub fn bare(grid: &str, duration: SimTime) -> Exercise {
        Exercise {
            id: format!("devices-{grid}"),
            title: format!("{grid}: its devices, nothing else"),
            summary: String::new(),
            sources: Vec::new(),
            techniques: Vec::new(),
            grid: grid.to_string(),
            pipeline: None,
            team_mode: TeamMode::Isolated,
            duration,
            time_compression: 1.0,
            crew_delay: SimTime::from_secs(1200.0),
            crews: 0,
            zones: Vec::new(),
            hosts: Vec::new(),
            accounts: Vec::new(),
            scada: Scada {
                host: String::new(),
                stations: Vec::new(),
                interrogation: SimTime::from_secs(60.0),
            },
            device_settings: DeviceSettings::default(),
            allowlist: Vec::new(),
            attack: Vec::new(),
            injects: Vec::new(),
            questions: Vec::new(),
            scoring: Weights::default(),
            defenders: BTreeMap::new(),
            expect: Vec::new(),
            clock: None,
            briefing: None,
        }
    }

    pub fn host(&self, id: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.id == id)
    }

    /// A host by its id, or by its address in a run's block `base` (what a defender on the
    /// platform names: the address the evidence shows, never the hidden id).
    pub fn host_named(&self, named: &str, base: std::net::Ipv4Addr) -> Option<&Host> {
        match named.trim().parse::<std::net::Ipv4Addr>() {
            Ok(a) => self.hosts.iter().find(|h| h.addr.in_block(base) == a),
            Err(_) => self.host(named),
        }
    }
}

/// The host names of the `{addr:HOST}` placeholders in a text, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{addr:") {
        let after = &rest[i + 6..];
        let Some(j) = after.find('}') else { break };
        out.push(&after[..j]);
        rest = &after[j + 1..];
    }
    out
}

/// The text with each `{addr:HOST}` replaced by that host's address (left as written when
/// `addr` does not know the host).
pub fn fill_addresses(text: &str, addr: impl Fn(&str) -> Option<std::net::Ipv4Addr>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{addr:") {
        let after = &rest[i + 6..];
        let Some(j) = after.find('}') else { break };
        out.push_str(&rest[..i]);
        match addr(&after[..j]) {
            Some(a) => out.push_str(&a.to_string()),
            None => out.push_str(&rest[i..i + 6 + j + 1]),
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}
