//! The range runtime, pure and stepped: one exercise on one grid with its devices, the SCADA
//! master polling them over IEC 104, the attack campaign, scripted defenders, the IDS and
//! the journal. It reads no clock and opens no socket: `step` advances simulated time, and
//! everything that crossed the network is handed to the shell (`take_wire`) to capture.
//!
//! A run is a pure function of (exercise, seed, defender): the same inputs give the same
//! journal, byte for byte. The journal is the single source of truth: `score::score` and the
//! alerts file are computed from it.

pub mod journal;
pub mod net;
pub mod score;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use devices::{DeviceRef, Devices, Firewall, Prefix, Rule};
use exercise::{
    Action, CommandPoint, DefenderAction, DefenderRule, Exercise, InjectWhen, Resolved, Trigger, Unless, When,
};
use gridsim::sim::{Command, Element, Sim, SimTime};
use ids::Ids;
use proto_iec104::asdu::cot;
use proto_iec104::{Asdu, Frame, Value};

pub use journal::Entry;
use net::{Master104, Station104, Wire, WireEvent};

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
}

impl RunConfig {
    pub fn new(seed: u64, defender: &str, rules: Vec<DefenderRule>) -> RunConfig {
        RunConfig {
            seed,
            base: Ipv4Addr::new(127, 10, 0, 0),
            step: SimTime(100_000),
            defender: defender.to_string(),
            rules,
        }
    }
}

/// What waits for its time.
#[derive(Debug, Clone, PartialEq)]
enum Task {
    Step(usize),
    /// One command of a multi-target step.
    StepCommand {
        step: usize,
        target: usize,
    },
    /// One toggle round of an IOA sweep.
    Toggle {
        step: usize,
        round: u32,
    },
    Defender(usize),
    Inject(usize),
    Crew {
        point: CommandPoint,
        close: bool,
    },
    FirmwareRestored(String),
}

#[derive(Debug)]
enum Server {
    Iec104 { rtu: usize, station: Station104 },
    Modbus(DeviceRef),
    Dnp3 { recloser: usize },
    Http { gateway: usize },
}

#[derive(Debug)]
struct Conn {
    id: u32,
    client: SocketAddrV4,
    server: SocketAddrV4,
    open: bool,
    master: Master104,
    side: Server,
    transaction: u16,
    /// IEC 104 ASDUs the client received and has not read yet.
    inbox: Vec<Vec<u8>>,
}

/// A running exercise.
#[derive(Debug)]
pub struct Range {
    pub ex: Exercise,
    cfg: RunConfig,
    pub sim: Sim,
    pub devices: Devices,
    firewall: Firewall,
    t: SimTime,
    journal: Vec<Entry>,
    wire: Vec<Wire>,
    packets: u64,
    ids: Ids,
    conns: Vec<Conn>,
    /// Per polled station (index into `ex.scada.stations`): its connection.
    scada_conns: Vec<Option<usize>>,
    scada_alive: bool,
    next_gi: SimTime,
    agenda: BTreeMap<(SimTime, u64), Task>,
    seq: u64,
    started: BTreeMap<String, SimTime>,
    disabled: Vec<String>,
    alert_rules_seen: Vec<String>,
    opened_by_attack: Vec<CommandPoint>,
    /// Per sweep step: the IOAs that answered positively.
    swept: BTreeMap<usize, Vec<u32>>,
    next_supply: SimTime,
    next_port: u16,
    rng: u64,
    finished: bool,
    /// Injects whose condition has been met (each arrives once).
    injects_due: Vec<bool>,
    /// Capture packets before the exchange the next command entry describes.
    mark: u64,
}

