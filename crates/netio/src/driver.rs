//! The driver: one task that owns one range and runs it in real time.
//!
//! It paces simulated time against the wall clock (paused, a factor of real time, or as fast
//! as the machine goes), takes commands over a channel (an actor's action, including the
//! instructor's pause, resume, speed, inject, skip and trigger; what arrives on a live
//! connection; stop), and publishes the journal's new entries (a `broadcast` channel) and a
//! compact state (a `watch` channel) to any number of subscribers. A subscriber that reads
//! slowly lags (it is told how many entries it missed) and one that never reads costs
//! nothing: the range is never held back by a reader. Many drivers run in one process, one
//! per team.
//!
//! **While paused**, simulated time stands still for the grid, the campaign and the devices
//! together: no step runs. Bytes that arrive on a live connection while paused are held,
//! unanswered, and applied in order when the run resumes, at the instant it resumes at (a
//! device answers nothing during a freeze, as a device whose clock stopped would; a client
//! with a short timeout sees a timeout). Actions are still taken while paused (a team may
//! answer questions, an instructor may resume); what they operate moves when time runs again.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use range::Range;
use range::journal::{Action, Actor, ConnId, Delivery, Entry, Live, Outcome};
use range::net::{Wire, WireEvent};
use range::scada::HmiView;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::capture::{Capture, Direction, Flow};

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// A factor of real time (1x, 10x, 60x).
    Times(f64),
    /// As fast as the machine goes.
    Max,
}

impl Pace {
    pub fn parse(s: &str) -> Result<Pace, String> {
        if s == "max" {
            return Ok(Pace::Max);
        }
        match s.strip_suffix('x').and_then(|n| n.parse::<f64>().ok()) {
            Some(n) if n > 0.0 && n.is_finite() => Ok(Pace::Times(n)),
            _ => Err(format!("`{s}`: max, or a factor such as 1x, 10x or 60x")),
        }
    }
}

/// What goes to a live connection's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToSocket {
    Data(Vec<u8>),
    /// The device closed the connection.
    Close,
}

/// A command to the driver.
#[derive(Debug)]
pub enum Command {
    /// An actor's action; its outcome comes back. Pause, resume and speed also pace the run.
    Act {
        actor: Actor,
        action: Action,
        reply: oneshot::Sender<Outcome>,
    },
    /// A client connected to a device's listener; `sink` receives what the device sends.
    Open {
        client: SocketAddrV4,
        server: SocketAddrV4,
        sink: mpsc::UnboundedSender<ToSocket>,
        reply: oneshot::Sender<Result<ConnId, Delivery>>,
    },
    /// Bytes from a live client, or its close.
    Data {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Close {
        conn: ConnId,
    },
    /// Ends the run now: the range comes back (for its files).
    Stop {
        reply: oneshot::Sender<Range>,
    },
}

/// The compact state subscribers see.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub paused: bool,
    pub pace: Pace,
    /// Live inputs waiting for the run to resume.
    pub held: usize,
    /// Journal entries so far.
    pub entries: usize,
    pub packets: u64,
    /// Frequency at the grid's largest island (Hz): ground truth, for instructors.
    pub f_hz: f64,
    pub hmi: HmiView,
}

/// A handle on a running driver: send commands, subscribe.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
    entries: broadcast::Sender<Arc<[Entry]>>,
    state: watch::Receiver<State>,
}

impl Handle {
    pub fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).is_ok()
    }

    /// An actor's action; its outcome (`None`: the driver has stopped).
    pub async fn act(&self, actor: Actor, action: Action) -> Option<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Act { actor, action, reply });
        rx.await.ok()
    }

    pub async fn stop(&self) -> Option<Range> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Stop { reply });
        rx.await.ok()
    }

    /// New journal entries, in batches, from now on.
    pub fn entries(&self) -> broadcast::Receiver<Arc<[Entry]>> {
        self.entries.subscribe()
    }

    pub fn state(&self) -> watch::Receiver<State> {
        self.state.clone()
    }
}

