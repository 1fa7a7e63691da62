//! The driver on tokio's paused clock (time advances only when every task waits, so pacing
//! is checked exactly, without sleeping in real time): pause stops simulated time for the
//! grid, the campaign and the devices; resume and speed changes take effect; a subscriber
//! that never reads does not hold the range back; 50 drivers run in one process; the view the
//! pages read follows the range without its lock.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::PathBuf;
use std::time::Duration;

use exercise::Exercise;
use exercise::catalogue::Builtin;
use gridsim::sim::SimTime;
use netio::driver::{self, Pace};
use range::{Action, Actor, Outcome, Range, RunConfig};

fn ukraine() -> (Exercise, Range) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../exercises/ukraine2015.yaml");
    let ex = exercise::load(&std::fs::read_to_string(path).unwrap(), &Builtin).unwrap();
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let r = Range::new(ex.clone(), grid, RunConfig::new(1, "none", Vec::new())).unwrap();
    (ex, r)
}

fn instructor() -> Actor {
    Actor::Instructor { name: "ines".into() }
}

#[tokio::test(start_paused = true)]
async fn pause_stops_simulated_time_and_resume_and_speed_take_effect() {
    let (_, range) = ukraine();
    let (h, _task) = driver::spawn(range, Pace::Times(10.0), false, None);
    let state = h.state();
    // 10 s of wall clock at 10x: 100 s of simulated time.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let t1 = state.borrow().hmi.t;
    assert!((SimTime::from_secs(99.0)..=SimTime::from_secs(101.0)).contains(&t1), "{t1}");

    // The campaign opens breakers from 600 s; pause in the middle of it.
    tokio::time::sleep(Duration::from_secs(55)).await;
    assert_eq!(h.act(instructor(), Action::Pause).await, Some(Outcome::Accepted));
    let before = state.borrow().clone();
    assert!(before.paused);
    tokio::time::sleep(Duration::from_secs(120)).await;
    let after = state.borrow().clone();
    assert_eq!(after.hmi.t, before.hmi.t, "simulated time stood still");
    assert_eq!(after.entries, before.entries, "no journal entry while paused");
    assert_eq!(after.f_hz, before.f_hz, "no frequency change while paused");
    assert_eq!(after.packets, before.packets, "no device or master traffic while paused");

    // Resume at 60x: 10 s of wall clock is 600 s of simulated time from where it stopped.
    assert_eq!(h.act(instructor(), Action::Speed { factor: Some(60.0) }).await, Some(Outcome::Accepted));
    assert_eq!(h.act(instructor(), Action::Resume).await, Some(Outcome::Accepted));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let resumed = state.borrow().clone();
    let ran = resumed.hmi.t.0 - before.hmi.t.0;
    assert!((599_000_000..=601_000_000).contains(&ran), "{ran} us in 10 s at 60x");
    assert!(resumed.entries > after.entries, "the campaign goes on");

    // A trainee may not pause the run.
    let trainee = Actor::User { team: "blue".into(), user: "ana".into(), role: range::Role::Lead };
    assert!(matches!(h.act(trainee, Action::Pause).await, Some(Outcome::Refused(_))));
    let r = h.stop().await.unwrap();
    assert!(r.is_finished());
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_never_reads_does_not_hold_the_range_back() {
    let (_, range) = ukraine();
    let (h, task) = driver::spawn(range, Pace::Max, false, None);
    let mut never_read = h.entries();
    let range = task.await.unwrap().unwrap();
    assert!(range.is_finished(), "the hour ran to its end");
    // What waits for the subscriber is bounded: past `BACKLOG` batches it would lag (and be
    // told how many it missed); the range never waited for it.
    assert!(never_read.len() <= driver::BACKLOG);
    assert!(never_read.try_recv().is_ok(), "its batches are still there to read");
}

#[tokio::test(start_paused = true)]
async fn fifty_drivers_run_in_one_process() {
    let mut handles = Vec::new();
    for _ in 0..50 {
        let (_, range) = ukraine();
        handles.push(driver::spawn(range, Pace::Times(60.0), false, None));
    }
    // Eleven seconds of wall clock at 60x: eleven minutes, past the hijack's start (10 min),
    // on every range, each at its own pace.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut ran = 0;
    for (h, _task) in handles {
        let r = h.stop().await.unwrap();
        assert!(r.time() >= SimTime::from_secs(659.0), "{}", r.time());
        assert!(
            r.journal().iter().any(|e| matches!(e, range::Entry::Attack { step, .. } if step == "hijack"))
        );
        ran += 1;
    }
    assert_eq!(ran, 50);
}

/// A connection and its request that arrive while paused are held, unanswered and
/// unjournaled, and answered when the run resumes (the open at the instant it resumes at). Real sockets, real time; no sleeping:
/// the test waits on the driver's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_arrives_while_paused_is_answered_on_resume() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../exercises/ukraine2015.yaml");
    let ex = exercise::load(&std::fs::read_to_string(path).unwrap(), &Builtin).unwrap();
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut cfg = RunConfig::new(1, "none", Vec::new());
    cfg.base = std::net::Ipv4Addr::new(127, 61, 0, 0);
    let range = Range::new(ex, grid, cfg).unwrap();
    let plc = std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(127, 61, 0, 1), proto_modbus::PORT);
    let (h, _task) = driver::spawn(range, Pace::Times(1.0), false, None);
    let listeners = netio::live::listen(&h, &[plc]).await.unwrap();
    let mut state = h.state();
    // Let the grid take a step first (the devices' images follow each step).
    state.wait_for(|st| st.hmi.t > SimTime(0)).await.unwrap();
    let mut pdu = Vec::new();
    proto_modbus::Request::ReadInputRegisters { start: 2, count: 1 }.emit(&mut pdu);
    let mut adu = Vec::new();
    proto_modbus::adu::emit(7, 1, &pdu, &mut adu);
    // MBAP echoes transaction 7; FC 4 answers one register: the frequency, 50.00 Hz x 100.
    let answer = [0, 7, 0, 0, 0, 5, 1, 4, 2, 0x13, 0x88];
    let mut buf = [0u8; 64];
    // Connection a, opened and answered while the run goes.
    let mut a = tokio::net::TcpStream::connect(listeners[0].local).await.unwrap();
    a.write_all(&adu).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), a.read(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], answer);

    assert_eq!(h.act(instructor(), Action::Pause).await, Some(Outcome::Accepted));
    let before = state.borrow().clone();
    // a's next request, and connection b's open (its request waits behind it in the socket).
    a.write_all(&adu).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(listeners[0].local).await.unwrap();
    b.write_all(&adu).await.unwrap();
    state.wait_for(|st| st.held == 2).await.unwrap();
    for s in [&a, &b] {
        assert!(
            matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "no answer while paused"
        );
    }
    let held = state.borrow().clone();
    assert_eq!(
        (held.hmi.t, held.entries),
        (before.hmi.t, before.entries),
        "nothing journaled, time stood still"
    );

    assert_eq!(h.act(instructor(), Action::Resume).await, Some(Outcome::Accepted));
    for s in [&mut a, &mut b] {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], answer);
    }
    let r = h.stop().await.unwrap();
    let live_t: Vec<SimTime> = r
        .journal()
        .iter()
        .filter_map(|e| match e {
            range::Entry::Live { t, .. } if *t >= before.hmi.t => Some(*t),
            _ => None,
        })
        .collect();
    // a's request and b's open, applied at the instant the run resumed at; b's request after.
    assert!(live_t.len() >= 3, "{live_t:?}");
    assert_eq!(live_t[..2], [before.hmi.t, before.hmi.t]);
}

