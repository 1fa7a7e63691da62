//! The runs the server holds: one range driver per team (the runtime `icsrange live` uses),
//! its journal inputs written to the database before an action is acknowledged, and runs
//! rebuilt by replay when the server starts.
//!
//! A team's range is a pure function of (exercise, seed, inputs); the database holds all
//! three (`store`), so a run survives the process: at start, every run that had begun is
//! rebuilt from its inputs (`Range::catch_up`) and comes back paused at its last input.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use exercise::Exercise;
use netio::budget::{Budget, Limits};
use netio::capture::Capture;
use netio::driver::{self, Handle, Pace};
use netio::live::Listeners;
use range::journal::{Action, Actor, Live, Outcome};
use range::{Entry, Range, RunConfig};
use tokio::sync::watch;

use crate::ApiError;

/// One team's live range.
#[derive(Debug)]
pub struct TeamRange {
    pub team: store::Team,
    pub ex: Arc<Exercise>,
    pub handle: Handle,
    /// What pages read: the journal and the latest snapshot, live or ended.
    view: Arc<driver::View>,
    /// Journal entries written to the database so far (every input below this is durable).
    persisted: watch::Receiver<usize>,
    /// The range, once its run has ended (the driver hands it back).
    ended: Arc<Mutex<Option<Range>>>,
    pub capture_path: PathBuf,
    pub capture: Arc<Capture>,
    /// The grid as its displays show it (stations, areas, point names).
    pub plant: Arc<crate::displays::Plant>,
    /// The capture decoded so far, for the analyst's frame list.
    pub frames: Mutex<FrameIndex>,
    /// The scores (trainees', instructors') at a journal length: every live view asks each
    /// second, the journal changes less often.
    scores: Mutex<(usize, serde_json::Value, serde_json::Value)>,
    /// What the team's live traffic may still put in the journal.
    pub budget: Arc<Budget>,
    /// Held from an answer's check of the tries left to its record: two answers at once are
    /// judged one after the other.
    pub answering: tokio::sync::Mutex<()>,
}

/// The capture's frames decoded so far (read incrementally from the capture file).
#[derive(Debug, Default)]
pub struct FrameIndex {
    offset: usize,
    next_number: u64,
    dissector: ids::dissect::Dissector,
    /// Decoded frames; the oldest are dropped past `MAX_FRAMES` (`dropped` counts them).
    pub decoded: std::collections::VecDeque<ids::dissect::Decoded>,
    pub dropped: usize,
}

/// Decoded frames kept per team.
pub const MAX_FRAMES: usize = 50_000;

impl FrameIndex {
    /// Decodes what the capture gained since the last call.
    pub fn update(&mut self, capture: &Capture) {
        let Ok((bytes, from)) = capture.tail(self.offset) else { return };
        let (segments, end, last) =
            netio::capture::read_segments(&bytes, netio::capture::HEADER_LEN, self.next_number);
        self.offset = from + end - netio::capture::HEADER_LEN;
        // Every frame counts, whatever it carried: the alerts cite the capture's numbers.
        self.next_number = last;
        for s in segments {
            let p = ids::Packet {
                number: s.number,
                t: gridsim::sim::SimTime(s.t.as_micros() as u64),
                src: s.src,
                dst: s.dst,
                payload: &s.payload,
            };
            if s.udp {
                self.decoded.extend(ids::dissect::datagram(&p));
            } else if !s.payload.is_empty() {
                self.decoded.extend(self.dissector.packet(&p));
            }
            if s.fin {
                self.dissector.closed(s.src, s.dst);
            }
        }
        while self.decoded.len() > MAX_FRAMES {
            self.decoded.pop_front();
            self.dropped += 1;
        }
    }
}

/// What a page reads of a team's range: its journal and its latest snapshot (never the range
/// itself, so a page never waits for a step).
#[derive(Debug, Clone, Copy)]
pub struct Now<'a> {
    journal: &'a [Entry],
    snapshot: &'a driver::Snapshot,
}

