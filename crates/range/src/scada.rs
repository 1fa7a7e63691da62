//! The SCADA master: a session to every polled RTU over IEC 104, a general interrogation at
//! start and every `interrogation`, spontaneous reports in between; and its point database,
//! which keeps what it received (value, quality, when). What an HMI shows comes from here,
//! not from the grid: when an RTU goes dark its points go stale, as they did in Ukraine.

use std::collections::BTreeMap;

use gridsim::sim::SimTime;
use proto_iec104::asdu::cot;
use proto_iec104::{Asdu, Value};

use crate::Range;

/// Quality bit: invalid (IEC 60870-5-101 §7.2.6.3).
pub const IV: u8 = 0x80;
/// Quality bit: not topical (the value was not updated when it should have been).
pub const NT: u8 = 0x40;

/// A point's value as the master received it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointValue {
    Single(bool),
    /// 0 indeterminate, 1 off (open), 2 on (closed), 3 indeterminate.
    Double(u8),
    Float(f32),
}

/// One point of the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub value: PointValue,
    /// The quality bits as received, with NT set by the master when the station is lost.
    pub quality: u8,
    /// When the master received it (simulated time).
    pub at: SimTime,
}

impl Point {
    /// Whether the HMI should show it as stale (not topical or invalid).
    pub fn stale(&self) -> bool {
        self.quality & (IV | NT) != 0
    }
}

/// The SCADA master's state.
#[derive(Debug)]
pub struct Master {
    /// Polled stations, by common address, and the connection to each (an index into the
    /// range's connections).
    stations: Vec<u16>,
    pub(crate) conns: Vec<Option<usize>>,
    pub(crate) alive: bool,
    next_gi: SimTime,
    points: BTreeMap<(u16, u32), Point>,
    /// Whether each station's session is up.
    online: Vec<bool>,
}

impl Master {
    pub fn new(stations: &[u16]) -> Master {
        Master {
            stations: stations.to_vec(),
            conns: vec![None; stations.len()],
            alive: true,
            next_gi: SimTime(0),
            points: BTreeMap::new(),
            online: vec![false; stations.len()],
        }
    }

    /// Whether connection `c` (an index into the range's connections) is one of its sessions.
    pub(crate) fn owns(&self, c: usize) -> bool {
        self.conns.contains(&Some(c))
    }

    /// Takes what a station sent into the database.
    pub(crate) fn update(&mut self, t: SimTime, asdus: &[Vec<u8>]) {
        for raw in asdus {
            let Ok(a) = Asdu::parse(raw) else { continue };
            if !matches!(a.cause, cot::SPONTANEOUS | cot::INTERROGATED | cot::PERIODIC | cot::REQUEST)
                && !(20..=36).contains(&a.cause)
            {
                continue;
            }
            for (ioa, v) in &a.objects {
                let (value, quality) = match *v {
                    Value::Single { on, quality } | Value::SingleTime { on, quality, .. } => {
                        (PointValue::Single(on), quality)
                    }
                    Value::Double { state, quality } | Value::DoubleTime { state, quality, .. } => {
                        (PointValue::Double(state), quality)
                    }
                    Value::Float { value, quality } | Value::FloatTime { value, quality, .. } => {
                        (PointValue::Float(value), quality)
                    }
                    _ => continue,
                };
                self.points.insert((a.common_address, *ioa), Point { value, quality, at: t });
            }
        }
    }

    /// A station's session went down: its points are no longer topical.
    fn lost(&mut self, i: usize) {
        self.online[i] = false;
        let ca = self.stations[i];
        for (_, p) in self.points.range_mut((ca, 0)..=(ca, u32::MAX)) {
            p.quality |= NT;
        }
    }

    /// The point database: (common address, IOA) → what was last received.
    pub fn points(&self) -> &BTreeMap<(u16, u32), Point> {
        &self.points
    }

    /// Whether the master runs (its host was not wiped): a dead master shows nothing.
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// The polled stations and whether each session is up.
    pub fn stations(&self) -> impl Iterator<Item = (u16, bool)> + '_ {
        self.stations.iter().copied().zip(self.online.iter().copied())
    }
}

/// What an operator's HMI shows: the SCADA master's view, never the grid's ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct HmiView {
    pub t: SimTime,
    /// Polled stations and how many have a session up.
    pub stations: usize,
    pub online: usize,
    /// Breakers (double points) by state as the master last heard, and how many of them are
    /// stale.
    pub breakers_closed: usize,
    pub breakers_open: usize,
    pub stale_points: usize,
    /// Alerts raised so far (the analyst's console).
    pub alerts: usize,
    pub finished: bool,
}

impl Range {
    /// The SCADA master, to read (the point database an HMI shows).
    pub fn scada(&self) -> &Master {
        &self.scada
    }

    /// A compact view for an HMI, from the point database.
    pub fn hmi_view(&self) -> HmiView {
        let m = &self.scada;
        let mut v = HmiView {
            t: self.agenda.now,
            stations: m.stations.len(),
            online: m.online.iter().filter(|o| **o).count(),
            breakers_closed: 0,
            breakers_open: 0,
            stale_points: 0,
            alerts: self.net.alerts,
            finished: self.agenda.finished,
        };
        for p in m.points.values() {
            if p.stale() {
                v.stale_points += 1;
            }
            match p.value {
                PointValue::Double(2) => v.breakers_closed += 1,
                PointValue::Double(1) => v.breakers_open += 1,
                _ => {}
            }
        }
        v
    }

    /// Connects to every polled station (again, where a connection broke) and interrogates
    /// them at start and every `interrogation`.
    pub(crate) fn scada_poll(&mut self) {
        for i in 0..self.scada.stations.len() {
            if let Some(c) = self.scada.conns[i] {
                if !self.net.conns[c].open && self.scada.online[i] {
                    self.scada.lost(i);
                }
            }
        }
        if !self.scada.alive || self.agenda.now < self.scada.next_gi {
            return;
        }
        self.scada.next_gi =
            SimTime(self.agenda.now.0.saturating_add(self.setup.ex.scada.interrogation.0.max(1)));
        let master = self.scada_addr();
        for i in 0..self.scada.stations.len() {
            let ca = self.scada.stations[i];
            let c = match self.scada.conns[i] {
                Some(c) if self.net.conns[c].open => c,
                _ => match self.open104(master, ca) {
                    Ok(c) => {
                        self.scada.conns[i] = Some(c);
                        self.scada.online[i] = true;
                        c
                    }
                    Err(_) => continue,
                },
            };
            let gi = Asdu::new(cot::ACTIVATION, ca, vec![(0, Value::Interrogation { qoi: 20 })]);
            // What comes back goes to the point database (`master_reads`).
            self.send104(c, &gi);
        }
    }

    /// The SCADA master's connection to station `ca`, if it has one open.
    pub(crate) fn scada_conn(&self, ca: u16) -> Option<usize> {
        if !self.scada.alive {
            return None;
        }
        let i = self.scada.stations.iter().position(|&s| s == ca)?;
        self.scada.conns[i].filter(|&c| self.net.conns[c].open)
    }

    /// The SCADA host is wiped: the master stops, every session closes, the view goes stale.
    pub(crate) fn scada_wiped(&mut self) {
        self.scada.alive = false;
        for k in 0..self.scada.conns.len() {
            if let Some(c) = self.scada.conns[k].take() {
                self.close(c, true);
            }
            self.scada.lost(k);
        }
    }
}
