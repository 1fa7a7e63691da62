//! The attack campaign: each step at its time (seeded jitter, `unless` conditions), with
//! real frames from the attacker's address, or through the SCADA master's own session for
//! the HMI hijack.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use exercise::{Action as StepAction, CommandPoint, InjectWhen, Unless, When};
use gridsim::sim::SimTime;
use proto_iec104::asdu::{cot, type_id};
use proto_iec104::{Asdu, Value};
use proto_modbus::Request;

use crate::agenda::Task;
use crate::journal::{Delivery, DeviceChange, Entry, Operation, Protocol, Sender};
use crate::network::Route;
use crate::{Range, next_random};

/// A configured IEC 104 sequence to one station (`exercise::Action::Iec104Sequence`).
struct Sequence<'a> {
    from: &'a str,
    station: u16,
    interrogate: bool,
    double: bool,
    select: bool,
    ioas: &'a [u32],
    close: bool,
}

/// The attacker's progress.
#[derive(Debug)]
pub(crate) struct Campaign {
    /// When each attack step started.
    pub(crate) started: BTreeMap<String, SimTime>,
    /// Steps an instructor skipped.
    pub(crate) skipped: Vec<String>,
    /// Per sweep step: the IOAs that answered positively.
    pub(crate) swept: BTreeMap<usize, Vec<u32>>,
    /// Breakers the attack opened.
    pub(crate) opened_by_attack: Vec<CommandPoint>,
    /// The run's randomness (splitmix64 state, from the seed).
    pub(crate) rng: u64,
}

impl Campaign {
    pub(crate) fn new(seed: u64) -> Campaign {
        Campaign {
            started: BTreeMap::new(),
            skipped: Vec::new(),
            swept: BTreeMap::new(),
            opened_by_attack: Vec::new(),
            rng: seed ^ 0x1C5_2A4E,
        }
    }
}

impl Range {
    fn prevented(&self, unless: &[Unless]) -> Option<String> {
        for u in unless {
            match u {
                Unless::AccountDisabled(a) if self.defence.disabled.contains(a) => {
                    return Some(format!("account {a} is disabled"));
                }
                Unless::Cleaned(h) if self.defence.cleaned.contains(h) => {
                    return Some(format!("{h} was cleaned"));
                }
                Unless::Blocked(h) => {
                    let addr = self.host_addr(h);
                    if self.defence.blocked.iter().any(|p| p.contains(addr)) {
                        return Some(format!("{h} ({addr}) is blocked at the firewall"));
                    }
                }
                _ => {}
            }
        }
        None
    }

