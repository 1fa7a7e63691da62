//! Time: substeps cut at protection operating instants, the swing equation per island,
//! governors and turbines, frequency protection and UFLS, overcurrent relays.

use super::*;

impl Sim {
    /// Advances by `dt`, in substeps of at most `substep_s`, cut short at protection
    /// operating instants.
    pub fn step(&mut self, dt: SimTime) {
        let end = SimTime(self.t.0.saturating_add(dt.0));
        let h_max = SimTime::from_secs(self.dynamics.substep_s).0.max(1);
        while self.t < end {
            let mut h = h_max.min(end.0 - self.t.0);
            // So does the earliest scheduled command.
            if let Some(due) = self.scheduled.iter().map(|s| s.at.0).min() {
                h = h.min(due.saturating_sub(self.t.0).max(1));
            }
            // The earliest relay operation inside this substep ends it.
            for &k in &self.picked {
                if !self.relay_enabled[k] {
                    continue;
                }
                let relay = &self.dynamics.relays[k];
                let tt = relay.curve.trip_time_s(relay.tms, self.relay_m[k]);
                let left_us = ((1.0 - self.relay_acc[k]).max(0.0) * tt * 1e6).ceil();
                if left_us < h as f64 {
                    h = (left_us as u64).max(1);
                }
            }
            self.substep(h);
            self.apply_due();
        }
    }

    pub(super) fn substep(&mut self, h_us: u64) {
        let h = h_us as f64 * 1e-6;
        self.stats.substeps += 1;
        // Accounting over the substep uses the state at its start (it changes only at events).
        self.accrue(h);
        self.integrate(h);
        self.t = SimTime(self.t.0 + h_us);
        self.track_frequency();

        // Relays.
        let mut trips = Vec::new();
        for &k in &self.picked {
            if !self.relay_enabled[k] || !self.branch_closed[k] {
                continue;
            }
            let relay = &self.dynamics.relays[k];
            let tt = relay.curve.trip_time_s(relay.tms, self.relay_m[k]);
            self.relay_acc[k] += h / tt;
            if self.relay_acc[k] >= 1.0 - 1e-9 {
                trips.push((k, relay.curve, relay.tms, self.relay_m[k]));
            }
        }
        trips.sort_by_key(|t| t.0);
        for (k, curve, tms, multiple) in trips {
            self.switch(Element::Branch(k as u32 + 1), false, Cause::Overcurrent { curve, tms, multiple });
        }
        // Islands as the trips left them, before frequency protection looks at them.
        self.settle();
        self.frequency_protection();
        if self.t >= self.next_pf {
            self.dirty = true;
        }
        self.settle();
    }

    /// Swing equation, governors and turbines of every energised island over `h` seconds.
    pub(super) fn integrate(&mut self, h: f64) {
        for isl in &mut self.islands {
            if !isl.energised {
                continue;
            }
            let dfdt = island_dfdt(isl, &self.base, &self.dynamics, &self.loads, &self.units);
            for &g in &isl.gens {
                let gd = &self.dynamics.gens[g];
                let p = &gd.params;
                let u = &mut self.units[g];
                let mut target = u.pref;
                if let Some(r) = p.droop {
                    target -= gd.mbase_mva / r * isl.df;
                }
                let lo = gd.pmin_mw.min(u.pref);
                let hi = gd.pmax_mw.max(u.pref);
                let target = target.max(lo).min(hi);
                u.pv = lag(u.pv, target, p.tg_s, h);
                u.pt = lag(u.pt, u.pv, p.tt_s, h);
                u.pm = match p.reheat {
                    Some(rh) => {
                        u.pr = lag(u.pr, u.pt, rh.t_r_s, h);
                        rh.hp_fraction * u.pt + (1.0 - rh.hp_fraction) * u.pr
                    }
                    None => u.pt,
                };
            }
            // Units trip long before ±100 %; the bound only keeps absurd data finite.
            isl.df = (isl.df + h * dfdt).clamp(-1.0, 1.0);
        }
    }

    pub(super) fn track_frequency(&mut self) {
        let f0 = self.dynamics.f0_hz;
        for isl in &mut self.islands {
            if !isl.energised {
                continue;
            }
            isl.df_min = isl.df_min.min(isl.df);
            isl.df_max = isl.df_max.max(isl.df);
            let f = f0 * (1.0 + isl.df);
            self.totals.nadir_hz = self.totals.nadir_hz.min(f);
            self.totals.zenith_hz = self.totals.zenith_hz.max(f);
            self.window = Some(self.window.map_or((f, f), |(lo, hi)| (lo.min(f), hi.max(f))));
            for a in &isl.areas {
                if let Ok(i) = self.area_ids.binary_search(a) {
                    let s = &mut self.area_totals[i];
                    s.nadir_hz = s.nadir_hz.min(f);
                    s.zenith_hz = s.zenith_hz.max(f);
                }
            }
        }
    }

