//! IEC 60870-5-104 server: one task per connection, driving `proto_iec104::Session` with the
//! socket, the timers and the RTU's spontaneous events.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto_iec104::apci::{Frame, Framer};
use proto_iec104::{Params, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Shared;
use crate::capture::{Capture, Direction};

/// ASDUs waiting for the send window; a master that never acknowledges is cut off here
/// (a GI of 10,000 points is about 340 ASDUs).
const MAX_QUEUE: usize = 2_000;

/// Serves IEC 104 for RTU `index` of the range on `listener`.
pub async fn serve_iec104(range: Shared, index: usize, listener: TcpListener, capture: Option<Arc<Capture>>) {
    let started = Instant::now();
    let r = range.clone();
    crate::accept_loop(range, listener, devices::DeviceRef::Rtu(index), move |stream, peer, ip| {
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
    let now = || started.elapsed().as_micros() as u64;
    let mut flow = capture.as_ref().map(|c| c.open(peer, ip, 2404));
    let mut session = Session::new(now(), Params::default());
    let mut framer = Framer::new();
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut announced = false;
    let mut cursor = range.lock().devices.rtus.get(index).map_or(0, |r| r.event_cursor());
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut buf = [0u8; 4096];
    let mut frames = Vec::new();
    let mut bytes = Vec::new();
    let result = loop {
        frames.clear();
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) => break Ok(()),
                    Ok(n) => n,
                    Err(e) => break Err(format!("read: {e}")),
                };
                if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
                    c.data(f, Direction::ToServer, &buf[..n]);
                }
                framer.push(&buf[..n]);
                let mut failure = None;
                loop {
                    let raw = match framer.next_frame() {
                        Ok(Some(raw)) => raw,
                        Ok(None) => break,
                        Err(e) => { failure = Some(format!("bad APCI: {e}")); break; }
                    };
                    if !range.lock().reachable(devices::DeviceRef::Rtu(index)) {
                        failure = Some("the device went dark (unpowered or bricked)".to_string());
                        break;
                    }
                    let frame = match Frame::parse(&raw) {
                        Ok(f) => f,
                        Err(e) => { failure = Some(format!("bad APCI: {e}")); break; }
                    };
                    match session.receive(now(), &frame, &mut frames) {
                        Ok(Some(_)) if !session.started() => {
                            // Data transfer is stopped: an I-frame now is a protocol violation.
                            failure = Some("I-frame before STARTDT".to_string());
                            break;
                        }
                        Ok(Some(asdu)) => {
                            let mut guard = range.lock();
                            let crate::LiveRange { sim, devices, .. } = &mut *guard;
                            let Some(rtu) = devices.rtus.get_mut(index) else { return Err("device gone".into()) };
                            let mut answers = Vec::new();
                            let operated = rtu.handle(sim, now(), &asdu, &mut answers);
                            if operated {
                                guard.refresh_all();
                            }
                            queue.extend(answers);
                        }
                        Ok(None) => {}
                        Err(e) => { failure = Some(format!("session: {e}")); break; }
                    }
                }
                if let Some(reason) = failure {
                    break Err(reason);
                }
            }
            _ = tick.tick() => {
                if let Err(e) = session.poll(now(), &mut frames) {
                    break Err(format!("session: {e}"));
                }
            }
        }
        if session.started() && !announced {
            // End of initialisation, once per connection, before anything else is sent.
            if let Some(rtu) = range.lock().devices.rtus.get(index) {
                queue.push_front(rtu.station.end_of_init());
            }
            announced = true;
        }
        if session.started() {
            let mut events = Vec::new();
            if let Some(rtu) = range.lock().devices.rtus.get(index) {
                cursor = rtu.events_since(cursor, &mut events);
            }
            queue.extend(events);
        }
        while session.can_send() {
            let Some(asdu) = queue.pop_front() else { break };
            session.send(now(), asdu, &mut frames);
        }
        if queue.len() > MAX_QUEUE {
            break Err(format!("{} ASDUs waiting: the master does not acknowledge", queue.len()));
        }
        if frames.is_empty() {
            continue;
        }
        bytes.clear();
        for f in &frames {
            f.emit(&mut bytes);
        }
        if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
            c.data(f, Direction::ToClient, &bytes);
        }
        match tokio::time::timeout(crate::IDLE_TIMEOUT, stream.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => break Err(format!("write: {e}")),
            Err(_) => break Err("the master does not read what it is sent".into()),
        }
    };
    if let (Some(c), Some(f)) = (&capture, flow.as_mut()) {
        c.close(f, if result.is_ok() { Direction::ToServer } else { Direction::ToClient });
    }
    result
}
