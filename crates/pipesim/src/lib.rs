//! Liquid pipeline simulation for icsrange: the oil sector's counterpart of `gridsim`.
//!
//! A pipeline (`model::Pipeline`, read from the TOML format in `file`) is an origin tank,
//! segments of pipe joined at joints (pump stations, valves, changes of pipe), and a delivery
//! tank, with relief valves, meters, a leak detection function and a safety instrumented
//! system. `steady::solve` finds its operating point (Darcy–Weisbach with `friction`'s
//! correlation, pump curves by the affinity laws); `sim::Sim` runs it in time by the method
//! of characteristics: surges from valve closures and pump trips, their reflections, line
//! pack, relief valves, leaks and ruptures, column separation; `sis::Sis` votes its
//! transmitters 2-out-of-3 and trips stations; `cpm::Cpm` balances volumes to find leaks.
//!
//! This crate is pure: no I/O, no clock (time is `SimTime`, supplied by the caller), no
//! randomness. The same pipeline and the same sequence of `apply` and `step` calls give
//! bit-identical results.
//!
//! ```
//! let text = include_str!("../../../pipelines/colonial.toml");
//! let line = pipesim::file::parse(text).unwrap();
//! let mut sim = pipesim::sim::Sim::new(line, Default::default());
//! sim.step(pipesim::SimTime::from_secs(60.0));
//! assert!(sim.joint(0).flow_m3_s > 0.0);
//! ```

pub mod cpm;
pub mod file;
pub mod friction;
pub mod model;
pub mod sim;
pub mod sis;
pub mod steady;

pub use model::Pipeline;
pub use sim::{Command, Event, EventKind, Sim, SimOptions};

/// Standard gravity (m/s²).
pub const G: f64 = 9.80665;

/// Simulated time in microseconds since the start of the run: the same type as `gridsim`'s.
pub use simcore::SimTime;
