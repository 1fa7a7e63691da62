//! DNP3 over TCP server: link frames in, CRCs checked, transport reassembly, the outstation,
//! and the response segmented back into link frames.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

use proto_dnp3::link::{self, Control, Frame, Framer, function};
use proto_dnp3::transport::{Reassembler, segment};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Shared;
use crate::capture::{Capture, Direction};

/// Frames with bad CRCs a connection may send before it is closed.
const MAX_BAD_FRAMES: u32 = 16;

/// Serves DNP3 for recloser `index` of the range on `listener`.
pub async fn serve_dnp3(range: Shared, index: usize, listener: TcpListener, capture: Option<Arc<Capture>>) {
    let started = Instant::now();
    let r = range.clone();
    crate::accept_loop(range, listener, devices::DeviceRef::Recloser(index), move |stream, peer, ip| {
        connection(r.clone(), index, stream, peer, ip, capture.clone(), started)
    })
    .await;
}

async fn connection(
    range: Shared,
    index: usize,
    mut stream: TcpStream,
    peer: SocketAddrV4,
    ip: Ipv4Addr,
    capture: Option<Arc<Capture>>,
    started: Instant,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let mut flow = capture.as_ref().map(|c| c.open(peer, ip, 20000));
    let mut framer = Framer::new();
    let mut reassembler = Reassembler::new();
    let mut tx_seq = 0u8;
    let mut bad_frames = 0u32;
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let address = range.lock().devices.reclosers.get(index).map_or(10, |r| r.outstation.address);
    let result = loop {
        let n = match tokio::time::timeout(crate::IDLE_TIMEOUT, stream.read(&mut buf)).await {
            Err(_) => break Err(format!("idle for {} s", crate::IDLE_TIMEOUT.as_secs())),
            Ok(Err(e)) => break Err(format!("read: {e}")),
            Ok(Ok(0)) => break Ok(()),
            Ok(Ok(n)) => n,
        };
        if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
            c.data(f, Direction::ToServer, &buf[..n]);
        }
        framer.push(&buf[..n]);
        out.clear();
        let mut failure = None;
        loop {
            let raw = match framer.next_frame() {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(format!("bad link frame: {e}"));
                    break;
                }
            };
            if !range.lock().reachable(devices::DeviceRef::Recloser(index)) {
                failure = Some("the device went dark (unpowered or bricked)".to_string());
                break;
            }
            let frame = match Frame::parse(&raw) {
                Ok(f) => f,
                Err(e) => {
                    // A CRC error loses the frame, not the connection (IEEE 1815 §9.2.6); a
                    // stream of them is not a noisy line but an attack on the log.
                    bad_frames += 1;
                    if bad_frames == 1 {
                        tracing::info!(%peer, error = %e, "link frame discarded");
                    }
                    if bad_frames > MAX_BAD_FRAMES {
                        failure = Some(format!("{bad_frames} link frames with bad CRCs"));
                        break;
                    }
                    continue;
                }
            };
            let broadcast = frame.destination >= 0xFFFD;
            if !frame.control.primary || (frame.destination != address && !broadcast) {
                continue;
            }
            let master = frame.source;
            let secondary = |f: u8| Frame {
                control: Control { from_master: false, primary: false, fcb: false, fcv: false, function: f },
                destination: master,
                source: address,
                data: Vec::new(),
            };
            match frame.control.function {
                function::REQUEST_LINK_STATUS => secondary(function::LINK_STATUS).emit(&mut out),
                function::RESET_LINK_STATES | function::TEST_LINK_STATES => {
                    secondary(function::ACK).emit(&mut out)
                }
                function::CONFIRMED_USER_DATA | function::UNCONFIRMED_USER_DATA => {
                    if frame.control.function == function::CONFIRMED_USER_DATA {
                        secondary(function::ACK).emit(&mut out);
                    }
                    let fragment = match reassembler.push(&frame.data) {
                        Ok(Some(f)) => f,
                        Ok(None) => continue,
                        Err(e) => {
                            failure = Some(format!("transport: {e}"));
                            break;
                        }
                    };
                    let now_ms = started.elapsed().as_millis() as u64;
                    let response = {
                        let mut guard = range.lock();
                        let crate::LiveRange { sim, devices, .. } = &mut *guard;
                        let Some(r) = devices.reclosers.get_mut(index) else {
                            return Err("device gone".into());
                        };
                        let before = sim.stats().power_flows;
                        let resp = r.handle(sim, now_ms, &fragment);
                        if sim.stats().power_flows != before {
                            guard.refresh_all();
                        }
                        resp
                    };
                    // Broadcasts are acted on but never answered (IEEE 1815 §9.2.5).
                    if let Some(resp) = response.filter(|_| !broadcast) {
                        let mut segs = Vec::new();
                        tx_seq = segment(&resp, tx_seq, &mut segs);
                        for s in segs {
                            Frame {
                                control: Control {
                                    from_master: false,
                                    primary: true,
                                    fcb: false,
                                    fcv: false,
                                    function: function::UNCONFIRMED_USER_DATA,
                                },
                                destination: master,
                                source: address,
                                data: s,
                            }
                            .emit(&mut out);
                        }
                    }
                }
                _ => secondary(function::NOT_SUPPORTED).emit(&mut out),
            }
        }
        if !out.is_empty() {
            if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
                c.data(f, Direction::ToClient, &out);
            }
            match tokio::time::timeout(crate::IDLE_TIMEOUT, stream.write_all(&out)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => break Err(format!("write: {e}")),
                Err(_) => break Err("the master does not read what it is sent".into()),
            }
        }
        if let Some(reason) = failure {
            break Err(reason);
        }
    };
    let _ = link::MAX_FRAME;
    if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
        c.close(f, if result.is_ok() { Direction::ToServer } else { Direction::ToClient });
    }
    result
}
