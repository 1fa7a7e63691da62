//! The I/O shell around the pure crates: the driver that runs a range in real time, the
//! listeners that carry its devices' protocols on real sockets, packet captures, and the
//! files a run writes (the journal's JSON forms are `journal_format`'s).
//!
//! Every device listens on its own address in 127.0.0.0/8 (Linux routes all of it on `lo`)
//! at its protocol's standard port. Where that port cannot be bound (below 1024 without
//! privileges), the listener falls back to the port plus `PORT_OFFSET` and says so.
//!
//! Hostile peers are expected: the protocol rules live in the range's endpoints (a
//! connection that sends garbage or an oversized length, or a master that never
//! acknowledges, a Modbus or DNP3 peer that leaves a frame unfinished, is closed by its
//! device with a reason the log shows); here, a connection silent for `IDLE_TIMEOUT` or that
//! does not read what it is sent is closed, `admission` limits who holds how many
//! connections (per source and device, per source, per device, and the process's file
//! handles), and the range firewall decides who may connect at all.

pub mod admission;
pub mod budget;
pub mod capture;
pub mod carrier;
pub mod driver;
pub mod evidence;
pub mod files;
pub mod live;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tokio::net::TcpListener;

/// Added to a standard port that cannot be bound (502 → 10502).
pub const PORT_OFFSET: u16 = 10_000;
/// A connection silent for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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
