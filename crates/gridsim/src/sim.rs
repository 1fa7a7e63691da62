//! Grid dynamics for exercises: breakers, islands, frequency, protection, load shedding and
//! the accounting of what customers lose.
//!
//! `Sim` is a quasi-steady-state simulator. The network is algebraic (an AC power flow, run
//! when the topology or set points change and every `pf_interval_s` otherwise); the machines
//! are dynamic, one aggregated swing equation per island:
//!
//! `2·ΣH_i·S_i · dΔf/dt = ΣPm_i − Pe`, Δf in p.u. of f0, powers in MW,
//!
//! with `Pe = Σ P_load·(1 + D·Δf) + losses`. Each unit has a governor with droop R and lag Tg,
//! a turbine lag Tt and optionally a reheater; the governor output is clamped to the unit's
//! range, so a unit at its ceiling gives no more. The power flow is solved with the units at
//! their mechanical power plus a share of the island's imbalance in proportion to inertia
//! (H·S: the synchronising power of the first seconds), a distributed slack; the governors
//! then move the mechanical power by droop, so in steady state the imbalance is shared by
//! droop within each unit's headroom. Electrical outputs (`gen_pe_mw`) are those of the last
//! power flow.
//!
//! Protection runs at `substep_s` resolution: branch overcurrent relays integrate `dt/t(M)`
//! (trip at 1, reset below pickup) and a step is cut short at the exact instant a relay
//! reaches 1, so trips come in the right order at the right time; instantaneous elements trip
//! at the power flow that sees the current; generator under/over-frequency and UFLS stages
//! need the frequency beyond their threshold for their delay.
//!
//! The caller supplies time (`step`) and commands (`apply`); nothing reads a clock. The same
//! case, dynamics, commands and steps give bit-identical events and observations.

use std::fmt;
use std::str::FromStr;

use crate::case::{BusId, BusIdx, Case};
use crate::dynamics::{Curve, Dynamics};
use crate::pf::{self, PfError, PfOptions, PfSolution, PfWorkspace, QLimits, Start};

/// Simulated time in microseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Rounds to the nearest microsecond; negative and NaN become 0.
    pub fn from_secs(s: f64) -> SimTime {
        if s.is_finite() && s > 0.0 { SimTime((s * 1e6).round() as u64) } else { SimTime(0) }
    }

    pub fn secs(self) -> f64 {
        self.0 as f64 * 1e-6
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// A switchable or reportable element. Branches and generators are named by their row in
/// the case file (1-based), loads by their bus number, islands by their lowest bus number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    Branch(u32),
    Gen(u32),
    Load(BusId),
    Island(BusId),
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Branch(r) => write!(f, "branch {r}"),
            Element::Gen(r) => write!(f, "gen {r}"),
            Element::Load(b) => write!(f, "load {b}"),
            Element::Island(b) => write!(f, "island {b}"),
        }
    }
}

impl FromStr for Element {
    type Err = String;

    fn from_str(s: &str) -> Result<Element, String> {
        let mut words = s.split_whitespace();
        let (Some(kind), Some(id), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("expected `branch N`, `gen N` or `load BUS`, found `{s}`"));
        };
        let id: u32 = id.parse().map_err(|_| format!("`{id}` is not an element number"))?;
        match kind {
            "branch" => Ok(Element::Branch(id)),
            "gen" => Ok(Element::Gen(id)),
            "load" => Ok(Element::Load(BusId(id))),
            other => Err(format!("unknown element kind `{other}`: expected branch, gen or load")),
        }
    }
}

/// What an operator, a device or an attacker asks of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    Open(Element),
    Close(Element),
    /// Puts the element's protection in or out of service (a branch's overcurrent relay, a
    /// unit's frequency protection, a load's UFLS relay).
    Protection(Element, bool),
    /// A unit's governor set point, MW.
    Setpoint {
        unit: u32,
        mw: f64,
    },
}

impl FromStr for Command {
    type Err = String;

    /// `open branch 12`, `close gen 3`, `open load 5`, `protection off branch 12`,
    /// `setpoint gen 3 120`.
    fn from_str(s: &str) -> Result<Command, String> {
        let s = s.trim();
        let (verb, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let rest = rest.trim();
        match verb {
            "open" => Ok(Command::Open(rest.parse()?)),
            "close" => Ok(Command::Close(rest.parse()?)),
            "protection" => {
                let (state, el) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let on = match state {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("expected `protection on|off ELEMENT`, found `{other}`")),
                };
                Ok(Command::Protection(el.trim().parse()?, on))
            }
            "setpoint" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let ["gen", row, mw] = words.as_slice() else {
                    return Err(format!("expected `setpoint gen N MW`, found `{s}`"));
                };
                let unit = row.parse().map_err(|_| format!("`{row}` is not a generator row"))?;
                let mw: f64 = mw.parse().map_err(|_| format!("`{mw}` is not a number of MW"))?;
                if !mw.is_finite() {
                    return Err(format!("`{mw}` is not a number of MW"));
                }
                Ok(Command::Setpoint { unit, mw })
            }
            other => Err(format!("unknown command `{other}`: expected open, close, protection or setpoint")),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Open(e) => write!(f, "open {e}"),
            Command::Close(e) => write!(f, "close {e}"),
            Command::Protection(e, on) => write!(f, "protection {} {e}", if *on { "on" } else { "off" }),
            Command::Setpoint { unit, mw } => write!(f, "setpoint gen {unit} {mw}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("{0} does not exist in this grid")]
    NoSuchElement(Element),
    #[error("{0} cannot be commanded")]
    NotCommandable(Element),
    #[error("set point {0} MW is not a finite number")]
    BadSetpoint(f64),
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Open,
    Close,
    /// Part of a load disconnected by UFLS.
    Shed,
    ProtectionOff,
    ProtectionOn,
    Setpoint,
    IslandSplit,
    IslandMerge,
    /// An island lost its last generation: every bus in it is dead.
    Blackout,
    /// Dead buses got a source again.
    Energised,
    /// The island's power flow had no solution: voltage collapse, its units trip.
    Collapse,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Open => "open",
            EventKind::Close => "close",
            EventKind::Shed => "shed",
            EventKind::ProtectionOff => "protection_off",
            EventKind::ProtectionOn => "protection_on",
            EventKind::Setpoint => "setpoint",
            EventKind::IslandSplit => "island_split",
            EventKind::IslandMerge => "island_merge",
            EventKind::Blackout => "blackout",
            EventKind::Energised => "energised",
            EventKind::Collapse => "collapse",
        }
    }
}

/// Why it changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cause {
    Command,
    /// Inverse-time overcurrent: the relay of the branch itself, at `multiple` × pickup.
    Overcurrent {
        curve: Curve,
        tms: f64,
        multiple: f64,
    },
    /// Instantaneous overcurrent at `multiple` × rating.
    Instantaneous {
        multiple: f64,
    },
    UnderFrequency {
        f_hz: f64,
    },
    OverFrequency {
        f_hz: f64,
    },
    /// UFLS stage (1-based) at its threshold.
    Ufls {
        stage: u8,
        f_hz: f64,
    },
    /// A consequence of switching this element.
    Switching(Element),
    /// The island's power flow diverged (after damped and flat retries).
    VoltageCollapse,
}

