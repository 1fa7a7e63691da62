//! Shared by the integration tests that run `icsrange devices`.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_icsrange"));
        cmd.args(["devices", "--grid", repo(grid).to_str().unwrap(), "--base", base]);
        cmd.args(extra);
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
