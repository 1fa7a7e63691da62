//! The range's network: connections between a client and a device's endpoint, the range
//! firewall, the IDS watching every payload, the capture's frame count; and live
//! connections, whose client is outside the range (a trainee's tool on a real socket).

use std::net::{Ipv4Addr, SocketAddrV4};

use devices::DeviceRef;
use exercise::CommandPoint;
use exercise::InjectWhen;
use exercise::Trigger;
use gridsim::sim::SimTime;
use proto_iec104::asdu::{cot, type_id};
use proto_iec104::{Asdu, Master, Value};

use crate::Range;
use crate::agenda::Task;
use crate::endpoint::{DeviceCtx, Endpoint, Seen};
use crate::journal::{ConnId, Delivery, Entry, Live, Operation, Protocol, Sender};
use crate::net::{Wire, WireEvent};

/// HTTP's port (a serial gateway's web server).
pub const HTTP_PORT: u16 = 80;

/// The range's network: its connections, what crossed it (for the shell to capture and
/// carry), the capture's frame count and the IDS that watches it.
#[derive(Debug)]
pub(crate) struct Net {
    pub(crate) conns: Vec<Conn>,
    pub(crate) wire: Vec<Wire>,
    /// Capture packets so far.
    pub(crate) packets: u64,
    /// Capture packets before the exchange the next command entry describes.
    pub(crate) mark: u64,
    pub(crate) next_port: u16,
    pub(crate) ids: ids::Ids,
    /// Alerts raised so far, and the rules that raised one.
    pub(crate) alerts: usize,
    pub(crate) rules_seen: Vec<&'static str>,
    /// What the shell should log about connections (why a device closed one, a frame it
    /// dropped): not journal entries, the operator's log.
    pub(crate) diagnostics: Vec<(ConnId, String)>,
}

impl Net {
    pub(crate) fn new(ids: ids::Ids) -> Net {
        Net {
            conns: Vec::new(),
            wire: Vec::new(),
            packets: 0,
            mark: 0,
            next_port: 40_000,
            ids,
            alerts: 0,
            rules_seen: Vec::new(),
            diagnostics: Vec::new(),
        }
    }
}

/// Where a command went: protocol, source, destination and IEC 104 station.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub protocol: Protocol,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub station: Option<u16>,
}

impl Route {
    /// To a device that has no IEC 104 station (Modbus, DNP3, HTTP, UDP).
    pub(crate) fn device(protocol: Protocol, src: Ipv4Addr, dst: Ipv4Addr) -> Route {
        Route { protocol, src, dst, station: None }
    }

    /// To an IEC 104 station.
    pub(crate) fn station(src: Ipv4Addr, dst: Ipv4Addr, station: u16) -> Route {
        Route { protocol: Protocol::Iec104, src, dst, station: Some(station) }
    }
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub id: ConnId,
    pub client: SocketAddrV4,
    pub server: SocketAddrV4,
    pub open: bool,
    /// The range's own IEC 104 client on it (the SCADA master's, the attacker's); none on a
    /// live connection or another protocol.
    pub master: Option<Master>,
    /// The client is outside the range.
    pub live: bool,
    pub endpoint: Endpoint,
    pub transaction: u16,
}

impl Range {
    pub(crate) fn record(&mut self, conn: usize, event: WireEvent) {
        let c = &self.net.conns[conn];
        let w = Wire { t: self.agenda.now, conn: c.id, client: c.client, server: c.server, event };
        let first = self.net.packets + 1;
        self.net.packets += w.packets();
        let payload = match &w.event {
            WireEvent::ToServer(b) => Some((c.client, c.server, b)),
            WireEvent::ToClient(b) => Some((c.server, c.client, b)),
            _ => None,
        };
        if let Some((src, dst, bytes)) = payload {
            self.net.ids.observe(&ids::Packet {
                number: first,
                t: self.agenda.now,
                src,
                dst,
                payload: bytes,
            });
            self.collect_alerts();
        }
        self.net.wire.push(w);
    }

