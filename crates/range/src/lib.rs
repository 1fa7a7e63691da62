//! The range runtime, pure and stepped: one exercise on one grid with its devices, the SCADA
//! master polling them over IEC 104, the attack campaign, scripted defenders, the IDS and
//! the journal. It reads no clock and opens no socket: `step` advances simulated time,
//! `act` and `live` take inputs from outside at the current instant, and everything that
//! crossed the network is handed to the shell (`take_wire`) to capture and to deliver.
//!
//! A run is a pure function of (exercise, seed, defender, inputs): the same inputs give the
//! same journal, byte for byte, and every input is itself a journal entry, so `replay`
//! rebuilds a run from its journal. The journal is the single source of truth: `score::score`
//! and the alerts file are computed from it.
//!
//! Where things live: `agenda` (what waits for its time: campaign steps, injects, crews,
//! scripted defenders), `network` (connections, the firewall, the IDS, the capture's frame
//! count, live connections), `endpoint` (the device side of a connection, per protocol),
//! `scada` (the SCADA master and its point database), `campaign` (the attacker), `defence`
//! (actions: who may do what, and what it does), `journal`, `score`.

mod agenda;
mod campaign;
mod defence;
pub mod endpoint;
pub mod journal;
mod line;
pub mod net;
mod network;
pub mod scada;
pub mod score;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use devices::{Devices, Firewall, Rule};
use exercise::{CommandPoint, DefenderRule, Exercise, Resolved};
use gridsim::sim::{Element, Sim, SimTime};
use ids::Ids;

pub use defence::{Refusal, may_answer};
pub use journal::{Action, Actor, ConnId, Entry, Input, Live, Outcome, Role};

/// How a run is set up besides the exercise.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    /// The team's block: devices and hosts take addresses in it.
    pub base: Ipv4Addr,
    /// Simulation step.
    pub step: SimTime,
    /// The defender's name (`none` for no defender) and rules.
    pub defender: String,
    pub rules: Vec<DefenderRule>,
    /// Whether the campaign runs (`icsrange devices`: the same runtime without it).
    pub campaign: bool,
    /// Milliseconds since 2000-01-01 UTC at simulated time 0: the devices' time tags (0:
    /// the run starts at the epoch; a live run starts at the wall clock's now).
    pub start_ms_since_2000: u64,
    /// Range firewall rules at the start: sources refused at every device.
    pub deny: Vec<devices::Prefix>,
    /// Devices whose local/remote switch starts at LOCAL, and devices bricked at the start,
    /// by address.
    pub local: Vec<Ipv4Addr>,
    pub bricked: Vec<Ipv4Addr>,
    /// Whether `block` and `clean` take a host's address as well as its id (since the platform's
    /// trainees name hosts by address). Off only to replay a run recorded before, in which an
    /// address was refused as an unknown host.
    pub hosts_by_address: bool,
}

impl RunConfig {
    pub fn new(seed: u64, defender: &str, rules: Vec<DefenderRule>) -> RunConfig {
        RunConfig {
            seed,
            base: Ipv4Addr::new(127, 10, 0, 0),
            step: SimTime(100_000),
            defender: defender.to_string(),
            rules,
            campaign: true,
            hosts_by_address: true,
            start_ms_since_2000: 0,
            deny: Vec::new(),
            local: Vec::new(),
            bricked: Vec::new(),
        }
    }
}

/// Why a range cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the grid does not fit the address plan: {0}")]
    AddressPlan(#[from] devices::AddressPlanError),
    #[error("no device at {0}")]
    NoDevice(Ipv4Addr),
    #[error("address block {0}: a team's block is a /16 on loopback, 127.N.0.0")]
    Base(Ipv4Addr),
    #[error("pipeline {0} does not load")]
    Pipeline(String),
    #[error("{0}")]
    Grid(#[from] exercise::BuildGridError),
    #[error("no defender `{0}` in the exercise")]
    NoDefender(String),
}

/// One way to build a run, for the cli, the web and the tests: a loaded exercise, where its
/// grid's files come from, and the run's configuration. `build` builds the grid (each run
/// its own: a grid in motion is not shared) and the range.
pub struct Setup<'a> {
    pub exercise: Exercise,
    pub grids: &'a dyn exercise::GridSource,
    pub cfg: RunConfig,
}

