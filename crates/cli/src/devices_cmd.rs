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
    #[arg(long)]
    grid: PathBuf,
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
    let case = load_case(&args.grid)?;
    let dynamics = load_dynamics(&args.grid, None, &case)?;
    let sim = Sim::new(case, dynamics).map_err(|e| BadInput(format!("{}: {e}", args.grid.display())))?;
    // The default address plan gives each kind a /24 (PLCs .0.x, RTUs .1.x, reclosers .2.x).
    let counts = [("generators", sim.case().gens.len()), ("buses", sim.case().buses.len())];
    let counts = counts.into_iter().chain([("loads", sim.dynamics().loads.len())]);
    for (what, n) in counts {
        if n > 255 {
            return Err(BadInput(format!(
                "{}: {n} {what}: the default device address plan holds 255 per kind (an exercise file can place more)",
                args.grid.display()
            ))
            .into());
        }
    }
    let devices::Devices { plcs, rtus, reclosers } = devices::default_devices(&sim, args.base);
    if args.list {
        for rtu in &rtus {
            out!(
                "{:<24} {:<6} {:<7} {}:{:<5} ca {:<5} {}",
                rtu.name,
                "rtu",
                "iec104",
                rtu.addr,
                2404,
                rtu.station.common_address,
                rtu.summary()
            );
        }
        for r in &reclosers {
            out!(
                "{:<24} {:<6} {:<7} {}:{:<5} addr {:<3} {}",
                r.name,
                "relay",
                "dnp3",
                r.addr,
                20000,
                r.outstation.address,
                r.summary()
            );
        }
        for plc in &plcs {
            out!(
                "{:<24} {:<6} {:<7} {}:{:<5} unit {:<3} {}",
                plc.name,
                plc.kind().name(),
                plc.protocol().name(),
                plc.addr,
                plc.protocol().port(),
                plc.unit,
                plc.summary()
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
        let mut rtus = rtus;
        for rtu in &mut rtus {
            rtu.epoch_ms = epoch_ms;
        }
        let mut reclosers = reclosers;
        for r in &mut reclosers {
            r.epoch_ms = epoch_ms + 946_684_800_000;
        }
        let dnp3_addrs: Vec<Ipv4Addr> = reclosers.iter().map(|r| r.addr).collect();
        let plc_addrs: Vec<Ipv4Addr> = plcs.iter().map(|p| p.addr).collect();
        let rtu_addrs: Vec<Ipv4Addr> = rtus.iter().map(|r| r.addr).collect();
        let firewall = devices::Firewall {
            rules: args
                .deny
                .iter()
                .map(|&source| devices::Rule { source, destination: None, allow: false })
                .collect(),
            default_allow: true,
        };
        let range = Shared::new(LiveRange { sim, plcs, rtus, reclosers, firewall });
        {
            let mut r = range.lock();
            for (addrs, local) in [(&args.local, true), (&args.bricked, false)] {
                for addr in addrs {
                    let state = r
                        .device_state_mut(*addr)
                        .ok_or_else(|| BadInput(format!("no device at {addr} (see --list)")))?;
                    if local {
                        state.local = true;
                    } else {
                        state.firmware_ok = false;
                    }
                }
            }
        }
        let listen = |ip: Ipv4Addr, port: u16| async move {
            netio::bind(ip, port).await.map_err(|e| BadInput(format!("{ip}:{port}: cannot listen: {e}")))
        };
        for (i, ip) in plc_addrs.iter().enumerate() {
            let l = listen(*ip, 502).await?;
            out!("listening {} modbus {}", l.local_addr()?, range.lock().plcs[i].name);
            tokio::spawn(netio::serve_modbus(range.clone(), i, l, capture.clone()));
        }
        for (i, ip) in rtu_addrs.iter().enumerate() {
            let l = listen(*ip, 2404).await?;
            out!("listening {} iec104 {}", l.local_addr()?, range.lock().rtus[i].name);
            tokio::spawn(netio::serve_iec104(range.clone(), i, l, capture.clone()));
        }
        for (i, ip) in dnp3_addrs.iter().enumerate() {
            let l = listen(*ip, 20000).await?;
            out!("listening {} dnp3 {}", l.local_addr()?, range.lock().reclosers[i].name);
            tokio::spawn(netio::serve_dnp3(range.clone(), i, l, capture.clone()));
        }
        tokio::spawn(netio::run_clock(range.clone(), step));
        out!("ready {} devices", plc_addrs.len() + rtu_addrs.len() + dnp3_addrs.len());
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
