//! ICS intrusion detection, pure: it reads the same bytes the devices read, through the same
//! parsers (`proto-modbus`, `proto-iec104`, `proto-dnp3`), one TCP payload at a time in
//! capture order, and raises alerts with the capture's frame numbers as evidence.
//!
//! The rules (`RuleId`, one row each in the table that also gives `RULES`: id, ATT&CK for ICS
//! techniques, description) follow the detection content of
//! `../shared/research/incidents-training.md` §6, parameterised by the range's asset inventory (`Config`): which hosts may operate
//! devices, which is each station's master, where the gateways are. The correlation rule also
//! reads the operators' HMI journal (`authorised`): a command on the wire that no operator
//! gave is the HMI-hijack signature, invisible to every protocol rule because it comes from
//! the legitimate master.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use proto_iec104::asdu::{cot, type_id};
use proto_iec104::{Asdu, Control, Frame, UFunction, Value};
use simcore::SimTime;

pub mod dissect;

/// A rule: its id, ATT&CK for ICS techniques (legacy and v19 ids) and what it looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub techniques: &'static [&'static str],
    pub description: &'static str,
}

/// Builds `RuleId` and `RULES` from one table, so that a rule cannot exist without its id
/// and techniques, and an alert (raised by `RuleId`) cannot lack them.
macro_rules! rule_table {
    ($($variant:ident: $id:literal, [$($technique:literal),+], $description:literal;)+) => {
        /// An IDS rule: what raises an alert. `as_str` is its id in the journal and in
        /// exercises (`on_alert`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RuleId {
            $(#[doc = $description] $variant,)+
        }

        impl RuleId {
            /// Every rule, in table order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)+];
        }

        /// The rules, in table order: `RULES[r as usize]` is the row of `r`.
        pub const RULES: &[Rule] = &[
            $(Rule { id: $id, techniques: &[$($technique),+], description: $description },)+
        ];
    };
}

// One row per rule: variant, id, ATT&CK for ICS techniques (in the order alerts carry them),
// what it looks for.
rule_table! {
    SisProgramDownload: "sis.program_download", ["T0843", "T0889"],
        "Program download (Modbus FC 21 write file record) to a safety controller";
    SisProgramUpload: "sis.program_upload", ["T0845"],
        "Program upload (Modbus FC 20 read file record) from a safety controller by a host that is not its engineering station";
    SisWriteUnlisted: "sis.write_unlisted", ["T0855", "T1692.001"],
        "A write to a safety controller from a host that is not its engineering station";
    SisModeChange: "sis.mode_change", ["T0858"],
        "A safety controller's key switch read back at a new position, or first seen at PROGRAM";
    PipeSetpointRange: "pipe.setpoint_range", ["T0836"],
        "A set point written outside its engineering range (a station PLC's speed or discharge limit)";
    ModbusWriteUnlisted: "modbus.write_unlisted", ["T0855", "T1692.001"],
        "Modbus write (FC 5/6/15/16/22/23) from a host not on the allowlist";
    ModbusDiagnostics: "modbus.diagnostics", ["T0816", "T0814"],
        "Modbus FC 8 restart communications, listen-only or clear counters";
    ModbusScan: "modbus.scan", ["T0888", "T0846"],
        "Modbus device identification (FC 43/14, FC 17) from an unlisted host, or 5 exception responses to one source within a minute";
    Dnp3OperateUnlisted: "dnp3.operate_unlisted", ["T0855", "T1692.001", "T0831"],
        "DNP3 SELECT/OPERATE/DIRECT_OPERATE from a host that is not a master";
    Dnp3Restart: "dnp3.restart", ["T0816", "T0803", "T1691.001"],
        "DNP3 cold/warm restart, stop application or disable unsolicited";
    Iec104RogueMaster: "iec104.rogue_master", ["T0855", "T1692.001"],
        "IEC 104 STARTDT or a command (TypeID 45-51, 58-64) from a host that is not the station's master";
    Iec104CommandBurst: "iec104.command_burst", ["T0831"],
        "IEC 104 command activations to 5 IOAs or 2 stations from one source within 60 s";
    Iec104IoaSweep: "iec104.ioa_sweep", ["T0861", "T0846"],
        "3 negative confirmations (COT 44/46/47) on increasing IOAs to one source";
    Iec104ToggleLoop: "iec104.toggle_loop", ["T0806"],
        "opposite commands to one IOA 3 times within 5 minutes";
    Iec104ExecuteWithoutSelect: "iec104.execute_without_select", ["T0855", "T1692.001"],
        "an execute (S/E = 0) with no select for that IOA in the previous 10 s, on a select-before-operate station";
    FwTransfer: "fw.transfer", ["T0857", "T1693.001"],
        "a firmware upload to a gateway from a host not on the allowlist";
    SiprotecDos: "siprotec.dos", ["T0814", "T0816"],
        "a UDP datagram to port 50000 (a SIPROTEC 4 relay's EN100 service); the CVE-2015-5374 denial-of-service packet (18 bytes, 0x11 0x49 ...) named as such";
    CorrUnexplainedCommand: "corr.unexplained_command", ["T0831", "T0855", "T1692.001"],
        "a breaker command on the wire with no operator action for that point in the HMI journal within the previous 10 s";
}

