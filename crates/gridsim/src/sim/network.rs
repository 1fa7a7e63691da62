//! The network: the power flow with a distributed slack (retried damped, then flat; a
//! diverging island collapses), islands rebuilt from its solution, supply recounted.

use super::*;
use crate::case::{BusId, BusIdx};
use crate::pf::{self, PfError, PfOptions, PfSolution, QLimits, Start};

impl Sim {
    /// rebuilds islands, relay currents and everything derived.
    pub(super) fn power_flow(&mut self) {
        self.next_pf =
            SimTime(self.t.0.saturating_add(SimTime::from_secs(self.dynamics.pf_interval_s).0.max(1)));
        for (k, br) in self.net.branches.iter_mut().enumerate() {
            br.in_service = self.branch_closed[k];
        }
        for (g, unit) in self.net.gens.iter_mut().enumerate() {
            unit.in_service = self.gen_closed[g];
            unit.pg_mw = self.units[g].pm;
        }
        let d = self.dynamics.load_damping;
        for (k, lp) in self.dynamics.loads.iter().enumerate() {
            let b = lp.bus.get();
            let l = &self.loads[k];
            let df = self.islands.get(self.bus_island[b] as usize).map_or(0.0, |i| i.df);
            let on = if l.closed { 1.0 - l.shed } else { 0.0 };
            let bus = &mut self.net.buses[b];
            bus.pd_mw = self.base.buses[b].pd_mw * on * (1.0 + d * df);
            bus.qd_mvar = self.base.buses[b].qd_mvar * on;
        }

        // Solve; a diverging island collapses (its units trip) and the rest is solved again.
        let sol = loop {
            match self.solve_distributed() {
                Ok(sol) => break sol,
                Err((bus, last)) => {
                    let Some(island) =
                        bus.and_then(|bus| last.islands.iter().find(|i| i.buses.contains(&bus)))
                    else {
                        break *last;
                    };
                    let gens: Vec<usize> = (0..self.net.gens.len())
                        .filter(|&g| self.gen_closed[g] && island.buses.contains(&self.net.gens[g].bus))
                        .collect();
                    if gens.is_empty() {
                        break *last;
                    }
                    let name = island.buses.iter().map(|b| self.base.bus(*b).id).min().unwrap_or(BusId(0));
                    let mut ev = Event::new(
                        self.t,
                        EventKind::Collapse,
                        Element::Island(name),
                        Cause::VoltageCollapse,
                    );
                    ev.buses = Some(island.buses.len() as u32);
                    self.events.push(ev);
                    for g in gens {
                        self.switch(Element::Gen(g as u32 + 1), false, Cause::VoltageCollapse);
                        self.net.gens[g].in_service = false;
                    }
                }
            }
        };
        self.losses_mw = sol.losses_mw;
        self.rebuild_islands(&sol);

        // Relay currents: |S|/|V| at each end, against the pickup current.
        self.picked.clear();
        let base = self.base.base_mva;
        for (k, relay) in self.dynamics.relays.iter().enumerate() {
            let br = &self.base.branches[k];
            let flow = &sol.branches[k];
            let m = if relay.rating_mva > 0.0 && self.branch_closed[k] {
                let i_end = |p: f64, q: f64, vm: f64| if vm > 1e-6 { p.hypot(q) / base / vm } else { 0.0 };
                let i = i_end(flow.pf_mw, flow.qf_mvar, sol.vm_pu[br.from.get()]).max(i_end(
                    flow.pt_mw,
                    flow.qt_mvar,
                    sol.vm_pu[br.to.get()],
                ));
                i / (relay.pickup * relay.rating_mva / base)
            } else {
                0.0
            };
            self.relay_m[k] = m;
            if m > 1.0 && self.relay_enabled[k] {
                self.picked.push(k);
            } else {
                self.relay_acc[k] = 0.0;
            }
        }
        self.last = sol;
    }

