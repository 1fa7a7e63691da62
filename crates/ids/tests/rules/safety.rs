//! The safety controller's rules and the engineering ranges: Modbus to the SIS and to a
//! station PLC.

use ids::RuleId;
use proto_modbus::pdu::{FILE_REFERENCE_TYPE, fc};
use proto_modbus::{Request, Response};

use super::{ENGINEERING, INTRUDER, MASTER, PLC, SETPOINT, SIS, Wire, only, quiet};

/// FC 20's PDU: `count` registers from record `record` of file `file`.
fn read_file_record(file: u16, record: u16, count: u16) -> Vec<u8> {
    let mut pdu = vec![fc::READ_FILE_RECORD, 7, FILE_REFERENCE_TYPE];
    for word in [file, record, count] {
        pdu.extend_from_slice(&word.to_be_bytes());
    }
    pdu
}

/// FC 21's PDU: `data` to record `record` of file `file`.
fn write_file_record(file: u16, record: u16, data: &[u16]) -> Vec<u8> {
    let mut sub = vec![FILE_REFERENCE_TYPE];
    for word in [file, record, data.len() as u16].iter().chain(data) {
        sub.extend_from_slice(&word.to_be_bytes());
    }
    [vec![fc::WRITE_FILE_RECORD, sub.len() as u8], sub].concat()
}

/// The key switch (input register 0) read back: the request, then the answer at `key`.
fn read_key(w: &mut Wire, secs: u64, start: u16, key: u16) -> u64 {
    w.modbus(secs, MASTER, SIS, Request::ReadInputRegisters { start, count: 2 });
    let values = vec![key, 0];
    w.modbus_answer(
        secs,
        SIS,
        MASTER,
        &Response::ReadRegisters { function: fc::READ_INPUT_REGISTERS, values },
    )
}

const RUN: u16 = 1;
const PROGRAM: u16 = 2;

#[test]
pub(super) fn a_program_download_to_the_safety_controller_fires() {
    // Even from its engineering station: a download is always worth an analyst's look.
    let mut w = Wire::new();
    let n = w.modbus_pdu(1, ENGINEERING, SIS, &write_file_record(1, 0, &[0x5452, 0x4953]));
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SisProgramDownload);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (ENGINEERING, SIS, vec![n]));
    assert!(a.message.contains("FC 21"), "{}", a.message);
}

#[test]
pub(super) fn a_program_download_to_a_station_plc_is_quiet() {
    let mut w = Wire::new();
    w.modbus_pdu(1, ENGINEERING, PLC, &write_file_record(1, 0, &[0x5452, 0x4953]));
    quiet(&w.alerts());
}

#[test]
pub(super) fn a_program_upload_by_an_unlisted_host_fires() {
    let mut w = Wire::new();
    let n = w.modbus_pdu(1, INTRUDER, SIS, &read_file_record(1, 0, 16));
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SisProgramUpload);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, SIS, vec![n]));
}

#[test]
pub(super) fn a_program_upload_by_the_engineering_station_is_quiet() {
    let mut w = Wire::new();
    w.modbus_pdu(1, ENGINEERING, SIS, &read_file_record(1, 0, 16));
    quiet(&w.alerts());
}

#[test]
pub(super) fn a_write_to_the_safety_controller_from_the_master_fires() {
    // The master may write to the plant's PLCs (no `modbus.write_unlisted`), not to the SIS.
    let mut w = Wire::new();
    let n = w.modbus(1, MASTER, SIS, Request::WriteSingleRegister { address: 5, value: 1 });
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SisWriteUnlisted);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, SIS, vec![n]));
    assert!(a.message.contains("FC 6"), "{}", a.message);
}

#[test]
pub(super) fn a_write_to_the_safety_controller_from_its_engineering_station_is_quiet() {
    let mut w = Wire::new();
    w.modbus(1, ENGINEERING, SIS, Request::WriteSingleRegister { address: 5, value: 1 });
    w.modbus(2, ENGINEERING, SIS, Request::WriteSingleCoil { address: 0, value: true });
    quiet(&w.alerts());
}

#[test]
pub(super) fn the_key_switch_read_back_at_a_new_position_fires() {
    let mut w = Wire::new();
    read_key(&mut w, 1, 0, RUN);
    quiet(&w.alerts());
    let n = read_key(&mut w, 10, 0, PROGRAM);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SisModeChange);
    // About the host that read it, and cites the answer.
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, SIS, vec![n]));
    assert!(a.message.contains("from RUN to PROGRAM"), "{}", a.message);
}

#[test]
pub(super) fn the_key_switch_first_seen_at_program_fires() {
    let mut w = Wire::new();
    let n = read_key(&mut w, 1, 0, PROGRAM);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SisModeChange);
    assert_eq!(a.evidence, vec![n]);
    assert!(a.message.contains("is at PROGRAM"), "{}", a.message);
}

#[test]
pub(super) fn the_key_switch_read_back_unchanged_is_quiet() {
    let mut w = Wire::new();
    read_key(&mut w, 1, 0, RUN);
    read_key(&mut w, 10, 0, RUN);
    // Another register at the value PROGRAM has: not the key switch.
    read_key(&mut w, 20, 1, PROGRAM);
    quiet(&w.alerts());
}

#[test]
pub(super) fn a_set_point_above_its_engineering_range_fires() {
    let mut w = Wire::new();
    let n = w.modbus(1, MASTER, PLC, Request::WriteSingleRegister { address: SETPOINT, value: 5000 });
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::PipeSetpointRange);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, PLC, vec![n]));
    assert!(a.message.contains("its engineering range is 0 to 3600"), "{}", a.message);
}

#[test]
pub(super) fn a_set_point_at_the_edge_of_its_range_or_without_one_is_quiet() {
    let mut w = Wire::new();
    w.modbus(1, MASTER, PLC, Request::WriteSingleRegister { address: SETPOINT, value: 3600 });
    w.modbus(2, MASTER, PLC, Request::WriteSingleRegister { address: SETPOINT + 1, value: 5000 });
    quiet(&w.alerts());
}
