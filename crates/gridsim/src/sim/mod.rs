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
//!
//! Files: `types` (time, elements, commands, events, observations), this module (the state,
//! commands and switching), `stepping` (time and protection), `network` (power flow and
//! islands), `observe` (what is reported).

mod network;
mod observe;
mod stepping;
mod types;

pub use types::*;

use crate::case::{BusId, BusIdx, Case};
use crate::dynamics::Dynamics;
use crate::pf::{self, PfOptions, PfSolution, PfWorkspace};

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
    /// Lowest and highest frequency of the energised parts since the last
    /// `take_frequency_window` (none: nothing energised in between), Hz.
    window: Option<(f64, f64)>,
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
            window: None,
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

    /// The lowest and highest frequency of the energised parts of the grid since the last
    /// call (or the start), Hz; none when nothing was energised in between. A sampler reads
    /// the nadir between its samples with it.
    pub fn take_frequency_window(&mut self) -> Option<(f64, f64)> {
        self.window.take()
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