    /// Power flow with the imbalance of each island shared by its units in proportion to
    /// inertia (units without inertia: equally). On divergence, retries damped, then damped
    /// from a flat start; returns the worst bus and the last iterate when all fail.
    pub(super) fn solve_distributed(&mut self) -> Result<PfSolution, (Option<BusIdx>, Box<PfSolution>)> {
        let tries = [
            PfOptions { start: Start::Warm, ..PfOptions::default() },
            PfOptions { start: Start::Warm, damped: true, max_iter: 40, ..PfOptions::default() },
            PfOptions {
                start: Start::Flat,
                damped: true,
                max_iter: 60,
                q_limits: QLimits::Ignore,
                ..PfOptions::default()
            },
        ];
        let mut rounds = 0;
        loop {
            let mut result = Err(PfError::NotConverged {
                iterations: 0,
                mismatch_pu: f64::INFINITY,
                bus: BusId(0),
                last: Box::new(empty_solution()),
            });
            for opts in &tries {
                result = pf::solve(&self.net, &mut self.ws, opts);
                self.stats.power_flows += 1;
                match &result {
                    Ok(sol) => self.stats.newton_iterations += sol.iterations as u64,
                    Err(PfError::NotConverged { iterations, .. }) => {
                        self.stats.newton_iterations += *iterations as u64
                    }
                }
                if result.is_ok() {
                    break;
                }
            }
            let sol = match result {
                Ok(sol) => sol,
                Err(PfError::NotConverged { bus, last, .. }) => {
                    return Err((self.base.bus_idx(bus), last));
                }
            };
            rounds += 1;
            // Imbalance left on the reference units of each island, shared out.
            let mut island_of = vec![NEVER; self.net.buses.len()];
            for (i, isl) in sol.islands.iter().enumerate() {
                for b in &isl.buses {
                    island_of[b.get()] = i as u32;
                }
            }
            let mut members_of: Vec<Vec<usize>> = vec![Vec::new(); sol.islands.len()];
            for (g, unit) in self.net.gens.iter().enumerate() {
                let i = island_of[unit.bus.get()];
                if unit.in_service && i != NEVER {
                    members_of[i as usize].push(g);
                }
            }
            let mut worst: f64 = 0.0;
            for (isl, members) in sol.islands.iter().zip(&members_of) {
                if isl.reference.is_none() {
                    continue;
                }
                let e: f64 = members.iter().map(|&g| sol.gens[g].pg_mw - self.net.gens[g].pg_mw).sum();
                worst = worst.max(e.abs());
                if e.abs() <= SLACK_TOL_MW {
                    continue;
                }
                let weight = |g: usize| self.dynamics.gens[g].params.h_s * self.dynamics.gens[g].mbase_mva;
                let total: f64 = members.iter().map(|&g| weight(g)).sum();
                for &g in members {
                    let share = if total > 0.0 { weight(g) / total } else { 1.0 / members.len() as f64 };
                    self.net.gens[g].pg_mw += share * e;
                }
            }
            if worst <= SLACK_TOL_MW || rounds >= 12 {
                return Ok(sol);
            }
        }
    }

