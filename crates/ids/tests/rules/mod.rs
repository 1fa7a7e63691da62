//! Every IDS rule on the wire: for each, a test that fires it and a near miss that must stay
//! quiet, with frames built by the protocol crates' emitters; and the rule table itself.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4};

use ids::{Alert, Config, Ids, Packet, RULES, RuleId};
use proto_iec104::asdu::cot;
use proto_iec104::{Asdu, Frame, Value};
use proto_modbus::{Request, Response};
use simcore::SimTime;

mod dnp3;
mod http_udp;
mod iec104;
mod modbus;
mod safety;

/// The SCADA master (the HMI): allowlisted, every station's master.
pub const MASTER: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
/// The engineering workstation: allowlisted, the safety controller's engineering station.
pub const ENGINEERING: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 20);
/// A host on no list.
pub const INTRUDER: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 66);
/// The safety controller (Modbus).
pub const SIS: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 30);
/// A station PLC (Modbus) with a set point that has an engineering range.
pub const PLC: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 40);
/// An RTU (IEC 104 stations, a DNP3 outstation).
pub const RTU: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 50);
/// A serial gateway (firmware over HTTP).
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 60);
/// A protection relay (SIPROTEC 4, UDP 50000).
pub const RELAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 70);
/// An IEC 104 station that does not require select before operate, and one that does.
pub const STATION: u16 = 1;
pub const SBO_STATION: u16 = 2;
/// The PLC's set point register and its engineering range.
pub const SETPOINT: u16 = 100;
pub const SETPOINT_RANGE: (u16, u16) = (0, 3600);
/// DNP3 link addresses: the master's, the outstation's.
pub const DNP3_MASTER: u16 = 1;
pub const DNP3_OUTSTATION: u16 = 10;

/// The range's inventory as the rules see it.
pub fn inventory() -> Config {
    Config {
        allowlist: vec![MASTER, ENGINEERING],
        masters: vec![MASTER],
        gateways: vec![GATEWAY],
        sbo_stations: vec![SBO_STATION],
        safety: vec![SIS],
        engineering: vec![ENGINEERING],
        ranges: vec![(PLC, SETPOINT, SETPOINT_RANGE.0, SETPOINT_RANGE.1)],
    }
}

/// A client's socket (one per host: the flows of a test are one connection each way).
pub fn client(host: Ipv4Addr) -> SocketAddrV4 {
    SocketAddrV4::new(host, 40_000)
}

pub fn at(secs: u64) -> SimTime {
    SimTime(secs * 1_000_000)
}

/// The IDS over a capture: every payload gets the next frame number.
#[derive(Debug)]
pub struct Wire {
    ids: Ids,
    number: u64,
    /// IEC 104 send sequence number of the I-frames sent.
    sent: u16,
}

impl Wire {
    pub fn new() -> Wire {
        Wire { ids: Ids::new(inventory()), number: 0, sent: 0 }
    }

