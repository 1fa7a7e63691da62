//! `icsrange devices`: a grid and its field devices on real sockets, in real time: the range
//! runtime of `icsrange live` without a campaign.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use gridsim::sim::{Sim, SimTime};
use netio::capture::Capture;
use netio::driver::{self, Pace};
use range::{Range, RunConfig};

use crate::run_cmd::prepare;
use crate::sim::load_dynamics;
use crate::{BadInput, load_case};

#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    /// A MATPOWER case; its sidecar (`CASE.dyn.toml`) is used when present.
    #[arg(long, required_unless_present = "exercise", conflicts_with = "exercise")]
    grid: Option<PathBuf>,
    /// An exercise file (or a built-in exercise's name): its grid and devices.
    #[arg(long)]
    exercise: Option<String>,
    /// The first address of the range's block in 127.0.0.0/8; devices take the next ones.
    #[arg(long, default_value = "127.10.0.0", value_parser = crate::parse_base)]
    base: Ipv4Addr,
    /// Write every frame in and out of every device to this pcap file (a regular file: it
    /// is written beside it under a temporary name and takes its name when the range stops).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Print one line per device and exit.
    #[arg(long)]
    list: bool,
    /// Stop after this long (default: run until interrupted).
    #[arg(long = "for", value_parser = gridsim::sim::SimTime::parse_duration)]
    duration: Option<SimTime>,
    /// Refuse connections from these sources (`ADDR` or `ADDR/LEN`) to every device: the
    /// range firewall. Repeatable.
    #[arg(long = "deny", value_name = "PREFIX")]
    deny: Vec<devices::Prefix>,
    /// Put the device at this address in LOCAL (it reports, refuses remote operations).
    /// Repeatable.
    #[arg(long = "local", value_name = "ADDR")]
    local: Vec<Ipv4Addr>,
    /// Brick the device at this address (corrupt firmware: it answers nothing). Repeatable.
    #[arg(long = "bricked", value_name = "ADDR")]
    bricked: Vec<Ipv4Addr>,
    /// Real-time step of the grid.
    #[arg(long, value_parser = gridsim::sim::SimTime::parse_duration, default_value = "100ms")]
    step: SimTime,
}

pub fn run(args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    // The grid alone, or an exercise's grid and devices without its campaign: either way the
    // same runtime as `icsrange live`.
    let duration = args.duration.unwrap_or(SimTime(FOREVER_US));
    let start_ms_since_2000 = crate::live_cmd::wall_clock_ms_since_2000();
    let setup = |cfg: &mut RunConfig| {
        cfg.base = args.base;
        cfg.step = SimTime(args.step.0.max(1_000));
        cfg.campaign = false;
        cfg.start_ms_since_2000 = start_ms_since_2000;
        cfg.deny.clone_from(&args.deny);
        cfg.local.clone_from(&args.local);
        cfg.bricked.clone_from(&args.bricked);
    };
    let (range, label) = match (&args.grid, &args.exercise) {
        (Some(grid), _) => {
            let case = load_case(grid)?;
            let dynamics = load_dynamics(grid, None, &case)?;
            let sim = Sim::new(case, dynamics).map_err(|e| BadInput(format!("{}: {e}", grid.display())))?;
            let label = grid.display().to_string();
            let devices =
                devices::default_devices(&sim, args.base).map_err(|e| BadInput(format!("{label}: {e}")))?;
            let mut cfg = RunConfig::new(1, "none", Vec::new());
            setup(&mut cfg);
            let ex = exercise::Exercise::bare(&label, duration);
            let range = Range::new(ex, exercise::Resolved { sim, devices }, cfg)
                .map_err(|e| BadInput(format!("{label}: {e} (see --list)")))?;
            (range, label)
        }
        (None, Some(file)) => {
            let setup = |cfg: &mut RunConfig| setup(cfg);
            match prepare(file, "none", 1, setup)? {
                Ok(p) => (p.range, format!("{} (grid {})", p.name, p.ex.grid)),
                Err(code) => return Ok(code),
            }
        }
        (None, None) => return Err(BadInput("--grid or --exercise".into()).into()),
    };
    let devices = range.devices();
    if args.list {
        for d in devices.listing() {
            let (protocol, endpoint) = match d.protocol {
                Some(p) => (p.name(), format!("{}:{}", d.addr, p.port())),
                None => ("-", d.addr.to_string()),
            };
            out!(
                "{:<32} {:<8} {:<7} {:<21} {:<9} {}",
                d.name,
                d.kind.name(),
                protocol,
                endpoint,
                d.id,
                d.summary
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    crate::init_log();
    let capture = match &args.pcap {
        Some(p) => Some(Arc::new(
            Capture::create(p).map_err(|e| BadInput(format!("{}: cannot create: {e}", p.display())))?,
        )),
        None => None,
    };
    let (total, gateways) = (devices.len(), devices.gateways.len());
    let names: Vec<(std::net::SocketAddrV4, String)> = netio::live::services(&range)
        .into_iter()
        .map(|s| {
            let name =
                devices.listing().into_iter().find(|d| d.addr == *s.ip()).map_or(String::new(), |d| d.name);
            (s, name)
        })
        .collect();
    // One range, one thread (as `icsrange live`).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let (handle, mut task) = driver::spawn(range, Pace::Times(1.0), false, capture.clone());
        let services: Vec<_> = names.iter().map(|(s, _)| *s).collect();
        let listeners = netio::live::listen(&handle, &services)
            .await
            .map_err(|e| BadInput(format!("{label}: cannot listen: {e}")))?;
        for (l, (_, name)) in listeners.iter().zip(&names) {
            let protocol = [devices::Protocol::Modbus, devices::Protocol::Iec104, devices::Protocol::Dnp3]
                .into_iter()
                .find(|p| p.port() == l.device.port())
                .map_or("?", devices::Protocol::name);
            out!("listening {} {protocol} {name}", l.local);
        }
        // SIGINT or SIGTERM (or --for): either way, stop cleanly so the capture is complete.
        // Both are caught from before `ready`, so a client that signals on `ready` is heard.
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        out!("ready {total} devices ({gateways} serial gateways without a network service)");
        let range = tokio::select! {
            _ = int.recv() => handle.stop().await,
            _ = term.recv() => handle.stop().await,
            done = &mut task => done.ok().flatten(),
        };
        anyhow::Ok(range.map(|r| r.time()))
    });
    // Whatever happened, keep what was captured.
    if let Some(c) = &capture {
        c.finish()?;
        out!("captured {} packets", c.packets());
    }
    match result? {
        Some(t) => out!("stopped at t = {t}"),
        None => out!("stopped"),
    }
    Ok(ExitCode::SUCCESS)
}

/// "Until interrupted": about 31 years of simulated time.
const FOREVER_US: u64 = 1_000_000_000_000_000;
