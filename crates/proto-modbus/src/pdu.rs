//! Modbus PDUs: requests and responses (MODBUS Application Protocol Specification V1.1b3,
//! §6) and exceptions (§7). `Request::parse` checks everything §6 asks a server to check
//! before touching data (quantities, byte counts, coil values), and says which exception
//! the answer must carry.

use std::fmt;

/// Function codes this crate understands.
pub mod fc {
    pub const READ_COILS: u8 = 0x01;
    pub const READ_DISCRETE_INPUTS: u8 = 0x02;
    pub const READ_HOLDING_REGISTERS: u8 = 0x03;
    pub const READ_INPUT_REGISTERS: u8 = 0x04;
    pub const WRITE_SINGLE_COIL: u8 = 0x05;
    pub const WRITE_SINGLE_REGISTER: u8 = 0x06;
    pub const DIAGNOSTICS: u8 = 0x08;
    pub const WRITE_MULTIPLE_COILS: u8 = 0x0F;
    pub const WRITE_MULTIPLE_REGISTERS: u8 = 0x10;
    pub const READ_WRITE_MULTIPLE_REGISTERS: u8 = 0x17;
    pub const ENCAPSULATED_INTERFACE: u8 = 0x2B;
    /// MEI type of Read Device Identification.
    pub const MEI_READ_DEVICE_ID: u8 = 0x0E;
}

/// Diagnostics (FC 08) sub-functions.
pub mod diag {
    pub const RETURN_QUERY_DATA: u16 = 0x0000;
    pub const RESTART_COMMUNICATIONS: u16 = 0x0001;
    pub const RETURN_DIAGNOSTIC_REGISTER: u16 = 0x0002;
    pub const FORCE_LISTEN_ONLY: u16 = 0x0004;
    pub const CLEAR_COUNTERS: u16 = 0x000A;
    pub const BUS_MESSAGE_COUNT: u16 = 0x000B;
    pub const BUS_EXCEPTION_COUNT: u16 = 0x000D;
    pub const SERVER_MESSAGE_COUNT: u16 = 0x000E;
}

/// Exception codes (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionCode {
    IllegalFunction,
    IllegalDataAddress,
    IllegalDataValue,
    ServerDeviceFailure,
    Acknowledge,
    ServerDeviceBusy,
    GatewayPathUnavailable,
    GatewayTargetFailedToRespond,
    Other(u8),
}

impl ExceptionCode {
    pub fn code(self) -> u8 {
        match self {
            ExceptionCode::IllegalFunction => 0x01,
            ExceptionCode::IllegalDataAddress => 0x02,
            ExceptionCode::IllegalDataValue => 0x03,
            ExceptionCode::ServerDeviceFailure => 0x04,
            ExceptionCode::Acknowledge => 0x05,
            ExceptionCode::ServerDeviceBusy => 0x06,
            ExceptionCode::GatewayPathUnavailable => 0x0A,
            ExceptionCode::GatewayTargetFailedToRespond => 0x0B,
            ExceptionCode::Other(c) => c,
        }
    }

    pub fn from_code(c: u8) -> ExceptionCode {
        match c {
            0x01 => ExceptionCode::IllegalFunction,
            0x02 => ExceptionCode::IllegalDataAddress,
            0x03 => ExceptionCode::IllegalDataValue,
            0x04 => ExceptionCode::ServerDeviceFailure,
            0x05 => ExceptionCode::Acknowledge,
            0x06 => ExceptionCode::ServerDeviceBusy,
            0x0A => ExceptionCode::GatewayPathUnavailable,
            0x0B => ExceptionCode::GatewayTargetFailedToRespond,
            c => ExceptionCode::Other(c),
        }
    }
}

impl fmt::Display for ExceptionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ExceptionCode::IllegalFunction => "illegal function",
            ExceptionCode::IllegalDataAddress => "illegal data address",
            ExceptionCode::IllegalDataValue => "illegal data value",
            ExceptionCode::ServerDeviceFailure => "server device failure",
            ExceptionCode::Acknowledge => "acknowledge",
            ExceptionCode::ServerDeviceBusy => "server device busy",
            ExceptionCode::GatewayPathUnavailable => "gateway path unavailable",
            ExceptionCode::GatewayTargetFailedToRespond => "gateway target failed to respond",
            ExceptionCode::Other(c) => return write!(f, "exception {c:#04x}"),
        };
        f.write_str(name)
    }
}

