//! A substation RTU speaking IEC 60870-5-104, one per bus of the grid.
//!
//! # Default point map (common address = the bus number)
//!
//! | IOA | type | meaning |
//! |---|---|---|
//! | 500 | M_SP_NA_1 | bus energised |
//! | 1000+k | M_DP_NA_1 | breaker of the k-th branch at this bus (file order): 2 closed, 1 open |
//! | 2000+k | C_DC_NA_1 | its command: 1 open, 2 close (select-before-operate or direct) |
//! | 1100+k | M_SP_NA_1 | overcurrent protection of branch k in service |
//! | 2100+k | C_SC_NA_1 | its command: 1 in service, 0 out of service |
//! | 1500 / 2500 | M_DP_NA_1 / C_DC_NA_1 | the load feeder breaker, where the bus has a load |
//! | 1600+j / 2600+j | M_DP_NA_1 / C_DC_NA_1 | the j-th unit's breaker, where the bus has units |
//! | 3000 | M_ME_NC_1 | bus voltage, kV |
//! | 3001 | M_ME_NC_1 | frequency, Hz |
//! | 3002 | M_ME_NC_1 | load served, MW |
//! | 3100+k | M_ME_NC_1 | active power from the bus into branch k, MW |
//! | 3200+j | M_ME_NC_1 | unit j's output, MW |
//! | 4600+j | C_SE_NC_1 | unit j's set point, MW |
//!
//! Breakers move after their operating time (`OperatingTime::CIRCUIT_BREAKER`); the ActCon
//! and ActTerm come when the coil is energised, the status change as a spontaneous report
//! when the contacts have moved. A close refused by the synchro-check interlock gets a
//! negative ActCon.
//!
//! Changes are reported spontaneously (COT 3) with CP56Time2a: breakers and the energised
//! flag on any change, measurements beyond a deadband (0.5 kV, 0.01 Hz, 1 MW).

/// The default point map's IOAs by name (the table above): what the RTU builds, what the
/// HMI shows and what the web's diagram reads.
pub mod ioa {
    /// The bus is energised (M_SP_NA_1).
    pub const ENERGISED: u32 = 500;
    /// The first branch breaker's status (M_DP_NA_1); the k-th is `BRANCH_BREAKER + k - 1`.
    pub const BRANCH_BREAKER: u32 = 1001;
    /// The first branch's overcurrent protection in service (M_SP_NA_1).
    pub const BRANCH_PROTECTION: u32 = 1101;
    /// The load feeder breaker's status (M_DP_NA_1).
    pub const LOAD_BREAKER: u32 = 1500;
    /// The first unit breaker's status (M_DP_NA_1).
    pub const UNIT_BREAKER: u32 = 1601;
    /// Commands: the status IOA plus this (C_DC_NA_1 for breakers, C_SC_NA_1 for protection).
    pub const COMMAND_OFFSET: u32 = 1000;
    /// Bus voltage, kV (M_ME_NC_1).
    pub const VOLTAGE_KV: u32 = 3000;
    /// Frequency, Hz (M_ME_NC_1).
    pub const FREQUENCY_HZ: u32 = 3001;
    /// Load served, MW (M_ME_NC_1).
    pub const LOAD_MW: u32 = 3002;
    /// Active power into the first branch, MW (M_ME_NC_1).
    pub const BRANCH_MW: u32 = 3101;
    /// The first unit's output, MW (M_ME_NC_1).
    pub const UNIT_MW: u32 = 3201;
    /// The first unit's set point, MW (C_SE_NC_1).
    pub const UNIT_SETPOINT: u32 = 4601;
    /// At most this many branches or units per bus in the map.
    pub const SPAN: u32 = 99;

    /// The breakers' status IOAs (double points), as inclusive ranges: branches, the load
    /// feeder, units.
    pub const BREAKERS: [(u32, u32); 3] = [
        (BRANCH_BREAKER, BRANCH_BREAKER + SPAN - 1),
        (LOAD_BREAKER, LOAD_BREAKER),
        (UNIT_BREAKER, UNIT_BREAKER + SPAN - 1),
    ];

