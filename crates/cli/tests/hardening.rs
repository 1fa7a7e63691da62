//! The range tried as an attacker would before it goes online: each test is one attack that
//! worked on an earlier `main` (an exercise reading files outside its folder, nesting that
//! overflowed the stack, a run's output written through symlinks, an unchecked address
//! block, validation quadratic in the steps, a trickling client holding a device, one
//! device's connections starving the process, a flood of log lines), now refused with a
//! clear message while legitimate clients are still served.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{closed_by_peer, repo};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_icsrange")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("icsrange-hardening-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `icsrange ARGS`, killed if it takes longer than `limit` (a hang is a failure, not a wait).
fn icsrange(args: &[&str], limit: Duration) -> Output {
    let out = Command::new("timeout")
        .arg("--signal=KILL")
        .arg(format!("{}s", limit.as_secs()))
        .arg(exe())
        .args(args)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(137), "icsrange {args:?} did not finish within {limit:?}");
    out
}

/// A small exercise on `grid` (line 5 holds the grid's name, from column 7).
fn exercise_on(grid: &str) -> String {
    format!(
        "exercise: 1
id: confined
title: Confined
sources: [\"icsrange tests\"]
grid: {grid}
duration: 10m
zones: [{{id: net}}, {{id: control}}]
hosts:
  - {{id: attacker, zone: net, addr: 250.66}}
  - {{id: scada, zone: control, addr: 230.10}}
scada: {{host: scada, stations: all}}
allowlist: [scada]
attack:
  - {{id: rogue, at: 9m, iec104_command: {{from: attacker, targets: [{{station: 4, ioa: 2001}}], value: open, select: false}}}}
"
    )
}

/// Finding 1: a grid named outside the exercise's folder (`..`, an absolute path, a symlink
/// out, a FIFO, /dev/zero) is refused at the `grid:` line, quickly, and nothing of the file
/// reaches the message; a grid in the folder (a subfolder too) still loads.
#[test]
fn an_exercise_reads_files_only_from_its_own_folder() {
    let dir = scratch("files");
    let ex = dir.join("ex");
    std::fs::create_dir_all(ex.join("grids")).unwrap();
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    std::fs::write(dir.join("secret/secret.txt"), "function mpc = s\nmpc.baseMVA = TOPSECRET_4242;\n")
        .unwrap();
    std::fs::copy(repo("cases/case9.m"), ex.join("grids/nine.m")).unwrap();
    std::os::unix::fs::symlink(dir.join("secret/secret.txt"), ex.join("link.m")).unwrap();
    std::os::unix::fs::symlink(dir.join("secret"), ex.join("out")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", ex.join("zero.m")).unwrap();
    assert!(Command::new("mkfifo").arg(ex.join("fifo.m")).status().unwrap().success());

    let file = ex.join("ex.yaml");
    let file_arg = file.to_str().unwrap();
    std::fs::write(&file, exercise_on("grids/nine.m")).unwrap();
    let ok = icsrange(&["validate", file_arg], Duration::from_secs(60));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    for (grid, why) in [
        ("../secret/secret.txt", "relative path inside the exercise's folder"),
        ("/etc/passwd", "relative path inside the exercise's folder"),
        ("grids/../../secret/secret.txt", "relative path inside the exercise's folder"),
        ("link.m", "symbolic link"),
        ("out/secret.txt", "symbolic link"),
        ("zero.m", "symbolic link"),
        ("fifo.m", "not a regular file"),
    ] {
        std::fs::write(&file, exercise_on(grid)).unwrap();
        let out = icsrange(&["validate", file_arg], Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{grid}: {stderr}");
        assert!(stderr.contains(&format!("{file_arg}:5:7: ")), "{grid}: at the grid line: {stderr}");
        assert!(stderr.contains(why), "{grid}: {stderr}");
        assert!(!stderr.contains("TOPSECRET"), "{grid}: the file's content leaked: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 5 (and a byte-order mark): nesting 25,000 deep is refused with its place, exit 2
/// (it overflowed the stack, exit 134); a file saved with a BOM reads as without.
#[test]
fn deep_nesting_is_refused_and_a_byte_order_mark_is_not_a_key() {
    let dir = scratch("deep");
    let deep = dir.join("deep.yaml");
    std::fs::write(&deep, format!("exercise: 1\nattack:\n  {}x\n", "- ".repeat(25_000))).unwrap();
    let out = icsrange(&["validate", deep.to_str().unwrap()], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(":3:") && stderr.contains("nested more than 64 deep"), "{stderr}");

    let bom = dir.join("bom.yaml");
    let text = std::fs::read_to_string(repo("exercises/ukraine2015.yaml")).unwrap();
    std::fs::write(&bom, format!("\u{feff}{text}")).unwrap();
    let out = icsrange(&["validate", bom.to_str().unwrap()], Duration::from_secs(60));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 8: validation is not quadratic in the attack steps (20,000 steps took 8.6 s and
/// 200,000 more than two minutes): 50,000 chained steps validate well within the limit
/// (quadratic, they took minutes).
#[test]
fn many_attack_steps_validate_in_linear_time() {
    let dir = scratch("steps");
    let mut text = exercise_on("case9").replace("duration: 10m", "duration: 100h");
    for i in 0..50_000 {
        let when = if i == 0 { "at: 1m".to_string() } else { format!("after: s{}", i - 1) };
        text.push_str(&format!("  - {{id: s{i}, {when}, wipe: {{host: attacker}}}}\n"));
    }
    let file = dir.join("steps.yaml");
    std::fs::write(&file, text).unwrap();
    let out = icsrange(&["validate", file.to_str().unwrap()], Duration::from_secs(120));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("50001 attack steps"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 6: `run --out` never writes through a symlink planted at an output's name (it
/// overwrote the target, and created one for the capture); each file is replaced whole.
#[test]
fn run_output_replaces_planted_symlinks_instead_of_writing_through_them() {
    let dir = scratch("out");
    let (out, elsewhere) = (dir.join("run"), dir.join("elsewhere"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("keep.txt"), "KEEP").unwrap();
    std::os::unix::fs::symlink(elsewhere.join("keep.txt"), out.join("score.json")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("new.pcap"), out.join("capture.pcap")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("evidence")).unwrap();
    let run = icsrange(
        &["run", "ukraine2015", "--wire", "none", "--out", out.to_str().unwrap()],
        Duration::from_secs(300),
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(std::fs::read_to_string(elsewhere.join("keep.txt")).unwrap(), "KEEP");
    assert!(!elsewhere.join("new.pcap").exists(), "no file created through the link");
    let beyond: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().collect();
    assert_eq!(beyond.len(), 1, "nothing written through the evidence link: {beyond:?}");
    assert!(std::fs::symlink_metadata(out.join("evidence")).unwrap().is_dir());
    assert!(std::fs::symlink_metadata(out.join("evidence/capture.pcap")).unwrap().is_file());
    for f in ["journal.jsonl", "capture.pcap", "alerts.jsonl", "score.json"] {
        let meta = std::fs::symlink_metadata(out.join(f)).unwrap();
        assert!(meta.is_file(), "{f} is a regular file");
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 5, "no temporary file left (the four files and evidence/): {names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 10: an address block off loopback, or one that wraps (255.255.255.255 put a
/// device on 0.0.0.0, every interface), is refused before anything listens.
#[test]
fn an_address_block_off_loopback_or_not_a_slash_16_is_refused() {
    for base in ["255.255.255.255", "10.0.0.0", "127.10.0.1", "0.0.0.0"] {
        let out =
            icsrange(&["run", "ukraine2015", "--wire", "none", "--base", base], Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{base}: {stderr}");
        assert!(stderr.contains("127.N.0.0"), "{base}: {stderr}");
    }
}

/// A connection from `source` (any address on loopback) to `target`.
fn connect_from(source: Ipv4Addr, target: SocketAddrV4) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddrV4::new(source, 0).into()).unwrap();
    s.connect(&target.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// A Modbus read of one holding register: answered (a response to this transaction, the
/// registers or an exception: either way the device served it).
fn modbus_read_answered(s: &mut TcpStream, transaction: u16) -> bool {
    let t = transaction.to_be_bytes();
    if s.write_all(&[t[0], t[1], 0, 0, 0, 6, 1, 3, 0, 0, 0, 1]).is_err() {
        return false;
    }
    // MBAP header, function, then the exception code or the byte count and the bytes.
    let mut head = [0u8; 9];
    if s.read_exact(&mut head).is_err() || head[..2] != t || head[7] & 0x7F != 3 {
        return false;
    }
    let mut rest = vec![0u8; if head[7] & 0x80 != 0 { 0 } else { head[8] as usize }];
    s.read_exact(&mut rest).is_ok()
}

/// A running `icsrange live`; killed if the test fails before `stop`.
struct Live(Option<Child>);

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `icsrange live FILE --speed 10x` at `base`, stderr to `log`; returns once it is ready.
fn live(file: &Path, base: &str, out: &Path, log: &Path, hard_nofile: Option<u32>) -> Live {
    let mut cmd = match hard_nofile {
        // The shell lowers the open-file limit (soft and hard) before it becomes icsrange.
        Some(n) => {
            let mut c = Command::new("bash");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), exe()]);
            c
        }
        None => Command::new(exe()),
    };
    cmd.args([
        "live",
        file.to_str().unwrap(),
        "--speed",
        "10x",
        "--base",
        base,
        "--out",
        out.to_str().unwrap(),
    ]);
    cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("icsrange live ended before it was ready").unwrap();
        if line == "ready" {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Live(Some(child))
}

/// Live connections the run in `out` journaled as opened whose entry contains `field`.
fn live_opens(out: &Path, field: &str) -> usize {
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    journal.lines().filter(|l| l.contains("\"event\":\"open\"") && l.contains(field)).count()
}

fn stop(mut live: Live) {
    let mut child = live.0.take().unwrap();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

/// Finding 2: slowloris on Modbus. One source opens 40 connections to a relay and sends one
/// byte on each; another trickles a request a byte at a time. The first source holds at
/// most 16 (the rest are closed at once, and never reach the range), the trickler is closed
/// before its frame is whole (a frame begun must be whole within 10 s of simulated time),
/// and a legitimate client is served throughout.
#[test]
fn a_trickling_source_cannot_hold_a_device() {
    let dir = scratch("slowloris");
    let file = dir.join("ex.yaml");
    std::fs::write(&file, exercise_on("case9")).unwrap();
    let (out, log) = (dir.join("run"), dir.join("live.log"));
    let child = live(&file, "127.46.0.0", &out, &log, None);
    let relay = SocketAddrV4::new(Ipv4Addr::new(127, 46, 3, 1), 502);
    let attacker = Ipv4Addr::new(127, 99, 0, 1);

    let mut held: Vec<TcpStream> = (0..40).map(|_| connect_from(attacker, relay)).collect();
    for s in &mut held {
        let _ = s.write_all(&[0x00]);
    }
    let mut good = connect_from(Ipv4Addr::new(127, 0, 0, 1), relay);
    assert!(modbus_read_answered(&mut good, 1), "served while the attacker holds the relay");

    let mut trickler = connect_from(Ipv4Addr::new(127, 99, 0, 2), relay);
    let request = [0u8, 7, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1];
    let started = Instant::now();
    let mut sent = 0;
    for b in request {
        if trickler.write_all(&[b]).is_err() {
            break;
        }
        sent += 1;
        // Two seconds of simulated time per byte at 10x.
        trickler.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut buf = [0u8; 16];
        match trickler.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            _ => {}
        }
    }
    assert!(sent < request.len(), "the trickler finished its frame ({:?})", started.elapsed());
    // Every one of the attacker's connections ends: refused at once, or closed by the device
    // when its frame is not whole in time.
    for s in &mut held {
        assert!(closed_by_peer(s));
    }
    assert!(modbus_read_answered(&mut good, 2), "still served");
    drop(good);
    stop(child);

    let opened = live_opens(&out, "\"client\":\"127.99.0.1:");
    assert_eq!(opened, 16, "connections of one source to one device that reached the range");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("is still not whole"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Findings 3 and 9: with 256 file handles, 300 connections to one relay from 30 sources
/// (10 each, under the per-source limit) stopped every device, and each refusal logged a
/// line. Now one device takes at most an eighth of the handles: the rest are refused, other
/// devices (Modbus and IEC 104) are still served, and the refusals are a few lines of log.
#[test]
fn one_devices_connections_cannot_starve_the_others() {
    let dir = scratch("handles");
    let file = dir.join("ex.yaml");
    std::fs::write(&file, exercise_on("case9")).unwrap();
    let (out, log) = (dir.join("run"), dir.join("live.log"));
    let child = live(&file, "127.47.0.0", &out, &log, Some(256));
    let relay = SocketAddrV4::new(Ipv4Addr::new(127, 47, 3, 1), 502);
    let mut flood = Vec::new();
    for k in 0..300u32 {
        let source = Ipv4Addr::new(127, 98, 0, 1 + (k / 10) as u8);
        flood.push(connect_from(source, relay));
    }
    // Another relay over Modbus, and an RTU over IEC 104 (STARTDT act, con).
    let mut other =
        connect_from(Ipv4Addr::new(127, 0, 0, 1), SocketAddrV4::new(Ipv4Addr::new(127, 47, 3, 2), 502));
    assert!(modbus_read_answered(&mut other, 1), "another relay is served during the flood");
    let mut rtu =
        connect_from(Ipv4Addr::new(127, 0, 0, 1), SocketAddrV4::new(Ipv4Addr::new(127, 47, 1, 4), 2404));
    rtu.write_all(&[0x68, 4, 7, 0, 0, 0]).unwrap();
    let mut con = [0u8; 6];
    rtu.read_exact(&mut con).unwrap();
    assert_eq!(con, [0x68, 4, 0x0B, 0, 0, 0], "an RTU is served during the flood");
    drop((flood, other, rtu));
    stop(child);

    let to_relay = live_opens(&out, "\"server\":\"127.47.3.1:502\"");
    assert_eq!(to_relay, 256 / 8, "one device's share of the handles");
    let log = std::fs::read_to_string(&log).unwrap();
    let refused = log.lines().filter(|l| l.contains("connection refused")).count();
    assert!((1..=3).contains(&refused), "{refused} lines for 268 refusals:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
