//! Field devices bound to the grid, without I/O: which device exists, where it listens, what
//! its points mean, and what a protocol request does to the grid.
//!
//! A device reads the grid through a snapshot taken after each step (`refresh`) and changes
//! it only through `gridsim::sim::Command`s it issues when a request asks for an operation.
//!
//! Kinds: a generator PLC speaking Modbus/TCP (`GenPlc`, point map below), a substation RTU
//! speaking IEC 104 (`rtu::BusRtu`), a feeder recloser controller speaking DNP3
//! (`recloser::Recloser`), a protection relay per branch (`relay::Relay`, Modbus/TCP), a
//! serial-to-Ethernet gateway in front of a substation's reclosers (`gateway::SerialGateway`)
//! and a UPS feeding a substation's devices (`ups::Ups`, Modbus/TCP); and the range firewall
//! (`firewall`). `Devices` holds them all and their wiring.
//!
//! # Commands go through the device
//!
//! A breaker command energises a trip or close coil; the contacts move after the breaker's
//! operating time (`OperatingTime`), scheduled in the grid (`Sim::schedule`), so the grid,
//! the status points and the spontaneous reports change then, not when the request arrives.
//! A close that would join two live islands more than `SYNCHRO_CHECK_HZ` apart is refused by
//! the synchro-check interlock (ANSI 25): Modbus exception 04, IEC 104 negative ActCon.
//!
//! # Default Modbus map of a generator PLC (unit id 1; 255 is accepted too)
//!
//! | table | address | meaning | scaling |
//! |---|---|---|---|
//! | coil | 0 | unit breaker: 1 closed; write 0 to open, 1 to close | |
//! | coil | 1 | frequency protection in service; write to switch | |
//! | discrete input | 0 | breaker closed | |
//! | discrete input | 1 | frequency protection in service | |
//! | discrete input | 2 | unit connected to a live grid | |
//! | input register | 0 | active power P | MW × 10, signed |
//! | input register | 1 | reactive power Q | MVAr × 10, signed |
//! | input register | 2 | frequency | Hz × 100 |
//! | input register | 3 | terminal voltage | p.u. × 1000 |
//! | input register | 4 | mechanical power | MW × 10, signed |
//! | holding register | 0 | governor set point | MW × 10, signed; write to change |
//!
//! Other addresses answer "illegal data address"; another unit id "gateway target failed to
//! respond"; a write while the local/remote switch is at LOCAL "server device failure" (04).
//!
//! Every device has a `DeviceState`: unpowered or bricked devices do not answer at all (the
//! servers close their connections); at LOCAL they report but refuse remote operations.

pub mod firewall;
pub mod gateway;
pub mod pipeline;
pub mod recloser;
pub mod relay;
pub mod rtu;
pub mod ups;

use std::net::Ipv4Addr;

use gridsim::sim::{Command, CommandError, Element, Event, Sim, SimTime};

pub use firewall::{Firewall, Prefix, Rule};
pub use gateway::SerialGateway;
use proto_modbus::pdu::Response;
use proto_modbus::{DataModel, DeviceIdentity, ExceptionCode, Server};
pub use recloser::Recloser;
pub use relay::Relay;
pub use rtu::BusRtu;
pub use ups::Ups;

/// The condition of a device, which attackers and defenders change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceState {
    /// Powered and running (a UPS switched off, a crash: false).
    pub powered: bool,
    /// Firmware intact (a malicious firmware upload "bricks" it: false).
    pub firmware_ok: bool,
    /// The local/remote switch at LOCAL: it reports, but refuses remote operations.
    pub local: bool,
    /// Hung by a denial-of-service packet (a SIPROTEC relay after CVE-2015-5374): it answers
    /// nothing until rebooted by hand.
    pub hung: bool,
    /// Derived by `Devices::propagate`, not set directly: every UPS feeding it has output
    /// and every gateway in front of it answers.
    pub upstream: bool,
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState { powered: true, firmware_ok: true, local: false, hung: false, upstream: true }
    }
}

impl DeviceState {
    /// Whether it answers on the network at all.
    pub fn reachable(&self) -> bool {
        self.powered && self.firmware_ok && !self.hung && self.upstream
    }
}

/// A breaker's operating time: from the command energising its coil to the contacts moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatingTime {
    pub open: SimTime,
    pub close: SimTime,
}