    /// Whether an IOA is one the HMI shows: the energised flag, branch, load and unit
    /// breakers, voltage, frequency, load served and branch flows.
    pub fn is_shown(ioa: u32) -> bool {
        ioa == ENERGISED
            || (BRANCH_BREAKER..BRANCH_BREAKER + SPAN).contains(&ioa)
            || ioa == LOAD_BREAKER
            || (UNIT_BREAKER..UNIT_BREAKER + SPAN).contains(&ioa)
            || (VOLTAGE_KV..=LOAD_MW).contains(&ioa)
            || (BRANCH_MW..BRANCH_MW + SPAN).contains(&ioa)
    }

    /// Whether an IOA is one the operator's displays show: those of `is_shown` and the
    /// units' outputs (the evidence's point history keeps `is_shown`'s set).
    pub fn is_displayed(ioa: u32) -> bool {
        is_shown(ioa) || (UNIT_MW..UNIT_MW + SPAN).contains(&ioa)
    }
}

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use gridsim::BusIdx;
use gridsim::sim::{Command, Element, Sim, SimTime};
use proto_iec104::Cp56Time;
use proto_iec104::station::{CommandKind, CommandPoint, Operation, Point, PointValue, Station};

/// What a point reads from the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Energised,
    Branch(usize),
    Protection(usize),
    Load(BusId),
    Gen(usize),
    Voltage,
    Frequency,
    LoadMw,
    BranchMw(usize),
    GenMw(usize),
}

use gridsim::BusId;

/// Spontaneous events kept for slow readers.
const EVENT_BUFFER: usize = 4096;

#[derive(Debug, Clone)]
pub struct BusRtu {
    pub name: String,
    pub bus: BusIdx,
    pub addr: Ipv4Addr,
    pub station: Station,
    pub state: crate::DeviceState,
    sources: Vec<Source>,
    /// Command IOA → what it operates.
    targets: Vec<(u32, Element)>,
    setpoints: Vec<(u32, u32)>,
    /// Single-command IOA → the relay it switches in or out of service.
    protections: Vec<(u32, Element)>,
    /// Milliseconds since 2000-01-01 UTC at simulated time 0.
    pub start_ms_since_2000: u64,
    events: VecDeque<(u64, Vec<u8>)>,
    next_event: u64,
}

/// The common address of a bus's RTU: the bus number, or its position where the number does
/// not fit.
pub fn common_address(case: &gridsim::Case, bus: BusIdx) -> u16 {
    let id = case.bus(bus).id;
    if id.0 < 0xFFFF { id.0 as u16 } else { (bus.get() + 1).min(0xFFFE) as u16 }
}

