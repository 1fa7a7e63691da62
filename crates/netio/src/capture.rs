//! Per-range packet captures, built at the application layer.
//!
//! Live capture on `lo` needs privileges a range does not have, so the servers record what
//! they read and write, and this writer wraps it in Ethernet/IPv4/TCP with per-connection
//! sequence numbers, a three-way handshake at connect and FIN/ACK at close, so Wireshark and
//! tshark reassemble the streams. The server side of every flow carries the protocol's
//! canonical port (502, 2404, 20000) whatever port the listener really has, because the
//! dissectors classify requests and responses by port.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, TcpHeader};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

/// Which way a segment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToServer,
    ToClient,
}

/// One TCP connection as the capture shows it.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    client: SocketAddrV4,
    server: SocketAddrV4,
    /// Next sequence number of each side.
    client_seq: u32,
    server_seq: u32,
}

/// A pcap file being written.
#[derive(Debug)]
pub struct Capture {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Option<PcapWriter<SharedFile>>,
    /// The file under the writer, to flush for a snapshot.
    file: Option<Arc<Mutex<BufWriter<File>>>>,
    /// The temporary file being written, and the name it gets when finished.
    paths: Option<(PathBuf, PathBuf)>,
    /// The first write that failed: nothing is written after it.
    failed: Option<io::Error>,
    started: Instant,
    flows: u32,
    frame: Vec<u8>,
    packets: u64,
    /// Timestamps from the caller (simulated time) instead of the wall clock.
    clock: Option<Duration>,
}

const WINDOW: u16 = 65_535;

/// The capture file, shared between the pcap writer and `snapshot`, which flushes it.
#[derive(Debug)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

fn mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