impl RuleId {
    /// The rule's row in `RULES`.
    pub const fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }

    /// The rule's id, as the journal and exercises write it (`sis.program_upload`).
    pub const fn as_str(self) -> &'static str {
        self.rule().id
    }

    /// Its ATT&CK for ICS techniques, in table order.
    pub const fn techniques(self) -> &'static [&'static str] {
        self.rule().techniques
    }

    pub const fn description(self) -> &'static str {
        self.rule().description
    }

    /// The rule with this id.
    pub fn from_id(id: &str) -> Option<RuleId> {
        RuleId::ALL.iter().copied().find(|r| r.as_str() == id)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule with this id (exercises name rules by their id).
pub fn rule(id: &str) -> Option<&'static Rule> {
    RuleId::from_id(id).map(RuleId::rule)
}

/// The range's asset inventory, as the rules need it.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Hosts allowed to write to and operate devices.
    pub allowlist: Vec<Ipv4Addr>,
    /// The legitimate IEC 104 / DNP3 masters.
    pub masters: Vec<Ipv4Addr>,
    /// Serial gateways (firmware targets).
    pub gateways: Vec<Ipv4Addr>,
    /// Stations that require select before operate.
    pub sbo_stations: Vec<u16>,
    /// Safety controllers, and the engineering stations allowed to write to them.
    pub safety: Vec<Ipv4Addr>,
    pub engineering: Vec<Ipv4Addr>,
    /// Holding registers with an engineering range: (device, register, lowest, highest).
    pub ranges: Vec<(Ipv4Addr, u16, u16, u16)>,
}

/// One TCP payload as the capture holds it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Frame number in the capture (1-based), the evidence alerts cite.
    pub number: u64,
    pub t: SimTime,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: &'static str,
    pub techniques: &'static [&'static str],
    pub t: SimTime,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// Capture frame numbers.
    pub evidence: Vec<u64>,
    pub message: String,
}

impl Alert {
    /// The rule that raised it (`rule` is its id).
    pub fn rule_id(&self) -> Option<RuleId> {
        RuleId::from_id(self.rule)
    }
}

/// Per direction of a TCP flow: the protocol's framer.
#[derive(Debug)]
enum Stream {
    Iec104(proto_iec104::Framer),
    Modbus(proto_modbus::Framer),
    Dnp3(proto_dnp3::link::Framer, proto_dnp3::transport::Reassembler),
    Http(Vec<u8>),
}

