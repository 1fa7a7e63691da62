//! The driver: one task that owns one range and runs it in real time.
//!
//! It paces simulated time against the wall clock (paused, a factor of real time, or as fast
//! as the machine goes), takes commands over a channel (an actor's action, including the
//! instructor's pause, resume, speed, inject, skip and trigger; a live connection's open;
//! stop), and publishes the journal's new entries (a `broadcast` channel) and a
//! compact state (a `watch` channel) to any number of subscribers. A subscriber that reads
//! slowly lags (it is told how many entries it missed) and one that never reads costs
//! nothing: the range is never held back by a reader. Many drivers run in one process, one
//! per team.
//!
//! The range sits behind a lock the driver task and the live connections share: a
//! connection's bytes are applied by the connection's own task, which then writes the
//! device's answer (`Handle::data` returns it), so a request costs no hop through another task. The
//! lock is never held across an `await`. A step (an AC power flow) runs on tokio's blocking
//! pool, never on an async worker; readers (the web's pages) read the `View` the driver
//! publishes after every step and exchange (a copy of the journal, the HMI's points, the
//! time), so a page never waits for a step.
//!
//! **While paused**, simulated time stands still for the grid, the campaign and the devices
//! together: no step runs. A connection opened while paused is held (the kernel accepts it;
//! its bytes wait in the socket), and bytes on a connection opened before are held too,
//! unanswered; all are applied in order when the run resumes, from the instant it resumes at
//! (a device answers nothing during a freeze, as a device whose clock stopped would; a client
//! with a short timeout sees a timeout). Actions are still taken while paused (a team may
//! answer questions, an instructor may resume); what they operate moves when time runs again.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use gridsim::sim::SimTime;
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
    pub fn parse(s: &str) -> Result<Pace, PaceError> {
        if s == "max" {
            return Ok(Pace::Max);
        }
        match s.strip_suffix('x').and_then(|n| n.parse::<f64>().ok()) {
            Some(n) if n > 0.0 && n.is_finite() => Ok(Pace::Times(n)),
            _ => Err(PaceError(s.to_string())),
        }
    }
}

/// A pace that is not `max` or a positive factor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: max, or a factor such as 1x, 10x or 60x")]
pub struct PaceError(pub String);

/// What goes to a live connection's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToSocket {
    Data(Vec<u8>),
    /// The device closed the connection.
    Close,
}

/// What a device answered on the connection that sent it bytes, right away.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Answer {
    pub bytes: Vec<u8>,
    /// The device closed the connection after (or instead of) answering.
    pub closed: bool,
}

/// A command to the driver task.
#[derive(Debug)]
pub enum Command {
    /// An actor's action; its outcome comes back. Pause, resume and speed also pace the run.
    Act { actor: Actor, action: Action, reply: oneshot::Sender<Outcome> },
    /// A client connected to a device's listener; `sink` receives what the device sends.
    Open {
        client: SocketAddrV4,
        server: SocketAddrV4,
        sink: mpsc::UnboundedSender<ToSocket>,
        reply: oneshot::Sender<Result<ConnId, Delivery>>,
    },
    /// Ends the run now: the range comes back (for its files).
    Stop { reply: oneshot::Sender<Range> },
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
    /// When simulated time last moved, on the wall clock (ms since 1970): what a live view
    /// reports so a client can tell how old a state is.
    pub changed_at_ms: u64,
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A live input that arrived while paused.
#[derive(Debug)]
enum Held {
    Open {
        client: SocketAddrV4,
        server: SocketAddrV4,
        sink: mpsc::UnboundedSender<ToSocket>,
        reply: oneshot::Sender<Result<ConnId, Delivery>>,
    },
    Data {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Close {
        conn: ConnId,
    },
}

/// What readers see of a range without taking it: the journal (a copy the driver appends to)
/// and the latest `Snapshot`. Both are updated after a step or an exchange, under locks held
/// only for that update, so a reader never waits for a step.
#[derive(Debug, Default)]
pub struct View {
    journal: RwLock<Vec<Entry>>,
    now: RwLock<Arc<Snapshot>>,
}

/// The range's state at its last publication.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub t: SimTime,
    pub finished: bool,
    /// The SCADA master's point database as the HMI shows it
    /// (`journal_format::evidence::points`).
    pub points: Vec<journal_format::evidence::HmiPoint>,
}

impl View {
    fn of(range: &Range) -> View {
        View { journal: RwLock::new(range.journal().to_vec()), now: RwLock::new(Arc::new(snapshot(range))) }
    }