    /// Generator under/over-frequency trips and UFLS stages.
    pub(super) fn frequency_protection(&mut self) {
        let t = self.t;
        let f0 = self.dynamics.f0_hz;
        let delay = SimTime::from_secs(self.dynamics.gen_delay_s);
        let (under, over) = (self.dynamics.gen_under_hz, self.dynamics.gen_over_hz);
        let mut trips = Vec::new();
        let mut sheds = Vec::new();
        for i in 0..self.islands.len() {
            let isl = &mut self.islands[i];
            if !isl.energised {
                continue;
            }
            let f = f0 * (1.0 + isl.df);
            for &g in &isl.gens {
                let u = &mut self.units[g];
                if !self.gen_prot[g] || (f > under && f < over) {
                    u.freq_since = None;
                    continue;
                }
                let since = *u.freq_since.get_or_insert(t);
                if t.0 - since.0 >= delay.0 {
                    let cause = if f <= under {
                        Cause::UnderFrequency { f_hz: f }
                    } else {
                        Cause::OverFrequency { f_hz: f }
                    };
                    trips.push((g, cause));
                }
            }
            for (s, stage) in self.dynamics.ufls.iter().enumerate() {
                if f >= stage.f_hz {
                    isl.ufls_since[s] = None;
                    continue;
                }
                let since = *isl.ufls_since[s].get_or_insert(t);
                if t.0 - since.0 >= SimTime::from_secs(stage.delay_s).0 {
                    sheds.push((i, s, f));
                }
            }
        }
        for (g, cause) in trips {
            self.switch(Element::Gen(g as u32 + 1), false, cause);
        }
        for (i, s, f) in sheds {
            let stage = self.dynamics.ufls[s];
            let bit = 1u32 << s.min(31);
            for n in 0..self.islands[i].loads.len() {
                let k = self.islands[i].loads[n];
                let l = self.loads[k];
                if !l.closed || !l.ufls_enabled || l.stages & bit != 0 || l.shed >= 1.0 {
                    continue;
                }
                let before = l.shed;
                let after = (before + stage.fraction).min(1.0);
                let lp = &self.dynamics.loads[k];
                let demand = self.load_demand(k);
                let off = |x: f64| (x * lp.customers as f64).round() as u64;
                let mut ev = Event::new(
                    t,
                    EventKind::Shed,
                    Element::Load(self.base.buses[lp.bus.get()].id),
                    Cause::Ufls { stage: s as u8 + 1, f_hz: f },
                );
                ev.mw = Some(demand * (after - before));
                ev.customers = Some(off(after) - off(before));
                self.events.push(ev);
                self.loads[k].shed = after;
                self.loads[k].stages |= bit;
                self.dirty = true;
            }
        }
    }

    /// Adds `h` seconds of unserved energy, per area and in total.
    pub(super) fn accrue(&mut self, h: f64) {
        self.totals.ens_mwh += self.totals.unserved_mw * h / 3600.0;
        for a in &mut self.area_totals {
            a.ens_mwh += a.unserved_mw * h / 3600.0;
        }
    }

    /// Runs power flows and protection until nothing more changes at this instant.
    pub(super) fn settle(&mut self) {
        if !self.dirty {
            return;
        }
        for _ in 0..256 {
            if !self.dirty {
                break;
            }
            self.dirty = false;
            self.power_flow();
            // What the next round finds was caused by what this one switches.
            self.trigger = None;
            self.instantaneous();
        }
        self.trigger = None;
        self.recount();
    }

    pub(super) fn instantaneous(&mut self) {
        let mut trips = Vec::new();
        for (k, relay) in self.dynamics.relays.iter().enumerate() {
            if !self.relay_enabled[k] || !self.branch_closed[k] || relay.instantaneous <= 0.0 {
                continue;
            }
            // relay_m is relative to pickup; the instantaneous element to the rating.
            let of_rating = self.relay_m[k] * relay.pickup;
            if of_rating >= relay.instantaneous {
                trips.push((k, of_rating));
            }
        }
        for (k, multiple) in trips {
            self.switch(Element::Branch(k as u32 + 1), false, Cause::Instantaneous { multiple });
        }
    }
}
