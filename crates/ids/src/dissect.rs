//! A dissector for the analyst's frame list: each TCP payload of a capture, in order, through
//! the same framers and parsers the devices and the rules use, into one line per protocol
//! frame with the fields an analyst filters on (protocol, addresses, Modbus function and
//! register, IEC 104 type, cause, common address and IOAs, DNP3 link addresses and
//! application function).

use std::collections::HashMap;
use std::net::SocketAddrV4;

use proto_iec104::{Asdu, Control, Frame, UFunction};
use simcore::SimTime;

use crate::Packet;

/// One decoded protocol frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The capture frame that carried (the end of) it.
    pub frame: u64,
    pub t: SimTime,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    /// `modbus`, `iec104`, `dnp3`, `http` or `udp`.
    pub protocol: &'static str,
    /// One line, as a protocol analyser's info column.
    pub summary: String,
    /// Modbus register or coil address of a request.
    pub register: Option<u16>,
    /// IEC 104 common address.
    pub station: Option<u16>,
    /// IEC 104 information object addresses.
    pub ioas: Vec<u32>,
    /// Not a valid frame of its protocol (the connection is closed after it).
    pub malformed: bool,
}

#[derive(Debug)]
enum Stream {
    Modbus(proto_modbus::Framer),
    Iec104(proto_iec104::Framer),
    Dnp3(proto_dnp3::link::Framer),
    Other,
    Broken,
}

/// A UDP datagram as one line (the SIPROTEC relay's port 50000 named, and the
/// CVE-2015-5374 packet recognised).
pub fn datagram(p: &Packet<'_>) -> Option<Decoded> {
    let port = p.dst.port();
    let what = if port == crate::SIPROTEC_PORT && crate::is_siprotec_dos(p.payload) {
        " (SIPROTEC EN100 service: the CVE-2015-5374 denial-of-service packet)"
    } else if port == crate::SIPROTEC_PORT {
        " (SIPROTEC EN100 service)"
    } else {
        ""
    };
    Some(Decoded {
        frame: p.number,
        t: p.t,
        src: p.src,
        dst: p.dst,
        protocol: "udp",
        summary: format!("UDP {} bytes to port {port}{what}", p.payload.len()),
        register: None,
        station: None,
        ioas: Vec::new(),
        malformed: false,
    })
}

/// Per-flow framers, fed in capture order.
#[derive(Debug, Default)]
pub struct Dissector {
    streams: HashMap<(SocketAddrV4, SocketAddrV4), Stream>,
}

/// Names of the IEC 104 types the range uses.
pub fn iec104_type_name(t: u8) -> &'static str {
    match t {
        1 => "M_SP_NA_1",
        3 => "M_DP_NA_1",
        9 => "M_ME_NA_1",
        13 => "M_ME_NC_1",
        30 => "M_SP_TB_1",
        31 => "M_DP_TB_1",
        36 => "M_ME_TF_1",
        45 => "C_SC_NA_1",
        46 => "C_DC_NA_1",
        50 => "C_SE_NC_1",
        70 => "M_EI_NA_1",
        100 => "C_IC_NA_1",
        103 => "C_CS_NA_1",
        _ => "type",
    }
}

fn cause_name(c: u8) -> &'static str {
    match c {
        1 => "per",
        3 => "spont",
        4 => "init",
        5 => "req",
        6 => "act",
        7 => "actcon",
        8 => "deact",
        9 => "deactcon",
        10 => "actterm",
        20 => "inrogen",
        44 => "unknown type (44)",
        45 => "unknown cause (45)",
        46 => "unknown common address (46)",
        47 => "unknown IOA (47)",
        _ => "cot",
    }
}

fn modbus_function_name(f: u8) -> &'static str {
    match f & 0x7F {
        1 => "Read Coils",
        2 => "Read Discrete Inputs",
        3 => "Read Holding Registers",
        4 => "Read Input Registers",
        5 => "Write Single Coil",
        6 => "Write Single Register",
        8 => "Diagnostics",
        15 => "Write Multiple Coils",
        16 => "Write Multiple Registers",
        23 => "Read/Write Multiple Registers",
        43 => "Read Device Identification",
        _ => "Function",
    }
}

fn dnp3_function_name(f: u8) -> &'static str {
    match f {
        0 => "CONFIRM",
        1 => "READ",
        2 => "WRITE",
        3 => "SELECT",
        4 => "OPERATE",
        5 => "DIRECT_OPERATE",
        13 => "COLD_RESTART",
        14 => "WARM_RESTART",
        20 => "ENABLE_UNSOLICITED",
        21 => "DISABLE_UNSOLICITED",
        23 => "DELAY_MEASURE",
        129 => "RESPONSE",
        130 => "UNSOLICITED_RESPONSE",
        _ => "FUNCTION",
    }
}

