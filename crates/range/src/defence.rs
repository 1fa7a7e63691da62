//! Actions: `act(actor, action) -> Outcome`. Who may do what (a team's roles, an
//! instructor's controls), what each action does, and the entry it leaves: every action is
//! journaled with its actor and its outcome, refused ones included.

use devices::{Prefix, Rule};
use exercise::{CommandPoint, DefenderAction};
use gridsim::sim::{Element, SimTime};
use proto_modbus::Request;

use crate::Range;
use crate::agenda::Task;
use crate::journal::{
    Action, Actor, CrewStatus, Delivery, DeviceChange, Entry, Operation, Outcome, Protocol, Role, Sender,
};
use crate::network::Route;

/// What the defenders did to the range: hosts blocked and cleaned, accounts disabled, crews.
#[derive(Debug)]
pub(crate) struct Defence {
    /// Sources blocked at the firewall by an action (a host's address, or any prefix a
    /// trainee typed).
    pub(crate) blocked: Vec<Prefix>,
    /// Hosts the defenders cleaned.
    pub(crate) cleaned: Vec<String>,
    pub(crate) disabled: Vec<String>,
    /// Each field crew: when it is free, and the station it is at (empty: no crew limit).
    pub(crate) crews: Vec<(SimTime, Option<u16>)>,
}

impl Defence {
    pub(crate) fn new(crews: usize) -> Defence {
        Defence {
            blocked: Vec::new(),
            cleaned: Vec::new(),
            disabled: Vec::new(),
            crews: vec![(SimTime(0), None); crews],
        }
    }
}

/// Why an action is refused before it is tried (its text is the journal's `reason`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the attacker acts through the campaign, not through actions")]
    AttackerActsThroughCampaign,
    #[error("instructors run the exercise; the team plays it")]
    InstructorsRun,
    #[error("only an instructor controls the exercise")]
    OnlyInstructors,
    #[error("blocking and cleaning hosts, accounts and firmware are the analyst's")]
    AnalystsWork,
    #[error("operating the grid is the operator's")]
    OperatorsGrid,
    #[error("operating the line is the operator's")]
    OperatorsLine,
    #[error("no attack step `{0}`")]
    NoStep(String),
    #[error("step `{0}` has already started")]
    Started(String),
    #[error("this question is already answered")]
    Answered,
    #[error("no tries left for this question")]
    NoTriesLeft,
}

/// Whether `actor` may take `action`; the reason when not.
fn permitted(actor: &Actor, action: &Action) -> Result<(), Refusal> {
    let control = action.is_control();
    match actor {
        Actor::Attacker => Err(Refusal::AttackerActsThroughCampaign),
        Actor::Instructor { .. } if control => Ok(()),
        Actor::Instructor { .. } => Err(Refusal::InstructorsRun),
        Actor::User { .. } | Actor::Defender { .. } if control => Err(Refusal::OnlyInstructors),
        Actor::Defender { .. } => Ok(()),
        Actor::User { role, .. } => {
            let Action::Defend(d) = action else { return Ok(()) };
            let grid = matches!(
                d,
                DefenderAction::Operate { .. }
                    | DefenderAction::CloseOpened
                    | DefenderAction::DispatchCrew { .. }
                    | DefenderAction::UpsOn { .. }
                    | DefenderAction::Local { .. }
                    | DefenderAction::Reboot { .. }
                    | DefenderAction::AckAlarms
                    | DefenderAction::Alarms { .. }
            );
            let line = matches!(
                d,
                DefenderAction::Pump { .. }
                    | DefenderAction::Valve { .. }
                    | DefenderAction::SisKey { .. }
                    | DefenderAction::SisRestore
            );
            let security = matches!(
                d,
                DefenderAction::Block { .. }
                    | DefenderAction::DisableAccount { .. }
                    | DefenderAction::Clean { .. }
                    | DefenderAction::RestoreFirmware { .. }
            );
            match role {
                Role::Lead => Ok(()),
                Role::Operator if security => Err(Refusal::AnalystsWork),
                Role::Analyst if grid => Err(Refusal::OperatorsGrid),
                Role::Analyst if line => Err(Refusal::OperatorsLine),
                _ => Ok(()),
            }
        }
    }
}