#[derive(Debug, Default)]
pub struct Ids {
    config: Config,
    /// Per direction of each open flow (looked up on every payload, never iterated).
    streams: HashMap<(SocketAddrV4, SocketAddrV4), Stream>,
    /// (time, station, ioa) of operator commands from the HMI journal.
    authorised: VecDeque<(SimTime, u16, u32)>,
    /// Per source: recent command activations (time, station, ioa, value, frame).
    commands: BTreeMap<Ipv4Addr, VecDeque<CommandSeen>>,
    /// Per (station, ioa): recent selects.
    selects: BTreeMap<(u16, u32), SimTime>,
    /// Per (master address, station): negative confirmations (time, ioa, frame).
    negatives: BTreeMap<(Ipv4Addr, u16), Vec<Refusal>>,
    /// Per source: Modbus exception responses (time, frame).
    exceptions: BTreeMap<Ipv4Addr, VecDeque<(SimTime, u64)>>,
    /// Last alert per (rule, source, destination, point): repeats within a minute are folded.
    /// `point` tells apart what per-point rules see (station and IOA); 0 for the others.
    last: BTreeMap<(RuleId, Ipv4Addr, Ipv4Addr, u64), SimTime>,
    alerts: Vec<Alert>,
    /// Per flow to a safety controller: the last FC 4 request's first register and count.
    sis_reads: HashMap<(SocketAddrV4, SocketAddrV4), (u16, u16)>,
    /// Per safety controller: the key switch position last read back.
    sis_keys: BTreeMap<Ipv4Addr, u16>,
    /// Scratch: the frames of one payload.
    frames: Vec<Parsed>,
}

const MINUTE: u64 = 60_000_000;

/// The UDP port of a SIPROTEC 4 relay's EN100 module (DIGSI over IP, and CVE-2015-5374).
pub const SIPROTEC_PORT: u16 = 50000;

/// The packet of CVE-2015-5374 (ICSA-15-202-01) as Industroyer's DoS tool and the public
/// exploit (Metasploit `auxiliary/dos/scada/siemens_siprotec4`) send it: 18 bytes.
pub const SIPROTEC_DOS: [u8; 18] = [
    0x11, 0x49, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28,
    0x9e,
];

/// Whether a datagram is that packet (the firmware flaw is triggered by its first bytes).
pub fn is_siprotec_dos(payload: &[u8]) -> bool {
    payload.len() == SIPROTEC_DOS.len() && payload.starts_with(&SIPROTEC_DOS[..2])
}

/// A negative confirmation seen: time, IOA, frame.
type Refusal = (SimTime, u32, u64);

/// A command activation seen: time, station, IOA, value (on/close), frame.
type CommandSeen = (SimTime, u16, u32, bool, u64);

impl Ids {
    pub fn new(config: Config) -> Ids {
        Ids { config, ..Ids::default() }
    }

    /// An operator's command through the HMI (the journal entry the correlation rule needs).
    pub fn authorised(&mut self, t: SimTime, station: u16, ioa: u32) {
        self.authorised.push_back((t, station, ioa));
    }

    /// Reads one UDP datagram (the range carries UDP too: the relay denial of service).
    pub fn observe_datagram(&mut self, p: &Packet<'_>) {
        if p.dst.port() == SIPROTEC_PORT {
            let known = is_siprotec_dos(p.payload);
            let message = if known {
                format!(
                    "CVE-2015-5374 denial-of-service packet from {} to the relay at {}",
                    p.src.ip(),
                    p.dst.ip()
                )
            } else {
                format!(
                    "{}-byte UDP datagram from {} to port 50000 of {}",
                    p.payload.len(),
                    p.src.ip(),
                    p.dst.ip()
                )
            };
            self.alert(RuleId::SiprotecDos, p, vec![p.number], message);
        }
    }