fn secs(t: SimTime) -> f64 {
    // Microseconds to seconds, rounded to the microsecond so the journal prints stably.
    t.0 as f64 / 1e6
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
    pub fn new(ex: Exercise, grid: Resolved, cfg: RunConfig) -> Range {
        let Resolved { sim, devices: _ } = grid;
        let mut devices = devices::default_devices(&sim, cfg.base).unwrap_or_default();
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
        let masters =
            vec![ex.host(&ex.scada.host).map_or(Ipv4Addr::UNSPECIFIED, |h| h.addr.in_block(cfg.base))];
        let allowlist =
            ex.allowlist.iter().filter_map(|h| ex.host(h)).map(|h| h.addr.in_block(cfg.base)).collect();
        let gateways = devices.gateways.iter().map(|g| g.addr).collect();
        let sbo_stations = ex.device_settings.sbo_required.clone();
        let ids = Ids::new(ids::Config { allowlist, masters, gateways, sbo_stations });
        let obs = sim.observe();
        let mut r = Range {
            scada_conns: vec![None; ex.scada.stations.len()],
            scada_alive: true,
            next_gi: SimTime(0),
            agenda: BTreeMap::new(),
            seq: 0,
            started: BTreeMap::new(),
            disabled: Vec::new(),
            alert_rules_seen: Vec::new(),
            opened_by_attack: Vec::new(),
            swept: BTreeMap::new(),
            next_supply: SimTime(0),
            next_port: 40_000,
            rng: cfg.seed ^ 0x1C5_2A4E,
            finished: false,
            injects_due: vec![false; ex.injects.len()],
            mark: 0,
            firewall: Firewall { rules: Vec::new(), default_allow: true },
            t: SimTime(0),
            journal: vec![Entry::Start {
                t: 0.0,
                exercise: ex.id.clone(),
                seed: cfg.seed,
                defender: cfg.defender.clone(),
                base: cfg.base.to_string(),
                demand_mw: obs.total.demand_mw,
                customers: obs.total.customers,
            }],
            wire: Vec::new(),
            packets: 0,
            ids,
            conns: Vec::new(),
            sim,
            devices,
            ex,
            cfg,
        };
        r.plan();
        r
    }

    /// Puts the campaign, the injects and the defender's timed rules on the agenda.
    fn plan(&mut self) {
        let mut starts: BTreeMap<String, SimTime> = BTreeMap::new();
        for i in 0..self.ex.attack.len() {
            let s = &self.ex.attack[i];
            let base = match &s.when {
                When::At(t) => *t,
                When::After { step, delay } => {
                    SimTime(starts.get(step).map_or(0, |t| t.0).saturating_add(delay.0))
                }
            };
            let jitter = if s.jitter.0 > 0 {
                next_random(&mut self.rng) % s.jitter.0.saturating_add(1).max(1)
            } else {
                0
            };
            let at = SimTime(base.0.saturating_add(jitter));
            starts.insert(s.id.clone(), at);
            self.schedule(at, Task::Step(i));
        }
        for i in 0..self.ex.injects.len() {
            if let InjectWhen::At(t) = self.ex.injects[i].when {
                self.schedule(t, Task::Inject(i));
            }
        }
        for i in 0..self.cfg.rules.len() {
            if let Trigger::At(t) = self.cfg.rules[i].trigger {
                self.schedule(t, Task::Defender(i));
            }
        }
    }

    /// Schedules the injects whose condition `matches` (once each), after their delay.
    fn trigger_injects(&mut self, matches: impl Fn(&InjectWhen) -> Option<SimTime>) {
        for i in 0..self.ex.injects.len() {
            if self.injects_due[i] {
                continue;
            }
            if let Some(delay) = matches(&self.ex.injects[i].when) {
                self.injects_due[i] = true;
                self.schedule(SimTime(self.t.0.saturating_add(delay.0)), Task::Inject(i));
            }
        }
    }

    fn schedule(&mut self, at: SimTime, task: Task) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), task);
    }

    pub fn time(&self) -> SimTime {
        self.t
    }

    pub fn journal(&self) -> &[Entry] {
        &self.journal
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// What crossed the network since the last call, in order.
    pub fn take_wire(&mut self) -> Vec<Wire> {
        std::mem::take(&mut self.wire)
    }

    /// Capture packets so far (the frame numbers alerts cite run up to it).
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Runs until the exercise's end.
    pub fn run_to_end(&mut self) {
        while !self.finished {
            self.step();
        }
    }

    /// Advances one step (or to the next due task, whichever is sooner).
    pub fn step(&mut self) {
        if self.finished {
            return;
        }
        let end = self.ex.duration;
        if self.t.0 == 0 && self.conns.is_empty() {
            self.tick();
        }
        let mut next = SimTime(self.t.0.saturating_add(self.cfg.step.0.max(1)).min(end.0));
        if let Some((&(due, _), _)) = self.agenda.iter().next() {
            if due > self.t && due < next {
                next = due;
            }
        }
        self.sim.step(SimTime(next.0 - self.t.0));
        let dt = SimTime(next.0 - self.t.0);
        self.t = next;
        let events = self.sim.take_events();
        for e in &events {
            self.journal.push(Entry::Grid {
                t: secs(e.t),
                event: e.kind.as_str().to_string(),
                element: e.element.to_string(),
                cause: e.cause.as_str().to_string(),
                mw: e.mw,
                customers: e.customers,
            });
        }
        self.devices.step(&self.sim, dt, &events);
        self.tick();
        if self.t >= end {
            let sampled_now =
                matches!(self.journal.last(), Some(Entry::Supply { t, .. }) if *t == secs(self.t));
            if !sampled_now {
                self.sample_supply();
            }
            self.journal.push(Entry::End { t: secs(self.t) });
            self.finished = true;
        }
    }

    /// Everything due at the current time: tasks, the SCADA master, device sessions, supply.
    fn tick(&mut self) {
        if self.ex.injects.iter().any(|i| matches!(i.when, InjectWhen::CustomersOff { .. })) {
            let off = self.sim.observe().total.customers_off;
            self.trigger_injects(|w| match w {
                InjectWhen::CustomersOff { over, delay } if off > *over => Some(*delay),
                _ => None,
            });
        }
        while let Some((&(due, seq), _)) = self.agenda.iter().next() {
            if due > self.t {
                break;
            }
            let Some(task) = self.agenda.remove(&(due, seq)) else { break };
            self.run_task(task);
        }
        self.scada_poll();
        self.pump_stations();
        if self.t >= self.next_supply {
            self.sample_supply();
            self.next_supply = SimTime(self.next_supply.0 + 60_000_000);
        }
    }

    fn sample_supply(&mut self) {
        let o = self.sim.observe();
        self.journal.push(Entry::Supply {
            t: secs(self.t),
            served_mw: round3(o.total.served_mw),
            demand_mw: round3(o.total.demand_mw),
            customers_off: o.total.customers_off,
            ens_mwh: round6(o.total.ens_mwh),
        });
    }

    fn host_addr(&self, host: &str) -> Ipv4Addr {
        self.ex.host(host).map_or(Ipv4Addr::UNSPECIFIED, |h| h.addr.in_block(self.cfg.base))
    }

    fn scada_addr(&self) -> Ipv4Addr {
        self.host_addr(&self.ex.scada.host.clone())
    }

    // ---- the network -------------------------------------------------------------------

    fn record(&mut self, conn: usize, event: WireEvent) {
        let c = &self.conns[conn];
        let w = Wire { t: self.t, conn: c.id, client: c.client, server: c.server, event };
        let first = self.packets + 1;
        self.packets += w.packets();
        let payload = match &w.event {
            WireEvent::ToServer(b) => Some((c.client, c.server, b)),
            WireEvent::ToClient(b) => Some((c.server, c.client, b)),
            _ => None,
        };
        if let Some((src, dst, bytes)) = payload {
            self.ids.observe(&ids::Packet { number: first, t: self.t, src, dst, payload: bytes });
            self.collect_alerts();
        }
        self.wire.push(w);
    }

    fn collect_alerts(&mut self) {
        for a in self.ids.take_alerts() {
            self.journal.push(Entry::Alert {
                t: secs(a.t),
                rule: a.rule.to_string(),
                techniques: a.techniques.iter().map(|s| s.to_string()).collect(),
                src: a.src.to_string(),
                dst: a.dst.to_string(),
                evidence: a.evidence,
                message: a.message,
            });
            if !self.alert_rules_seen.iter().any(|r| r == a.rule) {
                self.alert_rules_seen.push(a.rule.to_string());
                self.trigger_injects(|w| match w {
                    InjectWhen::OnAlert { rule, delay } if rule == a.rule => Some(*delay),
                    _ => None,
                });
                for i in 0..self.cfg.rules.len() {
                    if let Trigger::OnAlert { rule, delay } = &self.cfg.rules[i].trigger {
                        if rule == a.rule {
                            let at = SimTime(self.t.0.saturating_add(delay.0));
                            self.schedule(at, Task::Defender(i));
                        }
                    }
                }
            }
        }
    }

    /// Opens a connection from `client` to the device at `server`; `Err` says why not (the
    /// firewall dropped it, or nothing answers there).
    fn connect(
        &mut self,
        client: Ipv4Addr,
        server: Ipv4Addr,
        port: u16,
        side: Server,
    ) -> Result<usize, String> {
        if !self.firewall.permits(client, server) {
            return Err("blocked by the range firewall".into());
        }
        let port_client = self.next_port;
        self.next_port = if self.next_port >= 60_000 { 40_000 } else { self.next_port + 1 };
        let id = self.conns.len() as u32 + 1;
        self.conns.push(Conn {
            id,
            client: SocketAddrV4::new(client, port_client),
            server: SocketAddrV4::new(server, port),
            open: true,
            master: Master104::default(),
            side,
            transaction: 0,
            inbox: Vec::new(),
        });
        let c = self.conns.len() - 1;
        self.record(c, WireEvent::Open);
        let reachable = match &self.conns[c].side {
            Server::Iec104 { rtu, .. } => self.devices.reachable(DeviceRef::Rtu(*rtu)),
            Server::Modbus(d) => self.devices.reachable(*d),
            Server::Dnp3 { recloser } => self.devices.reachable(DeviceRef::Recloser(*recloser)),
            Server::Http { gateway } => self.devices.reachable(DeviceRef::Gateway(*gateway)),
        };
        if !reachable {
            self.close(c, false);
            return Err("the device does not answer".into());
        }
        Ok(c)
    }

    fn close(&mut self, c: usize, by_client: bool) {
        if self.conns[c].open {
            self.conns[c].open = false;
            self.record(c, WireEvent::Close { by_client });
        }
    }

    /// Sends IEC 104 bytes from the master and runs the exchange until both sides are quiet.
    /// Returns the ASDUs the master received.
    fn exchange104(&mut self, c: usize, mut to_station: Vec<u8>) -> Vec<Vec<u8>> {
        let mut received = Vec::new();
        for _ in 0..10_000 {
            if !self.conns[c].open {
                break;
            }
            let mut frames: Vec<Frame> = Vec::new();
            if !to_station.is_empty() {
                self.record(c, WireEvent::ToServer(to_station.clone()));
                let Server::Iec104 { rtu, .. } = self.conns[c].side else { break };
                if !self.devices.reachable(DeviceRef::Rtu(rtu)) {
                    self.close(c, false);
                    break;
                }
                let now = self.t;
                let asdus = match &mut self.conns[c].side {
                    Server::Iec104 { station, .. } => station.receive(now, &to_station, &mut frames),
                    _ => Ok(Vec::new()),
                };
                match asdus {
                    Err(_) => {
                        self.close(c, false);
                        break;
                    }
                    Ok(asdus) => {
                        for asdu in asdus {
                            let mut answers = Vec::new();
                            self.devices.rtus[rtu].handle(&mut self.sim, now.0, &asdu, &mut answers);
                            if let Server::Iec104 { station, .. } = &mut self.conns[c].side {
                                station.queue.extend(answers);
                            }
                        }
                    }
                }
            }
            let now = self.t;
            let rtu_index = match &self.conns[c].side {
                Server::Iec104 { rtu, .. } => *rtu,
                _ => break,
            };
            let end_of_init = self.devices.rtus[rtu_index].station.end_of_init();
            if let Server::Iec104 { station, .. } = &mut self.conns[c].side {
                if station.session.started() && !station.announced {
                    station.queue.push_front(end_of_init);
                    station.announced = true;
                }
                station.flush(now, &mut frames);
            }
            if frames.is_empty() {
                break;
            }
            let bytes = net::emit_frames(&frames);
            self.record(c, WireEvent::ToClient(bytes.clone()));
            let mut asdus = Vec::new();
            to_station = self.conns[c].master.receive(&bytes, &mut asdus);
            received.extend(asdus);
        }
        self.conns[c].inbox.extend(received.iter().cloned());
        received
    }

    /// Connects an IEC 104 master to the RTU with common address `ca` and starts data transfer.
    fn open104(&mut self, client: Ipv4Addr, ca: u16) -> Result<usize, String> {
        let rtu = self
            .devices
            .rtus
            .iter()
            .position(|r| r.station.common_address == ca)
            .ok_or_else(|| format!("no station {ca}"))?;
        let addr = self.devices.rtus[rtu].addr;
        let cursor = self.devices.rtus[rtu].event_cursor();
        let c = self.connect(
            client,
            addr,
            2404,
            Server::Iec104 { rtu, station: Station104::new(self.t, cursor) },
        )?;
        let start = self.conns[c].master.startdt();
        self.exchange104(c, start);
        if self.conns[c].open { Ok(c) } else { Err("the station closed the connection".into()) }
    }

    /// Sends one ASDU from the master of connection `c`; the ASDUs that came back.
    fn send104(&mut self, c: usize, asdu: &Asdu) -> Vec<Vec<u8>> {
        let mut raw = Vec::new();
        asdu.emit(&mut raw);
        let bytes = self.conns[c].master.send(raw);
        self.exchange104(c, bytes)
    }

    /// A double command through connection `c`, select then execute (or direct): whether the
    /// station confirmed it positively.
    fn double_command(&mut self, c: usize, p: CommandPoint, close: bool, select: bool) -> bool {
        let state = if close { 2 } else { 1 };
        let mut phases = Vec::new();
        if select {
            phases.push(true);
        }
        phases.push(false);
        for sel in phases {
            let asdu = Asdu::new(
                cot::ACTIVATION,
                p.station,
                vec![(p.ioa, Value::DoubleCommand { state, select: sel, qualifier: 0 })],
            );
            let back = self.send104(c, &asdu);
            let confirmed = back.iter().filter_map(|b| Asdu::parse(b).ok()).any(|a| {
                a.type_id == proto_iec104::asdu::type_id::C_DC_NA_1
                    && a.cause == cot::ACTIVATION_CON
                    && !a.negative
            });
            if !confirmed {
                return false;
            }
        }
        true
    }

    /// Modbus request from `client` to a Modbus device; the response PDU.
    fn modbus(
        &mut self,
        client: Ipv4Addr,
        d: DeviceRef,
        addr: Ipv4Addr,
        pdu: &[u8],
    ) -> Result<Vec<u8>, String> {
        let c = self.connect(client, addr, 502, Server::Modbus(d))?;
        self.conns[c].transaction = self.conns[c].transaction.wrapping_add(1);
        let mut adu = Vec::new();
        proto_modbus::adu::emit(self.conns[c].transaction, 1, pdu, &mut adu);
        self.record(c, WireEvent::ToServer(adu));
        let response = self.devices.modbus(&mut self.sim, d, 1, pdu);
        let out = match response {
            Some(r) => {
                let mut p = Vec::new();
                r.emit(&mut p);
                let mut adu = Vec::new();
                proto_modbus::adu::emit(self.conns[c].transaction, 1, &p, &mut adu);
                self.record(c, WireEvent::ToClient(adu));
                Ok(p)
            }
            None => Err("no answer".to_string()),
        };
        self.close(c, true);
        out
    }

    // ---- the SCADA master --------------------------------------------------------------

    /// Connects to every polled station (again, where a connection broke) and interrogates
    /// them at start and every `interrogation`.
    fn scada_poll(&mut self) {
        if !self.scada_alive || self.t < self.next_gi {
            return;
        }
        self.next_gi = SimTime(self.t.0.saturating_add(self.ex.scada.interrogation.0.max(1)));
        let master = self.scada_addr();
        for i in 0..self.ex.scada.stations.len() {
            let ca = self.ex.scada.stations[i];
            let c = match self.scada_conns[i] {
                Some(c) if self.conns[c].open => c,
                _ => match self.open104(master, ca) {
                    Ok(c) => {
                        self.scada_conns[i] = Some(c);
                        c
                    }
                    Err(_) => continue,
                },
            };
            let gi = Asdu::new(cot::ACTIVATION, ca, vec![(0, Value::Interrogation { qoi: 20 })]);
            self.send104(c, &gi);
            self.conns[c].inbox.clear();
        }
    }

    /// Device side of every IEC 104 connection: spontaneous reports and timers.
    fn pump_stations(&mut self) {
        for c in 0..self.conns.len() {
            if !self.conns[c].open {
                continue;
            }
            let Server::Iec104 { rtu, .. } = self.conns[c].side else { continue };
            if !self.devices.reachable(DeviceRef::Rtu(rtu)) {
                // The device went dark: its connections die.
                self.close(c, false);
                continue;
            }
            let mut events = Vec::new();
            let now = self.t;
            let mut frames = Vec::new();
            let cursor = match &self.conns[c].side {
                Server::Iec104 { station, .. } => station.cursor,
                _ => 0,
            };
            let new_cursor = self.devices.rtus[rtu].events_since(cursor, &mut events);
            let mut broken = false;
            if let Server::Iec104 { station, .. } = &mut self.conns[c].side {
                station.cursor = new_cursor;
                if station.session.started() {
                    station.queue.extend(events);
                }
                if station.session.poll(now.0, &mut frames).is_err() {
                    broken = true;
                }
                station.flush(now, &mut frames);
            }
            if broken {
                self.close(c, false);
                continue;
            }
            if !frames.is_empty() {
                let bytes = net::emit_frames(&frames);
                self.record(c, WireEvent::ToClient(bytes.clone()));
                let mut asdus = Vec::new();
                let reply = self.conns[c].master.receive(&bytes, &mut asdus);
                self.conns[c].inbox.clear();
                if !reply.is_empty() {
                    self.exchange104(c, reply);
                    self.conns[c].inbox.clear();
                }
            }
        }
    }

    /// The SCADA master's connection to station `ca`, if it has one open.
    fn scada_conn(&self, ca: u16) -> Option<usize> {
        if !self.scada_alive {
            return None;
        }
        let i = self.ex.scada.stations.iter().position(|&s| s == ca)?;
        self.scada_conns[i].filter(|&c| self.conns[c].open)
    }

    // ---- tasks -------------------------------------------------------------------------

    fn run_task(&mut self, task: Task) {
        self.mark = self.packets;
        match task {
            Task::Step(i) => self.start_step(i),
            Task::StepCommand { step, target } => self.step_command(step, target),
            Task::Toggle { step, round } => self.toggle(step, round),
            Task::Defender(i) => self.defend(i),
            Task::Inject(i) => {
                let inj = &self.ex.injects[i];
                self.journal.push(Entry::Inject {
                    t: secs(self.t),
                    id: inj.id.clone(),
                    channel: inj.channel.clone(),
                    from: inj.from.clone(),
                    subject: inj.subject.clone(),
                });
            }
            Task::Crew { point, close } => {
                let target = self.point_element(point);
                let status = match target {
                    Some(el) => {
                        let cmd = if close { Command::Close(el) } else { Command::Open(el) };
                        match devices::operate(&mut self.sim, cmd, devices::OperatingTime::CIRCUIT_BREAKER) {
                            Ok(()) => "operated by hand".to_string(),
                            Err(e) => format!("could not operate: {e}"),
                        }
                    }
                    None => "no such breaker".to_string(),
                };
                self.journal.push(Entry::Crew {
                    t: secs(self.t),
                    station: point.station,
                    ioa: point.ioa,
                    close,
                    status,
                });
            }
            Task::FirmwareRestored(substation) => {
                if let Some(g) =
                    self.devices.gateways.iter().find(|g| g.substation == substation).map(|g| g.addr)
                {
                    self.devices.set_state(g, |s| s.firmware_ok = true);
                    self.journal.push(Entry::Device {
                        t: secs(self.t),
                        device: format!("{substation} serial gateway"),
                        addr: g.to_string(),
                        change: "firmware restored".into(),
                    });
                }
            }
        }
    }

    /// Breakers open now that the attack opened, or protection (UFLS, unit trips, relays)
    /// opened after it: branches first (to re-energise), then units, then feeders.
    fn to_reclose(&self) -> Vec<CommandPoint> {
        let mut elements: Vec<Element> =
            self.opened_by_attack.iter().filter_map(|&p| self.point_element(p)).collect();
        for e in &self.journal {
            if let Entry::Grid { event, element, cause, .. } = e {
                if (event == "open" || event == "shed") && cause != "command" {
                    if let Ok(el) = element.parse::<Element>() {
                        elements.push(el);
                    }
                }
            }
        }
        let rank = |el: &Element| match el {
            Element::Branch(_) => 0,
            Element::Gen(_) => 1,
            _ => 2,
        };
        elements.sort_by_key(|el| (rank(el), format!("{el}")));
        elements.dedup();
        let mut points = Vec::new();
        for el in elements {
            let open = match el {
                Element::Branch(r) => self.sim.branch_closed(r) == Some(false),
                Element::Gen(r) => self.sim.gen_closed(r) == Some(false),
                Element::Load(b) => {
                    let shed = self.sim.case().bus_idx(b).and_then(|i| self.sim.load_shed(i)).unwrap_or(0.0);
                    self.sim.load_closed(b) == Some(false) || shed > 0.0
                }
                Element::Island(_) => false,
            };
            if !open {
                continue;
            }
            if let Some(p) = self.devices.rtus.iter().find_map(|r| {
                r.command_for(el).map(|ioa| CommandPoint { station: r.station.common_address, ioa })
            }) {
                points.push(p);
            }
        }
        points
    }

    fn point_element(&self, p: CommandPoint) -> Option<Element> {
        self.devices.rtus.iter().find(|r| r.station.common_address == p.station)?.command_target(p.ioa)
    }

    fn prevented(&self, unless: &[Unless]) -> Option<String> {
        for u in unless {
            match u {
                Unless::AccountDisabled(a) if self.disabled.contains(a) => {
                    return Some(format!("account {a} is disabled"));
                }
                Unless::Blocked(h) => {
                    let addr = self.host_addr(h);
                    let blocked = self.firewall.rules.iter().any(|r| !r.allow && r.source.contains(addr));
                    if blocked {
                        return Some(format!("{h} ({addr}) is blocked at the firewall"));
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn start_step(&mut self, i: usize) {
        let step = self.ex.attack[i].clone();
        // A step that follows another happens only if that one did.
        let after_prevented = match &step.when {
            When::After { step: before, .. } if !self.started.contains_key(before) => {
                Some(format!("it follows `{before}`, which did not happen"))
            }
            _ => None,
        };
        if let Some(reason) = after_prevented.or_else(|| self.prevented(&step.unless)) {
            self.journal.push(Entry::AttackPrevented { t: secs(self.t), step: step.id.clone(), reason });
            return;
        }
        self.started.insert(step.id.clone(), self.t);
        let id = step.id.clone();
        self.trigger_injects(|w| match w {
            InjectWhen::AfterStep { step, delay } if *step == id => Some(*delay),
            _ => None,
        });
        self.journal.push(Entry::Attack {
            t: secs(self.t),
            step: step.id.clone(),
            name: step.name.clone(),
            action: step.action.kind().to_string(),
            techniques: step.techniques.clone(),
            on_wire: step.action.on_wire(),
        });
        match &step.action {
            Action::It(ev) => {
                self.journal.push(Entry::It {
                    t: secs(self.t),
                    step: step.id.clone(),
                    event: ev.kind.clone(),
                    host: ev.host.clone(),
                    account: ev.account.clone(),
                    artefact: ev.artefact.clone(),
                });
            }
            Action::HmiHijack { targets, spread, .. } | Action::Iec104Commands { targets, spread, .. } => {
                let n = targets.len();
                for k in 0..n {
                    let offset = if n > 1 { spread.0 / (n as u64 - 1) * k as u64 } else { 0 };
                    self.schedule(
                        SimTime(self.t.0.saturating_add(offset)),
                        Task::StepCommand { step: i, target: k },
                    );
                }
            }
            Action::IoaSweep { from, station, double, first, last, period, toggles } => {
                let src = self.host_addr(from);
                let mut found = Vec::new();
                match self.open104(src, *station) {
                    Ok(c) => {
                        for ioa in *first..=*last {
                            let value = if *double {
                                Value::DoubleCommand { state: 1, select: true, qualifier: 0 }
                            } else {
                                Value::SingleCommand { on: false, select: true, qualifier: 0 }
                            };
                            let asdu = Asdu::new(cot::ACTIVATION, *station, vec![(ioa, value)]);
                            let back = self.send104(c, &asdu);
                            let positive = back
                                .iter()
                                .filter_map(|b| Asdu::parse(b).ok())
                                .any(|a| a.cause == cot::ACTIVATION_CON && !a.negative);
                            if positive {
                                found.push(ioa);
                            }
                            if !self.conns[c].open {
                                break;
                            }
                        }
                        self.close(c, true);
                        self.command_entry(
                            &step.id,
                            "iec104",
                            src,
                            self.station_addr(*station),
                            Some(*station),
                            format!(
                                "{} select sweep of IOAs {first}..{last}",
                                if *double { "C_DC_NA_1" } else { "C_SC_NA_1" }
                            ),
                            "attacker",
                            format!("{} IOAs answered positively", found.len()),
                        );
                    }
                    Err(why) => self.command_entry(
                        &step.id,
                        "iec104",
                        src,
                        self.station_addr(*station),
                        Some(*station),
                        "sweep".into(),
                        "attacker",
                        why,
                    ),
                }
                self.swept.insert(i, found);
                for round in 0..*toggles {
                    self.schedule(
                        SimTime(self.t.0.saturating_add(period.0.saturating_mul(u64::from(round) + 1))),
                        Task::Toggle { step: i, round },
                    );
                }
            }
            Action::Dnp3Operate { from, feeders, close } => {
                let src = self.host_addr(from);
                for f in feeders {
                    self.dnp3_operate(&step.id, src, *f, *close);
                }
            }
            Action::ModbusWrite { from, device, coil, value } => {
                let src = self.host_addr(from);
                let addr = device.in_block(self.cfg.base);
                let pdu = [5, (coil >> 8) as u8, *coil as u8, if *value { 0xFF } else { 0 }, 0];
                self.modbus_step(
                    &step.id,
                    src,
                    addr,
                    &pdu,
                    format!("FC 5 coil {coil} = {}", u8::from(*value)),
                );
            }
            Action::ModbusRestart { from, device } => {
                let src = self.host_addr(from);
                let addr = device.in_block(self.cfg.base);
                self.modbus_step(
                    &step.id,
                    src,
                    addr,
                    &[8, 0, 1, 0, 0],
                    "FC 8/1 restart communications".into(),
                );
            }
            Action::Firmware { from, substations } => {
                let src = self.host_addr(from);
                for s in substations {
                    self.firmware(&step.id, src, s);
                }
            }
            Action::UpsOff { from, substations } => {
                let src = self.host_addr(from);
                for s in substations {
                    let Some(u) =
                        self.devices.upss.iter().find(|u| u.name == format!("{s} UPS")).map(|u| u.addr)
                    else {
                        continue;
                    };
                    self.modbus_step(
                        &step.id,
                        src,
                        u,
                        &[5, 0, 0, 0, 0],
                        format!("FC 5 coil 0 = 0 (UPS output off), {s}"),
                    );
                }
            }
            Action::Wipe { host } => {
                self.scada_alive = false;
                for k in 0..self.scada_conns.len() {
                    if let Some(c) = self.scada_conns[k].take() {
                        self.close(c, true);
                    }
                }
                self.journal.push(Entry::Device {
                    t: secs(self.t),
                    device: host.clone(),
                    addr: self.host_addr(host).to_string(),
                    change: "wiped: the SCADA master stops (loss of view and control)".into(),
                });
            }
        }
    }

    fn station_addr(&self, ca: u16) -> Ipv4Addr {
        self.devices
            .rtus
            .iter()
            .find(|r| r.station.common_address == ca)
            .map_or(Ipv4Addr::UNSPECIFIED, |r| r.addr)
    }

    #[allow(clippy::too_many_arguments)]
    fn command_entry(
        &mut self,
        step: &str,
        protocol: &str,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        station: Option<u16>,
        detail: String,
        by: &str,
        outcome: String,
    ) {
        let frames = (self.packets > self.mark).then_some((self.mark + 1, self.packets));
        self.mark = self.packets;
        self.journal.push(Entry::Command {
            t: secs(self.t),
            protocol: protocol.into(),
            src: src.to_string(),
            dst: dst.to_string(),
            station,
            detail,
            by: by.into(),
            step: (!step.is_empty()).then(|| step.to_string()),
            outcome,
            frames,
        });
    }

    fn modbus_step(&mut self, step: &str, src: Ipv4Addr, addr: Ipv4Addr, pdu: &[u8], detail: String) {
        let Some(d) = self.devices.at(addr) else {
            self.command_entry(step, "modbus", src, addr, None, detail, "attacker", "no device there".into());
            return;
        };
        let outcome = match self.modbus(src, d, addr, pdu) {
            Ok(resp) if resp.first().is_some_and(|f| f & 0x80 != 0) => {
                format!("exception {:02x}", resp.get(1).copied().unwrap_or(0))
            }
            Ok(_) => "accepted".into(),
            Err(e) => e,
        };
        self.command_entry(step, "modbus", src, addr, None, detail, "attacker", outcome);
    }

    fn step_command(&mut self, i: usize, target: usize) {
        let step = self.ex.attack[i].clone();
        if let Some(reason) = self.prevented(&step.unless) {
            // Report once per step.
            if !self
                .journal
                .iter()
                .any(|e| matches!(e, Entry::AttackPrevented { step: s, .. } if *s == step.id))
            {
                self.journal.push(Entry::AttackPrevented { t: secs(self.t), step: step.id.clone(), reason });
            }
            return;
        }
        match &step.action {
            Action::HmiHijack { account, targets, close, .. } => {
                let p = targets[target];
                let master = self.scada_addr();
                let outcome = match self.scada_conn(p.station) {
                    Some(c) => if self.double_command(c, p, *close, true) { "confirmed" } else { "refused" }
                        .to_string(),
                    None => "the SCADA master has no session to the station".to_string(),
                };
                if outcome == "confirmed" && !*close {
                    self.opened_by_attack.push(p);
                }
                self.command_entry(
                    &step.id,
                    "iec104",
                    master,
                    self.station_addr(p.station),
                    Some(p.station),
                    format!(
                        "C_DC_NA_1 {} IOA {} via the HMI as {account}",
                        if *close { "close" } else { "open" },
                        p.ioa
                    ),
                    "hijack",
                    outcome,
                );
            }
            Action::Iec104Commands { from, targets, close, select, .. } => {
                let p = targets[target];
                let src = self.host_addr(from);
                let outcome = match self.open104(src, p.station) {
                    Ok(c) => {
                        let ok = self.double_command(c, p, *close, *select);
                        self.close(c, true);
                        if ok && !*close {
                            self.opened_by_attack.push(p);
                        }
                        if ok { "confirmed" } else { "refused" }.to_string()
                    }
                    Err(e) => e,
                };
                self.command_entry(
                    &step.id,
                    "iec104",
                    src,
                    self.station_addr(p.station),
                    Some(p.station),
                    format!("C_DC_NA_1 {} IOA {}", if *close { "close" } else { "open" }, p.ioa),
                    "attacker",
                    outcome,
                );
            }
            _ => {}
        }
    }

    fn toggle(&mut self, i: usize, round: u32) {
        let step = self.ex.attack[i].clone();
        if self.prevented(&step.unless).is_some() {
            return;
        }
        let Action::IoaSweep { from, station, double, .. } = &step.action else { return };
        let found = self.swept.get(&i).cloned().unwrap_or_default();
        if found.is_empty() {
            return;
        }
        let src = self.host_addr(from);
        let on = round % 2 == 1;
        let Ok(c) = self.open104(src, *station) else { return };
        for ioa in found {
            if *double {
                let p = CommandPoint { station: *station, ioa };
                if self.double_command(c, p, on, true) && !on {
                    self.opened_by_attack.push(p);
                }
                continue;
            }
            for sel in [true, false] {
                let asdu = Asdu::new(
                    cot::ACTIVATION,
                    *station,
                    vec![(ioa, Value::SingleCommand { on, select: sel, qualifier: 0 })],
                );
                self.send104(c, &asdu);
            }
        }
        self.close(c, true);
        self.command_entry(
            &step.id,
            "iec104",
            src,
            self.station_addr(*station),
            Some(*station),
            format!(
                "toggle round {round}: {} {}",
                if *double { "C_DC_NA_1" } else { "C_SC_NA_1" },
                if on { "on" } else { "off" }
            ),
            "attacker",
            "sent".into(),
        );
    }

    fn dnp3_operate(&mut self, step: &str, src: Ipv4Addr, feeder: gridsim::BusId, close: bool) {
        let Some(k) = self.devices.reclosers.iter().position(|r| r.load == feeder) else { return };
        let addr = self.devices.reclosers[k].addr;
        let detail = format!(
            "DIRECT_OPERATE CROB {} feeder {}",
            if close { "LATCH_ON" } else { "LATCH_OFF" },
            feeder.0
        );
        let c = match self.connect(src, addr, 20000, Server::Dnp3 { recloser: k }) {
            Ok(c) => c,
            Err(e) => {
                self.command_entry(step, "dnp3", src, addr, None, detail, "attacker", e);
                return;
            }
        };
        let code = if close { 0x03 } else { 0x04 };
        let app = [0xC0u8, 0x05, 12, 1, 0x28, 1, 0, 0, 0, code, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let request = dnp3_frames(&app, 10, 1, true);
        self.record(c, WireEvent::ToServer(request));
        let now_ms = self.t.0 / 1000;
        let response = self.devices.reclosers[k].handle(&mut self.sim, now_ms, &app);
        let outcome = match response {
            Some(resp) => {
                let status = resp.last().copied().unwrap_or(0xFF);
                self.record(c, WireEvent::ToClient(dnp3_frames(&resp, 1, 10, false)));
                format!("CROB status {status}")
            }
            None => "no answer".into(),
        };
        self.close(c, true);
        self.command_entry(step, "dnp3", src, addr, None, detail, "attacker", outcome);
    }

    fn firmware(&mut self, step: &str, src: Ipv4Addr, substation: &str) {
        let Some(g) = self.devices.gateways.iter().position(|g| g.substation == substation) else { return };
        let addr = self.devices.gateways[g].addr;
        let c = match self.connect(src, addr, 80, Server::Http { gateway: g }) {
            Ok(c) => c,
            Err(e) => {
                self.command_entry(step, "http", src, addr, None, "firmware upload".into(), "attacker", e);
                return;
            }
        };
        // A firmware image: a header, then filler derived from the seed (no real code).
        let mut image = b"\x7fFWIMG NPort-5150 v9.9 (corrupt)\n".to_vec();
        let mut state = self.cfg.seed ^ u64::from(u32::from(addr));
        while image.len() < 16 * 1024 {
            image.extend_from_slice(&next_random(&mut state).to_le_bytes());
        }
        let mut request = format!(
            "POST /upgrade.cgi HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"firmware.rom\"\r\nContent-Length: {}\r\n\r\n",
            image.len()
        )
        .into_bytes();
        request.extend_from_slice(&image);
        self.record(c, WireEvent::ToServer(request));
        let body = "Firmware upgrade in progress; the device restarts.\r\n";
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        self.record(c, WireEvent::ToClient(response.into_bytes()));
        self.close(c, false);
        self.devices.set_state(addr, |s| s.firmware_ok = false);
        self.command_entry(
            step,
            "http",
            src,
            addr,
            None,
            format!("firmware upload to {substation} serial gateway"),
            "attacker",
            "accepted".into(),
        );
        self.journal.push(Entry::Device {
            t: secs(self.t),
            device: format!("{substation} serial gateway"),
            addr: addr.to_string(),
            change: "firmware corrupt: the gateway and the devices behind it go dark".into(),
        });
    }

    // ---- defenders ---------------------------------------------------------------------

    fn defend(&mut self, i: usize) {
        let action = self.cfg.rules[i].action.clone();
        self.act(action);
    }

    /// A defender's action, now. The web platform calls this for trainees' actions.
    pub fn act(&mut self, action: DefenderAction) {
        let t = secs(self.t);
        match action {
            DefenderAction::Operate { point, close } => {
                self.operate(point, close);
            }
            DefenderAction::CloseOpened => {
                let points = self.to_reclose();
                self.journal.push(Entry::Defender {
                    t,
                    action: "close_opened".into(),
                    detail: format!("{} breakers", points.len()),
                });
                for p in points {
                    if !self.operate(p, true) {
                        self.dispatch(p, true);
                    }
                }
            }
            DefenderAction::DispatchCrew { point, close } => self.dispatch(point, close),
            DefenderAction::Block { host } => {
                let addr = self.host_addr(&host);
                self.firewall
                    .rules
                    .insert(0, Rule { source: Prefix { addr, len: 32 }, destination: None, allow: false });
                for c in 0..self.conns.len() {
                    if self.conns[c].open && *self.conns[c].client.ip() == addr {
                        self.close(c, false);
                    }
                }
                self.journal.push(Entry::Defender {
                    t,
                    action: "block".into(),
                    detail: format!("{host} ({addr})"),
                });
            }
            DefenderAction::DisableAccount { account } => {
                if !self.disabled.contains(&account) {
                    self.disabled.push(account.clone());
                }
                self.journal.push(Entry::Defender { t, action: "disable_account".into(), detail: account });
            }
            DefenderAction::RestoreFirmware { substation } => {
                self.journal.push(Entry::Defender {
                    t,
                    action: "restore_firmware".into(),
                    detail: substation.clone(),
                });
                self.schedule(
                    SimTime(self.t.0.saturating_add(self.ex.crew_delay.0)),
                    Task::FirmwareRestored(substation),
                );
            }
            DefenderAction::UpsOn { substation } => {
                let src = self.scada_addr();
                if let Some(u) =
                    self.devices.upss.iter().find(|u| u.name == format!("{substation} UPS")).map(|u| u.addr)
                {
                    if let Some(d) = self.devices.at(u) {
                        let outcome = self
                            .modbus(src, d, u, &[5, 0, 0, 0xFF, 0])
                            .map_or_else(|e| e, |_| "accepted".into());
                        self.command_entry(
                            "",
                            "modbus",
                            src,
                            u,
                            None,
                            format!("FC 5 coil 0 = 1 (UPS output on), {substation}"),
                            "operator",
                            outcome,
                        );
                    }
                }
            }
            DefenderAction::AckAlarms => {
                self.journal.push(Entry::Defender { t, action: "ack_alarms".into(), detail: String::new() })
            }
            DefenderAction::Local { device } => {
                let addr = device.in_block(self.cfg.base);
                if self.devices.set_state(addr, |s| s.local = true).is_some() {
                    self.journal.push(Entry::Device {
                        t,
                        device: addr.to_string(),
                        addr: addr.to_string(),
                        change: "switched to LOCAL".into(),
                    });
                }
            }
            DefenderAction::Hint { question, index } => {
                let hint = self
                    .ex
                    .questions
                    .iter()
                    .find(|q| q.id == question)
                    .and_then(|q| q.hints.get(index))
                    .cloned();
                if let Some(h) = hint {
                    self.journal.push(Entry::Hint { t, question, index, cost: h.cost, text: h.text });
                }
            }
            DefenderAction::AnswerQuestion { question, value } => {
                self.journal.push(Entry::Answer { t, question, value })
            }
            DefenderAction::Report { text } => self.journal.push(Entry::Report { t, text }),
        }
    }

    /// An operator's command through the HMI and the SCADA master: journaled in the HMI
    /// journal first. Whether the station confirmed it.
    fn operate(&mut self, p: CommandPoint, close: bool) -> bool {
        let master = self.scada_addr();
        let Some(c) = self.scada_conn(p.station) else {
            self.command_entry(
                "",
                "iec104",
                master,
                self.station_addr(p.station),
                Some(p.station),
                format!("C_DC_NA_1 {} IOA {}", if close { "close" } else { "open" }, p.ioa),
                "operator",
                "the SCADA master has no session to the station".into(),
            );
            return false;
        };
        self.journal.push(Entry::Hmi {
            t: secs(self.t),
            account: "operator".into(),
            station: p.station,
            ioa: p.ioa,
            close,
        });
        self.ids.authorised(self.t, p.station, p.ioa);
        let ok = self.double_command(c, p, close, true);
        self.command_entry(
            "",
            "iec104",
            master,
            self.station_addr(p.station),
            Some(p.station),
            format!("C_DC_NA_1 {} IOA {}", if close { "close" } else { "open" }, p.ioa),
            "operator",
            if ok { "confirmed" } else { "refused" }.into(),
        );
        ok
    }

    fn dispatch(&mut self, p: CommandPoint, close: bool) {
        let due = SimTime(self.t.0.saturating_add(self.ex.crew_delay.0));
        self.journal.push(Entry::Crew {
            t: secs(self.t),
            station: p.station,
            ioa: p.ioa,
            close,
            status: format!("dispatched, on site at {due}"),
        });
        self.schedule(due, Task::Crew { point: p, close });
    }
}

/// A DNP3 application fragment in link frames (one transport segment).
fn dnp3_frames(app: &[u8], destination: u16, source: u16, from_master: bool) -> Vec<u8> {
    let mut segs = Vec::new();
    proto_dnp3::transport::segment(app, 0, &mut segs);
    let mut out = Vec::new();
    for s in segs {
        proto_dnp3::link::Frame {
            control: proto_dnp3::link::Control {
                from_master,
                primary: true,
                fcb: false,
                fcv: false,
                function: 4,
            },
            destination,
            source,
            data: s,
        }
        .emit(&mut out);
    }
    out
}

fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