impl Cause {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cause::Command => "command",
            Cause::Overcurrent { .. } => "overcurrent",
            Cause::Instantaneous { .. } => "instantaneous_overcurrent",
            Cause::UnderFrequency { .. } => "underfrequency",
            Cause::OverFrequency { .. } => "overfrequency",
            Cause::Ufls { .. } => "ufls",
            Cause::Switching(_) => "switching",
            Cause::VoltageCollapse => "voltage_collapse",
        }
    }
}

/// Something that happened, at a simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub t: SimTime,
    pub kind: EventKind,
    pub element: Element,
    pub cause: Cause,
    /// Demand affected (loads shed or blacked out), MW.
    pub mw: Option<f64>,
    /// Customers affected.
    pub customers: Option<u64>,
    /// Buses in the island (island events).
    pub buses: Option<u32>,
    /// Islands it split into (split events).
    pub parts: Option<u32>,
}

impl Event {
    fn new(t: SimTime, kind: EventKind, element: Element, cause: Cause) -> Event {
        Event { t, kind, element, cause, mw: None, customers: None, buses: None, parts: None }
    }
}

/// Served demand and its shortfall, integrated over time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Supply {
    /// Demand at nominal frequency of all loads (negative loads count as zero), MW.
    pub demand_mw: f64,
    pub served_mw: f64,
    pub unserved_mw: f64,
    /// Energy not served since the start, MWh.
    pub ens_mwh: f64,
    pub customers: u64,
    pub customers_off: u64,
    /// Lowest and highest frequency seen since the start (energised parts only), Hz.
    pub nadir_hz: f64,
    pub zenith_hz: f64,
}

/// One island now.
#[derive(Debug, Clone, PartialEq)]
pub struct IslandView {
    /// Its lowest bus number.
    pub name: BusId,
    pub buses: usize,
    pub energised: bool,
    pub f_hz: f64,
    pub rocof_hz_s: f64,
    pub gen_mw: f64,
    pub served_mw: f64,
    pub unserved_mw: f64,
    pub customers_off: u64,
    /// Lowest and highest frequency since the island took its present shape, Hz.
    pub nadir_hz: f64,
    pub zenith_hz: f64,
}

/// The state of the grid at the current time.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub t: SimTime,
    /// Frequency of the main island (the energised one with the most inertia); 0 in a
    /// total blackout.
    pub f_hz: f64,
    pub rocof_hz_s: f64,
    pub total: Supply,
    /// Per area, ascending by area id.
    pub areas: Vec<(u32, Supply)>,
    pub islands: Vec<IslandView>,
    /// Electrical output of all units, MW.
    pub gen_mw: f64,
    pub losses_mw: f64,
}

/// Work done so far, for benchmarks and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    pub power_flows: u64,
    pub newton_iterations: u64,
    pub topology_analyses: u32,
    pub substeps: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("the initial power flow has no solution: {0}")]
    InitialPowerFlow(PfError),
    #[error("the dynamics describe a different case ({0})")]
    Mismatch(&'static str),
}

#[derive(Debug, Clone, Copy, Default)]
struct Unit {
    pref: f64,
    /// Governor (valve) output, turbine output, reheater output, mechanical power.
    pv: f64,
    pt: f64,
    pr: f64,
    pm: f64,
    /// Electrical power at the last power flow.
    pe: f64,
    /// Since when the frequency has been beyond a trip threshold.
    freq_since: Option<SimTime>,
}

#[derive(Debug, Clone)]
struct IslandState {
    name: BusId,
    buses: Vec<BusIdx>,
    gens: Vec<usize>,
    loads: Vec<usize>,
    areas: Vec<u32>,
    energised: bool,
    df: f64,
    /// ΣH_i·S_i, MW·s.
    hs: f64,
    /// Power flow's Σ electrical power − Σ load: losses and shunts.
    other_mw: f64,
    ufls_since: Vec<Option<SimTime>>,
    /// Extremes of Δf since the island took this shape.
    df_min: f64,
    df_max: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct LoadState {
    closed: bool,
    ufls_enabled: bool,
    shed: f64,
    stages: u32,
}

/// The grid in motion.
#[derive(Debug)]
pub struct Sim {
    base: Case,
    /// The working network: breaker states, dispatch and loads as the last power flow saw them.
    net: Case,
    dynamics: Dynamics,
    ws: PfWorkspace,
    t: SimTime,
    next_pf: SimTime,
    dirty: bool,
    /// The first element switched since the last power flow (the cause of island events).
    trigger: Option<Element>,
    branch_closed: Vec<bool>,
    relay_enabled: Vec<bool>,
    gen_closed: Vec<bool>,
    gen_prot: Vec<bool>,
    units: Vec<Unit>,
    loads: Vec<LoadState>,
    load_of_bus: Vec<Option<usize>>,
    bus_island: Vec<u32>,
    islands: Vec<IslandState>,
    /// Current over pickup current, per branch, from the last power flow.
    relay_m: Vec<f64>,
    relay_acc: Vec<f64>,
    /// Branches over pickup (the only ones whose relays integrate).
    picked: Vec<usize>,
    events: Vec<Event>,
    totals: Supply,
    area_ids: Vec<u32>,
    area_totals: Vec<Supply>,
    losses_mw: f64,
    last: PfSolution,
    stats: SimStats,
    /// Commands due later (a breaker's operating time), in the order they were scheduled.
    scheduled: Vec<Scheduled>,
    next_seq: u64,
}

/// A command waiting for its time: a breaker travelling after its trip or close coil was
/// energised.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub at: SimTime,
    pub seq: u64,
    pub command: Command,
}

const NEVER: u32 = u32::MAX;
/// Imbalance the distributed slack leaves on the reference units, MW.
const SLACK_TOL_MW: f64 = 1e-6;

