//! What a Modbus server does with a request, without I/O: data model access (the device
//! says which addresses exist), diagnostics (FC 08) with listen-only mode and counters, and
//! device identification (FC 43/14).

use crate::pdu::{DeviceObject, ExceptionCode, FileRecord, Request, Response, diag, fc};

/// The device's data: four address spaces. Each access names a whole range; an address the
/// device lacks is `IllegalDataAddress`, a value it refuses `IllegalDataValue`.
pub trait DataModel {
    fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode>;
    fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode>;
    fn read_holding_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode>;
    fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode>;
    fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode>;
    fn write_registers(&mut self, start: u16, values: &[u16]) -> Result<(), ExceptionCode>;

    /// FC 20: `len` registers of a file from `record` on. Devices without files answer
    /// "illegal function".
    fn read_file_record(&mut self, file: u16, record: u16, len: u16) -> Result<Vec<u16>, ExceptionCode> {
        let _ = (file, record, len);
        Err(ExceptionCode::IllegalFunction)
    }

    /// FC 21: registers written into a file from `record` on.
    fn write_file_record(&mut self, file: u16, record: u16, data: &[u16]) -> Result<(), ExceptionCode> {
        let _ = (file, record, data);
        Err(ExceptionCode::IllegalFunction)
    }
}

/// Device identification objects 0x00-0x06 (basic and regular).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceIdentity {
    pub vendor_name: String,
    pub product_code: String,
    pub revision: String,
    pub vendor_url: String,
    pub product_name: String,
    pub model_name: String,
    pub user_application_name: String,
}

impl DeviceIdentity {
    fn objects(&self) -> Vec<DeviceObject> {
        [
            &self.vendor_name,
            &self.product_code,
            &self.revision,
            &self.vendor_url,
            &self.product_name,
            &self.model_name,
            &self.user_application_name,
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, v)| *i < 3 || !v.is_empty())
        .map(|(i, v)| (i as u8, v.as_bytes().iter().copied().take(200).collect()))
        .collect()
    }
}

/// Diagnostics counters (§6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub bus_messages: u16,
    pub bus_exceptions: u16,
    pub server_messages: u16,
}

/// A server's protocol state.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub identity: DeviceIdentity,
    pub counters: Counters,
    listen_only: bool,
    diagnostic_register: u16,
    /// Restarts requested with FC 08/01 since the last `take_restart`.
    restarts: u32,
}

/// Conformity level: regular identification, stream and individual access (§6.21).
const CONFORMITY: u8 = 0x82;

impl Server {
    pub fn new(identity: DeviceIdentity) -> Server {
        Server { identity, ..Server::default() }
    }

    pub fn listen_only(&self) -> bool {
        self.listen_only
    }

    /// How many restarts (FC 08/01) were requested since the last call. The device decides
    /// what a restart does to it (an outage, a reboot).
    pub fn take_restarts(&mut self) -> u32 {
        std::mem::take(&mut self.restarts)
    }

    /// Answers a request PDU. `None` when the server stays silent (listen-only mode, or the
    /// request asked for it).
    pub fn handle_pdu(&mut self, model: &mut dyn DataModel, pdu: &[u8]) -> Option<Response> {
        self.counters.bus_messages = self.counters.bus_messages.wrapping_add(1);
        let response = match Request::parse(pdu) {
            Ok(req) => self.handle(model, &req),
            Err(e) if self.listen_only => {
                let _ = e;
                None
            }
            Err(e) => Some(Response::exception(e.function, e.exception)),
        };
        if let Some(Response::Exception { .. }) = response {
            self.counters.bus_exceptions = self.counters.bus_exceptions.wrapping_add(1);
        }
        response
    }