impl Capture {
    /// A capture that becomes `path` when finished: until then it is written to a new
    /// temporary file beside it (never through a symlink planted at either name), so `path`
    /// holds a whole capture or what it held before. Errors name the file.
    pub fn create(path: &Path) -> io::Result<Capture> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let tmp = crate::files::temp_beside(path);
        let file = crate::files::create_new(&tmp).map_err(named)?;
        // A capture holds a team's traffic: the owner's alone, whatever the umask.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(named)?;
        // Large writes: under load a range captures tens of thousands of frames a second.
        let file = Arc::new(Mutex::new(BufWriter::with_capacity(1 << 20, file)));
        let header = PcapHeader { datalink: DataLink::ETHERNET, ..PcapHeader::default() };
        let writer = PcapWriter::with_header(SharedFile(file.clone()), header)
            .map_err(|e| named(io::Error::other(e)))?;
        Ok(Capture {
            inner: Mutex::new(Inner {
                writer: Some(writer),
                file: Some(file),
                paths: Some((tmp, path.to_path_buf())),
                failed: None,
                started: Instant::now(),
                flows: 0,
                frame: Vec::new(),
                packets: 0,
                clock: None,
            }),
        })
    }

    /// A new connection: records the handshake and returns the flow to record on.
    pub fn open(&self, client: SocketAddrV4, server_ip: Ipv4Addr, canonical_port: u16) -> Flow {
        let mut inner = self.lock();
        inner.flows += 1;
        let n = inner.flows;
        let mut flow = Flow {
            client,
            server: SocketAddrV4::new(server_ip, canonical_port),
            client_seq: n.wrapping_mul(1_000_003),
            server_seq: n.wrapping_mul(7_000_001),
        };
        inner.segment(&mut flow, Direction::ToServer, Flags::Syn, &[]);
        inner.segment(&mut flow, Direction::ToClient, Flags::SynAck, &[]);
        inner.segment(&mut flow, Direction::ToServer, Flags::Ack, &[]);
        flow
    }

    /// A UDP datagram (one frame; payloads beyond an IPv4 packet's size are cut).
    pub fn datagram(&self, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
        let mut inner = self.lock();
        let payload = &payload[..payload.len().min(65_000)];
        if udp_frame(&mut inner.frame, src, dst, payload).is_err() {
            return;
        }
        inner.write_frame();
    }

    /// Bytes one side sent.
    pub fn data(&self, flow: &mut Flow, dir: Direction, payload: &[u8]) {
        let mut inner = self.lock();
        // An IPv4 packet holds at most 65,535 bytes; servers send far less, but stay safe.
        for chunk in payload.chunks(1400) {
            inner.segment(flow, dir, Flags::PshAck, chunk);
        }
    }

    /// The connection ends (`closer` sent the first FIN).
    pub fn close(&self, flow: &mut Flow, closer: Direction) {
        let mut inner = self.lock();
        let other = match closer {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        };
        inner.segment(flow, closer, Flags::FinAck, &[]);
        inner.segment(flow, other, Flags::FinAck, &[]);
        inner.segment(flow, closer, Flags::Ack, &[]);
    }

    /// From now on, packets carry this timestamp (since the capture's start) instead of the
    /// wall clock's: a range run's simulated time, so its capture is reproducible.
    pub fn set_clock(&self, since_start: Duration) {
        self.lock().clock = Some(since_start);
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.lock().packets
    }

    /// The capture so far, as a whole pcap file (for a download while the run goes on).
    pub fn snapshot(&self) -> io::Result<Vec<u8>> {
        let inner = self.lock();
        match (&inner.file, &inner.paths) {
            (Some(file), Some((tmp, _))) => {
                file.lock().unwrap_or_else(|p| p.into_inner()).flush()?;
                std::fs::read(tmp)
            }
            _ => Err(io::Error::other("the capture is finished")),
        }
    }

    /// The capture so far as an open file and its length in whole frames: a download streams
    /// that many bytes from it, whatever is written (or renamed) meanwhile, and never holds
    /// the capture in memory nor its lock while it sends.
    pub fn open_so_far(&self) -> io::Result<(File, u64)> {
        let inner = self.lock();
        match (&inner.file, &inner.paths) {
            (Some(file), Some((tmp, _))) => {
                let mut w = file.lock().unwrap_or_else(|p| p.into_inner());
                w.flush()?;
                let len = w.get_ref().metadata()?.len();
                Ok((File::open(tmp)?, len))
            }
            _ => Err(io::Error::other("the capture is finished")),
        }
    }

    /// Removes what killed processes left of captures in `dir` (their temporary files: a
    /// capture of a process that died was never finished). Returns how many.
    pub fn remove_leftovers(dir: &Path, name: &str) -> usize {
        let prefix = format!(".{name}.");
        let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
        entries
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&prefix) && n.ends_with(".tmp")
            })
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
    }

    /// The file header and the bytes from `offset` on (at least the header's length): what
    /// `read_segments` needs to go on from where it stopped, without reading the whole file
    /// again. Returns the bytes and the file offset their byte `HEADER_LEN` stands for.
    pub fn tail(&self, offset: usize) -> io::Result<(Vec<u8>, usize)> {
        use std::io::{Read, Seek, SeekFrom};
        let inner = self.lock();
        let path = match (&inner.file, &inner.paths) {
            (Some(file), Some((tmp, _))) => {
                file.lock().unwrap_or_else(|p| p.into_inner()).flush()?;
                tmp.clone()
            }
            _ => return Err(io::Error::other("the capture is finished")),
        };
        drop(inner);
        let mut f = File::open(&path)?;
        let mut out = vec![0u8; HEADER_LEN];
        f.read_exact(&mut out)?;
        let from = offset.max(HEADER_LEN);
        f.seek(SeekFrom::Start(from as u64))?;
        f.read_to_end(&mut out)?;
        Ok((out, from))
    }

    /// Flushes the file, syncs it and gives it its name; later records are dropped. Errors
    /// name the file: a write that failed along the way (a full disk, say: the capture is
    /// torn, so it is removed and `path` keeps what it held), or a rename that failed (the
    /// whole capture then stays under its temporary name, which the error gives).
    pub fn finish(&self) -> io::Result<()> {
        let mut inner = self.lock();
        let (Some(_), Some(file), Some((tmp, path))) =
            (inner.writer.take(), inner.file.take(), inner.paths.take())
        else {
            return Ok(());
        };
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let written = match inner.failed.take() {
            Some(e) => Err(e),
            None => {
                let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
                f.flush().and_then(|()| f.get_ref().sync_all())
            }
        };
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(named(e));
        }
        std::fs::rename(&tmp, &path).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: {e} (the capture is in {})", path.display(), tmp.display()))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Ethernet, IPv4 and TCP headers and `payload`, as one frame in `out` (cleared first).
