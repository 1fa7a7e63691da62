//! The power-system case: buses, generators and branches as a MATPOWER case describes them.
//!
//! This is data, not behaviour. Values keep MATPOWER's units (MW, MVAr, p.u., degrees) and are
//! named with them. Bus numbers from the file (`BusId`) and positions in `Case::buses`
//! (`BusIdx`) are distinct types: the file's numbers are arbitrary and not contiguous.

use std::collections::HashMap;
use std::fmt;

/// A bus number as written in the case file (`bus_i`). Arbitrary positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusId(pub u32);

impl fmt::Display for BusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An index into `Case::buses`, `0..n_buses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusIdx(pub u32);

impl BusIdx {
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// MATPOWER bus types (`BUS_TYPE` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusType {
    /// 1: load bus, P and Q given.
    Pq,
    /// 2: generator bus, P and |V| given.
    Pv,
    /// 3: reference (slack) bus, |V| and angle given.
    Ref,
    /// 4: isolated, not part of the network.
    Isolated,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bus {
    pub id: BusId,
    pub kind: BusType,
    pub pd_mw: f64,
    pub qd_mvar: f64,
    /// Shunt conductance, MW consumed at |V| = 1 p.u.
    pub gs_mw: f64,
    /// Shunt susceptance, MVAr injected at |V| = 1 p.u.
    pub bs_mvar: f64,
    pub area: u32,
    pub vm_pu: f64,
    pub va_deg: f64,
    pub base_kv: f64,
    pub zone: u32,
    pub vmax_pu: f64,
    pub vmin_pu: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gen {
    pub bus: BusIdx,
    pub pg_mw: f64,
    pub qg_mvar: f64,
    /// May be `f64::INFINITY`.
    pub qmax_mvar: f64,
    /// May be `f64::NEG_INFINITY`.
    pub qmin_mvar: f64,
    pub vg_pu: f64,
    pub mbase_mva: f64,
    pub in_service: bool,
    pub pmax_mw: f64,
    pub pmin_mw: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub from: BusIdx,
    pub to: BusIdx,
    pub r_pu: f64,
    pub x_pu: f64,
    /// Total line charging susceptance.
    pub b_pu: f64,
    /// Long-term rating; 0 means unlimited.
    pub rate_a_mva: f64,
    pub rate_b_mva: f64,
    pub rate_c_mva: f64,
    /// Off-nominal tap ratio at the from side; 0 in the file means 1 (a line).
    pub tap_ratio: f64,
    /// Phase shift in degrees, positive = delay.
    pub shift_deg: f64,
    pub in_service: bool,
    pub angmin_deg: f64,
    pub angmax_deg: f64,
}

impl Branch {
    /// The tap ratio to use in the π-model (MATPOWER: 0 means 1).
    pub fn effective_tap(&self) -> f64 {
        if self.tap_ratio == 0.0 { 1.0 } else { self.tap_ratio }
    }
}

/// A whole case. Rows are in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub base_mva: f64,
    pub buses: Vec<Bus>,
    pub gens: Vec<Gen>,
    pub branches: Vec<Branch>,
    index: HashMap<BusId, BusIdx>,
}

impl Case {
    /// Builds a case. Bus ids must be unique and every `BusIdx` in `gens` and `branches`
    /// must be in range; the parser guarantees both.
    pub fn new(base_mva: f64, buses: Vec<Bus>, gens: Vec<Gen>, branches: Vec<Branch>) -> Case {
        let index = buses.iter().enumerate().map(|(i, b)| (b.id, BusIdx(i as u32))).collect();
        Case { base_mva, buses, gens, branches, index }
    }

    pub fn bus_idx(&self, id: BusId) -> Option<BusIdx> {
        self.index.get(&id).copied()
    }

    pub fn bus(&self, idx: BusIdx) -> &Bus {
        &self.buses[idx.get()]
    }
}