    fn collect_alerts(&mut self) {
        for a in self.net.ids.take_alerts() {
            let rule = a.rule;
            self.net.alerts += 1;
            self.journal.push(Entry::Alert { alert: a });
            if !self.net.rules_seen.contains(&rule) {
                self.net.rules_seen.push(rule);
                self.trigger_injects(|w| match w {
                    InjectWhen::OnAlert { rule: r, delay } if r == rule => Some(*delay),
                    _ => None,
                });
                for i in 0..self.setup.cfg.rules.len() {
                    if let Trigger::OnAlert { rule: r, delay } = &self.setup.cfg.rules[i].trigger {
                        if r == rule {
                            let at = SimTime(self.agenda.now.0.saturating_add(delay.0));
                            self.agenda.schedule(at, Task::Defender(i));
                        }
                    }
                }
            }
        }
    }

    /// Opens a connection from `client` to the device at `server`; `Err` says why not (the
    /// firewall dropped it, or nothing answers there).
    pub(crate) fn connect(
        &mut self,
        client: SocketAddrV4,
        server: SocketAddrV4,
        endpoint: Endpoint,
        live: bool,
    ) -> Result<usize, Delivery> {
        if !self.world.firewall.permits(*client.ip(), *server.ip()) {
            return Err(Delivery::Blocked);
        }
        let id = self.net.conns.len() as ConnId + 1;
        let master = (!live && matches!(endpoint, Endpoint::Iec104(_))).then(Master::default);
        self.net.conns.push(Conn { id, client, server, open: true, master, live, endpoint, transaction: 0 });
        let c = self.net.conns.len() - 1;
        self.record(c, WireEvent::Open);
        if !self.world.devices.reachable(self.net.conns[c].endpoint.device()) {
            self.close(c, false);
            return Err(Delivery::Unreachable);
        }
        Ok(c)
    }

    /// A client port for the range's own clients (the ephemeral range).
    fn client_port(&mut self) -> u16 {
        let p = self.net.next_port;
        self.net.next_port = if self.net.next_port >= 60_000 { 40_000 } else { self.net.next_port + 1 };
        p
    }

    pub(crate) fn close(&mut self, c: usize, by_client: bool) {
        if self.net.conns[c].open {
            self.net.conns[c].open = false;
            self.record(c, WireEvent::Close { by_client });
            self.net.ids.closed(self.net.conns[c].client, self.net.conns[c].server);
        }
    }

    /// Bytes from the client of connection `c` into its endpoint; what the device answers is
    /// recorded. Returns the answer and the commands the device saw; the connection closes
    /// when the device closes it.
    fn deliver(&mut self, c: usize, bytes: Vec<u8>) -> (Vec<u8>, Vec<Seen>) {
        self.record(c, WireEvent::ToServer(bytes.clone()));
        let mut x = crate::endpoint::Exchange::default();
        let ctx =
            DeviceCtx { now: self.agenda.now, sim: &mut self.world.sim, devices: &mut self.world.devices };
        let result = self.net.conns[c].endpoint.receive(ctx, &bytes, &mut x);
        let id = self.net.conns[c].id;
        self.net.diagnostics.extend(x.notes.into_iter().map(|n| (id, n)));
        if !x.out.is_empty() {
            self.record(c, WireEvent::ToClient(x.out.clone()));
        }
        if let Err(reason) = result {
            self.net.diagnostics.push((id, reason.to_string()));
            self.close(c, false);
        }
        (x.out, x.seen)
    }