impl Dissector {
    pub fn new() -> Dissector {
        Dissector::default()
    }

    /// The flow closed: a reused four-tuple starts afresh.
    pub fn closed(&mut self, a: SocketAddrV4, b: SocketAddrV4) {
        self.streams.remove(&(a, b));
        self.streams.remove(&(b, a));
    }

    /// The frames a payload completes.
    pub fn packet(&mut self, p: &Packet<'_>) -> Vec<Decoded> {
        let port = p.dst.port().min(p.src.port());
        let stream = self.streams.entry((p.src, p.dst)).or_insert_with(|| match port {
            proto_modbus::PORT => Stream::Modbus(proto_modbus::Framer::new()),
            proto_iec104::PORT => Stream::Iec104(proto_iec104::Framer::new()),
            proto_dnp3::PORT => Stream::Dnp3(proto_dnp3::link::Framer::new()),
            _ => Stream::Other,
        });
        let base = |protocol: &'static str, summary: String| Decoded {
            frame: p.number,
            t: p.t,
            src: p.src,
            dst: p.dst,
            protocol,
            summary,
            register: None,
            station: None,
            ioas: Vec::new(),
            malformed: false,
        };
        let mut out = Vec::new();
        let mut broken = false;
        match stream {
            Stream::Modbus(f) => {
                f.push(p.payload);
                loop {
                    match f.next_adu() {
                        Ok(Some(adu)) => out.push(modbus(
                            base("modbus", String::new()),
                            &adu,
                            p.dst.port() == proto_modbus::PORT,
                        )),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Decoded {
                                malformed: true,
                                ..base("modbus", format!("malformed MBAP: {e}"))
                            });
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Stream::Iec104(f) => {
                f.push(p.payload);
                loop {
                    match f.next_frame() {
                        Ok(Some(bytes)) => out.push(iec104(base("iec104", String::new()), &bytes)),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Decoded {
                                malformed: true,
                                ..base("iec104", format!("malformed APCI: {e}"))
                            });
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Stream::Dnp3(f) => {
                f.push(p.payload);
                loop {
                    match f.next_frame() {
                        Ok(Some(bytes)) => out.push(dnp3(base("dnp3", String::new()), &bytes)),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Decoded {
                                malformed: true,
                                ..base("dnp3", format!("malformed link frame: {e}"))
                            });
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Stream::Other => {
                if !p.payload.is_empty() {
                    let line = p.payload.split(|b| *b == b'\n').next().unwrap_or_default();
                    let line = String::from_utf8_lossy(&line[..line.len().min(80)]).trim().to_string();
                    out.push(base("http", line));
                }
            }
            Stream::Broken => {}
        }
        if broken {
            *stream = Stream::Broken;
        }
        out
    }
}

fn modbus(mut d: Decoded, adu: &[u8], request: bool) -> Decoded {
    let Ok(a) = proto_modbus::adu::Adu::new_checked(adu) else {
        d.malformed = true;
        d.summary = "malformed MBAP".into();
        return d;
    };
    let pdu = a.pdu();
    let f = pdu.first().copied().unwrap_or(0);
    let name = modbus_function_name(f);
    if request {
        let reg = (pdu.len() >= 3).then(|| u16::from_be_bytes([pdu[1], pdu[2]]));
        d.register = if matches!(f, 1..=6 | 15 | 16 | 23) { reg } else { None };
        let detail = match (f, pdu.len()) {
            (5, 5..) => format!(" coil {} = {}", reg.unwrap_or(0), if pdu[3] == 0xFF { "ON" } else { "OFF" }),
            (6, 5..) => format!(" register {} = {}", reg.unwrap_or(0), u16::from_be_bytes([pdu[3], pdu[4]])),
            (1..=4 | 15 | 16 | 23, 5..) => {
                format!(" address {} count {}", reg.unwrap_or(0), u16::from_be_bytes([pdu[3], pdu[4]]))
            }
            (8, 3..) => format!(" sub-function {}", u16::from_be_bytes([pdu[1], pdu[2]])),
            _ => String::new(),
        };
        d.summary = format!("unit {} FC {f} {name}{detail} (query, tid {})", a.unit(), a.transaction());
    } else if f & 0x80 != 0 {
        d.summary = format!(
            "unit {} FC {} {name}: exception {} (tid {})",
            a.unit(),
            f & 0x7F,
            pdu.get(1).copied().unwrap_or(0),
            a.transaction()
        );
    } else {
        d.summary = format!("unit {} FC {f} {name} (response, tid {})", a.unit(), a.transaction());
    }
    d
}

fn iec104(mut d: Decoded, bytes: &[u8]) -> Decoded {
    let Ok(frame) = Frame::parse(bytes) else {
        d.malformed = true;
        d.summary = "malformed APCI".into();
        return d;
    };
    d.summary = match frame.control {
        Control::U(u) => format!(
            "U {}",
            match u {
                UFunction::StartDtAct => "STARTDT act",
                UFunction::StartDtCon => "STARTDT con",
                UFunction::StopDtAct => "STOPDT act",
                UFunction::StopDtCon => "STOPDT con",
                UFunction::TestFrAct => "TESTFR act",
                UFunction::TestFrCon => "TESTFR con",
            }
        ),
        Control::S { recv } => format!("S N(R)={recv}"),
        Control::I { send, recv } => match Asdu::parse(&frame.asdu) {
            Ok(a) => {
                d.station = Some(a.common_address);
                d.ioas = a.objects.iter().map(|o| o.0).take(64).collect();
                let ioas = match d.ioas.as_slice() {
                    [] => String::new(),
                    [one] => format!(" IOA {one}"),
                    [first, .., last] => format!(" IOA {first}..{last} ({} objects)", a.objects.len()),
                };
                format!(
                    "I N(S)={send} N(R)={recv} {} ({}) {}{} CA {}{ioas}",
                    iec104_type_name(a.type_id),
                    a.type_id,
                    cause_name(a.cause),
                    if a.negative { " negative" } else { "" },
                    a.common_address
                )
            }
            Err(e) => {
                d.malformed = true;
                format!("I N(S)={send} N(R)={recv} malformed ASDU: {e}")
            }
        },
    };
    d
}

fn dnp3(mut d: Decoded, bytes: &[u8]) -> Decoded {
    let Ok(f) = proto_dnp3::link::Frame::parse(bytes) else {
        d.malformed = true;
        d.summary = "malformed link frame".into();
        return d;
    };
    let dir = if f.control.from_master { "master" } else { "outstation" };
    // The transport header, then (in a first segment) the application control and function.
    let app = match f.data.as_slice() {
        [th, _ac, func, ..] if th & 0x40 != 0 => format!(" {} ({func})", dnp3_function_name(*func)),
        [] => String::new(),
        _ => " (continued segment)".into(),
    };
    d.summary = format!("{} → {} from {dir}, link fn {}{app}", f.source, f.destination, f.control.function);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn pkt(n: u64, src: (u8, u16), dst: (u8, u16), payload: &[u8]) -> Vec<Decoded> {
        let mut d = Dissector::new();
        d.packet(&Packet {
            number: n,
            t: SimTime(0),
            src: SocketAddrV4::new(Ipv4Addr::new(127, 10, 0, src.0), src.1),
            dst: SocketAddrV4::new(Ipv4Addr::new(127, 10, 0, dst.0), dst.1),
            payload,
        })
    }

    #[test]
    fn modbus_write_single_coil_from_the_spec() {
        // Modbus Application Protocol V1.1b3 §6.5: 05 00AC FF00, in an MBAP with tid 1, unit 1.
        let d = pkt(7, (9, 40000), (1, 502), &[0, 1, 0, 0, 0, 6, 1, 5, 0x00, 0xAC, 0xFF, 0x00]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].protocol, "modbus");
        assert_eq!(d[0].register, Some(172));
        assert!(d[0].summary.contains("FC 5 Write Single Coil coil 172 = ON"), "{}", d[0].summary);
        assert_eq!(d[0].frame, 7);
    }

    #[test]
    fn iec104_double_command_and_startdt() {
        // STARTDT act: 68 04 07 00 00 00 (IEC 60870-5-104 §5.3).
        let d = pkt(1, (9, 40000), (1, 2404), &[0x68, 0x04, 0x07, 0, 0, 0]);
        assert_eq!(d[0].summary, "U STARTDT act");
        // C_DC_NA_1 act, CA 1004, IOA 2001, DCO 0x81 (select, off).
        let i =
            [0x68, 0x0E, 0x02, 0x00, 0x04, 0x00, 46, 0x01, 0x06, 0x00, 0xEC, 0x03, 0xD1, 0x07, 0x00, 0x81];
        let d = pkt(2, (9, 40000), (1, 2404), &i);
        assert_eq!(d[0].station, Some(1004));
        assert_eq!(d[0].ioas, vec![2001]);
        assert!(d[0].summary.contains("C_DC_NA_1 (46) act CA 1004 IOA 2001"), "{}", d[0].summary);
    }

    #[test]
    fn a_broken_stream_is_reported_once_then_ignored() {
        let mut d = Dissector::new();
        let p = |payload: &'static [u8]| Packet {
            number: 1,
            t: SimTime(0),
            src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40000),
            dst: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 2404),
            payload,
        };
        let first = d.packet(&p(&[0x00, 0x04, 1, 2, 3, 4]));
        assert!(first[0].malformed);
        assert!(d.packet(&p(&[0x68, 0x04, 0x07, 0, 0, 0])).is_empty());
    }
}
