//! Modbus/TCP for icsrange: the wire format and a pure server session, shared by the device
//! servers and the intrusion detection so both read the same bytes the same way.
//!
//! - [`adu`]: the MBAP header and a stream framer (Modbus Messaging on TCP/IP Implementation
//!   Guide V1.0b, §3.1.3).
//! - [`pdu`]: requests and responses as `Repr`s with `parse` and `emit` (MODBUS Application
//!   Protocol Specification V1.1b3, §6), exceptions included (§7).
//! - [`server`]: what a server does with a request: data model access, diagnostics counters,
//!   listen-only mode, device identification. No I/O.

pub mod adu;
pub mod pdu;
pub mod server;

pub use adu::{Adu, AduError, Framer, MAX_ADU_LEN};
pub use pdu::{ExceptionCode, Request, RequestError, Response};
pub use server::{DataModel, DeviceIdentity, Server};

/// Modbus/TCP's registered port (IANA); every listener, client and capture uses this one.
pub const PORT: u16 = 502;
