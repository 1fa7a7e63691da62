//! Shared by the integration tests that run the binary and the protocol peers.
#![allow(dead_code, clippy::unwrap_used)]

pub mod platform;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// Reads until the peer closes; `true` if it did (EOF or reset) before the socket's read
/// timeout.
pub fn closed_by_peer(s: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// What a test needs from outside the project (the protocol peers, tshark, PostgreSQL) is
/// missing: with `ICSRANGE_REQUIRE_PEERS` set (`scripts/test`, CI) the test fails; otherwise
/// it says it skipped, on the real stderr (not captured: a bare `cargo test` shows it), and
/// the caller returns.
pub fn peer_missing(what: &str) {
    if std::env::var_os("ICSRANGE_REQUIRE_PEERS").is_some() {
        panic!("ICSRANGE_REQUIRE_PEERS is set but {what}");
    }
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr(), "skipped {name}: {what} (./scripts/test provides it)");
}

/// The Python with the protocol peers (`ICSRANGE_PEERS_PYTHON`, set by `scripts/test`).
/// Without it a test says so and passes, unless `ICSRANGE_REQUIRE_PEERS` is set (CI).
pub fn peer_python() -> Option<String> {
    match std::env::var("ICSRANGE_PEERS_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            peer_missing("ICSRANGE_PEERS_PYTHON is not (no protocol peers)");
            None
        }
    }
}

/// Whether tshark runs. Without it a test says so and passes, unless `ICSRANGE_REQUIRE_PEERS`
/// is set (CI).
pub fn tshark() -> bool {
    let ok = Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success());
    if !ok {
        peer_missing("tshark does not run");
    }
    ok
}

/// The peers' Python and tshark, for a conformance test that decodes its capture.
pub fn peers_and_tshark() -> Option<String> {
    let python = peer_python()?;
    tshark().then_some(python)
}

/// `icsrange devices` running until `stop` (SIGINT, then wait, so the capture is flushed).
pub struct Devices {
    child: Child,
}

impl Devices {
    /// Starts it and waits until it says every listener is bound. `log`: where its stderr goes.
    pub fn start(grid: &str, base: &str, pcap: Option<&Path>, log: Option<&Path>) -> Devices {
        Devices::start_with(grid, base, pcap, log, &[])
    }

    /// As `start`, with more arguments for `icsrange devices`.
    pub fn start_with(
        grid: &str,
        base: &str,
        pcap: Option<&Path>,
        log: Option<&Path>,
        extra: &[&str],
    ) -> Devices {
        let mut args = vec!["--grid".to_string(), repo(grid).to_str().unwrap().to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        Devices::start_args(base, pcap, log, &args)
    }

    /// An exercise's devices without its campaign (`icsrange devices --exercise FILE`).
    #[allow(dead_code)]
    pub fn start_exercise(exercise: &Path, base: &str, pcap: Option<&Path>, log: Option<&Path>) -> Devices {
        Devices::start_args(
            base,
            pcap,
            log,
            &["--exercise".to_string(), exercise.to_str().unwrap().to_string()],
        )
    }

    fn start_args(base: &str, pcap: Option<&Path>, log: Option<&Path>, source: &[String]) -> Devices {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_icsrange"));
        cmd.arg("devices").args(source).args(["--base", base]);
        if let Some(p) = pcap {
            cmd.arg("--pcap").arg(p);
        }
        cmd.stdout(Stdio::piped());
        match log {
            Some(l) => cmd.stderr(std::fs::File::create(l).unwrap()),
            None => cmd.stderr(Stdio::inherit()),
        };
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("icsrange devices exited before it was ready").unwrap();
            if line.starts_with("ready ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Devices { child }
    }

    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "icsrange devices ended with {status}");
    }
}
