//! Computational pipeline monitoring in the style of API RP 1130: a compensated volume
//! balance. Every `period_s` it integrates the inlet and outlet meters' readings and takes
//! the line pack estimated from the line's pressure transmitters (`Sim::linepack_estimate_m3`,
//! the stations' and block valves' pressures, linear between them); over each window `W` the
//! imbalance is
//!
//! `V_in(W) − V_out(W) − ΔLinePack(W)`
//!
//! and a leak alarm is raised when it exceeds the window's threshold
//!
//! `T(W) = (u_in + u_out)·Q_nom·W + U_linepack`
//!
//! (the meters' stated uncertainties of the nominated flow over the window, plus the line
//! pack estimate's uncertainty). The minimum detectable leak over a window is `T(W)/W`; a leak
//! of rate `q` is detected after `T(W)/q` in the first window where `q·W > T(W)`, plus one
//! period and the time its pressure wave takes to reach the meters (`detection_time_s`).
//!
//! Its known blindness: a transient (metered flow changing faster than
//! `transient_flow_per_min` of the nomination per minute, or a pressure faster than
//! `transient_pa_per_min`) makes the line pack estimate wrong between transmitters, so the
//! balance is suspended during it and for `transient_hold_s` after; the windows then start
//! again. A leak that opens during a transient (a hurried shutdown, a restart) is therefore
//! found only after the hold.

use std::collections::VecDeque;

use crate::SimTime;
use crate::model::LeakDetection;

/// A leak alarm: which window saw what.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakAlarm {
    pub t: SimTime,
    pub window_s: f64,
    pub imbalance_m3: f64,
    pub threshold_m3: f64,
    /// Imbalance over the window divided by the window: the leak rate it suggests.
    pub rate_m3_s: f64,
}

/// What the balance is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CpmStatus {
    /// Balancing; `covered_s` is how much history the windows have.
    Normal { covered_s: f64 },
    /// Suspended by a transient until this time (s).
    Blind { until_s: f64 },
}

#[derive(Debug, Clone)]
pub struct Cpm {
    cfg: LeakDetection,
    q_ref: f64,
    u_in: f64,
    u_out: f64,
    transit_s: f64,
    last: Option<(f64, f64, f64, Vec<f64>)>,
    v_in: f64,
    v_out: f64,
    history: VecDeque<(f64, f64, f64, f64)>,
    blind_until: f64,
    alarm: Option<LeakAlarm>,
    last_imbalance: Vec<f64>,
}

impl Cpm {
    /// `q_ref`: the nominated flow; `u_in`, `u_out`: the meters' stated uncertainties
    /// (fractions); `transit_s`: the time a pressure wave takes from the line's far end to
    /// the meters.
    pub fn new(cfg: &LeakDetection, q_ref: f64, u_in: f64, u_out: f64, transit_s: f64) -> Cpm {
        Cpm {
            last_imbalance: vec![0.0; cfg.windows_s.len()],
            cfg: cfg.clone(),
            q_ref,
            u_in,
            u_out,
            transit_s,
            last: None,
            v_in: 0.0,
            v_out: 0.0,
            history: VecDeque::new(),
            blind_until: 0.0,
            alarm: None,
        }
    }

    pub fn period_s(&self) -> f64 {
        self.cfg.period_s
    }

    /// The alarm threshold of a window of `w` seconds (m³).
    pub fn threshold_m3(&self, w: f64) -> f64 {
        (self.u_in + self.u_out) * self.q_ref * w + self.cfg.linepack_uncertainty_m3
    }

    /// The smallest leak (m³/s) any window can see.
    pub fn minimum_detectable_m3_s(&self) -> f64 {
        self.cfg.windows_s.iter().map(|&w| self.threshold_m3(w) / w).fold(f64::INFINITY, f64::min)
    }

