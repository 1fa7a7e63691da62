//! A pipeline's field devices, bound to the pipeline (`pipesim`): one PLC per pump station
//! (Modbus/TCP), a line RTU at each block or control valve site (DNP3, as pipelines commonly
//! use for remote sites), and the safety controller (Modbus/TCP, with its engineering
//! interface on FC 20/21). `PipePlant` owns the line and its devices: the control system's
//! logic (each station's discharge pressure override) runs in `PipePlant::advance`.
//!
//! # Station PLC (unit id 1; 255 is accepted too)
//!
//! | table | address | meaning | units |
//! |---|---|---|---|
//! | coil | 0-7 | pump k of the station running: write 1 to start, 0 for an orderly stop | |
//! | coil | 8-15 | valve j of the station: write 1 to open, 0 to close (over its travel) | |
//! | discrete input | 0-7 | pump k turning | |
//! | discrete input | 8-15 | valve j fully open | |
//! | discrete input | 16-23 | valve j fully closed | |
//! | discrete input | 24 | the safety system permits the station (no trip latched) | |
//! | input register | 0 | suction pressure | kPa |
//! | input register | 1 | discharge pressure (after the pumps) | kPa |
//! | input register | 2 | station outlet pressure (after its valves) | kPa |
//! | input register | 3 | station flow | m³/h |
//! | input register | 4-11 | pump k speed | rpm |
//! | input register | 12-19 | valve j travel | ‰ |
//! | holding register | 0-7 | pump k speed set point (engineering range: its drive's min to max) | rpm |
//! | holding register | 8 | discharge pressure limit of the override control (engineering range: up to the MAOP of the segment it feeds) | kPa |
//!
//! Only the addresses of the station's own pumps and valves exist. The override control
//! lowers the running pumps' speed while the discharge pressure is above the limit (integral
//! action, 50 rpm/s per bar) and gives it back below it. The PLC takes any value a register
//! can hold: a limit above the MAOP is accepted (the IDS flags set points outside their
//! engineering range). At LOCAL, writes answer "server device failure" (04); a start the
//! safety system does not permit, too.
//!
//! # Line RTU (DNP3, outstation address 20 + its position; any master address)
//!
//! | object | index | meaning |
//! |---|---|---|
//! | g1v2 binary input | 2j, 2j+1 | valve j fully open, fully closed |
//! | g10v2 binary output status | j | valve j commanded open |
//! | g12v1 CROB | j | LATCH_ON / CLOSE opens valve j, LATCH_OFF / TRIP closes it |
//! | g30v1 analog input | 0 | pressure upstream of the site, kPa |
//! | g30v1 analog input | 1 | pressure downstream of the site, kPa |
//! | g30v1 analog input | 2 | flow, m³/h |
//! | g30v1 analog input | 3+j | valve j travel, ‰ |
//!
//! Events: g2v2 (class 1) on any binary change; g32v1 (class 2) beyond 50 kPa, 20 m³/h, 10 ‰.
//!
//! # Safety controller (unit id 1)
//!
//! Reads are always answered. Writes need the key switch away from RUN; the program needs it
//! at PROGRAM. A write the key does not allow answers "illegal function" (01: the server is
//! in the wrong state for it, §7 of the specification).
//!
//! | table | address | meaning |
//! |---|---|---|
//! | input register | 0 | key switch: 1 RUN, 2 PROGRAM, 3 REMOTE |
//! | input register | 1 | 0 running, 1 faulted (the program did not load: every function tripped) |
//! | input register | 2-3 | the loaded program's CRC-32 (high word first) |
//! | input register | 4-5 | the commissioned program's CRC-32 |
//! | input register | 6 | number of safety functions |
//! | input register | 7-8 | functions tripped (bit i: function i; 7 holds bits 0-15) |
//! | input register | 9-10 | functions bypassed |
//! | input register | 16+i | transmitter i's reading, kPa |
//! | discrete input | i (0-31) | function i tripped |
//! | discrete input | 32+i | function i bypassed |
//! | coil | i (0-31) | function i bypassed: write to set or clear (REMOTE or PROGRAM) |
//! | coil | 100 | write 1: reset the trips whose demand has cleared (REMOTE or PROGRAM) |
//! | file 1, records 0.. | | the program image (`pipesim::sis`), two bytes per record |
//!
//! FC 20 reads the program from file 1. FC 21 writes it (PROGRAM only): records are staged
//! from record 0; once the staged records cover the length the image's own header declares
//! (or, when the first 8 bytes are not a program's header, at once), the controller loads it
//! (`Sis::download`: an image it cannot run faults it). At LOCAL every write answers 04.