impl BusRtu {
    pub fn new(sim: &Sim, bus: BusIdx, addr: Ipv4Addr) -> BusRtu {
        let case = sim.case();
        let id = case.bus(bus).id;
        let ca = common_address(case, bus);
        let mut station = Station::new(ca);
        let mut sources = Vec::new();
        let mut targets = Vec::new();
        let mut setpoints = Vec::new();
        let mut protections = Vec::new();
        let mut point = |ioa: u32, value: PointValue, source: Source| {
            station.points.push(Point { ioa, value, quality: 0 });
            sources.push(source);
        };
        point(ioa::ENERGISED, PointValue::Single(true), Source::Energised);
        let branches: Vec<usize> = (0..case.branches.len())
            .filter(|&k| case.branches[k].from == bus || case.branches[k].to == bus)
            .collect();
        for (i, &k) in branches.iter().enumerate() {
            point(ioa::BRANCH_BREAKER + i as u32, PointValue::Double(2), Source::Branch(k));
            targets
                .push((ioa::BRANCH_BREAKER + ioa::COMMAND_OFFSET + i as u32, Element::Branch(k as u32 + 1)));
        }
        for (i, &k) in branches.iter().enumerate() {
            point(ioa::BRANCH_PROTECTION + i as u32, PointValue::Single(true), Source::Protection(k));
            protections.push((
                ioa::BRANCH_PROTECTION + ioa::COMMAND_OFFSET + i as u32,
                Element::Branch(k as u32 + 1),
            ));
        }
        let has_load = sim.dynamics().loads.iter().any(|l| l.bus == bus);
        if has_load {
            point(ioa::LOAD_BREAKER, PointValue::Double(2), Source::Load(id));
            targets.push((ioa::LOAD_BREAKER + ioa::COMMAND_OFFSET, Element::Load(id)));
        }
        let gens: Vec<usize> = (0..case.gens.len()).filter(|&g| case.gens[g].bus == bus).collect();
        for (j, &g) in gens.iter().enumerate() {
            point(ioa::UNIT_BREAKER + j as u32, PointValue::Double(2), Source::Gen(g));
            targets.push((ioa::UNIT_BREAKER + ioa::COMMAND_OFFSET + j as u32, Element::Gen(g as u32 + 1)));
            setpoints.push((ioa::UNIT_SETPOINT + j as u32, g as u32 + 1));
        }
        point(ioa::VOLTAGE_KV, PointValue::Float(0.0), Source::Voltage);
        point(ioa::FREQUENCY_HZ, PointValue::Float(0.0), Source::Frequency);
        if has_load {
            point(ioa::LOAD_MW, PointValue::Float(0.0), Source::LoadMw);
        }
        for (i, &k) in branches.iter().enumerate() {
            point(ioa::BRANCH_MW + i as u32, PointValue::Float(0.0), Source::BranchMw(k));
        }
        for (j, &g) in gens.iter().enumerate() {
            point(ioa::UNIT_MW + j as u32, PointValue::Float(0.0), Source::GenMw(g));
        }
        for &(ioa, _) in &targets {
            station.commands.push(CommandPoint { ioa, kind: CommandKind::Double, sbo_required: false });
        }
        for &(ioa, _) in &protections {
            station.commands.push(CommandPoint { ioa, kind: CommandKind::Single, sbo_required: false });
        }
        for &(ioa, _) in &setpoints {
            station.commands.push(CommandPoint {
                ioa,
                kind: CommandKind::SetpointFloat,
                sbo_required: false,
            });
        }
        let mut rtu = BusRtu {
            name: format!("bus{id}-rtu"),
            bus,
            addr,
            station,
            state: crate::DeviceState::default(),
            sources,
            targets,
            setpoints,
            protections,
            start_ms_since_2000: 0,
            events: VecDeque::new(),
            next_event: 0,
        };
        rtu.read(sim, false);
        rtu
    }

    /// Takes the grid's state; changes beyond the deadbands become spontaneous events.
    pub fn refresh(&mut self, sim: &Sim) {
        self.read(sim, true);
    }

    fn read(&mut self, sim: &Sim, report: bool) {
        let case = sim.case();
        let sol = sim.power_flow_solution();
        let f = sim.bus_frequency_hz(self.bus);
        let b = self.bus.get();
        let kv = sol.vm_pu.get(b).copied().unwrap_or(0.0) * case.buses[b].base_kv;
        let time = Cp56Time::from_millis_since_2000(self.start_ms_since_2000 + sim.time().0 / 1000);
        for i in 0..self.sources.len() {
            let new = match self.sources[i] {
                Source::Energised => PointValue::Single(f.is_some()),
                Source::Branch(k) => double(sim.branch_closed(k as u32 + 1)),
                Source::Protection(k) => {
                    PointValue::Single(sim.branch_protection(k as u32 + 1).unwrap_or(false))
                }
                Source::Load(id) => double(sim.load_closed(id)),
                Source::Gen(g) => double(sim.gen_closed(g as u32 + 1)),
                Source::Voltage => PointValue::Float(kv as f32),
                Source::Frequency => PointValue::Float(f.unwrap_or(0.0) as f32),
                Source::LoadMw => PointValue::Float(sim.load_served_mw(self.bus).unwrap_or(0.0) as f32),
                Source::BranchMw(k) => {
                    let flow = sol.branches.get(k).copied().unwrap_or_default();
                    let out = if case.branches[k].from == self.bus { flow.pf_mw } else { flow.pt_mw };
                    PointValue::Float(out as f32)
                }
                Source::GenMw(g) => PointValue::Float(sol.gens.get(g).map_or(0.0, |o| o.pg_mw) as f32),
            };
            let old = self.station.points[i].value;
            let changed = match (old, new) {
                (PointValue::Float(a), PointValue::Float(b)) => {
                    let band = match self.sources[i] {
                        Source::Voltage => 0.5,
                        Source::Frequency => 0.01,
                        _ => 1.0,
                    };
                    (a - b).abs() >= band
                }
                (a, b) => a != b,
            };
            if changed || !report {
                self.station.points[i].value = new;
            }
            if changed && report {
                if let Some(asdu) = self.station.spontaneous(i, time) {
                    self.events.push_back((self.next_event, asdu));
                    self.next_event += 1;
                    if self.events.len() > EVENT_BUFFER {
                        self.events.pop_front();
                    }
                }
            }
        }
    }