impl Now<'_> {
    pub fn journal(&self) -> &[Entry] {
        self.journal
    }

    pub fn time(&self) -> gridsim::sim::SimTime {
        self.snapshot.t
    }

    pub fn is_finished(&self) -> bool {
        self.snapshot.finished
    }

    /// The SCADA master's points as the HMI shows them.
    pub fn points(&self) -> &[journal_format::evidence::HmiPoint] {
        &self.snapshot.points
    }
}

impl TeamRange {
    /// The team's score as trainees see it (`staff`: as instructors do), computed once per
    /// journal length.
    pub fn score(&self, r: &Now<'_>, staff: bool) -> serde_json::Value {
        let mut c = self.scores.lock().unwrap_or_else(|p| p.into_inner());
        let len = r.journal().len();
        if c.0 != len {
            let (trainees, staff) = crate::views::scores(&self.ex, r.journal());
            *c = (len, trainees, staff);
        }
        if staff { c.2.clone() } else { c.1.clone() }
    }

    /// Whether the run has ended for this team and everything is written.
    pub fn has_ended(&self) -> bool {
        self.ended.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Reads the team's journal and snapshot, live or ended.
    pub fn read<R>(&self, f: impl FnOnce(&Now<'_>) -> R) -> R {
        self.view.read(|journal, snapshot| f(&Now { journal, snapshot }))
    }

    /// Reads the range itself, live or ended (the pipeline's line diagram, from the plant's
    /// state): this waits for a step in progress.
    pub fn read_range<R>(&self, f: impl FnOnce(&Range) -> R) -> Option<R> {
        let mut f = Some(f);
        if let Some(r) = self.handle.read(|r| (f.take().expect("called once"))(r)) {
            return Some(r);
        }
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        match (ended.as_ref(), f) {
            (Some(range), Some(f)) => Some(f(range)),
            _ => None,
        }
    }

    /// An actor's action; answered once its journal entry is in the database (what a trainee
    /// saw acknowledged survives a crash).
    pub async fn act(&self, actor: Actor, action: Action) -> Result<Outcome, ApiError> {
        let outcome = self.handle.act(actor, action).await.ok_or(ApiError::Conflict("the run has ended"))?;
        // The view holds the action's entry by the time its outcome is known; once the run has
        // ended the persister's final write marks usize::MAX.
        let len = self.view.len();
        let mut rx = self.persisted.clone();
        match tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|n| *n >= len)).await {
            Ok(Ok(_)) => Ok(outcome),
            _ => Err(ApiError::Unavailable),
        }
    }
}

/// Every team range the process holds, by team id.
#[derive(Debug, Default)]
pub struct Ranges {
    teams: Mutex<HashMap<String, Arc<TeamRange>>>,
}

impl Ranges {
    pub fn get(&self, team: &str) -> Option<Arc<TeamRange>> {
        self.teams.lock().unwrap_or_else(|p| p.into_inner()).get(team).cloned()
    }

    fn remove(&self, team: &str) -> Option<Arc<TeamRange>> {
        self.teams.lock().unwrap_or_else(|p| p.into_inner()).remove(team)
    }

    fn insert(&self, t: Arc<TeamRange>) {
        self.teams.lock().unwrap_or_else(|p| p.into_inner()).insert(t.team.id.clone(), t);
    }
}

/// Every run's exercise, loaded once, by run id.
#[derive(Debug, Default)]
pub struct Exercises {
    runs: Mutex<HashMap<String, Arc<Exercise>>>,
}

impl Exercises {
    fn get(&self, run: &str) -> Option<Arc<Exercise>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).get(run).cloned()
    }

    fn insert(&self, run: &str, ex: Arc<Exercise>) {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).insert(run.to_string(), ex);
    }

    fn remove(&self, run: &str) {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).remove(run);
    }
}