    /// New islands from a solution: frequencies carried over (inertia-weighted), events for
    /// splits, merges, blackouts and re-energisation.
    pub(super) fn rebuild_islands(&mut self, sol: &PfSolution) {
        let n = self.base.buses.len();
        let old_islands = std::mem::take(&mut self.islands);
        let old_of = std::mem::replace(&mut self.bus_island, vec![NEVER; n]);
        let old_energised = |b: usize| old_of[b] != NEVER && old_islands[old_of[b] as usize].energised;
        let stages = self.dynamics.ufls.len();
        let cause = self.trigger.map_or(Cause::Command, Cause::Switching);
        let t = self.t;

        for (i, isl) in sol.islands.iter().enumerate() {
            for b in &isl.buses {
                self.bus_island[b.get()] = i as u32;
            }
        }
        let mut gens_of: Vec<Vec<usize>> = vec![Vec::new(); sol.islands.len()];
        for (g, unit) in self.net.gens.iter().enumerate() {
            if unit.in_service
                && let Some(&i) = self.bus_island.get(unit.bus.get()).filter(|&&i| i != NEVER)
            {
                gens_of[i as usize].push(g);
            }
        }
        let mut loads_of: Vec<Vec<usize>> = vec![Vec::new(); sol.islands.len()];
        for (k, lp) in self.dynamics.loads.iter().enumerate() {
            if let Some(&i) = self.bus_island.get(lp.bus.get()).filter(|&&i| i != NEVER) {
                loads_of[i as usize].push(k);
            }
        }

        for (i, isl) in sol.islands.iter().enumerate() {
            let energised = isl.reference.is_some();
            let gens = std::mem::take(&mut gens_of[i]);
            let loads = std::mem::take(&mut loads_of[i]);
            let name = isl.buses.iter().map(|b| self.base.bus(*b).id).min().unwrap_or(BusId(0));
            let mut areas: Vec<u32> = isl.buses.iter().map(|b| self.dynamics.bus_area[b.get()]).collect();
            areas.sort_unstable();
            areas.dedup();
            let weight = |g: usize| self.dynamics.gens[g].params.h_s * self.dynamics.gens[g].mbase_mva;
            let hs: f64 = gens.iter().map(|&g| weight(g)).sum();
            let s_mva: f64 = gens.iter().map(|&g| self.dynamics.gens[g].mbase_mva).sum();
            // Carry the frequency over from the units' previous islands.
            let (mut wsum, mut dfsum) = (0.0, 0.0);
            for &g in &gens {
                let b = self.net.gens[g].bus.get();
                if old_energised(b) {
                    let w = weight(g).max(1e-9);
                    wsum += w;
                    dfsum += w * old_islands[old_of[b] as usize].df;
                }
            }
            let df = if energised && wsum > 0.0 { dfsum / wsum } else { 0.0 };
            let pe: f64 = gens.iter().map(|&g| sol.gens[g].pg_mw).sum();
            let pl: f64 = isl.buses.iter().map(|b| self.net.buses[b.get()].pd_mw).sum();
            // Islands without inertia (inverters alone) get a notional 0.5 s on their rating so
            // the equation stays bounded.
            let hs = if hs > 0.0 { hs } else { (0.5 * s_mva).max(1e-3) };

            // Events against the previous partition.
            let mut old_parts: Vec<u32> =
                isl.buses.iter().map(|b| b.get()).filter(|&b| old_energised(b)).map(|b| old_of[b]).collect();
            old_parts.sort_unstable();
            old_parts.dedup();
            if energised && old_parts.len() > 1 {
                let mut ev = Event::new(t, EventKind::IslandMerge, Element::Island(name), cause);
                ev.buses = Some(isl.buses.len() as u32);
                self.events.push(ev);
            }
            if !energised && !old_parts.is_empty() {
                let mut ev = Event::new(t, EventKind::Blackout, Element::Island(name), cause);
                ev.buses = Some(isl.buses.len() as u32);
                let closed: Vec<usize> = loads.iter().copied().filter(|&k| self.loads[k].closed).collect();
                ev.mw = Some(closed.iter().map(|&k| self.load_demand(k) * (1.0 - self.loads[k].shed)).sum());
                // What UFLS already shed was reported then.
                ev.customers = Some(
                    closed
                        .iter()
                        .map(|&k| {
                            let c = self.dynamics.loads[k].customers as u64;
                            c - ((self.loads[k].shed * c as f64).round() as u64).min(c)
                        })
                        .sum(),
                );
                self.events.push(ev);
            }
            for &g in &gens {
                self.units[g].pe = sol.gens[g].pg_mw;
            }
            self.islands.push(IslandState {
                name,
                buses: isl.buses.clone(),
                gens,
                loads,
                areas,
                energised,
                df,
                hs,
                other_mw: pe - pl,
                ufls_since: vec![None; stages],
                df_min: df,
                df_max: df,
            });
        }
        // Splits: an energised island whose buses now lie in several energised islands.
        for old in &old_islands {
            if !old.energised {
                continue;
            }
            let mut parts: Vec<u32> = old
                .buses
                .iter()
                .map(|b| self.bus_island[b.get()])
                .filter(|&i| i != NEVER && self.islands[i as usize].energised)
                .collect();
            parts.sort_unstable();
            parts.dedup();
            if parts.len() > 1 {
                let mut ev = Event::new(t, EventKind::IslandSplit, Element::Island(old.name), cause);
                ev.buses = Some(old.buses.len() as u32);
                ev.parts = Some(parts.len() as u32);
                self.events.push(ev);
            }
        }
        // Re-energisation: a dead island whose buses have a source again.
        for old in &old_islands {
            if old.energised {
                continue;
            }
            let back = old.buses.iter().filter(|b| {
                let i = self.bus_island[b.get()];
                i != NEVER && self.islands[i as usize].energised
            });
            let n = back.count();
            if n > 0 {
                let mut ev = Event::new(t, EventKind::Energised, Element::Island(old.name), cause);
                ev.buses = Some(n as u32);
                self.events.push(ev);
            }
        }
        // UFLS timers and frequency extremes carry over from the energised island that held
        // most of the buses (so a radial trip does not restart a falling island's timers).
        let mut votes: Vec<u32> = vec![0; old_islands.len()];
        for isl in &mut self.islands {
            if !isl.energised {
                continue;
            }
            votes.iter_mut().for_each(|v| *v = 0);
            for b in &isl.buses {
                if old_energised(b.get()) {
                    votes[old_of[b.get()] as usize] += 1;
                }
            }
            let best = (0..votes.len()).filter(|&o| votes[o] > 0).max_by_key(|&o| (votes[o], usize::MAX - o));
            if let Some(o) = best {
                let old = &old_islands[o];
                isl.ufls_since.clone_from(&old.ufls_since);
                isl.df_min = old.df_min.min(isl.df);
                isl.df_max = old.df_max.max(isl.df);
            }
        }
        // Units in dead islands produce nothing.
        for (g, u) in self.units.iter_mut().enumerate() {
            let b = self.net.gens[g].bus.get();
            let live = self.gen_closed[g]
                && self.bus_island[b] != NEVER
                && self.islands[self.bus_island[b] as usize].energised;
            if !live {
                u.pe = 0.0;
            }
        }
    }

    /// Served demand and customers, recomputed after every change.
    pub(super) fn recount(&mut self) {
        let mut total = Supply { ens_mwh: self.totals.ens_mwh, ..self.totals.clone() };
        let mut areas: Vec<Supply> =
            self.area_totals.iter().map(|a| Supply { ens_mwh: a.ens_mwh, ..a.clone() }).collect();
        for s in std::iter::once(&mut total).chain(areas.iter_mut()) {
            s.demand_mw = 0.0;
            s.served_mw = 0.0;
            s.unserved_mw = 0.0;
            s.customers = 0;
            s.customers_off = 0;
        }
        for (k, lp) in self.dynamics.loads.iter().enumerate() {
            let (demand, served, customers, off) = self.load_supply(k);
            let area = self.dynamics.bus_area[lp.bus.get()];
            let ai = self.area_ids.binary_search(&area).ok();
            for s in std::iter::once(&mut total).chain(ai.map(|i| &mut areas[i])) {
                s.demand_mw += demand;
                s.served_mw += served;
                s.unserved_mw += demand - served;
                s.customers += customers;
                s.customers_off += off;
            }
        }
        self.totals = total;
        self.area_totals = areas;
    }
}