impl Sim {
    /// Starts from the case's power flow: every unit's mechanical power equals its electrical
    /// output, so the grid is in balance at f0 until something happens.
    pub fn new(case: Case, dynamics: Dynamics) -> Result<Sim, SimError> {
        if dynamics.gens.len() != case.gens.len() {
            return Err(SimError::Mismatch("generator count"));
        }
        if dynamics.relays.len() != case.branches.len() {
            return Err(SimError::Mismatch("branch count"));
        }
        if dynamics.bus_area.len() != case.buses.len() {
            return Err(SimError::Mismatch("bus count"));
        }
        if dynamics.loads.iter().any(|l| l.bus.get() >= case.buses.len()) {
            return Err(SimError::Mismatch("load bus"));
        }
        let mut ws = PfWorkspace::new();
        let sol = match pf::solve(&case, &mut ws, &PfOptions::default()) {
            Ok(sol) => sol,
            Err(_) => {
                pf::solve(&case, &mut ws, &PfOptions { damped: true, max_iter: 50, ..PfOptions::default() })
                    .map_err(SimError::InitialPowerFlow)?
            }
        };
        let units = (0..case.gens.len())
            .map(|g| {
                let p = sol.gens[g].pg_mw;
                Unit { pref: p, pv: p, pt: p, pr: p, pm: p, pe: p, freq_since: None }
            })
            .collect();
        let mut load_of_bus = vec![None; case.buses.len()];
        for (k, l) in dynamics.loads.iter().enumerate() {
            load_of_bus[l.bus.get()] = Some(k);
        }
        let loads = dynamics.loads.iter().map(|l| LoadState {
            closed: true,
            ufls_enabled: l.ufls,
            ..Default::default()
        });
        let area_ids = dynamics.areas();
        let f0 = dynamics.f0_hz;
        let fresh = Supply { nadir_hz: f0, zenith_hz: f0, ..Supply::default() };
        let mut sim = Sim {
            branch_closed: case.branches.iter().map(|b| b.in_service).collect(),
            relay_enabled: dynamics.relays.iter().map(|r| r.enabled).collect(),
            gen_closed: case.gens.iter().map(|g| g.in_service).collect(),
            gen_prot: dynamics.gens.iter().map(|g| g.freq_protection).collect(),
            units,
            loads: loads.collect(),
            load_of_bus,
            bus_island: vec![NEVER; case.buses.len()],
            islands: Vec::new(),
            relay_m: vec![0.0; case.branches.len()],
            relay_acc: vec![0.0; case.branches.len()],
            picked: Vec::new(),
            events: Vec::new(),
            totals: fresh.clone(),
            area_totals: vec![fresh; area_ids.len()],
            area_ids,
            losses_mw: 0.0,
            last: empty_solution(),
            stats: SimStats::default(),
            base: case.clone(),
            net: case,
            dynamics,
            ws,
            t: SimTime(0),
            next_pf: SimTime(0),
            dirty: true,
            trigger: None,
            scheduled: Vec::new(),
            next_seq: 0,
        };
        sim.settle();
        Ok(sim)
    }

    pub fn time(&self) -> SimTime {
        self.t
    }

    pub fn case(&self) -> &Case {
        &self.base
    }

    pub fn dynamics(&self) -> &Dynamics {
        &self.dynamics
    }

    pub fn stats(&self) -> SimStats {
        SimStats { topology_analyses: self.ws.analyses, ..self.stats }
    }

    /// Events since the last call, in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The network as the last power flow saw it (breaker states, dispatch, loads).
    pub fn network(&self) -> &Case {
        &self.net
    }

    /// The last power flow's electrical output of each unit, MW.
    pub fn gen_pe_mw(&self) -> Vec<f64> {
        self.units.iter().map(|u| u.pe).collect()
    }

    /// Governor set point of each unit, MW.
    pub fn gen_pref_mw(&self) -> Vec<f64> {
        self.units.iter().map(|u| u.pref).collect()
    }

    /// Whether the feeder breaker of the load at `bus` is closed; `None` without a load there.
    pub fn load_closed(&self, bus: BusId) -> Option<bool> {
        self.load_index(bus).map(|k| self.loads[k].closed)
    }

    /// Demand served at a bus now, MW; `None` without a load there.
    pub fn load_served_mw(&self, bus: BusIdx) -> Option<f64> {
        let k = self.load_of_bus.get(bus.get()).copied().flatten()?;
        Some(self.load_supply(k).1)
    }

    /// The share of a load UFLS has shed and not yet restored (0 to 1); `None` without a load
    /// there. Closing its feeder breaker restores it.
    pub fn load_shed(&self, bus: BusIdx) -> Option<f64> {
        let k = self.load_of_bus.get(bus.get()).copied().flatten()?;
        Some(self.loads[k].shed)
    }

    /// Whether a unit's frequency protection is in service (row is 1-based).
    pub fn gen_protection(&self, row: u32) -> Option<bool> {
        self.gen_prot.get((row as usize).checked_sub(1)?).copied()
    }

    /// Mechanical power of each unit now, MW.
    pub fn gen_pm_mw(&self) -> Vec<f64> {
        self.units.iter().map(|u| u.pm).collect()
    }

    /// Current at each branch (the larger end) as a multiple of its relay's pickup, from the
    /// last power flow; 0 for branches without a relay.
    pub fn branch_loading(&self) -> &[f64] {
        &self.relay_m
    }

    /// Whether a branch's overcurrent relay is in service (row is 1-based).
    pub fn branch_protection(&self, row: u32) -> Option<bool> {
        self.relay_enabled.get((row as usize).checked_sub(1)?).copied()
    }

    /// How far a branch's inverse-time relay has integrated towards its trip, 0 to 1 (it
    /// trips at 1; picked up while above 0).
    pub fn relay_progress(&self, row: u32) -> Option<f64> {
        self.relay_acc.get((row as usize).checked_sub(1)?).copied()
    }

    /// Whether a branch's breaker is closed (row is 1-based).
    pub fn branch_closed(&self, row: u32) -> Option<bool> {
        self.branch_closed.get((row as usize).checked_sub(1)?).copied()
    }

    pub fn gen_closed(&self, row: u32) -> Option<bool> {
        self.gen_closed.get((row as usize).checked_sub(1)?).copied()
    }

    /// Frequency of the island holding `bus`, Hz; `None` when the bus is dead.
    pub fn bus_frequency_hz(&self, bus: BusIdx) -> Option<f64> {
        let isl = self.islands.get(*self.bus_island.get(bus.get())? as usize)?;
        isl.energised.then_some(self.dynamics.f0_hz * (1.0 + isl.df))
    }

