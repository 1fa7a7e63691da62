//! The safety instrumented system: a controller apart from the control system, with its own
//! transmitters (three per measured pressure, voted 2-out-of-3), trip functions that stop a
//! station's pumps and close emergency shut-down valves, bypass flags, a key switch, its
//! program with a checksum, and a sequence-of-events (SOE) log.
//!
//! Scan: every `scan_ms` it reads its transmitters. A function's *demand* is two or more of
//! its three transmitters beyond the set point (≥ for a high trip, ≤ for a low one); a demand
//! that lasts `delay_ms` trips it. A trip latches (the station cannot restart) until reset.
//! A low trip is armed only while one of the station's pumps turns (a stopped station's
//! suction is not a demand). The response time, from the second transmitter crossing to the
//! trip, is at most `delay_ms` plus two scans (`Sis::response_time_s`).
//!
//! Key switch: RUN (read only), REMOTE (bypass and reset over the network), PROGRAM (also
//! program download). The key is a physical switch: only someone at the cabinet turns it.
//!
//! Program image (what the engineering interface reads and writes), big-endian:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "SISP"
//! 4       2     version (1)
//! 6       2     number of functions n (at most 32)
//! 8+40i   16    tag, ASCII, NUL padded
//!         2     station joint index
//!         1     measure: 0 suction, 1 discharge
//!         1     trip: 0 low, 1 high
//!         1     flags: bit 0 enabled
//!         3     reserved (0)
//!         8     set point, Pa (IEEE 754 double)
//!         4     delay, ms
//!         4     ESD valves closed: bit k = valve index k
//! ```
//!
//! The image's checksum is its CRC-32 (IEEE 802.3). A downloaded image that does not decode
//! into a program for this pipeline faults the controller, and a faulted controller trips
//! every function: the line goes to its safe state (as the Triconex did at the plant TRITON
//! attacked, when the attackers' code failed its checks).

use crate::SimTime;
use crate::model::{Measure, Pipeline, SafetyFunction, SisConfig, TripKind};

/// The key switch's positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySwitch {
    Run,
    Program,
    Remote,
}

impl KeySwitch {
    pub fn name(self) -> &'static str {
        match self {
            KeySwitch::Run => "RUN",
            KeySwitch::Program => "PROGRAM",
            KeySwitch::Remote => "REMOTE",
        }
    }

    /// The register value the controller reports: 1 RUN, 2 PROGRAM, 3 REMOTE.
    pub fn code(self) -> u16 {
        match self {
            KeySwitch::Run => 1,
            KeySwitch::Program => 2,
            KeySwitch::Remote => 3,
        }
    }
}

/// A position as the exercise files and the defenders' actions write it: `run`, `program`
/// or `remote` (lower case; `name` gives the faceplate's upper case).
impl std::str::FromStr for KeySwitch {
    type Err = KeySwitchError;

    fn from_str(s: &str) -> Result<KeySwitch, KeySwitchError> {
        match s {
            "run" => Ok(KeySwitch::Run),
            "program" => Ok(KeySwitch::Program),
            "remote" => Ok(KeySwitch::Remote),
            other => Err(KeySwitchError { found: other.to_string() }),
        }
    }
}

/// Not a key switch position (`KeySwitch`'s `FromStr`); `found` is the text as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`key` is run, program or remote, not `{found}`")]
pub struct KeySwitchError {
    pub found: String,
}

/// What a transmitter does instead of measuring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TransmitterFault {
    /// Reads the top of its range (20 mA).
    FailedHigh,
    /// Reads the bottom of its range (4 mA).
    FailedLow,
    /// Reads this pressure (Pa), whatever the line does.
    Stuck(f64),
}

/// One of the three transmitters on a station pressure.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmitter {
    /// `PT-<station>-<S|D>-<A|B|C>`.
    pub tag: String,
    pub joint: usize,
    pub measure: Measure,
    pub fault: Option<TransmitterFault>,
    /// The last reading (Pa).
    pub reading_pa: f64,
}

