//! What the simulator reports: supply per load, island and area, frequencies, ROCOF.

use super::*;
use crate::case::BusIdx;
use crate::pf::PfSolution;

impl Sim {
    /// (demand, served, customers, customers off) of one load now.
    pub(super) fn load_supply(&self, k: usize) -> (f64, f64, u64, u64) {
        let lp = &self.dynamics.loads[k];
        let l = &self.loads[k];
        let demand = self.load_demand(k);
        let live = self.islands.get(self.bus_island[lp.bus.get()] as usize).is_some_and(|i| i.energised);
        let c = lp.customers as u64;
        if !live || !l.closed {
            return (demand, 0.0, c, c);
        }
        let off = (l.shed * lp.customers as f64).round() as u64;
        (demand, demand * (1.0 - l.shed), c, off)
    }

    /// The state now.
    pub fn observe(&self) -> Observation {
        let f0 = self.dynamics.f0_hz;
        let main =
            self.islands.iter().filter(|i| i.energised).fold(None::<&IslandState>, |best, i| match best {
                Some(b) if b.hs >= i.hs => Some(b),
                _ => Some(i),
            });
        let islands = self
            .islands
            .iter()
            .map(|isl| {
                let mut v = IslandView {
                    name: isl.name,
                    buses: isl.buses.len(),
                    energised: isl.energised,
                    f_hz: if isl.energised { f0 * (1.0 + isl.df) } else { 0.0 },
                    rocof_hz_s: if isl.energised { f0 * self.dfdt(isl) } else { 0.0 },
                    gen_mw: isl.gens.iter().map(|&g| self.units[g].pe).sum(),
                    served_mw: 0.0,
                    unserved_mw: 0.0,
                    customers_off: 0,
                    nadir_hz: if isl.energised { f0 * (1.0 + isl.df_min) } else { 0.0 },
                    zenith_hz: if isl.energised { f0 * (1.0 + isl.df_max) } else { 0.0 },
                };
                for &k in &isl.loads {
                    let (demand, served, _, off) = self.load_supply(k);
                    v.served_mw += served;
                    v.unserved_mw += demand - served;
                    v.customers_off += off;
                }
                v
            })
            .collect();
        Observation {
            t: self.t,
            f_hz: main.map_or(0.0, |i| f0 * (1.0 + i.df)),
            rocof_hz_s: main.map_or(0.0, |i| f0 * self.dfdt(i)),
            total: self.totals.clone(),
            areas: self.area_ids.iter().copied().zip(self.area_totals.iter().cloned()).collect(),
            islands,
            gen_mw: self.units.iter().map(|u| u.pe).sum(),
            losses_mw: self.losses_mw,
        }
    }

    /// The instantaneous rate of change of frequency of the island holding `bus`, Hz/s: what
    /// the swing equation gives for the present imbalance.
    pub fn rocof_hz_s(&self, bus: BusIdx) -> Option<f64> {
        let isl = self.islands.get(*self.bus_island.get(bus.get())? as usize)?;
        isl.energised.then(|| self.dynamics.f0_hz * self.dfdt(isl))
    }

    pub(super) fn dfdt(&self, isl: &IslandState) -> f64 {
        island_dfdt(isl, &self.base, &self.dynamics, &self.loads, &self.units)
    }

    /// The last power flow's solution.
    pub fn power_flow_solution(&self) -> &PfSolution {
        &self.last
    }
}