/// Why a request PDU is not acceptable, and the exception that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("function {function:#04x}: {reason} ({exception})")]
pub struct RequestError {
    pub function: u8,
    pub exception: ExceptionCode,
    pub reason: &'static str,
}

/// Big-endian 16-bit values borrowed from a PDU.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Registers<'a>(&'a [u8]);

impl<'a> Registers<'a> {
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.0.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Debug for Registers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Packed coil values (LSB of the first byte is the first coil) borrowed from a PDU.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bits<'a> {
    bytes: &'a [u8],
    count: u16,
}

impl<'a> Bits<'a> {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = bool> + 'a {
        let bytes = self.bytes;
        (0..self.count as usize).map(move |i| bytes[i / 8] >> (i % 8) & 1 == 1)
    }
}

impl fmt::Debug for Bits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A valid request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    ReadCoils { start: u16, count: u16 },
    ReadDiscreteInputs { start: u16, count: u16 },
    ReadHoldingRegisters { start: u16, count: u16 },
    ReadInputRegisters { start: u16, count: u16 },
    WriteSingleCoil { address: u16, value: bool },
    WriteSingleRegister { address: u16, value: u16 },
    WriteMultipleCoils { start: u16, values: Bits<'a> },
    WriteMultipleRegisters { start: u16, values: Registers<'a> },
    ReadWriteMultipleRegisters { read_start: u16, read_count: u16, write_start: u16, values: Registers<'a> },
    Diagnostics { sub_function: u16, data: &'a [u8] },
    ReadDeviceIdentification { code: u8, object: u8 },
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl<'a> Request<'a> {
    pub fn function(&self) -> u8 {
        match self {
            Request::ReadCoils { .. } => fc::READ_COILS,
            Request::ReadDiscreteInputs { .. } => fc::READ_DISCRETE_INPUTS,
            Request::ReadHoldingRegisters { .. } => fc::READ_HOLDING_REGISTERS,
            Request::ReadInputRegisters { .. } => fc::READ_INPUT_REGISTERS,
            Request::WriteSingleCoil { .. } => fc::WRITE_SINGLE_COIL,
            Request::WriteSingleRegister { .. } => fc::WRITE_SINGLE_REGISTER,
            Request::WriteMultipleCoils { .. } => fc::WRITE_MULTIPLE_COILS,
            Request::WriteMultipleRegisters { .. } => fc::WRITE_MULTIPLE_REGISTERS,
            Request::ReadWriteMultipleRegisters { .. } => fc::READ_WRITE_MULTIPLE_REGISTERS,
            Request::Diagnostics { .. } => fc::DIAGNOSTICS,
            Request::ReadDeviceIdentification { .. } => fc::ENCAPSULATED_INTERFACE,
        }
    }

    /// Whether the request changes the server's data or state.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::WriteSingleCoil { .. }
                | Request::WriteSingleRegister { .. }
                | Request::WriteMultipleCoils { .. }
                | Request::WriteMultipleRegisters { .. }
                | Request::ReadWriteMultipleRegisters { .. }
        )
    }

    /// Parses a request PDU (function code first).
    pub fn parse(pdu: &'a [u8]) -> Result<Request<'a>, RequestError> {
        let Some((&function, body)) = pdu.split_first() else {
            return Err(RequestError {
                function: 0,
                exception: ExceptionCode::IllegalFunction,
                reason: "empty PDU",
            });
        };
        let bad = |exception, reason| RequestError { function, exception, reason };
        let value = |reason| bad(ExceptionCode::IllegalDataValue, reason);
        let need = |n: usize| if body.len() == n { Ok(()) } else { Err(value("wrong PDU length")) };
        let range = |start: u16, count: u16, max: u16| {
            if count == 0 || count > max {
                Err(value("quantity out of range"))
            } else if start as u32 + count as u32 > 0x1_0000 {
                Err(bad(ExceptionCode::IllegalDataAddress, "range past address 65535"))
            } else {
                Ok(())
            }
        };
        match function {
            fc::READ_COILS
            | fc::READ_DISCRETE_INPUTS
            | fc::READ_HOLDING_REGISTERS
            | fc::READ_INPUT_REGISTERS => {
                need(4)?;
                let (start, count) = (be16(body, 0), be16(body, 2));
                let max = if function <= fc::READ_DISCRETE_INPUTS { 2000 } else { 125 };
                range(start, count, max)?;
                Ok(match function {
                    fc::READ_COILS => Request::ReadCoils { start, count },
                    fc::READ_DISCRETE_INPUTS => Request::ReadDiscreteInputs { start, count },
                    fc::READ_HOLDING_REGISTERS => Request::ReadHoldingRegisters { start, count },
                    _ => Request::ReadInputRegisters { start, count },
                })
            }
            fc::WRITE_SINGLE_COIL => {
                need(4)?;
                let value = match be16(body, 2) {
                    0xFF00 => true,
                    0x0000 => false,
                    _ => return Err(bad(ExceptionCode::IllegalDataValue, "coil value not 0xFF00 or 0x0000")),
                };
                Ok(Request::WriteSingleCoil { address: be16(body, 0), value })
            }
            fc::WRITE_SINGLE_REGISTER => {
                need(4)?;
                Ok(Request::WriteSingleRegister { address: be16(body, 0), value: be16(body, 2) })
            }
            fc::WRITE_MULTIPLE_COILS => {
                if body.len() < 5 {
                    return Err(value("wrong PDU length"));
                }
                let (start, count, n) = (be16(body, 0), be16(body, 2), body[4] as usize);
                range(start, count, 0x07B0)?;
                if n != (count as usize).div_ceil(8) || body.len() != 5 + n {
                    return Err(value("byte count does not match the quantity"));
                }
                Ok(Request::WriteMultipleCoils { start, values: Bits { bytes: &body[5..], count } })
            }
            fc::WRITE_MULTIPLE_REGISTERS => {
                if body.len() < 5 {
                    return Err(value("wrong PDU length"));
                }
                let (start, count, n) = (be16(body, 0), be16(body, 2), body[4] as usize);
                range(start, count, 0x7B)?;
                if n != 2 * count as usize || body.len() != 5 + n {
                    return Err(value("byte count does not match the quantity"));
                }
                Ok(Request::WriteMultipleRegisters { start, values: Registers(&body[5..]) })
            }
            fc::READ_WRITE_MULTIPLE_REGISTERS => {
                if body.len() < 9 {
                    return Err(value("wrong PDU length"));
                }
                let (read_start, read_count) = (be16(body, 0), be16(body, 2));
                let (write_start, write_count, n) = (be16(body, 4), be16(body, 6), body[8] as usize);
                range(read_start, read_count, 0x7D)?;
                range(write_start, write_count, 0x79)?;
                if n != 2 * write_count as usize || body.len() != 9 + n {
                    return Err(value("byte count does not match the write quantity"));
                }
                Ok(Request::ReadWriteMultipleRegisters {
                    read_start,
                    read_count,
                    write_start,
                    values: Registers(&body[9..]),
                })
            }
            fc::DIAGNOSTICS => {
                if body.len() < 2 || body.len() > 252 {
                    return Err(value("wrong PDU length"));
                }
                Ok(Request::Diagnostics { sub_function: be16(body, 0), data: &body[2..] })
            }
            fc::ENCAPSULATED_INTERFACE => {
                if body.first() != Some(&fc::MEI_READ_DEVICE_ID) {
                    return Err(bad(ExceptionCode::IllegalFunction, "MEI type other than 0x0E"));
                }
                need(3)?;
                if !(1..=4).contains(&body[1]) {
                    return Err(value("read device ID code outside 1..=4"));
                }
                Ok(Request::ReadDeviceIdentification { code: body[1], object: body[2] })
            }
            _ => Err(bad(ExceptionCode::IllegalFunction, "function code not supported")),
        }
    }

    /// Writes the PDU into `out` (appended).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.function());
        let put = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_be_bytes());
        match *self {
            Request::ReadCoils { start, count }
            | Request::ReadDiscreteInputs { start, count }
            | Request::ReadHoldingRegisters { start, count }
            | Request::ReadInputRegisters { start, count } => {
                put(out, start);
                put(out, count);
            }
            Request::WriteSingleCoil { address, value } => {
                put(out, address);
                put(out, if value { 0xFF00 } else { 0 });
            }
            Request::WriteSingleRegister { address, value } => {
                put(out, address);
                put(out, value);
            }
            Request::WriteMultipleCoils { start, values } => {
                put(out, start);
                put(out, values.count);
                out.push(values.bytes.len() as u8);
                out.extend_from_slice(values.bytes);
            }
            Request::WriteMultipleRegisters { start, values } => {
                put(out, start);
                put(out, values.len() as u16);
                out.push(values.0.len() as u8);
                out.extend_from_slice(values.0);
            }
            Request::ReadWriteMultipleRegisters { read_start, read_count, write_start, values } => {
                put(out, read_start);
                put(out, read_count);
                put(out, write_start);
                put(out, values.len() as u16);
                out.push(values.0.len() as u8);
                out.extend_from_slice(values.0);
            }
            Request::Diagnostics { sub_function, data } => {
                put(out, sub_function);
                out.extend_from_slice(data);
            }
            Request::ReadDeviceIdentification { code, object } => {
                out.extend_from_slice(&[fc::MEI_READ_DEVICE_ID, code, object]);
            }
        }
    }
}

/// One device identification object (id, value).
pub type DeviceObject = (u8, Vec<u8>);

/// A response, owned (servers build them; the IDS and tests parse them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// FC 01/02: bit values in request order.
    ReadBits {
        function: u8,
        values: Vec<bool>,
    },
    /// FC 03/04/23: register values.
    ReadRegisters {
        function: u8,
        values: Vec<u16>,
    },
    /// FC 05/06: the request echoed.
    WriteSingle {
        function: u8,
        address: u16,
        value: u16,
    },
    /// FC 15/16: start and quantity written.
    WriteMultiple {
        function: u8,
        start: u16,
        count: u16,
    },
    Diagnostics {
        sub_function: u16,
        data: Vec<u8>,
    },
    DeviceIdentification {
        code: u8,
        conformity: u8,
        more_follows: bool,
        next_object: u8,
        objects: Vec<DeviceObject>,
    },
    Exception {
        function: u8,
        code: ExceptionCode,
    },
}