    pub(crate) fn start_step(&mut self, i: usize) {
        let step = self.setup.ex.attack[i].clone();
        if self.campaign.started.contains_key(&step.id) {
            return;
        }
        // A step that follows another happens only if that one did.
        let after_prevented = match &step.when {
            When::After { step: before, .. } if !self.campaign.started.contains_key(before) => {
                Some(format!("it follows `{before}`, which did not happen"))
            }
            _ => None,
        };
        let skipped =
            self.campaign.skipped.contains(&step.id).then(|| "an instructor skipped it".to_string());
        if let Some(reason) = skipped.or(after_prevented).or_else(|| self.prevented(&step.unless)) {
            self.journal.push(Entry::AttackPrevented { t: self.agenda.now, step: step.id.clone(), reason });
            return;
        }
        self.campaign.started.insert(step.id.clone(), self.agenda.now);
        let id = step.id.clone();
        self.trigger_injects(|w| match w {
            InjectWhen::AfterStep { step, delay } if *step == id => Some(*delay),
            _ => None,
        });
        self.journal.push(Entry::Attack {
            t: self.agenda.now,
            step: step.id.clone(),
            name: step.name.clone(),
            kind: step.action.kind(),
            techniques: step.techniques.clone(),
            on_wire: step.action.on_wire(),
        });
        let sid = Some(step.id.as_str());
        match &step.action {
            StepAction::It(ev) => {
                self.journal.push(Entry::It {
                    t: self.agenda.now,
                    step: step.id.clone(),
                    event: ev.kind.clone(),
                    host: ev.host.clone(),
                    account: ev.account.clone(),
                    src: ev.from.as_deref().map(|h| self.host_addr(h)),
                    artefact: self.fill(&ev.artefact),
                });
            }
            StepAction::HmiHijack { targets, spread, .. }
            | StepAction::Iec104Commands { targets, spread, .. } => {
                let n = targets.len();
                for k in 0..n {
                    let offset = if n > 1 { spread.0 / (n as u64 - 1) * k as u64 } else { 0 };
                    self.agenda.schedule(
                        SimTime(self.agenda.now.0.saturating_add(offset)),
                        Task::StepCommand { step: i, target: k },
                    );
                }
            }
            StepAction::IoaSweep { from, station, double, first, last, period, toggles } => {
                let src = self.host_addr(from);
                let mut found = Vec::new();
                let operation = Operation::Sweep { double: *double, first: *first, last: *last };
                let outcome = match self.open104(src, *station) {
                    Ok(c) => {
                        for ioa in *first..=*last {
                            let value = if *double {
                                Value::DoubleCommand { state: 1, select: true, qualifier: 0 }
                            } else {
                                Value::SingleCommand { on: false, select: true, qualifier: 0 }
                            };
                            let asdu = Asdu::new(cot::ACTIVATION, *station, vec![(ioa, value)]);
                            let back = self.send104(c, &asdu);
                            let positive = back
                                .iter()
                                .filter_map(|b| Asdu::parse(b).ok())
                                .any(|a| a.cause == cot::ACTIVATION_CON && !a.negative);
                            if positive {
                                found.push(ioa);
                            }
                            if !self.net.conns[c].open {
                                break;
                            }
                        }
                        self.close(c, true);
                        Delivery::Swept(found.len() as u32)
                    }
                    Err(why) => why,
                };
                let dst = self.station_addr(*station);
                self.command_entry(
                    sid,
                    Sender::Attacker,
                    Route::station(src, dst, *station),
                    operation,
                    outcome,
                );
                self.campaign.swept.insert(i, found);
                for round in 0..*toggles {
                    self.agenda.schedule(
                        SimTime(
                            self.agenda.now.0.saturating_add(period.0.saturating_mul(u64::from(round) + 1)),
                        ),
                        Task::Toggle { step: i, round },
                    );
                }
            }
            StepAction::Iec104Sequence { from, station, interrogate, double, select, ioas, close } => {
                let seq = Sequence {
                    from,
                    station: *station,
                    interrogate: *interrogate,
                    double: *double,
                    select: *select,
                    ioas,
                    close: *close,
                };
                self.iec104_sequence(sid, seq);
            }
            StepAction::SiprotecDos { from, devices } => {
                let src = self.host_addr(from);
                for device in devices {
                    let addr = device.in_block(self.setup.cfg.base);
                    let dos = ids::SIPROTEC_DOS.to_vec();
                    let outcome =
                        self.datagram(src, std::net::SocketAddrV4::new(addr, ids::SIPROTEC_PORT), dos);
                    let op = Operation::Datagram {
                        port: ids::SIPROTEC_PORT,
                        bytes: ids::SIPROTEC_DOS.len() as u16,
                        dos: true,
                    };
                    self.command_entry(
                        sid,
                        Sender::Attacker,
                        Route::device(Protocol::Udp, src, addr),
                        op,
                        outcome,
                    );
                }
            }
            StepAction::Dnp3Operate { from, feeders, close } => {
                let src = self.host_addr(from);
                for f in feeders {
                    self.dnp3_operate(&step.id, src, *f, *close);
                }
            }
            StepAction::ModbusWrite { from, device, coil, value } => {
                let src = self.host_addr(from);
                let addr = device.in_block(self.setup.cfg.base);
                let outcome =
                    self.modbus(src, addr, Request::WriteSingleCoil { address: *coil, value: *value });
                let op = Operation::WriteCoil { coil: *coil, value: *value };
                self.command_entry(
                    sid,
                    Sender::Attacker,
                    Route::device(Protocol::Modbus, src, addr),
                    op,
                    outcome,
                );
            }
            StepAction::ModbusRegister { from, device, register, value } => {
                let src = self.host_addr(from);
                let addr = device.in_block(self.setup.cfg.base);
                let outcome = self.modbus(
                    src,
                    addr,
                    Request::WriteSingleRegister { address: *register, value: *value },
                );
                let op = Operation::Write { function: 6, address: *register, count: 1 };
                self.command_entry(
                    sid,
                    Sender::Attacker,
                    Route::device(Protocol::Modbus, src, addr),
                    op,
                    outcome,
                );
            }
            StepAction::Dnp3Valve { from, device, index, open } => {
                let src = self.host_addr(from);
                let addr = device.in_block(self.setup.cfg.base);
                self.valve_crob(sid, Sender::Attacker, src, addr, *index, *open);
            }
            StepAction::SisProgram { from, change } => {
                let src = self.host_addr(from);
                self.sis_program(sid, src, change.as_ref());
            }
            StepAction::ModbusRestart { from, device } => {
                let src = self.host_addr(from);
                let addr = device.in_block(self.setup.cfg.base);
                let outcome = self.modbus(src, addr, Request::Diagnostics { sub_function: 1, data: &[0, 0] });
                self.command_entry(
                    sid,
                    Sender::Attacker,
                    Route::device(Protocol::Modbus, src, addr),
                    Operation::Restart,
                    outcome,
                );
            }
            StepAction::Firmware { from, substations } => {
                let src = self.host_addr(from);
                for s in substations {
                    self.firmware(&step.id, src, s);
                }
            }
            StepAction::UpsOff { from, substations } => {
                let src = self.host_addr(from);
                for s in substations {
                    let Some(u) =
                        self.world.devices.upss.iter().find(|u| u.name == format!("{s} UPS")).map(|u| u.addr)
                    else {
                        continue;
                    };
                    let outcome = self.modbus(src, u, Request::WriteSingleCoil { address: 0, value: false });
                    let op = Operation::WriteCoil { coil: 0, value: false };
                    self.command_entry(
                        sid,
                        Sender::Attacker,
                        Route::device(Protocol::Modbus, src, u),
                        op,
                        outcome,
                    );
                }
            }
            StepAction::ServiceStop { host, process, artefact } => {
                if *host == self.setup.ex.scada.host {
                    self.scada_wiped();
                }
                let addr = self.host_addr(host);
                self.journal.push(Entry::It {
                    t: self.agenda.now,
                    step: step.id.clone(),
                    event: "service_stop".into(),
                    host: host.clone(),
                    account: None,
                    src: None,
                    artefact: self.fill(artefact),
                });
                self.journal.push(Entry::Device {
                    t: self.agenda.now,
                    device: format!("{host} ({process})"),
                    addr,
                    change: DeviceChange::ServiceStopped,
                });
            }
            StepAction::Wipe { host } => {
                self.scada_wiped();
                let addr = self.host_addr(host);
                self.journal.push(Entry::Device {
                    t: self.agenda.now,
                    device: host.clone(),
                    addr,
                    change: DeviceChange::Wiped,
                });
            }
        }
    }