/// What the SIS logged, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SoeKind {
    /// A transmitter went beyond a function's set point, or came back.
    Beyond {
        function: String,
        value_pa: f64,
    },
    Back {
        function: String,
        value_pa: f64,
    },
    Trip {
        function: String,
    },
    /// A demand that a bypass kept from tripping.
    DemandBypassed {
        function: String,
    },
    Reset {
        function: String,
    },
    Bypass {
        function: String,
        on: bool,
    },
    Key {
        from: KeySwitch,
        to: KeySwitch,
    },
    Download {
        old_checksum: u32,
        new_checksum: u32,
    },
    Fault {
        why: String,
    },
    TransmitterFault {
        fault: Option<TransmitterFault>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SoeEntry {
    pub t: SimTime,
    /// The transmitter, function or controller the entry is about.
    pub tag: String,
    pub kind: SoeKind,
}

/// What the SIS makes the line do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SisAction {
    /// Stop (trip) every pump of the station at this joint.
    TripStation { joint: usize },
    /// Close this ESD valve.
    CloseValve { valve: usize },
}

/// Why the controller refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the key switch is at {0}, which does not allow it")]
    Key(&'static str),
    #[error("no safety function {0}")]
    NoFunction(usize),
}

/// Why a program image does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    #[error("image of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("bad magic")]
    Magic,
    #[error("version {0} is not 1")]
    Version(u16),
    #[error("{0} functions (at most 32)")]
    Count(u16),
    #[error("image of {actual} bytes, its header says {declared}")]
    Length { declared: usize, actual: usize },
    #[error("function {index}: {why}")]
    Function { index: usize, why: String },
}

#[derive(Debug, Clone, PartialEq)]
struct FunctionState {
    demand_since: Option<SimTime>,
    tripped: bool,
    bypassed: bool,
    bypass_logged: bool,
    beyond: [bool; 3],
}

/// The controller.
#[derive(Debug, Clone)]
pub struct Sis {
    scan_us: u64,
    span_pa: f64,
    key: KeySwitch,
    functions: Vec<SafetyFunction>,
    state: Vec<FunctionState>,
    image: Vec<u8>,
    commissioned_checksum: u32,
    faulted: Option<String>,
    /// Per function, the indices of its three transmitters.
    voters: Vec<[usize; 3]>,
    transmitters: Vec<Transmitter>,
    next_scan: SimTime,
    soe: Vec<SoeEntry>,
    soe_taken: usize,
    esd: Vec<bool>,
    stations: Vec<usize>,
    /// Each joint's station name (its transmitters' tags).
    station_names: Vec<String>,
}

const MAGIC: &[u8; 4] = b"SISP";
const HEADER: usize = 8;
const RECORD: usize = 40;
const MAX_FUNCTIONS: usize = 32;
const TAG: usize = 16;

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The program image of these functions.
pub fn encode(functions: &[SafetyFunction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + RECORD * functions.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(functions.len() as u16).to_be_bytes());
    for f in functions {
        let mut tag = [0u8; TAG];
        for (i, b) in f.tag.bytes().take(TAG).enumerate() {
            tag[i] = b;
        }
        out.extend_from_slice(&tag);
        out.extend_from_slice(&(f.joint as u16).to_be_bytes());
        out.push(match f.measure {
            Measure::Suction => 0,
            Measure::Discharge => 1,
        });
        out.push(match f.trip {
            TripKind::Low => 0,
            TripKind::High => 1,
        });
        out.push(u8::from(f.enabled));
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&f.set_pa.to_be_bytes());
        out.extend_from_slice(&f.delay_ms.to_be_bytes());
        let mask = f.close.iter().fold(0u32, |m, &v| if v < 32 { m | (1 << v) } else { m });
        out.extend_from_slice(&mask.to_be_bytes());
    }
    out
}