impl std::fmt::Debug for Setup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup").field("exercise", &self.exercise.id).field("cfg", &self.cfg).finish()
    }
}

impl Setup<'_> {
    pub fn build(self) -> Result<Range, Error> {
        let grid = exercise::build_grid(self.grids, &self.exercise.grid)?;
        Range::new(self.exercise, grid, self.cfg)
    }
}

impl RunConfig {
    /// A run of `ex` defended by `defender`: `none`, or one of the exercise's scripted
    /// defenders (a defender file is the caller's to read: `exercise::load_defender`).
    pub fn for_defender(ex: &Exercise, seed: u64, defender: &str) -> Result<RunConfig, Error> {
        let rules = match defender {
            "none" => Vec::new(),
            name => ex.defenders.get(name).cloned().ok_or_else(|| Error::NoDefender(name.to_string()))?,
        };
        Ok(RunConfig::new(seed, defender, rules))
    }
}

/// A range's address block: a /16 on loopback (127.N.0.0), so every device and host of the
/// plan stays on loopback and inside the block (an address outside it could wrap to
/// 0.0.0.0, every interface).
pub fn check_base(base: Ipv4Addr) -> Result<Ipv4Addr, Error> {
    match base.octets() {
        [127, _, 0, 0] => Ok(base),
        _ => Err(Error::Base(base)),
    }
}

/// A running exercise: a coordinator of parts that each own their state. Its grid, devices
/// and exercise are private: nothing changes the world without leaving a journal entry.
///
/// The parts: `setup` (the exercise and the run's configuration, read-only), `agenda`
/// (simulated time and what waits for it), `world` (grid, devices, firewall), `net`
/// (connections, the wire, the capture's count, the IDS), `scada` (the SCADA master),
/// `campaign` (the attacker's progress), `defence` (what the defenders did) and `journal`.
#[derive(Debug)]
pub struct Range {
    setup: Fixed,
    agenda: agenda::Agenda,
    world: World,
    net: network::Net,
    scada: scada::Master,
    campaign: campaign::Campaign,
    defence: defence::Defence,
    journal: Vec<Entry>,
}

/// What a run was set up with; it never changes while the run goes on.
#[derive(Debug)]
struct Fixed {
    ex: Exercise,
    cfg: RunConfig,
}

/// The physical world: the grid, the field devices and the range's firewall.
#[derive(Debug)]
struct World {
    sim: Sim,
    devices: Devices,
    firewall: Firewall,
    /// Hung relays and their protection setting before they hung (restored on reboot).
    hung: BTreeMap<Ipv4Addr, bool>,
    /// Elements protection opened or shed (anything that opened without a command).
    opened_by_protection: Vec<Element>,
}