use std::net::Ipv4Addr;

use pipesim::sim::{Command, PumpMode};
use pipesim::sis::KeySwitch;
use pipesim::{Pipeline, SimTime};
use proto_dnp3::outstation::{Operation, Outstation};
use proto_modbus::pdu::Response;
use proto_modbus::{DataModel, DeviceIdentity, ExceptionCode, Server};

use crate::recloser::DNP3_EPOCH_OFFSET_MS;
use crate::{DeviceState, window};

const KPA: f64 = 1e-3;
const PER_HOUR: f64 = 3600.0;
/// The override control's integral gain: rpm per second per bar above the limit.
const OVERRIDE_RPM_PER_S_PER_BAR: f64 = 50.0;

/// One pump station's PLC.
#[derive(Debug, Clone)]
pub struct StationPlc {
    pub name: String,
    pub station: String,
    pub joint: usize,
    pub addr: Ipv4Addr,
    pub unit: u8,
    pub state: DeviceState,
    /// The station's pumps and valves (indices in the pipeline).
    pub pumps: Vec<usize>,
    pub valves: Vec<usize>,
    /// The override control's discharge pressure limit (Pa), and the engineering range's top.
    pub discharge_limit_pa: f64,
    pub limit_range_pa: f64,
    /// The operator's speed set point per pump, and the override's reduction (≤ 0).
    pub speed_set_rpm: Vec<f64>,
    override_rpm: f64,
    server: Server,
}

/// One line RTU at a valve site (DNP3).
#[derive(Debug, Clone)]
pub struct LineRtu {
    pub name: String,
    pub joint: usize,
    pub addr: Ipv4Addr,
    pub valves: Vec<usize>,
    pub outstation: Outstation,
    pub state: DeviceState,
    pub start_ms_since_2000: u64,
}

/// The safety controller's network side.
#[derive(Debug, Clone)]
pub struct SisController {
    pub name: String,
    pub addr: Ipv4Addr,
    pub unit: u8,
    pub state: DeviceState,
    staged: Vec<u16>,
    server: Server,
}

/// A pipeline with its devices.
#[derive(Debug, Clone)]
pub struct PipePlant {
    pub sim: pipesim::Sim,
    pub stations: Vec<StationPlc>,
    pub rtus: Vec<LineRtu>,
    pub sis: Option<SisController>,
}

fn identity(product: &str, name: &str) -> DeviceIdentity {
    DeviceIdentity {
        vendor_name: "icsrange".into(),
        product_code: product.into(),
        revision: "1.0".into(),
        vendor_url: "https://icsrange.invalid".into(),
        product_name: match product {
            "SIS" => "Safety controller (TMR)".into(),
            _ => "Pump station PLC".into(),
        },
        model_name: product.into(),
        user_application_name: name.into(),
    }
}

fn kpa(pa: f64) -> u16 {
    crate::scaled_u16(pa, KPA)
}

