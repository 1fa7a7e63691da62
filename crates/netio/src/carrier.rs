//! Carries a headless run's connections over real loopback sockets (`icsrange run --wire
//! loopback`), from the sender's own address to the device's, checking that every byte
//! arrives as sent: a sniffer on `lo` sees the run as it happens.

use std::collections::BTreeMap;
use std::time::Duration;

use range::net::WireEvent;

/// Carries a run's connections over real loopback sockets, checking that every byte arrives
/// as sent. Device addresses listen at their protocol's port (+10000 where a port below 1024
/// is refused).
#[derive(Debug, Default)]
pub struct Carrier {
    pub listeners: BTreeMap<std::net::SocketAddrV4, std::net::TcpListener>,
    conns: BTreeMap<u32, (std::net::TcpStream, std::net::TcpStream)>,
    /// A UDP socket per device address that received a datagram (at its port, +10000
    /// where a port below 1024 is refused).
    pub udp: BTreeMap<std::net::SocketAddrV4, std::net::UdpSocket>,
    /// Payload bytes carried so far.
    pub bytes: u64,
    /// Connections from outside the run that were closed.
    pub strangers: u64,
}

/// Connections from outside the run closed while waiting for one of the run's own, at most
/// (a listen backlog's worth: more means someone floods it faster than we close).
const STRANGERS_PER_OPEN: usize = 4096;

impl Carrier {
    fn listener(&mut self, server: std::net::SocketAddrV4) -> std::io::Result<&std::net::TcpListener> {
        match self.listeners.entry(server) {
            std::collections::btree_map::Entry::Occupied(o) => Ok(o.into_mut()),
            std::collections::btree_map::Entry::Vacant(v) => {
                let l = match std::net::TcpListener::bind(server) {
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        std::net::TcpListener::bind((
                            *server.ip(),
                            server.port().saturating_add(crate::PORT_OFFSET),
                        ))
                    }
                    other => other,
                }
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{server}: {e} (another range on this --base?)"))
                })?;
                // An accept that waits longer than this fails (SO_RCVTIMEO bounds accept on
                // Linux): the run's own connection is queued by the time it is accepted, so
                // a wait means it was lost (a flooded backlog), not that it is late.
                socket2::SockRef::from(&l).set_read_timeout(Some(Duration::from_secs(10)))?;
                Ok(v.insert(l))
            }
        }
    }

    /// Carries one wire event: opens, sends and checks, closes.
    pub fn carry(&mut self, w: &range::net::Wire) -> std::io::Result<()> {
        use std::io::{Read, Write};
        match &w.event {
            WireEvent::Open => {
                let target = self.listener(w.server)?.local_addr()?;
                let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
                socket.bind(&std::net::SocketAddr::from((*w.client.ip(), 0)).into())?;
                socket.connect(&target.into())?;
                let client: std::net::TcpStream = socket.into();
                let ours = client.local_addr()?;
                // Any local process may connect to a device's listener too, even before the
                // run does; only the run's own connection is taken (it is already queued:
                // the kernel completed its handshake), and a stranger's is closed.
                let mut strangers = 0usize;
                let server = loop {
                    let (s, peer) = self.listeners[&w.server].accept()?;
                    if peer == ours {
                        break s;
                    }
                    strangers += 1;
                    self.strangers += 1;
                    if strangers > STRANGERS_PER_OPEN {
                        return Err(std::io::Error::other(format!(
                            "{}: more than {STRANGERS_PER_OPEN} connections from outside the run queued",
                            w.server
                        )));
                    }
                };
                for s in [&client, &server] {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(Duration::from_secs(10)))?;
                }
                self.conns.insert(w.conn, (client, server));
            }
            WireEvent::ToServer(bytes) | WireEvent::ToClient(bytes) => {
                let Some((client, server)) = self.conns.get_mut(&w.conn) else { return Ok(()) };
                let (from, to) = if matches!(w.event, WireEvent::ToServer(_)) {
                    (client, server)
                } else {
                    (server, client)
                };
                from.write_all(bytes)?;
                let mut got = vec![0u8; bytes.len()];
                to.read_exact(&mut got)?;
                if &got != bytes {
                    return Err(std::io::Error::other(format!(
                        "connection {}: bytes changed in transit",
                        w.conn
                    )));
                }
                self.bytes += bytes.len() as u64;
            }
            WireEvent::Datagram(bytes) => {
                let receiver = match self.udp.entry(w.server) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        let s = match std::net::UdpSocket::bind(w.server) {
                            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                                std::net::UdpSocket::bind((
                                    *w.server.ip(),
                                    w.server.port().saturating_add(crate::PORT_OFFSET),
                                ))
                            }
                            other => other,
                        }
                        .map_err(|e| {
                            std::io::Error::new(
                                e.kind(),
                                format!("{} (UDP): {e} (another range on this --base?)", w.server),
                            )
                        })?;
                        s.set_read_timeout(Some(Duration::from_secs(10)))?;
                        v.insert(s)
                    }
                };
                let sender = std::net::UdpSocket::bind((*w.client.ip(), 0))?;
                let ours = sender.local_addr()?;
                sender.send_to(bytes, receiver.local_addr()?)?;
                // Anyone on the host may send to the device's port too; only the run's own
                // datagram is taken.
                let mut got = vec![0u8; 65_536];
                let mut strangers = 0usize;
                // One deadline for the run's own datagram, however many strangers come first.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                let n = loop {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("{} (UDP): the run's datagram did not arrive", w.server),
                        ));
                    }
                    receiver.set_read_timeout(Some(left))?;
                    let (n, peer) = receiver
                        .recv_from(&mut got)
                        .map_err(|e| std::io::Error::new(e.kind(), format!("{} (UDP): {e}", w.server)))?;
                    if peer == ours {
                        break n;
                    }
                    strangers += 1;
                    self.strangers += 1;
                    if strangers > STRANGERS_PER_OPEN {
                        return Err(std::io::Error::other(format!(
                            "{} (UDP): more than {STRANGERS_PER_OPEN} datagrams from outside the run",
                            w.server
                        )));
                    }
                };
                if &got[..n] != bytes.as_slice() {
                    return Err(std::io::Error::other(format!(
                        "a datagram to {}: bytes changed in transit",
                        w.server
                    )));
                }
                self.bytes += bytes.len() as u64;
            }
            WireEvent::Close { .. } => {
                if let Some((client, server)) = self.conns.remove(&w.conn) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    let _ = server.shutdown(std::net::Shutdown::Both);
                }
            }
        }
        Ok(())
    }
}