/// Whether `team` may still answer `question`, from the journal: a question answered right
/// is closed; otherwise three tries (fewer than the options of a choice question less one),
/// so answers cannot be found by trying them all.
pub fn may_answer(
    ex: &exercise::Exercise,
    journal: &[Entry],
    team: &str,
    question: &str,
) -> Result<(), Refusal> {
    let q = ex.questions.iter().find(|q| q.id == question);
    let tries = match q.map(|q| &q.answer) {
        Some(exercise::Answer::Choice { options, .. }) => options.len().saturating_sub(1).clamp(1, 3),
        _ => 3,
    };
    let mut given = 0;
    for e in journal {
        if let Entry::Act {
            actor: Actor::User { team: t, .. },
            action: Action::Defend(DefenderAction::AnswerQuestion { question: qq, .. }),
            outcome: Outcome::Verdict { correct },
            ..
        } = e
        {
            if t == team && qq == question {
                if *correct {
                    return Err(Refusal::Answered);
                }
                given += 1;
            }
        }
    }
    if given >= tries { Err(Refusal::NoTriesLeft) } else { Ok(()) }
}

/// Fitting a spare serial-to-Ethernet converter and configuring it, once a crew is on site.
pub const GATEWAY_SPARE: SimTime = SimTime(3_600_000_000);

impl Range {
    /// Whether `team` may still answer `question` (`may_answer`).
    pub fn may_answer(&self, team: &str, question: &str) -> Result<(), Refusal> {
        may_answer(&self.setup.ex, &self.journal, team, question)
    }

    /// An actor's action, now: what it did, journaled with the actor and the outcome. The
    /// web platform calls this for trainees' and instructors' actions; scripted defenders go
    /// through it too.
    pub fn act(&mut self, actor: Actor, action: Action) -> Outcome {
        let t = self.agenda.now;
        // The entry goes first, so the consequences follow it; its outcome is filled in.
        let at = self.journal.len();
        self.journal.push(Entry::Act {
            t,
            actor: actor.clone(),
            action: action.clone(),
            outcome: Outcome::Accepted,
        });
        self.net.mark = self.net.packets;
        let outcome = if self.agenda.finished {
            Outcome::Refused("the exercise is over".into())
        } else {
            match permitted(&actor, &action) {
                Err(why) => Outcome::Refused(why.to_string()),
                Ok(()) => self.perform(&actor, action),
            }
        };
        if let Some(Entry::Act { outcome: o, .. }) = self.journal.get_mut(at) {
            *o = outcome.clone();
        }
        outcome
    }

    fn perform(&mut self, actor: &Actor, action: Action) -> Outcome {
        match action {
            Action::Defend(d) => self.defend(actor, d),
            Action::FireInject { inject } => {
                let Some(i) = self.setup.ex.injects.iter().position(|j| j.id == inject) else {
                    return Outcome::Refused(format!("no inject `{inject}`"));
                };
                self.agenda.injects_due[i] = true;
                self.agenda.unschedule(|task| *task == Task::Inject(i));
                self.deliver_inject(i);
                Outcome::Accepted
            }
            Action::SkipStep { step } => {
                if let Err(why) = self.not_started(&step) {
                    return Outcome::Refused(why.to_string());
                }
                if !self.campaign.skipped.contains(&step) {
                    self.campaign.skipped.push(step);
                }
                Outcome::Accepted
            }
            Action::TriggerStep { step } => {
                let i = match self.not_started(&step) {
                    Ok(i) => i,
                    Err(why) => return Outcome::Refused(why.to_string()),
                };
                self.agenda.unschedule(|task| *task == Task::Step(i));
                self.campaign.skipped.retain(|s| *s != step);
                self.start_step(i);
                Outcome::Accepted
            }
            Action::Pause | Action::Resume | Action::Speed { .. } => Outcome::Accepted,
        }
    }