impl OperatingTime {
    /// A transmission or sub-transmission circuit breaker (and a generator's unit breaker):
    /// 50 ms to break (2.5 cycles at 50 Hz), 80 ms to close, typical of SF6 breakers.
    pub const CIRCUIT_BREAKER: OperatingTime =
        OperatingTime { open: SimTime(50_000), close: SimTime(80_000) };
    /// A distribution recloser: 40 ms to open, 60 ms to close.
    pub const RECLOSER: OperatingTime = OperatingTime { open: SimTime(40_000), close: SimTime(60_000) };
}

/// Largest slip across a closing breaker the synchro-check interlock allows, Hz.
pub const SYNCHRO_CHECK_HZ: f64 = 0.2;

/// Why a device refused an operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// Closing would join two live islands whose frequencies differ by this much, Hz.
    SynchroCheck(f64),
}

/// The interlocks a command must pass before a device energises a coil.
pub fn interlock(sim: &Sim, cmd: &Command) -> Result<(), Refusal> {
    if let Command::Close(Element::Branch(row)) = *cmd {
        let Some(b) = sim.case().branches.get((row as usize).wrapping_sub(1)) else { return Ok(()) };
        if let (Some(fa), Some(fb)) = (sim.bus_frequency_hz(b.from), sim.bus_frequency_hz(b.to)) {
            if (fa - fb).abs() > SYNCHRO_CHECK_HZ {
                return Err(Refusal::SynchroCheck((fa - fb).abs()));
            }
        }
    }
    Ok(())
}

/// Carries out a command a device accepted: breakers move after their operating time, set
/// points and protection switches at once.
pub fn operate(sim: &mut Sim, cmd: Command, time: OperatingTime) -> Result<(), CommandError> {
    match cmd {
        Command::Open(_) => sim.schedule(SimTime(sim.time().0 + time.open.0), cmd),
        Command::Close(_) => sim.schedule(SimTime(sim.time().0 + time.close.0), cmd),
        Command::Protection(..) | Command::Setpoint { .. } => sim.apply(&cmd),
    }
}

/// What kind of field device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Rtu,
    Relay,
    Plc,
    Gateway,
    Ups,
    /// A safety controller.
    Sis,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Rtu => "rtu",
            DeviceKind::Relay => "relay",
            DeviceKind::Plc => "plc",
            DeviceKind::Gateway => "gateway",
            DeviceKind::Ups => "ups",
            DeviceKind::Sis => "sis",
        }
    }
}

/// Protocols and their standard ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Modbus,
    Iec104,
    Dnp3,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Modbus => "modbus",
            Protocol::Iec104 => "iec104",
            Protocol::Dnp3 => "dnp3",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Protocol::Modbus => proto_modbus::PORT,
            Protocol::Iec104 => proto_iec104::PORT,
            Protocol::Dnp3 => proto_dnp3::PORT,
        }
    }
}

/// The image a generator PLC serves, refreshed from the grid after every step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct GenImage {
    closed: bool,
    protection: bool,
    live: bool,
    p_mw: f64,
    q_mvar: f64,
    f_hz: f64,
    v_pu: f64,
    pm_mw: f64,
    setpoint_mw: f64,
}

/// A PLC controlling one generating unit, over Modbus/TCP.
#[derive(Debug, Clone)]
pub struct GenPlc {
    pub name: String,
    /// The generator row in the case (1-based).
    pub row: u32,
    pub addr: Ipv4Addr,
    pub unit: u8,
    pub state: DeviceState,
    image: GenImage,
    server: Server,
}

/// Signed MW × 10 in a register (two's complement, saturated).
pub(crate) fn scaled_i16(v: f64, scale: f64) -> u16 {
    ((v * scale).round().clamp(i16::MIN as f64, i16::MAX as f64) as i16) as u16
}

pub(crate) fn scaled_u16(v: f64, scale: f64) -> u16 {
    (v * scale).round().clamp(0.0, u16::MAX as f64) as u16
}

