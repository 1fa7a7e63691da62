//! The agenda: what waits for its time (campaign steps and their commands, injects, the
//! scripted defender's timed rules, crews on their way, firmware being restored), ordered by
//! (time, insertion).

use std::collections::BTreeMap;

use exercise::{CommandPoint, DefenderAction, InjectWhen, Trigger, When};
use gridsim::sim::{Command, SimTime};

use crate::journal::{CrewStatus, DeviceChange, Entry};
use crate::{Range, next_random};

/// What waits for its time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Task {
    Step(usize),
    /// One command of a multi-target step.
    StepCommand {
        step: usize,
        target: usize,
    },
    /// One toggle round of an IOA sweep.
    Toggle {
        step: usize,
        round: u32,
    },
    Defender(usize),
    Inject(usize),
    Crew {
        point: CommandPoint,
        close: bool,
    },
    FirmwareRestored(String),
    /// A crew on site reboots a device by hand.
    Reboot(std::net::Ipv4Addr),
}

/// Simulated time and what waits for it.
#[derive(Debug)]
pub(crate) struct Agenda {
    pub(crate) now: SimTime,
    /// The first instant's tasks have run.
    pub(crate) began: bool,
    pub(crate) finished: bool,
    /// When the next supply sample is due.
    pub(crate) next_supply: SimTime,
    pub(crate) tasks: BTreeMap<(SimTime, u64), Task>,
    pub(crate) seq: u64,
    /// Injects that have arrived or are scheduled (each arrives once).
    pub(crate) injects_due: Vec<bool>,
}

impl Agenda {
    pub(crate) fn new(injects: usize) -> Agenda {
        Agenda {
            now: SimTime(0),
            began: false,
            finished: false,
            next_supply: SimTime(0),
            tasks: BTreeMap::new(),
            seq: 0,
            injects_due: vec![false; injects],
        }
    }

    pub(crate) fn schedule(&mut self, at: SimTime, task: Task) {
        self.seq += 1;
        self.tasks.insert((at, self.seq), task);
    }

    /// Removes what is on the agenda for `matches` (a skipped step's commands).
    pub(crate) fn unschedule(&mut self, matches: impl Fn(&Task) -> bool) {
        self.tasks.retain(|_, t| !matches(t));
    }

    /// The next task due at or before now, taken off the agenda.
    pub(crate) fn next_due(&mut self) -> Option<Task> {
        let (&key, _) = self.tasks.iter().next()?;
        if key.0 > self.now {
            return None;
        }
        self.tasks.remove(&key)
    }
}

impl Range {
    /// Puts the campaign, the injects and the defender's timed rules on the agenda.
    pub(crate) fn plan(&mut self) {
        let mut starts: BTreeMap<String, SimTime> = Default::default();
        for i in 0..self.setup.ex.attack.len() {
            let s = &self.setup.ex.attack[i];
            let base = match &s.when {
                When::At(t) => *t,
                When::After { step, delay } => {
                    SimTime(starts.get(step).map_or(0, |t| t.0).saturating_add(delay.0))
                }
            };
            let jitter = if s.jitter.0 > 0 {
                next_random(&mut self.campaign.rng) % s.jitter.0.saturating_add(1).max(1)
            } else {
                0
            };
            let at = SimTime(base.0.saturating_add(jitter));
            starts.insert(s.id.clone(), at);
            if self.setup.cfg.campaign {
                self.agenda.schedule(at, Task::Step(i));
            }
        }
        for i in 0..self.setup.ex.injects.len() {
            if let InjectWhen::At(t) = self.setup.ex.injects[i].when {
                if self.setup.cfg.campaign {
                    self.agenda.injects_due[i] = true;
                    self.agenda.schedule(t, Task::Inject(i));
                }
            }
        }
        for i in 0..self.setup.cfg.rules.len() {
            if let Trigger::At(t) = self.setup.cfg.rules[i].trigger {
                self.agenda.schedule(t, Task::Defender(i));
            }
        }
    }

