//! A team's asset register and network map: what a utility's defenders have on file, from
//! the exercise's world (zones, the utility's own hosts, accounts) and the range's devices
//! (name, kind, protocol, address, station, substation). Every response action of the pages
//! picks its target from it, and the API reads targets as the register names them (full
//! addresses, substations), never by the exercise's hidden ids.
//!
//! Not on it: hosts outside the utility (`Host::on_file`: the zone `internet`), the attack.

use std::net::Ipv4Addr;

use exercise::Exercise;
use range::Range;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Register {
    pub zones: Vec<Zone>,
    pub hosts: Vec<Host>,
    pub accounts: Vec<Account>,
    pub devices: Vec<Device>,
    pub substations: Vec<Substation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// The tag its logs carry (the evidence's `host`).
    pub tag: String,
    pub name: String,
    pub zone: String,
    pub addr: Ipv4Addr,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub name: String,
    /// The host it logs in on (its register name).
    pub host: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub name: String,
    /// In words: "RTU", "protection relay", "PLC", "serial gateway", "UPS", "safety controller".
    pub kind: &'static str,
    pub protocol: Option<&'static str>,
    pub addr: Ipv4Addr,
    /// Unit id, common address or DNP3 address.
    pub id: String,
    /// The IEC 104 common address of an RTU (the diagram's station).
    pub station: Option<u16>,
    /// The substation it stands in, when the grid names one.
    pub substation: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Substation {
    pub name: String,
    pub ups: Option<Ipv4Addr>,
    pub gateway: Option<Ipv4Addr>,
}

fn kind_words(k: devices::DeviceKind) -> &'static str {
    match k {
        devices::DeviceKind::Rtu => "RTU",
        devices::DeviceKind::Relay => "protection relay",
        devices::DeviceKind::Plc => "PLC",
        devices::DeviceKind::Gateway => "serial gateway",
        devices::DeviceKind::Ups => "UPS",
        devices::DeviceKind::Sis => "safety controller",
    }
}

/// The register of a team's range.
pub fn of(ex: &Exercise, r: &Range, base: Ipv4Addr) -> Register {
    let zones = ex
        .zones
        .iter()
        .filter(|z| z.id != "internet")
        .map(|z| Zone { id: z.id.clone(), name: z.name.clone() });
    let zone_name =
        |id: &str| ex.zones.iter().find(|z| z.id == id).map_or_else(|| id.to_string(), |z| z.name.clone());
    let host_name = |h: &exercise::Host| h.name.clone().unwrap_or_else(|| h.id.clone());
    let hosts: Vec<Host> = ex
        .hosts
        .iter()
        .filter(|h| h.on_file())
        .map(|h| Host {
            tag: h.id.clone(),
            name: host_name(h),
            zone: zone_name(&h.zone),
            addr: h.addr.in_block(base),
        })
        .collect();
    let accounts = ex
        .accounts
        .iter()
        .map(|a| Account {
            name: a.id.clone(),
            host: ex.host(&a.host).map_or_else(|| a.host.clone(), host_name),
        })
        .collect();
    let d = r.devices();
    let sim = r.sim();
    let substation_of_bus = |bus: u32| {
        sim.dynamics().loads.iter().find(|l| l.bus.get() == bus as usize).map(|l| l.substation.clone())
    };
    let mut substations: Vec<Substation> = Vec::new();
    fn at(substations: &mut Vec<Substation>, name: &str) -> usize {
        match substations.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                substations.push(Substation { name: name.to_string(), ups: None, gateway: None });
                substations.len() - 1
            }
        }
    }
    for u in &d.upss {
        let name = u.name.strip_suffix(" UPS").unwrap_or(&u.name);
        let i = at(&mut substations, name);
        substations[i].ups = Some(u.addr);
    }
    for g in &d.gateways {
        let i = at(&mut substations, &g.substation);
        substations[i].gateway = Some(g.addr);
    }
    let devices = d
        .listing()
        .into_iter()
        .map(|l| {
            let rtu = d.rtus.iter().find(|x| x.addr == l.addr);
            let substation = rtu
                .and_then(|x| substation_of_bus(x.bus.0))
                .or_else(|| {
                    d.upss
                        .iter()
                        .find(|u| u.addr == l.addr)
                        .map(|u| u.name.trim_end_matches(" UPS").to_string())
                })
                .or_else(|| d.gateways.iter().find(|g| g.addr == l.addr).map(|g| g.substation.clone()));
            Device {
                name: l.name,
                kind: kind_words(l.kind),
                protocol: l.protocol.map(devices::Protocol::name),
                addr: l.addr,
                id: l.id,
                station: rtu.map(|x| x.station.common_address),
                substation,
            }
        })
        .collect();
    Register { zones: zones.collect(), hosts, accounts, devices, substations }
}
