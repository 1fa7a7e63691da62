//! Real listeners for a driver's range: every device on its own loopback address at its
//! protocol's standard port (+`PORT_OFFSET` where that cannot be bound), so a trainee's own
//! tools (mbpoll, pymodbus, an IEC 104 client, a DNP3 master) reach the same range the
//! campaign, the IDS and the journal live in. Each connection's bytes go to the driver as
//! they arrive and what the device answers comes back; the protocol itself (framing, session
//! rules) runs in the range's endpoint, once for every kind of client.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use range::Range;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::admission::{Admission, ListenerSlot, Throttle, Throttles};
use crate::budget::{Budget, Limits, Verdict};

use crate::driver::{Command, Handle, ToSocket};
use crate::{IDLE_TIMEOUT, bind};

/// One listener: where it listens, and the device address and standard port it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub local: SocketAddrV4,
    pub device: SocketAddrV4,
}

/// Every network service of the range's devices: (address, standard port).
pub fn services(range: &Range) -> Vec<SocketAddrV4> {
    let d = range.devices();
    let mut out = Vec::new();
    out.extend(d.plcs.iter().map(|p| SocketAddrV4::new(p.addr, proto_modbus::PORT)));
    out.extend(d.rtus.iter().map(|r| SocketAddrV4::new(r.addr, proto_iec104::PORT)));
    out.extend(d.reclosers.iter().map(|r| SocketAddrV4::new(r.addr, proto_dnp3::PORT)));
    out.extend(d.relays.iter().map(|r| SocketAddrV4::new(r.addr, proto_modbus::PORT)));
    out.extend(d.upss.iter().map(|u| SocketAddrV4::new(u.addr, proto_modbus::PORT)));
    if let Some(p) = &d.pipe {
        out.extend(p.stations.iter().map(|s| SocketAddrV4::new(s.addr, proto_modbus::PORT)));
        out.extend(p.rtus.iter().map(|r| SocketAddrV4::new(r.addr, proto_dnp3::PORT)));
        out.extend(p.sis.iter().map(|s| SocketAddrV4::new(s.addr, proto_modbus::PORT)));
    }
    out
}