/// Batches kept for a subscriber that falls behind; past that it lags (and is told).
pub const BACKLOG: usize = 4096;

/// Starts a driver for `range` on the current tokio runtime. `capture`: where every frame
/// goes, at simulated time. The task ends at the exercise's end (with the range) or on
/// `Stop` (which hands the range over).
pub fn spawn(
    range: Range,
    pace: Pace,
    paused: bool,
    capture: Option<Arc<Capture>>,
) -> (Handle, tokio::task::JoinHandle<Option<Range>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (entries, _) = broadcast::channel(BACKLOG);
    let state = state_of(&range, paused, pace, 0);
    let t0 = range.time();
    let (state_tx, state_rx) = watch::channel(state);
    let d = Driver {
        range,
        pace,
        paused,
        rx,
        entries: entries.clone(),
        state: state_tx,
        published: 0,
        sinks: BTreeMap::new(),
        held: VecDeque::new(),
        capture,
        flows: BTreeMap::new(),
        anchor: (Instant::now(), t0),
    };
    let task = tokio::spawn(d.run());
    (Handle { tx, entries, state: state_rx }, task)
}

fn state_of(range: &Range, paused: bool, pace: Pace, held: usize) -> State {
    let obs = range.sim().observe();
    let f_hz = obs.islands.iter().max_by(|a, b| a.buses.cmp(&b.buses)).map_or(0.0, |i| i.f_hz);
    State {
        paused,
        pace,
        held,
        entries: range.journal().len(),
        packets: range.packets(),
        f_hz,
        hmi: range.hmi_view(),
    }
}

struct Driver {
    range: Range,
    pace: Pace,
    paused: bool,
    rx: mpsc::UnboundedReceiver<Command>,
    entries: broadcast::Sender<Arc<[Entry]>>,
    state: watch::Sender<State>,
    published: usize,
    sinks: BTreeMap<ConnId, mpsc::UnboundedSender<ToSocket>>,
    /// Live inputs that arrived while paused.
    held: VecDeque<Command>,
    capture: Option<Arc<Capture>>,
    flows: BTreeMap<u32, Flow>,
    /// Wall-clock instant and simulated time the pace counts from.
    anchor: (Instant, gridsim::sim::SimTime),
}

