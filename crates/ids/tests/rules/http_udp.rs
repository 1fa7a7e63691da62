//! Firmware uploads over HTTP to a gateway, and the SIPROTEC 4 denial of service over UDP.

use std::net::{Ipv4Addr, SocketAddrV4};

use ids::{RuleId, SIPROTEC_DOS, SIPROTEC_PORT};

use super::{ENGINEERING, GATEWAY, INTRUDER, RELAY, RTU, Wire, client, only, quiet};

/// An HTTP request head to port 80 of `to`.
fn http(w: &mut Wire, secs: u64, from: Ipv4Addr, to: Ipv4Addr, head: &str) -> u64 {
    w.tcp(secs, client(from), SocketAddrV4::new(to, 80), head.as_bytes())
}

const UPLOAD: &str = "POST /cgi-bin/upgrade.cgi HTTP/1.1\r\nHost: gateway\r\n\
    Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 65536\r\n\r\n\
    --x\r\nContent-Disposition: form-data; name=\"firmware\"; filename=\"fw.bin\"\r\n\r\n";

#[test]
pub(super) fn a_firmware_upload_to_a_gateway_from_an_unlisted_host_fires() {
    let mut w = Wire::new();
    let n = http(&mut w, 1, INTRUDER, GATEWAY, UPLOAD);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::FwTransfer);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, GATEWAY, vec![n]));
}

#[test]
pub(super) fn a_firmware_upload_from_the_engineering_station_or_a_get_is_quiet() {
    let mut w = Wire::new();
    http(&mut w, 1, ENGINEERING, GATEWAY, UPLOAD);
    // A page about firmware is no upload.
    http(&mut w, 2, INTRUDER, GATEWAY, "GET /firmware.html HTTP/1.1\r\nHost: gateway\r\n\r\n");
    // Not a gateway.
    http(&mut w, 3, INTRUDER, RTU, UPLOAD);
    quiet(&w.alerts());
}

#[test]
pub(super) fn the_cve_2015_5374_datagram_to_a_relay_fires() {
    let mut w = Wire::new();
    let n = w.udp(1, client(INTRUDER), SocketAddrV4::new(RELAY, SIPROTEC_PORT), &SIPROTEC_DOS);
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SiprotecDos);
    assert_eq!((a.src, a.dst, a.evidence.clone()), (INTRUDER, RELAY, vec![n]));
    assert!(a.message.contains("CVE-2015-5374"), "{}", a.message);
}

#[test]
fn any_datagram_to_port_50000_fires_unnamed() {
    let mut w = Wire::new();
    w.udp(1, client(INTRUDER), SocketAddrV4::new(RELAY, SIPROTEC_PORT), b"DIGSI?");
    let alerts = w.alerts();
    let a = only(&alerts, RuleId::SiprotecDos);
    assert!(a.message.starts_with("6-byte UDP datagram"), "{}", a.message);
}

#[test]
pub(super) fn the_same_datagram_to_another_port_is_quiet() {
    let mut w = Wire::new();
    w.udp(1, client(INTRUDER), SocketAddrV4::new(RELAY, SIPROTEC_PORT + 1), &SIPROTEC_DOS);
    w.udp(2, client(INTRUDER), SocketAddrV4::new(RELAY, 161), &SIPROTEC_DOS);
    quiet(&w.alerts());
}
