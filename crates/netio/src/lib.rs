//! The I/O shell around the pure crates: device servers on their own loopback addresses, the
//! real-time clock that steps the grid, and packet captures.
//!
//! Every device listens on its own address in 127.0.0.0/8 (Linux routes all of it on `lo`)
//! at its protocol's standard port. Where that port cannot be bound (below 1024 without
//! privileges), the listener falls back to the port plus `PORT_OFFSET` and says so.
//!
//! Hostile peers are expected: a connection that sends garbage or an oversized length, stays
//! silent (Modbus and DNP3: `IDLE_TIMEOUT`; IEC 104: t3 then t1), or does not read what it
//! is sent (`IDLE_TIMEOUT` per write) is closed with a logged reason; other connections and
//! devices carry on. Each device serves at most `MAX_CONNECTIONS` clients at once, and the
//! range firewall decides who may connect at all.

pub mod capture;
mod dnp3;
pub mod driver;
mod iec104;
pub mod json;
pub mod live;

pub use dnp3::serve_dnp3;
pub use iec104::serve_iec104;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use devices::{DeviceRef, Devices, Firewall};
use gridsim::sim::{Sim, SimTime};
use proto_modbus::{Framer, adu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::capture::{Capture, Direction};

/// Added to a standard port that cannot be bound (502 → 10502).
pub const PORT_OFFSET: u16 = 10_000;
/// A connection silent for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Concurrent connections per device; more are refused (closed at once, logged).
pub const MAX_CONNECTIONS: usize = 2_048;

/// A running range: the grid and its devices, behind one lock.
#[derive(Debug)]
pub struct LiveRange {
    pub sim: Sim,
    pub devices: Devices,
    /// Who may connect to which device; asked at every accept.
    pub firewall: Firewall,
}

impl LiveRange {
    /// Advances the grid; the devices take its new state, and the events it produced.
    pub fn step(&mut self, dt: SimTime) {
        self.sim.step(dt);
        // The grid's events are for the journal (the range runtime); here only the devices
        // read them, and they must not pile up.
        let events = self.sim.take_events();
        self.devices.step(&self.sim, dt, &events);
    }

    /// Every device takes the grid's present state.
    pub fn refresh_all(&mut self) {
        self.devices.refresh_all(&self.sim);
    }

    /// One Modbus request PDU to a Modbus device. When it changed the grid at once (a set
    /// point), every device refreshes now, not at the next tick.
    pub fn modbus(&mut self, which: DeviceRef, unit: u8, pdu: &[u8]) -> Option<proto_modbus::Response> {
        let before = self.sim.stats().power_flows;
        let response = self.devices.modbus(&mut self.sim, which, unit, pdu);
        if self.sim.stats().power_flows != before {
            self.refresh_all();
        }
        response
    }

    /// Whether the device answers at all (powered, firmware intact, fed and fronted by
    /// devices that are).
    pub(crate) fn reachable(&self, which: DeviceRef) -> bool {
        self.devices.reachable(which)
    }
}

/// Accepts connections for device `which` until the task is dropped: the firewall and the
/// device's state are asked first, at most `MAX_CONNECTIONS` are served at once, and each
/// runs `serve` in a task of its own whose outcome is logged.
pub(crate) async fn accept_loop<F, Fut>(range: Shared, listener: TcpListener, which: DeviceRef, serve: F)
where
    F: Fn(TcpStream, SocketAddrV4, Ipv4Addr) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let Ok(SocketAddr::V4(local)) = listener.local_addr() else { return };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: wait and keep accepting.
                tracing::warn!(%local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !admitted(&range, peer, *local.ip()) || !range.lock().reachable(which) {
            continue;
        }
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%local, %peer, "too many connections; refused");
            continue;
        };
        let SocketAddr::V4(peer) = peer else { continue };
        let fut = serve(stream, peer, *local.ip());
        tokio::spawn(async move {
            match fut.await {
                Ok(()) => tracing::debug!(%local, %peer, "closed by peer"),
                Err(reason) => tracing::info!(%local, %peer, %reason, "connection closed"),
            }
            drop(permit);
        });
    }
}

/// Asks the range firewall whether `peer` may talk to the device at `local`; logs a refusal.
pub(crate) fn admitted(range: &Shared, peer: SocketAddr, local: Ipv4Addr) -> bool {
    let SocketAddr::V4(p) = peer else { return false };
    let ok = range.lock().firewall.permits(*p.ip(), local);
    if !ok {
        tracing::info!(%local, %peer, "blocked by the range firewall");
    }
    ok
}

/// Shared handle on a running range.
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<LiveRange>>);