    /// Time passes on every open connection: IEC 104 timers and spontaneous reports, which
    /// the range's own masters read and acknowledge; a device that went dark drops its
    /// connections.
    pub(crate) fn pump_endpoints(&mut self) {
        for c in 0..self.net.conns.len() {
            if !self.net.conns[c].open {
                continue;
            }
            if !self.world.devices.reachable(self.net.conns[c].endpoint.device()) {
                self.net
                    .diagnostics
                    .push((self.net.conns[c].id, "the device went dark (unpowered or bricked)".into()));
                self.close(c, false);
                continue;
            }
            let mut out = Vec::new();
            let now = self.agenda.now;
            let polled = self.net.conns[c].endpoint.poll(now, &self.world.devices, &mut out);
            if !out.is_empty() {
                self.record(c, WireEvent::ToClient(out.clone()));
                self.master_reads(c, &out);
            }
            if let Err(reason) = polled {
                self.net.diagnostics.push((self.net.conns[c].id, reason.to_string()));
                self.close(c, false);
            }
        }
    }

    /// The range's own master reads what its station sent and answers (acknowledgements),
    /// until both sides are quiet. The ASDUs it received go to the SCADA point database.
    fn master_reads(&mut self, c: usize, from_station: &[u8]) -> Vec<Vec<u8>> {
        let mut received = Vec::new();
        let mut from_station = from_station.to_vec();
        for _ in 0..10_000 {
            let Some(master) = self.net.conns[c].master.as_mut() else { break };
            let mut asdus = Vec::new();
            let reply = master.receive(&from_station, &mut asdus);
            received.extend(asdus);
            if reply.is_empty() || !self.net.conns[c].open {
                break;
            }
            (from_station, _) = self.deliver(c, reply);
            if from_station.is_empty() {
                break;
            }
        }
        if self.scada.owns(c) {
            self.scada.update(self.agenda.now, &received);
        }
        received
    }

    /// Sends IEC 104 bytes from the range's master on connection `c` and runs the exchange
    /// until both sides are quiet. Returns the ASDUs the master received.
    pub(crate) fn exchange104(&mut self, c: usize, to_station: Vec<u8>) -> Vec<Vec<u8>> {
        if !self.net.conns[c].open {
            return Vec::new();
        }
        let (out, _) = self.deliver(c, to_station);
        if out.is_empty() {
            return Vec::new();
        }
        self.master_reads(c, &out)
    }

    /// Connects an IEC 104 master to the RTU with common address `ca` and starts data transfer.
    pub(crate) fn open104(&mut self, client: Ipv4Addr, ca: u16) -> Result<usize, Delivery> {
        self.open104_with(client, ca, &[])
    }

    /// `open104`, with U-frames sent before STARTDT (Industroyer2 tests the link first).
    pub(crate) fn open104_with(
        &mut self,
        client: Ipv4Addr,
        ca: u16,
        before: &[proto_iec104::UFunction],
    ) -> Result<usize, Delivery> {
        let rtu = self
            .world
            .devices
            .rtus
            .iter()
            .position(|r| r.station.common_address == ca)
            .ok_or(Delivery::NoDevice)?;
        let addr = self.world.devices.rtus[rtu].addr;
        let endpoint = Endpoint::iec104(rtu, self.agenda.now, &self.world.devices);
        let port = self.client_port();
        let c = self.connect(
            SocketAddrV4::new(client, port),
            SocketAddrV4::new(addr, proto_iec104::PORT),
            endpoint,
            false,
        )?;
        for &f in before {
            let mut u = Vec::new();
            proto_iec104::Frame::u(f).emit(&mut u);
            self.exchange104(c, u);
        }
        let start = self.net.conns[c].master.as_ref().map(Master::startdt).unwrap_or_default();
        self.exchange104(c, start);
        if self.net.conns[c].open { Ok(c) } else { Err(Delivery::NoAnswer) }
    }

    /// Sends one ASDU from the master of connection `c`; the ASDUs that came back.
    pub(crate) fn send104(&mut self, c: usize, asdu: &Asdu) -> Vec<Vec<u8>> {
        let mut raw = Vec::new();
        asdu.emit(&mut raw);
        let Some(master) = self.net.conns[c].master.as_mut() else { return Vec::new() };
        let bytes = master.send(raw);
        self.exchange104(c, bytes)
    }