    /// A configured IEC 104 sequence to one station: TESTFR, STARTDT, a general
    /// interrogation if asked, a command per configured IOA with its fixed value, STOPDT.
    /// Each exchange is a command entry of the step (the capture frames it put on the wire).
    fn iec104_sequence(&mut self, sid: Option<&str>, seq: Sequence<'_>) {
        let Sequence { from, station, interrogate, double, select, ioas, close } = seq;
        let src = self.host_addr(from);
        let dst = self.station_addr(station);
        let c = match self.open104_with(src, station, &[proto_iec104::UFunction::TestFrAct]) {
            Ok(c) => c,
            Err(why) => {
                let op = Operation::Interrogation;
                self.command_entry(sid, Sender::Attacker, Route::station(src, dst, station), op, why);
                return;
            }
        };
        let confirmed = |back: &[Vec<u8>], type_id: u8| {
            back.iter()
                .filter_map(|b| Asdu::parse(b).ok())
                .any(|a| a.type_id == type_id && a.cause == cot::ACTIVATION_CON && !a.negative)
        };
        if interrogate {
            let asdu = Asdu::new(cot::ACTIVATION, station, vec![(0, Value::Interrogation { qoi: 20 })]);
            let back = self.send104(c, &asdu);
            let outcome =
                if confirmed(&back, type_id::C_IC_NA_1) { Delivery::Confirmed } else { Delivery::Refused };
            let op = Operation::Interrogation;
            self.command_entry(sid, Sender::Attacker, Route::station(src, dst, station), op, outcome);
        }
        for &ioa in ioas {
            if !self.net.conns[c].open {
                break;
            }
            let p = CommandPoint { station, ioa };
            let (ok, op) = if double {
                (self.double_command(c, p, close, select), Operation::Breaker { ioa, close, select })
            } else {
                let phases: &[bool] = if select { &[true, false] } else { &[false] };
                let mut ok = true;
                for &sel in phases {
                    let value = Value::SingleCommand { on: close, select: sel, qualifier: 0 };
                    let back = self.send104(c, &Asdu::new(cot::ACTIVATION, station, vec![(ioa, value)]));
                    ok = confirmed(&back, type_id::C_SC_NA_1);
                    if !ok {
                        break;
                    }
                }
                (ok, Operation::Single { ioa, on: close, select })
            };
            if ok && double && !close {
                self.campaign.opened_by_attack.push(p);
            }
            let outcome = if ok { Delivery::Confirmed } else { Delivery::Refused };
            self.command_entry(sid, Sender::Attacker, Route::station(src, dst, station), op, outcome);
        }
        if self.net.conns[c].open {
            let mut stop = Vec::new();
            proto_iec104::Frame::u(proto_iec104::UFunction::StopDtAct).emit(&mut stop);
            self.exchange104(c, stop);
        }
        self.close(c, true);
    }