    /// The index of attack step `step` if it has not started yet; why not otherwise.
    fn not_started(&self, step: &str) -> Result<usize, Refusal> {
        let i = self
            .setup
            .ex
            .attack
            .iter()
            .position(|s| s.id == step)
            .ok_or_else(|| Refusal::NoStep(step.to_string()))?;
        if self.campaign.started.contains_key(step) {
            return Err(Refusal::Started(step.to_string()));
        }
        Ok(i)
    }

    fn defend(&mut self, actor: &Actor, action: DefenderAction) -> Outcome {
        match action {
            DefenderAction::Operate { point, close } => Outcome::Command(self.operate(actor, point, close)),
            DefenderAction::CloseOpened => {
                let (mut commanded, mut crews) = (0, 0);
                for p in self.to_reclose() {
                    if self.operate(actor, p, true) == Delivery::Confirmed {
                        commanded += 1;
                    } else {
                        self.dispatch(p, true);
                        crews += 1;
                    }
                }
                Outcome::Reclose { commanded, crews }
            }
            DefenderAction::DispatchCrew { point, close } => {
                self.dispatch(point, close);
                Outcome::Accepted
            }
            DefenderAction::Block { host } => {
                // By id (a scripted defender) or by address (a trainee): the journal keeps the
                // name as given. A trainee's rule is a rule: any address or prefix they type.
                let source = match self.named_host(&host) {
                    Some(h) => Prefix { addr: h.addr.in_block(self.setup.cfg.base), len: 32 },
                    None => match host.parse::<Prefix>() {
                        Ok(p) if self.setup.cfg.hosts_by_address => p,
                        _ => return Outcome::Refused(format!("no host `{host}`")),
                    },
                };
                self.world.firewall.rules.insert(0, Rule { source, destination: None, allow: false });
                if !self.defence.blocked.contains(&source) {
                    self.defence.blocked.push(source);
                }
                for c in 0..self.net.conns.len() {
                    if self.net.conns[c].open && source.contains(*self.net.conns[c].client.ip()) {
                        self.close(c, false);
                    }
                }
                Outcome::Accepted
            }
            DefenderAction::DisableAccount { account } => {
                // Accounts on file only: a typo disables nothing and says so.
                if !self.setup.ex.accounts.iter().any(|a| a.id == account) {
                    return Outcome::Refused(format!("no account `{account}` on file"));
                }
                if !self.defence.disabled.contains(&account) {
                    self.defence.disabled.push(account);
                }
                Outcome::Accepted
            }
            DefenderAction::Clean { host } => {
                let Some(h) = self.named_host(&host) else {
                    return Outcome::Refused(format!("no host `{host}`"));
                };
                if !self.defence.cleaned.contains(&h.id) {
                    self.defence.cleaned.push(h.id.clone());
                }
                Outcome::Accepted
            }
            DefenderAction::RestoreFirmware { substation } => {
                if !self.world.devices.gateways.iter().any(|g| g.substation == substation) {
                    return Outcome::Refused(format!("no serial gateway at `{substation}`"));
                }
                // A bricked converter cannot be reflashed (its upload function is gone): a crew
                // fits a spare, an hour's work once it is on site.
                let due = self.crew_due(None, GATEWAY_SPARE);
                self.agenda.schedule(due, Task::FirmwareRestored(substation));
                Outcome::Accepted
            }
            DefenderAction::UpsOn { substation } => {
                let src = self.scada_addr();
                let Some(u) = self
                    .world
                    .devices
                    .upss
                    .iter()
                    .find(|u| u.name == format!("{substation} UPS"))
                    .map(|u| u.addr)
                else {
                    return Outcome::Refused(format!("no UPS at `{substation}`"));
                };
                let outcome = self.modbus(src, u, Request::WriteSingleCoil { address: 0, value: true });
                let op = Operation::WriteCoil { coil: 0, value: true };
                self.command_entry(
                    None,
                    Sender::Operator,
                    Route::device(Protocol::Modbus, src, u),
                    op,
                    outcome,
                );
                Outcome::Command(outcome)
            }
            DefenderAction::AckAlarms | DefenderAction::Alarms { .. } => Outcome::Accepted,
            DefenderAction::Pump { pump, run } => self.line_command(Some(&pump), None, run),
            DefenderAction::Valve { valve, open } => self.line_command(None, Some(&valve), open),
            DefenderAction::SisKey { key } => match self.world.devices.pipe.as_mut() {
                Some(p) => match p.sim.apply(&pipesim::Command::SisKey(key)) {
                    Ok(()) => Outcome::Accepted,
                    Err(e) => Outcome::Refused(e.to_string()),
                },
                None => Outcome::Refused("no pipeline".into()),
            },
            DefenderAction::SisRestore => {
                let Some(p) = self.world.devices.pipe.as_mut() else {
                    return Outcome::Refused("no pipeline".into());
                };
                let Some(cfg) = p.sim.pipeline().sis.clone() else {
                    return Outcome::Refused("no safety system".into());
                };
                // At the cabinet: key to PROGRAM, the commissioned program, reset, key to RUN.
                let image = pipesim::sis::encode(&cfg.functions);
                let _ = p.sim.apply(&pipesim::Command::SisKey(pipesim::sis::KeySwitch::Program));
                if let Err(e) = p.sim.apply(&pipesim::Command::SisDownload(image)) {
                    return Outcome::Refused(e.to_string());
                }
                for function in 0..cfg.functions.len() {
                    let _ = p.sim.apply(&pipesim::Command::SisBypass { function, on: false, local: true });
                }
                // Only trips whose demand has cleared reset (a download keeps each function's
                // demand in progress).
                let _ = p.sim.apply(&pipesim::Command::SisReset { local: true });
                let _ = p.sim.apply(&pipesim::Command::SisKey(pipesim::sis::KeySwitch::Run));
                Outcome::Accepted
            }
            DefenderAction::Local { device } => {
                let addr = device.in_block(self.setup.cfg.base);
                if self.world.devices.set_state(addr, |s| s.local = true).is_none() {
                    return Outcome::Refused(format!("no device at {addr}"));
                }
                self.journal.push(Entry::Device {
                    t: self.agenda.now,
                    device: addr.to_string(),
                    addr,
                    change: DeviceChange::Local,
                });
                Outcome::Accepted
            }
            DefenderAction::Reboot { device } => {
                let addr = device.in_block(self.setup.cfg.base);
                if self.world.devices.at(addr).is_none() {
                    return Outcome::Refused(format!("no device at {addr}"));
                }
                let due = self.crew_due(None, SimTime(0));
                self.agenda.schedule(due, Task::Reboot(addr));
                Outcome::Accepted
            }
            DefenderAction::Hint { question, index } => {
                let hint = self
                    .setup
                    .ex
                    .questions
                    .iter()
                    .find(|q| q.id == question)
                    .and_then(|q| q.hints.get(index))
                    .cloned();
                let Some(h) = hint else {
                    return Outcome::Refused(format!("no hint {index} for question `{question}`"));
                };
                let taken = self.journal.iter().any(
                    |e| matches!(e, Entry::Hint { question: q, index: i, .. } if *q == question && *i == index),
                );
                if !taken {
                    self.journal.push(Entry::Hint {
                        t: self.agenda.now,
                        question,
                        index,
                        cost: h.cost,
                        text: h.text.clone(),
                    });
                }
                Outcome::Hint { text: h.text, cost: if taken { 0.0 } else { h.cost } }
            }
            DefenderAction::AnswerQuestion { question, value } => {
                let Some(q) = self.setup.ex.questions.iter().find(|q| q.id == question) else {
                    return Outcome::Refused(format!("no question `{question}`"));
                };
                // A team's tries are the range's rule (the web asks first, for its answer's
                // status; two answers at once are decided here).
                if let Actor::User { team, .. } = actor {
                    if let Err(why) = may_answer(&self.setup.ex, &self.journal, team, &question) {
                        return Outcome::Refused(why.to_string());
                    }
                }
                let correct = crate::score::judge(&self.setup.ex, q, &value, &self.journal);
                self.journal.push(Entry::Answer { t: self.agenda.now, question, value });
                Outcome::Verdict { correct }
            }
            DefenderAction::Report { text } => {
                self.journal.push(Entry::Report { t: self.agenda.now, text });
                Outcome::Accepted
            }
        }
    }

