//! Steady state: one flow through the whole line (no leak is open, no relief lifts), found
//! from the energy balance from the origin tank to the delivery tank:
//!
//! `H_origin + Σ pump heads(Q) − Σ friction(Q) − Σ valve losses(Q) − H_delivery = 0`
//!
//! with Darcy–Weisbach friction (`friction`), pump heads at their speeds by the affinity laws,
//! and valve losses at their travel. Pumps have check valves (no reverse flow through a
//! station) and station bypasses (a pump that cannot add head passes the flow). The heads
//! then follow by marching from the origin.

use crate::friction;
use crate::model::Pipeline;

/// A steady operating point.
#[derive(Debug, Clone, PartialEq)]
pub struct Steady {
    pub flow_m3_s: f64,
    /// Per joint: head upstream of it, after its pumps, and downstream of it (m).
    pub joint_heads_m: Vec<[f64; 3]>,
    /// Per segment: head at its start and its end (m); linear in between.
    pub segment_heads_m: Vec<(f64, f64)>,
}

/// The energy residual at flow `q`: positive means the line could carry more.
fn residual(p: &Pipeline, speeds: &[f64], opens: &[f64], q: f64) -> f64 {
    let nu = p.product.viscosity_m2_s;
    let mut r = p.origin.head_m() - p.delivery.head_m();
    for j in &p.joints {
        r += joint_gain(p, j, speeds, opens, q).0;
    }
    for s in &p.segments {
        r -= friction::head_loss(q, s.length_m, s.diameter_m, s.roughness_m, nu);
    }
    r
}

/// Head gained across a joint at flow `q` (pumps minus valve losses) and after its pumps only.
fn joint_gain(p: &Pipeline, j: &crate::model::Joint, speeds: &[f64], opens: &[f64], q: f64) -> (f64, f64) {
    let mut pumps = 0.0;
    for &k in &j.pumps {
        let pump = &p.pumps[k];
        pumps += pump.head(q.max(0.0), speeds[k] / pump.rated_speed_rpm).max(0.0);
    }
    let mut total = pumps;
    for &k in &j.valves {
        let cv = p.valves[k].cv(opens[k]);
        if q != 0.0 {
            total -= if cv > 0.0 { q * q.abs() / (cv * cv) } else { f64::INFINITY * q.signum() };
        }
    }
    (total, pumps)
}

/// Whether a valve at joint `j` is closed.
fn closed_at(p: &Pipeline, opens: &[f64], j: usize) -> bool {
    p.joints[j].valves.iter().any(|&k| p.valves[k].cv(opens[k]) <= 0.0)
}

fn blocked(p: &Pipeline, opens: &[f64]) -> bool {
    (0..p.joints.len()).any(|j| closed_at(p, opens, j))
}

/// Solves the steady flow at the given pump speeds (rpm) and valve travels.
pub fn solve(p: &Pipeline, speeds: &[f64], opens: &[f64]) -> Steady {
    let has_pumps = !p.pumps.is_empty();
    let f0 = residual(p, speeds, opens, 0.0);
    let q = if blocked(p, opens) || (f0 <= 0.0 && (has_pumps || f0 == 0.0)) {
        0.0
    } else {
        // Bracket the root, then bisect to the last bit: F is monotone in Q.
        let sign = f0.signum();
        let mut lo = 0.0f64;
        let mut hi = sign * 1e-3;
        let mut n = 0;
        while residual(p, speeds, opens, hi) * sign > 0.0 && n < 80 {
            lo = hi;
            hi *= 2.0;
            n += 1;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid == lo || mid == hi {
                break;
            }
            if residual(p, speeds, opens, mid) * sign > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    heads(p, speeds, opens, q)
}

/// Heads along the line at flow `q`. At zero flow behind a closed valve, what is downstream of
/// the last closed valve stands at the delivery tank's head, the rest at the origin's (plus
/// what running pumps add against it).
pub fn heads(p: &Pipeline, speeds: &[f64], opens: &[f64], q: f64) -> Steady {
    let nu = p.product.viscosity_m2_s;
    let n = p.segments.len();
    let mut joint_heads = vec![[0.0; 3]; n + 1];
    let mut seg = vec![(0.0, 0.0); n];
    let mut h = p.origin.head_m();
    for j in 0..=n {
        let (gain, pumps) = joint_gain(p, &p.joints[j], speeds, opens, q);
        joint_heads[j] = [h, h + pumps, h + gain];
        h += gain;
        if j < n {
            let s = &p.segments[j];
            let end = h - friction::head_loss(q, s.length_m, s.diameter_m, s.roughness_m, nu);
            seg[j] = (h, end);
            h = end;
        }
    }
    if q == 0.0
        && let Some(last) = (0..=n).rev().find(|&j| closed_at(p, opens, j))
    {
        let hd = p.delivery.head_m();
        joint_heads[last][2] = hd;
        for j in last..n {
            seg[j] = (hd, hd);
            joint_heads[j + 1] = [hd; 3];
        }
    }
    Steady { flow_m3_s: q, joint_heads_m: joint_heads, segment_heads_m: seg }
}