    /// The stated time to detect a steady leak of `q` m³/s that opens in a steady line, or
    /// `None` below the minimum detectable leak.
    pub fn detection_time_s(&self, q: f64) -> Option<f64> {
        self.cfg
            .windows_s
            .iter()
            .filter(|&&w| q * w > self.threshold_m3(w))
            .map(|&w| self.threshold_m3(w) / q)
            .reduce(f64::min)
            .map(|t| t + self.cfg.period_s + self.transit_s)
    }

    pub fn alarm(&self) -> Option<&LeakAlarm> {
        self.alarm.as_ref()
    }

    /// Clears the alarm (an analyst acknowledged it); the windows start again.
    pub fn reset(&mut self) {
        self.alarm = None;
        self.history.clear();
    }

    pub fn status(&self) -> CpmStatus {
        let now = self.last.as_ref().map_or(0.0, |l| l.0);
        if now < self.blind_until {
            CpmStatus::Blind { until_s: self.blind_until }
        } else {
            let covered = self.history.front().map_or(0.0, |h| now - h.0);
            CpmStatus::Normal { covered_s: covered }
        }
    }

    /// The imbalance of each window at the last update (m³), 0 for windows not yet covered.
    pub fn imbalances_m3(&self) -> &[f64] {
        &self.last_imbalance
    }

    pub fn windows_s(&self) -> &[f64] {
        &self.cfg.windows_s
    }

    /// One update at `t` with the metered flows (m³/s), the line pack estimate (m³) and the
    /// pressures the estimate came from (Pa). Returns a new alarm.
    pub fn update(
        &mut self,
        t: SimTime,
        q_in: f64,
        q_out: f64,
        pack: f64,
        pressures: &[f64],
    ) -> Option<LeakAlarm> {
        let now = t.secs();
        let mut transient = false;
        if let Some((t0, qi0, qo0, p0)) = &self.last {
            let dt = now - t0;
            if dt > 0.0 {
                self.v_in += 0.5 * (q_in + qi0) * dt;
                self.v_out += 0.5 * (q_out + qo0) * dt;
                let flow_rate = self.cfg.transient_flow_per_min * self.q_ref * dt / 60.0;
                let p_rate = self.cfg.transient_pa_per_min * dt / 60.0;
                transient = (q_in - qi0).abs() > flow_rate
                    || (q_out - qo0).abs() > flow_rate
                    || pressures.iter().zip(p0).any(|(a, b)| (a - b).abs() > p_rate);
            }
        }
        self.last = Some((now, q_in, q_out, pressures.to_vec()));
        if transient {
            self.blind_until = now + self.cfg.transient_hold_s;
        }
        if now < self.blind_until {
            self.history.clear();
            self.last_imbalance.iter_mut().for_each(|v| *v = 0.0);
            return None;
        }
        self.history.push_back((now, self.v_in, self.v_out, pack));
        let longest = self.cfg.windows_s.iter().copied().fold(0.0, f64::max);
        while self.history.len() > 2 && self.history[1].0 <= now - longest {
            self.history.pop_front();
        }
        let mut new_alarm = None;
        for (k, &w) in self.cfg.windows_s.iter().enumerate() {
            // The newest sample at least `w` old (within a millisecond of rounding).
            let Some(old) = self.history.iter().rev().find(|h| h.0 <= now - w + 1e-3) else {
                self.last_imbalance[k] = 0.0;
                continue;
            };
            let imbalance = (self.v_in - old.1) - (self.v_out - old.2) - (pack - old.3);
            self.last_imbalance[k] = imbalance;
            let threshold = self.threshold_m3(w);
            if imbalance > threshold && self.alarm.is_none() && new_alarm.is_none() {
                new_alarm = Some(LeakAlarm {
                    t,
                    window_s: w,
                    imbalance_m3: imbalance,
                    threshold_m3: threshold,
                    rate_m3_s: imbalance / w,
                });
            }
        }
        if let Some(a) = &new_alarm {
            self.alarm = Some(a.clone());
        }
        new_alarm
    }
}
