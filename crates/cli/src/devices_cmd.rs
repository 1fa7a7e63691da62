//! `icsrange devices`: a grid and its field devices on real sockets, in real time.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gridsim::sim::Sim;
use netio::capture::Capture;
use netio::{LiveRange, Shared};

use crate::sim::{load_dynamics, parse_duration};
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
    #[arg(long, default_value = "127.10.0.0")]
    base: Ipv4Addr,
    /// Write every frame in and out of every device to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Print one line per device and exit.
    #[arg(long)]
    list: bool,
    /// Stop after this long (default: run until interrupted).
    #[arg(long = "for", value_parser = parse_duration)]
    duration: Option<gridsim::sim::SimTime>,
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
    #[arg(long, value_parser = parse_duration, default_value = "100ms")]
    step: gridsim::sim::SimTime,
}

pub fn run(args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    let (sim, label) = match (&args.grid, &args.exercise) {
        (Some(grid), _) => {
            let case = load_case(grid)?;
            let dynamics = load_dynamics(grid, None, &case)?;
            let sim = Sim::new(case, dynamics).map_err(|e| BadInput(format!("{}: {e}", grid.display())))?;
            (sim, grid.display().to_string())
        }
        (None, Some(exercise)) => crate::run_cmd::exercise_sim(exercise)?,
        (None, None) => return Err(BadInput("--grid or --exercise".into()).into()),
    };
    let devices = devices::default_devices(&sim, args.base).map_err(|e| BadInput(format!("{label}: {e}")))?;
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ICSRANGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let capture = match &args.pcap {
        Some(p) => Some(Arc::new(
            Capture::create(p).map_err(|e| BadInput(format!("{}: cannot create: {e}", p.display())))?,
        )),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let step = Duration::from_micros(args.step.0.max(1_000));
    let duration = args.duration.map(|d| Duration::from_micros(d.0));
    let result = runtime.block_on(async {
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            .saturating_sub(946_684_800_000);
        let mut devices = devices;
        for rtu in &mut devices.rtus {
            rtu.start_ms_since_2000 = epoch_ms;
        }
        for r in &mut devices.reclosers {
            r.start_ms_since_2000 = epoch_ms;
        }
        for (addrs, local) in [(&args.local, true), (&args.bricked, false)] {
            for addr in addrs {
                let change = |state: &mut devices::DeviceState| {
                    if local {
                        state.local = true;
                    } else {
                        state.firmware_ok = false;
                    }
                };
                devices
                    .set_state(*addr, change)
                    .ok_or_else(|| BadInput(format!("no device at {addr} (see --list)")))?;
            }
        }
        let firewall = devices::Firewall {
            rules: args
                .deny
                .iter()
                .map(|&source| devices::Rule { source, destination: None, allow: false })
                .collect(),
            default_allow: true,
        };
        use devices::DeviceRef;
        let mut services: Vec<(Ipv4Addr, DeviceRef, String)> = Vec::new();
        services.extend(
            devices.plcs.iter().enumerate().map(|(i, d)| (d.addr, DeviceRef::Plc(i), d.name.clone())),
        );
        services.extend(
            devices.relays.iter().enumerate().map(|(i, d)| (d.addr, DeviceRef::Relay(i), d.name.clone())),
        );
        services.extend(
            devices.upss.iter().enumerate().map(|(i, d)| (d.addr, DeviceRef::Ups(i), d.name.clone())),
        );
        services.extend(
            devices.rtus.iter().enumerate().map(|(i, d)| (d.addr, DeviceRef::Rtu(i), d.name.clone())),
        );
        services.extend(
            devices
                .reclosers
                .iter()
                .enumerate()
                .map(|(i, d)| (d.addr, DeviceRef::Recloser(i), d.name.clone())),
        );
        let (total, gateways) = (devices.len(), devices.gateways.len());
        let range = Shared::new(LiveRange { sim, devices, firewall });
        let listen = |ip: Ipv4Addr, port: u16| async move {
            netio::bind(ip, port).await.map_err(|e| BadInput(format!("{ip}:{port}: cannot listen: {e}")))
        };
        for (ip, which, name) in services {
            let (protocol, port) = match which {
                DeviceRef::Rtu(_) => ("iec104", 2404),
                DeviceRef::Recloser(_) => ("dnp3", 20000),
                _ => ("modbus", 502),
            };
            let l = listen(ip, port).await?;
            out!("listening {} {protocol} {name}", l.local_addr()?);
            let (range, capture) = (range.clone(), capture.clone());
            match which {
                DeviceRef::Rtu(i) => tokio::spawn(netio::serve_iec104(range, i, l, capture)),
                DeviceRef::Recloser(i) => tokio::spawn(netio::serve_dnp3(range, i, l, capture)),
                _ => tokio::spawn(netio::serve_modbus(range, which, l, capture)),
            };
        }
        tokio::spawn(netio::run_clock(range.clone(), step));
        out!("ready {total} devices ({gateways} serial gateways without a network service)");
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                // SIGINT or SIGTERM: either way, stop cleanly so the capture is complete.
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
        }
        let t = range.lock().sim.time();
        anyhow::Ok(t)
    });
    // Whatever happened, keep what was captured.
    if let Some(c) = &capture {
        c.finish()?;
        out!("captured {} packets", c.packets());
    }
    let t = result?;
    out!("stopped at t = {t}");
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(ExitCode::SUCCESS)
}
