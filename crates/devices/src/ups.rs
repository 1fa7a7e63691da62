//! An uninterruptible power supply with a network management card speaking Modbus/TCP.
//!
//! It feeds the devices listed in its `powers` (a substation's RTU and serial gateway, a
//! control centre's servers). On mains (its bus energised) it charges; without mains it runs
//! from its battery for `autonomy_s` and then stops. Its output can be switched off over the
//! network, as the 2015 attackers scheduled for the control centres' UPSs: whatever it feeds
//! then goes dark, whatever the grid does.
//!
//! # Default Modbus map (unit id 1; 255 is accepted too)
//!
//! | table | address | meaning | scaling |
//! |---|---|---|---|
//! | coil | 0 | output on; write 0 to switch the output off, 1 to switch it on | |
//! | discrete input | 0 | on mains | |
//! | discrete input | 1 | on battery (output on, no mains) | |
//! | discrete input | 2 | output live | |
//! | input register | 0 | battery charge | per mille |
//! | input register | 1 | runtime left on battery | s |
//!
//! Writes at LOCAL: exception 04; another unit id: exception 0B.

use std::net::Ipv4Addr;

use gridsim::BusIdx;
use gridsim::sim::Sim;
use proto_modbus::pdu::Response;
use proto_modbus::{DataModel, DeviceIdentity, ExceptionCode, Server};

use crate::{DeviceKind, DeviceState, Protocol, scaled_u16, window};

/// Default battery autonomy at the rated load, s (30 minutes).
pub const AUTONOMY_S: f64 = 1800.0;
/// Time to recharge an empty battery on mains, s (8 hours).
pub const RECHARGE_S: f64 = 8.0 * 3600.0;

#[derive(Debug, Clone)]
pub struct Ups {
    pub name: String,
    /// The bus that feeds it.
    pub bus: BusIdx,
    pub addr: Ipv4Addr,
    pub unit: u8,
    pub state: DeviceState,
    /// Devices it feeds, by address.
    pub powers: Vec<Ipv4Addr>,
    pub output_on: bool,
    pub autonomy_s: f64,
    /// Battery charge, 0 to 1.
    pub charge: f64,
    mains: bool,
    server: Server,
}

impl Ups {
    pub fn new(sim: &Sim, name: String, bus: BusIdx, addr: Ipv4Addr, powers: Vec<Ipv4Addr>) -> Ups {
        let identity = DeviceIdentity {
            vendor_name: "icsrange".into(),
            product_code: "UPS-NMC".into(),
            revision: "6.4".into(),
            vendor_url: "https://icsrange.invalid".into(),
            product_name: "UPS network management card".into(),
            model_name: "NMC-3".into(),
            user_application_name: name.clone(),
        };
        Ups {
            name,
            bus,
            addr,
            unit: 1,
            state: DeviceState::default(),
            powers,
            output_on: true,
            autonomy_s: AUTONOMY_S,
            charge: 1.0,
            mains: sim.bus_frequency_hz(bus).is_some(),
            server: Server::new(identity),
        }
    }

    pub fn kind(&self) -> DeviceKind {
        DeviceKind::Ups
    }

    pub fn protocol(&self) -> Protocol {
        Protocol::Modbus
    }

    /// Whether what it feeds has power.
    pub fn output_live(&self) -> bool {
        self.output_on && (self.mains || self.charge > 0.0)
    }

    /// Takes mains from the grid and charges or discharges over `dt_s`.
    pub fn step(&mut self, sim: &Sim, dt_s: f64) {
        if self.mains {
            self.charge = (self.charge + dt_s / RECHARGE_S).min(1.0);
        } else if self.output_on {
            self.charge = (self.charge - dt_s / self.autonomy_s).max(0.0);
        }
        self.mains = sim.bus_frequency_hz(self.bus).is_some();
    }

    pub fn handle(&mut self, unit: u8, pdu: &[u8]) -> Option<Response> {
        if unit != self.unit && unit != 0xFF {
            let function = pdu.first().copied().unwrap_or(0);
            return Some(Response::exception(function, ExceptionCode::GatewayTargetFailedToRespond));
        }
        let runtime_s = if self.output_on { self.charge * self.autonomy_s } else { 0.0 };
        let mut model = UpsModel {
            mains: self.mains,
            output_on: self.output_on,
            live: self.output_live(),
            charge: self.charge,
            runtime_s,
            local: self.state.local,
        };
        let response = self.server.handle_pdu(&mut model, pdu);
        self.output_on = model.output_on;
        response
    }

    pub fn take_restarts(&mut self) -> u32 {
        self.server.take_restarts()
    }

    pub fn summary(&self) -> String {
        format!(
            "coil 0 output={} ir 0 charge={:.0}% feeds {}",
            u8::from(self.output_on),
            self.charge * 100.0,
            self.powers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
        )
    }
}

struct UpsModel {
    mains: bool,
    output_on: bool,
    live: bool,
    charge: f64,
    runtime_s: f64,
    local: bool,
}

impl DataModel for UpsModel {
    fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        window(&[self.output_on], start, count)
    }

    fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        window(&[self.mains, self.output_on && !self.mains, self.live], start, count)
    }

    fn read_holding_registers(&mut self, _start: u16, _count: u16) -> Result<Vec<u16>, ExceptionCode> {
        Err(ExceptionCode::IllegalDataAddress)
    }

    fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        window(&[scaled_u16(self.charge, 1000.0), scaled_u16(self.runtime_s, 1.0)], start, count)
    }

    fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        if start as usize + values.len() > 1 {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if self.local {
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        self.output_on = values[0];
        Ok(())
    }

    fn write_registers(&mut self, _start: u16, _values: &[u16]) -> Result<(), ExceptionCode> {
        Err(ExceptionCode::IllegalDataAddress)
    }
}