/// The address plan of a pipeline's devices in the range's block:
///
/// | block | kind | one per |
/// |---|---|---|
/// | base + 6.x | station PLC (Modbus) | pump station, in order of flow |
/// | base + 7.x | line RTU (DNP3) | joint with valves and no pumps, in order of flow |
/// | base + 8.1 | safety controller (Modbus) | the pipeline's SIS |
pub fn plant(p: Pipeline, opts: pipesim::SimOptions, base: Ipv4Addr) -> PipePlant {
    let base = u32::from(base);
    let addr = |block: u32, i: usize| Ipv4Addr::from(base.wrapping_add(block * 256 + i as u32 + 1));
    let mut stations = Vec::new();
    let mut rtus = Vec::new();
    for (j, joint) in p.joints.iter().enumerate() {
        if let Some(station) = &joint.station {
            let name = format!("{station} station PLC");
            let feeds = p.segments.get(j).map_or(f64::INFINITY, |s| s.maop_pa);
            stations.push(StationPlc {
                server: Server::new(identity("PS-PLC", &name)),
                name,
                station: station.clone(),
                joint: j,
                addr: addr(6, stations.len()),
                unit: 1,
                state: DeviceState::default(),
                pumps: joint.pumps.iter().copied().take(8).collect(),
                valves: joint.valves.iter().copied().take(8).collect(),
                discharge_limit_pa: 0.95 * feeds,
                limit_range_pa: feeds,
                speed_set_rpm: joint
                    .pumps
                    .iter()
                    .map(|&k| p.pumps[k].speed_rpm.max(p.pumps[k].min_speed_rpm))
                    .collect(),
                override_rpm: 0.0,
            });
        } else if !joint.valves.is_empty() {
            let k = rtus.len();
            let valves: Vec<usize> = joint.valves.iter().copied().take(16).collect();
            let mut o = Outstation::new(20 + k as u16);
            o.binaries = vec![false; 2 * valves.len()];
            o.outputs = vec![false; valves.len()];
            o.counters = vec![0];
            o.analogs = vec![0; 3 + valves.len()];
            o.deadbands = [50, 50, 20].into_iter().chain(valves.iter().map(|_| 10)).collect();
            rtus.push(LineRtu {
                name: format!("{} line RTU", joint.name),
                joint: j,
                addr: addr(7, k),
                valves,
                outstation: o,
                state: DeviceState::default(),
                start_ms_since_2000: 0,
            });
        }
    }
    let sis = p.sis.as_ref().map(|_| SisController {
        name: "SIS safety controller".into(),
        addr: addr(8, 0),
        unit: 1,
        state: DeviceState::default(),
        staged: Vec::new(),
        server: Server::new(identity("SIS", "SIS safety controller")),
    });
    let mut plant = PipePlant { sim: pipesim::Sim::new(p, opts), stations, rtus, sis };
    plant.refresh(false);
    plant
}

impl PipePlant {
    /// Advances the line to `t`, runs each station's override control over the interval, and
    /// refreshes the devices' images.
    pub fn advance(&mut self, t: SimTime) {
        let dt = t.secs() - self.sim.time().secs();
        self.sim.step(t);
        if dt > 0.0 {
            for s in &mut self.stations {
                let p = self.sim.joint_pressures(s.joint)[1];
                let err_bar = (p - s.discharge_limit_pa) / 1e5;
                s.override_rpm = (s.override_rpm - OVERRIDE_RPM_PER_S_PER_BAR * err_bar * dt).min(0.0);
                let floor = -s.speed_set_rpm.iter().copied().fold(0.0, f64::max);
                s.override_rpm = s.override_rpm.max(floor);
                for (i, &k) in s.pumps.iter().enumerate() {
                    if self.sim.pump(k).mode == PumpMode::Running {
                        let _ = self
                            .sim
                            .apply(&Command::SetSpeed { pump: k, rpm: s.speed_set_rpm[i] + s.override_rpm });
                    }
                }
            }
        }
        self.refresh(true);
    }

    fn refresh(&mut self, events: bool) {
        let t_ms = |start: u64| DNP3_EPOCH_OFFSET_MS + start + self.sim.time().0 / 1000;
        for r in &mut self.rtus {
            let o = &mut r.outstation;
            let (up, down) = (self.sim.joint_pressures(r.joint)[0], self.sim.joint_pressures(r.joint)[2]);
            let mut analogs = vec![
                (up * KPA).round() as i32,
                (down * KPA).round() as i32,
                (self.sim.joint(r.joint).flow_m3_s * PER_HOUR).round() as i32,
            ];
            let t = t_ms(r.start_ms_since_2000);
            for (j, &v) in r.valves.iter().enumerate() {
                let s = self.sim.valve(v);
                analogs.push((s.open * 1000.0).round() as i32);
                if events {
                    o.set_binary(2 * j, s.open >= 1.0, t);
                    o.set_binary(2 * j + 1, s.open <= 0.0, t);
                } else {
                    o.binaries[2 * j] = s.open >= 1.0;
                    o.binaries[2 * j + 1] = s.open <= 0.0;
                }
                o.outputs[j] = s.target > 0.0;
            }
            for (i, v) in analogs.into_iter().enumerate() {
                if events {
                    o.set_analog(i, v);
                } else {
                    o.analogs[i] = v;
                }
            }
        }
    }