    pub(crate) fn step_command(&mut self, i: usize, target: usize) {
        let step = self.setup.ex.attack[i].clone();
        if let Some(reason) = self.prevented(&step.unless) {
            // Report once per step.
            if !self
                .journal
                .iter()
                .any(|e| matches!(e, Entry::AttackPrevented { step: s, .. } if *s == step.id))
            {
                self.journal.push(Entry::AttackPrevented {
                    t: self.agenda.now,
                    step: step.id.clone(),
                    reason,
                });
            }
            return;
        }
        let sid = Some(step.id.as_str());
        match &step.action {
            StepAction::HmiHijack { targets, close, .. } => {
                let p = targets[target];
                let master = self.scada_addr();
                let outcome = match self.scada_conn(p.station) {
                    Some(c) => {
                        if self.double_command(c, p, *close, true) {
                            Delivery::Confirmed
                        } else {
                            Delivery::Refused
                        }
                    }
                    None => Delivery::NoSession,
                };
                if outcome == Delivery::Confirmed && !*close {
                    self.campaign.opened_by_attack.push(p);
                }
                let dst = self.station_addr(p.station);
                let op = Operation::Breaker { ioa: p.ioa, close: *close, select: true };
                self.command_entry(sid, Sender::Hijack, Route::station(master, dst, p.station), op, outcome);
            }
            StepAction::Iec104Commands { from, targets, close, select, .. } => {
                let p = targets[target];
                let src = self.host_addr(from);
                let outcome = match self.open104(src, p.station) {
                    Ok(c) => {
                        let ok = self.double_command(c, p, *close, *select);
                        self.close(c, true);
                        if ok && !*close {
                            self.campaign.opened_by_attack.push(p);
                        }
                        if ok { Delivery::Confirmed } else { Delivery::Refused }
                    }
                    Err(e) => e,
                };
                let dst = self.station_addr(p.station);
                let op = Operation::Breaker { ioa: p.ioa, close: *close, select: *select };
                self.command_entry(sid, Sender::Attacker, Route::station(src, dst, p.station), op, outcome);
            }
            _ => {}
        }
    }