    /// Reads the journal and the snapshot as last published (both consistent with each other).
    pub fn read<R>(&self, f: impl FnOnce(&[Entry], &Snapshot) -> R) -> R {
        let journal = self.journal.read().unwrap_or_else(|p| p.into_inner());
        let now = self.now.read().unwrap_or_else(|p| p.into_inner()).clone();
        f(&journal, &now)
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.now.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Journal entries so far.
    pub fn len(&self) -> usize {
        self.journal.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn publish(&self, range: &Range, from: usize, moved: bool) {
        let mut journal = self.journal.write().unwrap_or_else(|p| p.into_inner());
        if range.journal().len() > from {
            journal.extend_from_slice(&range.journal()[from..]);
        }
        if moved {
            *self.now.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot(range));
        }
    }
}

fn snapshot(range: &Range) -> Snapshot {
    Snapshot {
        t: range.time(),
        finished: range.is_finished(),
        points: journal_format::evidence::points(range),
    }
}

/// What the driver task and the live connections share.
struct Core {
    range: Range,
    pace: Pace,
    paused: bool,
    sinks: BTreeMap<ConnId, mpsc::UnboundedSender<ToSocket>>,
    held: VecDeque<Held>,
    capture: Option<Arc<Capture>>,
    flows: BTreeMap<u32, Flow>,
    published: usize,
    entries: broadcast::Sender<Arc<[Entry]>>,
    state: watch::Sender<State>,
    /// Wall-clock instant and simulated time the pace counts from.
    anchor: (Instant, SimTime),
    view: Arc<View>,
    /// Journal entries the view holds.
    viewed: usize,
    log: crate::admission::Throttles,
}

type Shared = Arc<Mutex<Option<Core>>>;

fn lock(core: &Shared) -> MutexGuard<'_, Option<Core>> {
    // A panic while holding the lock is a bug, but the other ranges should keep running.
    core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A handle on a running driver: send commands, feed live bytes, subscribe.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
    core: Shared,
    view: Arc<View>,
    entries: broadcast::Sender<Arc<[Entry]>>,
    state: watch::Receiver<State>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("t", &self.range.time()).field("paused", &self.paused).finish()
    }
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

    /// Bytes from live connection `conn`, applied now (held while paused). What the device
    /// answers on `conn` itself comes back (`Answer`), for the caller to write after anything
    /// already waiting in the connection's sink (which was sent before); what goes to other
    /// connections goes to their sinks. `None`: the run is over.
    pub fn data(&self, conn: ConnId, bytes: Vec<u8>) -> Option<Answer> {
        let mut guard = lock(&self.core);
        let core = guard.as_mut()?;
        let mut answer = Answer::default();
        if core.paused {
            core.held.push_back(Held::Data { conn, bytes });
            core.publish();
        } else {
            let _ = core.range.live(Live::Data { conn, bytes });
            // The answer and the capture now, the journal to readers too (the persister reads
            // it there); the state with the next step.
            core.deliver(Some((conn, &mut answer)));
            core.publish_journal();
        }
        Some(answer)
    }

    /// Live connection `conn` closed on the client's side.
    pub fn close(&self, conn: ConnId) {
        let mut guard = lock(&self.core);
        let Some(core) = guard.as_mut() else { return };
        if core.paused {
            core.held.push_back(Held::Close { conn });
        } else {
            let _ = core.range.live(Live::Close { conn });
            core.sinks.remove(&conn);
            core.flush();
        }
    }

