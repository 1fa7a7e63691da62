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
    pub const READ_FILE_RECORD: u8 = 0x14;
    pub const WRITE_FILE_RECORD: u8 = 0x15;
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

/// The reference type every file record sub-request carries (§6.14).
pub const FILE_REFERENCE_TYPE: u8 = 0x06;
/// The highest record number of a file (§6.14: records 0 to 0x270F).
pub const MAX_FILE_RECORD: u16 = 0x270F;

/// FC 20 sub-requests borrowed from a PDU: 7 bytes each (reference type, file, record,
/// length in registers), already checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FileReads<'a>(&'a [u8]);

impl<'a> FileReads<'a> {
    /// (file, record, length) of each sub-request.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u16, u16)> + 'a {
        self.0.chunks_exact(7).map(|c| (be16(c, 1), be16(c, 3), be16(c, 5)))
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Debug for FileReads<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// FC 21 sub-requests borrowed from a PDU: reference type, file, record, length, then the
/// record's registers; already checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FileWrites<'a>(&'a [u8]);

impl<'a> FileWrites<'a> {
    /// (file, record, data) of each sub-request.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u16, Registers<'a>)> + 'a {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            if rest.len() < 7 {
                return None;
            }
            let n = 2 * be16(rest, 5) as usize;
            let item = (be16(rest, 1), be16(rest, 3), Registers(rest.get(7..7 + n)?));
            rest = &rest[7 + n..];
            Some(item)
        })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Debug for FileWrites<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One record of a file record response: FC 20's data read, FC 21's echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub file: u16,
    pub record: u16,
    pub data: Vec<u16>,
}