    /// Breakers open now that the attack opened, or protection (UFLS, unit trips, relays)
    /// opened after it: branches first (to re-energise), then units, then feeders.
    fn to_reclose(&self) -> Vec<CommandPoint> {
        let mut elements: Vec<Element> =
            self.campaign.opened_by_attack.iter().filter_map(|&p| self.point_element(p)).collect();
        elements.extend(self.world.opened_by_protection.iter().copied());
        let rank = |el: &Element| match el {
            Element::Branch(_) => 0,
            Element::Gen(_) => 1,
            _ => 2,
        };
        elements.sort_by_key(|el| (rank(el), format!("{el}")));
        elements.dedup();
        let mut points = Vec::new();
        for el in elements {
            let open = match el {
                Element::Branch(r) => self.world.sim.branch_closed(r) == Some(false),
                Element::Gen(r) => self.world.sim.gen_closed(r) == Some(false),
                Element::Load(b) => {
                    let shed = self
                        .world
                        .sim
                        .case()
                        .bus_idx(b)
                        .and_then(|i| self.world.sim.load_shed(i))
                        .unwrap_or(0.0);
                    self.world.sim.load_closed(b) == Some(false) || shed > 0.0
                }
                Element::Island(_) => false,
            };
            if !open {
                continue;
            }
            // The point the attack opened it through, else the first RTU that commands it:
            // a crew goes where the attack went, one site for a station's breakers.
            let attacked =
                self.campaign.opened_by_attack.iter().copied().find(|&p| self.point_element(p) == Some(el));
            if let Some(p) = attacked.or_else(|| {
                self.world.devices.rtus.iter().find_map(|r| {
                    r.command_for(el).map(|ioa| CommandPoint { station: r.station.common_address, ioa })
                })
            }) {
                points.push((rank(&el), p));
            }
        }
        // Branches, then units, then feeders; within each, station by station.
        points.sort_by_key(|&(r, p)| (r, p.station, p.ioa));
        points.into_iter().map(|(_, p)| p).collect()
    }