    pub(crate) fn toggle(&mut self, i: usize, round: u32) {
        let step = self.setup.ex.attack[i].clone();
        if self.prevented(&step.unless).is_some() {
            return;
        }
        let StepAction::IoaSweep { from, station, double, .. } = &step.action else { return };
        let found = self.campaign.swept.get(&i).cloned().unwrap_or_default();
        if found.is_empty() {
            return;
        }
        let src = self.host_addr(from);
        let on = round % 2 == 1;
        let Ok(c) = self.open104(src, *station) else { return };
        for ioa in found {
            if *double {
                let p = CommandPoint { station: *station, ioa };
                if self.double_command(c, p, on, true) && !on {
                    self.campaign.opened_by_attack.push(p);
                }
                continue;
            }
            for sel in [true, false] {
                let asdu = Asdu::new(
                    cot::ACTIVATION,
                    *station,
                    vec![(ioa, Value::SingleCommand { on, select: sel, qualifier: 0 })],
                );
                self.send104(c, &asdu);
            }
        }
        self.close(c, true);
        let dst = self.station_addr(*station);
        self.command_entry(
            Some(&step.id),
            Sender::Attacker,
            Route::station(src, dst, *station),
            Operation::Toggle { round, double: *double, on },
            Delivery::Sent,
        );
    }

    fn dnp3_operate(&mut self, step: &str, src: Ipv4Addr, feeder: gridsim::BusId, close: bool) {
        let Some(k) = self.world.devices.reclosers.iter().position(|r| r.load == feeder) else { return };
        let addr = self.world.devices.reclosers[k].addr;
        let code = if close { proto_dnp3::app::crob::LATCH_ON } else { proto_dnp3::app::crob::LATCH_OFF };
        let fragment = proto_dnp3::app::crob_request(0, proto_dnp3::app::fc::DIRECT_OPERATE, 0, code);
        let outcome = self.dnp3(src, k, &fragment);
        let op = Operation::Crob { feeder: feeder.0, close };
        self.command_entry(
            Some(step),
            Sender::Attacker,
            Route::device(Protocol::Dnp3, src, addr),
            op,
            outcome,
        );
    }

    fn firmware(&mut self, step: &str, src: Ipv4Addr, substation: &str) {
        let Some(g) = self.world.devices.gateways.iter().position(|g| g.substation == substation) else {
            return;
        };
        let addr = self.world.devices.gateways[g].addr;
        let c = match self.open_http(src, g) {
            Ok(c) => c,
            Err(e) => {
                self.command_entry(
                    Some(step),
                    Sender::Attacker,
                    Route::device(Protocol::Http, src, addr),
                    Operation::Firmware,
                    e,
                );
                return;
            }
        };
        // A firmware image: a header, then filler derived from the seed (no real code).
        let mut image = b"\x7fFWIMG NPort-5150 v9.9 (corrupt)\n".to_vec();
        let mut state = self.setup.cfg.seed ^ u64::from(u32::from(addr));
        while image.len() < 16 * 1024 {
            image.extend_from_slice(&next_random(&mut state).to_le_bytes());
        }
        let mut request = format!(
            "POST /upgrade.cgi HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"firmware.rom\"\r\nContent-Length: {}\r\n\r\n",
            image.len()
        )
        .into_bytes();
        request.extend_from_slice(&image);
        self.send_raw(c, true, request);
        let body = "Firmware upgrade in progress; the device restarts.\r\n";
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        self.send_raw(c, false, response.into_bytes());
        self.close(c, false);
        self.world.devices.set_state(addr, |s| s.firmware_ok = false);
        self.command_entry(
            Some(step),
            Sender::Attacker,
            Route::device(Protocol::Http, src, addr),
            Operation::Firmware,
            Delivery::Accepted,
        );
        self.journal.push(Entry::Device {
            t: self.agenda.now,
            device: format!("{substation} serial gateway"),
            addr,
            change: DeviceChange::FirmwareCorrupt,
        });
    }