    /// A few points of station PLC `i` for `icsrange devices --list`.
    pub fn station_summary(&self, i: usize) -> String {
        let s = &self.stations[i];
        let p = self.sim.joint_pressures(s.joint);
        format!(
            "ir 0 suction={:.0} kPa ir 1 discharge={:.0} kPa ir 3 flow={:.0} m3/h hr 8 limit={:.0} kPa",
            p[0] * KPA,
            p[1] * KPA,
            self.sim.joint(s.joint).flow_m3_s * PER_HOUR,
            s.discharge_limit_pa * KPA
        )
    }

    /// A few points of line RTU `i`.
    pub fn rtu_summary(&self, i: usize) -> String {
        let a = &self.rtus[i].outstation.analogs;
        format!("g30v1 0 upstream={} kPa 2 flow={} m3/h, CROB g12v1 0", a[0], a[2])
    }

    /// The safety controller's key, state and checksum.
    pub fn sis_summary(&self) -> String {
        self.sim.sis().map_or_else(String::new, |s| {
            format!(
                "ir 0 key={} ir 1 faulted={} ir 2-3 crc={:08x} file 1 program",
                s.key().name(),
                u8::from(s.faulted().is_some()),
                s.checksum()
            )
        })
    }

    /// One Modbus request PDU to station PLC `i` (`None`: no answer).
    pub fn station_modbus(&mut self, i: usize, unit: u8, pdu: &[u8]) -> Option<Response> {
        let s = self.stations.get_mut(i)?;
        if unit != s.unit && unit != 0xFF {
            let function = pdu.first().copied().unwrap_or(0);
            return Some(Response::exception(function, ExceptionCode::GatewayTargetFailedToRespond));
        }
        let mut model = StationModel { sim: &mut self.sim, plc: StationView::of(s) };
        let response = s.server.handle_pdu(&mut model, pdu);
        let view = model.plc;
        s.discharge_limit_pa = view.limit_pa;
        s.speed_set_rpm = view.speed_set_rpm;
        response
    }

    /// One Modbus request PDU to the safety controller.
    pub fn sis_modbus(&mut self, unit: u8, pdu: &[u8]) -> Option<Response> {
        let c = self.sis.as_mut()?;
        if unit != c.unit && unit != 0xFF {
            let function = pdu.first().copied().unwrap_or(0);
            return Some(Response::exception(function, ExceptionCode::GatewayTargetFailedToRespond));
        }
        let mut model =
            SisModel { sim: &mut self.sim, staged: std::mem::take(&mut c.staged), local: c.state.local };
        let response = c.server.handle_pdu(&mut model, pdu);
        c.staged = model.staged;
        response
    }

    /// One DNP3 application fragment to line RTU `i`; CROBs move its valves. Returns the
    /// response and the operations it carried out.
    pub fn rtu_dnp3(
        &mut self,
        i: usize,
        now_ms: u64,
        fragment: &[u8],
    ) -> (Option<Vec<u8>>, Vec<(usize, bool)>) {
        let Some(r) = self.rtus.get_mut(i) else { return (None, Vec::new()) };
        r.outstation.local = r.state.local;
        let (response, ops) = r.outstation.handle(now_ms, fragment);
        let mut moved = Vec::new();
        for op in ops {
            if let Operation::Control { index, close } = op
                && let Some(&v) = r.valves.get(usize::from(index))
                && self
                    .sim
                    .apply(&Command::MoveValve { valve: v, open: if close { 1.0 } else { 0.0 } })
                    .is_ok()
            {
                moved.push((v, close));
            }
        }
        if !moved.is_empty() {
            self.refresh(true);
        }
        (response, moved)
    }
}

/// What a station request may read and change, copied out of the PLC for one request.
struct StationView {
    joint: usize,
    pumps: Vec<usize>,
    valves: Vec<usize>,
    limit_pa: f64,
    speed_set_rpm: Vec<f64>,
    local: bool,
}

impl StationView {
    fn of(s: &StationPlc) -> StationView {
        StationView {
            joint: s.joint,
            pumps: s.pumps.clone(),
            valves: s.valves.clone(),
            limit_pa: s.discharge_limit_pa,
            speed_set_rpm: s.speed_set_rpm.clone(),
            local: s.state.local,
        }
    }
}