/// Long jobs on the blocking pool (an exercise loaded, an after-action report built) at a
/// time: the ranges step on that pool too, and must always find threads free there (the
/// server caps the pool; password checks have their own two slots, `auth`).
pub static HEAVY_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A run's exercise: loaded the first time it is asked for (on the blocking pool: loading
/// checks the grid with a power flow), then read from memory.
pub async fn exercise(app: &crate::App, run: &store::Run) -> Result<Arc<Exercise>, ApiError> {
    if let Some(ex) = app.exercises.get(&run.id) {
        return Ok(ex);
    }
    let _slot = HEAVY_SLOTS.acquire().await.map_err(|_| ApiError::Internal)?;
    if let Some(ex) = app.exercises.get(&run.id) {
        return Ok(ex);
    }
    let (text, files) = (run.exercise_text.clone(), run.files.clone());
    let ex = tokio::task::spawn_blocking(move || load_exercise(&text, &files).map(|(ex, _)| ex))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|_| ApiError::Internal)?;
    let ex = Arc::new(ex);
    app.exercises.insert(&run.id, ex.clone());
    Ok(ex)
}

/// Loads a run's exercise (built-in grids, or the files uploaded with it).
pub fn load_exercise(
    text: &str,
    files: &str,
) -> Result<(Exercise, exercise::Bundle), Vec<exercise::Diagnostic>> {
    let mut bundle = exercise::Bundle::new();
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(files).unwrap_or_default();
    for (name, text) in map {
        if let Some(t) = text.as_str() {
            if let Err(message) = bundle.insert(&name, t.to_string()) {
                return Err(vec![exercise::Diagnostic { line: 1, col: 1, message: message.to_string() }]);
            }
        }
    }
    let ex = exercise::load(text, &bundle)?;
    Ok((ex, bundle))
}

