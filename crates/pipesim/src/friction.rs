//! Darcy friction factor: 64/Re in laminar flow (Re ≤ 2000), the Swamee–Jain explicit
//! approximation of Colebrook–White in turbulent flow (Re ≥ 4000), and a straight line
//! between the two across the transition, so the factor is continuous in the flow.
//!
//! Swamee, P. K., Jain, A. K. (1976), "Explicit equations for pipe-flow problems", Journal of
//! the Hydraulics Division 102(5): `f = 0.25 / [log10(ε/(3.7 D) + 5.74/Re^0.9)]²`, within 1 %
//! of Colebrook–White for 1e-6 ≤ ε/D ≤ 1e-2 and 5000 ≤ Re ≤ 1e8.

const RE_LAMINAR: f64 = 2000.0;
const RE_TURBULENT: f64 = 4000.0;

/// Reynolds number of flow `q` (m³/s) in a pipe of diameter `d` (m), viscosity `nu` (m²/s).
pub fn reynolds(q: f64, d: f64, nu: f64) -> f64 {
    let a = std::f64::consts::PI * d * d / 4.0;
    (q.abs() / a) * d / nu
}

fn swamee_jain(re: f64, rel_roughness: f64) -> f64 {
    let l = (rel_roughness / 3.7 + 5.74 / re.powf(0.9)).log10();
    0.25 / (l * l)
}

/// The Darcy friction factor at Reynolds number `re` and relative roughness ε/D. At zero
/// flow it is the laminar value at Re = 1 (finite; friction is `f·Q|Q|`, zero anyway).
pub fn darcy(re: f64, rel_roughness: f64) -> f64 {
    let re = re.max(1.0);
    if re <= RE_LAMINAR {
        64.0 / re
    } else if re >= RE_TURBULENT {
        swamee_jain(re, rel_roughness)
    } else {
        let fl = 64.0 / RE_LAMINAR;
        let ft = swamee_jain(RE_TURBULENT, rel_roughness);
        fl + (ft - fl) * (re - RE_LAMINAR) / (RE_TURBULENT - RE_LAMINAR)
    }
}

/// Head loss (m) of flow `q` over length `l` of a pipe (Darcy–Weisbach), signed with `q`.
pub fn head_loss(q: f64, l: f64, d: f64, roughness: f64, nu: f64) -> f64 {
    let a = std::f64::consts::PI * d * d / 4.0;
    let f = darcy(reynolds(q, d, nu), roughness / d);
    f * l / d * q * q.abs() / (2.0 * crate::G * a * a)
}