struct StationModel<'a> {
    sim: &'a mut pipesim::Sim,
    plc: StationView,
}

impl StationModel<'_> {
    fn coils(&self) -> Vec<Option<bool>> {
        let mut c = vec![None; 16];
        for (i, &k) in self.plc.pumps.iter().enumerate() {
            c[i] = Some(self.sim.pump(k).mode == PumpMode::Running);
        }
        for (j, &v) in self.plc.valves.iter().enumerate() {
            c[8 + j] = Some(self.sim.valve(v).target > 0.0);
        }
        c
    }
}

/// The values at `start..start+count` of a sparse table: an address that is not there is
/// "illegal data address".
fn sparse<T: Copy>(table: &[Option<T>], start: u16, count: u16) -> Result<Vec<T>, ExceptionCode> {
    window(table, start, count)?
        .into_iter()
        .collect::<Option<Vec<T>>>()
        .ok_or(ExceptionCode::IllegalDataAddress)
}

impl DataModel for StationModel<'_> {
    fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        sparse(&self.coils(), start, count)
    }

    fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        let mut d = vec![None; 25];
        for (i, &k) in self.plc.pumps.iter().enumerate() {
            d[i] = Some(self.sim.pump(k).speed_rpm > 0.0);
        }
        for (j, &v) in self.plc.valves.iter().enumerate() {
            d[8 + j] = Some(self.sim.valve(v).open >= 1.0);
            d[16 + j] = Some(self.sim.valve(v).open <= 0.0);
        }
        d[24] = Some(self.sim.sis().is_none_or(|s| s.permits(self.plc.joint)));
        sparse(&d, start, count)
    }

    fn read_holding_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let mut h = vec![None; 9];
        for (i, rpm) in self.plc.speed_set_rpm.iter().enumerate() {
            h[i] = Some(crate::scaled_u16(*rpm, 1.0));
        }
        h[8] = Some(kpa(self.plc.limit_pa));
        sparse(&h, start, count)
    }

    fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let p = self.sim.joint_pressures(self.plc.joint);
        let mut r = vec![None; 20];
        r[0] = Some(kpa(p[0]));
        r[1] = Some(kpa(p[1]));
        r[2] = Some(kpa(p[2]));
        r[3] = Some(crate::scaled_u16(self.sim.joint(self.plc.joint).flow_m3_s, PER_HOUR));
        for (i, &k) in self.plc.pumps.iter().enumerate() {
            r[4 + i] = Some(crate::scaled_u16(self.sim.pump(k).speed_rpm, 1.0));
        }
        for (j, &v) in self.plc.valves.iter().enumerate() {
            r[12 + j] = Some(crate::scaled_u16(self.sim.valve(v).open, 1000.0));
        }
        sparse(&r, start, count)
    }

    fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        sparse(&self.coils(), start, values.len() as u16)?;
        if self.plc.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        for (i, &v) in values.iter().enumerate() {
            let a = start as usize + i;
            let cmd = if a < 8 {
                let k = self.plc.pumps[a];
                if v { Command::StartPump { pump: k } } else { Command::StopPump { pump: k } }
            } else {
                Command::MoveValve { valve: self.plc.valves[a - 8], open: if v { 1.0 } else { 0.0 } }
            };
            self.sim.apply(&cmd).map_err(|_| ExceptionCode::ServerDeviceFailure)?;
        }
        Ok(())
    }

    fn write_registers(&mut self, start: u16, values: &[u16]) -> Result<(), ExceptionCode> {
        let exists = |a: usize| a < self.plc.speed_set_rpm.len() || a == 8;
        if !(start as usize..start as usize + values.len()).all(exists) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.plc.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        for (i, &v) in values.iter().enumerate() {
            let a = start as usize + i;
            if a == 8 {
                self.plc.limit_pa = f64::from(v) / KPA;
            } else {
                self.plc.speed_set_rpm[a] = f64::from(v);
            }
        }
        Ok(())
    }
}

struct SisModel<'a> {
    sim: &'a mut pipesim::Sim,
    staged: Vec<u16>,
    /// At LOCAL: writes answer "server device failure" (04).
    local: bool,
}

/// File 1: the program image.
const PROGRAM_FILE: u16 = 1;
const RESET_COIL: u16 = 100;

