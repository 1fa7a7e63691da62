//! The device model without sockets: commands go through the device (operating time,
//! interlocks), relays are the grid's protection, and power and network paths run through
//! UPSs and serial gateways. Protocol bytes are written out by hand from the standards.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use devices::{DeviceRef, Devices, OperatingTime, default_devices};
use gridsim::dynamics::Dynamics;
use gridsim::sim::{Command, Element, Sim, SimTime};

fn sim(name: &str) -> Sim {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cases");
    let case =
        gridsim::matpower::parse(&std::fs::read_to_string(root.join(format!("{name}.m"))).unwrap()).unwrap();
    let text = std::fs::read_to_string(root.join(format!("{name}.dyn.toml"))).unwrap();
    let d = Dynamics::from_toml(&case, &text).unwrap();
    Sim::new(case, d).unwrap()
}

const BASE: Ipv4Addr = Ipv4Addr::new(127, 60, 0, 0);

/// Steps the grid and the devices together, as the range does.
fn step(sim: &mut Sim, devices: &mut Devices, dt: SimTime) {
    sim.step(dt);
    let events = sim.take_events();
    devices.step(sim, dt, &events);
}

/// C_DC_NA_1, activation, direct execute (S/E = 0), DCS 1 off / 2 on (IEC 60870-5-101 7.2.6.16).
fn double_command(ca: u16, ioa: u32, on: bool) -> Vec<u8> {
    let [c0, c1] = ca.to_le_bytes();
    let [i0, i1, i2, _] = ioa.to_le_bytes();
    vec![46, 1, 6, 0, c0, c1, i0, i1, i2, if on { 2 } else { 1 }]
}

/// The IOA of the RTU command for `row` at the RTU of `bus_id` (2001 + its position among
/// the bus's branches, file order: the documented point map).
fn command_ioa(sim: &Sim, bus_id: u32, row: u32) -> (usize, u32) {
    let case = sim.case();
    let bus = case.bus_idx(gridsim::BusId(bus_id)).unwrap();
    let at: Vec<usize> = (0..case.branches.len())
        .filter(|&k| case.branches[k].from == bus || case.branches[k].to == bus)
        .collect();
    (bus.get(), 2001 + at.iter().position(|&k| k as u32 + 1 == row).unwrap() as u32)
}

#[test]
fn a_breaker_moves_after_its_operating_time_and_reports_it_spontaneously() {
    let mut sim = sim("case118");
    let mut devices = default_devices(&sim, BASE).unwrap();
    // Branch 1 (buses 1-2), commanded at bus 1's RTU.
    let (rtu, ioa) = command_ioa(&sim, 1, 1);
    let cursor = devices.rtus[rtu].event_cursor();
    let mut out = Vec::new();
    let asdu = double_command(1, ioa, false);
    assert!(devices.rtus[rtu].handle(&mut sim, SimTime(0), &asdu, &mut out));
    // ActCon (COT 7, positive) and ActTerm (COT 10) at once; the breaker has not moved yet.
    assert_eq!(out.len(), 2);
    assert_eq!((out[0][0], out[0][2]), (46, 7));
    assert_eq!((out[1][0], out[1][2]), (46, 10));
    assert_eq!(sim.branch_closed(1), Some(true));

    let open_us = OperatingTime::CIRCUIT_BREAKER.open.0;
    step(&mut sim, &mut devices, SimTime(open_us - 1));
    assert_eq!(sim.branch_closed(1), Some(true), "still travelling 1 µs before");
    step(&mut sim, &mut devices, SimTime(1));
    assert_eq!(sim.branch_closed(1), Some(false));
    // The RTU reports it: M_DP_TB_1 (31), COT 3, IOA 1001 + position, DIQ 1 (off).
    let mut events = Vec::new();
    devices.rtus[rtu].events_since(cursor, &mut events);
    let report = events.iter().find(|a| a[0] == 31).expect("a spontaneous double point");
    assert_eq!(report[2] & 0x3F, 3);
    assert_eq!(u32::from_le_bytes([report[6], report[7], report[8], 0]), ioa - 1000);
    assert_eq!(report[9] & 3, 1);
}

