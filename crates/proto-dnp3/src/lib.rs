//! DNP3 (IEEE 1815-2012) for icsrange, written clean-room from the standard: no other DNP3
//! implementation's code or documentation was read (stepfunc's `dnp3` licence forbids even
//! that; see `../shared/research/rust-deps.md`).
//!
//! - [`link`]: the data link layer (§9): frames with a CRC per header and per 16-octet
//!   block, a stream framer.
//! - [`transport`]: the transport function (§8): one octet FIR/FIN/sequence per segment,
//!   segmentation and reassembly of application fragments.
//!
//! - [`app`]: request fragments and object headers (qualifiers 0x00/01/06/07/08/17/28),
//!   response building, function codes, IIN.
//! - [`outstation`]: static data, class events until confirmed, CROB select/operate, restarts,
//!   time, unsolicited enable/disable.

pub mod app;
pub mod link;
pub mod outstation;
pub mod transport;

/// DNP3's registered port over TCP (IANA); every listener, client and capture uses this one.
pub const PORT: u16 = 20000;