    /// An operator's command through the HMI and the SCADA master: journaled in the HMI
    /// journal first (the correlation rule's input). How the station answered.
    fn operate(&mut self, actor: &Actor, p: CommandPoint, close: bool) -> Delivery {
        let master = self.scada_addr();
        let dst = self.station_addr(p.station);
        let op = Operation::Breaker { ioa: p.ioa, close, select: true };
        let Some(c) = self.scada_conn(p.station) else {
            self.command_entry(
                None,
                Sender::Operator,
                Route::station(master, dst, p.station),
                op,
                Delivery::NoSession,
            );
            return Delivery::NoSession;
        };
        self.journal.push(Entry::Hmi { t: self.agenda.now, actor: actor.clone(), point: p, close });
        self.net.ids.authorised(self.agenda.now, p.station, p.ioa);
        self.net.mark = self.net.packets;
        let outcome =
            if self.double_command(c, p, close, true) { Delivery::Confirmed } else { Delivery::Refused };
        self.command_entry(None, Sender::Operator, Route::station(master, dst, p.station), op, outcome);
        outcome
    }

    /// When a crew can have done a job at `site` (a station; none: a site of its own) that
    /// takes `work` once there: a crew already on or bound for the site takes it, else the
    /// crew that finishes first (ties: the lowest-numbered); it is busy until then.
    pub(crate) fn crew_due(&mut self, site: Option<u16>, work: SimTime) -> SimTime {
        let travel = self.setup.ex.crew_delay;
        if self.defence.crews.is_empty() {
            return SimTime(self.agenda.now.0.saturating_add(travel.0).saturating_add(work.0));
        }
        let now = self.agenda.now;
        let finish = |(free, at): (SimTime, Option<u16>)| {
            let start = free.max(now);
            let d = if site.is_some() && at == site { exercise::CREW_SAME_SITE } else { travel };
            SimTime(start.0.saturating_add(d.0).saturating_add(work.0))
        };
        // A crew already on (or bound for) the site takes the job; else the crew that can be
        // done first.
        let on_site = site.is_some() && self.defence.crews.iter().any(|c| c.1 == site);
        let (k, due) = self
            .defence
            .crews
            .iter()
            .enumerate()
            .filter(|(_, c)| !on_site || c.1 == site)
            .map(|(k, c)| (k, finish(*c)))
            .min_by_key(|&(k, due)| (due, k))
            .unwrap_or((0, SimTime(now.0.saturating_add(travel.0))));
        if let Some(c) = self.defence.crews.get_mut(k) {
            *c = (due, site);
        }
        due
    }