    /// Answers a parsed request.
    pub fn handle(&mut self, model: &mut dyn DataModel, req: &Request<'_>) -> Option<Response> {
        if self.listen_only {
            // Only "restart communications" brings a server out of listen-only mode, and it
            // is not answered (§6.8.1, sub-function 01).
            if let Request::Diagnostics { sub_function: diag::RESTART_COMMUNICATIONS, .. } = req {
                self.listen_only = false;
                self.counters = Counters::default();
                self.restarts += 1;
            }
            return None;
        }
        self.counters.server_messages = self.counters.server_messages.wrapping_add(1);
        let function = req.function();
        let result = match *req {
            Request::ReadCoils { start, count } => {
                model.read_coils(start, count).map(|values| Response::ReadBits { function, values })
            }
            Request::ReadDiscreteInputs { start, count } => {
                model.read_discrete_inputs(start, count).map(|values| Response::ReadBits { function, values })
            }
            Request::ReadHoldingRegisters { start, count } => model
                .read_holding_registers(start, count)
                .map(|values| Response::ReadRegisters { function, values }),
            Request::ReadInputRegisters { start, count } => model
                .read_input_registers(start, count)
                .map(|values| Response::ReadRegisters { function, values }),
            Request::WriteSingleCoil { address, value } => model
                .write_coils(address, &[value])
                .map(|()| Response::WriteSingle { function, address, value: if value { 0xFF00 } else { 0 } }),
            Request::WriteSingleRegister { address, value } => model
                .write_registers(address, &[value])
                .map(|()| Response::WriteSingle { function, address, value }),
            Request::WriteMultipleCoils { start, values } => {
                let v: Vec<bool> = values.iter().collect();
                model.write_coils(start, &v).map(|()| Response::WriteMultiple {
                    function,
                    start,
                    count: v.len() as u16,
                })
            }
            Request::WriteMultipleRegisters { start, values } => {
                let v: Vec<u16> = values.iter().collect();
                model.write_registers(start, &v).map(|()| Response::WriteMultiple {
                    function,
                    start,
                    count: v.len() as u16,
                })
            }
            Request::ReadWriteMultipleRegisters { read_start, read_count, write_start, values } => {
                // The write happens before the read (§6.17), but only when the read can be
                // answered: an exception must leave the registers untouched.
                let v: Vec<u16> = values.iter().collect();
                model
                    .read_holding_registers(read_start, read_count)
                    .and_then(|_| model.write_registers(write_start, &v))
                    .and_then(|()| model.read_holding_registers(read_start, read_count))
                    .map(|values| Response::ReadRegisters { function, values })
            }
            Request::Diagnostics { sub_function, data } => return self.diagnostics(sub_function, data),
            Request::ReadDeviceIdentification { code, object } => self.identification(code, object),
            Request::ReadFileRecord { reads } => reads
                .iter()
                .map(|(file, record, len)| model.read_file_record(file, record, len))
                .collect::<Result<Vec<_>, _>>()
                .map(|records| Response::ReadFileRecord { records }),
            Request::WriteFileRecord { writes } => {
                let records: Vec<FileRecord> = writes
                    .iter()
                    .map(|(file, record, data)| FileRecord { file, record, data: data.iter().collect() })
                    .collect();
                records
                    .iter()
                    .try_for_each(|r| model.write_file_record(r.file, r.record, &r.data))
                    .map(|()| Response::WriteFileRecord { records })
            }
        };
        Some(result.unwrap_or_else(|code| Response::exception(function, code)))
    }

    fn diagnostics(&mut self, sub_function: u16, data: &[u8]) -> Option<Response> {
        let echo = |data: &[u8]| Some(Response::Diagnostics { sub_function, data: data.to_vec() });
        let word = |v: u16| Some(Response::Diagnostics { sub_function, data: v.to_be_bytes().to_vec() });
        let fixed = data.len() == 2;
        match sub_function {
            diag::RETURN_QUERY_DATA => echo(data),
            diag::RESTART_COMMUNICATIONS if fixed && (data == [0, 0] || data == [0xFF, 0]) => {
                self.counters = Counters::default();
                self.restarts += 1;
                echo(data)
            }
            diag::FORCE_LISTEN_ONLY if fixed && data == [0, 0] => {
                self.listen_only = true;
                None
            }
            diag::CLEAR_COUNTERS if fixed && data == [0, 0] => {
                self.counters = Counters::default();
                self.diagnostic_register = 0;
                echo(data)
            }
            diag::RETURN_DIAGNOSTIC_REGISTER if fixed && data == [0, 0] => word(self.diagnostic_register),
            diag::BUS_MESSAGE_COUNT if fixed && data == [0, 0] => word(self.counters.bus_messages),
            diag::BUS_EXCEPTION_COUNT if fixed && data == [0, 0] => word(self.counters.bus_exceptions),
            diag::SERVER_MESSAGE_COUNT if fixed && data == [0, 0] => word(self.counters.server_messages),
            diag::RESTART_COMMUNICATIONS
            | diag::FORCE_LISTEN_ONLY
            | diag::CLEAR_COUNTERS
            | diag::RETURN_DIAGNOSTIC_REGISTER
            | diag::BUS_MESSAGE_COUNT
            | diag::BUS_EXCEPTION_COUNT
            | diag::SERVER_MESSAGE_COUNT => {
                Some(Response::exception(fc::DIAGNOSTICS, ExceptionCode::IllegalDataValue))
            }
            _ => Some(Response::exception(fc::DIAGNOSTICS, ExceptionCode::IllegalFunction)),
        }
    }

