//! The device side of a connection, one implementation per protocol. The same code serves
//! the range's own clients (the SCADA master, the attacker) and live connections from
//! outside (a trainee's pymodbus, an IEC 104 client, a DNP3 master): bytes in, bytes out,
//! at simulated time. Session rules live here and nowhere else: an I-frame before STARTDT,
//! an oversized length, a master that never acknowledges, a stream of bad CRCs close the
//! connection with a reason; a dark device answers nothing.

use std::collections::VecDeque;

use devices::{DeviceRef, Devices};
use gridsim::sim::{Sim, SimTime};
use proto_dnp3::link::{self, Control, function};
use proto_dnp3::transport::{Reassembler, segment};
use proto_iec104::asdu::cot;
use proto_iec104::{Asdu, Frame, Params, Session, Value};
use proto_modbus::{Request, Response, adu};

use crate::journal::{Delivery, Operation};

/// ASDUs waiting for the send window; a master that never acknowledges is cut off here
/// (a GI of 10,000 points is about 340 ASDUs).
pub const MAX_QUEUE: usize = 2_000;
/// DNP3 link frames with bad CRCs a connection may send before it is closed.
pub const MAX_BAD_FRAMES: u32 = 16;
/// A Modbus or DNP3 frame begun must be whole within this: a client sends a request in one
/// go, and a peer that trickles it a byte at a time is holding the connection (slowloris).
/// (IEC 104 has its own t1 and t3. A silent connection is the socket layer's to close, on
/// the wall clock: in simulated time, a range at 60x would cut off a client that polls every
/// two seconds.)
pub const FRAME_TIMEOUT: SimTime = SimTime(10_000_000);