impl GenPlc {
    pub fn new(name: String, row: u32, addr: Ipv4Addr) -> GenPlc {
        let identity = DeviceIdentity {
            vendor_name: "icsrange".into(),
            product_code: "GEN-PLC".into(),
            revision: "1.0".into(),
            vendor_url: "https://icsrange.invalid".into(),
            product_name: "Generating unit PLC".into(),
            model_name: "GP-1".into(),
            user_application_name: name.clone(),
        };
        GenPlc {
            name,
            row,
            addr,
            unit: 1,
            state: DeviceState::default(),
            image: GenImage::default(),
            server: Server::new(identity),
        }
    }

    pub fn kind(&self) -> DeviceKind {
        DeviceKind::Plc
    }

    pub fn protocol(&self) -> Protocol {
        Protocol::Modbus
    }

    /// Takes the unit's state from the grid.
    pub fn refresh(&mut self, sim: &Sim) {
        let g = self.row as usize - 1;
        let case = sim.case();
        let Some(unit) = case.gens.get(g) else { return };
        let sol = sim.power_flow_solution();
        let f = sim.bus_frequency_hz(unit.bus);
        let setpoint = sim.gen_pref_mw().get(g).copied().unwrap_or(0.0);
        self.image = GenImage {
            closed: sim.gen_closed(self.row).unwrap_or(false),
            protection: sim.gen_protection(self.row).unwrap_or(false),
            live: f.is_some(),
            p_mw: sol.gens.get(g).map_or(0.0, |o| o.pg_mw),
            q_mvar: sol.gens.get(g).map_or(0.0, |o| o.qg_mvar),
            f_hz: f.unwrap_or(0.0),
            v_pu: sol.vm_pu.get(unit.bus.get()).copied().unwrap_or(0.0),
            pm_mw: sim.gen_pm_mw().get(g).copied().unwrap_or(0.0),
            setpoint_mw: setpoint,
        };
    }

    /// Answers one request PDU for `unit`, applying any operation it asks for to the grid.
    /// `None`: no answer (listen-only mode).
    pub fn handle(&mut self, sim: &mut Sim, unit: u8, pdu: &[u8]) -> Option<Response> {
        if unit != self.unit && unit != 0xFF {
            let function = pdu.first().copied().unwrap_or(0);
            return Some(Response::exception(function, ExceptionCode::GatewayTargetFailedToRespond));
        }
        let mut model =
            GenModel { image: self.image, row: self.row, commands: Vec::new(), local: self.state.local };
        let response = self.server.handle_pdu(&mut model, pdu);
        let commands = model.commands;
        for cmd in &commands {
            // The element exists (the device was built for it); a failure here is a bug.
            let _ = operate(sim, *cmd, OperatingTime::CIRCUIT_BREAKER);
        }
        if !commands.is_empty() {
            self.refresh(sim);
        }
        response
    }

    /// Restarts requested over the wire since the last call (FC 08/01).
    pub fn take_restarts(&mut self) -> u32 {
        self.server.take_restarts()
    }

    /// A few points for `icsrange devices --list`.
    pub fn summary(&self) -> String {
        format!(
            "coil 0 breaker={} ir 0 P={:.1} MW ir 2 f={:.2} Hz hr 0 setpoint={:.1} MW",
            u8::from(self.image.closed),
            self.image.p_mw,
            self.image.f_hz,
            self.image.setpoint_mw
        )
    }
}

/// The PLC's data during one request: a copy of the image that the request's own writes
/// update (FC 23 reads what it wrote), and the operations to apply afterwards.
struct GenModel {
    image: GenImage,
    row: u32,
    commands: Vec<Command>,
    /// At LOCAL: writes are refused with "server device failure".
    local: bool,
}

pub(crate) fn window<T: Copy>(table: &[T], start: u16, count: u16) -> Result<Vec<T>, ExceptionCode> {
    let (s, e) = (start as usize, start as usize + count as usize);
    table.get(s..e).map(<[T]>::to_vec).ok_or(ExceptionCode::IllegalDataAddress)
}