    /// A double command through connection `c`, select then execute (or direct): whether the
    /// station confirmed it positively.
    pub(crate) fn double_command(&mut self, c: usize, p: CommandPoint, close: bool, select: bool) -> bool {
        let state = if close { 2 } else { 1 };
        let phases: &[bool] = if select { &[true, false] } else { &[false] };
        for &sel in phases {
            let asdu = Asdu::new(
                cot::ACTIVATION,
                p.station,
                vec![(p.ioa, Value::DoubleCommand { state, select: sel, qualifier: 0 })],
            );
            let back = self.send104(c, &asdu);
            let confirmed = back
                .iter()
                .filter_map(|b| Asdu::parse(b).ok())
                .any(|a| a.type_id == type_id::C_DC_NA_1 && a.cause == cot::ACTIVATION_CON && !a.negative);
            if !confirmed {
                return false;
            }
        }
        true
    }

    /// A Modbus request from `client` to the device at `addr`, on a connection of its own;
    /// how the device answered.
    pub(crate) fn modbus(
        &mut self,
        client: Ipv4Addr,
        addr: Ipv4Addr,
        request: proto_modbus::Request<'_>,
    ) -> Delivery {
        let Some(d) = self.world.devices.at(addr) else { return Delivery::NoDevice };
        if !d.speaks_modbus() {
            return Delivery::NoDevice;
        }
        let port = self.client_port();
        let c = match self.connect(
            SocketAddrV4::new(client, port),
            SocketAddrV4::new(addr, proto_modbus::PORT),
            Endpoint::modbus(d),
            false,
        ) {
            Ok(c) => c,
            Err(e) => return e,
        };
        self.net.conns[c].transaction = self.net.conns[c].transaction.wrapping_add(1);
        let mut pdu = Vec::new();
        request.emit(&mut pdu);
        let mut adu = Vec::new();
        proto_modbus::adu::emit(self.net.conns[c].transaction, 1, &pdu, &mut adu);
        let (answer, _) = self.deliver(c, adu);
        let outcome = match answer.get(proto_modbus::adu::HEADER_LEN..) {
            Some(pdu) if pdu.first().is_some_and(|f| f & 0x80 != 0) => {
                Delivery::Exception(pdu.get(1).copied().unwrap_or(0))
            }
            Some([_, ..]) => Delivery::Accepted,
            _ => Delivery::NoAnswer,
        };
        self.close(c, true);
        outcome
    }

    /// A DNP3 request fragment from `client` to recloser `k`, in link frames; the CROB
    /// status the outstation answered.
    pub(crate) fn dnp3(&mut self, client: Ipv4Addr, k: usize, fragment: &[u8]) -> Delivery {
        self.dnp3_to(client, DeviceRef::Recloser(k), fragment)
    }

    /// A DNP3 request fragment from `client` to a DNP3 device (a recloser, a line RTU).
    pub(crate) fn dnp3_to(&mut self, client: Ipv4Addr, d: DeviceRef, fragment: &[u8]) -> Delivery {
        let addr = match d {
            DeviceRef::Recloser(k) => self.world.devices.reclosers[k].addr,
            DeviceRef::LineRtu(k) => match self.world.devices.pipe.as_ref().and_then(|p| p.rtus.get(k)) {
                Some(r) => r.addr,
                None => return Delivery::NoDevice,
            },
            _ => return Delivery::NoDevice,
        };
        let Some(destination) = self.world.devices.dnp3_address(d) else { return Delivery::NoDevice };
        let port = self.client_port();
        let endpoint = Endpoint::dnp3(d, &self.world.devices);
        let c = match self.connect(
            SocketAddrV4::new(client, port),
            SocketAddrV4::new(addr, proto_dnp3::PORT),
            endpoint,
            false,
        ) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let request = dnp3_frames(fragment, destination, 1, true);
        let (answer, seen) = self.deliver(c, request);
        let outcome = seen
            .first()
            .map_or(if answer.is_empty() { Delivery::NoAnswer } else { Delivery::Accepted }, |s| s.outcome);
        self.close(c, true);
        outcome
    }