/// splitmix64: the run's only source of randomness, from its seed.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Range {
    pub fn new(ex: Exercise, grid: Resolved, cfg: RunConfig) -> Result<Range, Error> {
        check_base(cfg.base)?;
        let Resolved { sim, devices: _ } = grid;
        // A pipeline exercise's grid only supplies its stations: no grid devices on its network.
        let mut devices = if ex.pipeline.is_some() {
            Devices::default()
        } else {
            devices::default_devices(&sim, cfg.base)?
        };
        if let Some(ps) = &ex.pipeline {
            let text =
                exercise::catalogue::pipeline(&ps.line).ok_or_else(|| Error::Pipeline(ps.line.clone()))?;
            let line =
                pipesim::file::parse(text).map_err(|e| Error::Pipeline(format!("{}: {e}", ps.line)))?;
            let mut plant = devices::pipeline::plant(line, pipesim::SimOptions::default(), cfg.base);
            let _ = plant.sim.apply(&pipesim::Command::SisKey(ps.key));
            plant.sim.take_soe();
            for r in &mut plant.rtus {
                r.start_ms_since_2000 = cfg.start_ms_since_2000;
            }
            devices.pipe = Some(Box::new(plant));
        }
        for rtu in &mut devices.rtus {
            if ex.device_settings.sbo_required.contains(&rtu.station.common_address) {
                for c in &mut rtu.station.commands {
                    c.sbo_required = true;
                }
            }
        }
        for off in &ex.device_settings.local {
            devices.set_state(off.in_block(cfg.base), |s| s.local = true);
        }
        for &addr in &cfg.local {
            devices.set_state(addr, |s| s.local = true).ok_or(Error::NoDevice(addr))?;
        }
        for &addr in &cfg.bricked {
            devices.set_state(addr, |s| s.firmware_ok = false).ok_or(Error::NoDevice(addr))?;
        }
        for r in &mut devices.rtus {
            r.start_ms_since_2000 = cfg.start_ms_since_2000;
        }
        for r in &mut devices.reclosers {
            r.start_ms_since_2000 = cfg.start_ms_since_2000;
        }
        let firewall = Firewall {
            rules: cfg.deny.iter().map(|&source| Rule { source, destination: None, allow: false }).collect(),
            default_allow: true,
        };
        let masters =
            vec![ex.host(&ex.scada.host).map_or(Ipv4Addr::UNSPECIFIED, |h| h.addr.in_block(cfg.base))];
        let allowlist =
            ex.allowlist.iter().filter_map(|h| ex.host(h)).map(|h| h.addr.in_block(cfg.base)).collect();
        let gateways = devices.gateways.iter().map(|g| g.addr).collect();
        let sbo_stations = ex.device_settings.sbo_required.clone();
        let mut safety = Vec::new();
        let mut engineering = Vec::new();
        let mut ranges = Vec::new();
        if let (Some(plant), Some(ps)) = (&devices.pipe, &ex.pipeline) {
            safety.extend(plant.sis.as_ref().map(|s| s.addr));
            engineering
                .extend(ps.engineering.iter().filter_map(|h| ex.host(h)).map(|h| h.addr.in_block(cfg.base)));
            let line = plant.sim.pipeline();
            for s in &plant.stations {
                for (i, &k) in s.pumps.iter().enumerate() {
                    let pump = &line.pumps[k];
                    ranges.push((s.addr, i as u16, pump.min_speed_rpm as u16, pump.max_speed_rpm as u16));
                }
                ranges.push((s.addr, 8, 0, (s.limit_range_pa / 1e3) as u16));
            }
        }
        let ids =
            Ids::new(ids::Config { allowlist, masters, gateways, sbo_stations, safety, engineering, ranges });
        let obs = sim.observe();
        let mut r = Range {
            scada: scada::Master::new(&ex.scada.stations),
            agenda: agenda::Agenda::new(ex.injects.len()),
            campaign: campaign::Campaign::new(cfg.seed),
            defence: defence::Defence::new(ex.crews as usize),
            world: World { sim, devices, firewall, hung: BTreeMap::new(), opened_by_protection: Vec::new() },
            net: network::Net::new(ids),
            journal: vec![Entry::Start {
                t: SimTime(0),
                format: journal::FORMAT_VERSION,
                exercise: ex.id.clone(),
                seed: cfg.seed,
                defender: cfg.defender.clone(),
                base: cfg.base,
                start_ms_since_2000: cfg.start_ms_since_2000,
                demand_mw: obs.total.demand_mw,
                customers: obs.total.customers,
            }],
            setup: Fixed { ex, cfg },
        };
        r.plan();
        Ok(r)
    }

    pub fn time(&self) -> SimTime {
        self.agenda.now
    }

    pub fn journal(&self) -> &[Entry] {
        &self.journal
    }

    pub fn exercise(&self) -> &Exercise {
        &self.setup.ex
    }

    pub fn config(&self) -> &RunConfig {
        &self.setup.cfg
    }

    /// The grid, to read (the ground truth: for instructors, tests and the shell's summary).
    pub fn sim(&self) -> &Sim {
        &self.world.sim
    }

    /// The devices, to read (listings, addresses for the shell's listeners).
    pub fn devices(&self) -> &Devices {
        &self.world.devices
    }

    pub fn is_finished(&self) -> bool {
        self.agenda.finished
    }

    /// What crossed the network since the last call, in order.
    pub fn take_wire(&mut self) -> Vec<net::Wire> {
        std::mem::take(&mut self.net.wire)
    }

    /// Connection diagnostics since the last call, for the shell's log.
    pub fn take_diagnostics(&mut self) -> Vec<(ConnId, String)> {
        std::mem::take(&mut self.net.diagnostics)
    }

    /// Capture packets so far (the frame numbers alerts cite run up to it).
    pub fn packets(&self) -> u64 {
        self.net.packets
    }

    /// When the next step ends: the next step boundary or the next due task, whichever is
    /// sooner (a driver paces against it).
    pub fn next_time(&self) -> SimTime {
        let mut next = SimTime(
            self.agenda.now.0.saturating_add(self.setup.cfg.step.0.max(1)).min(self.setup.ex.duration.0),
        );
        if let Some((&(due, _), _)) = self.agenda.tasks.iter().next() {
            if due > self.agenda.now && due < next {
                next = due;
            }
        }
        next
    }

    /// Runs until the exercise's end.
    pub fn run_to_end(&mut self) {
        while !self.agenda.finished {
            self.step();
        }
    }

    /// Advances one step (or to the next due task, whichever is sooner).
    pub fn step(&mut self) {
        if self.agenda.finished {
            return;
        }
        if !self.agenda.began {
            self.agenda.began = true;
            self.tick();
        }
        let next = self.next_time();
        let dt = SimTime(next.0 - self.agenda.now.0);
        self.world.sim.step(dt);
        self.agenda.now = next;
        let events = self.world.sim.take_events();
        let from = self.journal.len();
        for e in &events {
            if matches!(e.kind, gridsim::sim::EventKind::Open | gridsim::sim::EventKind::Shed)
                && e.cause != gridsim::sim::Cause::Command
                && !self.world.opened_by_protection.contains(&e.element)
            {
                self.world.opened_by_protection.push(e.element);
            }
            self.journal.push(Entry::Grid { event: e.clone() });
        }
        self.world.devices.step(&self.world.sim, dt, &events);
        self.journal_line();
        // The grid's and the pipeline's events of this step, in order of time.
        self.journal[from..].sort_by_key(Entry::t);
        self.tick();
        if self.agenda.now >= self.setup.ex.duration {
            self.stop();
        }
    }

    /// Ends the run now (at the exercise's end, or when a live run is stopped): a last supply
    /// sample, every connection closed, the end entry. A replay stops at the same instant.
    pub fn stop(&mut self) {
        if self.agenda.finished {
            return;
        }
        let sampled_now =
            matches!(self.journal.last(), Some(Entry::Supply { t, .. }) if *t == self.agenda.now);
        if !sampled_now {
            self.sample_supply();
        }
        for c in 0..self.net.conns.len() {
            self.close(c, false);
        }
        self.journal.push(Entry::End { t: self.agenda.now });
        self.agenda.finished = true;
    }

    /// Everything due at the current time: tasks, the SCADA master, device sessions, supply.
    fn tick(&mut self) {
        self.check_conditions();
        while let Some(task) = self.agenda.next_due() {
            self.run_task(task);
        }
        self.scada_poll();
        self.pump_endpoints();
        // What the line did at this instant (a pump started, a valve commanded, a program
        // downloaded): journaled now, not with the next step.
        self.journal_line();
        if self.agenda.now >= self.agenda.next_supply {
            self.sample_supply();
            self.agenda.next_supply = SimTime(self.agenda.next_supply.0 + 60_000_000);
        }
    }

    /// The pipeline's events and its safety system's log since the last call, in order of time.
    fn journal_line(&mut self) {
        let Some(plant) = &mut self.world.devices.pipe else { return };
        let events = plant.sim.take_events();
        let soe = plant.sim.take_soe();
        let p = plant.sim.pipeline();
        // The safety system's log first: at one instant its trip comes before what it did.
        let mut entries: Vec<Entry> = soe.iter().map(line::soe).collect();
        entries.extend(events.iter().map(|e| line::event(p, e)));
        entries.sort_by_key(Entry::t);
        self.journal.extend(entries);
    }

    fn sample_supply(&mut self) {
        if let Some(plant) = &self.world.devices.pipe {
            self.journal.push(line::sample(self.agenda.now, &plant.sim));
        }
        let o = self.world.sim.observe();
        // Nothing stepped since the last sample (the first one): the frequency now.
        let (f_min, f_max) = self.world.sim.take_frequency_window().unwrap_or((o.f_hz, o.f_hz));
        self.journal.push(Entry::Supply {
            t: self.agenda.now,
            served_mw: round3(o.total.served_mw),
            demand_mw: round3(o.total.demand_mw),
            customers_off: o.total.customers_off,
            ens_mwh: round6(o.total.ens_mwh),
            f_hz: round6(o.f_hz),
            f_min_hz: round6(f_min),
            f_max_hz: round6(f_max),
        });
    }

    /// The host a defender names: by id, or by its address in this run's block when the run's
    /// rules take addresses (`RunConfig::hosts_by_address`).
    fn named_host(&self, named: &str) -> Option<&exercise::Host> {
        if self.setup.cfg.hosts_by_address {
            self.setup.ex.host_named(named, self.setup.cfg.base)
        } else {
            self.setup.ex.host(named)
        }
    }

    fn host_addr(&self, host: &str) -> Ipv4Addr {
        self.setup.ex.host(host).map_or(Ipv4Addr::UNSPECIFIED, |h| h.addr.in_block(self.setup.cfg.base))
    }

    /// A text with each `{addr:HOST}` replaced by that host's address in this run's block.
    fn fill(&self, text: &str) -> String {
        exercise::fill_addresses(text, |h| {
            self.setup.ex.host(h).map(|x| x.addr.in_block(self.setup.cfg.base))
        })
    }

    /// A scripted defender's answer: `{addr:HOST}` as in `fill`, and `{run:FIGURE}` the run's
    /// figure as it stands now (what a good team reads off its displays at that moment).
    fn fill_answer(&self, text: &str) -> String {
        let mut out = self.fill(text);
        while let Some(i) = out.find("{run:") {
            let Some(j) = out[i..].find('}') else { break };
            let name = &out[i + 5..i + j];
            let value = exercise::RunFigure::from_name(name)
                .and_then(|f| score::run_figure(&self.journal, f))
                .unwrap_or_default();
            out.replace_range(i..i + j + 1, &value);
        }
        out
    }

    fn scada_addr(&self) -> Ipv4Addr {
        self.host_addr(&self.setup.ex.scada.host)
    }

    fn station_addr(&self, ca: u16) -> Ipv4Addr {
        self.world
            .devices
            .rtus
            .iter()
            .find(|r| r.station.common_address == ca)
            .map_or(Ipv4Addr::UNSPECIFIED, |r| r.addr)
    }

    fn point_element(&self, p: CommandPoint) -> Option<Element> {
        self.world.devices.rtus.iter().find(|r| r.station.common_address == p.station)?.command_target(p.ioa)
    }

    /// Applies one input (an actor's action or what arrived on a live connection) now.
    pub fn apply(&mut self, input: Input) {
        match input {
            Input::Act { actor, action } => {
                self.act(actor, action);
            }
            Input::Live(live) => {
                // A refusal is journaled; there is nobody to tell here.
                let _ = self.live(live);
            }
        }
    }

    /// Brings a fresh run up to its last input without ending it: each input is applied when
    /// simulated time reaches its instant, as `replay` does, and the run stays at the instant
    /// of the last one (a server that restarts resumes a run from there, paused).
    pub fn catch_up(&mut self, inputs: &[(SimTime, Input)], mut on_step: impl FnMut(&mut Range)) {
        let mut k = 0;
        while !self.agenda.finished {
            while k < inputs.len() && inputs[k].0 <= self.agenda.now {
                self.apply(inputs[k].1.clone());
                k += 1;
            }
            if k == inputs.len() {
                break;
            }
            self.step();
            on_step(self);
        }
    }

    /// Replays `inputs` (from a journal: `Entry::input`) on a fresh run: each is applied
    /// when simulated time reaches its instant, in order, and the run stops at `end` (the
    /// time of the journal's end entry). With the same exercise and configuration, the
    /// journal comes out the same. `on_step` sees the run after every step (to capture).
    pub fn replay(&mut self, inputs: &[(SimTime, Input)], end: SimTime, mut on_step: impl FnMut(&mut Range)) {
        let mut k = 0;
        while !self.agenda.finished {
            while k < inputs.len() && inputs[k].0 <= self.agenda.now {
                self.apply(inputs[k].1.clone());
                k += 1;
            }
            if self.agenda.now >= end {
                self.stop();
            } else {
                self.step();
            }
            on_step(self);
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