    /// Applies a command now. Its consequences (power flow, instantaneous protection, island
    /// changes) are settled before this returns.
    pub fn apply(&mut self, cmd: &Command) -> Result<(), CommandError> {
        let t = self.t;
        match *cmd {
            Command::Open(el) | Command::Close(el) => {
                let close = matches!(cmd, Command::Close(_));
                match el {
                    Element::Branch(_) | Element::Gen(_) | Element::Load(_) => {
                        self.check(el)?;
                        self.switch(el, close, Cause::Command);
                    }
                    Element::Island(_) => return Err(CommandError::NotCommandable(el)),
                }
            }
            Command::Protection(el, on) => {
                let slot = match el {
                    Element::Branch(r) => self.relay_enabled.get_mut(row(r)),
                    Element::Gen(r) => self.gen_prot.get_mut(row(r)),
                    Element::Load(b) => {
                        let k = self.load_index(b).ok_or(CommandError::NoSuchElement(el))?;
                        Some(&mut self.loads[k].ufls_enabled)
                    }
                    Element::Island(_) => return Err(CommandError::NotCommandable(el)),
                };
                let slot = slot.ok_or(CommandError::NoSuchElement(el))?;
                if *slot != on {
                    *slot = on;
                    let kind = if on { EventKind::ProtectionOn } else { EventKind::ProtectionOff };
                    self.events.push(Event::new(t, kind, el, Cause::Command));
                    if let (false, Element::Branch(r)) = (on, el) {
                        self.relay_acc[row(r)] = 0.0;
                        self.picked.retain(|&k| k != row(r));
                    }
                    // A relay put back in service acts on the current it sees now.
                    self.dirty |= on;
                }
            }
            Command::Setpoint { unit, mw } => {
                let el = Element::Gen(unit);
                if !mw.is_finite() {
                    return Err(CommandError::BadSetpoint(mw));
                }
                let unit = self.units.get_mut(row(unit)).ok_or(CommandError::NoSuchElement(el))?;
                unit.pref = mw;
                let mut ev = Event::new(t, EventKind::Setpoint, el, Cause::Command);
                ev.mw = Some(mw);
                self.events.push(ev);
                self.dirty = true;
            }
        }
        self.settle();
        Ok(())
    }

