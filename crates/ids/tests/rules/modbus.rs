//! Modbus: writes from unlisted hosts, FC 8 diagnostics, scans.

use ids::RuleId;
use proto_modbus::pdu::{diag, fc};
use proto_modbus::{ExceptionCode, Request, Response};

use super::{INTRUDER, MASTER, PLC, Wire, only, quiet};

/// Reads by the intruder at `times`, each answered with exception `code`; the answers' frame
/// numbers.
fn refused_reads(w: &mut Wire, times: &[u64], code: ExceptionCode) -> Vec<u64> {
    let mut answers = Vec::new();
    for (i, &secs) in times.iter().enumerate() {
        let start = 1000 * i as u16;
        w.modbus(secs, INTRUDER, PLC, Request::ReadHoldingRegisters { start, count: 10 });
        let refusal = Response::exception(fc::READ_HOLDING_REGISTERS, code);
        answers.push(w.modbus_answer(secs, PLC, INTRUDER, &refusal));
    }
    answers
}

#[test]
pub(super) fn a_write_from_an_unlisted_host_fires() {
    let mut w = Wire::new();
    let n = w.modbus(1, INTRUDER, PLC, Request::WriteSingleCoil { address: 0, value: true });
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::ModbusWriteUnlisted);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, PLC, vec![n]));
    assert!(a.message.contains("FC 5"), "{}", a.message);
}

#[test]
pub(super) fn a_write_from_the_master_or_a_read_is_quiet() {
    let mut w = Wire::new();
    w.modbus(1, MASTER, PLC, Request::WriteSingleCoil { address: 0, value: true });
    w.modbus(2, INTRUDER, PLC, Request::ReadCoils { start: 0, count: 8 });
    quiet(&w.alerts());
}

#[test]
pub(super) fn diagnostics_force_listen_only_fires() {
    let mut w = Wire::new();
    let data = [0, 0];
    let n = w.modbus(
        1,
        INTRUDER,
        PLC,
        Request::Diagnostics { sub_function: diag::FORCE_LISTEN_ONLY, data: &data },
    );
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::ModbusDiagnostics);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, PLC, vec![n]));
    assert!(a.message.contains("sub-function 4"), "{}", a.message);
}

#[test]
pub(super) fn diagnostics_return_query_data_is_quiet() {
    let mut w = Wire::new();
    let data = [0x12, 0x34];
    w.modbus(1, INTRUDER, PLC, Request::Diagnostics { sub_function: diag::RETURN_QUERY_DATA, data: &data });
    w.modbus(2, INTRUDER, PLC, Request::Diagnostics { sub_function: diag::BUS_MESSAGE_COUNT, data: &[0, 0] });
    quiet(&w.alerts());
}

#[test]
pub(super) fn device_identification_from_an_unlisted_host_fires() {
    let mut w = Wire::new();
    let n = w.modbus(1, INTRUDER, PLC, Request::ReadDeviceIdentification { code: 1, object: 0 });
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::ModbusScan);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, PLC, vec![n]));
    assert!(a.message.contains("FC 43"), "{}", a.message);
}

#[test]
pub(super) fn device_identification_from_the_master_is_quiet() {
    let mut w = Wire::new();
    w.modbus(1, MASTER, PLC, Request::ReadDeviceIdentification { code: 1, object: 0 });
    quiet(&w.alerts());
}

#[test]
fn five_exceptions_to_one_host_within_a_minute_fire_a_scan() {
    let mut w = Wire::new();
    let answers = refused_reads(&mut w, &[0, 10, 20, 30, 40], ExceptionCode::IllegalDataAddress);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::ModbusScan);
    // About the host that was refused; the refusals are the evidence.
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, PLC, answers));
    assert!(a.message.contains("5 exception responses"), "{}", a.message);
}

#[test]
fn five_exceptions_over_more_than_a_minute_are_quiet() {
    let mut w = Wire::new();
    refused_reads(&mut w, &[0, 10, 20, 30, 61], ExceptionCode::IllegalDataAddress);
    quiet(&w.alerts());
}

#[test]
fn five_illegal_value_exceptions_are_no_scan() {
    let mut w = Wire::new();
    refused_reads(&mut w, &[0, 1, 2, 3, 4], ExceptionCode::IllegalDataValue);
    quiet(&w.alerts());
}