/// Why a device closes a connection (for the shell's log; never a journal entry).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Closed {
    #[error("the device went dark (unpowered or bricked)")]
    Dark,
    #[error("a frame begun {0} ago is still not whole")]
    Unfinished(SimTime),
    #[error("bad APCI: {0}")]
    Apci(#[from] proto_iec104::apci::ApciError),
    #[error("I-frame before STARTDT")]
    IFrameBeforeStartdt,
    #[error("session: {0}")]
    Session(#[from] proto_iec104::session::SessionError),
    #[error("{0} ASDUs waiting: the master does not acknowledge")]
    Unacknowledged(usize),
    #[error("bad MBAP header: {0}")]
    Mbap(#[from] adu::AduError),
    #[error("bad link frame: {0}")]
    Link(#[from] link::LinkError),
    #[error("{0} link frames with bad CRCs")]
    BadCrcs(u32),
    #[error("transport: {0}")]
    Transport(#[from] proto_dnp3::transport::TransportError),
}

/// What a device endpoint works on: the time and the world it answers from.
#[derive(Debug)]
pub struct DeviceCtx<'a> {
    pub now: SimTime,
    pub sim: &'a mut Sim,
    pub devices: &'a mut Devices,
}

/// What one delivery of bytes produced: the device's answer, the commands it saw, and notes
/// for the shell's log.
#[derive(Debug, Default)]
pub struct Exchange {
    pub out: Vec<u8>,
    pub seen: Vec<Seen>,
    pub notes: Vec<String>,
}

/// Since when a frame is half received.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    partial_since: Option<SimTime>,
}

impl Progress {
    /// After bytes arrived: `whole` frames were completed, `pending` bytes wait for more.
    fn update(&mut self, now: SimTime, whole: usize, pending: usize) {
        if whole > 0 {
            self.partial_since = None;
        }
        self.partial_since = if pending == 0 { None } else { Some(self.partial_since.unwrap_or(now)) };
    }

    fn check(&self, now: SimTime) -> Result<(), Closed> {
        match self.partial_since {
            Some(since) if now.0.saturating_sub(since.0) >= FRAME_TIMEOUT.0 => {
                Err(Closed::Unfinished(SimTime(now.0 - since.0)))
            }
            _ => Ok(()),
        }
    }
}

/// A command a client sent, as the journal records it, with the device's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub station: Option<u16>,
    pub operation: Operation,
    pub outcome: Delivery,
}

/// The device side of one connection.
#[derive(Debug)]
pub enum Endpoint {
    Iec104(Iec104End),
    Modbus(ModbusEnd),
    Dnp3(Dnp3End),
    /// A serial gateway's web server: takes a firmware upload.
    Http {
        gateway: usize,
    },
}

impl Endpoint {
    pub fn iec104(rtu: usize, now: SimTime, devices: &Devices) -> Endpoint {
        let cursor = devices.rtus.get(rtu).map_or(0, |r| r.event_cursor());
        Endpoint::Iec104(Iec104End {
            rtu,
            session: Session::new(now, Params::default()),
            framer: proto_iec104::Framer::new(),
            queue: VecDeque::new(),
            cursor,
            announced: false,
        })
    }

    pub fn modbus(device: DeviceRef) -> Endpoint {
        Endpoint::Modbus(ModbusEnd {
            device,
            framer: proto_modbus::Framer::new(),
            progress: Progress::default(),
        })
    }

    /// The outstation side of a DNP3 device (a feeder recloser, a line RTU).
    pub fn dnp3(device: DeviceRef, devices: &Devices) -> Endpoint {
        let address = devices.dnp3_address(device).unwrap_or(10);
        Endpoint::Dnp3(Dnp3End {
            device,
            address,
            framer: link::Framer::new(),
            reassembler: Reassembler::new(),
            tx_seq: 0,
            bad_frames: 0,
            progress: Progress::default(),
        })
    }

    pub fn device(&self) -> DeviceRef {
        match self {
            Endpoint::Iec104(e) => DeviceRef::Rtu(e.rtu),
            Endpoint::Modbus(e) => e.device,
            Endpoint::Dnp3(e) => e.device,
            Endpoint::Http { gateway } => DeviceRef::Gateway(*gateway),
        }
    }

    /// Bytes from the client: what the device answers goes to `out`, the commands it saw to
    /// `seen`. `Err`: the device closes the connection, for that reason.
    pub fn receive(&mut self, ctx: DeviceCtx<'_>, bytes: &[u8], x: &mut Exchange) -> Result<(), Closed> {
        let result = match self {
            Endpoint::Iec104(e) => e.receive(ctx.now, bytes, ctx.sim, ctx.devices, x),
            Endpoint::Modbus(e) => e.receive(ctx.now, bytes, ctx.sim, ctx.devices, x),
            Endpoint::Dnp3(e) => e.receive(ctx.now, bytes, ctx.sim, ctx.devices, x),
            Endpoint::Http { .. } => Ok(()),
        };
        if result.is_ok() && !ctx.devices.reachable(self.device()) {
            return Err(Closed::Dark);
        }
        result
    }

    /// Time passes: IEC 104 timers and spontaneous reports; a Modbus or DNP3 peer that
    /// does not finish a frame it began. `Err`: the session broke, or the device closes it.
    pub fn poll(&mut self, now: SimTime, devices: &Devices, out: &mut Vec<u8>) -> Result<(), Closed> {
        match self {
            Endpoint::Iec104(e) => e.poll(now, devices, out),
            Endpoint::Modbus(e) => e.progress.check(now),
            Endpoint::Dnp3(e) => e.progress.check(now),
            Endpoint::Http { .. } => Ok(()),
        }
    }
}

/// Refreshes every device when a request changed the grid at once (a set point), so a read
/// in the same instant sees it.
fn operate<T>(sim: &mut Sim, devices: &mut Devices, f: impl FnOnce(&mut Sim, &mut Devices) -> T) -> T {
    let before = sim.stats().power_flows;
    let r = f(sim, devices);
    if sim.stats().power_flows != before {
        devices.refresh_all(sim);
    }
    r
}

/// IEC 104, controlled side: the RTU's session and what waits for the window.
#[derive(Debug)]
pub struct Iec104End {
    rtu: usize,
    session: Session,
    framer: proto_iec104::Framer,
    queue: VecDeque<Vec<u8>>,
    cursor: u64,
    announced: bool,
}

impl Iec104End {
    fn receive(
        &mut self,
        now: SimTime,
        bytes: &[u8],
        sim: &mut Sim,
        devices: &mut Devices,
        x: &mut Exchange,
    ) -> Result<(), Closed> {
        let Exchange { out, seen, .. } = x;
        self.framer.push(bytes);
        let mut frames = Vec::new();
        let mut result = Ok(());
        loop {
            let raw = match self.framer.next_frame() {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(e) => {
                    result = Err(Closed::Apci(e));
                    break;
                }
            };
            if !devices.reachable(DeviceRef::Rtu(self.rtu)) {
                result = Err(Closed::Dark);
                break;
            }
            let frame = match Frame::parse(&raw) {
                Ok(f) => f,
                Err(e) => {
                    result = Err(Closed::Apci(e));
                    break;
                }
            };
            match self.session.receive(now, &frame, &mut frames) {
                Ok(Some(_)) if !self.session.started() => {
                    // Data transfer is stopped: an I-frame now is a protocol violation.
                    result = Err(Closed::IFrameBeforeStartdt);
                    break;
                }
                Ok(Some(asdu)) => {
                    let Some(rtu) = devices.rtus.get_mut(self.rtu) else { break };
                    let mut answers = Vec::new();
                    let operated = rtu.handle(sim, now, &asdu, &mut answers);
                    if operated {
                        devices.refresh_all(sim);
                    }
                    if let Some(s) = command_seen(&asdu, &answers) {
                        seen.push(s);
                    }
                    self.queue.extend(answers);
                }
                Ok(None) => {}
                Err(e) => {
                    result = Err(Closed::Session(e));
                    break;
                }
            }
        }
        self.flush(now, devices, &mut frames);
        for f in &frames {
            f.emit(out);
        }
        if self.queue.len() > MAX_QUEUE {
            return Err(Closed::Unacknowledged(self.queue.len()));
        }
        result
    }

    fn poll(&mut self, now: SimTime, devices: &Devices, out: &mut Vec<u8>) -> Result<(), Closed> {
        let mut frames = Vec::new();
        if let Some(rtu) = devices.rtus.get(self.rtu) {
            let mut events = Vec::new();
            self.cursor = rtu.events_since(self.cursor, &mut events);
            if self.session.started() {
                self.queue.extend(events);
            }
        }
        let polled = self.session.poll(now, &mut frames).map_err(Closed::Session);
        self.flush(now, devices, &mut frames);
        for f in &frames {
            f.emit(out);
        }
        polled?;
        if self.queue.len() > MAX_QUEUE {
            return Err(Closed::Unacknowledged(self.queue.len()));
        }
        Ok(())
    }

    /// End of initialisation once per connection, before anything else; then what the window
    /// allows.
    fn flush(&mut self, now: SimTime, devices: &Devices, frames: &mut Vec<Frame>) {
        if self.session.started() && !self.announced {
            if let Some(rtu) = devices.rtus.get(self.rtu) {
                self.queue.push_front(rtu.station.end_of_init());
            }
            self.announced = true;
        }
        while self.session.can_send() {
            let Some(asdu) = self.queue.pop_front() else { break };
            self.session.send(now, asdu, frames);
        }
    }
}

/// A command ASDU and the station's confirmation of it, as the journal records them.
fn command_seen(asdu: &[u8], answers: &[Vec<u8>]) -> Option<Seen> {
    let a = Asdu::parse(asdu).ok()?;
    if a.cause != cot::ACTIVATION {
        return None;
    }
    let (ioa, value) = a.objects.first()?;
    let operation = match *value {
        Value::DoubleCommand { state, select, .. } => {
            Operation::Breaker { ioa: *ioa, close: state == 2, select }
        }
        Value::SingleCommand { on, select, .. } => Operation::Single { ioa: *ioa, on, select },
        Value::SetpointFloat { value, select, .. } => Operation::Setpoint { ioa: *ioa, value, select },
        _ => return None,
    };
    let con = answers.iter().filter_map(|b| Asdu::parse(b).ok()).find(|b| {
        b.type_id == a.type_id && b.cause == cot::ACTIVATION_CON
            || matches!(b.cause, cot::UNKNOWN_TYPE..=cot::UNKNOWN_IOA)
    });
    let outcome = match con {
        Some(c) if !c.negative => Delivery::Confirmed,
        Some(_) => Delivery::Refused,
        None => Delivery::NoAnswer,
    };
    Some(Seen { station: Some(a.common_address), operation, outcome })
}

/// Modbus/TCP server side: the MBAP framer and the device's data model.
#[derive(Debug)]
pub struct ModbusEnd {
    device: DeviceRef,
    framer: proto_modbus::Framer,
    progress: Progress,
}

impl ModbusEnd {
    fn receive(
        &mut self,
        now: SimTime,
        bytes: &[u8],
        sim: &mut Sim,
        devices: &mut Devices,
        x: &mut Exchange,
    ) -> Result<(), Closed> {
        let Exchange { out, seen, notes } = x;
        self.framer.push(bytes);
        let mut pdu = Vec::with_capacity(adu::MAX_ADU_LEN);
        let mut whole = 0;
        loop {
            let frame = match self.framer.next_adu() {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.progress.update(now, whole, self.framer.pending());
                    return Ok(());
                }
                Err(e) => return Err(Closed::Mbap(e)),
            };
            whole += 1;
            if !devices.reachable(self.device) {
                return Err(Closed::Dark);
            }
            let (transaction, unit) = (u16::from_be_bytes([frame[0], frame[1]]), frame[6]);
            let request = &frame[adu::HEADER_LEN..];
            let response =
                operate(sim, devices, |sim, devices| devices.modbus(sim, self.device, unit, request));
            // Listen-only silences the device for every client until a restart: say so.
            if response.is_none()
                && matches!(Request::parse(request), Ok(Request::Diagnostics { sub_function: 4, .. }))
            {
                notes.push("FC 8 sub-function 4: the device is now in listen-only mode and answers no one until restarted".into());
            }
            if let Some(op) = write_operation(request) {
                let outcome = match &response {
                    Some(Response::Exception { code, .. }) => Delivery::Exception(code.code()),
                    Some(_) => Delivery::Accepted,
                    None => Delivery::NoAnswer,
                };
                seen.push(Seen { station: None, operation: op, outcome });
            }
            if let Some(response) = response {
                pdu.clear();
                response.emit(&mut pdu);
                adu::emit(transaction, unit, &pdu, out);
            }
        }
    }
}

