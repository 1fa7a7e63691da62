//! `icsrange bench modbus`: a Modbus/TCP load generator. Many concurrent connections, each
//! sending Read Holding Registers and waiting for the answer (one request in flight per
//! connection, as SCADA masters do); prints throughput and latency percentiles. Each
//! connection comes from its own loopback address (127.200.0.0 onwards), as many masters
//! would: a range lets one source hold only a few connections to a device.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::BadInput;

#[derive(Debug, clap::Args)]
pub struct BenchModbusArgs {
    /// The server, `ip:port`.
    target: SocketAddr,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Measured duration (after a one-second warm-up).
    #[arg(long = "for", value_parser = gridsim::sim::SimTime::parse_duration, default_value = "10s")]
    duration: gridsim::sim::SimTime,
    #[arg(long, default_value_t = 1)]
    unit: u8,
    /// First register and how many to read.
    #[arg(long, default_value_t = 0)]
    start: u16,
    #[arg(long, default_value_t = 1)]
    count: u16,
    /// Requests in flight per connection, sent in one write (Modbus/TCP allows several
    /// outstanding transactions; 1 is how SCADA masters poll).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pipeline: u16,
    /// A label for the output line.
    #[arg(long, default_value = "server")]
    label: String,
}

/// Where the connections' source addresses start.
const SOURCES: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 200, 0, 0);

async fn connect_from(source: std::net::Ipv4Addr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(target).await
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
            let depth = usize::from(args.pipeline);
            tasks.push(tokio::spawn(async move {
                let source = std::net::Ipv4Addr::from(u32::from(SOURCES) + c as u32 + 1);
                let mut s = match connect_from(source, target).await {
                    Ok(s) => s,
                    Err(_) => return (0u64, 1u64, Vec::new()),
                };
                let _ = s.set_nodelay(true);
                tokio::time::sleep_until(begin.into()).await;
                let (measure_from, end) = (begin + warmup, begin + warmup + measured);
                let mut lat = Vec::new();
                let (mut ok, mut bad) = (0u64, 0u64);
                let resp_len = 9 + 2 * count as usize;
                let mut resp = vec![0u8; resp_len];
                let mut req = Vec::with_capacity(12 * depth);
                let mut t: u16 = (c as u16).wrapping_mul(64);
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    req.clear();
                    let first = t.wrapping_add(1);
                    for _ in 0..depth {
                        t = t.wrapping_add(1);
                        let tb = t.to_be_bytes();
                        let (sb, cb) = (start.to_be_bytes(), count.to_be_bytes());
                        req.extend_from_slice(&[
                            tb[0], tb[1], 0, 0, 0, 6, unit, 3, sb[0], sb[1], cb[0], cb[1],
                        ]);
                    }
                    let batch = async {
                        s.write_all(&req).await?;
                        let mut answers = Vec::with_capacity(depth);
                        for _ in 0..depth {
                            s.read_exact(&mut resp[..9]).await?;
                            // An exception is 9 bytes; a normal answer carries the registers after.
                            if resp[7] == 3 {
                                s.read_exact(&mut resp[9..]).await?;
                            }
                            answers.push((Instant::now(), resp[7] == 3, [resp[0], resp[1]]));
                        }
                        std::io::Result::Ok(answers)
                    };
                    let Ok(answers) = batch.await else {
                        bad += 1;
                        break;
                    };
                    if now >= measure_from {
                        for (i, (done, normal, transaction)) in answers.into_iter().enumerate() {
                            if normal && transaction == first.wrapping_add(i as u16).to_be_bytes() {
                                ok += 1;
                                lat.push((done - now).as_micros() as u32);
                            } else {
                                bad += 1;
                            }
                        }
                    }
                }
                (ok, bad, lat)
            }));
        }
        let (mut total, mut errors, mut all) = (0u64, 0u64, Vec::new());
        // A connection the server stopped answering (some servers do not take pipelined
        // requests) counts as one error instead of hanging the benchmark.
        let deadline = tokio::time::Instant::from_std(begin + warmup + measured + Duration::from_secs(5));
        for mut t in tasks {
            let Ok(joined) = tokio::time::timeout_at(deadline, &mut t).await else {
                t.abort();
                errors += 1;
                continue;
            };
            if let Ok((ok, bad, lat)) = joined {
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
        "{:<10} connections {:>5}  pipeline {:>2}  requests/s {:>9.0}  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}",
        args.label,
        args.connections,
        args.pipeline,
        total as f64 / measured.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        errors
    );
    Ok(ExitCode::SUCCESS)
}