    /// Reads the range as it stands (`None`: the run is over and the range was handed back).
    /// The lock is held while `f` runs: keep it short.
    pub fn read<R>(&self, f: impl FnOnce(&Range) -> R) -> Option<R> {
        lock(&self.core).as_ref().map(|c| f(&c.range))
    }

    /// New journal entries, in batches, from now on.
    pub fn entries(&self) -> broadcast::Receiver<Arc<[Entry]>> {
        self.entries.subscribe()
    }

    pub fn state(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    /// What readers see of the range (live, and as it ended): never waits for a step.
    pub fn view(&self) -> Arc<View> {
        self.view.clone()
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
    let (state_tx, state_rx) = watch::channel(state_of(&range, paused, pace, 0));
    let t0 = range.time();
    let view = Arc::new(View::of(&range));
    let viewed = range.journal().len();
    let core = Arc::new(Mutex::new(Some(Core {
        range,
        pace,
        paused,
        sinks: BTreeMap::new(),
        held: VecDeque::new(),
        capture,
        flows: BTreeMap::new(),
        published: 0,
        viewed,
        entries: entries.clone(),
        state: state_tx,
        anchor: (Instant::now(), t0),
        view: view.clone(),
        log: crate::admission::Throttles::new(Duration::from_secs(10)),
    })));
    let task = tokio::spawn(run(core.clone(), rx));
    (Handle { tx, core, view, entries, state: state_rx }, task)
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
        changed_at_ms: wall_ms(),
    }
}

/// The driver task. The range, when the run ended by itself (`Stop` hands it to the caller
/// instead).
async fn run(core: Shared, mut rx: mpsc::UnboundedReceiver<Command>) -> Option<Range> {
    if let Some(c) = lock(&core).as_mut() {
        c.anchor = (Instant::now(), c.range.time());
    }
    loop {
        // When the next step is due on the wall clock (None: paused).
        let (due, max) = {
            let mut guard = lock(&core);
            let c = guard.as_mut()?;
            if c.range.is_finished() {
                c.flush();
                return guard.take().map(|c| c.range);
            }
            let due = match (c.paused, c.pace) {
                (true, _) => None,
                (false, Pace::Max) => Some(Instant::now()),
                (false, Pace::Times(k)) => {
                    let sim = c.range.next_time().0.saturating_sub(c.anchor.1.0);
                    Some(c.anchor.0 + Duration::from_secs_f64(sim as f64 / 1e6 / k))
                }
            };
            (due, c.pace == Pace::Max)
        };
        let cmd = match due {
            Some(due) if due <= Instant::now() => rx.try_recv().ok(),
            Some(due) => tokio::select! {
                cmd = rx.recv() => cmd,
                () = tokio::time::sleep_until(due) => None,
            },
            None => match rx.recv().await {
                Some(c) => Some(c),
                None => return lock(&core).take().map(|c| c.range),
            },
        };
        if cmd.is_none() && due.is_some_and(|d| d <= Instant::now()) {
            // A step is an AC power flow: on the blocking pool, never on an async worker.
            let core = core.clone();
            let stepped = tokio::task::spawn_blocking(move || {
                let mut guard = lock(&core);
                let c = guard.as_mut()?;
                if !c.paused {
                    c.range.step();
                }
                c.flush();
                Some(())
            })
            .await;
            if !matches!(stepped, Ok(Some(()))) {
                return None;
            }
        } else {
            let mut guard = lock(&core);
            let c = guard.as_mut()?;
            match cmd {
                Some(Command::Stop { reply }) => {
                    c.range.stop();
                    c.flush();
                    if let Some(c) = guard.take() {
                        let _ = reply.send(c.range);
                    }
                    return None;
                }
                Some(cmd) => c.command(cmd),
                None => {}
            }
            c.flush();
        }
        if max {
            // Let other tasks (listeners, other drivers) run between steps.
            tokio::task::yield_now().await;
        }
    }
}

impl Core {
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
                            while let Some(h) = self.held.pop_front() {
                                self.live(h);
                            }
                        }
                        Action::Speed { factor } => {
                            self.pace = factor.map_or(Pace::Max, Pace::Times);
                            self.anchor = (Instant::now(), self.range.time());
                        }
                        _ => {}
                    }
                }
                // Subscribers see the action's entries (and the state it left) by the time
                // its outcome is known.
                self.flush();
                let _ = reply.send(outcome);
            }
            Command::Open { client, server, sink, reply } => {
                let open = Held::Open { client, server, sink, reply };
                if self.paused {
                    self.held.push_back(open);
                } else {
                    self.live(open);
                }
            }
            // Handled by the task, which hands the range over.
            Command::Stop { .. } => {}
        }
    }

    fn live(&mut self, input: Held) {
        match input {
            Held::Open { client, server, sink, reply } => {
                let result = match self.range.live(Live::Open { client, server }) {
                    Ok(Some(id)) => {
                        self.sinks.insert(id, sink);
                        Ok(id)
                    }
                    Ok(None) => Err(Delivery::NoAnswer),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Held::Data { conn, bytes } => {
                let _ = self.range.live(Live::Data { conn, bytes });
            }
            Held::Close { conn } => {
                let _ = self.range.live(Live::Close { conn });
                self.sinks.remove(&conn);
            }
        }
    }

    /// Hands what crossed the network to the capture and to live sockets, and publishes.
    fn flush(&mut self) {
        self.deliver(None);
        self.publish();
    }

    /// What crossed the network goes to the capture and to live sockets; connection
    /// diagnostics to the log.
    /// `direct`: a connection whose bytes go to this buffer instead of its sink (the caller
    /// writes them).
    fn deliver(&mut self, mut direct: Option<(ConnId, &mut Answer)>) {
        for (conn, reason) in self.range.take_diagnostics() {
            // A flood of bad connections is one line per interval, not a flood of log.
            if let Some(left_out) = self.log.allow(&reason, std::time::Instant::now()) {
                tracing::info!(conn, %reason, left_out, "connection");
            }
        }
        let wire = self.range.take_wire();
        for w in &wire {
            let to_caller = match &mut direct {
                Some((conn, answer)) if *conn == w.conn => Some(answer),
                _ => None,
            };
            match (&w.event, to_caller) {
                (WireEvent::ToClient(bytes), Some(answer)) => answer.bytes.extend_from_slice(bytes),
                (WireEvent::ToClient(bytes), None) => {
                    if let Some(s) = self.sinks.get(&w.conn) {
                        let _ = s.send(ToSocket::Data(bytes.clone()));
                    }
                }
                (WireEvent::Close { .. }, to_caller) => {
                    if let Some(s) = self.sinks.remove(&w.conn) {
                        match to_caller {
                            Some(answer) => answer.closed = true,
                            None => {
                                let _ = s.send(ToSocket::Close);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(c) = &self.capture {
            write_wire(c, &mut self.flows, wire);
        }
    }

    /// New journal entries to the view only (live traffic between steps: no device or SCADA
    /// point moved, so the snapshot stands).
    fn publish_journal(&mut self) {
        self.view.publish(&self.range, self.viewed, false);
        self.viewed = self.range.journal().len();
    }

    /// New journal entries to subscribers, and the state.
    fn publish(&mut self) {
        let journal = self.range.journal();
        // The snapshot when time moved, or when entries came (an action through the SCADA
        // master changes its points within an instant).
        let moved = self.state.borrow().hmi.t != self.range.time()
            || self.range.is_finished()
            || journal.len() > self.viewed;
        self.view.publish(&self.range, self.viewed, moved);
        self.viewed = journal.len();
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
            if s.hmi.t != range.time() {
                // Time moved: the grid's and the HMI's view, once per step.
                *s = state_of(range, paused, pace, held);
                return true;
            }
            // Within an instant (live traffic between steps): the counters only.
            let counters = (range.journal().len(), range.packets(), paused, pace, held);
            if (s.entries, s.packets, s.paused, s.pace, s.held) == counters {
                return false;
            }
            (s.entries, s.packets, s.paused, s.pace, s.held) = counters;
            true
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
            WireEvent::Datagram(bytes) => capture.datagram(w.client, w.server, &bytes),
        }
    }
}