    /// One TCP payload at `secs`; its frame number.
    pub fn tcp(&mut self, secs: u64, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> u64 {
        self.number += 1;
        self.ids.observe(&Packet { number: self.number, t: at(secs), src, dst, payload });
        self.number
    }

    /// One UDP datagram at `secs`; its frame number.
    pub fn udp(&mut self, secs: u64, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> u64 {
        self.number += 1;
        self.ids.observe_datagram(&Packet { number: self.number, t: at(secs), src, dst, payload });
        self.number
    }

    /// An operator's command through the HMI at `secs` (the journal the correlation reads).
    pub fn authorised(&mut self, secs: u64, station: u16, ioa: u32) {
        self.ids.authorised(at(secs), station, ioa);
    }

    /// A Modbus request from `host` to `device`.
    pub fn modbus(&mut self, secs: u64, host: Ipv4Addr, device: Ipv4Addr, request: Request<'_>) -> u64 {
        let mut pdu = Vec::new();
        request.emit(&mut pdu);
        let mut adu = Vec::new();
        proto_modbus::adu::emit(self.number as u16, 1, &pdu, &mut adu);
        self.tcp(secs, client(host), SocketAddrV4::new(device, proto_modbus::PORT), &adu)
    }

    /// A Modbus request PDU of a kind whose fields only the parser builds (file records):
    /// parsed first, so that it is one a device accepts.
    pub fn modbus_pdu(&mut self, secs: u64, host: Ipv4Addr, device: Ipv4Addr, pdu: &[u8]) -> u64 {
        let request = Request::parse(pdu).expect("a valid request PDU");
        self.modbus(secs, host, device, request)
    }

    /// A Modbus response from `device` to `host`.
    pub fn modbus_answer(&mut self, secs: u64, device: Ipv4Addr, host: Ipv4Addr, response: &Response) -> u64 {
        let mut pdu = Vec::new();
        response.emit(&mut pdu);
        let mut adu = Vec::new();
        proto_modbus::adu::emit(self.number as u16, 1, &pdu, &mut adu);
        self.tcp(secs, SocketAddrV4::new(device, proto_modbus::PORT), client(host), &adu)
    }

    /// An IEC 104 frame from `host` to the RTU.
    pub fn iec104(&mut self, secs: u64, host: Ipv4Addr, frame: &Frame) -> u64 {
        let mut bytes = Vec::new();
        frame.emit(&mut bytes);
        self.tcp(secs, client(host), SocketAddrV4::new(RTU, proto_iec104::PORT), &bytes)
    }

    /// An ASDU in an I-frame from `host` to the RTU.
    pub fn iec104_asdu(&mut self, secs: u64, host: Ipv4Addr, asdu: &Asdu) -> u64 {
        self.sent += 1;
        self.iec104(secs, host, &Frame::i(self.sent - 1, 0, asdu.to_bytes()))
    }

    /// ASDU octets in an I-frame from the RTU to `host`.
    pub fn iec104_answer(&mut self, secs: u64, host: Ipv4Addr, asdu: Vec<u8>) -> u64 {
        let mut bytes = Vec::new();
        Frame::i(0, self.sent, asdu).emit(&mut bytes);
        self.tcp(secs, SocketAddrV4::new(RTU, proto_iec104::PORT), client(host), &bytes)
    }

    /// A DNP3 application fragment from `host` to the outstation, in link frames.
    pub fn dnp3(&mut self, secs: u64, host: Ipv4Addr, fragment: &[u8]) -> u64 {
        let mut segments = Vec::new();
        proto_dnp3::transport::segment(fragment, 0, &mut segments);
        let mut bytes = Vec::new();
        for data in segments {
            proto_dnp3::link::Frame {
                control: proto_dnp3::link::Control {
                    from_master: true,
                    primary: true,
                    fcb: false,
                    fcv: false,
                    function: proto_dnp3::link::function::UNCONFIRMED_USER_DATA,
                },
                destination: DNP3_OUTSTATION,
                source: DNP3_MASTER,
                data,
            }
            .emit(&mut bytes);
        }
        self.tcp(secs, client(host), SocketAddrV4::new(RTU, proto_dnp3::PORT), &bytes)
    }

    pub fn alerts(&mut self) -> Vec<Alert> {
        self.ids.take_alerts()
    }
}

/// A single command activation (C_SC_NA_1): select or execute.
pub fn single_command(station: u16, ioa: u32, on: bool, select: bool) -> Asdu {
    Asdu::new(cot::ACTIVATION, station, vec![(ioa, Value::SingleCommand { on, select, qualifier: 0 })])
}

/// The one alert raised, which is `rule`'s, with the rule's id and techniques.
pub fn only(alerts: &[Alert], rule: RuleId) -> &Alert {
    assert_eq!(alerts.len(), 1, "one alert, of {rule}: {alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule, rule.as_str());
    assert_eq!(alert.rule_id(), Some(rule));
    assert_eq!(alert.techniques, rule.techniques());
    alert
}

/// No alert at all.
pub fn quiet(alerts: &[Alert]) {
    assert!(alerts.is_empty(), "no alert: {alerts:#?}");
}

/// Each rule's pair of tests: one that fires it, one near miss that must stay quiet. The match
/// has no wildcard: a rule added to the table does not build until it has both.
fn tests_of(rule: RuleId) -> [fn(); 2] {
    use RuleId::*;
    match rule {
        SisProgramDownload => [
            safety::a_program_download_to_the_safety_controller_fires,
            safety::a_program_download_to_a_station_plc_is_quiet,
        ],
        SisProgramUpload => [
            safety::a_program_upload_by_an_unlisted_host_fires,
            safety::a_program_upload_by_the_engineering_station_is_quiet,
        ],
        SisWriteUnlisted => [
            safety::a_write_to_the_safety_controller_from_the_master_fires,
            safety::a_write_to_the_safety_controller_from_its_engineering_station_is_quiet,
        ],
        SisModeChange => [
            safety::the_key_switch_read_back_at_a_new_position_fires,
            safety::the_key_switch_read_back_unchanged_is_quiet,
        ],
        PipeSetpointRange => [
            safety::a_set_point_above_its_engineering_range_fires,
            safety::a_set_point_at_the_edge_of_its_range_or_without_one_is_quiet,
        ],
        ModbusWriteUnlisted => {
            [modbus::a_write_from_an_unlisted_host_fires, modbus::a_write_from_the_master_or_a_read_is_quiet]
        }
        ModbusDiagnostics => {
            [modbus::diagnostics_force_listen_only_fires, modbus::diagnostics_return_query_data_is_quiet]
        }
        ModbusScan => [
            modbus::device_identification_from_an_unlisted_host_fires,
            modbus::device_identification_from_the_master_is_quiet,
        ],
        Dnp3OperateUnlisted => [
            dnp3::a_direct_operate_from_a_host_that_is_not_a_master_fires,
            dnp3::a_direct_operate_from_the_master_is_quiet,
        ],
        Dnp3Restart => [dnp3::a_cold_restart_fires, dnp3::enable_unsolicited_and_record_time_are_quiet],
        Iec104RogueMaster => [
            iec104::startdt_from_a_host_that_is_not_the_master_fires,
            iec104::startdt_from_the_master_is_quiet,
        ],
        Iec104CommandBurst => [
            iec104::commands_to_five_ioas_within_a_minute_fire_a_burst,
            iec104::five_ioas_over_more_than_a_minute_are_quiet,
        ],
        Iec104IoaSweep => [
            iec104::negative_confirmations_on_increasing_ioas_fire_a_sweep,
            iec104::negative_confirmations_on_decreasing_ioas_are_quiet,
        ],
        Iec104ToggleLoop => [
            iec104::three_flips_of_one_point_within_five_minutes_fire,
            iec104::three_flips_over_more_than_five_minutes_are_quiet,
        ],
        Iec104ExecuteWithoutSelect => [
            iec104::an_execute_without_select_on_a_select_before_operate_station_fires,
            iec104::an_execute_2_s_after_its_select_is_quiet,
        ],
        FwTransfer => [
            http_udp::a_firmware_upload_to_a_gateway_from_an_unlisted_host_fires,
            http_udp::a_firmware_upload_from_the_engineering_station_or_a_get_is_quiet,
        ],
        SiprotecDos => [
            http_udp::the_cve_2015_5374_datagram_to_a_relay_fires,
            http_udp::the_same_datagram_to_another_port_is_quiet,
        ],
        CorrUnexplainedCommand => {
            [iec104::a_command_no_operator_gave_fires, iec104::a_command_an_operator_gave_5_s_before_is_quiet]
        }
    }
}

#[test]
fn every_rule_has_a_test_that_fires_it_and_a_near_miss() {
    for &rule in RuleId::ALL {
        for test in tests_of(rule) {
            test();
        }
    }
}

/// ATT&CK for ICS ids: `T0` and three digits, or a v19 sub-technique (`T1` and three
/// digits, a dot, three digits).
fn is_technique(t: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match t.as_bytes() {
        [b'T', b'0', rest @ ..] => rest.len() == 3 && digits(&t[2..]),
        [b'T', b'1', ..] => t.len() == 9 && digits(&t[1..5]) && &t[5..6] == "." && digits(&t[6..]),
        _ => false,
    }
}

#[test]
fn the_rule_table_has_unique_ids_and_attack_techniques_for_every_rule() {
    assert_eq!(RuleId::ALL.len(), RULES.len());
    let mut ids = BTreeSet::new();
    for (i, &rule) in RuleId::ALL.iter().enumerate() {
        let row = rule.rule();
        assert_eq!(row, &RULES[i], "{rule:?} is row {i}");
        assert!(ids.insert(row.id), "{} twice", row.id);
        let (family, name) = row.id.split_once('.').expect("an id is family.name");
        let word = |s: &str| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        assert!(word(family) && word(name), "{}", row.id);
        assert_eq!(RuleId::from_id(row.id), Some(rule));
        assert_eq!(ids::rule(row.id), Some(row));
        assert_eq!(rule.to_string(), row.id);
        assert!(!row.description.is_empty(), "{}", row.id);
        assert!(
            row.techniques.iter().any(|t| t.starts_with("T0")),
            "{}: no ATT&CK for ICS technique",
            row.id
        );
        let distinct: BTreeSet<&str> = row.techniques.iter().copied().collect();
        assert_eq!(distinct.len(), row.techniques.len(), "{}: a technique twice", row.id);
        for t in row.techniques {
            assert!(is_technique(t), "{}: `{t}` is no technique id", row.id);
        }
    }
    assert!(is_technique("T0855") && is_technique("T1692.001"));
    assert!(
        !is_technique("T855") && !is_technique("t0855") && !is_technique("T1692") && !is_technique("T08555")
    );
}

#[test]
fn an_unknown_id_is_no_rule() {
    assert_eq!(RuleId::from_id("modbus.scans"), None);
    assert_eq!(ids::rule("no.rule"), None);
    assert_eq!(ids::rule(""), None);
}

/// The ids and techniques as journals, alert files and exercises (`on_alert`) carry them: a
/// change here changes every stored journal.
#[test]
fn rule_ids_and_techniques_are_those_the_journals_carry() {
    let expected: &[(&str, &[&str])] = &[
        ("sis.program_download", &["T0843", "T0889"]),
        ("sis.program_upload", &["T0845"]),
        ("sis.write_unlisted", &["T0855", "T1692.001"]),
        ("sis.mode_change", &["T0858"]),
        ("pipe.setpoint_range", &["T0836"]),
        ("modbus.write_unlisted", &["T0855", "T1692.001"]),
        ("modbus.diagnostics", &["T0816", "T0814"]),
        ("modbus.scan", &["T0888", "T0846"]),
        ("dnp3.operate_unlisted", &["T0855", "T1692.001", "T0831"]),
        ("dnp3.restart", &["T0816", "T0803", "T1691.001"]),
        ("iec104.rogue_master", &["T0855", "T1692.001"]),
        ("iec104.command_burst", &["T0831"]),
        ("iec104.ioa_sweep", &["T0861", "T0846"]),
        ("iec104.toggle_loop", &["T0806"]),
        ("iec104.execute_without_select", &["T0855", "T1692.001"]),
        ("fw.transfer", &["T0857", "T1693.001"]),
        ("siprotec.dos", &["T0814", "T0816"]),
        ("corr.unexplained_command", &["T0831", "T0855", "T1692.001"]),
    ];
    let table: Vec<(&str, &[&str])> = RULES.iter().map(|r| (r.id, r.techniques)).collect();
    assert_eq!(table, expected);
}
