//! IEC 60870-5-104 for icsrange, controlled-station side: the wire format and the session,
//! shared by the RTU servers and the intrusion detection.
//!
//! - [`apci`]: frames (I, S, U) and a stream framer.
//! - [`asdu`]: ASDUs with the types a substation RTU uses, CP56Time2a.
//! - [`master`]: the controlling side (sequence numbers, acknowledgements, TESTFR).
//! - [`session`]: STARTDT/STOPDT/TESTFR, sequence numbers, k/w, t1/t2/t3; time from the caller.
//! - [`station`]: interrogation, clock sync, commands with select-before-operate, negative
//!   confirmations, spontaneous reports.

pub mod apci;
pub mod asdu;
pub mod master;
pub mod session;
pub mod station;

pub use apci::{Control, Frame, Framer, UFunction};
pub use asdu::{Asdu, Cp56Time, Value};
pub use master::Master;
pub use session::{Params, Session, SessionError};
pub use station::{CommandKind, CommandPoint, Operation, Point, PointValue, Station};

/// IEC 60870-5-104's registered port (IANA); every listener, client and capture uses this one.
pub const PORT: u16 = 2404;