/// A range's bound listeners: they accept until this is dropped (then their sockets close
/// and the addresses are free; connections already open end with the range).
#[derive(Debug)]
pub struct Listeners {
    list: Vec<Listener>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Listeners {
    /// Closes every listener and returns once their sockets are closed (their addresses may
    /// be bound again at once).
    pub async fn close(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl std::ops::Deref for Listeners {
    type Target = [Listener];
    fn deref(&self) -> &[Listener] {
        &self.list
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds every service and serves it through the driver until the `Listeners` are dropped,
/// with no bound on live traffic (one user's own range: `icsrange live`, `icsrange devices`).
pub async fn listen(handle: &Handle, services: &[SocketAddrV4]) -> std::io::Result<Listeners> {
    listen_with(handle, services, Arc::new(Budget::new(Limits::NONE, 0))).await
}

/// As `listen`, within `budget` (a team range on the platform). The range's listeners share
/// one `Admission` (limits per source, per device, and the process's budget of file handles)
/// and one `Budget` (what its live traffic may put in the journal).
pub async fn listen_with(
    handle: &Handle,
    services: &[SocketAddrV4],
    budget: Arc<Budget>,
) -> std::io::Result<Listeners> {
    crate::admission::raise_nofile_limit();
    let admission = Arc::new(Admission::new());
    let mut bound = Vec::new();
    for &device in services {
        let listener = bind(*device.ip(), device.port()).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("{device}: {e} (another range on this --base?)"))
        })?;
        let Ok(SocketAddr::V4(local)) = listener.local_addr() else { continue };
        bound.push((Listener { local, device }, listener));
    }
    // Every address bound before any accepts: a failure leaves nothing listening.
    let mut out = Listeners { list: Vec::new(), tasks: Vec::new() };
    for (l, listener) in bound {
        let task =
            tokio::spawn(accept_loop(handle.clone(), listener, l.device, admission.clone(), budget.clone()));
        out.tasks.push(task);
        out.list.push(l);
    }
    Ok(out)
}

/// How often each listener may log a kind of trouble (the rest is counted).
const LOG_EVERY: Duration = Duration::from_secs(10);

async fn accept_loop(
    handle: Handle,
    listener: TcpListener,
    device: SocketAddrV4,
    admission: Arc<Admission>,
    budget: Arc<Budget>,
) {
    let _slot = ListenerSlot::take();
    let mut accept_failed = Throttle::new(LOG_EVERY);
    let mut refused = Throttles::new(LOG_EVERY);
    let closed = Arc::new(Mutex::new(Throttles::new(LOG_EVERY)));
    let mut backoff = Duration::from_millis(10);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off (up to a second) and keep accepting.
                if let Some(left_out) = accept_failed.allow(std::time::Instant::now()) {
                    tracing::warn!(%device, error = %e, left_out, "accept failed");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let SocketAddr::V4(peer) = peer else { continue };
        if budget.refuses() {
            drop(stream);
            if let Some(left_out) = refused.allow("full", std::time::Instant::now()) {
                let f = budget.figures();
                tracing::warn!(%device, %peer, inputs = f.inputs, refused = f.refused, left_out,
                    "connection refused: the run took as much live traffic as it may");
            }
            continue;
        }
        let ticket = match admission.admit(*peer.ip(), device) {
            Ok(t) => t,
            Err(why) => {
                // Closed at once: its handle goes back now.
                drop(stream);
                if let Some(left_out) = refused.allow(&why.to_string(), std::time::Instant::now()) {
                    tracing::warn!(%device, %peer, reason = %why, left_out, "connection refused");
                }
                continue;
            }
        };
        let handle = handle.clone();
        let closed = closed.clone();
        let budget = budget.clone();
        tokio::spawn(async move {
            match connection(handle, stream, peer, device, &budget).await {
                Ok(()) => tracing::debug!(%device, %peer, "closed"),
                Err(reason) => {
                    let allowed = closed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .allow(&reason.to_string(), std::time::Instant::now());
                    if let Some(left_out) = allowed {
                        tracing::info!(%device, %peer, %reason, left_out, "connection closed");
                    }
                }
            }
            drop(ticket);
        });
    }
}

/// Waits until the budget takes one more input of `bytes` (`Err`: the run takes no more).
async fn paced(budget: &Budget, bytes: usize) -> Result<(), Ended> {
    loop {
        match budget.take(bytes, std::time::Instant::now()) {
            Verdict::Now => return Ok(()),
            Verdict::After(d) => tokio::time::sleep(d).await,
            Verdict::Full => return Err(Ended::Full),
        }
    }
}

async fn connection(
    handle: Handle,
    stream: TcpStream,
    peer: SocketAddrV4,
    device: SocketAddrV4,
    budget: &Budget,
) -> Result<(), Ended> {
    let _ = stream.set_nodelay(true);
    paced(budget, 0).await?;
    let (sink, mut from_range) = mpsc::unbounded_channel();
    let (reply, opened) = oneshot::channel();
    if !handle.send(Command::Open { client: peer, server: device, sink, reply }) {
        return Err(Ended::RangeStopped);
    }
    let conn = match opened.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(range::journal::Delivery::Blocked)) => return Err(Ended::Blocked),
        Ok(Err(why)) => return Err(Ended::Refused(why)),
        Err(_) => return Err(Ended::RangeStopped),
    };
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = vec![0u8; 4096];
    let mut last_rx = tokio::time::Instant::now();
    let idle = tokio::time::sleep(IDLE_TIMEOUT);
    tokio::pin!(idle);
    let result = 'conn: loop {
        tokio::select! {
            // In order, no random draw: the socket first, then what the range sent.
            biased;
            r = rd.read(&mut buf) => match r {
                Ok(0) => break Ok(()),
                Err(e) => break Err(Ended::Read(e)),
                Ok(n) => {
                    // A client faster than the budget waits here, its next bytes unread.
                    if let Err(full) = paced(budget, n).await {
                        break Err(full);
                    }
                    last_rx = tokio::time::Instant::now();
                    // Applied here and now; the device answers right away (what the range
                    // sent this connection before is in `from_range`, and goes first).
                    let Some(answer) = handle.data(conn, buf[..n].to_vec()) else {
                        return Err(Ended::RangeStopped);
                    };
                    while let Ok(earlier) = from_range.try_recv() {
                        match earlier {
                            ToSocket::Data(bytes) => {
                                if let Err(e) = write(&mut wr, &bytes).await {
                                    break 'conn Err(e);
                                }
                            }
                            ToSocket::Close => return Err(Ended::ByDevice),
                        }
                    }
                    if !answer.bytes.is_empty() {
                        if let Err(e) = write(&mut wr, &answer.bytes).await {
                            break Err(e);
                        }
                    }
                    if answer.closed {
                        return Err(Ended::ByDevice);
                    }
                }
            },
            out = from_range.recv() => match out {
                Some(ToSocket::Data(bytes)) => {
                    if let Err(e) = write(&mut wr, &bytes).await {
                        break Err(e);
                    }
                }
                // The device closed it (a session rule, the device went dark, a block).
                Some(ToSocket::Close) | None => return Err(Ended::ByDevice),
            },
            () = &mut idle => {
                if last_rx.elapsed() >= IDLE_TIMEOUT {
                    break Err(Ended::Idle);
                }
                idle.as_mut().reset(last_rx + IDLE_TIMEOUT);
            }
        }
    };
    handle.close(conn);
    budget.closed();
    result
}

/// Writes all of `bytes`, or says why not (a peer that reads nothing for `IDLE_TIMEOUT`).
async fn write(wr: &mut tokio::net::tcp::OwnedWriteHalf, bytes: &[u8]) -> Result<(), Ended> {
    match tokio::time::timeout(IDLE_TIMEOUT, wr.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Ended::Write(e)),
        Err(_) => Err(Ended::NotReading),
    }
}

/// Why a connection ended other than by its client closing it: logged, and throttled by
/// its text.
#[derive(Debug, thiserror::Error)]
enum Ended {
    #[error("the range has stopped")]
    RangeStopped,
    #[error("blocked by the range firewall")]
    Blocked,
    /// The range refused to open it (no such service, the device is dark, ...).
    #[error("refused: {}", .0.describe())]
    Refused(range::journal::Delivery),
    #[error("read: {0}")]
    Read(std::io::Error),
    #[error("write: {0}")]
    Write(std::io::Error),
    #[error("the peer does not read what it is sent")]
    NotReading,
    #[error("closed by the device")]
    ByDevice,
    #[error("idle for {} s", IDLE_TIMEOUT.as_secs())]
    Idle,
    #[error("the run took as much live traffic as it may")]
    Full,
}
