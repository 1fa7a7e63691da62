//! DNP3: operate from a host that is not a master, restarts.

use ids::RuleId;
use proto_dnp3::app::{ac, crob, crob_request, fc};

use super::{INTRUDER, MASTER, RTU, Wire, only, quiet};

/// A request fragment of `function` with object headers `objects` (group, variation,
/// qualifier 0x06: all objects).
fn request(function: u8, objects: &[(u8, u8)]) -> Vec<u8> {
    let mut fragment = vec![ac::FIR | ac::FIN, function];
    for &(group, variation) in objects {
        fragment.extend_from_slice(&[group, variation, 0x06]);
    }
    fragment
}

#[test]
pub(super) fn a_direct_operate_from_a_host_that_is_not_a_master_fires() {
    let mut w = Wire::new();
    let n = w.dnp3(1, INTRUDER, &crob_request(0, fc::DIRECT_OPERATE, 0, crob::TRIP));
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Dnp3OperateUnlisted);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, RTU, vec![n]));
    assert!(a.message.contains("function 5"), "{}", a.message);
}

#[test]
pub(super) fn a_direct_operate_from_the_master_is_quiet() {
    let mut w = Wire::new();
    w.dnp3(1, MASTER, &crob_request(0, fc::SELECT, 0, crob::TRIP));
    w.dnp3(2, MASTER, &crob_request(1, fc::OPERATE, 0, crob::TRIP));
    w.dnp3(3, MASTER, &crob_request(2, fc::DIRECT_OPERATE, 0, crob::CLOSE));
    // Reading is no operation, whoever reads.
    w.dnp3(4, INTRUDER, &request(fc::READ, &[(60, 1)]));
    quiet(&w.alerts());
}

#[test]
pub(super) fn a_cold_restart_fires() {
    // Even from the master: a restart takes the outstation out of service.
    let mut w = Wire::new();
    let n = w.dnp3(1, MASTER, &request(fc::COLD_RESTART, &[]));
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Dnp3Restart);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, RTU, vec![n]));
    assert!(a.message.contains("function 13"), "{}", a.message);
}

#[test]
fn disable_unsolicited_fires() {
    let mut w = Wire::new();
    let n = w.dnp3(1, INTRUDER, &request(fc::DISABLE_UNSOLICITED, &[(60, 2), (60, 3), (60, 4)]));
    let alerts = w.alerts();
    assert_eq!(only(&alerts, RuleId::Dnp3Restart).evidence, vec![n]);
}

#[test]
pub(super) fn enable_unsolicited_and_record_time_are_quiet() {
    let mut w = Wire::new();
    w.dnp3(1, MASTER, &request(fc::ENABLE_UNSOLICITED, &[(60, 2), (60, 3), (60, 4)]));
    w.dnp3(2, MASTER, &request(fc::RECORD_CURRENT_TIME, &[]));
    quiet(&w.alerts());
}
