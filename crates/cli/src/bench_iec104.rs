//! `icsrange bench iec104`: time a general interrogation of many points over a real socket,
//! from the C_IC_NA_1 act to its ActTerm, the master acknowledging every w = 8 I-frames as
//! a real master does.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gridsim::dynamics::Dynamics;
use gridsim::sim::Sim;
use netio::{LiveRange, Shared};
use proto_iec104::apci::{Control, Frame, Framer, UFunction};
use proto_iec104::station::{Point, PointValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    let sim = Sim::new(case.clone(), Dynamics::defaults(&case))?;
    let mut rtu = devices::BusRtu::new(&sim, gridsim::BusIdx(3), args.addr);
    for i in 0..args.points {
        rtu.station.points.push(Point { ioa: 10_000 + i, value: PointValue::Float(i as f32), quality: 0 });
    }
    let total_points = rtu.station.points.len();
    let ca = rtu.station.common_address;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let times = runtime.block_on(async {
        let range = Shared::new(LiveRange {
            sim,
            devices: devices::Devices { rtus: vec![rtu], ..Default::default() },
            firewall: Default::default(),
        });
        let listener = netio::bind(args.addr, 2404).await?;
        let local = listener.local_addr()?;
        tokio::spawn(netio::serve_iec104(range, 0, listener, None));
        let std::net::SocketAddr::V4(local) = local else { anyhow::bail!("not IPv4") };
        let mut master = Master::connect(local).await?;
        let mut times = Vec::new();
        for _ in 0..args.runs + 1 {
            times.push(master.interrogate(ca).await?);
        }
        times.remove(0); // warm-up
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

/// A minimal controlling station: enough to time an interrogation honestly.
struct Master {
    stream: TcpStream,
    framer: Framer,
    vs: u16,
    vr: u16,
    unacked: u16,
}

impl Master {
    async fn connect(addr: SocketAddrV4) -> anyhow::Result<Master> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut out = Vec::new();
        Frame::u(UFunction::StartDtAct).emit(&mut out);
        stream.write_all(&out).await?;
        let mut m = Master { stream, framer: Framer::new(), vs: 0, vr: 0, unacked: 0 };
        let f = m.next().await?;
        anyhow::ensure!(f.control == Control::U(UFunction::StartDtCon), "no STARTDT con: {f:?}");
        Ok(m)
    }

    async fn next(&mut self) -> anyhow::Result<Frame> {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(raw) = self.framer.next_frame()? {
                return Ok(Frame::parse(&raw)?);
            }
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut buf)).await??;
            anyhow::ensure!(n > 0, "the RTU closed the connection");
            self.framer.push(&buf[..n]);
        }
    }

    /// Sends C_IC_NA_1 and reads until its ActTerm; returns the time and the objects seen.
    async fn interrogate(&mut self, ca: u16) -> anyhow::Result<(Duration, usize)> {
        let c = ca.to_le_bytes();
        let asdu = vec![100, 1, 6, 0, c[0], c[1], 0, 0, 0, 20];
        let mut out = Vec::new();
        Frame::i(self.vs, self.vr, asdu).emit(&mut out);
        self.vs = (self.vs + 1) % 0x8000;
        self.unacked = 0;
        let started = Instant::now();
        self.stream.write_all(&out).await?;
        let mut objects = 0;
        loop {
            let f = self.next().await?;
            let Control::I { .. } = f.control else { continue };
            self.vr = (self.vr + 1) % 0x8000;
            self.unacked += 1;
            if self.unacked >= 8 {
                let mut ack = Vec::new();
                Frame::s(self.vr).emit(&mut ack);
                self.stream.write_all(&ack).await?;
                self.unacked = 0;
            }
            let (type_id, cause) = (f.asdu[0], f.asdu[2] & 0x3F);
            if cause == 20 {
                objects += (f.asdu[1] & 0x7F) as usize;
            }
            if type_id == 100 && cause == 10 {
                let elapsed = started.elapsed();
                let mut ack = Vec::new();
                Frame::s(self.vr).emit(&mut ack);
                self.stream.write_all(&ack).await?;
                return Ok((elapsed, objects));
            }
        }
    }
}