/// Reads a program image for a pipeline whose stations are at `stations` (joint indices),
/// with `valves` ESD flags and transmitters spanning `span_pa`.
pub fn decode(
    bytes: &[u8],
    stations: &[usize],
    esd: &[bool],
    span_pa: f64,
) -> Result<Vec<SafetyFunction>, ProgramError> {
    if bytes.len() < HEADER {
        return Err(ProgramError::Short(bytes.len()));
    }
    if &bytes[0..4] != MAGIC {
        return Err(ProgramError::Magic);
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if version != 1 {
        return Err(ProgramError::Version(version));
    }
    let n = u16::from_be_bytes([bytes[6], bytes[7]]);
    if usize::from(n) > MAX_FUNCTIONS {
        return Err(ProgramError::Count(n));
    }
    let declared = HEADER + RECORD * usize::from(n);
    if bytes.len() != declared {
        return Err(ProgramError::Length { declared, actual: bytes.len() });
    }
    let mut out = Vec::with_capacity(usize::from(n));
    for index in 0..usize::from(n) {
        let r = &bytes[HEADER + RECORD * index..HEADER + RECORD * (index + 1)];
        let bad = |why: String| ProgramError::Function { index, why };
        let tag_bytes: Vec<u8> = r[..TAG].iter().copied().take_while(|&b| b != 0).collect();
        if tag_bytes.is_empty() || !tag_bytes.iter().all(|b| b.is_ascii_graphic()) {
            return Err(bad("its tag is not printable ASCII".into()));
        }
        // NUL padded means nothing after the first NUL: one image per program.
        if r[tag_bytes.len()..TAG].iter().any(|&b| b != 0) {
            return Err(bad("bytes after its tag's end".into()));
        }
        let tag = String::from_utf8_lossy(&tag_bytes).into_owned();
        let joint = usize::from(u16::from_be_bytes([r[16], r[17]]));
        if !stations.contains(&joint) {
            return Err(bad(format!("joint {joint} is not a pump station")));
        }
        let measure = match r[18] {
            0 => Measure::Suction,
            1 => Measure::Discharge,
            m => return Err(bad(format!("measure {m}"))),
        };
        let trip = match r[19] {
            0 => TripKind::Low,
            1 => TripKind::High,
            t => return Err(bad(format!("trip kind {t}"))),
        };
        if r[20] > 1 || r[21..24] != [0, 0, 0] {
            return Err(bad("reserved bits set".into()));
        }
        let mut set = [0u8; 8];
        set.copy_from_slice(&r[24..32]);
        let set_pa = f64::from_be_bytes(set);
        if !(set_pa.is_finite() && (0.0..=span_pa).contains(&set_pa)) {
            return Err(bad(format!("set point {set_pa} Pa outside the transmitters' range")));
        }
        let delay_ms = u32::from_be_bytes([r[32], r[33], r[34], r[35]]);
        if delay_ms > 600_000 {
            return Err(bad(format!("delay of {delay_ms} ms")));
        }
        let mask = u32::from_be_bytes([r[36], r[37], r[38], r[39]]);
        let mut close = Vec::new();
        for k in 0..32 {
            if mask & (1 << k) != 0 {
                if !esd.get(k).copied().unwrap_or(false) {
                    return Err(bad(format!("valve {k} is not an ESD valve")));
                }
                close.push(k);
            }
        }
        out.push(SafetyFunction { tag, joint, measure, trip, set_pa, delay_ms, enabled: r[20] == 1, close });
    }
    Ok(out)
}

fn measure_letter(m: Measure) -> &'static str {
    match m {
        Measure::Suction => "S",
        Measure::Discharge => "D",
    }
}