    /// Read Device Identification (§6.21). A response PDU holds at most 253 bytes: what does
    /// not fit follows in the next response (`more_follows`, from `next_object`), as the
    /// client asks for it.
    fn identification(&self, code: u8, object: u8) -> Result<Response, ExceptionCode> {
        // FC, MEI type, code, conformity, more follows, next object, count; then per object
        // its id, its length and its value.
        const ROOM: usize = crate::adu::MAX_PDU_LEN - 7;
        let all = self.identity.objects();
        if code == 4 {
            return all
                .into_iter()
                .find(|(id, _)| *id == object)
                .map(|(id, mut value)| {
                    value.truncate(ROOM - 2);
                    Response::DeviceIdentification {
                        code,
                        conformity: CONFORMITY,
                        more_follows: false,
                        next_object: 0,
                        objects: vec![(id, value)],
                    }
                })
                .ok_or(ExceptionCode::IllegalDataAddress);
        }
        let last = if code == 1 { 2 } else { 6 };
        // An unknown starting object restarts the stream at 0 (§6.21).
        let from = if all.iter().any(|(id, _)| *id == object && *id <= last) { object } else { 0 };
        let mut objects = Vec::new();
        let mut used = 0;
        let mut next = None;
        for (id, mut value) in all.into_iter().filter(|(id, _)| *id >= from && *id <= last) {
            // One object alone always fits (cut to the room there is), so the stream moves on.
            value.truncate(ROOM - 2);
            if used + 2 + value.len() > ROOM {
                next = Some(id);
                break;
            }
            used += 2 + value.len();
            objects.push((id, value));
        }
        Ok(Response::DeviceIdentification {
            code,
            conformity: CONFORMITY,
            more_follows: next.is_some(),
            next_object: next.unwrap_or(0),
            objects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 coils, 10 discrete inputs, 10 holding, 10 input registers at 0..10.
    #[derive(Default)]
    struct Image {
        coils: [bool; 10],
        regs: [u16; 10],
    }

    fn span(start: u16, count: u16) -> Result<std::ops::Range<usize>, ExceptionCode> {
        let (s, e) = (start as usize, start as usize + count as usize);
        if e <= 10 { Ok(s..e) } else { Err(ExceptionCode::IllegalDataAddress) }
    }

    impl DataModel for Image {
        fn read_coils(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
            Ok(self.coils[span(start, count)?].to_vec())
        }
        fn read_discrete_inputs(&mut self, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
            Ok(self.coils[span(start, count)?].iter().map(|c| !c).collect())
        }
        fn read_holding_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
            Ok(self.regs[span(start, count)?].to_vec())
        }
        fn read_input_registers(&mut self, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
            Ok(self.regs[span(start, count)?].iter().map(|r| r + 1).collect())
        }
        fn write_coils(&mut self, start: u16, values: &[bool]) -> Result<(), ExceptionCode> {
            self.coils[span(start, values.len() as u16)?].copy_from_slice(values);
            Ok(())
        }
        fn write_registers(&mut self, start: u16, values: &[u16]) -> Result<(), ExceptionCode> {
            self.regs[span(start, values.len() as u16)?].copy_from_slice(values);
            Ok(())
        }
    }

    fn ask(s: &mut Server, m: &mut Image, pdu: &[u8]) -> Option<Vec<u8>> {
        s.handle_pdu(m, pdu).map(|r| {
            let mut out = Vec::new();
            r.emit(&mut out);
            out
        })
    }

    #[test]
    fn reads_writes_and_exceptions() {
        let (mut s, mut m) = (Server::default(), Image::default());
        assert_eq!(ask(&mut s, &mut m, &[0x06, 0, 2, 0x12, 0x34]).unwrap(), [0x06, 0, 2, 0x12, 0x34]);
        assert_eq!(ask(&mut s, &mut m, &[0x03, 0, 1, 0, 2]).unwrap(), [0x03, 4, 0, 0, 0x12, 0x34]);
        assert_eq!(ask(&mut s, &mut m, &[0x03, 0, 9, 0, 2]).unwrap(), [0x83, 0x02]);
        assert_eq!(ask(&mut s, &mut m, &[0x05, 0, 3, 0xFF, 0]).unwrap(), [0x05, 0, 3, 0xFF, 0]);
        assert_eq!(ask(&mut s, &mut m, &[0x01, 0, 0, 0, 10]).unwrap(), [0x01, 2, 0b0000_1000, 0]);
        // Read/write: written first, then read back.
        assert_eq!(
            ask(&mut s, &mut m, &[0x17, 0, 5, 0, 1, 0, 5, 0, 1, 2, 0xAB, 0xCD]).unwrap(),
            [0x17, 2, 0xAB, 0xCD]
        );
        assert_eq!(ask(&mut s, &mut m, &[0x63]).unwrap(), [0xE3, 0x01]);
    }

    #[test]
    fn listen_only_and_restart() {
        let (mut s, mut m) = (Server::default(), Image::default());
        assert_eq!(ask(&mut s, &mut m, &[0x08, 0, 4, 0, 0]), None);
        assert!(s.listen_only());
        assert_eq!(ask(&mut s, &mut m, &[0x03, 0, 0, 0, 1]), None, "silent in listen-only mode");
        assert_eq!(
            ask(&mut s, &mut m, &[0x08, 0, 1, 0, 0]),
            None,
            "restart from listen-only is not answered"
        );
        assert!(!s.listen_only());
        assert_eq!(s.take_restarts(), 1);
        assert_eq!(ask(&mut s, &mut m, &[0x08, 0, 1, 0xFF, 0]).unwrap(), [0x08, 0, 1, 0xFF, 0]);
        assert_eq!(ask(&mut s, &mut m, &[0x03, 0, 0, 0, 1]).unwrap(), [0x03, 2, 0, 0]);
        assert_eq!(ask(&mut s, &mut m, &[0x08, 0, 0x0E, 0, 0]).unwrap(), [0x08, 0, 0x0E, 0, 2]);
        assert_eq!(ask(&mut s, &mut m, &[0x08, 0, 0x0A, 0, 0]).unwrap(), [0x08, 0, 0x0A, 0, 0]);
        assert_eq!(ask(&mut s, &mut m, &[0x08, 0, 0x0E, 0, 0]).unwrap(), [0x08, 0, 0x0E, 0, 1]);
        assert_eq!(ask(&mut s, &mut m, &[0x08, 0x12, 0x34, 0, 0]).unwrap(), [0x88, 0x01]);
    }

    #[test]
    fn device_identification() {
        let id = DeviceIdentity {
            vendor_name: "icsrange".into(),
            product_code: "PLC".into(),
            revision: "1.0".into(),
            product_name: "Unit PLC".into(),
            ..DeviceIdentity::default()
        };
        let (mut s, mut m) = (Server::new(id), Image::default());
        let basic = ask(&mut s, &mut m, &[0x2B, 0x0E, 1, 0]).unwrap();
        assert_eq!(
            basic,
            [
                0x2B, 0x0E, 1, 0x82, 0, 0, 3, 0, 8, b'i', b'c', b's', b'r', b'a', b'n', b'g', b'e', 1, 3,
                b'P', b'L', b'C', 2, 3, b'1', b'.', b'0'
            ]
        );
        let one = ask(&mut s, &mut m, &[0x2B, 0x0E, 4, 4]).unwrap();
        assert_eq!(&one[6..], [1, 4, 8, b'U', b'n', b'i', b't', b' ', b'P', b'L', b'C']);
        assert_eq!(ask(&mut s, &mut m, &[0x2B, 0x0E, 4, 5]).unwrap(), [0xAB, 0x02]);
    }

    /// Long names (a 200-character substation name) do not make a response longer than the
    /// 253 bytes a PDU holds: the rest follows on the next request (§6.21, "More Follows").
    #[test]
    fn device_identification_never_exceeds_a_pdu() {
        let long = "S".repeat(200);
        let id = DeviceIdentity {
            vendor_name: "icsrange".into(),
            product_code: "RELAY".into(),
            revision: "1.0".into(),
            product_name: long.clone(),
            model_name: long.clone(),
            user_application_name: long,
            ..DeviceIdentity::default()
        };
        let (mut s, mut m) = (Server::new(id), Image::default());
        let mut seen = Vec::new();
        let mut next = 0u8;
        for _ in 0..8 {
            let pdu = ask(&mut s, &mut m, &[0x2B, 0x0E, 2, next]).unwrap();
            assert!(pdu.len() <= crate::adu::MAX_PDU_LEN, "{} bytes", pdu.len());
            let mut at = 7;
            for _ in 0..pdu[6] {
                seen.push(pdu[at]);
                at += 2 + pdu[at + 1] as usize;
            }
            assert_eq!(at, pdu.len());
            if pdu[4] != 0xFF {
                break;
            }
            next = pdu[5];
        }
        assert_eq!(seen, [0, 1, 2, 4, 5, 6], "every object, once, in order");
    }
}