/// What the pages read (`View`) is the range's own journal, time and HMI points as of its last
/// step, and reading it takes no lock the range holds while it steps: here it is read from
/// inside the range's own lock (where a step runs), and it answers.
#[tokio::test(start_paused = true)]
async fn the_view_follows_the_range_and_needs_not_its_lock() {
    let (_, range) = ukraine();
    let (h, _task) = driver::spawn(range, Pace::Times(10.0), false, None);
    // 700 s of simulated time: the campaign has begun opening breakers.
    tokio::time::sleep(Duration::from_secs(70)).await;
    let view = h.view();
    assert!(view.snapshot().t > SimTime(0));
    let entries = h
        .read(|r| {
            view.read(|journal, snapshot| {
                assert_eq!(journal, r.journal(), "the view's journal is the range's");
                assert_eq!(snapshot.t, r.time());
                assert_eq!(snapshot.finished, r.is_finished());
                assert_eq!(snapshot.points, journal_format::evidence::points(r));
                journal.len()
            })
        })
        .unwrap();
    assert!(entries > 1, "the view follows the journal past its start entry: {entries}");
    let t = view.snapshot().t;
    assert!((SimTime::from_secs(699.0)..=SimTime::from_secs(701.0)).contains(&t), "{t}");
    assert!(!view.snapshot().points.is_empty(), "the HMI's points");
}

/// An action within an instant (the run paused, a breaker operated through the SCADA master)
/// reaches what the pages read before its outcome is known: its entries are in the view's
/// journal, and the view's points are the range's (republished whenever entries came).
#[tokio::test(start_paused = true)]
async fn an_action_while_paused_reaches_the_view() {
    let (_, range) = ukraine();
    let (h, _task) = driver::spawn(range, Pace::Times(10.0), false, None);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(h.act(instructor(), Action::Pause).await, Some(Outcome::Accepted));
    let view = h.view();
    // A branch breaker the HMI shows, as a trainee would pick it.
    let p = *view.snapshot().points.iter().find(|p| p.ioa == devices::rtu::ioa::BRANCH_BREAKER).unwrap();
    let (station, ioa) = (p.ca, p.ioa);
    let before = view.len();
    let operator = Actor::User { team: "blue".into(), user: "ana".into(), role: range::Role::Operator };
    let open =
        exercise::DefenderAction::Operate { point: exercise::CommandPoint { station, ioa }, close: false };
    let outcome = h.act(operator, Action::Defend(open)).await.unwrap();
    assert!(!matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
    assert!(view.len() > before, "the action's entries are in the view");
    h.read(|r| {
        view.read(|journal, snapshot| {
            assert_eq!(journal, r.journal());
            assert_eq!(snapshot.points, journal_format::evidence::points(r));
        })
    })
    .unwrap();
}