impl Sis {
    pub fn new(cfg: &SisConfig, p: &Pipeline) -> Sis {
        let mut transmitters: Vec<Transmitter> = Vec::new();
        let mut voters = Vec::new();
        for f in &cfg.functions {
            let station = p.joints[f.joint].station.clone().unwrap_or_else(|| p.joints[f.joint].name.clone());
            let mut ids = [0; 3];
            for (i, letter) in ["A", "B", "C"].iter().enumerate() {
                let tag = format!("PT-{station}-{}-{letter}", measure_letter(f.measure));
                ids[i] = match transmitters.iter().position(|t| t.tag == tag) {
                    Some(k) => k,
                    None => {
                        transmitters.push(Transmitter {
                            tag,
                            joint: f.joint,
                            measure: f.measure,
                            fault: None,
                            reading_pa: 0.0,
                        });
                        transmitters.len() - 1
                    }
                };
            }
            voters.push(ids);
        }
        let image = encode(&cfg.functions);
        let stations =
            p.joints.iter().enumerate().filter(|(_, j)| !j.pumps.is_empty()).map(|(i, _)| i).collect();
        Sis {
            scan_us: u64::from(cfg.scan_ms.max(1)) * 1000,
            span_pa: cfg.span_pa,
            key: KeySwitch::Run,
            state: cfg
                .functions
                .iter()
                .map(|_| FunctionState {
                    demand_since: None,
                    tripped: false,
                    bypassed: false,
                    bypass_logged: false,
                    beyond: [false; 3],
                })
                .collect(),
            functions: cfg.functions.clone(),
            commissioned_checksum: crc32(&image),
            image,
            faulted: None,
            voters,
            transmitters,
            next_scan: SimTime(0),
            soe: Vec::new(),
            soe_taken: 0,
            esd: p.valves.iter().map(|v| v.esd).collect(),
            stations,
            station_names: p
                .joints
                .iter()
                .map(|j| j.station.clone().unwrap_or_else(|| j.name.clone()))
                .collect(),
        }
    }

    /// Worst-case time from the second transmitter crossing a function's set point to its
    /// trip: the delay plus two scans (the crossing just after a scan, the delay rounded up to
    /// a scan). The final elements then move: pumps coast down, ESD valves close over their
    /// travel.
    pub fn response_time_s(&self, function: usize) -> f64 {
        let delay = self.functions.get(function).map_or(0, |f| f.delay_ms);
        f64::from(delay) / 1000.0 + 2.0 * self.scan_us as f64 * 1e-6
    }

    pub fn functions(&self) -> &[SafetyFunction] {
        &self.functions
    }

    pub fn transmitters(&self) -> &[Transmitter] {
        &self.transmitters
    }

    pub fn key(&self) -> KeySwitch {
        self.key
    }

    pub fn image(&self) -> &[u8] {
        &self.image
    }

    pub fn checksum(&self) -> u32 {
        crc32(&self.image)
    }

    /// The checksum of the program it was commissioned with.
    pub fn commissioned_checksum(&self) -> u32 {
        self.commissioned_checksum
    }

    pub fn faulted(&self) -> Option<&str> {
        self.faulted.as_deref()
    }

    pub fn tripped(&self, function: usize) -> bool {
        self.state.get(function).is_some_and(|s| s.tripped)
    }

    pub fn bypassed(&self, function: usize) -> bool {
        self.state.get(function).is_some_and(|s| s.bypassed)
    }

    /// Whether the station at this joint may run (no latched trip, no fault).
    pub fn permits(&self, joint: usize) -> bool {
        self.faulted.is_none()
            && self.functions.iter().zip(&self.state).all(|(f, s)| f.joint != joint || !s.tripped)
    }

    pub fn soe(&self) -> &[SoeEntry] {
        &self.soe
    }

    /// SOE entries logged since the last call.
    pub fn take_soe(&mut self) -> &[SoeEntry] {
        let from = self.soe_taken;
        self.soe_taken = self.soe.len();
        &self.soe[from..]
    }

    fn log(&mut self, t: SimTime, tag: String, kind: SoeKind) {
        self.soe.push(SoeEntry { t, tag, kind });
    }

    pub fn next_scan(&self) -> SimTime {
        self.next_scan
    }

    pub fn set_fault(&mut self, t: SimTime, transmitter: usize, fault: Option<TransmitterFault>) -> bool {
        let Some(tx) = self.transmitters.get_mut(transmitter) else { return false };
        tx.fault = fault;
        let tag = tx.tag.clone();
        self.log(t, tag, SoeKind::TransmitterFault { fault });
        true
    }

