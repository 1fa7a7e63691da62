//! `icsrange bench modbus`: a Modbus/TCP load generator. Many concurrent connections, each
//! sending Read Holding Registers and waiting for the answer (one request in flight per
//! connection, as SCADA masters do); prints throughput and latency percentiles.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::BadInput;
use crate::sim::parse_duration;

#[derive(Debug, clap::Args)]
pub struct BenchModbusArgs {
    /// The server, `ip:port`.
    target: SocketAddr,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Measured duration (after a one-second warm-up).
    #[arg(long = "for", value_parser = parse_duration, default_value = "10s")]
    duration: gridsim::sim::SimTime,
    #[arg(long, default_value_t = 1)]
    unit: u8,
    /// First register and how many to read.
    #[arg(long, default_value_t = 0)]
    start: u16,
    #[arg(long, default_value_t = 1)]
    count: u16,
    /// A label for the output line.
    #[arg(long, default_value = "server")]
    label: String,
}

pub fn run(args: &BenchModbusArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let measured = Duration::from_micros(args.duration.0.max(1));
    let warmup = Duration::from_secs(1);
    let (total, errors, mut latencies) = runtime.block_on(async {
        let mut tasks = Vec::new();
        let begin = Instant::now() + Duration::from_millis(200);
        for c in 0..args.connections {
            let (target, unit, start, count) = (args.target, args.unit, args.start, args.count);
            tasks.push(tokio::spawn(async move {
                let mut s = match TcpStream::connect(target).await {
                    Ok(s) => s,
                    Err(_) => return (0u64, 1u64, Vec::new()),
                };
                let _ = s.set_nodelay(true);
                tokio::time::sleep_until(begin.into()).await;
                let (measure_from, end) = (begin + warmup, begin + warmup + measured);
                let mut lat = Vec::new();
                let (mut ok, mut bad) = (0u64, 0u64);
                let mut resp = vec![0u8; 9 + 2 * count as usize];
                let mut t: u16 = c as u16;
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    t = t.wrapping_add(1);
                    let tb = t.to_be_bytes();
                    let (sb, cb) = (start.to_be_bytes(), count.to_be_bytes());
                    let req = [tb[0], tb[1], 0, 0, 0, 6, unit, 3, sb[0], sb[1], cb[0], cb[1]];
                    if s.write_all(&req).await.is_err() || s.read_exact(&mut resp[..9]).await.is_err() {
                        bad += 1;
                        break;
                    }
                    // An exception is 9 bytes; a normal answer carries the registers after.
                    if resp[7] == 3 && s.read_exact(&mut resp[9..]).await.is_err() {
                        bad += 1;
                        break;
                    }
                    let done = Instant::now();
                    if now >= measure_from {
                        if resp[7] == 3 && resp[..2] == tb {
                            ok += 1;
                            lat.push((done - now).as_micros() as u32);
                        } else {
                            bad += 1;
                        }
                    }
                }
                (ok, bad, lat)
            }));
        }
        let (mut total, mut errors, mut all) = (0u64, 0u64, Vec::new());
        for t in tasks {
            if let Ok((ok, bad, lat)) = t.await {
                total += ok;
                errors += bad;
                all.extend(lat);
            }
        }
        (total, errors, all)
    });
    if total == 0 {
        return Err(BadInput(format!("{}: no successful request ({errors} errors)", args.target)).into());
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    out!(
        "{:<10} connections {:>5}  requests/s {:>9.0}  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}",
        args.label,
        args.connections,
        total as f64 / measured.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        errors
    );
    Ok(ExitCode::SUCCESS)
}
