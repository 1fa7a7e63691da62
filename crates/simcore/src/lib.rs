//! The vocabulary the simulation crates share, written once: simulated time (`SimTime`, its
//! one conversion to seconds and the one duration grammar) and a problem at a line and column
//! of a text (`Diagnostic`, `line_col`).
//!
//! This crate is pure and has no dependencies: no I/O, no clock, no serde. Everything above
//! it (`gridsim`, `pipesim`, the protocol crates, `exercise`, `range`) names time and reports
//! file problems with these types.

mod diagnostic;
mod time;

pub use diagnostic::{Diagnostic, Diagnostics, line_col};
pub use time::{DurationError, SimTime};
