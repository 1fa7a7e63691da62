//! The JSON shape of `icsrange pf --json`. A contract: other tools read these names.
//! The grid crate's types stay free of serde; these are their serialisable twins.

use gridsim::pf::PfSolution;
use gridsim::{BusId, Case};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct PfJson {
    pub converged: bool,
    pub iterations: u32,
    /// None (null) when the solve diverged to a mismatch no number can hold.
    pub mismatch_pu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_bus: Option<u32>,
    pub losses_mw: f64,
    pub losses_mvar: f64,
    pub bus: Vec<BusJson>,
    pub branch: Vec<BranchJson>,
    #[serde(rename = "gen")]
    pub gens: Vec<GenJson>,
    pub islands: Vec<IslandJson>,
}

#[derive(Debug, Serialize)]
pub struct BusJson {
    pub id: u32,
    pub vm_pu: f64,
    pub va_deg: f64,
}

#[derive(Debug, Serialize)]
pub struct BranchJson {
    pub from: u32,
    pub to: u32,
    pub pf_mw: f64,
    pub qf_mvar: f64,
    pub pt_mw: f64,
    pub qt_mvar: f64,
}

#[derive(Debug, Serialize)]
pub struct GenJson {
    pub bus: u32,
    pub pg_mw: f64,
    pub qg_mvar: f64,
}

#[derive(Debug, Serialize)]
pub struct IslandJson {
    pub buses: usize,
    /// The reference bus, or null when the island has no generation and is de-energised.
    pub reference: Option<u32>,
    pub slack_p_mw: f64,
}

/// JSON has no NaN or infinity; the solver never returns them, but be safe.
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

impl PfJson {
    /// `failure` is the final mismatch and the worst bus when the solve did not converge.
    pub fn new(case: &Case, sol: &PfSolution, failure: Option<(f64, BusId)>) -> PfJson {
        PfJson {
            converged: failure.is_none(),
            iterations: sol.iterations,
            mismatch_pu: sol.max_mismatch_pu.is_finite().then_some(sol.max_mismatch_pu),
            worst_bus: failure.map(|(_, bus)| bus.0),
            losses_mw: finite(sol.losses_mw),
            losses_mvar: finite(sol.losses_mvar),
            bus: case
                .buses
                .iter()
                .zip(sol.vm_pu.iter().zip(&sol.va_deg))
                .map(|(b, (&vm, &va))| BusJson { id: b.id.0, vm_pu: finite(vm), va_deg: finite(va) })
                .collect(),
            branch: case
                .branches
                .iter()
                .zip(&sol.branches)
                .map(|(br, f)| BranchJson {
                    from: case.bus(br.from).id.0,
                    to: case.bus(br.to).id.0,
                    pf_mw: finite(f.pf_mw),
                    qf_mvar: finite(f.qf_mvar),
                    pt_mw: finite(f.pt_mw),
                    qt_mvar: finite(f.qt_mvar),
                })
                .collect(),
            gens: case
                .gens
                .iter()
                .zip(&sol.gens)
                .map(|(g, o)| GenJson {
                    bus: case.bus(g.bus).id.0,
                    pg_mw: finite(o.pg_mw),
                    qg_mvar: finite(o.qg_mvar),
                })
                .collect(),
            islands: sol
                .islands
                .iter()
                .map(|i| IslandJson {
                    buses: i.buses.len(),
                    reference: i.reference.map(|b| case.bus(b).id.0),
                    slack_p_mw: finite(i.slack_p_mw),
                })
                .collect(),
        }
    }
}