impl SisModel<'_> {
    fn sis(&self) -> Result<&pipesim::sis::Sis, ExceptionCode> {
        self.sim.sis().ok_or(ExceptionCode::ServerDeviceFailure)
    }

    fn bits(&self, f: impl Fn(&pipesim::sis::Sis, usize) -> bool) -> Result<u32, ExceptionCode> {
        let s = self.sis()?;
        Ok((0..s.functions().len().min(32)).filter(|&i| f(s, i)).fold(0u32, |m, i| m | (1 << i)))
    }
}

fn words(bytes: &[u8]) -> Vec<u16> {
    bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])).collect()
}

impl DataModel for SisModel<'_> {
    fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        let n = self.sis()?.functions().len().min(32);
        let bypassed = self.bits(|s, i| s.bypassed(i))?;
        let table: Vec<bool> = (0..n).map(|i| bypassed & (1 << i) != 0).collect();
        window(&table, start, count)
    }

    fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        let (tripped, bypassed) = (self.bits(|s, i| s.tripped(i))?, self.bits(|s, i| s.bypassed(i))?);
        let table: Vec<bool> = (0..64)
            .map(|i| if i < 32 { tripped & (1 << i) != 0 } else { bypassed & (1 << (i - 32)) != 0 })
            .collect();
        window(&table, start, count)
    }

    fn read_holding_registers(&mut self, _start: u16, _count: u16) -> Result<Vec<u16>, ExceptionCode> {
        Err(ExceptionCode::IllegalDataAddress)
    }

    fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let (tripped, bypassed) = (self.bits(|s, i| s.tripped(i))?, self.bits(|s, i| s.bypassed(i))?);
        let s = self.sis()?;
        let (sum, commissioned) = (s.checksum(), s.commissioned_checksum());
        let mut r = vec![
            s.key().code(),
            u16::from(s.faulted().is_some()),
            (sum >> 16) as u16,
            sum as u16,
            (commissioned >> 16) as u16,
            commissioned as u16,
            s.functions().len() as u16,
            tripped as u16,
            (tripped >> 16) as u16,
            bypassed as u16,
            (bypassed >> 16) as u16,
            0,
            0,
            0,
            0,
            0,
        ];
        r.extend(s.transmitters().iter().map(|t| kpa(t.reading_pa)));
        window(&r, start, count)
    }

    fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        let n = self.sis()?.functions().len().min(32) as u16;
        let reset = start == RESET_COIL && values.len() == 1;
        if !reset && start as usize + values.len() > n as usize {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        if self.sis()?.key() == KeySwitch::Run {
            return Err(ExceptionCode::IllegalFunction);
        }
        if reset {
            if values[0] {
                self.sim
                    .apply(&Command::SisReset { local: false })
                    .map_err(|_| ExceptionCode::IllegalFunction)?;
            }
            return Ok(());
        }
        for (i, &on) in values.iter().enumerate() {
            let cmd = Command::SisBypass { function: start as usize + i, on, local: false };
            self.sim.apply(&cmd).map_err(|_| ExceptionCode::IllegalFunction)?;
        }
        Ok(())
    }

    fn write_registers(&mut self, _start: u16, _values: &[u16]) -> Result<(), ExceptionCode> {
        Err(ExceptionCode::IllegalDataAddress)
    }

    fn read_file_record(&mut self, file: u16, record: u16, len: u16) -> Result<Vec<u16>, ExceptionCode> {
        if file != PROGRAM_FILE {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        window(&words(self.sis()?.image()), record, len)
    }

    fn write_file_record(&mut self, file: u16, record: u16, data: &[u16]) -> Result<(), ExceptionCode> {
        if file != PROGRAM_FILE {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.local {
            self.staged.clear();
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        if self.sis()?.key() != KeySwitch::Program {
            self.staged.clear();
            return Err(ExceptionCode::IllegalFunction);
        }
        let at = usize::from(record);
        if at == 0 {
            self.staged.clear();
        }
        if at != self.staged.len() {
            // Records come in order from record 0; anything else starts nothing.
            self.staged.clear();
            return Err(ExceptionCode::IllegalDataAddress);
        }
        self.staged.extend_from_slice(data);
        let bytes: Vec<u8> = self.staged.iter().flat_map(|w| w.to_be_bytes()).collect();
        // The length the image's header declares (8 + 40 per function). Until the header is
        // in, wait; a header that is not a program's is loaded as written (and faults).
        if bytes.len() < 8 {
            return Ok(());
        }
        let declared = if &bytes[0..4] == b"SISP" {
            8 + 40 * usize::from(u16::from_be_bytes([bytes[6], bytes[7]]))
        } else {
            bytes.len()
        };
        if bytes.len() >= declared {
            let image = bytes[..declared].to_vec();
            self.staged.clear();
            self.sim.apply(&Command::SisDownload(image)).map_err(|_| ExceptionCode::IllegalFunction)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plant_at(key: KeySwitch) -> PipePlant {
        let text = include_str!("../../../pipelines/colonial.toml");
        let line = pipesim::file::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let mut p = plant(line, pipesim::SimOptions::default(), Ipv4Addr::new(127, 10, 0, 0));
        let _ = p.sim.apply(&Command::SisKey(key));
        p
    }

    /// An FC 21 PDU writing `words` into file 1 from `record`.
    fn write(record: u16, words: &[u16]) -> Vec<u8> {
        let mut pdu = vec![0x15, (7 + 2 * words.len()) as u8, 6, 0, 1];
        pdu.extend_from_slice(&record.to_be_bytes());
        pdu.extend_from_slice(&(words.len() as u16).to_be_bytes());
        for w in words {
            pdu.extend_from_slice(&w.to_be_bytes());
        }
        pdu
    }

    fn exception(r: Option<Response>) -> Option<u8> {
        match r {
            Some(Response::Exception { code, .. }) => Some(code.code()),
            _ => None,
        }
    }

    #[test]
    fn a_program_loads_only_once_its_records_cover_its_header_s_length() {
        let mut p = plant_at(KeySwitch::Program);
        let sis = p.sim.sis().map(|s| (s.image().to_vec(), s.checksum()));
        let (image, before) = sis.unwrap_or_default();
        // The same program with its first function disabled.
        let mut functions = p.sim.sis().map(|s| s.functions().to_vec()).unwrap_or_default();
        functions[0].enabled = false;
        let new = pipesim::sis::encode(&functions);
        assert_eq!(new.len(), image.len());
        let words = words(&new);
        // A first write of three registers (shorter than a header) loads nothing.
        assert_eq!(exception(p.sis_modbus(1, &write(0, &words[..3]))), None);
        assert_eq!(p.sim.sis().map(|s| s.checksum()), Some(before));
        assert_eq!(exception(p.sis_modbus(1, &write(3, &words[3..100]))), None);
        assert_eq!(p.sim.sis().map(|s| s.checksum()), Some(before), "not before the last record");
        assert_eq!(exception(p.sis_modbus(1, &write(100, &words[100..]))), None);
        assert_eq!(p.sim.sis().map(|s| s.checksum()), Some(pipesim::sis::crc32(&new)));
        assert!(p.sim.sis().is_some_and(|s| s.faulted().is_none() && !s.functions()[0].enabled));
        // Records out of order start nothing.
        assert_eq!(exception(p.sis_modbus(1, &write(5, &words[5..10]))), Some(2));
    }

    #[test]
    fn the_key_and_the_local_switch_refuse_writes() {
        let mut p = plant_at(KeySwitch::Run);
        assert_eq!(exception(p.sis_modbus(1, &write(0, &[0x5349, 0x5350]))), Some(1));
        assert_eq!(exception(p.sis_modbus(1, &[0x05, 0, 0, 0xFF, 0])), Some(1), "a bypass at RUN");
        let mut p = plant_at(KeySwitch::Remote);
        assert_eq!(exception(p.sis_modbus(1, &[0x05, 0, 0, 0xFF, 0])), None, "a bypass at REMOTE");
        assert_eq!(exception(p.sis_modbus(1, &write(0, &[0x5349, 0x5350]))), Some(1), "no program at REMOTE");
        let mut p = plant_at(KeySwitch::Program);
        if let Some(s) = &mut p.sis {
            s.state.local = true;
        }
        assert_eq!(exception(p.sis_modbus(1, &[0x05, 0, 0, 0xFF, 0])), Some(4));
        assert_eq!(exception(p.sis_modbus(1, &write(0, &[0x5349, 0x5350]))), Some(4));
    }
}