/// Why a team's range cannot be started (or brought back).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{line}:{col}: {message}")]
    Exercise { line: usize, col: usize, message: String },
    #[error("invalid exercise")]
    NoExercise,
    #[error(transparent)]
    Range(#[from] range::Error),
    #[error("team address block `{0}`")]
    Base(String),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the recorded journal: {0}")]
    Replay(#[from] journal_format::Error),
    #[error("team {0}: the replayed journal differs from the one kept")]
    Differs(String),
}

/// A fresh range for a team (`range::Setup`, the one way to build a run).
fn build(run: &store::Run, team: &store::Team) -> Result<(Exercise, Range), StartError> {
    let (ex, bundle) = load_exercise(&run.exercise_text, &run.files).map_err(|d| match d.first() {
        Some(d) => StartError::Exercise { line: d.line, col: d.col, message: d.message.clone() },
        None => StartError::NoExercise,
    })?;
    let mut cfg = RunConfig::new(run.seed as u64, "none", Vec::new());
    cfg.base = team.base.parse::<Ipv4Addr>().map_err(|_| StartError::Base(team.base.clone()))?;
    cfg.start_ms_since_2000 = run.start_ms as u64;
    // A run recorded before hosts could be named by address replays under its own rules.
    cfg.hosts_by_address = run.rules >= 2;
    let range = range::Setup { exercise: ex.clone(), grids: &bundle, cfg }.build()?;
    Ok((ex, range))
}

fn line_of(i: usize, e: &Entry) -> Option<store::InputLine> {
    let keep = i == 0 || e.input().is_some();
    keep.then(|| store::InputLine { seq: i as i64, t_us: e.t().0 as i64, line: journal_format::entry(e) })
}

/// Starts (or, after a restart, resumes) a team's range. `inputs`: what the database holds
/// for it (empty for a new run). The range starts paused.
pub async fn start_team(
    app: &crate::App,
    run: &store::Run,
    team: &store::Team,
    inputs: &[store::InputLine],
    ended: bool,
) -> Result<Arc<TeamRange>, StartError> {
    let (ex, mut range) = build(run, team)?;
    let dir = app.data.join("runs").join(&run.id).join(&team.id);
    std::fs::create_dir_all(&dir).map_err(|error| StartError::Io { path: dir.clone(), error })?;
    let capture_path = dir.join("capture.pcap");
    let left = Capture::remove_leftovers(&dir, "capture.pcap");
    if left > 0 {
        tracing::info!(team = %team.name, files = left, "a killed process's capture files removed");
    }
    let capture = Arc::new(
        Capture::create(&capture_path)
            .map_err(|error| StartError::Io { path: capture_path.clone(), error })?,
    );
    let mut flows = std::collections::BTreeMap::new();
    let persisted_len;
    if inputs.is_empty() {
        let first: Vec<store::InputLine> =
            range.journal().iter().enumerate().filter_map(|(i, e)| line_of(i, e)).collect();
        app.store.append_inputs(&team.id, &first).await?;
        persisted_len = range.journal().len();
    } else {
        let text: String = inputs.iter().map(|l| format!("{}\n", l.line)).collect();
        let recorded = journal_format::read_inputs(&text)?;
        range.catch_up(&recorded.inputs, |r| driver::write_wire(&capture, &mut flows, r.take_wire()));
        driver::write_wire(&capture, &mut flows, range.take_wire());
        // What the replay rebuilt must be what was kept, line for line.
        let rebuilt: Vec<store::InputLine> =
            range.journal().iter().enumerate().filter_map(|(i, e)| line_of(i, e)).collect();
        if rebuilt != inputs {
            return Err(StartError::Differs(team.name.clone()));
        }
        persisted_len = range.journal().len();
        // Connections from outside died with the old process: close them in the journal too
        // (inputs like any other, written by the persister).
        let mut open = std::collections::BTreeSet::new();
        for e in range.journal() {
            match e {
                Entry::Live { live: Live::Open { .. }, conn: Some(c), .. } => {
                    open.insert(*c);
                }
                Entry::Live { live: Live::Close { conn }, .. } => {
                    open.remove(conn);
                }
                _ => {}
            }
        }
        for conn in open {
            let _ = range.live(Live::Close { conn });
        }
        driver::write_wire(&capture, &mut flows, range.take_wire());
        if ended {
            // A run that had ended is played to its end (its record, for the pages).
            while !range.is_finished() {
                range.step();
                driver::write_wire(&capture, &mut flows, range.take_wire());
            }
        }
    }
    let plant = Arc::new(crate::displays::Plant::new(range.sim()));
    let pace = Pace::Times(run.speed.max(0.01));
    let services = netio::live::services(&range);
    let budget = Arc::new(Budget::new(Limits::TEAM, live_inputs(range.journal())));
    let (handle, task) = driver::spawn(range, pace, true, Some(capture.clone()));
    // An ended run's range is its record: it listens no more (its block may be another's).
    let mut listeners = None;
    if app.listen_devices && !ended {
        match netio::live::listen_with(&handle, &services, budget.clone()).await {
            Ok(l) => listeners = Some(l),
            Err(e) => tracing::warn!(team = %team.name, error = %e, "device services not on real sockets"),
        }
    }
    let (persisted_tx, persisted) = watch::channel(persisted_len);
    let ended = Arc::new(Mutex::new(None));
    let tr = Arc::new(TeamRange {
        team: team.clone(),
        ex: Arc::new(ex),
        view: handle.view(),
        handle: handle.clone(),
        persisted,
        ended: ended.clone(),
        capture_path,
        capture,
        plant,
        frames: Mutex::new(FrameIndex::default()),
        scores: Mutex::new((usize::MAX, serde_json::Value::Null, serde_json::Value::Null)),
        budget,
        answering: tokio::sync::Mutex::new(()),
    });
    tokio::spawn(persist(Persister {
        app: Arc::downgrade(&app.0),
        run: run.id.clone(),
        store: app.store.clone(),
        team: team.id.clone(),
        handle,
        task,
        persisted: persisted_tx,
        cursor: persisted_len,
        ended,
        listeners,
    }));
    app.ranges.insert(tr.clone());
    Ok(tr)
}

/// What the persister of a team's inputs works with.
struct Persister {
    app: std::sync::Weak<crate::Inner>,
    run: String,
    store: store::Store,
    team: String,
    handle: Handle,
    task: tokio::task::JoinHandle<Option<Range>>,
    /// Journal entries in the database so far (`usize::MAX`: all of them, the run ended).
    persisted: watch::Sender<usize>,
    cursor: usize,
    ended: Arc<Mutex<Option<Range>>>,
    /// The range's device listeners: closed when the run ends, before its block is freed.
    listeners: Option<Listeners>,
}

/// Writes a team's new inputs to the database as they are journaled, until the run ends.
async fn persist(p: Persister) {
    let Persister { app, run, store, team, handle, mut task, persisted, mut cursor, ended, listeners } = p;
    let mut batches = handle.entries();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let write = |lines: Vec<store::InputLine>, len: usize| {
        let store = store.clone();
        let team = team.clone();
        async move {
            match store.append_inputs(&team, &lines).await {
                Ok(()) => Some(len),
                Err(e) => {
                    tracing::error!(%team, error = %e, "journal inputs not written; retrying");
                    None
                }
            }
        }
    };
    let collect = |j: &[Entry], from: usize| -> (Vec<store::InputLine>, usize) {
        (j.iter().enumerate().skip(from).filter_map(|(i, e)| line_of(i, e)).collect(), j.len())
    };
    let view = handle.view();
    let range = loop {
        tokio::select! {
            b = batches.recv() => {
                if matches!(b, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    // The driver is gone; its range comes through the task.
                }
            }
            _ = tick.tick() => {}
            done = &mut task => break done.ok().flatten(),
        }
        let (lines, len) = view.read(|j, _| collect(j, cursor));
        if let Some(len) = write(lines, len).await {
            cursor = len;
            persisted.send_replace(cursor);
        }
    };
    // The run is over for this team: its addresses are free before anyone may reuse them.
    if let Some(l) = listeners {
        l.close().await;
    }
    if let Some(r) = range {
        loop {
            let (lines, len) = collect(r.journal(), cursor);
            if write(lines, len).await.is_some() {
                *ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                persisted.send_replace(usize::MAX);
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // The last team to end ends the run (its address block is free again); never while a
        // team is being added (`starting`).
        if let Some(app) = app.upgrade() {
            let app = crate::App(app);
            let _one = app.starting.lock().await;
            if let Ok(teams) = app.store.teams(&run).await {
                let all = teams.iter().all(|t| app.ranges.get(&t.id).is_some_and(|tr| tr.has_ended()));
                if all {
                    if let Ok(Some(r)) = app.store.run(&run).await {
                        let _ = app.store.set_run_status(&run, store::RunStatus::Ended, r.speed).await;
                        // Every team's listeners are closed by now.
                        let _ = app.store.release_blocks(&run).await;
                    }
                }
            }
        }
    }
}

/// Brings back every run that had begun, paused at its last input.
pub async fn recover(app: &crate::App) -> Result<usize, store::Error> {
    let mut n = 0;
    for run in app.store.runs().await? {
        if run.status == store::RunStatus::Draft {
            continue;
        }
        for team in app.store.teams(&run.id).await? {
            let inputs = app.store.inputs(&team.id).await?;
            match start_team(app, &run, &team, &inputs, run.status == store::RunStatus::Ended).await {
                Ok(_) => n += 1,
                Err(e) => tracing::error!(run = %run.id, team = %team.name, error = %e, "run not recovered"),
            }
        }
        if run.status == store::RunStatus::Running {
            app.store.set_run_status(&run.id, store::RunStatus::Paused, run.speed).await?;
        }
        if run.status == store::RunStatus::Ended {
            // Ended before a crash that came before its blocks were given back.
            app.store.release_blocks(&run.id).await?;
        }
    }
    Ok(n)
}

/// Live inputs in a journal (what a range brought back by replay has taken of its budget).
fn live_inputs(journal: &[Entry]) -> u64 {
    journal.iter().filter(|e| matches!(e, Entry::Live { .. }) && e.input().is_some()).count() as u64
}

/// A new team of `run` named `name` with the lowest free address block 127.N.0.0 (N from the
/// configuration's first block): the one way a block is allocated. The database's key on
/// blocks decides between concurrent requests; the loser tries the next free block. The
/// caller holds `Inner::starting` (the quotas are then checked and used at once).
pub async fn new_team(app: &crate::App, run: &store::Run, name: &str) -> Result<store::Team, ApiError> {
    if app.store.teams(&run.id).await?.len() >= app.quotas.teams_per_run {
        return Err(ApiError::Conflict("the run has as many teams as it may (teams_per_run)"));
    }
    let creator_is_admin = app.store.user(&run.created_by).await?.is_some_and(|u| u.admin);
    if !creator_is_admin
        && app.store.blocks_held_by(&run.created_by).await? >= app.quotas.blocks_per_instructor
    {
        return Err(ApiError::Conflict(
            "the runs of this instructor hold as many address blocks as they may (blocks_per_instructor)",
        ));
    }
    for _ in 0..32 {
        let used = app.store.bases_in_use().await?;
        let base = (app.first_block..=250)
            .map(|n| Ipv4Addr::new(127, n, 0, 0))
            .find(|b| !used.contains(&b.to_string()))
            .ok_or(ApiError::Conflict("no free address block for another team"))?;
        let team = store::Team {
            id: crate::auth::token(8),
            run: run.id.clone(),
            name: name.to_string(),
            base: base.to_string(),
        };
        match app.store.create_team(&team).await {
            Ok(()) => return Ok(team),
            Err(store::Error::Conflict) if app.store.team_named(&run.id, name).await? => {
                return Err(ApiError::Conflict("already exists"));
            }
            Err(store::Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the address blocks are in demand; try again"))
}

/// Starts a draft run's teams' ranges, or none: a start that fails half-way (or that a crash
/// interrupted: the draft's teams then have inputs kept) leaves the run a draft that starts
/// again. The caller holds `Inner::starting` (one start, team creation or deletion at a time).
pub async fn start_run(
    app: &crate::App,
    run_id: &str,
) -> Result<Vec<(store::Team, Arc<TeamRange>)>, ApiError> {
    let run = app.store.run(run_id).await?.ok_or(ApiError::NotFound)?;
    if run.status != store::RunStatus::Draft {
        return Err(ApiError::Conflict("the run has already started"));
    }
    let teams = app.store.teams(run_id).await?;
    if teams.is_empty() {
        return Err(ApiError::Conflict("add a team first"));
    }
    let mut started = Vec::new();
    let mut failed = None;
    for t in &teams {
        // What an interrupted start kept of this draft is not a run's record.
        if let Err(e) = app.store.clear_inputs(&t.id).await {
            failed = Some(StartError::Store(e));
            break;
        }
        match start_team(app, &run, t, &[], false).await {
            Ok(tr) => started.push((t.clone(), tr)),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failed {
        tracing::error!(run = %run.id, error = %e, "run not started; rolled back");
        for (t, tr) in started {
            app.ranges.remove(&t.id);
            let _ = tr.handle.stop().await;
            let _ = app.store.clear_inputs(&t.id).await;
        }
        return Err(ApiError::Internal);
    }
    // No longer a draft before the lock is let go: a second start finds it begun.
    app.store.set_run_status(&run.id, store::RunStatus::Paused, run.speed).await?;
    Ok(started)
}

/// Deletes a team of a draft run (its block is free again).
pub async fn delete_team(app: &crate::App, team: &store::Team) -> Result<(), ApiError> {
    let _one = app.starting.lock().await;
    let run = app.store.run(&team.run).await?.ok_or(ApiError::NotFound)?;
    if run.status != store::RunStatus::Draft {
        return Err(ApiError::Conflict("only a draft run's teams can be deleted"));
    }
    app.store.delete_team(&team.id).await?;
    Ok(())
}

/// Deletes a draft run, its teams and their blocks.
pub async fn delete_run(app: &crate::App, run: &str) -> Result<(), ApiError> {
    let _one = app.starting.lock().await;
    let r = app.store.run(run).await?.ok_or(ApiError::NotFound)?;
    if r.status != store::RunStatus::Draft {
        return Err(ApiError::Conflict("only a draft run can be deleted"));
    }
    app.store.delete_run(run).await?;
    app.exercises.remove(run);
    Ok(())
}