    /// Alerts raised since the last call.
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.alerts)
    }

    /// The flow between `a` and `b` ended: its framers go (a later flow on the same
    /// addresses and ports starts clean, and a range with many short connections does not
    /// keep a framer for each).
    pub fn closed(&mut self, a: SocketAddrV4, b: SocketAddrV4) {
        self.streams.remove(&(a, b));
        self.streams.remove(&(b, a));
    }

    /// Reads one TCP payload.
    pub fn observe(&mut self, p: &Packet<'_>) {
        let key = (p.src, p.dst);
        let port = p.dst.port().min(p.src.port());
        let stream = self.streams.entry(key).or_insert_with(|| match port {
            proto_iec104::PORT => Stream::Iec104(proto_iec104::Framer::new()),
            proto_modbus::PORT => Stream::Modbus(proto_modbus::Framer::new()),
            proto_dnp3::PORT => {
                Stream::Dnp3(proto_dnp3::link::Framer::new(), proto_dnp3::transport::Reassembler::new())
            }
            _ => Stream::Http(Vec::new()),
        });
        let mut frames = std::mem::take(&mut self.frames);
        // A framing error (the device closes such a connection) ends what this flow can be
        // read for; its state is dropped so it cannot grow.
        let mut broken = false;
        match stream {
            Stream::Iec104(f) => {
                f.push(p.payload);
                loop {
                    match f.next_frame() {
                        Ok(Some(bytes)) => frames.push(Parsed::Iec104(bytes)),
                        Ok(None) => break,
                        Err(_) => {
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Stream::Modbus(f) => {
                f.push(p.payload);
                loop {
                    match f.next_adu() {
                        Ok(Some(adu)) => frames.push(Parsed::Modbus(adu)),
                        Ok(None) => break,
                        Err(_) => {
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Stream::Dnp3(f, r) => {
                f.push(p.payload);
                loop {
                    match f.next_frame() {
                        Ok(Some(bytes)) => {
                            if let Ok(frame) = proto_dnp3::link::Frame::parse(&bytes) {
                                if let Ok(Some(fragment)) = r.push(&frame.data) {
                                    frames.push(Parsed::Dnp3(fragment));
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Stream::Http(buf) => {
                if buf.len() < 4096 {
                    buf.extend_from_slice(&p.payload[..p.payload.len().min(4096 - buf.len())]);
                }
                if p.dst.port() == 80 && buf.starts_with(b"POST ") {
                    let head = String::from_utf8_lossy(&buf[..buf.len().min(256)]).to_lowercase();
                    if head.contains("firmware") || head.contains("upgrade") {
                        frames.push(Parsed::Firmware);
                        buf.clear();
                        buf.extend_from_slice(b"seen");
                    }
                }
            }
        }
        if broken {
            self.streams.remove(&key);
        }
        for f in frames.drain(..) {
            match f {
                Parsed::Iec104(bytes) => self.iec104(p, &bytes),
                Parsed::Modbus(adu) => self.modbus(p, &adu),
                Parsed::Dnp3(fragment) => self.dnp3(p, &fragment),
                Parsed::Firmware => {
                    if self.config.gateways.contains(p.dst.ip()) && !self.listed(*p.src.ip()) {
                        self.alert(
                            RuleId::FwTransfer,
                            p,
                            vec![p.number],
                            format!("firmware upload to gateway {}", p.dst.ip()),
                        );
                    }
                }
            }
        }
        // The buffer is kept for the next payload (one allocation less per payload).
        self.frames = frames;
    }

    fn listed(&self, ip: Ipv4Addr) -> bool {
        self.config.allowlist.contains(&ip)
    }

    fn alert(&mut self, rule: RuleId, p: &Packet<'_>, evidence: Vec<u64>, message: String) {
        self.alert_at(rule, p, 0, evidence, message);
    }

    /// An alert about one point (`point`: station and IOA), folded per point.
    fn alert_at(&mut self, rule: RuleId, p: &Packet<'_>, point: u64, evidence: Vec<u64>, message: String) {
        let (src, dst) = (*p.src.ip(), *p.dst.ip());
        if let Some(&t) = self.last.get(&(rule, src, dst, point)) {
            if p.t.0 < t.0.saturating_add(MINUTE) {
                return;
            }
        }
        self.last.insert((rule, src, dst, point), p.t);
        let (techniques, rule) = (rule.techniques(), rule.as_str());
        self.alerts.push(Alert { rule, techniques, t: p.t, src, dst, evidence, message });
    }

    fn iec104(&mut self, p: &Packet<'_>, bytes: &[u8]) {
        let Ok(frame) = Frame::parse(bytes) else { return };
        let to_station = p.dst.port() == proto_iec104::PORT;
        let master = *(if to_station { p.src.ip() } else { p.dst.ip() });
        let rogue = !self.config.masters.contains(&master);
        match frame.control {
            Control::U(UFunction::StartDtAct) if to_station && rogue => {
                self.alert(
                    RuleId::Iec104RogueMaster,
                    p,
                    vec![p.number],
                    format!("STARTDT from {master}, not a master"),
                );
            }
            Control::I { .. } => {
                let Ok(asdu) = Asdu::parse(&frame.asdu) else { return };
                if to_station {
                    self.iec104_command(p, &asdu, rogue);
                } else if asdu.negative
                    && matches!(asdu.cause, cot::UNKNOWN_TYPE | cot::UNKNOWN_CA | cot::UNKNOWN_IOA)
                {
                    let list = self.negatives.entry((master, asdu.common_address)).or_default();
                    for (ioa, _) in &asdu.objects {
                        list.push((p.t, *ioa, p.number));
                    }
                    list.retain(|(t, _, _)| p.t.0.saturating_sub(t.0) <= 10 * MINUTE);
                    // The last three refused IOAs of this station, increasing: a walk.
                    let n = list.len();
                    if n >= 3 && list[n - 3].1 < list[n - 2].1 && list[n - 2].1 < list[n - 1].1 {
                        let mut ev: Vec<u64> = list[n - 3..].iter().map(|x| x.2).collect();
                        ev.sort_unstable();
                        ev.dedup();
                        list.clear();
                        let station = asdu.common_address;
                        self.alert_at(
                            RuleId::Iec104IoaSweep,
                            p,
                            u64::from(station),
                            ev,
                            format!(
                                "negative confirmations on increasing IOAs of station {station} to {master}"
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn iec104_command(&mut self, p: &Packet<'_>, asdu: &Asdu, rogue: bool) {
        let is_command = matches!(asdu.type_id, 45..=51 | 58..=64);
        if !is_command || asdu.cause != cot::ACTIVATION {
            return;
        }
        let src = *p.src.ip();
        if rogue {
            self.alert(
                RuleId::Iec104RogueMaster,
                p,
                vec![p.number],
                format!("command type {} from {src}, not a master", asdu.type_id),
            );
        }
        for (ioa, value) in &asdu.objects {
            let (select, on) = match *value {
                Value::SingleCommand { on, select, .. } => (select, Some(on)),
                Value::DoubleCommand { state, select, .. } => (select, Some(state == 2)),
                Value::SetpointFloat { select, .. } => (select, None),
                _ => continue,
            };
            let station = asdu.common_address;
            if select {
                self.selects.insert((station, *ioa), p.t);
                continue;
            }
            // An execute.
            let selected = self
                .selects
                .remove(&(station, *ioa))
                .is_some_and(|t| p.t.0.saturating_sub(t.0) <= 10_000_000);
            if !selected && self.config.sbo_stations.contains(&station) {
                self.alert_at(
                    RuleId::Iec104ExecuteWithoutSelect,
                    p,
                    u64::from(station) << 32 | u64::from(*ioa),
                    vec![p.number],
                    format!("execute without select on {station}/{ioa}"),
                );
            }
            let Some(on) = on else { continue };
            if matches!(asdu.type_id, type_id::C_SC_NA_1 | type_id::C_DC_NA_1 | 58 | 59) {
                // Correlation: did an operator give it?
                let now = p.t;
                self.authorised.retain(|(t, _, _)| now.0.saturating_sub(t.0) <= 10_000_000);
                let given = self.authorised.iter().any(|&(_, s, i)| s == station && i == *ioa);
                if !given {
                    self.alert_at(
                        RuleId::CorrUnexplainedCommand,
                        p,
                        u64::from(station) << 32 | u64::from(*ioa),
                        vec![p.number],
                        format!(
                            "{} to {station}/{ioa} from {src} with no operator action",
                            if on { "close" } else { "open" }
                        ),
                    );
                }
            }
            let recent = self.commands.entry(src).or_default();
            recent.push_back((p.t, station, *ioa, on, p.number));
            while recent.front().is_some_and(|x| p.t.0.saturating_sub(x.0.0) > 5 * MINUTE) {
                recent.pop_front();
            }
            let recent: Vec<CommandSeen> = recent.iter().copied().collect();
            let last_minute: Vec<&CommandSeen> =
                recent.iter().filter(|x| p.t.0.saturating_sub(x.0.0) <= MINUTE).collect();
            let mut ioas: Vec<(u16, u32)> = last_minute.iter().map(|x| (x.1, x.2)).collect();
            ioas.sort_unstable();
            ioas.dedup();
            let mut stations: Vec<u16> = ioas.iter().map(|x| x.0).collect();
            stations.dedup();
            if ioas.len() >= 5 || stations.len() >= 2 {
                let ev = last_minute.iter().map(|x| x.4).collect();
                self.alert(
                    RuleId::Iec104CommandBurst,
                    p,
                    ev,
                    format!("{} IOAs on {} stations from {src} within 60 s", ioas.len(), stations.len()),
                );
            }
            let same: Vec<&CommandSeen> = recent.iter().filter(|x| x.1 == station && x.2 == *ioa).collect();
            let flips = same.windows(2).filter(|w| w[0].3 != w[1].3).count();
            if flips >= 3 {
                let ev = same.iter().map(|x| x.4).collect();
                self.alert_at(
                    RuleId::Iec104ToggleLoop,
                    p,
                    u64::from(station) << 32 | u64::from(*ioa),
                    ev,
                    format!("{station}/{ioa} toggled {flips} times within 5 minutes by {src}"),
                );
            }
        }
    }

    /// The rules of safety controllers and engineering ranges: requests to them, and the key
    /// switch in their answers.
    fn modbus_safety(&mut self, p: &Packet<'_>, pdu: &[u8]) {
        let Some(&function) = pdu.first() else { return };
        let word = |at: usize| pdu.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        if p.dst.port() == proto_modbus::PORT {
            let (src, dst) = (*p.src.ip(), *p.dst.ip());
            if self.config.safety.contains(&dst) {
                let engineering = self.config.engineering.contains(&src);
                match function {
                    21 => self.alert(
                        RuleId::SisProgramDownload,
                        p,
                        vec![p.number],
                        format!("program download (FC 21) to the safety controller {dst} from {src}"),
                    ),
                    20 if !engineering => self.alert(
                        RuleId::SisProgramUpload,
                        p,
                        vec![p.number],
                        format!("program read (FC 20) from the safety controller {dst} by {src}"),
                    ),
                    4 => {
                        if let (Some(start), Some(count)) = (word(1), word(3)) {
                            self.sis_reads.insert((p.src, p.dst), (start, count));
                        }
                    }
                    _ => {}
                }
                if matches!(function, 5 | 6 | 15 | 16 | 21 | 22 | 23) && !engineering {
                    self.alert(
                        RuleId::SisWriteUnlisted,
                        p,
                        vec![p.number],
                        format!("FC {function} to the safety controller {dst} from {src}, not its engineering station"),
                    );
                }
            }
            let written: Vec<(u16, u16)> = match function {
                6 => word(1).zip(word(3)).into_iter().collect(),
                16 => match (word(1), pdu.get(6..)) {
                    (Some(start), Some(values)) => values
                        .chunks_exact(2)
                        .enumerate()
                        .map(|(i, b)| (start.wrapping_add(i as u16), u16::from_be_bytes([b[0], b[1]])))
                        .collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            for (register, value) in written {
                let out = self
                    .config
                    .ranges
                    .iter()
                    .find(|r| r.0 == dst && r.1 == register)
                    .filter(|r| value < r.2 || value > r.3)
                    .copied();
                if let Some((_, _, lo, hi)) = out {
                    self.alert(
                        RuleId::PipeSetpointRange,
                        p,
                        vec![p.number],
                        format!("register {register} of {dst} set to {value} by {src}: its engineering range is {lo} to {hi}"),
                    );
                }
            }
        } else if function == 4 && self.config.safety.contains(p.src.ip()) {
            let Some((0, _)) = self.sis_reads.get(&(p.dst, p.src)).copied() else { return };
            let Some(key) = word(2) else { return };
            let sis = *p.src.ip();
            let before = self.sis_keys.insert(sis, key);
            let name = |k: u16| match k {
                1 => "RUN",
                2 => "PROGRAM",
                3 => "REMOTE",
                _ => "unknown",
            };
            let message = match before {
                Some(b) if b != key => Some(format!(
                    "the safety controller {sis}'s key switch went from {} to {}",
                    name(b),
                    name(key)
                )),
                None if key == 2 => Some(format!("the safety controller {sis}'s key switch is at PROGRAM")),
                _ => None,
            };
            if let Some(message) = message {
                let p2 = Packet { src: p.dst, dst: p.src, ..*p };
                self.alert(RuleId::SisModeChange, &p2, vec![p.number], message);
            }
        }
    }

    fn modbus(&mut self, p: &Packet<'_>, adu: &[u8]) {
        let Ok(view) = proto_modbus::Adu::new_checked(adu) else { return };
        let pdu = view.pdu();
        let Some(&function) = pdu.first() else { return };
        self.modbus_safety(p, pdu);
        if p.dst.port() == proto_modbus::PORT {
            let src = *p.src.ip();
            match function {
                5 | 6 | 15 | 16 | 22 | 23 if !self.listed(src) => {
                    self.alert(
                        RuleId::ModbusWriteUnlisted,
                        p,
                        vec![p.number],
                        format!("FC {function} to {} from {src}", p.dst.ip()),
                    );
                }
                8 => {
                    let sub = pdu.get(1..3).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                    if matches!(sub, 1 | 4 | 10) {
                        self.alert(
                            RuleId::ModbusDiagnostics,
                            p,
                            vec![p.number],
                            format!("FC 8 sub-function {sub} to {} from {src}", p.dst.ip()),
                        );
                    }
                }
                17 | 43 if !self.listed(src) => {
                    self.alert(
                        RuleId::ModbusScan,
                        p,
                        vec![p.number],
                        format!("device identification (FC {function}) from {src}"),
                    );
                }
                _ => {}
            }
        } else if function & 0x80 != 0 && matches!(pdu.get(1), Some(1 | 2)) {
            let client = *p.dst.ip();
            let list = self.exceptions.entry(client).or_default();
            list.push_back((p.t, p.number));
            while list.front().is_some_and(|x| p.t.0.saturating_sub(x.0.0) > MINUTE) {
                list.pop_front();
            }
            if list.len() >= 5 {
                let ev: Vec<u64> = list.iter().map(|x| x.1).collect();
                let p2 = Packet { src: p.dst, dst: p.src, ..*p };
                let n = ev.len();
                self.alert(
                    RuleId::ModbusScan,
                    &p2,
                    ev,
                    format!("{n} exception responses to {client} within a minute"),
                );
            }
        }
    }

    fn dnp3(&mut self, p: &Packet<'_>, fragment: &[u8]) {
        if p.dst.port() != proto_dnp3::PORT {
            return;
        }
        let Some(&function) = fragment.get(1) else { return };
        let src = *p.src.ip();
        match function {
            3..=6 if !self.config.masters.contains(&src) && !self.listed(src) => {
                self.alert(
                    RuleId::Dnp3OperateUnlisted,
                    p,
                    vec![p.number],
                    format!("DNP3 function {function} from {src}, not a master"),
                );
            }
            13 | 14 | 18 | 21 => {
                self.alert(
                    RuleId::Dnp3Restart,
                    p,
                    vec![p.number],
                    format!("DNP3 function {function} from {src}"),
                );
            }
            _ => {}
        }
    }
}

#[derive(Debug)]
enum Parsed {
    Iec104(Vec<u8>),
    Modbus(Vec<u8>),
    Dnp3(Vec<u8>),
    Firmware,
}