    /// Opens an HTTP connection to a gateway (its web server takes the upload).
    pub(crate) fn open_http(&mut self, client: Ipv4Addr, gateway: usize) -> Result<usize, Delivery> {
        let addr = self.world.devices.gateways[gateway].addr;
        let port = self.client_port();
        self.connect(
            SocketAddrV4::new(client, port),
            SocketAddrV4::new(addr, HTTP_PORT),
            Endpoint::Http { gateway },
            false,
        )
    }

    /// A UDP datagram from `client` to `server`: past the firewall it is on the wire (the
    /// capture, the IDS); a SIPROTEC relay at its port 50000 hangs on the CVE-2015-5374
    /// packet (answers nothing, protection out of service) until rebooted by hand.
    pub(crate) fn datagram(&mut self, client: Ipv4Addr, server: SocketAddrV4, bytes: Vec<u8>) -> Delivery {
        if !self.world.firewall.permits(client, *server.ip()) {
            return Delivery::Blocked;
        }
        let client = SocketAddrV4::new(client, self.client_port());
        let w = Wire { t: self.agenda.now, conn: 0, client, server, event: WireEvent::Datagram(bytes) };
        let number = self.net.packets + 1;
        self.net.packets += w.packets();
        let WireEvent::Datagram(bytes) = &w.event else { return Delivery::Sent };
        self.net.ids.observe_datagram(&ids::Packet {
            number,
            t: self.agenda.now,
            src: client,
            dst: server,
            payload: bytes,
        });
        self.collect_alerts();
        let dos = server.port() == ids::SIPROTEC_PORT && ids::is_siprotec_dos(bytes);
        self.net.wire.push(w);
        let Some(d) = self.world.devices.at(*server.ip()) else { return Delivery::NoDevice };
        if !self.world.devices.reachable(d) {
            return Delivery::Unreachable;
        }
        if let (DeviceRef::Relay(i), true) = (d, dos) {
            self.world.devices.set_state(*server.ip(), |s| s.hung = true);
            let row = self.world.devices.relays[i].row;
            self.world.hung.insert(*server.ip(), self.world.sim.branch_protection(row).unwrap_or(true));
            let el = gridsim::sim::Element::Branch(row);
            let _ = self.world.sim.apply(&gridsim::sim::Command::Protection(el, false));
            self.journal.push(Entry::Device {
                t: self.agenda.now,
                device: self.world.devices.relays[i].name.clone(),
                addr: *server.ip(),
                change: crate::journal::DeviceChange::Hung,
            });
        }
        Delivery::Sent
    }

    pub(crate) fn send_raw(&mut self, c: usize, to_server: bool, bytes: Vec<u8>) {
        self.record(c, if to_server { WireEvent::ToServer(bytes) } else { WireEvent::ToClient(bytes) });
    }

    /// A command exchange, journaled with the capture frames it put on the wire since the
    /// last mark. `step`: the campaign's step that sent it, if any.
    pub(crate) fn command_entry(
        &mut self,
        step: Option<&str>,
        by: Sender,
        route: Route,
        operation: Operation,
        outcome: Delivery,
    ) {
        let Route { protocol, src, dst, station } = route;
        let frames = (self.net.packets > self.net.mark).then_some((self.net.mark + 1, self.net.packets));
        self.net.mark = self.net.packets;
        self.journal.push(Entry::Command {
            t: self.agenda.now,
            protocol,
            src,
            dst,
            station,
            operation,
            by,
            step: step.map(str::to_string),
            outcome,
            frames,
        });
    }