    /// Sequence number the next event will get (a new connection starts here).
    pub fn event_cursor(&self) -> u64 {
        self.next_event
    }

    /// Events from `cursor` on; returns the cursor after them.
    pub fn events_since(&self, cursor: u64, out: &mut Vec<Vec<u8>>) -> u64 {
        for (seq, asdu) in &self.events {
            if *seq >= cursor {
                out.push(asdu.clone());
            }
        }
        self.next_event
    }

    /// Answers one ASDU; operations go to the grid. Returns whether the grid was operated.
    pub fn handle(&mut self, sim: &mut Sim, now: SimTime, asdu: &[u8], out: &mut Vec<Vec<u8>>) -> bool {
        let first = out.len();
        let ops = self.station.handle(now, asdu, out);
        if self.state.local && !ops.iter().all(|op| matches!(op, Operation::ClockSync(_))) {
            // At LOCAL: the command is refused with a negative ActCon, and nothing operates.
            out.truncate(first);
            out.push(proto_iec104::Asdu::mirror(asdu, proto_iec104::asdu::cot::ACTIVATION_CON, true));
            return false;
        }
        let mut operated = false;
        for op in ops {
            let cmd = match op {
                Operation::Double { ioa, on } => self
                    .targets
                    .iter()
                    .find(|(i, _)| *i == ioa)
                    .map(|&(_, el)| if on { Command::Close(el) } else { Command::Open(el) }),
                Operation::Single { ioa, on } => self
                    .protections
                    .iter()
                    .find(|(i, _)| *i == ioa)
                    .map(|&(_, el)| Command::Protection(el, on)),
                Operation::Setpoint { ioa, value } => self
                    .setpoints
                    .iter()
                    .find(|(i, _)| *i == ioa)
                    .map(|&(_, unit)| Command::Setpoint { unit, mw: f64::from(value) }),
                Operation::ClockSync(_) => None,
            };
            let Some(cmd) = cmd else { continue };
            if crate::interlock(sim, &cmd).is_err() {
                out.truncate(first);
                out.push(proto_iec104::Asdu::mirror(asdu, proto_iec104::asdu::cot::ACTIVATION_CON, true));
                return false;
            }
            operated |= crate::operate(sim, cmd, crate::OperatingTime::CIRCUIT_BREAKER).is_ok();
        }
        if operated {
            self.refresh(sim);
        }
        operated
    }

    /// What the double (breaker) command at `ioa` operates.
    pub fn command_target(&self, ioa: u32) -> Option<Element> {
        self.targets.iter().find(|(i, _)| *i == ioa).map(|&(_, el)| el)
    }

    /// The double-command IOA that operates `el` at this RTU.
    pub fn command_for(&self, el: Element) -> Option<u32> {
        self.targets.iter().find(|(_, e)| *e == el).map(|&(ioa, _)| ioa)
    }

    /// A few points for `icsrange devices --list`.
    pub fn summary(&self) -> String {
        let breakers = self.targets.len();
        format!(
            "{} points, {breakers} breaker commands (C_DC_NA_1 2001..), GI with C_IC_NA_1",
            self.station.points.len()
        )
    }
}

fn double(closed: Option<bool>) -> PointValue {
    match closed {
        Some(true) => PointValue::Double(2),
        Some(false) => PointValue::Double(1),
        None => PointValue::Double(0),
    }
}
