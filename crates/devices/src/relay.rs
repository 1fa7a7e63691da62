//! A protection relay (an overcurrent IED) on one branch, with its Modbus/TCP interface.
//!
//! The relay *is* the branch's inverse-time overcurrent protection that `gridsim` models:
//! switching it out of service over Modbus disables that protection in the grid, which is
//! what the 2016 relay denial of service achieved.
//!
//! # Default Modbus map (unit id 1; 255 is accepted too)
//!
//! | table | address | meaning | scaling |
//! |---|---|---|---|
//! | coil | 0 | breaker: 1 closed; write 0 to trip, 1 to close (after the breaker's operating time) | |
//! | coil | 1 | overcurrent protection in service; write to switch | |
//! | discrete input | 0 | breaker closed | |
//! | discrete input | 1 | protection in service | |
//! | discrete input | 2 | picked up (current above pickup, timing towards a trip) | |
//! | discrete input | 3 | tripped: the breaker was last opened by this relay (reset by a close) | |
//! | input register | 0 | current at the more loaded end | A |
//! | input register | 1 | current over pickup | × 100 |
//! | input register | 2 | progress towards the trip | per mille |
//! | input register | 3 | active power into the branch at its from end | MW × 10, signed |
//!
//! Writes at LOCAL, and a close the synchro-check refuses: exception 04; another unit id:
//! exception 0B.

use std::net::Ipv4Addr;

use gridsim::sim::{Cause, Command, Element, Event, EventKind, Sim};
use proto_modbus::pdu::Response;
use proto_modbus::{DataModel, DeviceIdentity, ExceptionCode, Server};

use crate::{DeviceKind, DeviceState, OperatingTime, Protocol, scaled_i16, scaled_u16, window};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct RelayImage {
    closed: bool,
    protection: bool,
    picked: bool,
    tripped: bool,
    amps: f64,
    multiple: f64,
    progress: f64,
    p_mw: f64,
}

#[derive(Debug, Clone)]
pub struct Relay {
    pub name: String,
    /// The branch row in the case (1-based).
    pub row: u32,
    pub addr: Ipv4Addr,
    pub unit: u8,
    pub state: DeviceState,
    image: RelayImage,
    server: Server,
}

impl Relay {
    pub fn new(sim: &Sim, row: u32, addr: Ipv4Addr) -> Relay {
        let case = sim.case();
        let b = &case.branches[row as usize - 1];
        let name = format!("branch{row}-relay ({}-{})", case.bus(b.from).id, case.bus(b.to).id);
        let identity = DeviceIdentity {
            vendor_name: "icsrange".into(),
            product_code: "OC-RELAY".into(),
            revision: "2.1".into(),
            vendor_url: "https://icsrange.invalid".into(),
            product_name: "Feeder and line overcurrent relay".into(),
            model_name: "OCR-51".into(),
            user_application_name: name.clone(),
        };
        let mut r = Relay {
            name,
            row,
            addr,
            unit: 1,
            state: DeviceState::default(),
            image: RelayImage::default(),
            server: Server::new(identity),
        };
        r.refresh(sim);
        r
    }

    pub fn kind(&self) -> DeviceKind {
        DeviceKind::Relay
    }

    pub fn protocol(&self) -> Protocol {
        Protocol::Modbus
    }

    pub fn refresh(&mut self, sim: &Sim) {
        let k = self.row as usize - 1;
        let case = sim.case();
        let branch = &case.branches[k];
        let sol = sim.power_flow_solution();
        let flow = sol.branches.get(k).copied().unwrap_or_default();
        let amps = |bus: gridsim::BusIdx, p: f64, q: f64| {
            let v_kv = sol.vm_pu.get(bus.get()).copied().unwrap_or(0.0) * case.buses[bus.get()].base_kv;
            if v_kv > 1e-6 { p.hypot(q) * 1e3 / (3f64.sqrt() * v_kv) } else { 0.0 }
        };
        let closed = sim.branch_closed(self.row).unwrap_or(false);
        let (ia, ib) =
            (amps(branch.from, flow.pf_mw, flow.qf_mvar), amps(branch.to, flow.pt_mw, flow.qt_mvar));
        let multiple = sim.branch_loading().get(k).copied().unwrap_or(0.0);
        let progress = sim.relay_progress(self.row).unwrap_or(0.0);
        self.image = RelayImage {
            closed,
            protection: sim.branch_protection(self.row).unwrap_or(false),
            picked: closed && progress > 0.0,
            tripped: self.image.tripped && !closed,
            amps: if closed { ia.max(ib) } else { 0.0 },
            multiple: if closed { multiple } else { 0.0 },
            progress,
            p_mw: if closed { flow.pf_mw } else { 0.0 },
        };
    }

