//! The grid an exercise names, and its devices: built from the caller's `GridSource` (no file
//! system here), and the questions a loader asks of it (breaker points, substation supplies).

use devices::Devices;
use gridsim::sim::Sim;

use crate::CommandPoint;

/// The grid's files: the MATPOWER text and its sidecar, by the name the exercise gives.
pub trait GridSource {
    fn grid(&self, name: &str) -> Option<(String, String)>;
}

/// A grid and its default devices, as an exercise resolves them.
#[derive(Debug)]
pub struct Resolved {
    pub sim: Sim,
    pub devices: Devices,
}

/// Builds the grid and its devices from the source; an error message otherwise.
pub fn build_grid(source: &dyn GridSource, name: &str) -> Result<Resolved, String> {
    let (m, sidecar) = source.grid(name).ok_or_else(|| format!("no grid `{name}`"))?;
    let case = gridsim::matpower::parse(&m).map_err(|e| format!("grid `{name}`: {e}"))?;
    let dynamics = gridsim::dynamics::Dynamics::from_toml(&case, &sidecar)
        .map_err(|e| format!("grid `{name}` sidecar: {e}"))?;
    let sim = Sim::new(case, dynamics).map_err(|e| format!("grid `{name}`: {e}"))?;
    let devices = devices::default_devices(&sim, std::net::Ipv4Addr::new(127, 0, 0, 0))?;
    Ok(Resolved { sim, devices })
}

/// Whether the RTU with that common address has a double command at that IOA.
pub fn double_command_exists(g: &Resolved, p: CommandPoint) -> bool {
    g.devices.rtus.iter().any(|r| {
        r.station.common_address == p.station
            && r.station
                .commands
                .iter()
                .any(|c| c.ioa == p.ioa && c.kind == proto_iec104::station::CommandKind::Double)
    })
}

/// The breakers that supply each named substation: the branches into the bus its feeders
/// hang from, at the RTU of that bus. For a radial substation, opening them drops every
/// feeder of it.
pub fn supply_points(g: &Resolved, substations: &[String]) -> Vec<CommandPoint> {
    let case = g.sim.case();
    let loads = &g.sim.dynamics().loads;
    let mut out = Vec::new();
    for name in substations {
        let feeders: Vec<gridsim::BusIdx> =
            loads.iter().filter(|l| &l.substation == name).map(|l| l.bus).collect();
        // The feeders' parent: the other end of each feeder bus's branch.
        let mut parents: Vec<gridsim::BusIdx> = Vec::new();
        for &f in &feeders {
            for b in &case.branches {
                let other = if b.from == f {
                    b.to
                } else if b.to == f {
                    b.from
                } else {
                    continue;
                };
                if !feeders.contains(&other) && !parents.contains(&other) {
                    parents.push(other);
                }
            }
        }
        for p in parents {
            let Some(rtu) = g.devices.rtus.get(p.get()) else { continue };
            let at_p: Vec<usize> = (0..case.branches.len())
                .filter(|&k| case.branches[k].from == p || case.branches[k].to == p)
                .collect();
            for (pos, &k) in at_p.iter().enumerate() {
                let b = &case.branches[k];
                let other = if b.from == p { b.to } else { b.from };
                if !feeders.contains(&other) {
                    out.push(CommandPoint { station: rtu.station.common_address, ioa: 2001 + pos as u32 });
                }
            }
        }
    }
    out
}