    /// Turns the key (someone at the cabinet).
    pub fn set_key(&mut self, t: SimTime, key: KeySwitch) {
        if key != self.key {
            let from = self.key;
            self.key = key;
            self.log(t, "SIS".into(), SoeKind::Key { from, to: key });
        }
    }

    /// Sets or clears a function's bypass; `local` is at the cabinet, else over the network
    /// (REMOTE or PROGRAM).
    pub fn set_bypass(&mut self, t: SimTime, function: usize, on: bool, local: bool) -> Result<(), Refusal> {
        if !local && self.key == KeySwitch::Run {
            return Err(Refusal::Key(self.key.name()));
        }
        let tag = self.functions.get(function).ok_or(Refusal::NoFunction(function))?.tag.clone();
        let s = &mut self.state[function];
        if s.bypassed != on {
            s.bypassed = on;
            s.bypass_logged = false;
            self.log(t, tag.clone(), SoeKind::Bypass { function: tag, on });
        }
        Ok(())
    }

    /// Clears every bypass (at the cabinet).
    pub fn clear_bypasses(&mut self, t: SimTime) {
        for i in 0..self.functions.len() {
            let _ = self.set_bypass(t, i, false, true);
        }
    }

    /// Resets a tripped function (its demand must have cleared) or, with every function, a
    /// faulted controller whose program decodes.
    pub fn reset(&mut self, t: SimTime, local: bool) -> Result<(), Refusal> {
        if !local && self.key == KeySwitch::Run {
            return Err(Refusal::Key(self.key.name()));
        }
        if self.faulted.is_some()
            && let Ok(functions) = decode(&self.image, &self.stations, &self.esd, self.span_pa)
        {
            self.faulted = None;
            self.install(functions);
        }
        for i in 0..self.functions.len() {
            let s = &mut self.state[i];
            if s.tripped && s.demand_since.is_none() {
                s.tripped = false;
                let tag = self.functions[i].tag.clone();
                self.log(t, tag.clone(), SoeKind::Reset { function: tag });
            }
        }
        Ok(())
    }

    fn install(&mut self, functions: Vec<SafetyFunction>) {
        // Functions keep the transmitters of their station and measure; a pair that had none
        // gets its own three, as at commissioning.
        let mut voters = Vec::new();
        for f in &functions {
            let mut ids: Vec<usize> = self
                .transmitters
                .iter()
                .enumerate()
                .filter(|(_, t)| t.joint == f.joint && t.measure == f.measure)
                .map(|(i, _)| i)
                .take(3)
                .collect();
            if ids.len() < 3 {
                let station =
                    self.station_names.get(f.joint).cloned().unwrap_or_else(|| format!("J{}", f.joint));
                for letter in ["A", "B", "C"].iter().skip(ids.len()) {
                    self.transmitters.push(Transmitter {
                        tag: format!("PT-{station}-{}-{letter}", measure_letter(f.measure)),
                        joint: f.joint,
                        measure: f.measure,
                        fault: None,
                        reading_pa: 0.0,
                    });
                    ids.push(self.transmitters.len() - 1);
                }
            }
            voters.push([ids[0], ids[1], ids[2]]);
        }
        // A function that was there before keeps its state (a latched trip, a bypass, a demand
        // in progress): a download is not a reset.
        let old: Vec<(String, FunctionState)> =
            self.functions.iter().zip(&self.state).map(|(f, s)| (f.tag.clone(), s.clone())).collect();
        self.state = functions
            .iter()
            .map(|f| {
                old.iter().find(|(tag, _)| *tag == f.tag).map(|(_, s)| s.clone()).unwrap_or(FunctionState {
                    demand_since: None,
                    tripped: false,
                    bypassed: false,
                    bypass_logged: false,
                    beyond: [false; 3],
                })
            })
            .collect();
        self.voters = voters;
        self.functions = functions;
    }