    /// Latches "tripped" when the grid's protection opened this relay's branch.
    pub fn observe(&mut self, event: &Event) {
        if event.element != Element::Branch(self.row) {
            return;
        }
        match (event.kind, &event.cause) {
            (EventKind::Open, Cause::Overcurrent { .. } | Cause::Instantaneous { .. }) => {
                self.image.tripped = true
            }
            (EventKind::Close, _) => self.image.tripped = false,
            _ => {}
        }
    }

    pub fn handle(&mut self, sim: &mut Sim, unit: u8, pdu: &[u8]) -> Option<Response> {
        if unit != self.unit && unit != 0xFF {
            let function = pdu.first().copied().unwrap_or(0);
            return Some(Response::exception(function, ExceptionCode::GatewayTargetFailedToRespond));
        }
        let mut model = RelayModel {
            image: self.image,
            row: self.row,
            commands: Vec::new(),
            local: self.state.local,
            sim,
        };
        let response = self.server.handle_pdu(&mut model, pdu);
        let commands = std::mem::take(&mut model.commands);
        for &cmd in &commands {
            // The element exists (the device was built for it).
            let _ = crate::operate(sim, cmd, OperatingTime::CIRCUIT_BREAKER);
        }
        // Reads leave the image to the clock's refresh, as the PLC does.
        if !commands.is_empty() {
            self.refresh(sim);
        }
        response
    }

    pub fn take_restarts(&mut self) -> u32 {
        self.server.take_restarts()
    }

    pub fn summary(&self) -> String {
        format!(
            "coil 0 breaker={} coil 1 protection={} ir 0 I={:.0} A",
            u8::from(self.image.closed),
            u8::from(self.image.protection),
            self.image.amps
        )
    }
}

struct RelayModel<'a> {
    image: RelayImage,
    row: u32,
    commands: Vec<Command>,
    local: bool,
    /// For the interlocks.
    sim: &'a Sim,
}

impl DataModel for RelayModel<'_> {
    fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        window(&[self.image.closed, self.image.protection], start, count)
    }

    fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        let i = self.image;
        window(&[i.closed, i.protection, i.picked, i.tripped], start, count)
    }

    fn read_holding_registers(&mut self, _start: u16, _count: u16) -> Result<Vec<u16>, ExceptionCode> {
        Err(ExceptionCode::IllegalDataAddress)
    }

    fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let i = self.image;
        window(
            &[
                scaled_u16(i.amps, 1.0),
                scaled_u16(i.multiple, 100.0),
                scaled_u16(i.progress.min(1.0), 1000.0),
                scaled_i16(i.p_mw, 10.0),
            ],
            start,
            count,
        )
    }

    fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        if start as usize + values.len() > 2 {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        let el = Element::Branch(self.row);
        for (i, &v) in values.iter().enumerate() {
            if start as usize + i == 0 {
                let cmd = if v { Command::Close(el) } else { Command::Open(el) };
                crate::interlock(self.sim, &cmd).map_err(|_| ExceptionCode::ServerDeviceFailure)?;
                self.commands.push(cmd);
            } else {
                self.image.protection = v;
                self.commands.push(Command::Protection(el, v));
            }
        }
        Ok(())
    }

    fn write_registers(&mut self, _start: u16, _values: &[u16]) -> Result<(), ExceptionCode> {
        Err(ExceptionCode::IllegalDataAddress)
    }
}