    /// Schedules the injects whose condition `matches` (once each), after their delay.
    pub(crate) fn trigger_injects(&mut self, matches: impl Fn(&InjectWhen) -> Option<SimTime>) {
        for i in 0..self.setup.ex.injects.len() {
            if self.agenda.injects_due[i] {
                continue;
            }
            if let Some(delay) = matches(&self.setup.ex.injects[i].when) {
                self.agenda.injects_due[i] = true;
                self.agenda.schedule(SimTime(self.agenda.now.0.saturating_add(delay.0)), Task::Inject(i));
            }
        }
    }

    /// Injects on the number of customers off.
    pub(crate) fn check_conditions(&mut self) {
        if self.setup.ex.injects.iter().any(|i| matches!(i.when, InjectWhen::CustomersOff { .. })) {
            let off = self.world.sim.observe().total.customers_off;
            self.trigger_injects(|w| match w {
                InjectWhen::CustomersOff { over, delay } if off > *over => Some(*delay),
                _ => None,
            });
        }
    }

    pub(crate) fn run_task(&mut self, task: Task) {
        self.net.mark = self.net.packets;
        match task {
            Task::Step(i) => self.start_step(i),
            Task::StepCommand { step, target } => self.step_command(step, target),
            Task::Toggle { step, round } => self.toggle(step, round),
            Task::Defender(i) => {
                // A scripted defender's answers and reports name hosts as `{addr:HOST}`: their
                // addresses in this run's block; answers name the run's figures as
                // `{run:FIGURE}`, as they stand.
                let fill = |text: &str| self.fill(text);
                let action = match self.setup.cfg.rules[i].action.clone() {
                    DefenderAction::AnswerQuestion { question, value } => {
                        DefenderAction::AnswerQuestion { question, value: self.fill_answer(&value) }
                    }
                    DefenderAction::Report { text } => DefenderAction::Report { text: fill(&text) },
                    other => other,
                };
                let actor = crate::Actor::Defender { name: self.setup.cfg.defender.clone() };
                self.act(actor, crate::Action::Defend(action));
            }
            Task::Inject(i) => self.deliver_inject(i),
            Task::Crew { point, close } => {
                let status = match self.point_element(point) {
                    Some(el) => {
                        let cmd = if close { Command::Close(el) } else { Command::Open(el) };
                        match devices::operate(
                            &mut self.world.sim,
                            cmd,
                            devices::OperatingTime::CIRCUIT_BREAKER,
                        ) {
                            Ok(()) => CrewStatus::OperatedByHand,
                            Err(_) => CrewStatus::CouldNotOperate,
                        }
                    }
                    None => CrewStatus::NoSuchBreaker,
                };
                self.journal.push(Entry::Crew { t: self.agenda.now, point, close, status });
            }
            Task::Reboot(addr) => self.reboot(addr),
            Task::FirmwareRestored(substation) => {
                if let Some(g) =
                    self.world.devices.gateways.iter().find(|g| g.substation == substation).map(|g| g.addr)
                {
                    self.world.devices.set_state(g, |s| s.firmware_ok = true);
                    self.journal.push(Entry::Device {
                        t: self.agenda.now,
                        device: format!("{substation} serial gateway"),
                        addr: g,
                        change: DeviceChange::FirmwareRestored,
                    });
                }
            }
        }
    }

    /// A crew reboots the device at `addr`: a hung relay answers again and its protection
    /// is back in service.
    fn reboot(&mut self, addr: std::net::Ipv4Addr) {
        // A device that was not hung restarts to what it was: nothing to record.
        let Some(protection) = self.world.hung.remove(&addr) else { return };
        let Some(d) = self.world.devices.set_state(addr, |s| s.hung = false) else { return };
        let mut device = addr.to_string();
        if let devices::DeviceRef::Relay(i) = d {
            device = self.world.devices.relays[i].name.clone();
            let el = gridsim::sim::Element::Branch(self.world.devices.relays[i].row);
            let _ = self.world.sim.apply(&Command::Protection(el, protection));
        }
        self.journal.push(Entry::Device { t: self.agenda.now, device, addr, change: DeviceChange::Rebooted });
    }

    pub(crate) fn deliver_inject(&mut self, i: usize) {
        let inj = &self.setup.ex.injects[i];
        self.journal.push(Entry::Inject {
            t: self.agenda.now,
            id: inj.id.clone(),
            channel: inj.channel.clone(),
            from: inj.from.clone(),
            subject: inj.subject.clone(),
        });
    }
}
