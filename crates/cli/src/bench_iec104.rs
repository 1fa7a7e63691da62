//! `icsrange bench iec104`: time a general interrogation of many points over a real socket,
//! from the C_IC_NA_1 act to its ActTerm, through the IEC 104 endpoint every runtime uses
//! (`range::endpoint`) and the controlling side every runtime uses (`proto_iec104::Master`,
//! acknowledging every w = 8 I-frames and at the end of each burst, as a real master does).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gridsim::dynamics::Dynamics;
use gridsim::sim::{Sim, SimTime};
use proto_iec104::asdu::{cot, type_id};
use proto_iec104::station::{Point, PointValue};
use proto_iec104::{Asdu, Master, Value};
use range::endpoint::Endpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::load_case;

#[derive(Debug, clap::Args)]
pub struct BenchIec104Args {
    /// Points in the station (besides the RTU's own).
    #[arg(long, default_value_t = 10_000)]
    points: u32,
    /// Interrogations to time (the median is printed).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Listen address of the benchmark's RTU.
    #[arg(long, default_value = "127.52.0.1")]
    addr: Ipv4Addr,
}

pub fn run(args: &BenchIec104Args) -> anyhow::Result<ExitCode> {
    let case_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cases/case9.m");
    let case = load_case(&case_path)?;
    let mut sim = Sim::new(case.clone(), Dynamics::defaults(&case))?;
    let mut rtu = devices::BusRtu::new(&sim, gridsim::BusIdx(3), args.addr);
    for i in 0..args.points {
        rtu.station.points.push(Point { ioa: 10_000 + i, value: PointValue::Float(i as f32), quality: 0 });
    }
    let total_points = rtu.station.points.len();
    let ca = rtu.station.common_address;
    let mut devices = devices::Devices { rtus: vec![rtu], ..Default::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let times = runtime.block_on(async {
        let listener = netio::bind(args.addr, proto_iec104::PORT).await?;
        let SocketAddr::V4(local) = listener.local_addr()? else { anyhow::bail!("not IPv4") };
        // The station: one connection, served through the RTU's endpoint.
        let station = tokio::spawn(async move { serve(listener, &mut sim, &mut devices).await });
        let mut stream = TcpStream::connect(local).await?;
        stream.set_nodelay(true)?;
        let mut master = Master::default();
        stream.write_all(&master.startdt()).await?;
        let mut times = Vec::new();
        for _ in 0..args.runs + 1 {
            times.push(interrogate(&mut stream, &mut master, ca).await?);
        }
        times.remove(0); // warm-up
        station.abort();
        anyhow::Ok(times)
    })?;
    let mut ms: Vec<f64> = times.iter().map(|t| t.0.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let objects = times[0].1;
    out!(
        "iec104 GI of {total_points} points ({objects} objects received): median {:.2} ms, min {:.2} ms, max {:.2} ms over {} runs",
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Serves one connection through the RTU's endpoint until it closes.
async fn serve(listener: TcpListener, sim: &mut Sim, devices: &mut devices::Devices) -> anyhow::Result<()> {
    let (mut s, _) = listener.accept().await?;
    s.set_nodelay(true)?;
    let started = Instant::now();
    let now = || SimTime(started.elapsed().as_micros() as u64);
    let mut endpoint = Endpoint::iec104(0, now(), devices);
    let mut buf = vec![0u8; 8192];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let mut x = range::endpoint::Exchange::default();
        let ctx = range::endpoint::DeviceCtx { now: now(), sim, devices };
        endpoint.receive(ctx, &buf[..n], &mut x)?;
        s.write_all(&x.out).await?;
    }
}

/// Sends C_IC_NA_1 and reads until its ActTerm; returns the time and the objects seen.
async fn interrogate(
    stream: &mut TcpStream,
    master: &mut Master,
    ca: u16,
) -> anyhow::Result<(Duration, usize)> {
    let mut raw = Vec::new();
    Asdu::new(cot::ACTIVATION, ca, vec![(0, Value::Interrogation { qoi: 20 })]).emit(&mut raw);
    let started = Instant::now();
    stream.write_all(&master.send(raw)).await?;
    let mut objects = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "the RTU closed the connection");
        let mut asdus = Vec::new();
        let ack = master.receive(&buf[..n], &mut asdus);
        let mut done = false;
        for a in asdus.iter().filter_map(|a| Asdu::parse(a).ok()) {
            if a.cause == cot::INTERROGATED {
                objects += a.objects.len();
            }
            done |= a.type_id == type_id::C_IC_NA_1 && a.cause == cot::ACTIVATION_TERM;
        }
        if !ack.is_empty() {
            stream.write_all(&ack).await?;
        }
        if done {
            return Ok((started.elapsed(), objects));
        }
    }
}