/// The journal's record of a Modbus request that changes something (reads are not
/// commands).
fn write_operation(pdu: &[u8]) -> Option<Operation> {
    let request = Request::parse(pdu).ok()?;
    Some(match request {
        Request::WriteSingleCoil { address, value } => Operation::WriteCoil { coil: address, value },
        Request::WriteSingleRegister { address, .. } => {
            Operation::Write { function: request.function(), address, count: 1 }
        }
        Request::WriteMultipleCoils { start, values } => {
            Operation::Write { function: request.function(), address: start, count: values.len() as u16 }
        }
        Request::WriteMultipleRegisters { start, values } => {
            Operation::Write { function: request.function(), address: start, count: values.len() as u16 }
        }
        Request::ReadWriteMultipleRegisters { write_start, values, .. } => Operation::Write {
            function: request.function(),
            address: write_start,
            count: values.len() as u16,
        },
        Request::Diagnostics { sub_function: 1, .. } => Operation::Restart,
        Request::WriteFileRecord { writes } => {
            let (file, records) =
                writes.iter().fold((0, 0u16), |(_, n), (f, _, d)| (f, n.saturating_add(d.len() as u16)));
            Operation::ProgramWrite { file, records }
        }
        _ => return None,
    })
}

/// DNP3 outstation side: link frames in, CRCs checked, transport reassembly, the
/// outstation, the response segmented back into link frames.
#[derive(Debug)]
pub struct Dnp3End {
    device: DeviceRef,
    address: u16,
    framer: link::Framer,
    reassembler: Reassembler,
    tx_seq: u8,
    bad_frames: u32,
    progress: Progress,
}

