//! IEC 104: rogue masters, command bursts, IOA sweeps, toggle loops, execute without select,
//! and the correlation with the operators' HMI journal.

use ids::RuleId;
use proto_iec104::asdu::cot;
use proto_iec104::{Asdu, Frame, UFunction, Value};

use super::{INTRUDER, MASTER, RTU, SBO_STATION, STATION, Wire, only, quiet, single_command};

/// A command the operators gave: in the HMI journal, then on the wire.
fn operator_command(w: &mut Wire, secs: u64, station: u16, ioa: u32, on: bool) -> u64 {
    w.authorised(secs, station, ioa);
    w.iec104_asdu(secs, MASTER, &single_command(station, ioa, on, false))
}

/// The master writes a set point to `ioa` (no breaker command: no correlation, no burst), and
/// the RTU refuses it: unknown IOA. The refusal's frame number.
fn refused_set_point(w: &mut Wire, secs: u64, ioa: u32) -> u64 {
    let value = Value::SetpointFloat { value: 1.0, select: false, qualifier: 0 };
    let request = Asdu::new(cot::ACTIVATION, STATION, vec![(ioa, value)]);
    w.iec104_asdu(secs, MASTER, &request);
    w.iec104_answer(secs, MASTER, Asdu::mirror(&request.to_bytes(), cot::UNKNOWN_IOA, true))
}

#[test]
pub(super) fn startdt_from_a_host_that_is_not_the_master_fires() {
    let mut w = Wire::new();
    let n = w.iec104(1, INTRUDER, &Frame::u(UFunction::StartDtAct));
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Iec104RogueMaster);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, RTU, vec![n]));
    assert!(a.message.contains("STARTDT"), "{}", a.message);
}

#[test]
pub(super) fn startdt_from_the_master_is_quiet() {
    let mut w = Wire::new();
    w.iec104(1, MASTER, &Frame::u(UFunction::StartDtAct));
    w.iec104(2, MASTER, &Frame::u(UFunction::TestFrAct));
    quiet(&w.alerts());
}

#[test]
pub(super) fn commands_to_five_ioas_within_a_minute_fire_a_burst() {
    let mut w = Wire::new();
    let frames: Vec<u64> =
        (1..=5).map(|ioa| operator_command(&mut w, 5 * u64::from(ioa), STATION, ioa, true)).collect();
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Iec104CommandBurst);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, RTU, frames));
    assert!(a.message.contains("5 IOAs on 1 stations"), "{}", a.message);
}

#[test]
fn commands_to_two_stations_within_a_minute_fire_a_burst() {
    let mut w = Wire::new();
    let first = operator_command(&mut w, 1, STATION, 1, true);
    let second = operator_command(&mut w, 30, 3, 1, true);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Iec104CommandBurst);
    assert_eq!(a.evidence, vec![first, second]);
}

#[test]
pub(super) fn five_ioas_over_more_than_a_minute_are_quiet() {
    let mut w = Wire::new();
    for (secs, ioa) in [(0, 1), (10, 2), (20, 3), (30, 4), (61, 5)] {
        operator_command(&mut w, secs, STATION, ioa, true);
    }
    quiet(&w.alerts());
}

#[test]
pub(super) fn negative_confirmations_on_increasing_ioas_fire_a_sweep() {
    let mut w = Wire::new();
    let refusals: Vec<u64> = (0..3).map(|i| refused_set_point(&mut w, i, 4001 + i as u32)).collect();
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Iec104IoaSweep);
    // Raised on the refusals, from the station to the host that walks its IOAs.
    assert_eq!((a.src, a.dst, a.evidence.clone()), (RTU, MASTER, refusals));
}

#[test]
pub(super) fn negative_confirmations_on_decreasing_ioas_are_quiet() {
    let mut w = Wire::new();
    for (secs, ioa) in [(0, 4003), (1, 4002), (2, 4001)] {
        refused_set_point(&mut w, secs, ioa);
    }
    quiet(&w.alerts());
}

#[test]
pub(super) fn three_flips_of_one_point_within_five_minutes_fire() {
    let mut w = Wire::new();
    let frames: Vec<u64> = [(0, true), (60, false), (120, true), (180, false)]
        .map(|(secs, on)| operator_command(&mut w, secs, STATION, 10, on))
        .to_vec();
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Iec104ToggleLoop);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, RTU, frames));
    assert!(a.message.contains("toggled 3 times"), "{}", a.message);
}

#[test]
pub(super) fn three_flips_over_more_than_five_minutes_are_quiet() {
    let mut w = Wire::new();
    for (secs, on) in [(0, true), (60, false), (120, true), (301, false)] {
        operator_command(&mut w, secs, STATION, 10, on);
    }
    quiet(&w.alerts());
}

#[test]
pub(super) fn an_execute_without_select_on_a_select_before_operate_station_fires() {
    let mut w = Wire::new();
    let n = operator_command(&mut w, 1, SBO_STATION, 20, true);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::Iec104ExecuteWithoutSelect);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, RTU, vec![n]));
    assert!(a.message.contains(&format!("{SBO_STATION}/20")), "{}", a.message);
}

#[test]
fn an_execute_11_s_after_its_select_fires() {
    let mut w = Wire::new();
    w.iec104_asdu(0, MASTER, &single_command(SBO_STATION, 20, true, true));
    let n = operator_command(&mut w, 11, SBO_STATION, 20, true);
    let alerts = w.alerts();
    assert_eq!(only(&alerts, RuleId::Iec104ExecuteWithoutSelect).evidence, vec![n]);
}

#[test]
pub(super) fn an_execute_2_s_after_its_select_is_quiet() {
    let mut w = Wire::new();
    w.iec104_asdu(0, MASTER, &single_command(SBO_STATION, 20, true, true));
    operator_command(&mut w, 2, SBO_STATION, 20, true);
    quiet(&w.alerts());
}

#[test]
pub(super) fn a_command_no_operator_gave_fires() {
    let mut w = Wire::new();
    let n = w.iec104_asdu(1, MASTER, &single_command(STATION, 30, true, false));
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::CorrUnexplainedCommand);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (MASTER, RTU, vec![n]));
    assert!(a.message.contains("close to 1/30"), "{}", a.message);
}

#[test]
fn a_command_an_operator_gave_11_s_before_fires() {
    let mut w = Wire::new();
    w.authorised(0, STATION, 30);
    let n = w.iec104_asdu(11, MASTER, &single_command(STATION, 30, false, false));
    let alerts = w.alerts();
    assert_eq!(only(&alerts, RuleId::CorrUnexplainedCommand).evidence, vec![n]);
}

#[test]
pub(super) fn a_command_an_operator_gave_5_s_before_is_quiet() {
    let mut w = Wire::new();
    w.authorised(0, STATION, 30);
    w.iec104_asdu(5, MASTER, &single_command(STATION, 30, true, false));
    quiet(&w.alerts());
}