impl DataModel for GenModel {
    fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        window(&[self.image.closed, self.image.protection], start, count)
    }

    fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        window(&[self.image.closed, self.image.protection, self.image.live], start, count)
    }

    fn read_holding_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        window(&[scaled_i16(self.image.setpoint_mw, 10.0)], start, count)
    }

    fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let i = self.image;
        window(
            &[
                scaled_i16(i.p_mw, 10.0),
                scaled_i16(i.q_mvar, 10.0),
                scaled_u16(i.f_hz, 100.0),
                scaled_u16(i.v_pu, 1000.0),
                scaled_i16(i.pm_mw, 10.0),
            ],
            start,
            count,
        )
    }

    fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        let end = start as usize + values.len();
        if end > 2 {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        let el = Element::Gen(self.row);
        for (i, &v) in values.iter().enumerate() {
            if start as usize + i == 0 {
                self.commands.push(if v { Command::Close(el) } else { Command::Open(el) });
            } else {
                self.image.protection = v;
                self.commands.push(Command::Protection(el, v));
            }
        }
        Ok(())
    }

    fn write_registers(&mut self, start: u16, values: &[u16]) -> Result<(), ExceptionCode> {
        if start as usize + values.len() > 1 {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        let mw = f64::from(values[0] as i16) / 10.0;
        self.image.setpoint_mw = mw;
        self.commands.push(Command::Setpoint { unit: self.row, mw });
        Ok(())
    }
}

/// One device of a `Devices`, by kind and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceRef {
    Plc(usize),
    Rtu(usize),
    Recloser(usize),
    Relay(usize),
    Gateway(usize),
    Ups(usize),
    /// A pump station's PLC (`pipeline::StationPlc`).
    Station(usize),
    /// A line RTU at a valve site (`pipeline::LineRtu`).
    LineRtu(usize),
    /// The pipeline's safety controller.
    Sis,
}

impl DeviceRef {
    /// Whether it answers Modbus/TCP.
    pub fn speaks_modbus(self) -> bool {
        matches!(
            self,
            DeviceRef::Plc(_)
                | DeviceRef::Relay(_)
                | DeviceRef::Ups(_)
                | DeviceRef::Station(_)
                | DeviceRef::Sis
        )
    }
}

/// A line of `icsrange devices --list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub name: String,
    pub kind: DeviceKind,
    /// `None`: no network service of its own (a serial gateway).
    pub protocol: Option<Protocol>,
    pub addr: Ipv4Addr,
    /// Unit id, common address or DNP3 address, with its name.
    pub id: String,
    pub summary: String,
}

/// Every device of a range and how they are wired: which UPS feeds which device, which
/// gateway stands in front of which.
#[derive(Debug, Clone, Default)]
pub struct Devices {
    pub plcs: Vec<GenPlc>,
    pub rtus: Vec<BusRtu>,
    pub reclosers: Vec<Recloser>,
    pub relays: Vec<Relay>,
    pub gateways: Vec<SerialGateway>,
    pub upss: Vec<Ups>,
    /// A pipeline and its devices, when the exercise has one.
    pub pipe: Option<Box<pipeline::PipePlant>>,
}

impl Devices {
    /// Every device takes the grid's present state.
    pub fn refresh_all(&mut self, sim: &Sim) {
        for d in &mut self.plcs {
            d.refresh(sim);
        }
        for d in &mut self.rtus {
            d.refresh(sim);
        }
        for d in &mut self.reclosers {
            d.refresh(sim);
        }
        for d in &mut self.relays {
            d.refresh(sim);
        }
    }

    /// After the grid advanced by `dt`: UPS batteries, what the grid's events tell the
    /// devices (a relay's trip flag), every device's image, and the wiring.
    pub fn step(&mut self, sim: &Sim, dt: SimTime, events: &[Event]) {
        for u in &mut self.upss {
            u.step(sim, dt.secs());
        }
        for e in events {
            for r in &mut self.relays {
                r.observe(e);
            }
        }
        self.refresh_all(sim);
        if let Some(p) = &mut self.pipe {
            p.advance(sim.time());
        }
        self.propagate();
    }

    /// Recomputes which devices still have power and a path to the network: call after any
    /// change of a device's state.
    pub fn propagate(&mut self) {
        let dead_ups: Vec<Ipv4Addr> =
            self.upss.iter().filter(|u| !u.output_live()).flat_map(|u| u.powers.iter().copied()).collect();
        for g in &mut self.gateways {
            g.state.upstream = !dead_ups.contains(&g.addr);
        }
        let dark_behind: Vec<Ipv4Addr> = self
            .gateways
            .iter()
            .filter(|g| !g.state.reachable())
            .flat_map(|g| g.behind.iter().copied())
            .collect();
        let fed = |addr: Ipv4Addr| !dead_ups.contains(&addr) && !dark_behind.contains(&addr);
        for d in &mut self.plcs {
            d.state.upstream = fed(d.addr);
        }
        for d in &mut self.rtus {
            d.state.upstream = fed(d.addr);
        }
        for d in &mut self.reclosers {
            d.state.upstream = fed(d.addr);
        }
        for d in &mut self.relays {
            d.state.upstream = fed(d.addr);
        }
        for d in &mut self.upss {
            d.state.upstream = fed(d.addr);
        }
    }