impl Driver {
    /// The range, when the run ended by itself (`Stop` hands it to the caller instead).
    async fn run(mut self) -> Option<Range> {
        self.anchor = (Instant::now(), self.range.time());
        loop {
            if self.range.is_finished() {
                self.flush();
                break;
            }
            // When the next step is due on the wall clock (None: paused).
            let due = if self.paused {
                None
            } else {
                match self.pace {
                    Pace::Max => Some(Instant::now()),
                    Pace::Times(k) => {
                        let sim = self.range.next_time().0.saturating_sub(self.anchor.1.0);
                        Some(self.anchor.0 + Duration::from_secs_f64(sim as f64 / 1e6 / k))
                    }
                }
            };
            let cmd = match due {
                Some(due) if due <= Instant::now() => self.rx.try_recv().ok(),
                Some(due) => tokio::select! {
                    cmd = self.rx.recv() => cmd,
                    () = tokio::time::sleep_until(due) => None,
                },
                None => match self.rx.recv().await {
                    Some(c) => Some(c),
                    None => break,
                },
            };
            match cmd {
                Some(first) => {
                    // The first command and whatever else waits, in one batch.
                    let mut next = Some(first);
                    for _ in 0..1024 {
                        let Some(cmd) = next.take() else { break };
                        if let Command::Stop { reply } = cmd {
                            self.range.stop();
                            self.flush();
                            let _ = reply.send(self.range);
                            return None;
                        }
                        self.command(cmd);
                        next = self.rx.try_recv().ok();
                    }
                }
                None => {
                    if !self.paused && due.is_some_and(|d| d <= Instant::now()) {
                        self.range.step();
                    }
                }
            }
            self.flush();
            if matches!(self.pace, Pace::Max) {
                // Let other tasks (listeners, other drivers) run between steps.
                tokio::task::yield_now().await;
            }
        }
        Some(self.range)
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Act { actor, action, reply } => {
                let outcome = self.range.act(actor, action.clone());
                if !matches!(outcome, Outcome::Refused(_)) {
                    match action {
                        Action::Pause => self.paused = true,
                        Action::Resume => {
                            self.paused = false;
                            self.anchor = (Instant::now(), self.range.time());
                            while let Some(c) = self.held.pop_front() {
                                self.command(c);
                            }
                        }
                        Action::Speed { factor } => {
                            self.pace = factor.map_or(Pace::Max, Pace::Times);
                            self.anchor = (Instant::now(), self.range.time());
                        }
                        _ => {}
                    }
                }
                let _ = reply.send(outcome);
            }
            cmd @ (Command::Open { .. } | Command::Data { .. } | Command::Close { .. }) if self.paused => {
                self.held.push_back(cmd);
            }
            Command::Open { client, server, sink, reply } => {
                let result = self.range.live(Live::Open { client, server });
                let result = match result {
                    Ok(Some(id)) => {
                        self.sinks.insert(id, sink);
                        Ok(id)
                    }
                    Ok(None) => Err(Delivery::NoAnswer),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Command::Data { conn, bytes } => {
                let _ = self.range.live(Live::Data { conn, bytes });
            }
            Command::Close { conn } => {
                let _ = self.range.live(Live::Close { conn });
                self.sinks.remove(&conn);
            }
            // Handled by the loop, which hands the range over.
            Command::Stop { .. } => {}
        }
    }

    /// Hands what crossed the network to the capture and to live sockets, and publishes.
    fn flush(&mut self) {
        let wire = self.range.take_wire();
        for w in &wire {
            match &w.event {
                WireEvent::ToClient(bytes) => {
                    if let Some(s) = self.sinks.get(&w.conn) {
                        let _ = s.send(ToSocket::Data(bytes.clone()));
                    }
                }
                WireEvent::Close { .. } => {
                    if let Some(s) = self.sinks.remove(&w.conn) {
                        let _ = s.send(ToSocket::Close);
                    }
                }
                _ => {}
            }
        }
        if let Some(c) = &self.capture {
            write_wire(c, &mut self.flows, wire);
        }
        let journal = self.range.journal();
        if journal.len() > self.published {
            let batch: Arc<[Entry]> = journal[self.published..].into();
            self.published = journal.len();
            // No subscriber is not an error.
            let _ = self.entries.send(batch);
        }
        let held = self.held.len();
        let (paused, pace) = (self.paused, self.pace);
        let range = &self.range;
        self.state.send_if_modified(|s| {
            let changed = s.entries != range.journal().len()
                || s.paused != paused
                || s.pace != pace
                || s.held != held
                || s.hmi.t != range.time();
            if changed {
                *s = state_of(range, paused, pace, held);
            }
            changed
        });
    }
}

/// Writes what crossed the range's network to the capture, at simulated time.
pub fn write_wire(capture: &Capture, flows: &mut BTreeMap<u32, Flow>, wire: Vec<Wire>) {
    for w in wire {
        capture.set_clock(Duration::from_micros(w.t.0));
        match w.event {
            WireEvent::Open => {
                let flow = capture.open(w.client, *w.server.ip(), w.server.port());
                flows.insert(w.conn, flow);
            }
            WireEvent::ToServer(bytes) => {
                if let Some(f) = flows.get_mut(&w.conn) {
                    capture.data(f, Direction::ToServer, &bytes);
                }
            }
            WireEvent::ToClient(bytes) => {
                if let Some(f) = flows.get_mut(&w.conn) {
                    capture.data(f, Direction::ToClient, &bytes);
                }
            }
            WireEvent::Close { by_client } => {
                if let Some(mut f) = flows.remove(&w.conn) {
                    capture.close(&mut f, if by_client { Direction::ToServer } else { Direction::ToClient });
                }
            }
        }
    }
}