fn frame(
    out: &mut Vec<u8>,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: Flags,
    payload: &[u8],
) -> Result<(), etherparse::err::ValueTooBigError<usize>> {
    let mut tcp = TcpHeader::new(src.port(), dst.port(), seq, WINDOW);
    match flags {
        Flags::Syn => tcp.syn = true,
        Flags::SynAck => (tcp.syn, tcp.ack) = (true, true),
        Flags::Ack => tcp.ack = true,
        Flags::PshAck => (tcp.psh, tcp.ack) = (true, true),
        Flags::FinAck => (tcp.fin, tcp.ack) = (true, true),
    }
    if tcp.ack {
        tcp.acknowledgment_number = ack;
    }
    let mut ip = Ipv4Header {
        source: src.ip().octets(),
        destination: dst.ip().octets(),
        time_to_live: 64,
        ..Default::default()
    };
    ip.protocol = IpNumber::TCP;
    ip.set_payload_len(tcp.header_len() + payload.len())?;
    ip.header_checksum = ip.calc_header_checksum();
    tcp.checksum = tcp.calc_checksum_ipv4(&ip, payload)?;
    let eth =
        Ethernet2Header { source: mac(*src.ip()), destination: mac(*dst.ip()), ether_type: EtherType::IPV4 };
    out.clear();
    out.extend_from_slice(&eth.to_bytes());
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&tcp.to_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Ethernet, IPv4 and UDP headers and `payload`, as one frame in `out` (cleared first).
fn udp_frame(
    out: &mut Vec<u8>,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
) -> Result<(), etherparse::err::ValueTooBigError<usize>> {
    let mut ip = Ipv4Header {
        source: src.ip().octets(),
        destination: dst.ip().octets(),
        time_to_live: 64,
        ..Default::default()
    };
    ip.protocol = IpNumber::UDP;
    let udp = etherparse::UdpHeader::with_ipv4_checksum(src.port(), dst.port(), &ip, payload)?;
    ip.set_payload_len(etherparse::UdpHeader::LEN + payload.len())?;
    ip.header_checksum = ip.calc_header_checksum();
    let eth =
        Ethernet2Header { source: mac(*src.ip()), destination: mac(*dst.ip()), ether_type: EtherType::IPV4 };
    out.clear();
    out.extend_from_slice(&eth.to_bytes());
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&udp.to_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// A capture dropped unfinished (the run failed before its files were written) leaves no
/// temporary file behind.
impl Drop for Capture {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some((tmp, _)) = inner.paths.take() {
            inner.writer = None;
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    PshAck,
    FinAck,
}

impl Inner {
    fn segment(&mut self, flow: &mut Flow, dir: Direction, flags: Flags, payload: &[u8]) {
        let (src, dst, seq, ack) = match dir {
            Direction::ToServer => (flow.client, flow.server, flow.client_seq, flow.server_seq),
            Direction::ToClient => (flow.server, flow.client, flow.server_seq, flow.client_seq),
        };
        // The headers themselves, not etherparse's PacketBuilder: the builder moves its whole
        // state (option buffers included) at every step, which cost a live range a tenth of
        // its CPU under load. Same bytes (tested against the builder).
        if frame(&mut self.frame, src, dst, seq, ack, flags, payload).is_err() {
            return;
        }
        // SYN and FIN take one sequence number each.
        let used =
            payload.len() as u32 + u32::from(matches!(flags, Flags::Syn | Flags::SynAck | Flags::FinAck));
        match dir {
            Direction::ToServer => flow.client_seq = flow.client_seq.wrapping_add(used),
            Direction::ToClient => flow.server_seq = flow.server_seq.wrapping_add(used),
        }
        self.write_frame();
    }

    /// Writes the frame in `self.frame` at the capture's clock.
    fn write_frame(&mut self) {
        let ts: Duration = self.clock.unwrap_or_else(|| self.started.elapsed());
        if self.failed.is_some() {
            return;
        }
        let Some(w) = self.writer.as_mut() else { return };
        let packet = PcapPacket::new(ts, self.frame.len() as u32, &self.frame);
        match w.write_packet(&packet) {
            Ok(_) => self.packets += 1,
            Err(e) => self.failed = Some(io::Error::other(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames are etherparse's PacketBuilder's, byte for byte (the reference: Wireshark
    /// reads what it builds).
    #[test]
    fn frames_match_etherparse_packet_builder() {
        let client = SocketAddrV4::new(Ipv4Addr::new(127, 10, 250, 99), 40_123);
        let server = SocketAddrV4::new(Ipv4Addr::new(127, 10, 5, 1), 502);
        let payload = [0u8, 1, 0, 0, 0, 6, 1, 5, 0, 0, 0, 0];
        for flags in [Flags::Syn, Flags::SynAck, Flags::Ack, Flags::PshAck, Flags::FinAck] {
            for (src, dst, body) in [(client, server, &payload[..]), (server, client, &[][..])] {
                let (seq, ack) = (0xdead_beef, 7_000_001);
                let b = etherparse::PacketBuilder::ethernet2(mac(*src.ip()), mac(*dst.ip()))
                    .ipv4(src.ip().octets(), dst.ip().octets(), 64)
                    .tcp(src.port(), dst.port(), seq, WINDOW);
                let b = match flags {
                    Flags::Syn => b.syn(),
                    Flags::SynAck => b.syn().ack(ack),
                    Flags::Ack => b.ack(ack),
                    Flags::PshAck => b.psh().ack(ack),
                    Flags::FinAck => b.fin().ack(ack),
                };
                let mut want = Vec::new();
                b.write(&mut want, body).unwrap();
                let mut got = Vec::new();
                frame(&mut got, src, dst, seq, ack, flags, body).unwrap();
                assert_eq!(got, want, "{flags:?}");
            }
        }
    }

    /// A datagram's frame is etherparse's PacketBuilder's too (UDP checksum included), and
    /// it reads back as a UDP segment that counts in the frame numbers.
    #[test]
    fn datagrams_match_etherparse_and_read_back_numbered() {
        let client = SocketAddrV4::new(Ipv4Addr::new(127, 10, 230, 10), 40_000);
        let server = SocketAddrV4::new(Ipv4Addr::new(127, 10, 3, 183), 50_000);
        let payload = ids::SIPROTEC_DOS;
        let mut want = Vec::new();
        etherparse::PacketBuilder::ethernet2(mac(*client.ip()), mac(*server.ip()))
            .ipv4(client.ip().octets(), server.ip().octets(), 64)
            .udp(client.port(), server.port())
            .write(&mut want, &payload)
            .unwrap();
        let mut got = Vec::new();
        udp_frame(&mut got, client, server, &payload).unwrap();
        assert_eq!(got, want);

        let path = std::env::temp_dir().join(format!("icsrange-udp-{}.pcap", std::process::id()));
        let c = Capture::create(&path).unwrap();
        c.datagram(client, server, &payload);
        let mut flow = c.open(SocketAddrV4::new(*client.ip(), 40_001), Ipv4Addr::new(127, 10, 1, 116), 2404);
        c.data(&mut flow, Direction::ToServer, &[0x68, 4, 0x43, 0, 0, 0]);
        c.datagram(client, server, &payload);
        c.finish().unwrap();
        let file = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let (segments, end, last) = read_segments(&file, 0, 0);
        assert_eq!((end, last), (file.len(), 6), "six frames: a datagram, a handshake, data, a datagram");
        let udp: Vec<u64> = segments.iter().filter(|s| s.udp).map(|s| s.number).collect();
        assert_eq!(udp, [1, 6]);
        assert_eq!(segments[0].payload, payload);
        assert_eq!(segments[0].dst, server);
    }
}

/// The length of a pcap file header.
pub const HEADER_LEN: usize = 24;

/// One TCP segment or UDP datagram read back from a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Frame number (1-based), as alerts cite them.
    pub number: u64,
    /// Since the capture's start.
    pub t: Duration,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
    pub fin: bool,
    /// A UDP datagram (not a TCP segment).
    pub udp: bool,
}

/// Reads a capture's TCP segments and UDP datagrams from byte `offset` (0: from the start,
/// after the file header) with `first` the number of the frame before the first one there.
/// Returns them, the offset just past the last whole record (what a later call resumes from:
/// a record being written is left for then) and the number of that record's frame. Frames
/// that are neither Ethernet/IPv4/TCP nor UDP count but are skipped.
pub fn read_segments(file: &[u8], offset: usize, first: u64) -> (Vec<Segment>, usize, u64) {
    let Ok((rest, parser)) = pcap_file::pcap::PcapParser::new(file) else {
        return (Vec::new(), offset, first);
    };
    let header_len = file.len() - rest.len();
    let mut at = offset.max(header_len);
    let mut number = first;
    let mut out = Vec::new();
    while at < file.len() {
        let Ok((rest, packet)) = parser.next_packet(&file[at..]) else { break };
        let consumed = file.len() - at - rest.len();
        at += consumed;
        number += 1;
        let Ok(sliced) = etherparse::SlicedPacket::from_ethernet(&packet.data) else { continue };
        let Some(etherparse::NetSlice::Ipv4(ip)) = &sliced.net else { continue };
        let h = ip.header();
        let (sport, dport, payload, fin, udp) = match &sliced.transport {
            Some(etherparse::TransportSlice::Tcp(tcp)) => {
                (tcp.source_port(), tcp.destination_port(), tcp.payload(), tcp.fin(), false)
            }
            Some(etherparse::TransportSlice::Udp(u)) => {
                (u.source_port(), u.destination_port(), u.payload(), false, true)
            }
            _ => continue,
        };
        out.push(Segment {
            number,
            t: packet.timestamp,
            src: SocketAddrV4::new(h.source_addr(), sport),
            dst: SocketAddrV4::new(h.destination_addr(), dport),
            payload: payload.to_vec(),
            fin,
            udp,
        });
    }
    (out, at, number)
}