    pub fn state(&self, d: DeviceRef) -> Option<&DeviceState> {
        match d {
            DeviceRef::Plc(i) => self.plcs.get(i).map(|d| &d.state),
            DeviceRef::Rtu(i) => self.rtus.get(i).map(|d| &d.state),
            DeviceRef::Recloser(i) => self.reclosers.get(i).map(|d| &d.state),
            DeviceRef::Relay(i) => self.relays.get(i).map(|d| &d.state),
            DeviceRef::Gateway(i) => self.gateways.get(i).map(|d| &d.state),
            DeviceRef::Ups(i) => self.upss.get(i).map(|d| &d.state),
            DeviceRef::Station(i) => self.pipe.as_ref()?.stations.get(i).map(|d| &d.state),
            DeviceRef::LineRtu(i) => self.pipe.as_ref()?.rtus.get(i).map(|d| &d.state),
            DeviceRef::Sis => self.pipe.as_ref()?.sis.as_ref().map(|d| &d.state),
        }
    }

    fn state_mut(&mut self, d: DeviceRef) -> Option<&mut DeviceState> {
        match d {
            DeviceRef::Plc(i) => self.plcs.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Rtu(i) => self.rtus.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Recloser(i) => self.reclosers.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Relay(i) => self.relays.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Gateway(i) => self.gateways.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Ups(i) => self.upss.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Station(i) => self.pipe.as_mut()?.stations.get_mut(i).map(|d| &mut d.state),
            DeviceRef::LineRtu(i) => self.pipe.as_mut()?.rtus.get_mut(i).map(|d| &mut d.state),
            DeviceRef::Sis => self.pipe.as_mut()?.sis.as_mut().map(|d| &mut d.state),
        }
    }

    /// Whether the device answers on the network now.
    pub fn reachable(&self, d: DeviceRef) -> bool {
        self.state(d).is_some_and(DeviceState::reachable)
    }

    /// The device listening at `addr`.
    pub fn at(&self, addr: Ipv4Addr) -> Option<DeviceRef> {
        fn find<T>(items: &[T], addr: Ipv4Addr, of: impl Fn(&T) -> Ipv4Addr) -> Option<usize> {
            items.iter().position(|d| of(d) == addr)
        }
        find(&self.plcs, addr, |d| d.addr)
            .map(DeviceRef::Plc)
            .or_else(|| find(&self.rtus, addr, |d| d.addr).map(DeviceRef::Rtu))
            .or_else(|| find(&self.reclosers, addr, |d| d.addr).map(DeviceRef::Recloser))
            .or_else(|| find(&self.relays, addr, |d| d.addr).map(DeviceRef::Relay))
            .or_else(|| find(&self.gateways, addr, |d| d.addr).map(DeviceRef::Gateway))
            .or_else(|| find(&self.upss, addr, |d| d.addr).map(DeviceRef::Ups))
            .or_else(|| {
                let p = self.pipe.as_ref()?;
                find(&p.stations, addr, |d| d.addr)
                    .map(DeviceRef::Station)
                    .or_else(|| find(&p.rtus, addr, |d| d.addr).map(DeviceRef::LineRtu))
                    .or_else(|| p.sis.as_ref().filter(|s| s.addr == addr).map(|_| DeviceRef::Sis))
            })
    }

    /// Changes the state of the device at `addr` (power, firmware, local/remote) and what
    /// follows from it for the devices it feeds or fronts. `None`: no device there.
    pub fn set_state(&mut self, addr: Ipv4Addr, change: impl FnOnce(&mut DeviceState)) -> Option<DeviceRef> {
        let d = self.at(addr)?;
        change(self.state_mut(d)?);
        self.propagate();
        Some(d)
    }