/// Why a response PDU does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed response to function {function:#04x}: {reason}")]
pub struct ResponseError {
    pub function: u8,
    pub reason: &'static str,
}

impl Response {
    pub fn function(&self) -> u8 {
        match self {
            Response::ReadBits { function, .. }
            | Response::ReadRegisters { function, .. }
            | Response::WriteSingle { function, .. }
            | Response::WriteMultiple { function, .. } => *function,
            Response::Diagnostics { .. } => fc::DIAGNOSTICS,
            Response::DeviceIdentification { .. } => fc::ENCAPSULATED_INTERFACE,
            Response::Exception { function, .. } => *function | 0x80,
        }
    }

    pub fn exception(function: u8, code: ExceptionCode) -> Response {
        Response::Exception { function: function & 0x7F, code }
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.function());
        match self {
            Response::ReadBits { values, .. } => {
                let n = values.len().div_ceil(8);
                out.push(n as u8);
                let at = out.len();
                out.resize(at + n, 0);
                for (i, &v) in values.iter().enumerate() {
                    if v {
                        out[at + i / 8] |= 1 << (i % 8);
                    }
                }
            }
            Response::ReadRegisters { values, .. } => {
                out.push((2 * values.len()) as u8);
                for v in values {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            Response::WriteSingle { address, value, .. } => {
                out.extend_from_slice(&address.to_be_bytes());
                out.extend_from_slice(&value.to_be_bytes());
            }
            Response::WriteMultiple { start, count, .. } => {
                out.extend_from_slice(&start.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
            }
            Response::Diagnostics { sub_function, data } => {
                out.extend_from_slice(&sub_function.to_be_bytes());
                out.extend_from_slice(data);
            }
            Response::DeviceIdentification { code, conformity, more_follows, next_object, objects } => {
                out.extend_from_slice(&[fc::MEI_READ_DEVICE_ID, *code, *conformity]);
                out.push(if *more_follows { 0xFF } else { 0x00 });
                out.push(*next_object);
                out.push(objects.len() as u8);
                for (id, value) in objects {
                    out.push(*id);
                    out.push(value.len() as u8);
                    out.extend_from_slice(value);
                }
            }
            Response::Exception { code, .. } => out.push(code.code()),
        }
    }

    /// Parses a response PDU. `request_count` is the quantity the matching request asked for
    /// (FC 01/02 pad the last byte, so the count of bits is not in the response).
    pub fn parse(pdu: &[u8], request_count: Option<u16>) -> Result<Response, ResponseError> {
        let Some((&function, body)) = pdu.split_first() else {
            return Err(ResponseError { function: 0, reason: "empty PDU" });
        };
        let bad = |reason| ResponseError { function, reason };
        if function & 0x80 != 0 {
            let [code] = body else { return Err(bad("exception without a single code byte")) };
            return Ok(Response::Exception {
                function: function & 0x7F,
                code: ExceptionCode::from_code(*code),
            });
        }
        let counted = |body: &[u8]| -> Result<(), ResponseError> {
            match body.split_first() {
                Some((&n, rest)) if rest.len() == n as usize => Ok(()),
                _ => Err(bad("byte count does not match")),
            }
        };
        match function {
            fc::READ_COILS | fc::READ_DISCRETE_INPUTS => {
                counted(body)?;
                let bytes = &body[1..];
                let count = request_count.map_or(bytes.len() * 8, |c| c as usize);
                if count.div_ceil(8) != bytes.len() {
                    return Err(bad("byte count does not match the quantity"));
                }
                let values = (0..count).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1).collect();
                Ok(Response::ReadBits { function, values })
            }
            fc::READ_HOLDING_REGISTERS | fc::READ_INPUT_REGISTERS | fc::READ_WRITE_MULTIPLE_REGISTERS => {
                counted(body)?;
                if body[0] % 2 != 0 {
                    return Err(bad("odd byte count"));
                }
                let values = body[1..].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                Ok(Response::ReadRegisters { function, values })
            }
            fc::WRITE_SINGLE_COIL | fc::WRITE_SINGLE_REGISTER => {
                if body.len() != 4 {
                    return Err(bad("wrong length"));
                }
                Ok(Response::WriteSingle { function, address: be16(body, 0), value: be16(body, 2) })
            }
            fc::WRITE_MULTIPLE_COILS | fc::WRITE_MULTIPLE_REGISTERS => {
                if body.len() != 4 {
                    return Err(bad("wrong length"));
                }
                Ok(Response::WriteMultiple { function, start: be16(body, 0), count: be16(body, 2) })
            }
            fc::DIAGNOSTICS => {
                if body.len() < 2 {
                    return Err(bad("wrong length"));
                }
                Ok(Response::Diagnostics { sub_function: be16(body, 0), data: body[2..].to_vec() })
            }
            fc::ENCAPSULATED_INTERFACE => {
                if body.len() < 6 || body[0] != fc::MEI_READ_DEVICE_ID {
                    return Err(bad("not a device identification response"));
                }
                let mut objects = Vec::new();
                let mut rest = &body[6..];
                for _ in 0..body[5] {
                    let [id, len, tail @ ..] = rest else { return Err(bad("truncated object list")) };
                    let len = *len as usize;
                    if tail.len() < len {
                        return Err(bad("truncated object"));
                    }
                    objects.push((*id, tail[..len].to_vec()));
                    rest = &tail[len..];
                }
                if !rest.is_empty() {
                    return Err(bad("bytes after the object list"));
                }
                Ok(Response::DeviceIdentification {
                    code: body[1],
                    conformity: body[2],
                    more_follows: body[3] == 0xFF,
                    next_object: body[4],
                    objects,
                })
            }
            _ => Err(bad("function code not supported")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(pdu: &[u8]) -> Request<'_> {
        let r = Request::parse(pdu).unwrap();
        let mut out = Vec::new();
        r.emit(&mut out);
        assert_eq!(out, pdu);
        r
    }

    /// The request and response examples of the Application Protocol Specification §6.
    #[test]
    fn specification_examples() {
        // §6.1 Read Coils 20-38: request 01 00 13 00 13, response 01 03 CD 6B 05.
        assert_eq!(roundtrip(&[0x01, 0x00, 0x13, 0x00, 0x13]), Request::ReadCoils { start: 19, count: 19 });
        let resp = Response::parse(&[0x01, 0x03, 0xCD, 0x6B, 0x05], Some(19)).unwrap();
        let mut out = Vec::new();
        resp.emit(&mut out);
        assert_eq!(out, [0x01, 0x03, 0xCD, 0x6B, 0x05]);
        // §6.3 Read Holding Registers 108-110: 03 00 6B 00 03 → 03 06 02 2B 00 00 00 64.
        assert_eq!(
            roundtrip(&[0x03, 0x00, 0x6B, 0x00, 0x03]),
            Request::ReadHoldingRegisters { start: 107, count: 3 }
        );
        let resp = Response::ReadRegisters { function: 3, values: vec![555, 0, 100] };
        let mut out = Vec::new();
        resp.emit(&mut out);
        assert_eq!(out, [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64]);
        // §6.5 Write Single Coil 173 ON: 05 00 AC FF 00.
        assert_eq!(
            roundtrip(&[0x05, 0x00, 0xAC, 0xFF, 0x00]),
            Request::WriteSingleCoil { address: 172, value: true }
        );
        // §6.11 Write Multiple Coils 20-29: 0F 00 13 00 0A 02 CD 01.
        let r = roundtrip(&[0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01]);
        let Request::WriteMultipleCoils { values, .. } = r else { panic!() };
        let bits: Vec<bool> = values.iter().collect();
        assert_eq!(bits, [true, false, true, true, false, false, true, true, true, false]);
        // §6.12 Write Multiple Registers 2-3: 10 00 01 00 02 04 00 0A 01 02.
        roundtrip(&[0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02]);
        // §6.17 Read/Write Multiple registers.
        roundtrip(&[
            0x17, 0x00, 0x03, 0x00, 0x06, 0x00, 0x0E, 0x00, 0x03, 0x06, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF,
        ]);
        // §6.8.1 Diagnostics 00 (return query data): 08 00 00 A5 37.
        assert_eq!(
            roundtrip(&[0x08, 0x00, 0x00, 0xA5, 0x37]),
            Request::Diagnostics { sub_function: 0, data: &[0xA5, 0x37] }
        );
        // §6.21 Read Device Identification, basic: 2B 0E 01 00.
        assert_eq!(
            roundtrip(&[0x2B, 0x0E, 0x01, 0x00]),
            Request::ReadDeviceIdentification { code: 1, object: 0 }
        );
        // §7: exception response to FC 01 with code 02 is 81 02.
        let mut out = Vec::new();
        Response::exception(0x01, ExceptionCode::IllegalDataAddress).emit(&mut out);
        assert_eq!(out, [0x81, 0x02]);
    }

    #[test]
    fn bad_requests_name_their_exception() {
        let e = |pdu: &[u8]| Request::parse(pdu).unwrap_err().exception;
        assert_eq!(e(&[0x03, 0, 0, 0, 126]), ExceptionCode::IllegalDataValue);
        assert_eq!(e(&[0x03, 0, 0, 0, 0]), ExceptionCode::IllegalDataValue);
        assert_eq!(e(&[0x03, 0xFF, 0xFF, 0, 2]), ExceptionCode::IllegalDataAddress);
        assert_eq!(e(&[0x05, 0, 1, 0x12, 0x34]), ExceptionCode::IllegalDataValue);
        assert_eq!(e(&[0x10, 0, 1, 0, 2, 3, 0, 0, 0]), ExceptionCode::IllegalDataValue);
        assert_eq!(e(&[0x41]), ExceptionCode::IllegalFunction);
        assert_eq!(e(&[]), ExceptionCode::IllegalFunction);
        assert_eq!(e(&[0x2B, 0x0D, 1, 0]), ExceptionCode::IllegalFunction);
        assert_eq!(e(&[0x2B, 0x0E, 5, 0]), ExceptionCode::IllegalDataValue);
    }
}