    // ---- live connections ------------------------------------------------------------

    /// What arrived on a live connection, applied now and journaled as an input. `Open`
    /// returns the id the range gives the connection (`Err`: refused, and why). The device's
    /// answers are in `take_wire` (`WireEvent::ToClient` of that connection), and a
    /// `WireEvent::Close` says the device closed it.
    pub fn live(&mut self, live: Live) -> Result<Option<ConnId>, Delivery> {
        if self.agenda.finished {
            return Err(Delivery::NoAnswer);
        }
        let t = self.agenda.now;
        match &live {
            Live::Open { client, server } => {
                let result = self.live_open(*client, *server);
                let conn = result.as_ref().ok().map(|&c| self.net.conns[c].id);
                self.journal.push(Entry::Live { t, live, conn });
                result.map(|_| conn)
            }
            Live::Data { conn, bytes } => {
                let Some(c) = self.live_conn(*conn) else {
                    return Err(Delivery::NoAnswer);
                };
                let bytes = bytes.clone();
                self.journal.push(Entry::Live { t, live, conn: None });
                self.net.mark = self.net.packets;
                let (_, seen) = self.deliver(c, bytes);
                let (client, server) = (*self.net.conns[c].client.ip(), *self.net.conns[c].server.ip());
                let protocol = match self.net.conns[c].endpoint {
                    Endpoint::Iec104(_) => Protocol::Iec104,
                    Endpoint::Modbus(_) => Protocol::Modbus,
                    Endpoint::Dnp3(_) => Protocol::Dnp3,
                    Endpoint::Http { .. } => Protocol::Http,
                };
                for s in seen {
                    self.command_entry(
                        None,
                        Sender::External,
                        Route { protocol, src: client, dst: server, station: s.station },
                        s.operation,
                        s.outcome,
                    );
                }
                Ok(None)
            }
            Live::Close { conn } => {
                let Some(c) = self.live_conn(*conn) else {
                    return Err(Delivery::NoAnswer);
                };
                self.journal.push(Entry::Live { t, live, conn: None });
                self.close(c, true);
                Ok(None)
            }
        }
    }

    fn live_conn(&self, id: ConnId) -> Option<usize> {
        let c = (id as usize).checked_sub(1)?;
        let conn = self.net.conns.get(c)?;
        (conn.live && conn.open).then_some(c)
    }

    fn live_open(&mut self, client: SocketAddrV4, server: SocketAddrV4) -> Result<usize, Delivery> {
        let d = self.world.devices.at(*server.ip()).ok_or(Delivery::NoDevice)?;
        let endpoint = match (d, server.port()) {
            (DeviceRef::Rtu(i), proto_iec104::PORT) => {
                Endpoint::iec104(i, self.agenda.now, &self.world.devices)
            }
            (d, proto_modbus::PORT) if d.speaks_modbus() => Endpoint::modbus(d),
            (DeviceRef::Recloser(_) | DeviceRef::LineRtu(_), proto_dnp3::PORT) => {
                Endpoint::dnp3(d, &self.world.devices)
            }
            _ => return Err(Delivery::NoDevice),
        };
        self.connect(client, server, endpoint, true)
    }
}

/// A DNP3 application fragment in link frames (one transport segment per frame).
pub(crate) fn dnp3_frames(app: &[u8], destination: u16, source: u16, from_master: bool) -> Vec<u8> {
    let mut segs = Vec::new();
    proto_dnp3::transport::segment(app, 0, &mut segs);
    let mut out = Vec::new();
    for s in segs {
        proto_dnp3::link::Frame {
            control: proto_dnp3::link::Control {
                from_master,
                primary: true,
                fcb: false,
                fcv: false,
                function: proto_dnp3::link::function::UNCONFIRMED_USER_DATA,
            },
            destination,
            source,
            data: s,
        }
        .emit(&mut out);
    }
    out
}