/// A valid request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    ReadCoils {
        start: u16,
        count: u16,
    },
    ReadDiscreteInputs {
        start: u16,
        count: u16,
    },
    ReadHoldingRegisters {
        start: u16,
        count: u16,
    },
    ReadInputRegisters {
        start: u16,
        count: u16,
    },
    WriteSingleCoil {
        address: u16,
        value: bool,
    },
    WriteSingleRegister {
        address: u16,
        value: u16,
    },
    WriteMultipleCoils {
        start: u16,
        values: Bits<'a>,
    },
    WriteMultipleRegisters {
        start: u16,
        values: Registers<'a>,
    },
    ReadWriteMultipleRegisters {
        read_start: u16,
        read_count: u16,
        write_start: u16,
        values: Registers<'a>,
    },
    Diagnostics {
        sub_function: u16,
        data: &'a [u8],
    },
    ReadDeviceIdentification {
        code: u8,
        object: u8,
    },
    /// FC 20 (§6.14): records of files, each sub-request 1 to N registers.
    ReadFileRecord {
        reads: FileReads<'a>,
    },
    /// FC 21 (§6.15): records written to files.
    WriteFileRecord {
        writes: FileWrites<'a>,
    },
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
            Request::ReadFileRecord { .. } => fc::READ_FILE_RECORD,
            Request::WriteFileRecord { .. } => fc::WRITE_FILE_RECORD,
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
                | Request::WriteFileRecord { .. }
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
            fc::READ_FILE_RECORD => {
                // §6.14: byte count 0x07 to 0xF5, 7 bytes per sub-request; reference type 6,
                // records 0 to 0x270F; the response must fit in a PDU.
                let Some((&n, subs)) = body.split_first() else { return Err(value("wrong PDU length")) };
                if !(0x07..=0xF5).contains(&n) || subs.len() != n as usize || subs.len() % 7 != 0 {
                    return Err(value("byte count out of range or not 7 per sub-request"));
                }
                let mut response = 2usize;
                for c in subs.chunks_exact(7) {
                    let (record, len) = (be16(c, 3), be16(c, 5));
                    if c[0] != FILE_REFERENCE_TYPE {
                        return Err(bad(ExceptionCode::IllegalDataAddress, "reference type not 6"));
                    }
                    if be16(c, 1) == 0
                        || len == 0
                        || record > MAX_FILE_RECORD
                        || record as u32 + len as u32 - 1 > MAX_FILE_RECORD as u32
                    {
                        return Err(bad(
                            ExceptionCode::IllegalDataAddress,
                            "file 0 or records outside 0..=0x270F",
                        ));
                    }
                    response += 2 + 2 * len as usize;
                }
                if response > 253 {
                    return Err(value("the response would not fit in a PDU"));
                }
                Ok(Request::ReadFileRecord { reads: FileReads(subs) })
            }
            fc::WRITE_FILE_RECORD => {
                let Some((&n, subs)) = body.split_first() else { return Err(value("wrong PDU length")) };
                if !(0x09..=0xFB).contains(&n) || subs.len() != n as usize {
                    return Err(value("request data length out of range"));
                }
                let mut rest = subs;
                while !rest.is_empty() {
                    if rest.len() < 9 {
                        return Err(value("truncated sub-request"));
                    }
                    let (record, len) = (be16(rest, 3), be16(rest, 5));
                    if rest[0] != FILE_REFERENCE_TYPE {
                        return Err(bad(ExceptionCode::IllegalDataAddress, "reference type not 6"));
                    }
                    if be16(rest, 1) == 0
                        || len == 0
                        || record > MAX_FILE_RECORD
                        || record as u32 + len as u32 - 1 > MAX_FILE_RECORD as u32
                    {
                        return Err(bad(
                            ExceptionCode::IllegalDataAddress,
                            "file 0 or records outside 0..=0x270F",
                        ));
                    }
                    let end = 7 + 2 * len as usize;
                    if rest.len() < end {
                        return Err(value("record data shorter than its length"));
                    }
                    rest = &rest[end..];
                }
                Ok(Request::WriteFileRecord { writes: FileWrites(subs) })
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
            Request::ReadFileRecord { reads } => {
                out.push(reads.0.len() as u8);
                out.extend_from_slice(reads.0);
            }
            Request::WriteFileRecord { writes } => {
                out.push(writes.0.len() as u8);
                out.extend_from_slice(writes.0);
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
    /// FC 20: each sub-request's registers, in order.
    ReadFileRecord {
        records: Vec<Vec<u16>>,
    },
    /// FC 21: the request echoed.
    WriteFileRecord {
        records: Vec<FileRecord>,
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
            Response::ReadFileRecord { .. } => fc::READ_FILE_RECORD,
            Response::WriteFileRecord { .. } => fc::WRITE_FILE_RECORD,
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
            Response::ReadFileRecord { records } => {
                out.push(records.iter().map(|r| 2 + 2 * r.len()).sum::<usize>() as u8);
                for r in records {
                    out.push((1 + 2 * r.len()) as u8);
                    out.push(FILE_REFERENCE_TYPE);
                    for v in r {
                        out.extend_from_slice(&v.to_be_bytes());
                    }
                }
            }
            Response::WriteFileRecord { records } => {
                out.push(records.iter().map(|r| 7 + 2 * r.data.len()).sum::<usize>() as u8);
                for r in records {
                    out.push(FILE_REFERENCE_TYPE);
                    out.extend_from_slice(&r.file.to_be_bytes());
                    out.extend_from_slice(&r.record.to_be_bytes());
                    out.extend_from_slice(&(r.data.len() as u16).to_be_bytes());
                    for v in &r.data {
                        out.extend_from_slice(&v.to_be_bytes());
                    }
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
            fc::READ_FILE_RECORD => {
                counted(body)?;
                let mut rest = &body[1..];
                let mut records = Vec::new();
                while let [len, kind, tail @ ..] = rest {
                    let n = *len as usize;
                    if *kind != FILE_REFERENCE_TYPE || n == 0 || n % 2 == 0 || tail.len() < n - 1 {
                        return Err(bad("malformed file record"));
                    }
                    records.push(
                        tail[..n - 1].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect(),
                    );
                    rest = &tail[n - 1..];
                }
                if !rest.is_empty() {
                    return Err(bad("truncated file record"));
                }
                Ok(Response::ReadFileRecord { records })
            }
            fc::WRITE_FILE_RECORD => {
                counted(body)?;
                let Ok(Request::WriteFileRecord { writes }) = Request::parse(pdu) else {
                    return Err(bad("not an echo of a valid write file record request"));
                };
                let records = writes
                    .iter()
                    .map(|(file, record, data)| FileRecord { file, record, data: data.iter().collect() })
                    .collect();
                Ok(Response::WriteFileRecord { records })
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
        // §6.14 Read File Record: file 4 records 1-2 and file 3 records 9-10:
        // 14 0E 06 0004 0001 0002 06 0003 0009 0002 → 14 0C 05 06 0DFE 0020 05 06 33CD 0040.
        let pdu =
            [0x14, 0x0E, 0x06, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02, 0x06, 0x00, 0x03, 0x00, 0x09, 0x00, 0x02];
        let Request::ReadFileRecord { reads } = roundtrip(&pdu) else { panic!() };
        assert_eq!(reads.iter().collect::<Vec<_>>(), [(4, 1, 2), (3, 9, 2)]);
        let wire = [0x14, 0x0C, 0x05, 0x06, 0x0D, 0xFE, 0x00, 0x20, 0x05, 0x06, 0x33, 0xCD, 0x00, 0x40];
        let resp = Response::ReadFileRecord { records: vec![vec![0x0DFE, 0x0020], vec![0x33CD, 0x0040]] };
        let mut out = Vec::new();
        resp.emit(&mut out);
        assert_eq!(out, wire);
        assert_eq!(Response::parse(&wire, None).unwrap(), resp);
        // §6.15 Write File Record: file 4 record 7, three registers; the response echoes it:
        // 15 0D 06 0004 0007 0003 06AF 04BE 100D.
        let pdu = [0x15, 0x0D, 0x06, 0x00, 0x04, 0x00, 0x07, 0x00, 0x03, 0x06, 0xAF, 0x04, 0xBE, 0x10, 0x0D];
        let Request::WriteFileRecord { writes } = roundtrip(&pdu) else { panic!() };
        let w: Vec<(u16, u16, Vec<u16>)> =
            writes.iter().map(|(f, r, d)| (f, r, d.iter().collect())).collect();
        assert_eq!(w, [(4, 7, vec![0x06AF, 0x04BE, 0x100D])]);
        let resp = Response::WriteFileRecord {
            records: vec![FileRecord { file: 4, record: 7, data: vec![0x06AF, 0x04BE, 0x100D] }],
        };
        let mut out = Vec::new();
        resp.emit(&mut out);
        assert_eq!(out, pdu);
        assert_eq!(Response::parse(&pdu, None).unwrap(), resp);
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
        // File records: a reference type other than 6, a record past 0x270F, a byte count
        // that is not 7 per sub-request, record data shorter than its length.
        assert_eq!(e(&[0x14, 7, 5, 0, 1, 0, 0, 0, 1]), ExceptionCode::IllegalDataAddress);
        assert_eq!(e(&[0x14, 7, 6, 0, 1, 0x27, 0x0F, 0, 2]), ExceptionCode::IllegalDataAddress);
        assert_eq!(e(&[0x14, 8, 6, 0, 1, 0, 0, 0, 1, 0]), ExceptionCode::IllegalDataValue);
        assert_eq!(e(&[0x15, 9, 6, 0, 1, 0, 0, 0, 2, 0, 1]), ExceptionCode::IllegalDataValue);
        assert_eq!(e(&[0x14, 7, 6, 0, 1, 0, 0, 0, 125]), ExceptionCode::IllegalDataValue);
    }
}