    /// Applies `cmd` at `at` (now, if `at` is not in the future): a device's breaker operating
    /// time, an operator's delayed action. The command is checked now; commands due at the
    /// same instant apply in the order they were scheduled, and a step ends exactly at each.
    pub fn schedule(&mut self, at: SimTime, cmd: Command) -> Result<(), CommandError> {
        self.validate(&cmd)?;
        if at <= self.t {
            return self.apply(&cmd);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.scheduled.push(Scheduled { at, seq, command: cmd });
        Ok(())
    }

    /// Commands scheduled and not yet applied, earliest first.
    pub fn scheduled(&self) -> Vec<Scheduled> {
        let mut v = self.scheduled.clone();
        v.sort_by_key(|s| (s.at, s.seq));
        v
    }

    /// Applies every scheduled command due by now, in (time, order) order.
    fn apply_due(&mut self) {
        while let Some(i) = (0..self.scheduled.len())
            .filter(|&i| self.scheduled[i].at <= self.t)
            .min_by_key(|&i| (self.scheduled[i].at, self.scheduled[i].seq))
        {
            let s = self.scheduled.remove(i);
            // Validated when scheduled; elements never disappear.
            let _ = self.apply(&s.command);
        }
    }

    /// Whether `cmd` names elements that exist, without applying it.
    pub fn validate(&self, cmd: &Command) -> Result<(), CommandError> {
        match *cmd {
            Command::Open(el) | Command::Close(el) | Command::Protection(el, _) => self.check(el),
            Command::Setpoint { unit, mw } => {
                if !mw.is_finite() {
                    return Err(CommandError::BadSetpoint(mw));
                }
                self.check(Element::Gen(unit))
            }
        }
    }

    fn check(&self, el: Element) -> Result<(), CommandError> {
        let ok = match el {
            Element::Branch(r) => (1..=self.base.branches.len()).contains(&(r as usize)),
            Element::Gen(r) => (1..=self.base.gens.len()).contains(&(r as usize)),
            Element::Load(b) => self.load_index(b).is_some(),
            Element::Island(_) => false,
        };
        if ok { Ok(()) } else { Err(CommandError::NoSuchElement(el)) }
    }

    fn load_index(&self, bus: BusId) -> Option<usize> {
        self.load_of_bus.get(self.base.bus_idx(bus)?.get()).copied().flatten()
    }

    /// Operates a breaker. No event when it is already in that state.
    fn switch(&mut self, el: Element, close: bool, cause: Cause) {
        let state = match el {
            Element::Branch(r) => &mut self.branch_closed[row(r)],
            Element::Gen(r) => &mut self.gen_closed[row(r)],
            Element::Load(b) => {
                let Some(k) = self.load_index(b) else { return };
                let l = &mut self.loads[k];
                // Closing a feeder breaker also restores what UFLS shed there.
                if close && (l.shed > 0.0 || !l.closed) {
                    l.shed = 0.0;
                    l.stages = 0;
                    l.closed = true;
                    self.events.push(Event::new(self.t, EventKind::Close, el, cause));
                    self.mark(el);
                    return;
                }
                &mut l.closed
            }
            Element::Island(_) => return,
        };
        if *state == close {
            return;
        }
        *state = close;
        if let Element::Gen(r) = el {
            let g = row(r);
            let u = &mut self.units[g];
            if close {
                // Synchronised at zero output; the governor takes it to its set point.
                *u = Unit {
                    pref: if u.pref > 0.0 { u.pref } else { self.base.gens[g].pg_mw },
                    ..Unit::default()
                };
            } else {
                u.pv = 0.0;
                u.pt = 0.0;
                u.pr = 0.0;
                u.pm = 0.0;
                u.pe = 0.0;
            }
        }
        if let Element::Branch(r) = el {
            self.relay_acc[row(r)] = 0.0;
        }
        let mut ev = Event::new(self.t, if close { EventKind::Close } else { EventKind::Open }, el, cause);
        if let Element::Load(b) = el
            && let Some(k) = self.load_index(b)
        {
            ev.mw = Some(self.load_demand(k));
            ev.customers = Some(self.dynamics.loads[k].customers as u64);
        }
        self.events.push(ev);
        self.mark(el);
    }

    fn mark(&mut self, el: Element) {
        self.dirty = true;
        self.trigger.get_or_insert(el);
    }

    /// Nominal demand of a load (negative loads count as zero), MW.
    fn load_demand(&self, k: usize) -> f64 {
        self.base.buses[self.dynamics.loads[k].bus.get()].pd_mw.max(0.0)
    }

    /// Advances by `dt`, in substeps of at most `substep_s`, cut short at protection
    /// operating instants.
    pub fn step(&mut self, dt: SimTime) {
        let end = SimTime(self.t.0.saturating_add(dt.0));
        let h_max = SimTime::from_secs(self.dynamics.substep_s).0.max(1);
        while self.t < end {
            let mut h = h_max.min(end.0 - self.t.0);
            // So does the earliest scheduled command.
            if let Some(due) = self.scheduled.iter().map(|s| s.at.0).min() {
                h = h.min(due.saturating_sub(self.t.0).max(1));
            }
            // The earliest relay operation inside this substep ends it.
            for &k in &self.picked {
                if !self.relay_enabled[k] {
                    continue;
                }
                let relay = &self.dynamics.relays[k];
                let tt = relay.curve.trip_time_s(relay.tms, self.relay_m[k]);
                let left_us = ((1.0 - self.relay_acc[k]).max(0.0) * tt * 1e6).ceil();
                if left_us < h as f64 {
                    h = (left_us as u64).max(1);
                }
            }
            self.substep(h);
            self.apply_due();
        }
    }

    fn substep(&mut self, h_us: u64) {
        let h = h_us as f64 * 1e-6;
        self.stats.substeps += 1;
        // Accounting over the substep uses the state at its start (it changes only at events).
        self.accrue(h);
        self.integrate(h);
        self.t = SimTime(self.t.0 + h_us);
        self.track_frequency();

        // Relays.
        let mut trips = Vec::new();
        for &k in &self.picked {
            if !self.relay_enabled[k] || !self.branch_closed[k] {
                continue;
            }
            let relay = &self.dynamics.relays[k];
            let tt = relay.curve.trip_time_s(relay.tms, self.relay_m[k]);
            self.relay_acc[k] += h / tt;
            if self.relay_acc[k] >= 1.0 - 1e-9 {
                trips.push((k, relay.curve, relay.tms, self.relay_m[k]));
            }
        }
        trips.sort_by_key(|t| t.0);
        for (k, curve, tms, multiple) in trips {
            self.switch(Element::Branch(k as u32 + 1), false, Cause::Overcurrent { curve, tms, multiple });
        }
        // Islands as the trips left them, before frequency protection looks at them.
        self.settle();
        self.frequency_protection();
        if self.t >= self.next_pf {
            self.dirty = true;
        }
        self.settle();
    }

    /// Swing equation, governors and turbines of every energised island over `h` seconds.
    fn integrate(&mut self, h: f64) {
        for isl in &mut self.islands {
            if !isl.energised {
                continue;
            }
            let dfdt = island_dfdt(isl, &self.base, &self.dynamics, &self.loads, &self.units);
            for &g in &isl.gens {
                let gd = &self.dynamics.gens[g];
                let p = &gd.params;
                let u = &mut self.units[g];
                let mut target = u.pref;
                if let Some(r) = p.droop {
                    target -= gd.mbase_mva / r * isl.df;
                }
                let lo = gd.pmin_mw.min(u.pref);
                let hi = gd.pmax_mw.max(u.pref);
                let target = target.max(lo).min(hi);
                u.pv = lag(u.pv, target, p.tg_s, h);
                u.pt = lag(u.pt, u.pv, p.tt_s, h);
                u.pm = match p.reheat {
                    Some(rh) => {
                        u.pr = lag(u.pr, u.pt, rh.t_r_s, h);
                        rh.hp_fraction * u.pt + (1.0 - rh.hp_fraction) * u.pr
                    }
                    None => u.pt,
                };
            }
            // Units trip long before ±100 %; the bound only keeps absurd data finite.
            isl.df = (isl.df + h * dfdt).clamp(-1.0, 1.0);
        }
    }

    fn track_frequency(&mut self) {
        let f0 = self.dynamics.f0_hz;
        for isl in &mut self.islands {
            if !isl.energised {
                continue;
            }
            isl.df_min = isl.df_min.min(isl.df);
            isl.df_max = isl.df_max.max(isl.df);
            let f = f0 * (1.0 + isl.df);
            self.totals.nadir_hz = self.totals.nadir_hz.min(f);
            self.totals.zenith_hz = self.totals.zenith_hz.max(f);
            for a in &isl.areas {
                if let Ok(i) = self.area_ids.binary_search(a) {
                    let s = &mut self.area_totals[i];
                    s.nadir_hz = s.nadir_hz.min(f);
                    s.zenith_hz = s.zenith_hz.max(f);
                }
            }
        }
    }

    /// Generator under/over-frequency trips and UFLS stages.
    fn frequency_protection(&mut self) {
        let t = self.t;
        let f0 = self.dynamics.f0_hz;
        let delay = SimTime::from_secs(self.dynamics.gen_delay_s);
        let (under, over) = (self.dynamics.gen_under_hz, self.dynamics.gen_over_hz);
        let mut trips = Vec::new();
        let mut sheds = Vec::new();
        for i in 0..self.islands.len() {
            let isl = &mut self.islands[i];
            if !isl.energised {
                continue;
            }
            let f = f0 * (1.0 + isl.df);
            for &g in &isl.gens {
                let u = &mut self.units[g];
                if !self.gen_prot[g] || (f > under && f < over) {
                    u.freq_since = None;
                    continue;
                }
                let since = *u.freq_since.get_or_insert(t);
                if t.0 - since.0 >= delay.0 {
                    let cause = if f <= under {
                        Cause::UnderFrequency { f_hz: f }
                    } else {
                        Cause::OverFrequency { f_hz: f }
                    };
                    trips.push((g, cause));
                }
            }
            for (s, stage) in self.dynamics.ufls.iter().enumerate() {
                if f >= stage.f_hz {
                    isl.ufls_since[s] = None;
                    continue;
                }
                let since = *isl.ufls_since[s].get_or_insert(t);
                if t.0 - since.0 >= SimTime::from_secs(stage.delay_s).0 {
                    sheds.push((i, s, f));
                }
            }
        }
        for (g, cause) in trips {
            self.switch(Element::Gen(g as u32 + 1), false, cause);
        }
        for (i, s, f) in sheds {
            let stage = self.dynamics.ufls[s];
            let bit = 1u32 << s.min(31);
            for n in 0..self.islands[i].loads.len() {
                let k = self.islands[i].loads[n];
                let l = self.loads[k];
                if !l.closed || !l.ufls_enabled || l.stages & bit != 0 || l.shed >= 1.0 {
                    continue;
                }
                let before = l.shed;
                let after = (before + stage.fraction).min(1.0);
                let lp = &self.dynamics.loads[k];
                let demand = self.load_demand(k);
                let off = |x: f64| (x * lp.customers as f64).round() as u64;
                let mut ev = Event::new(
                    t,
                    EventKind::Shed,
                    Element::Load(self.base.buses[lp.bus.get()].id),
                    Cause::Ufls { stage: s as u8 + 1, f_hz: f },
                );
                ev.mw = Some(demand * (after - before));
                ev.customers = Some(off(after) - off(before));
                self.events.push(ev);
                self.loads[k].shed = after;
                self.loads[k].stages |= bit;
                self.dirty = true;
            }
        }
    }

    /// Adds `h` seconds of unserved energy, per area and in total.
    fn accrue(&mut self, h: f64) {
        self.totals.ens_mwh += self.totals.unserved_mw * h / 3600.0;
        for a in &mut self.area_totals {
            a.ens_mwh += a.unserved_mw * h / 3600.0;
        }
    }

    /// Runs power flows and protection until nothing more changes at this instant.
    fn settle(&mut self) {
        if !self.dirty {
            return;
        }
        for _ in 0..256 {
            if !self.dirty {
                break;
            }
            self.dirty = false;
            self.power_flow();
            // What the next round finds was caused by what this one switches.
            self.trigger = None;
            self.instantaneous();
        }
        self.trigger = None;
        self.recount();
    }

    fn instantaneous(&mut self) {
        let mut trips = Vec::new();
        for (k, relay) in self.dynamics.relays.iter().enumerate() {
            if !self.relay_enabled[k] || !self.branch_closed[k] || relay.instantaneous <= 0.0 {
                continue;
            }
            // relay_m is relative to pickup; the instantaneous element to the rating.
            let of_rating = self.relay_m[k] * relay.pickup;
            if of_rating >= relay.instantaneous {
                trips.push((k, of_rating));
            }
        }
        for (k, multiple) in trips {
            self.switch(Element::Branch(k as u32 + 1), false, Cause::Instantaneous { multiple });
        }
    }

    /// Loads the network with the present state, solves it with a distributed slack and
    /// rebuilds islands, relay currents and everything derived.
    fn power_flow(&mut self) {
        self.next_pf =
            SimTime(self.t.0.saturating_add(SimTime::from_secs(self.dynamics.pf_interval_s).0.max(1)));
        for (k, br) in self.net.branches.iter_mut().enumerate() {
            br.in_service = self.branch_closed[k];
        }
        for (g, unit) in self.net.gens.iter_mut().enumerate() {
            unit.in_service = self.gen_closed[g];
            unit.pg_mw = self.units[g].pm;
        }
        let d = self.dynamics.load_damping;
        for (k, lp) in self.dynamics.loads.iter().enumerate() {
            let b = lp.bus.get();
            let l = &self.loads[k];
            let df = self.islands.get(self.bus_island[b] as usize).map_or(0.0, |i| i.df);
            let on = if l.closed { 1.0 - l.shed } else { 0.0 };
            let bus = &mut self.net.buses[b];
            bus.pd_mw = self.base.buses[b].pd_mw * on * (1.0 + d * df);
            bus.qd_mvar = self.base.buses[b].qd_mvar * on;
        }

        // Solve; a diverging island collapses (its units trip) and the rest is solved again.
        let sol = loop {
            match self.solve_distributed() {
                Ok(sol) => break sol,
                Err((bus, last)) => {
                    let Some(island) =
                        bus.and_then(|bus| last.islands.iter().find(|i| i.buses.contains(&bus)))
                    else {
                        break *last;
                    };
                    let gens: Vec<usize> = (0..self.net.gens.len())
                        .filter(|&g| self.gen_closed[g] && island.buses.contains(&self.net.gens[g].bus))
                        .collect();
                    if gens.is_empty() {
                        break *last;
                    }
                    let name = island.buses.iter().map(|b| self.base.bus(*b).id).min().unwrap_or(BusId(0));
                    let mut ev = Event::new(
                        self.t,
                        EventKind::Collapse,
                        Element::Island(name),
                        Cause::VoltageCollapse,
                    );
                    ev.buses = Some(island.buses.len() as u32);
                    self.events.push(ev);
                    for g in gens {
                        self.switch(Element::Gen(g as u32 + 1), false, Cause::VoltageCollapse);
                        self.net.gens[g].in_service = false;
                    }
                }
            }
        };
        self.losses_mw = sol.losses_mw;
        self.rebuild_islands(&sol);

        // Relay currents: |S|/|V| at each end, against the pickup current.
        self.picked.clear();
        let base = self.base.base_mva;
        for (k, relay) in self.dynamics.relays.iter().enumerate() {
            let br = &self.base.branches[k];
            let flow = &sol.branches[k];
            let m = if relay.rating_mva > 0.0 && self.branch_closed[k] {
                let i_end = |p: f64, q: f64, vm: f64| if vm > 1e-6 { p.hypot(q) / base / vm } else { 0.0 };
                let i = i_end(flow.pf_mw, flow.qf_mvar, sol.vm_pu[br.from.get()]).max(i_end(
                    flow.pt_mw,
                    flow.qt_mvar,
                    sol.vm_pu[br.to.get()],
                ));
                i / (relay.pickup * relay.rating_mva / base)
            } else {
                0.0
            };
            self.relay_m[k] = m;
            if m > 1.0 && self.relay_enabled[k] {
                self.picked.push(k);
            } else {
                self.relay_acc[k] = 0.0;
            }
        }
        self.last = sol;
    }

    /// Power flow with the imbalance of each island shared by its units in proportion to
    /// inertia (units without inertia: equally). On divergence, retries damped, then damped
    /// from a flat start; returns the worst bus and the last iterate when all fail.
    fn solve_distributed(&mut self) -> Result<PfSolution, (Option<BusIdx>, Box<PfSolution>)> {
        let tries = [
            PfOptions { start: Start::Warm, ..PfOptions::default() },
            PfOptions { start: Start::Warm, damped: true, max_iter: 40, ..PfOptions::default() },
            PfOptions {
                start: Start::Flat,
                damped: true,
                max_iter: 60,
                q_limits: QLimits::Ignore,
                ..PfOptions::default()
            },
        ];
        let mut rounds = 0;
        loop {
            let mut result = Err(PfError::NotConverged {
                iterations: 0,
                mismatch_pu: f64::INFINITY,
                bus: BusId(0),
                last: Box::new(empty_solution()),
            });
            for opts in &tries {
                result = pf::solve(&self.net, &mut self.ws, opts);
                self.stats.power_flows += 1;
                match &result {
                    Ok(sol) => self.stats.newton_iterations += sol.iterations as u64,
                    Err(PfError::NotConverged { iterations, .. }) => {
                        self.stats.newton_iterations += *iterations as u64
                    }
                }
                if result.is_ok() {
                    break;
                }
            }
            let sol = match result {
                Ok(sol) => sol,
                Err(PfError::NotConverged { bus, last, .. }) => {
                    return Err((self.base.bus_idx(bus), last));
                }
            };
            rounds += 1;
            // Imbalance left on the reference units of each island, shared out.
            let mut island_of = vec![NEVER; self.net.buses.len()];
            for (i, isl) in sol.islands.iter().enumerate() {
                for b in &isl.buses {
                    island_of[b.get()] = i as u32;
                }
            }
            let mut members_of: Vec<Vec<usize>> = vec![Vec::new(); sol.islands.len()];
            for (g, unit) in self.net.gens.iter().enumerate() {
                let i = island_of[unit.bus.get()];
                if unit.in_service && i != NEVER {
                    members_of[i as usize].push(g);
                }
            }
            let mut worst: f64 = 0.0;
            for (isl, members) in sol.islands.iter().zip(&members_of) {
                if isl.reference.is_none() {
                    continue;
                }
                let e: f64 = members.iter().map(|&g| sol.gens[g].pg_mw - self.net.gens[g].pg_mw).sum();
                worst = worst.max(e.abs());
                if e.abs() <= SLACK_TOL_MW {
                    continue;
                }
                let weight = |g: usize| self.dynamics.gens[g].params.h_s * self.dynamics.gens[g].mbase_mva;
                let total: f64 = members.iter().map(|&g| weight(g)).sum();
                for &g in members {
                    let share = if total > 0.0 { weight(g) / total } else { 1.0 / members.len() as f64 };
                    self.net.gens[g].pg_mw += share * e;
                }
            }
            if worst <= SLACK_TOL_MW || rounds >= 12 {
                return Ok(sol);
            }
        }
    }

    /// New islands from a solution: frequencies carried over (inertia-weighted), events for
    /// splits, merges, blackouts and re-energisation.
    fn rebuild_islands(&mut self, sol: &PfSolution) {
        let n = self.base.buses.len();
        let old_islands = std::mem::take(&mut self.islands);
        let old_of = std::mem::replace(&mut self.bus_island, vec![NEVER; n]);
        let old_energised = |b: usize| old_of[b] != NEVER && old_islands[old_of[b] as usize].energised;
        let stages = self.dynamics.ufls.len();
        let cause = self.trigger.map_or(Cause::Command, Cause::Switching);
        let t = self.t;

        for (i, isl) in sol.islands.iter().enumerate() {
            for b in &isl.buses {
                self.bus_island[b.get()] = i as u32;
            }
        }
        let mut gens_of: Vec<Vec<usize>> = vec![Vec::new(); sol.islands.len()];
        for (g, unit) in self.net.gens.iter().enumerate() {
            if unit.in_service
                && let Some(&i) = self.bus_island.get(unit.bus.get()).filter(|&&i| i != NEVER)
            {
                gens_of[i as usize].push(g);
            }
        }
        let mut loads_of: Vec<Vec<usize>> = vec![Vec::new(); sol.islands.len()];
        for (k, lp) in self.dynamics.loads.iter().enumerate() {
            if let Some(&i) = self.bus_island.get(lp.bus.get()).filter(|&&i| i != NEVER) {
                loads_of[i as usize].push(k);
            }
        }

        for (i, isl) in sol.islands.iter().enumerate() {
            let energised = isl.reference.is_some();
            let gens = std::mem::take(&mut gens_of[i]);
            let loads = std::mem::take(&mut loads_of[i]);
            let name = isl.buses.iter().map(|b| self.base.bus(*b).id).min().unwrap_or(BusId(0));
            let mut areas: Vec<u32> = isl.buses.iter().map(|b| self.dynamics.bus_area[b.get()]).collect();
            areas.sort_unstable();
            areas.dedup();
            let weight = |g: usize| self.dynamics.gens[g].params.h_s * self.dynamics.gens[g].mbase_mva;
            let hs: f64 = gens.iter().map(|&g| weight(g)).sum();
            let s_mva: f64 = gens.iter().map(|&g| self.dynamics.gens[g].mbase_mva).sum();
            // Carry the frequency over from the units' previous islands.
            let (mut wsum, mut dfsum) = (0.0, 0.0);
            for &g in &gens {
                let b = self.net.gens[g].bus.get();
                if old_energised(b) {
                    let w = weight(g).max(1e-9);
                    wsum += w;
                    dfsum += w * old_islands[old_of[b] as usize].df;
                }
            }
            let df = if energised && wsum > 0.0 { dfsum / wsum } else { 0.0 };
            let pe: f64 = gens.iter().map(|&g| sol.gens[g].pg_mw).sum();
            let pl: f64 = isl.buses.iter().map(|b| self.net.buses[b.get()].pd_mw).sum();
            // Islands without inertia (inverters alone) get a notional 0.5 s on their rating so
            // the equation stays bounded.
            let hs = if hs > 0.0 { hs } else { (0.5 * s_mva).max(1e-3) };

            // Events against the previous partition.
            let mut old_parts: Vec<u32> =
                isl.buses.iter().map(|b| b.get()).filter(|&b| old_energised(b)).map(|b| old_of[b]).collect();
            old_parts.sort_unstable();
            old_parts.dedup();
            if energised && old_parts.len() > 1 {
                let mut ev = Event::new(t, EventKind::IslandMerge, Element::Island(name), cause);
                ev.buses = Some(isl.buses.len() as u32);
                self.events.push(ev);
            }
            if !energised && !old_parts.is_empty() {
                let mut ev = Event::new(t, EventKind::Blackout, Element::Island(name), cause);
                ev.buses = Some(isl.buses.len() as u32);
                let closed: Vec<usize> = loads.iter().copied().filter(|&k| self.loads[k].closed).collect();
                ev.mw = Some(closed.iter().map(|&k| self.load_demand(k) * (1.0 - self.loads[k].shed)).sum());
                // What UFLS already shed was reported then.
                ev.customers = Some(
                    closed
                        .iter()
                        .map(|&k| {
                            let c = self.dynamics.loads[k].customers as u64;
                            c - ((self.loads[k].shed * c as f64).round() as u64).min(c)
                        })
                        .sum(),
                );
                self.events.push(ev);
            }
            for &g in &gens {
                self.units[g].pe = sol.gens[g].pg_mw;
            }
            self.islands.push(IslandState {
                name,
                buses: isl.buses.clone(),
                gens,
                loads,
                areas,
                energised,
                df,
                hs,
                other_mw: pe - pl,
                ufls_since: vec![None; stages],
                df_min: df,
                df_max: df,
            });
        }
        // Splits: an energised island whose buses now lie in several energised islands.
        for old in &old_islands {
            if !old.energised {
                continue;
            }
            let mut parts: Vec<u32> = old
                .buses
                .iter()
                .map(|b| self.bus_island[b.get()])
                .filter(|&i| i != NEVER && self.islands[i as usize].energised)
                .collect();
            parts.sort_unstable();
            parts.dedup();
            if parts.len() > 1 {
                let mut ev = Event::new(t, EventKind::IslandSplit, Element::Island(old.name), cause);
                ev.buses = Some(old.buses.len() as u32);
                ev.parts = Some(parts.len() as u32);
                self.events.push(ev);
            }
        }
        // Re-energisation: a dead island whose buses have a source again.
        for old in &old_islands {
            if old.energised {
                continue;
            }
            let back = old.buses.iter().filter(|b| {
                let i = self.bus_island[b.get()];
                i != NEVER && self.islands[i as usize].energised
            });
            let n = back.count();
            if n > 0 {
                let mut ev = Event::new(t, EventKind::Energised, Element::Island(old.name), cause);
                ev.buses = Some(n as u32);
                self.events.push(ev);
            }
        }
        // UFLS timers and frequency extremes carry over from the energised island that held
        // most of the buses (so a radial trip does not restart a falling island's timers).
        let mut votes: Vec<u32> = vec![0; old_islands.len()];
        for isl in &mut self.islands {
            if !isl.energised {
                continue;
            }
            votes.iter_mut().for_each(|v| *v = 0);
            for b in &isl.buses {
                if old_energised(b.get()) {
                    votes[old_of[b.get()] as usize] += 1;
                }
            }
            let best = (0..votes.len()).filter(|&o| votes[o] > 0).max_by_key(|&o| (votes[o], usize::MAX - o));
            if let Some(o) = best {
                let old = &old_islands[o];
                isl.ufls_since.clone_from(&old.ufls_since);
                isl.df_min = old.df_min.min(isl.df);
                isl.df_max = old.df_max.max(isl.df);
            }
        }
        // Units in dead islands produce nothing.
        for (g, u) in self.units.iter_mut().enumerate() {
            let b = self.net.gens[g].bus.get();
            let live = self.gen_closed[g]
                && self.bus_island[b] != NEVER
                && self.islands[self.bus_island[b] as usize].energised;
            if !live {
                u.pe = 0.0;
            }
        }
    }

    /// Served demand and customers, recomputed after every change.
    fn recount(&mut self) {
        let mut total = Supply { ens_mwh: self.totals.ens_mwh, ..self.totals.clone() };
        let mut areas: Vec<Supply> =
            self.area_totals.iter().map(|a| Supply { ens_mwh: a.ens_mwh, ..a.clone() }).collect();
        for s in std::iter::once(&mut total).chain(areas.iter_mut()) {
            s.demand_mw = 0.0;
            s.served_mw = 0.0;
            s.unserved_mw = 0.0;
            s.customers = 0;
            s.customers_off = 0;
        }
        for (k, lp) in self.dynamics.loads.iter().enumerate() {
            let (demand, served, customers, off) = self.load_supply(k);
            let area = self.dynamics.bus_area[lp.bus.get()];
            let ai = self.area_ids.binary_search(&area).ok();
            for s in std::iter::once(&mut total).chain(ai.map(|i| &mut areas[i])) {
                s.demand_mw += demand;
                s.served_mw += served;
                s.unserved_mw += demand - served;
                s.customers += customers;
                s.customers_off += off;
            }
        }
        self.totals = total;
        self.area_totals = areas;
    }

    /// (demand, served, customers, customers off) of one load now.
    fn load_supply(&self, k: usize) -> (f64, f64, u64, u64) {
        let lp = &self.dynamics.loads[k];
        let l = &self.loads[k];
        let demand = self.load_demand(k);
        let live = self.islands.get(self.bus_island[lp.bus.get()] as usize).is_some_and(|i| i.energised);
        let c = lp.customers as u64;
        if !live || !l.closed {
            return (demand, 0.0, c, c);
        }
        let off = (l.shed * lp.customers as f64).round() as u64;
        (demand, demand * (1.0 - l.shed), c, off)
    }

    /// The state now.
    pub fn observe(&self) -> Observation {
        let f0 = self.dynamics.f0_hz;
        let main =
            self.islands.iter().filter(|i| i.energised).fold(None::<&IslandState>, |best, i| match best {
                Some(b) if b.hs >= i.hs => Some(b),
                _ => Some(i),
            });
        let islands = self
            .islands
            .iter()
            .map(|isl| {
                let mut v = IslandView {
                    name: isl.name,
                    buses: isl.buses.len(),
                    energised: isl.energised,
                    f_hz: if isl.energised { f0 * (1.0 + isl.df) } else { 0.0 },
                    rocof_hz_s: if isl.energised { f0 * self.dfdt(isl) } else { 0.0 },
                    gen_mw: isl.gens.iter().map(|&g| self.units[g].pe).sum(),
                    served_mw: 0.0,
                    unserved_mw: 0.0,
                    customers_off: 0,
                    nadir_hz: if isl.energised { f0 * (1.0 + isl.df_min) } else { 0.0 },
                    zenith_hz: if isl.energised { f0 * (1.0 + isl.df_max) } else { 0.0 },
                };
                for &k in &isl.loads {
                    let (demand, served, _, off) = self.load_supply(k);
                    v.served_mw += served;
                    v.unserved_mw += demand - served;
                    v.customers_off += off;
                }
                v
            })
            .collect();
        Observation {
            t: self.t,
            f_hz: main.map_or(0.0, |i| f0 * (1.0 + i.df)),
            rocof_hz_s: main.map_or(0.0, |i| f0 * self.dfdt(i)),
            total: self.totals.clone(),
            areas: self.area_ids.iter().copied().zip(self.area_totals.iter().cloned()).collect(),
            islands,
            gen_mw: self.units.iter().map(|u| u.pe).sum(),
            losses_mw: self.losses_mw,
        }
    }

    /// The instantaneous rate of change of frequency of the island holding `bus`, Hz/s: what
    /// the swing equation gives for the present imbalance.
    pub fn rocof_hz_s(&self, bus: BusIdx) -> Option<f64> {
        let isl = self.islands.get(*self.bus_island.get(bus.get())? as usize)?;
        isl.energised.then(|| self.dynamics.f0_hz * self.dfdt(isl))
    }

    fn dfdt(&self, isl: &IslandState) -> f64 {
        island_dfdt(isl, &self.base, &self.dynamics, &self.loads, &self.units)
    }

    /// The last power flow's solution.
    pub fn power_flow_solution(&self) -> &PfSolution {
        &self.last
    }
}

/// dΔf/dt of an island in p.u./s: `(ΣPm − Pe) / (2·ΣH·S)` with frequency-dependent load.
fn island_dfdt(
    isl: &IslandState,
    base: &Case,
    dynamics: &Dynamics,
    loads: &[LoadState],
    units: &[Unit],
) -> f64 {
    let mut pl = 0.0;
    for &k in &isl.loads {
        let l = &loads[k];
        if l.closed {
            pl += base.buses[dynamics.loads[k].bus.get()].pd_mw * (1.0 - l.shed);
        }
    }
    let pe = pl * (1.0 + dynamics.load_damping * isl.df) + isl.other_mw;
    let pm: f64 = isl.gens.iter().map(|&g| units[g].pm).sum();
    (pm - pe) / (2.0 * isl.hs)
}

fn row(r: u32) -> usize {
    (r as usize).wrapping_sub(1)
}

/// First-order lag `T·dy/dt = u − y` over `h` with `u` held: exact for any `h`.
fn lag(y: f64, u: f64, t: f64, h: f64) -> f64 {
    if t <= 0.0 { u } else { u + (y - u) * (-h / t).exp() }
}

fn empty_solution() -> PfSolution {
    PfSolution {
        iterations: 0,
        max_mismatch_pu: f64::INFINITY,
        vm_pu: Vec::new(),
        va_deg: Vec::new(),
        branches: Vec::new(),
        gens: Vec::new(),
        islands: Vec::new(),
        losses_mw: 0.0,
        losses_mvar: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_print_back() {
        for s in
            ["open branch 12", "close gen 3", "open load 5", "protection off branch 7", "setpoint gen 2 120"]
        {
            let c: Command = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
        assert!("open bus 3".parse::<Command>().is_err());
        assert!("open branch x".parse::<Command>().is_err());
        assert!("setpoint gen 1 NaN".parse::<Command>().is_err());
        assert!("".parse::<Command>().is_err());
    }

    #[test]
    fn lag_is_exact() {
        assert!((lag(0.0, 1.0, 0.5, 0.5) - (1.0 - (-1.0f64).exp())).abs() < 1e-15);
        assert_eq!(lag(0.3, 1.0, 0.0, 0.1), 1.0);
    }
}