    /// One Modbus request PDU to a Modbus device (PLC, relay, UPS). `None`: no answer
    /// (listen-only mode, or not a Modbus device).
    pub fn modbus(&mut self, sim: &mut Sim, d: DeviceRef, unit: u8, pdu: &[u8]) -> Option<Response> {
        match d {
            DeviceRef::Plc(i) => self.plcs.get_mut(i)?.handle(sim, unit, pdu),
            DeviceRef::Relay(i) => self.relays.get_mut(i)?.handle(sim, unit, pdu),
            DeviceRef::Ups(i) => {
                let ups = self.upss.get_mut(i)?;
                let before = ups.output_on;
                let response = ups.handle(unit, pdu);
                if ups.output_on != before {
                    self.propagate();
                }
                response
            }
            DeviceRef::Station(i) => self.pipe.as_mut()?.station_modbus(i, unit, pdu),
            DeviceRef::Sis => self.pipe.as_mut()?.sis_modbus(unit, pdu),
            _ => None,
        }
    }

    /// One DNP3 application fragment to a DNP3 device (a feeder recloser, a line RTU): the
    /// response, and the CROBs it carried out as (index, close/open).
    pub fn dnp3(&mut self, sim: &mut Sim, d: DeviceRef, now_ms: u64, fragment: &[u8]) -> Option<Vec<u8>> {
        match d {
            DeviceRef::Recloser(i) => self.reclosers.get_mut(i)?.handle(sim, now_ms, fragment),
            DeviceRef::LineRtu(i) => self.pipe.as_mut()?.rtu_dnp3(i, now_ms, fragment).0,
            _ => None,
        }
    }

    /// A DNP3 device's outstation address.
    pub fn dnp3_address(&self, d: DeviceRef) -> Option<u16> {
        match d {
            DeviceRef::Recloser(i) => self.reclosers.get(i).map(|r| r.outstation.address),
            DeviceRef::LineRtu(i) => self.pipe.as_ref()?.rtus.get(i).map(|r| r.outstation.address),
            _ => None,
        }
    }

    /// The device count.
    pub fn len(&self) -> usize {
        self.plcs.len()
            + self.rtus.len()
            + self.reclosers.len()
            + self.relays.len()
            + self.gateways.len()
            + self.upss.len()
            + self.pipe.as_ref().map_or(0, |p| p.stations.len() + p.rtus.len() + usize::from(p.sis.is_some()))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One line per device, RTUs first.
    pub fn listing(&self) -> Vec<Listing> {
        let row = |name: &str, kind, protocol, addr, id: String, summary| Listing {
            name: name.to_string(),
            kind,
            protocol,
            addr,
            id,
            summary,
        };
        let mut out = Vec::with_capacity(self.len());
        for d in &self.rtus {
            let id = format!("ca {}", d.station.common_address);
            out.push(row(&d.name, DeviceKind::Rtu, Some(Protocol::Iec104), d.addr, id, d.summary()));
        }
        for d in &self.reclosers {
            let id = format!("addr {}", d.outstation.address);
            out.push(row(&d.name, DeviceKind::Relay, Some(Protocol::Dnp3), d.addr, id, d.summary()));
        }
        for d in &self.plcs {
            out.push(row(
                &d.name,
                d.kind(),
                Some(d.protocol()),
                d.addr,
                format!("unit {}", d.unit),
                d.summary(),
            ));
        }
        for d in &self.relays {
            out.push(row(
                &d.name,
                d.kind(),
                Some(d.protocol()),
                d.addr,
                format!("unit {}", d.unit),
                d.summary(),
            ));
        }
        for d in &self.gateways {
            out.push(row(&d.name, d.kind(), None, d.addr, "serial".into(), d.summary()));
        }
        for d in &self.upss {
            out.push(row(
                &d.name,
                d.kind(),
                Some(d.protocol()),
                d.addr,
                format!("unit {}", d.unit),
                d.summary(),
            ));
        }
        if let Some(p) = &self.pipe {
            for (i, d) in p.stations.iter().enumerate() {
                let summary = p.station_summary(i);
                out.push(row(
                    &d.name,
                    DeviceKind::Plc,
                    Some(Protocol::Modbus),
                    d.addr,
                    format!("unit {}", d.unit),
                    summary,
                ));
            }
            for (i, d) in p.rtus.iter().enumerate() {
                let id = format!("addr {}", d.outstation.address);
                out.push(row(&d.name, DeviceKind::Rtu, Some(Protocol::Dnp3), d.addr, id, p.rtu_summary(i)));
            }
            if let Some(d) = &p.sis {
                let id = format!("unit {}", d.unit);
                out.push(row(&d.name, DeviceKind::Sis, Some(Protocol::Modbus), d.addr, id, p.sis_summary()));
            }
        }
        out
    }
}

/// How many devices of one kind the default address plan holds (a /24 each).
pub const PLAN_PER_KIND: usize = 255;

/// A grid with more devices of a kind than the default address plan places
/// (`default_devices`): `count` of `kind` (`generators`, `buses`, `loads`, `branches`,
/// `substations`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{count} {kind}: the default device address plan holds {PLAN_PER_KIND} per kind (an exercise file can place more)"
)]
pub struct AddressPlanError {
    pub kind: &'static str,
    pub count: usize,
}