    /// A program download through the engineering interface: refused unless the key is at
    /// PROGRAM. An image that does not decode is loaded all the same and faults the
    /// controller (every function trips at the next scan).
    pub fn download(&mut self, t: SimTime, bytes: &[u8]) -> Result<(), Refusal> {
        if self.key != KeySwitch::Program {
            return Err(Refusal::Key(self.key.name()));
        }
        let old_checksum = self.checksum();
        self.image = bytes.to_vec();
        let new_checksum = self.checksum();
        self.log(t, "SIS".into(), SoeKind::Download { old_checksum, new_checksum });
        match decode(bytes, &self.stations, &self.esd, self.span_pa) {
            Ok(functions) => self.install(functions),
            Err(e) => {
                let why = format!("program rejected by the controller: {e}");
                self.faulted = Some(why.clone());
                self.log(t, "SIS".into(), SoeKind::Fault { why });
            }
        }
        Ok(())
    }

    /// One scan at `t`: reads the transmitters (`read`: the line's pressure at a station
    /// joint), votes, trips, and returns what the final elements must do (every scan while a
    /// trip is latched, so they stay where the trip put them). `running`: whether a station's
    /// pumps turn (arms its low trips).
    pub fn scan(
        &mut self,
        t: SimTime,
        read: impl Fn(usize, Measure) -> f64,
        running: impl Fn(usize) -> bool,
    ) -> Vec<SisAction> {
        self.next_scan = SimTime(t.0 + self.scan_us);
        let span = self.span_pa;
        for tx in &mut self.transmitters {
            tx.reading_pa = match tx.fault {
                None => read(tx.joint, tx.measure).clamp(0.0, span),
                Some(TransmitterFault::FailedHigh) => span,
                Some(TransmitterFault::FailedLow) => 0.0,
                Some(TransmitterFault::Stuck(v)) => v,
            };
        }
        let mut actions = Vec::new();
        if self.faulted.is_some() {
            for &j in &self.stations {
                actions.push(SisAction::TripStation { joint: j });
            }
            for (k, &e) in self.esd.iter().enumerate() {
                if e {
                    actions.push(SisAction::CloseValve { valve: k });
                }
            }
            return actions;
        }
        let mut logs = Vec::new();
        for i in 0..self.functions.len() {
            let f = &self.functions[i];
            if !f.enabled {
                continue;
            }
            let armed = f.trip == TripKind::High || running(f.joint);
            let s = &mut self.state[i];
            let mut votes = 0;
            for k in 0..3 {
                let Some(tx) = self.transmitters.get(self.voters[i][k]) else { continue };
                let v = tx.reading_pa;
                let beyond = armed
                    && match f.trip {
                        TripKind::High => v >= f.set_pa,
                        TripKind::Low => v <= f.set_pa,
                    };
                if beyond != s.beyond[k] {
                    s.beyond[k] = beyond;
                    let kind = if beyond {
                        SoeKind::Beyond { function: f.tag.clone(), value_pa: v }
                    } else {
                        SoeKind::Back { function: f.tag.clone(), value_pa: v }
                    };
                    logs.push((tx.tag.clone(), kind));
                }
                votes += usize::from(beyond);
            }
            if votes >= 2 {
                let since = *s.demand_since.get_or_insert(t);
                if t.0 - since.0 >= u64::from(f.delay_ms) * 1000 {
                    if s.bypassed {
                        if !s.bypass_logged {
                            s.bypass_logged = true;
                            logs.push((f.tag.clone(), SoeKind::DemandBypassed { function: f.tag.clone() }));
                        }
                    } else if !s.tripped {
                        s.tripped = true;
                        logs.push((f.tag.clone(), SoeKind::Trip { function: f.tag.clone() }));
                    }
                }
            } else {
                s.demand_since = None;
                s.bypass_logged = false;
            }
            if s.tripped {
                actions.push(SisAction::TripStation { joint: f.joint });
                for &v in &f.close {
                    actions.push(SisAction::CloseValve { valve: v });
                }
            }
        }
        for (tag, kind) in logs {
            self.log(t, tag, kind);
        }
        actions
    }
}