impl Shared {
    pub fn new(range: LiveRange) -> Shared {
        Shared(Arc::new(Mutex::new(range)))
    }

    pub fn lock(&self) -> MutexGuard<'_, LiveRange> {
        // A panic while holding the lock is a bug, but the range should keep serving.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Binds `ip:port`, or `ip:port+PORT_OFFSET` when the standard port is refused.
pub async fn bind(ip: Ipv4Addr, port: u16) -> std::io::Result<TcpListener> {
    match listen(SocketAddrV4::new(ip, port)) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let alt = port.saturating_add(PORT_OFFSET);
            tracing::warn!(%ip, port, alt, "standard port refused; using the offset port");
            listen(SocketAddrV4::new(ip, alt))
        }
        Err(e) => Err(e),
    }
}

/// A listener with a deep accept queue: bursts of connects (scanners, floods) must not
/// overflow it while the server is busy with other connections.
fn listen(addr: SocketAddrV4) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr.into())?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accept queue length asked of the kernel (which caps it at `net.core.somaxconn`).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Steps the range in real time every `step` until the task is dropped.
pub async fn run_clock(range: Shared, step: Duration) {
    let mut ticker = tokio::time::interval(step);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let dt = SimTime(step.as_micros() as u64);
    loop {
        ticker.tick().await;
        range.lock().step(dt);
    }
}

/// Serves Modbus/TCP for PLC `index` of the range on `listener`.
pub async fn serve_modbus(
    range: Shared,
    which: DeviceRef,
    listener: TcpListener,
    capture: Option<Arc<Capture>>,
) {
    let r = range.clone();
    accept_loop(range, listener, which, move |stream, peer, ip| {
        modbus_connection(r.clone(), which, stream, peer, ip, capture.clone())
    })
    .await;
}

async fn modbus_connection(
    range: Shared,
    which: DeviceRef,
    mut stream: TcpStream,
    peer: SocketAddrV4,
    ip: Ipv4Addr,
    capture: Option<Arc<Capture>>,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let mut flow = capture.as_ref().map(|c| c.open(peer, ip, devices::Protocol::Modbus.port()));
    let mut framer = Framer::new();
    let mut buf = [0u8; 4096];
    let mut out = Vec::with_capacity(adu::MAX_ADU_LEN);
    let mut pdu = Vec::with_capacity(adu::MAX_ADU_LEN);
    // One idle timer per connection, re-armed only when it fires: a timer per read would
    // cost more than the request.
    let mut last_rx = tokio::time::Instant::now();
    let idle = tokio::time::sleep(IDLE_TIMEOUT);
    tokio::pin!(idle);
    let result = loop {
        let n = tokio::select! {
            r = stream.read(&mut buf) => match r {
                Err(e) => break Err(format!("read: {e}")),
                Ok(0) => break Ok(()),
                Ok(n) => n,
            },
            () = &mut idle => {
                if last_rx.elapsed() >= IDLE_TIMEOUT {
                    break Err(format!("idle for {} s", IDLE_TIMEOUT.as_secs()));
                }
                idle.as_mut().reset(last_rx + IDLE_TIMEOUT);
                continue;
            }
        };
        last_rx = tokio::time::Instant::now();
        if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
            c.data(f, Direction::ToServer, &buf[..n]);
        }
        framer.push(&buf[..n]);
        let mut failure = None;
        out.clear();
        loop {
            let frame = match framer.next_adu() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(format!("bad MBAP header: {e}"));
                    break;
                }
            };
            if !range.lock().reachable(which) {
                failure = Some("the device went dark (unpowered or bricked)".to_string());
                break;
            }
            let (transaction, unit) = (u16::from_be_bytes([frame[0], frame[1]]), frame[6]);
            let response = range.lock().modbus(which, unit, &frame[adu::HEADER_LEN..]);
            if let Some(response) = response {
                pdu.clear();
                response.emit(&mut pdu);
                out.extend_from_slice(&transaction.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
                out.push(unit);
                out.extend_from_slice(&pdu);
            }
        }
        if !out.is_empty() {
            if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
                c.data(f, Direction::ToClient, &out);
            }
            match tokio::time::timeout(IDLE_TIMEOUT, stream.write_all(&out)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => break Err(format!("write: {e}")),
                Err(_) => break Err("the peer does not read what it asked for".into()),
            }
        }
        if let Some(reason) = failure {
            break Err(reason);
        }
    };
    if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
        let closer = if result.is_ok() { Direction::ToServer } else { Direction::ToClient };
        c.close(f, closer);
    }
    result
}