impl Dnp3End {
    fn receive(
        &mut self,
        now: SimTime,
        bytes: &[u8],
        sim: &mut Sim,
        devices: &mut Devices,
        x: &mut Exchange,
    ) -> Result<(), Closed> {
        let Exchange { out, seen, notes } = x;
        self.framer.push(bytes);
        let mut whole = 0;
        loop {
            let raw = match self.framer.next_frame() {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    self.progress.update(now, whole, self.framer.pending());
                    return Ok(());
                }
                Err(e) => return Err(Closed::Link(e)),
            };
            if !devices.reachable(self.device) {
                return Err(Closed::Dark);
            }
            let frame = match link::Frame::parse(&raw) {
                Ok(f) => {
                    whole += 1;
                    f
                }
                Err(e) => {
                    // A CRC error loses the frame, not the connection (IEEE 1815 §9.2.6); a
                    // stream of them is not a noisy line but an attack on the log.
                    self.bad_frames += 1;
                    if self.bad_frames == 1 {
                        notes.push(format!("link frame discarded: {e}"));
                    }
                    if self.bad_frames > MAX_BAD_FRAMES {
                        return Err(Closed::BadCrcs(self.bad_frames));
                    }
                    continue;
                }
            };
            let broadcast = frame.destination >= 0xFFFD;
            if !frame.control.primary || (frame.destination != self.address && !broadcast) {
                continue;
            }
            let master = frame.source;
            let address = self.address;
            let secondary = |f: u8| link::Frame {
                control: Control { from_master: false, primary: false, fcb: false, fcv: false, function: f },
                destination: master,
                source: address,
                data: Vec::new(),
            };
            match frame.control.function {
                function::REQUEST_LINK_STATUS => secondary(function::LINK_STATUS).emit(out),
                function::RESET_LINK_STATES | function::TEST_LINK_STATES => {
                    secondary(function::ACK).emit(out)
                }
                function::CONFIRMED_USER_DATA | function::UNCONFIRMED_USER_DATA => {
                    if frame.control.function == function::CONFIRMED_USER_DATA {
                        secondary(function::ACK).emit(out);
                    }
                    let fragment = match self.reassembler.push(&frame.data) {
                        Ok(Some(f)) => f,
                        Ok(None) => continue,
                        Err(e) => return Err(Closed::Transport(e)),
                    };
                    let d = self.device;
                    let response =
                        operate(sim, devices, |sim, devices| devices.dnp3(sim, d, now.0 / 1000, &fragment));
                    if let Some((index, code)) = proto_dnp3::app::operated_crob(&fragment) {
                        let status = response.as_deref().and_then(proto_dnp3::app::crob_status);
                        let close = proto_dnp3::app::crob_closes(code).unwrap_or(false);
                        let operation = match d {
                            DeviceRef::LineRtu(_) => Operation::Valve { index, open: close },
                            _ => Operation::Crob {
                                feeder: match d {
                                    DeviceRef::Recloser(k) => {
                                        devices.reclosers.get(k).map_or(0, |r| r.load.0)
                                    }
                                    _ => 0,
                                },
                                close,
                            },
                        };
                        seen.push(Seen {
                            station: None,
                            operation,
                            outcome: status.map_or(Delivery::NoAnswer, Delivery::CrobStatus),
                        });
                    }
                    // Broadcasts are acted on but never answered (IEEE 1815 §9.2.5).
                    if let Some(resp) = response.filter(|_| !broadcast) {
                        let mut segs = Vec::new();
                        self.tx_seq = segment(&resp, self.tx_seq, &mut segs);
                        for s in segs {
                            link::Frame {
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
                            .emit(out);
                        }
                    }
                }
                _ => secondary(function::NOT_SUPPORTED).emit(out),
            }
        }
    }
}
