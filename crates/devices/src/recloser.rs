//! A feeder recloser controller speaking DNP3, one per load (feeder) of the grid.
//!
//! # Default point map (outstation address 10; any master address)
//!
//! | object | index | meaning |
//! |---|---|---|
//! | g1v2 binary input | 0 | recloser (feeder breaker) closed |
//! | g1v2 binary input | 1 | feeder energised |
//! | g10v2 binary output status | 0 | recloser closed |
//! | g12v1 CROB | 0 | LATCH_ON or CLOSE/PULSE_ON closes, LATCH_OFF or TRIP/PULSE_ON opens |
//! | g20v1 counter | 0 | recloser operations |
//! | g30v1 analog input | 0 | load served, kW |
//! | g30v1 analog input | 1 | bus voltage, V |
//! | g30v1 analog input | 2 | frequency, mHz |
//!
//! The recloser opens 40 ms and closes 60 ms after the CROB (`OperatingTime::RECLOSER`): the
//! CROB's echo comes at once, the status change as an event when the contacts have moved.
//!
//! Events: g2v2 (class 1) on any change of a binary input; g32v1 (class 2) beyond a deadband
//! (1000 kW, 500 V, 10 mHz).

use std::net::Ipv4Addr;

use gridsim::sim::{Command, Element, Sim};
use gridsim::{BusId, BusIdx};
use proto_dnp3::outstation::{Operation, Outstation};

/// Milliseconds from 1970-01-01 (DNP3's epoch) to 2000-01-01 (the range's).
pub const DNP3_EPOCH_OFFSET_MS: u64 = 946_684_800_000;

#[derive(Debug, Clone)]
pub struct Recloser {
    pub name: String,
    pub bus: BusIdx,
    pub load: BusId,
    pub addr: Ipv4Addr,
    pub outstation: Outstation,
    pub state: crate::DeviceState,
    /// Milliseconds since 2000-01-01 UTC at simulated time 0 (the range's one epoch; DNP3
    /// event times count from 1970, `DNP3_EPOCH_OFFSET_MS` earlier).
    pub start_ms_since_2000: u64,
}

impl Recloser {
    pub fn new(sim: &Sim, bus: BusIdx, addr: Ipv4Addr) -> Recloser {
        let load = sim.case().bus(bus).id;
        let mut outstation = Outstation::new(10);
        outstation.binaries = vec![false, false];
        outstation.outputs = vec![false];
        outstation.counters = vec![0];
        outstation.analogs = vec![0, 0, 0];
        outstation.deadbands = vec![1000, 500, 10];
        let mut r = Recloser {
            name: format!("feeder{load}-recloser"),
            bus,
            load,
            addr,
            outstation,
            state: crate::DeviceState::default(),
            start_ms_since_2000: 0,
        };
        r.read(sim, false);
        r
    }

    pub fn refresh(&mut self, sim: &Sim) {
        self.read(sim, true);
    }

    fn read(&mut self, sim: &Sim, events: bool) {
        let closed = sim.load_closed(self.load).unwrap_or(false);
        let f = sim.bus_frequency_hz(self.bus);
        let b = self.bus.get();
        let kv = sim.power_flow_solution().vm_pu.get(b).copied().unwrap_or(0.0) * sim.case().buses[b].base_kv;
        let kw = sim.load_served_mw(self.bus).unwrap_or(0.0) * 1000.0;
        let analogs = [kw, kv * 1000.0, f.unwrap_or(0.0) * 1000.0]
            .map(|v| v.round().clamp(i32::MIN as f64, i32::MAX as f64) as i32);
        let o = &mut self.outstation;
        if !events {
            o.binaries = vec![closed, f.is_some()];
            o.outputs = vec![closed];
            o.analogs = analogs.to_vec();
            return;
        }
        let t = DNP3_EPOCH_OFFSET_MS + self.start_ms_since_2000 + sim.time().0 / 1000;
        if o.outputs[0] != closed {
            o.outputs[0] = closed;
            o.counters[0] = o.counters[0].wrapping_add(1);
        }
        o.set_binary(0, closed, t);
        o.set_binary(1, f.is_some(), t);
        for (i, v) in analogs.into_iter().enumerate() {
            o.set_analog(i, v);
        }
    }

    /// Answers one application fragment; operations go to the grid.
    pub fn handle(&mut self, sim: &mut Sim, now_ms: u64, fragment: &[u8]) -> Option<Vec<u8>> {
        self.outstation.local = self.state.local;
        let (response, ops) = self.outstation.handle(now_ms, fragment);
        let mut operated = false;
        for op in ops {
            if let Operation::Control { index: 0, close } = op {
                let el = Element::Load(self.load);
                let cmd = if close { Command::Close(el) } else { Command::Open(el) };
                operated |= crate::operate(sim, cmd, crate::OperatingTime::RECLOSER).is_ok();
            }
        }
        if operated {
            self.refresh(sim);
        }
        response
    }

    pub fn summary(&self) -> String {
        format!(
            "g1v2 0 closed={} g30v1 0 load={} kW, CROB g12v1 0",
            u8::from(self.outstation.binaries[0]),
            self.outstation.analogs[0]
        )
    }
}
