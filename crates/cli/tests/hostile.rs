//! Hostile peers against the device servers, on real sockets: garbage, oversized lengths,
//! half-open and slow connections, and 10,000 connects. Only the offending connection is
//! closed, with a logged reason; a well-behaved client keeps being served throughout.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::Devices;

const PLC: &str = "127.40.0.2:502";

/// A Modbus read of input register 2 (frequency); returns its value.
fn read_frequency(s: &mut TcpStream, transaction: u16) -> u16 {
    let t = transaction.to_be_bytes();
    s.write_all(&[t[0], t[1], 0, 0, 0, 6, 1, 4, 0, 2, 0, 1]).unwrap();
    let mut resp = [0u8; 11];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(&resp[..2], &t, "transaction id echoed");
    assert_eq!(resp[7], 4, "function");
    u16::from_be_bytes([resp[9], resp[10]])
}

/// Sends `bytes` to `target` and expects the server to close the connection.
fn closed_after(target: &str, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(target).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    common::closed_by_peer(&mut s)
}

#[test]
fn hostile_peers_lose_only_their_own_connection() {
    let dir = std::env::temp_dir().join(format!("icsrange-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("devices.log");
    let devices = Devices::start("cases/case9.m", "127.40.0.0", None, Some(&log));

    let mut good = TcpStream::connect(PLC).unwrap();
    good.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_frequency(&mut good, 1), 5000);

    // Garbage: not Modbus at all (protocol id 0x4854 from "GET / HTTP").
    assert!(closed_after(PLC, b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n"));
    // An MBAP length of 65535.
    assert!(closed_after(PLC, &[0, 1, 0, 0, 0xFF, 0xFF, 1, 3, 0, 0, 0, 1]));
    // A length of 0.
    assert!(closed_after(PLC, &[0, 1, 0, 0, 0, 0, 1]));
    assert_eq!(read_frequency(&mut good, 2), 5000);

    // Half-open: a peer that connects, sends half a header and stops; and one that closes its
    // sending side mid-request.
    let mut half = TcpStream::connect(PLC).unwrap();
    half.write_all(&[0, 1, 0]).unwrap();
    let mut shut = TcpStream::connect(PLC).unwrap();
    shut.write_all(&[0, 1, 0, 0, 0, 6, 1]).unwrap();
    shut.shutdown(Shutdown::Write).unwrap();
    // Slow: a request one byte at a time is still answered.
    let mut slow = TcpStream::connect(PLC).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for b in [0u8, 9, 0, 0, 0, 6, 1, 4, 0, 2, 0, 1] {
        slow.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut resp = [0u8; 11];
    slow.read_exact(&mut resp).unwrap();
    assert_eq!(u16::from_be_bytes([resp[9], resp[10]]), 5000);
    assert_eq!(read_frequency(&mut good, 3), 5000);

    // 10,000 connects: half of them left open at once (in batches of 250), the rest closed at
    // once. Clients reset rather than close, so their ports do not sit in TIME_WAIT (loopback
    // reuses those, and each reuse costs a one-second SYN retransmission).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut open = Vec::new();
        for i in 0..10_000 {
            let s = tokio::net::TcpStream::connect(PLC).await.unwrap();
            s.set_zero_linger().unwrap();
            if i % 2 == 0 {
                open.push(s);
            }
            if open.len() == 250 {
                open.clear();
            }
        }
    });
    assert_eq!(read_frequency(&mut good, 4), 5000);

    // IEC 104 (the RTU of bus 4): garbage, an impossible length, a bad control field, an
    // I-frame out of sequence; each loses only its own connection.
    let rtu = "127.40.1.4:2404";
    assert!(closed_after(rtu, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
    assert!(closed_after(rtu, &[0x68, 0xFF, 0, 0, 0, 0]));
    assert!(closed_after(rtu, &[0x68, 4, 0x17, 0, 0, 0]));
    assert!(closed_after(
        rtu,
        &[0x68, 4, 7, 0, 0, 0, 0x68, 0x0E, 2, 0, 0, 0, 100, 1, 6, 0, 4, 0, 0, 0, 0, 20]
    ));
    let mut master = TcpStream::connect(rtu).unwrap();
    master.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    master.write_all(&[0x68, 4, 7, 0, 0, 0]).unwrap();
    let mut con = [0u8; 6];
    master.read_exact(&mut con).unwrap();
    assert_eq!(con, [0x68, 4, 0x0B, 0, 0, 0], "STARTDT con while others misbehave");
    assert_eq!(read_frequency(&mut good, 5), 5000);

    // DNP3 (the recloser of bus 5): garbage closes the connection; a frame with a bad CRC is
    // dropped but the connection stays, and a link status request is still answered.
    let recloser = "127.40.2.1:20000";
    let mut junk = TcpStream::connect(recloser).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    junk.write_all(b"\x00\x01\x02\x03junk").unwrap();
    let mut buf = [0u8; 64];
    assert!(matches!(junk.read(&mut buf), Ok(0) | Err(_)), "closed");
    let mut dnp = TcpStream::connect(recloser).unwrap();
    dnp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // REQUEST_LINK_STATUS to 10 from 1 with a corrupted header CRC, then a good one.
    dnp.write_all(&[0x05, 0x64, 0x05, 0xC9, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x00]).unwrap();
    let good_crc = proto_crc(&[0x05, 0x64, 0x05, 0xC9, 0x0A, 0x00, 0x01, 0x00]);
    let mut frame = vec![0x05, 0x64, 0x05, 0xC9, 0x0A, 0x00, 0x01, 0x00];
    frame.extend_from_slice(&good_crc.to_le_bytes());
    dnp.write_all(&frame).unwrap();
    let mut status = [0u8; 10];
    dnp.read_exact(&mut status).unwrap();
    assert_eq!(status[3], 0x0B, "LINK_STATUS (secondary, function 11)");
    assert_eq!(read_frequency(&mut good, 6), 5000);

    // Modbus listen-only (FC 8/04) silences a relay for every client: the log says so.
    let mut quiet = TcpStream::connect("127.40.3.2:502").unwrap();
    quiet.write_all(&[0, 1, 0, 0, 0, 6, 1, 8, 0, 4, 0, 0]).unwrap();
    quiet.write_all(&[0, 2, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1]).unwrap();
    quiet.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    assert!(quiet.read(&mut buf).is_err(), "a device in listen-only mode answers nothing");
    drop((half, shut, master, dnp, quiet));
    devices.stop();

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("bad MBAP header: protocol identifier"), "{log}");
    assert!(log.contains("bad MBAP header: MBAP length 65535"), "{log}");
    assert!(log.contains("bad MBAP header: MBAP length 0"), "{log}");
    assert!(log.contains("bad APCI: start octet 0x16"), "{log}");
    assert!(log.contains("bad APCI: length 255"), "{log}");
    assert!(log.contains("bad APCI: U-frame with control octet 0x17"), "{log}");
    assert!(log.contains("session: I-frame N(S) = 1, expected 0"), "{log}");
    assert!(log.contains("bad link frame: start octets 0x00 0x01"), "{log}");
    assert!(log.contains("link frame discarded"), "{log}");
    assert!(log.contains("listen-only mode"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// CRC-16/DNP (reflected 0x3D65, complemented), written out here rather than taken from the
/// crate under test.
fn proto_crc(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA6BC } else { crc >> 1 };
        }
    }
    !crc
}

/// The range firewall: a source it denies is cut off at accept, on every protocol, and logged;
/// the SCADA master's address keeps being served.
#[test]
fn the_range_firewall_refuses_denied_sources() {
    let dir = std::env::temp_dir().join(format!("icsrange-firewall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("devices.log");
    let devices =
        Devices::start_with("cases/case9.m", "127.41.0.0", None, Some(&log), &["--deny", "127.0.0.66"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let from = |src: &str, to: &str| {
            let (src, to) = (src.parse().unwrap(), to.parse().unwrap());
            async move {
                let s = tokio::net::TcpSocket::new_v4().unwrap();
                s.bind(std::net::SocketAddr::new(src, 0)).unwrap();
                s.connect(to).await.unwrap()
            }
        };
        // What each protocol answers when allowed: a Modbus read, STARTDT act, a DNP3 link
        // status request (to outstation 10 from 1). Denied, each gets nothing but a close.
        let dnp3_status = {
            let mut f = vec![0x05, 0x64, 0x05, 0xC9, 0x0A, 0x00, 0x01, 0x00];
            let c = proto_crc(&f);
            f.extend_from_slice(&c.to_le_bytes());
            f
        };
        let probes: [(&str, Vec<u8>); 3] = [
            ("127.41.0.2:502", vec![0, 1, 0, 0, 0, 6, 1, 4, 0, 2, 0, 1]),
            ("127.41.1.4:2404", vec![0x68, 4, 7, 0, 0, 0]),
            ("127.41.2.1:20000", dnp3_status),
        ];
        for (target, probe) in &probes {
            let mut allowed = from("127.0.0.10", target).await;
            allowed.write_all(probe).await.unwrap();
            let mut buf = [0u8; 16];
            let n =
                tokio::time::timeout(Duration::from_secs(5), allowed.read(&mut buf)).await.unwrap().unwrap();
            assert!(n > 0, "{target}: an allowed source is answered");
            let mut attacker = from("127.0.0.66", target).await;
            let _ = attacker.write_all(probe).await;
            let n = tokio::time::timeout(Duration::from_secs(5), attacker.read(&mut buf)).await.unwrap();
            assert!(matches!(n, Ok(0) | Err(_)), "{target}: the denied source was served");
        }
        let mut scada = from("127.0.0.10", "127.41.0.2:502").await;
        scada.write_all(&[0, 1, 0, 0, 0, 6, 1, 4, 0, 2, 0, 1]).await.unwrap();
        let mut resp = [0u8; 11];
        scada.read_exact(&mut resp).await.unwrap();
        assert_eq!(u16::from_be_bytes([resp[9], resp[10]]), 5000);
    });
    devices.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log.matches("blocked by the range firewall").count(), 3, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Device state: a bricked PLC answers nothing; a PLC, an RTU and a recloser at LOCAL report
/// but refuse remote operations (Modbus exception 04, IEC 104 negative ActCon, DNP3 CROB
/// status LOCAL with IIN1.5), and the grid does not change.
#[test]
fn bricked_devices_are_dark_and_local_ones_refuse_operations() {
    let devices = Devices::start_with(
        "cases/case9.m",
        "127.42.0.0",
        None,
        None,
        &[
            "--bricked",
            "127.42.0.3",
            "--local",
            "127.42.0.2",
            "--local",
            "127.42.1.4",
            "--local",
            "127.42.2.1",
        ],
    );
    // Bricked: connections are closed at once.
    let mut dark = TcpStream::connect("127.42.0.3:502").unwrap();
    dark.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = dark.write_all(&[0, 1, 0, 0, 0, 6, 1, 4, 0, 2, 0, 1]);
    let mut buf = [0u8; 32];
    assert!(matches!(dark.read(&mut buf), Ok(0) | Err(_)), "a bricked PLC answered");

    // Modbus at LOCAL: reads work, the breaker write is refused with 04.
    let mut plc = TcpStream::connect("127.42.0.2:502").unwrap();
    plc.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_frequency(&mut plc, 1), 5000);
    plc.write_all(&[0, 2, 0, 0, 0, 6, 1, 5, 0, 0, 0, 0]).unwrap();
    let mut resp = [0u8; 9];
    plc.read_exact(&mut resp).unwrap();
    assert_eq!(&resp[7..9], [0x85, 0x04], "server device failure");
    let mut resp = [0u8; 10];
    plc.write_all(&[0, 3, 0, 0, 0, 6, 1, 2, 0, 0, 0, 1]).unwrap();
    plc.read_exact(&mut resp).unwrap();
    assert_eq!(resp[9] & 1, 1, "the breaker is still closed");

    // IEC 104 at LOCAL: STARTDT, then a direct C_DC_NA_1 OFF on IOA 2001: negative ActCon.
    let mut rtu = TcpStream::connect("127.42.1.4:2404").unwrap();
    rtu.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    rtu.write_all(&[0x68, 4, 7, 0, 0, 0]).unwrap();
    let mut con = [0u8; 6];
    rtu.read_exact(&mut con).unwrap();
    // First the end of initialisation (M_EI_NA_1, 16 octets), sent once data transfer starts.
    let mut ei = [0u8; 16];
    rtu.read_exact(&mut ei).unwrap();
    assert_eq!(ei[6], 70, "M_EI_NA_1");
    rtu.write_all(&[0x68, 0x0E, 0, 0, 0, 0, 46, 1, 6, 0, 4, 0, 0xD1, 0x07, 0, 0x01]).unwrap();
    let mut answer = [0u8; 16];
    rtu.read_exact(&mut answer).unwrap();
    assert_eq!(answer[6], 46);
    assert_eq!(answer[8], 0x47, "ActCon (7) with P/N set");

    // DNP3 at LOCAL: DIRECT_OPERATE LATCH_OFF on index 0 → status 7 and IIN1.5.
    let mut dnp = TcpStream::connect("127.42.2.1:20000").unwrap();
    dnp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let app = [0xC0u8, 0xC1, 0x05, 12, 1, 0x28, 1, 0, 0, 0, 0x04, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut frame = vec![0x05, 0x64, (5 + app.len()) as u8, 0xC4, 0x0A, 0x00, 0x01, 0x00];
    let c = proto_crc(&frame);
    frame.extend_from_slice(&c.to_le_bytes());
    for block in app.chunks(16) {
        frame.extend_from_slice(block);
        frame.extend_from_slice(&proto_crc(block).to_le_bytes());
    }
    dnp.write_all(&frame).unwrap();
    let mut reply = [0u8; 64];
    let n = dnp.read(&mut reply).unwrap();
    // Link header (10), then one block: transport, AC, FC, IIN1, IIN2, header...
    let data: Vec<u8> = reply[10..n].chunks(18).flat_map(|c| c[..c.len() - 2].to_vec()).collect();
    assert_eq!(data[2], 0x81, "a response");
    assert_eq!(data[3] & 0x20, 0x20, "IIN1.5 LOCAL_CONTROL");
    assert_eq!(*data.last().unwrap(), 7, "CROB status LOCAL");
    devices.stop();
}

/// Whether the device at `target` still accepts and serves a connection: an IEC 104 TESTFR
/// act answered by its con, or a Modbus read answered.
fn answers(target: &str, request: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect(target) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if s.write_all(request).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0)
}

/// Power and network paths on real sockets (ukraine2015's first substation): switching its
/// UPS off over Modbus/TCP darkens the RTUs it feeds and, through its serial gateway, the
/// feeder reclosers; other substations carry on; switching it on brings them back. A
/// bricked gateway darkens only what is behind it.
#[test]
fn a_ups_switched_off_over_modbus_darkens_its_substation() {
    const TESTFR: [u8; 6] = [0x68, 4, 0x43, 0, 0, 0];
    // Link-layer REQUEST_LINK_STATUS (FC 9) to outstation 10 from master 1.
    let mut link = vec![0x05, 0x64, 0x05, 0xC9, 0x0A, 0x00, 0x01, 0x00];
    let c = proto_crc(&link);
    link.extend_from_slice(&c.to_le_bytes());
    // From `icsrange devices --list`: the first UPS feeds 127.44.4.1 (the gateway) and the
    // RTUs 127.44.1.11-13; reclosers 127.44.2.1-3 are behind that gateway, 127.44.2.4 behind
    // the next one.
    let devices =
        Devices::start_with("cases/ukraine2015.m", "127.44.0.0", None, None, &["--bricked", "127.44.4.3"]);
    let (rtu, recloser, other) = ("127.44.1.11:2404", "127.44.2.1:20000", "127.44.2.4:20000");
    assert!(answers(rtu, &TESTFR) && answers(recloser, &link) && answers(other, &link));
    assert!(!answers("127.44.2.7:20000", &link), "behind the bricked third gateway");

    let mut ups = TcpStream::connect("127.44.5.1:502").unwrap();
    ups.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let off = [0, 1, 0, 0, 0, 6, 1, 5, 0, 0, 0, 0];
    ups.write_all(&off).unwrap();
    let mut echo = [0u8; 12];
    ups.read_exact(&mut echo).unwrap();
    assert_eq!(echo, off, "FC 05 echoed");
    assert!(!answers(rtu, &TESTFR), "the RTU lost power");
    assert!(!answers(recloser, &link), "the gateway lost power");
    assert!(answers(other, &link), "another substation");

    let on = [0, 2, 0, 0, 0, 6, 1, 5, 0, 0, 0xFF, 0];
    ups.write_all(&on).unwrap();
    ups.read_exact(&mut echo).unwrap();
    assert_eq!(echo, on);
    assert!(answers(rtu, &TESTFR) && answers(recloser, &link));
    devices.stop();
}