    /// A DIRECT_OPERATE CROB on a line RTU's valve, from `src`.
    pub(crate) fn valve_crob(
        &mut self,
        step: Option<&str>,
        by: Sender,
        src: Ipv4Addr,
        addr: Ipv4Addr,
        index: u16,
        open: bool,
    ) -> Delivery {
        let Some(d @ devices::DeviceRef::LineRtu(_)) = self.world.devices.at(addr) else {
            return Delivery::NoDevice;
        };
        let code = if open { proto_dnp3::app::crob::LATCH_ON } else { proto_dnp3::app::crob::LATCH_OFF };
        let fragment = proto_dnp3::app::crob_request(0, proto_dnp3::app::fc::DIRECT_OPERATE, index, code);
        let outcome = self.dnp3_to(src, d, &fragment);
        let op = Operation::Valve { index, open };
        self.command_entry(step, by, Route::device(Protocol::Dnp3, src, addr), op, outcome);
        outcome
    }

    /// Through the safety controller's engineering interface: the program read with FC 20,
    /// then (with a change) the modified image written back with FC 21, in records of at
    /// most 100 registers.
    fn sis_program(&mut self, step: Option<&str>, src: Ipv4Addr, change: Option<&exercise::ProgramChange>) {
        let Some((addr, image, stations, esd)) = self.world.devices.pipe.as_ref().and_then(|p| {
            let c = p.sis.as_ref()?;
            let s = p.sim.sis()?;
            let line = p.sim.pipeline();
            let stations: Vec<usize> =
                (0..line.joints.len()).filter(|&j| !line.joints[j].pumps.is_empty()).collect();
            let esd: Vec<bool> = line.valves.iter().map(|v| v.esd).collect();
            Some((c.addr, s.image().to_vec(), stations, esd))
        }) else {
            return;
        };
        // The controller's state first (key switch, checksums), as TRITON's tooling checked it.
        self.modbus(src, addr, Request::ReadInputRegisters { start: 0, count: 7 });
        let words = image.len().div_ceil(2);
        let mut record = 0;
        while record < words {
            let n = (words - record).min(100);
            let sub = [
                vec![6u8],
                1u16.to_be_bytes().to_vec(),
                (record as u16).to_be_bytes().to_vec(),
                (n as u16).to_be_bytes().to_vec(),
            ]
            .concat();
            let outcome = match Request::parse(&[&[0x14, 7][..], &sub].concat()) {
                Ok(req) => self.modbus(src, addr, req),
                Err(_) => Delivery::NoAnswer,
            };
            let op = Operation::ProgramRead { file: 1, records: n as u16 };
            self.command_entry(
                step,
                Sender::Attacker,
                Route::device(Protocol::Modbus, src, addr),
                op,
                outcome,
            );
            record += n;
        }
        let Some(change) = change else { return };
        let modified = match change {
            exercise::ProgramChange::Fault => {
                // The attackers' appended code: an image whose first function names a measure
                // the controller does not know, so its checks fail when it loads.
                let mut bad = image.clone();
                if bad.len() > 26 {
                    bad[26] = 0x7F;
                }
                bad
            }
            exercise::ProgramChange::Disable(tags) => {
                match pipesim::sis::decode(&image, &stations, &esd, f64::MAX) {
                    Ok(mut functions) => {
                        for f in &mut functions {
                            if tags.contains(&f.tag) {
                                f.enabled = false;
                            }
                        }
                        pipesim::sis::encode(&functions)
                    }
                    Err(_) => image.clone(),
                }
            }
        };
        let words: Vec<u16> =
            modified.chunks(2).map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])).collect();
        let mut record = 0;
        while record < words.len() {
            let n = (words.len() - record).min(100);
            let mut pdu = vec![0x15u8, (7 + 2 * n) as u8, 6];
            pdu.extend_from_slice(&1u16.to_be_bytes());
            pdu.extend_from_slice(&(record as u16).to_be_bytes());
            pdu.extend_from_slice(&(n as u16).to_be_bytes());
            for w in &words[record..record + n] {
                pdu.extend_from_slice(&w.to_be_bytes());
            }
            let outcome = match Request::parse(&pdu) {
                Ok(req) => self.modbus(src, addr, req),
                Err(_) => Delivery::NoAnswer,
            };
            let op = Operation::ProgramWrite { file: 1, records: n as u16 };
            self.command_entry(
                step,
                Sender::Attacker,
                Route::device(Protocol::Modbus, src, addr),
                op,
                outcome,
            );
            if !matches!(outcome, Delivery::Accepted) {
                break;
            }
            record += n;
        }
    }
}