#[test]
fn closing_two_islands_out_of_step_is_refused_by_the_synchro_check() {
    let mut sim = sim("case118");
    let mut devices = default_devices(&sim, BASE).unwrap();
    // Area 3 separates on its ties (rows 30, 104, 105, 106); it exported before, so it
    // speeds up while the rest slows down.
    for row in [30, 104, 105, 106] {
        sim.apply(&Command::Open(Element::Branch(row))).unwrap();
    }
    // The rest also loses its largest unit (bus 89): the islands drift well apart.
    let big = sim.case().gens.iter().position(|g| sim.case().bus(g.bus).id.0 == 89).unwrap() as u32 + 1;
    sim.apply(&Command::Open(Element::Gen(big))).unwrap();
    step(&mut sim, &mut devices, SimTime::from_secs(3.0));
    let b = &sim.case().branches[29];
    let (fa, fb) = (sim.bus_frequency_hz(b.from).unwrap(), sim.bus_frequency_hz(b.to).unwrap());
    assert!((fa - fb).abs() > devices::SYNCHRO_CHECK_HZ, "{fa} Hz vs {fb} Hz");

    let from_id = sim.case().bus(b.from).id.0;
    let (rtu, ioa) = command_ioa(&sim, from_id, 30);
    let mut out = Vec::new();
    let asdu = double_command(from_id as u16, ioa, true);
    assert!(!devices.rtus[rtu].handle(&mut sim, SimTime(0), &asdu, &mut out));
    // One negative ActCon (COT 7 with P/N = 0x40), nothing scheduled, the tie stays open.
    assert_eq!(out.len(), 1);
    assert_eq!((out[0][0], out[0][2]), (46, 0x40 | 7));
    assert!(sim.scheduled().is_empty());
    step(&mut sim, &mut devices, SimTime::from_secs(1.0));
    assert_eq!(sim.branch_closed(30), Some(false));

    // Within the same island the check passes: a branch opened inside the other part
    // closes again.
    sim.apply(&Command::Open(Element::Branch(1))).unwrap();
    let (rtu, ioa) = command_ioa(&sim, 1, 1);
    out.clear();
    assert!(devices.rtus[rtu].handle(&mut sim, SimTime(0), &double_command(1, ioa, true), &mut out));
    assert_eq!(out[0][2], 7);
    step(&mut sim, &mut devices, OperatingTime::CIRCUIT_BREAKER.close);
    assert_eq!(sim.branch_closed(1), Some(true));
}

/// Read Discrete Inputs (FC 02) of `count` from 0; returns the bits.
fn read_inputs(devices: &mut Devices, sim: &mut Sim, d: DeviceRef, count: u16) -> Vec<bool> {
    let pdu = [0x02, 0, 0, 0, count as u8];
    let mut bytes = Vec::new();
    devices.modbus(sim, d, 1, &pdu).expect("an answer").emit(&mut bytes);
    assert_eq!(bytes[0], 0x02, "not an exception: {bytes:?}");
    (0..count as usize).map(|i| bytes[2 + i / 8] >> (i % 8) & 1 == 1).collect()
}

/// Write Single Coil (FC 05).
fn write_coil(devices: &mut Devices, sim: &mut Sim, d: DeviceRef, coil: u16, on: bool) -> Vec<u8> {
    let [a, b] = coil.to_be_bytes();
    let pdu = [0x05, a, b, if on { 0xFF } else { 0 }, 0];
    let mut bytes = Vec::new();
    devices.modbus(sim, d, 1, &pdu).expect("an answer").emit(&mut bytes);
    bytes
}

#[test]
fn a_relay_is_the_branch_protection_and_latches_its_trip() {
    let mut sim = sim("case118");
    let mut devices = default_devices(&sim, BASE).unwrap();
    assert_eq!(devices.relays.len(), sim.case().branches.len());
    // The N-2 outage of branches 36 and 50 overloads branch 47, whose relay trips first
    // (the grid's own cascade test predicts it at about 6.4 s).
    let relay = DeviceRef::Relay(46);
    assert_eq!(read_inputs(&mut devices, &mut sim, relay, 4), [true, true, false, false]);
    for row in [36, 50] {
        sim.apply(&Command::Open(Element::Branch(row))).unwrap();
    }
    step(&mut sim, &mut devices, SimTime::from_secs(1.0));
    assert_eq!(read_inputs(&mut devices, &mut sim, relay, 4), [true, true, true, false], "picked up");
    let mut t = 1.0;
    while sim.branch_closed(47) == Some(true) && t < 20.0 {
        step(&mut sim, &mut devices, SimTime::from_secs(0.1));
        t += 0.1;
    }
    assert_eq!(sim.branch_closed(47), Some(false), "tripped by 20 s");
    assert_eq!(read_inputs(&mut devices, &mut sim, relay, 4), [false, true, false, true], "tripped, latched");

    // Switching the protection out over Modbus disables it in the grid: the 2016 relay
    // denial of service. The echo comes at once; the grid follows at once (no breaker).
    let relay50 = DeviceRef::Relay(49);
    assert_eq!(write_coil(&mut devices, &mut sim, relay50, 1, false), [0x05, 0, 1, 0, 0]);
    assert_eq!(sim.branch_protection(50), Some(false));
    assert_eq!(read_inputs(&mut devices, &mut sim, relay50, 2), [false, false]);

    // Closing branch 47 from its relay takes the breaker's closing time and clears the flag.
    write_coil(&mut devices, &mut sim, relay, 0, true);
    assert_eq!(sim.branch_closed(47), Some(false));
    step(&mut sim, &mut devices, OperatingTime::CIRCUIT_BREAKER.close);
    assert_eq!(sim.branch_closed(47), Some(true));
    assert!(!read_inputs(&mut devices, &mut sim, relay, 4)[3]);
}

