//! Grid simulation for icsrange: MATPOWER cases, Y-bus, Newton-Raphson AC power flow, and the
//! dynamics of exercises (breakers, islands, frequency, protection, load shedding).
//!
//! This crate is pure: it does no I/O, reads no clock and spawns nothing. Callers pass text
//! in (`matpower::parse`) and get data out (`pf::solve`).
//!
//! ```
//! let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../cases/case9.m")).unwrap();
//! let case = gridsim::matpower::parse(&text).unwrap();
//! let mut ws = gridsim::pf::PfWorkspace::new();
//! let sol = gridsim::pf::solve(&case, &mut ws, &gridsim::pf::PfOptions::default()).unwrap();
//! assert_eq!(sol.iterations, 4);
//! ```

pub mod case;
pub mod dynamics;
pub mod lu;
pub mod matpower;
pub mod pf;
pub mod sim;
pub mod ybus;

pub use case::{Branch, Bus, BusId, BusIdx, BusType, Case, Gen};