    fn dispatch(&mut self, p: CommandPoint, close: bool) {
        let due = self.crew_due(Some(p.station), SimTime(0));
        self.journal.push(Entry::Crew {
            t: self.agenda.now,
            point: p,
            close,
            status: CrewStatus::Dispatched { on_site: due },
        });
        self.agenda.schedule(due, Task::Crew { point: p, close });
    }

    /// A pump or a valve of the pipeline from the control room: through the SCADA host, a
    /// coil of its station's PLC over Modbus, or a CROB to its line RTU over DNP3.
    fn line_command(&mut self, pump: Option<&str>, valve: Option<&str>, on: bool) -> Outcome {
        let src = self.scada_addr();
        let Some(p) = self.world.devices.pipe.as_ref() else { return Outcome::Refused("no pipeline".into()) };
        let line = p.sim.pipeline();
        let target = if let Some(name) = pump {
            line.pump_index(name).and_then(|k| {
                p.stations.iter().find_map(|s| {
                    s.pumps.iter().position(|&x| x == k).map(|i| (s.addr, Some(i as u16), None))
                })
            })
        } else {
            valve.and_then(|name| line.valve_index(name)).and_then(|k| {
                p.stations
                    .iter()
                    .find_map(|s| {
                        s.valves.iter().position(|&x| x == k).map(|j| (s.addr, Some(8 + j as u16), None))
                    })
                    .or_else(|| {
                        p.rtus.iter().find_map(|r| {
                            r.valves.iter().position(|&x| x == k).map(|j| (r.addr, None, Some(j as u16)))
                        })
                    })
            })
        };
        let Some((addr, coil, index)) = target else {
            return Outcome::Refused(format!(
                "no {} `{}`",
                if pump.is_some() { "pump" } else { "valve" },
                pump.or(valve).unwrap_or("")
            ));
        };
        if let Some(coil) = coil {
            let outcome = self.modbus(src, addr, Request::WriteSingleCoil { address: coil, value: on });
            let op = Operation::WriteCoil { coil, value: on };
            self.command_entry(
                None,
                Sender::Operator,
                Route::device(Protocol::Modbus, src, addr),
                op,
                outcome,
            );
            Outcome::Command(outcome)
        } else {
            let outcome = self.valve_crob(None, Sender::Operator, src, addr, index.unwrap_or(0), on);
            Outcome::Command(outcome)
        }
    }
}