#[test]
fn ups_and_gateways_carry_power_and_the_network_to_what_they_feed() {
    let mut sim = sim("ukraine2015");
    let mut devices = default_devices(&sim, BASE).unwrap();
    // Every substation with feeders has a serial gateway and a UPS.
    assert_eq!(devices.gateways.len(), devices.upss.len());
    assert!(devices.gateways.len() >= 27, "{}", devices.gateways.len());
    let g = &devices.gateways[0];
    let behind = g.behind.clone();
    let gateway_addr = g.addr;
    assert!(!behind.is_empty());
    let recloser = devices.at(behind[0]).unwrap();
    assert!(matches!(recloser, DeviceRef::Recloser(_)));
    let elsewhere = devices.at(devices.gateways[1].behind[0]).unwrap();

    // A bricked gateway darkens its reclosers and no other.
    devices.set_state(gateway_addr, |s| s.firmware_ok = false).unwrap();
    assert!(!devices.reachable(recloser));
    assert!(devices.reachable(elsewhere));
    devices.set_state(gateway_addr, |s| s.firmware_ok = true).unwrap();
    assert!(devices.reachable(recloser));

    // The UPS switched off over Modbus darkens the gateway (so its reclosers) and the RTUs
    // it feeds, whatever the grid does.
    let ups = DeviceRef::Ups(0);
    let fed: Vec<Ipv4Addr> = devices.upss[0].powers.clone();
    assert_eq!(fed[0], gateway_addr);
    let rtu = devices.at(fed[1]).unwrap();
    assert!(matches!(rtu, DeviceRef::Rtu(_)));
    assert_eq!(read_inputs(&mut devices, &mut sim, ups, 3), [true, false, true]);
    write_coil(&mut devices, &mut sim, ups, 0, false);
    assert!(!devices.reachable(rtu) && !devices.reachable(recloser));
    assert!(devices.reachable(elsewhere) && devices.reachable(ups), "the UPS's own card still answers");
    write_coil(&mut devices, &mut sim, ups, 0, true);
    assert!(devices.reachable(rtu) && devices.reachable(recloser));

    // Without mains it rides through on its battery for its autonomy (30 min), then stops.
    let bus = devices.upss[0].bus;
    let feeding: Vec<u32> = (0..sim.case().branches.len())
        .filter(|&k| sim.case().branches[k].from == bus || sim.case().branches[k].to == bus)
        .map(|k| k as u32 + 1)
        .collect();
    for row in feeding {
        sim.apply(&Command::Open(Element::Branch(row))).unwrap();
    }
    assert!(sim.bus_frequency_hz(bus).is_none(), "the substation is dead");
    step(&mut sim, &mut devices, SimTime::from_secs(1.0));
    assert_eq!(read_inputs(&mut devices, &mut sim, ups, 3), [false, true, true], "on battery");
    for _ in 0..(devices::ups::AUTONOMY_S as u32 - 60) / 60 {
        step(&mut sim, &mut devices, SimTime::from_secs(60.0));
    }
    assert!(devices.reachable(rtu), "29 minutes in");
    for _ in 0..2 {
        step(&mut sim, &mut devices, SimTime::from_secs(60.0));
    }
    assert!(!devices.reachable(rtu), "battery exhausted after 30 minutes");
    assert_eq!(read_inputs(&mut devices, &mut sim, ups, 3), [false, true, false]);
}
