//! Field devices bound to the grid, without I/O: which device exists, where it listens, what
//! its points mean, and what a protocol request does to the grid.
//!
//! A device reads the grid through a snapshot taken after each step (`refresh`) and changes
//! it only through `gridsim::sim::Command`s it issues when a request asks for an operation.
//!
//! Today: a generator PLC speaking Modbus/TCP (`GenPlc`, point map below), a substation RTU
//! speaking IEC 104 (`rtu::BusRtu`), a feeder recloser controller speaking DNP3
//! (`recloser::Recloser`), and the range firewall (`firewall`). Protection relays, serial
//! gateways and UPSs, and device state (firmware, local/remote), follow.
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
pub mod recloser;
pub mod rtu;

use std::net::Ipv4Addr;

use gridsim::sim::{Command, Element, Sim};

pub use firewall::{Firewall, Prefix, Rule};
use proto_modbus::pdu::Response;
use proto_modbus::{DataModel, DeviceIdentity, ExceptionCode, Server};
pub use recloser::Recloser;
pub use rtu::BusRtu;

/// The condition of a device, which attackers and defenders change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceState {
    /// Powered and running (a UPS switched off, a crash: false).
    pub powered: bool,
    /// Firmware intact (a malicious firmware upload "bricks" it: false).
    pub firmware_ok: bool,
    /// The local/remote switch at LOCAL: it reports, but refuses remote operations.
    pub local: bool,
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState { powered: true, firmware_ok: true, local: false }
    }
}

impl DeviceState {
    /// Whether it answers on the network at all.
    pub fn reachable(&self) -> bool {
        self.powered && self.firmware_ok
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
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Rtu => "rtu",
            DeviceKind::Relay => "relay",
            DeviceKind::Plc => "plc",
            DeviceKind::Gateway => "gateway",
            DeviceKind::Ups => "ups",
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
            Protocol::Modbus => 502,
            Protocol::Iec104 => 2404,
            Protocol::Dnp3 => 20000,
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
fn scaled_i16(v: f64, scale: f64) -> u16 {
    ((v * scale).round().clamp(i16::MIN as f64, i16::MAX as f64) as i16) as u16
}

fn scaled_u16(v: f64, scale: f64) -> u16 {
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
            let _ = sim.apply(cmd);
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

fn window<T: Copy>(table: &[T], start: u16, count: u16) -> Result<Vec<T>, ExceptionCode> {
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
                self.image.closed = v;
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

/// The devices of a grid without an exercise file.
#[derive(Debug, Clone, Default)]
pub struct Devices {
    pub plcs: Vec<GenPlc>,
    pub rtus: Vec<BusRtu>,
    pub reclosers: Vec<Recloser>,
}

/// A PLC per generator (at `base` + row: 127.10.0.1, .2, ...), an RTU per bus, the grid's
/// substations (at `base` + 256 + bus index + 1: 127.10.1.1, ...), and a DNP3 recloser
/// controller per load feeder (at `base` + 512 + its position among loads + 1: 127.10.2.1, ...).
pub fn default_devices(sim: &Sim, base: Ipv4Addr) -> Devices {
    let base = u32::from(base);
    let mut out = Devices::default();
    for (g, unit) in sim.case().gens.iter().enumerate() {
        let row = g as u32 + 1;
        let name = format!("gen{row}-plc (bus {})", sim.case().bus(unit.bus).id);
        let mut plc = GenPlc::new(name, row, Ipv4Addr::from(base.wrapping_add(row)));
        plc.refresh(sim);
        out.plcs.push(plc);
    }
    for i in 0..sim.case().buses.len() {
        let addr = Ipv4Addr::from(base.wrapping_add(257 + i as u32));
        out.rtus.push(BusRtu::new(sim, gridsim::BusIdx(i as u32), addr));
    }
    for (k, load) in sim.dynamics().loads.iter().enumerate() {
        let addr = Ipv4Addr::from(base.wrapping_add(513 + k as u32));
        out.reclosers.push(Recloser::new(sim, load.bus, addr));
    }
    out
}