/// The default address plan: each kind has a /24 in the range's block, a device's address is
/// its position + 1 in it.
///
/// | block | kind | one per |
/// |---|---|---|
/// | base + 0.x | PLC (Modbus) | generator, at its row |
/// | base + 1.x | RTU (IEC 104) | bus (a substation's bay), in bus order |
/// | base + 2.x | recloser controller (DNP3) | load feeder, in sidecar order |
/// | base + 3.x | protection relay (Modbus) | branch, at its row |
/// | base + 4.x | serial gateway | substation with feeders (its reclosers behind it) |
/// | base + 5.x | UPS (Modbus) | substation with feeders (feeds its gateway and its buses' RTUs) |
///
/// Substations are named in the sidecar (`substation` of a load); unnamed, each load bus is
/// its own. Refuses (with the kind and count) a grid with more than `PLAN_PER_KIND` of a kind.
pub fn default_devices(sim: &Sim, base: Ipv4Addr) -> Result<Devices, AddressPlanError> {
    let case = sim.case();
    let loads = &sim.dynamics().loads;
    let mut substations: Vec<&str> = Vec::new();
    for l in loads {
        if !substations.contains(&l.substation.as_str()) {
            substations.push(&l.substation);
        }
    }
    let counts = [
        ("generators", case.gens.len()),
        ("buses", case.buses.len()),
        ("loads", loads.len()),
        ("branches", case.branches.len()),
        ("substations", substations.len()),
    ];
    for (kind, count) in counts {
        if count > PLAN_PER_KIND {
            return Err(AddressPlanError { kind, count });
        }
    }
    let base = u32::from(base);
    let addr = |block: u32, i: usize| Ipv4Addr::from(base.wrapping_add(block * 256 + i as u32 + 1));
    let mut out = Devices::default();
    for (g, unit) in case.gens.iter().enumerate() {
        let row = g as u32 + 1;
        let name = format!("gen{row}-plc (bus {})", case.bus(unit.bus).id);
        let mut plc = GenPlc::new(name, row, addr(0, g));
        plc.refresh(sim);
        out.plcs.push(plc);
    }
    for i in 0..case.buses.len() {
        out.rtus.push(BusRtu::new(sim, gridsim::BusIdx(i as u32), addr(1, i)));
    }
    for (k, load) in loads.iter().enumerate() {
        out.reclosers.push(Recloser::new(sim, load.bus, addr(2, k)));
    }
    for k in 0..case.branches.len() {
        out.relays.push(Relay::new(sim, k as u32 + 1, addr(3, k)));
    }
    for (s, name) in substations.iter().enumerate() {
        let feeders: Vec<usize> = (0..loads.len()).filter(|&k| loads[k].substation == *name).collect();
        let behind = feeders.iter().map(|&k| out.reclosers[k].addr).collect();
        out.gateways.push(SerialGateway {
            name: format!("{name} serial gateway"),
            substation: (*name).to_string(),
            addr: addr(4, s),
            state: DeviceState::default(),
            behind,
        });
        let mut buses: Vec<gridsim::BusIdx> = feeders.iter().map(|&k| loads[k].bus).collect();
        buses.sort_by_key(|b| b.get());
        buses.dedup();
        let mut powers = vec![addr(4, s)];
        powers.extend(buses.iter().map(|b| out.rtus[b.get()].addr));
        out.upss.push(Ups::new(sim, format!("{name} UPS"), buses[0], addr(5, s), powers));
    }
    out.propagate();
    Ok(out)
}
