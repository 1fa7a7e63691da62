//! The built-in exercises, headless: their `expect` blocks hold, runs are
//! reproducible, and the journal is the single source of the score.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use exercise::Exercise;
use exercise::catalogue::Builtin;
use gridsim::sim::{Cause, Element, EventKind};
use range::journal::Delivery;
use range::score::{check, score};
use range::{Range, RunConfig};

fn exercise(name: &str) -> Exercise {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../exercises/{name}.yaml"));
    exercise::load(&std::fs::read_to_string(path).unwrap(), &Builtin).unwrap()
}

fn run(ex: &Exercise, defender: &str, seed: u64) -> Range {
    run_at(ex, defender, seed, std::net::Ipv4Addr::new(127, 10, 0, 0))
}

fn run_at(ex: &Exercise, defender: &str, seed: u64, base: std::net::Ipv4Addr) -> Range {
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let rules = if defender == "none" { Vec::new() } else { ex.defenders[defender].clone() };
    let mut cfg = RunConfig::new(seed, defender, rules);
    cfg.base = base;
    let mut r = Range::new(ex.clone(), grid, cfg).unwrap();
    r.run_to_end();
    r
}

/// Every `expect` block of the exercise, for every defender it names, holds.
fn expectations_hold(name: &str) {
    let ex = exercise(name);
    let mut journals = BTreeMap::new();
    let mut totals = BTreeMap::new();
    for e in &ex.expect {
        for d in std::iter::once(&e.defender).chain(e.score_above.iter()) {
            if !journals.contains_key(d) {
                let r = run(&ex, d, 1);
                let s = score(&ex, r.journal());
                totals.insert(d.clone(), s.total);
                journals.insert(d.clone(), r.journal().to_vec());
            }
        }
    }
    for e in &ex.expect {
        let j = &journals[&e.defender];
        let s = score(&ex, j);
        let fails = check(&ex, e, j, &s, &totals);
        assert!(fails.is_empty(), "{name}, defender {}: {fails:#?}\nscore {s:#?}", e.defender);
    }
    // In another team's block the exercise plays and scores the same: no address in it is
    // a literal (hosts, devices, answers and artefacts all follow the block).
    let other = std::net::Ipv4Addr::new(127, 20, 0, 0);
    for (d, j) in &journals {
        let r = run_at(&ex, d, 1, other);
        let (here, there) = (score(&ex, j), score(&ex, r.journal()));
        assert_eq!(here, there, "{name}, defender {d}: scores differ at {other}");
        assert!(
            r.journal().iter().all(|e| match e {
                range::Entry::Command { src, dst, .. } => src.octets()[1] == 20 && dst.octets()[1] == 20,
                range::Entry::It { src: Some(a), .. } => a.octets()[1] == 20,
                _ => true,
            }),
            "{name}: an address outside {other}/16"
        );
        for e in ex.expect.iter().filter(|e| &e.defender == d) {
            let fails = check(&ex, e, r.journal(), &there, &totals);
            assert!(fails.is_empty(), "{name} at {other}, defender {d}: {fails:#?}");
        }
    }
}

#[test]
fn ukraine_expectations_hold() {
    expectations_hold("ukraine2015");
}

#[test]
fn industroyer_expectations_hold() {
    expectations_hold("industroyer2016");
}

#[test]
fn industroyer2022_expectations_hold() {
    expectations_hold("industroyer2022");
}

/// The oil sector: the hurried stop overpressures the line, the orderly one does not, and
/// the line comes back at its nomination after the pressure hold.
#[test]
fn colonial_expectations_hold() {
    expectations_hold("colonial2021");
}

/// Without a defender the rewritten safety program lets the line rupture behind the relief
/// valve; with the key back at RUN the download is refused and nothing leaves the pipe.
#[test]
fn triton_expectations_hold() {
    expectations_hold("triton2017");
}

/// As it happened in 2017: the program cannot run, the controller faults and trips the line
/// safe; nothing goes above MAOP, production is lost.
#[test]
fn triton_trip_expectations_hold() {
    expectations_hold("triton2017-trip");
}

/// Industroyer's payload runs on the master's own host: no rogue master; the range walk is
/// seen by its refusals, the opening of every breaker only by correlation with the HMI's
/// journal, and the relay DoS by its UDP datagram. Every breaker of the one substation is
/// opened and the relays hang until rebooted.
#[test]
fn industroyer_is_caught_by_the_protocol_rules() {
    let ex = exercise("industroyer2016");
    let r = run(&ex, "none", 1);
    let s = score(&ex, r.journal());
    assert_eq!(s.detected_by["range-walk"], ["iec104.ioa_sweep"]);
    assert_eq!(s.detected_by["open-all"], ["corr.unexplained_command"]);
    assert_eq!(s.detected_by["relay-dos"], ["siprotec.dos"]);
    assert!(
        !r.journal()
            .iter()
            .any(|e| matches!(e, range::Entry::Alert { alert } if alert.rule == "iec104.rogue_master"))
    );
    // Station 116's three breakers (its line, its feeder, its unit), and only those, opened
    // by command; its 184 MW load (82,800 customers at 450 per MW) lost.
    let opened: Vec<Element> = r
        .journal()
        .iter()
        .filter_map(|e| match e {
            range::Entry::Grid { event }
                if event.kind == EventKind::Open && event.cause == Cause::Command =>
            {
                Some(event.element)
            }
            _ => None,
        })
        .collect();
    assert_eq!(opened, [Element::Branch(183), Element::Load(gridsim::BusId(116)), Element::Gen(54)]);
    assert_eq!(s.customers_off_peak, 82_800);
    // The four relays hang: unreachable, their lines' protection out of service.
    for row in [183u32, 104, 107, 126] {
        let relay = r.devices().relays.iter().position(|x| x.row == row).unwrap();
        assert!(!r.devices().reachable(devices::DeviceRef::Relay(relay)), "relay of branch {row}");
        assert_eq!(r.sim().branch_protection(row), Some(false), "protection of branch {row}");
    }
    // The stations refused the IOAs that do not exist with COT 47 (unknown IOA), and only
    // with it, as the question's answer says: read off the wire.
    let q = ex.questions.iter().find(|q| q.id == "cot").unwrap();
    assert!(range::score::judge(&ex, q, "47", r.journal()));
    let mut r = Range::new(
        ex.clone(),
        exercise::build_grid(&Builtin, &ex.grid).unwrap(),
        RunConfig::new(1, "none", Vec::new()),
    )
    .unwrap();
    let mut causes = std::collections::BTreeSet::new();
    while r.time() < gridsim::sim::SimTime::from_secs(700.0) {
        r.step();
        for w in r.take_wire() {
            let range::net::WireEvent::ToClient(bytes) = w.event else { continue };
            let mut framer = proto_iec104::Framer::new();
            framer.push(&bytes);
            while let Ok(Some(raw)) = framer.next_frame() {
                let Ok(f) = proto_iec104::Frame::parse(&raw) else { continue };
                if let Ok(a) = proto_iec104::Asdu::parse(&f.asdu) {
                    if a.negative {
                        causes.insert(a.cause);
                    }
                }
            }
        }
    }
    assert_eq!(causes.into_iter().collect::<Vec<_>>(), [47]);
}

/// Without a defender the HMI hijack takes the three companies down: ≥ 150,000 customers,
/// and every step on the wire is detected, the hijack by correlation only.
#[test]
fn ukraine_without_defender_is_the_blackout_of_the_reports() {
    let ex = exercise("ukraine2015");
    let r = run(&ex, "none", 1);
    let s = score(&ex, r.journal());
    assert!(s.customers_off_peak >= 150_000, "{}", s.customers_off_peak);
    assert_eq!(s.detected_by["hijack"], ["corr.unexplained_command"], "only correlation sees the hijack");
    assert!(s.detected_by["firmware"].iter().any(|r| r == "fw.transfer"));
    assert!(s.detected_by["ups"].iter().any(|r| r == "modbus.write_unlisted"));
    // Injects arrive on their conditions: the call flood 2 minutes after the hijack starts,
    // the press once more than 100,000 customers are off (plus 5 minutes).
    let inject_t = |id: &str| {
        r.journal().iter().find_map(|e| match e {
            range::Entry::Inject { t, id: i, .. } if i == id => Some(t.secs()),
            _ => None,
        })
    };
    assert_eq!(inject_t("calls"), Some(600.0 + 120.0));
    let over = r
        .journal()
        .iter()
        .find_map(|e| match e {
            range::Entry::Supply { t, customers_off, .. } if *customers_off > 100_000 => Some(t.secs()),
            _ => None,
        })
        .unwrap();
    assert!(inject_t("press").unwrap() <= over + 300.0, "{:?} vs {over}", inject_t("press"));
    // The questions' run figures come from the journal: 27 substations' supplies opened.
    assert_eq!(
        range::score::run_figure(r.journal(), exercise::RunFigure::BreakersOpened).as_deref(),
        Some("27")
    );
    assert_eq!(
        range::score::run_figure(r.journal(), exercise::RunFigure::AttackerAddress).as_deref(),
        Some("127.10.250.66")
    );
}

/// The built-in IDS alerting is not the team detecting: a team that does nothing scores no
/// detection though every step on the wire raised alerts; the good defender, who acts on
/// them, detects each step within the bands.
#[test]
fn an_idle_team_detects_nothing() {
    for name in ["ukraine2015", "industroyer2016", "industroyer2022"] {
        let ex = exercise(name);
        let s = score(&ex, run(&ex, "none", 1).journal());
        assert!(!s.detected_by.is_empty(), "{name}: alerts detected the steps");
        assert!(s.time_to_detect_s.values().all(Option::is_none), "{name}: {:?}", s.time_to_detect_s);
        assert_eq!(s.components["detection"], 0.0, "{name}");
    }
    let ex = exercise("ukraine2015");
    let s = score(&ex, run(&ex, "good", 1).journal());
    assert!(s.components["detection"] > 0.5, "{s:#?}");
}

/// Acting on a step is acting on it: after the hijack's first alert, an answer about another
/// question, a hint or shelving its alarm detect nothing; acknowledging its alarm does (its
/// time to detect is then the acknowledgement's).
#[test]
fn only_acting_on_a_step_detects_it() {
    let lead = || range::Actor::User { team: "t".into(), user: "u".into(), role: range::Role::Lead };
    let ex = exercise("ukraine2015");
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut r = Range::new(ex.clone(), grid, RunConfig::new(1, "none", Vec::new())).unwrap();
    let act = |r: &mut Range, a: exercise::DefenderAction| r.act(lead(), range::Action::Defend(a));
    let alert = loop {
        r.step();
        let found = r.journal().iter().position(
            |e| matches!(e, range::Entry::Alert { alert } if alert.rule == "corr.unexplained_command"),
        );
        if let Some(i) = found {
            break i;
        }
    };
    let key = format!("ids:{alert}");
    use exercise::{AlarmOp, DefenderAction as D};
    act(&mut r, D::AnswerQuestion { question: "source".into(), value: "10.0.0.1".into() });
    act(&mut r, D::Hint { question: "account".into(), index: 0 });
    act(&mut r, D::Alarms { op: AlarmOp::Shelve, keys: vec![key.clone()] });
    act(&mut r, D::Alarms { op: AlarmOp::Ack, keys: vec!["ids:0".into()] });
    let noticed = |r: &Range| {
        range::score::detections(&ex, r.journal()).into_iter().find(|d| d.step == "hijack").unwrap().noticed
    };
    assert_eq!(noticed(&r), None, "nothing that acts on the hijack");
    for _ in 0..10 {
        r.step();
    }
    act(&mut r, D::Alarms { op: AlarmOp::Ack, keys: vec![key] });
    let at = r.journal().len() - 1;
    assert_eq!(noticed(&r), Some(at), "the acknowledgement of its alarm");
}

/// Answers are read as people type them: case, spaces, thousands separators, units (the
/// figures from the run: 27 breakers; the ENS in MWh from the journal's last sample).
#[test]
fn answers_in_two_spellings_are_judged_alike() {
    let ex = exercise("ukraine2015");
    let r = run(&ex, "none", 1);
    let j = r.journal();
    let q = |id: &str| ex.questions.iter().find(|q| q.id == id).unwrap();
    let judge = |id: &str, v: &str| range::score::judge(&ex, q(id), v, j);
    let peak = range::score::run_figure(j, exercise::RunFigure::CustomersOffPeak).unwrap();
    let peak: u64 = peak.parse().unwrap();
    let grouped = format!("{},{:03}", peak / 1000, peak % 1000);
    assert!(judge("customers", &peak.to_string()) && judge("customers", &grouped), "{grouped}");
    assert!(judge("customers", &format!("{grouped} customers")));
    let ens: f64 = range::score::run_figure(j, exercise::RunFigure::EnsMwh).unwrap().parse().unwrap();
    assert!(judge("ens", &format!("{ens:.2}")) && judge("ens", &format!("{:.0} kWh", ens * 1000.0)));
    assert!(!judge("ens", &format!("{ens:.2} MW")), "power is not energy");
    assert!(!judge("ens", &format!("{:.2}", ens * 1.2)));
    assert!(judge("account", "operator7") && judge("account", " Operator7 "));
    assert!(!judge("account", "operater7"));
    assert!(judge("why-manual", "The gateways and UPSs were disabled."));
    assert!(judge("breakers", "27") && judge("breakers", "27 breakers") && !judge("breakers", "28"));
    let tr = exercise("triton2017");
    let limit = tr.questions.iter().find(|q| q.id == "limit").unwrap();
    let started = run(&tr, "none", 1);
    for v in ["9000", "9,000 kPa", "90 bar", "9 MPa"] {
        assert!(range::score::judge(&tr, limit, v, started.journal()), "{v}");
    }
    assert!(!range::score::judge(&tr, limit, "90", started.journal()), "90 is read in the question's kPa");
}

/// The same exercise, seed and defender give the same journal, entry for entry. (That the
/// score is a function of the journal alone is its signature; that the journal's written form
/// replays to the same journal and score is `cli/tests/replay.rs`.)
#[test]
fn runs_are_reproducible() {
    let ex = exercise("ukraine2015");
    let a = run(&ex, "good", 7).journal().to_vec();
    let b = run(&ex, "good", 7).journal().to_vec();
    assert_eq!(a, b);
}

/// Alerts cite capture frame numbers that exist: the range counts packets as the capture
/// writer writes them.
#[test]
fn alert_evidence_points_into_the_capture() {
    let ex = exercise("ukraine2015");
    let mut r = Range::new(
        ex.clone(),
        exercise::build_grid(&Builtin, &ex.grid).unwrap(),
        RunConfig::new(1, "none", Vec::new()),
    )
    .unwrap();
    let mut packets = 0u64;
    let mut data_frames = std::collections::BTreeSet::new();
    while !r.is_finished() {
        r.step();
        for w in r.take_wire() {
            if matches!(w.event, range::net::WireEvent::ToServer(_) | range::net::WireEvent::ToClient(_)) {
                data_frames.insert(packets + 1);
            }
            packets += w.packets();
        }
    }
    assert_eq!(packets, r.packets());
    for e in r.journal() {
        if let range::Entry::Alert { alert } = e {
            for n in &alert.evidence {
                assert!(data_frames.contains(n), "{}: frame {n} is not the start of a payload", alert.rule);
            }
        }
    }
}

/// Every other kind of attack step on case9, each caught by the rule made for it.
#[test]
fn every_attack_kind_puts_frames_on_the_wire_and_is_detected() {
    let text = "exercise: 1
id: kinds
title: Every attack kind
sources: [\"icsrange tests\"]
grid: case9
duration: 10m
zones: [{id: net}, {id: control}]
hosts:
  - {id: attacker, zone: net, addr: 250.66}
  - {id: scada, zone: control, addr: 230.10}
scada: {host: scada, stations: all}
allowlist: [scada]
devices: {sbo_required: [6]}
attack:
  - {id: rogue, at: 1m, iec104_command: {from: attacker, targets: [{station: 4, ioa: 2001}], value: open, select: false}}
  - {id: direct, at: 90s, iec104_command: {from: attacker, targets: [{station: 6, ioa: 2001}], value: open, select: false}}
  - {id: sweep, at: 2m, ioa_sweep: {from: attacker, station: 5, first: 2095, last: 2110, period: 10s, toggles: 4}}
  - {id: crob, at: 3m, dnp3_operate: {from: attacker, feeders: [7], value: open}}
  - {id: restart, at: 4m, modbus_restart: {from: attacker, device: \"0.2\"}}
  - {id: trip, at: 5m, modbus_write: {from: attacker, device: \"3.8\", coil: 0, value: 0}}
  - {id: brick, at: 6m, firmware: {from: attacker, substations: [bus 9]}}
expect:
  - {defender: none, wire_steps_detected: true}
";
    let ex = exercise::load(text, &Builtin).unwrap();
    let r = run(&ex, "none", 1);
    let s = score(&ex, r.journal());
    let expect = |step: &str, rule: &str| {
        assert!(
            s.detected_by[step].iter().any(|r| r == rule),
            "{step}: {:?} lacks {rule}",
            s.detected_by[step]
        );
    };
    expect("rogue", "iec104.rogue_master");
    // Station 6 requires select before operate: the direct execute is refused and flagged.
    expect("direct", "iec104.execute_without_select");
    let refused = r.journal().iter().any(|e| {
        matches!(e, range::Entry::Command { step: Some(s), outcome: Delivery::Refused, .. } if s == "direct")
    });
    assert!(refused, "station 6 refuses a direct execute");
    expect("sweep", "iec104.ioa_sweep");
    expect("sweep", "iec104.toggle_loop");
    expect("crob", "dnp3.operate_unlisted");
    expect("restart", "modbus.diagnostics");
    expect("trip", "modbus.write_unlisted");
    expect("brick", "fw.transfer");
    assert!(check(&ex, &ex.expect[0], r.journal(), &s, &BTreeMap::new()).is_empty());
    // The physics followed: the rogue open (IOA 2001 at bus 4: branch 1-4, the first in file
    // order), the CROB and the relay trip each opened a
    // breaker, and the bricked gateway's recloser went dark.
    let opened: Vec<Element> = r
        .journal()
        .iter()
        .filter_map(|e| match e {
            range::Entry::Grid { event }
                if event.kind == EventKind::Open && event.cause == Cause::Command =>
            {
                Some(event.element)
            }
            _ => None,
        })
        .collect();
    for el in [Element::Branch(1), Element::Load(gridsim::BusId(7)), Element::Branch(8)] {
        assert!(opened.contains(&el), "{el} not opened: {opened:?}");
    }
    assert!(!r.devices().reachable(devices::DeviceRef::Recloser(2)));
}

/// A hint costs its points; a device switched to LOCAL refuses the attacker's CROB, and the
/// feeder stays on.
#[test]
fn hints_cost_points_and_local_devices_refuse_remote_operations() {
    let ex = exercise("ukraine2015");
    let r = run(&ex, "good", 1);
    let s = score(&ex, r.journal());
    // The firmware step never happens: the question about it is withdrawn with its points.
    assert_eq!(s.withdrawn, ["why-manual"]);
    let total: f64 = ex.questions.iter().filter(|q| q.id != "why-manual").map(|q| q.points).sum();
    // The good defender answers every question standing, one of them after its 3-point hint
    // (the VPN source as its address in this run's block, the run's figures as they stood).
    assert_eq!(s.components["questions"], ((total - 3.0) / total * 1e4_f64).round() / 1e4);

    let text = "exercise: 1
id: local
title: Local
sources: [tests]
grid: case9
duration: 5m
zones: [{id: net}]
hosts: [{id: attacker, zone: net, addr: 250.66}, {id: scada, zone: net, addr: 230.10}]
scada: {host: scada, stations: [5]}
attack:
  - {id: crob, at: 3m, dnp3_operate: {from: attacker, feeders: [7], value: open}}
defenders:
  crew: [{at: 1m, do: local, device: \"2.2\"}]
";
    let ex = exercise::load(text, &Builtin).unwrap();
    let r = run(&ex, "crew", 1);
    let outcome = r.journal().iter().find_map(|e| match e {
        range::Entry::Command { step: Some(s), outcome, .. } if s == "crob" => Some(*outcome),
        _ => None,
    });
    assert_eq!(outcome, Some(Delivery::CrobStatus(7)), "LOCAL");
    assert_eq!(r.sim().load_closed(gridsim::BusId(7)), Some(true));
}

/// The HMI's view is the SCADA master's point database, not the grid: when the UPSs go off
/// (40 min) the RTUs they feed go dark and their points go stale, while stations still
/// reachable stay topical; before that nothing is stale.
#[test]
fn the_hmi_shows_what_the_scada_master_received_and_dark_stations_go_stale() {
    let ex = exercise("ukraine2015");
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut r = Range::new(ex, grid, RunConfig::new(1, "none", Vec::new())).unwrap();
    while r.time() < gridsim::sim::SimTime::from_secs(30.0 * 60.0) {
        r.step();
    }
    assert!(!r.scada().points().is_empty());
    assert_eq!(r.hmi_view().stale_points, 0, "every station reports before the UPSs go off");
    while r.time() < gridsim::sim::SimTime::from_secs(42.0 * 60.0) {
        r.step();
    }
    let (mut dark, mut lit) = (0, 0);
    for (i, rtu) in r.devices().rtus.iter().enumerate() {
        let ca = rtu.station.common_address;
        let points: Vec<_> = r.scada().points().range((ca, 0)..=(ca, u32::MAX)).map(|(_, p)| *p).collect();
        if points.is_empty() {
            continue;
        }
        if r.devices().reachable(devices::DeviceRef::Rtu(i)) {
            lit += 1;
            assert!(points.iter().all(|p| !p.stale()), "station {ca} is reachable: its points are topical");
        } else {
            dark += 1;
            assert!(points.iter().all(|p| p.stale()), "station {ca} went dark: its points are stale");
        }
    }
    assert!(dark > 0 && lit > 0, "{dark} dark stations, {lit} reachable");
    let view = r.hmi_view();
    assert!(view.online < view.stations, "{view:?}");
}

/// Answers and responses that guess earn nothing: a figure answered before the step it is
/// about has begun is wrong (0 customers before the hijack), a listed host blocked before
/// any command came from it costs the false-positive penalty (after, it does not), and a
/// host cleaned with nothing in the evidence about it costs the same.
#[test]
fn guesses_earn_nothing() {
    let lead = || range::Actor::User { team: "t".into(), user: "u".into(), role: range::Role::Lead };
    let act = |r: &mut Range, a: exercise::DefenderAction| r.act(lead(), range::Action::Defend(a));
    let answer =
        |q: &str, v: &str| exercise::DefenderAction::AnswerQuestion { question: q.into(), value: v.into() };
    let start = |name: &str| {
        let ex = exercise(name);
        let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
        (ex.clone(), Range::new(ex, grid, RunConfig::new(1, "none", Vec::new())).unwrap())
    };
    let step_to = |r: &mut Range, s: f64| {
        while r.time() < gridsim::sim::SimTime::from_secs(s) {
            r.step();
        }
    };

    let (_, mut r) = start("ukraine2015");
    step_to(&mut r, 60.0);
    assert_eq!(act(&mut r, answer("customers", "0")), range::Outcome::Verdict { correct: false });
    assert_eq!(act(&mut r, answer("ens", "0")), range::Outcome::Verdict { correct: false });

    // Industroyer 2016: the master's host blocked at 1 min, before its commands: penalised.
    let (ex, mut r) = start("industroyer2016");
    step_to(&mut r, 60.0);
    act(&mut r, exercise::DefenderAction::Block { host: "scada".into() });
    r.run_to_end();
    assert_eq!(score(&ex, r.journal()).penalties, 5.0);
    // The same host named by its address (as a trainee names it, from the evidence): the
    // same block, the same penalty, and the journal keeps the address as given.
    let (ex, mut r) = start("industroyer2016");
    step_to(&mut r, 60.0);
    let addr =
        ex.host("scada").unwrap().addr.in_block(RunConfig::new(1, "none", Vec::new()).base).to_string();
    assert_eq!(act(&mut r, exercise::DefenderAction::Block { host: addr.clone() }), range::Outcome::Accepted);
    // A rule is a rule: any address or prefix is blocked as typed; what is neither is refused.
    assert_eq!(
        act(&mut r, exercise::DefenderAction::Block { host: "127.99.99.99".into() }),
        range::Outcome::Accepted
    );
    assert_eq!(
        act(&mut r, exercise::DefenderAction::Block { host: "10.0.0.0/8".into() }),
        range::Outcome::Accepted
    );
    assert!(matches!(
        act(&mut r, exercise::DefenderAction::Block { host: "attacker-ish".into() }),
        range::Outcome::Refused(why) if why == "no host `attacker-ish`"
    ));
    r.run_to_end();
    assert_eq!(score(&ex, r.journal()).penalties, 5.0);
    assert!(r.journal().iter().any(|e| matches!(e, range::Entry::Act {
        action: range::Action::Defend(exercise::DefenderAction::Block { host }), .. } if *host == addr)));
    // A run recorded before hosts could be named by address replays as it ran: refused.
    let ex = exercise("industroyer2016");
    let grid = exercise::build_grid(&Builtin, &ex.grid).unwrap();
    let mut cfg = RunConfig::new(1, "none", Vec::new());
    cfg.hosts_by_address = false;
    let mut old = Range::new(ex.clone(), grid, cfg).unwrap();
    assert!(matches!(
        act(&mut old, exercise::DefenderAction::Block { host: addr.clone() }),
        range::Outcome::Refused(why) if why == format!("no host `{addr}`")
    ));
    // The good defender blocks it after the commands came: no penalty.
    let good = run(&ex, "good", 1);
    assert_eq!(score(&ex, good.journal()).penalties, 0.0);

    // Industroyer2: cleaning the domain controller, with nothing about it in the evidence,
    // is a guess; cleaning the front end after its EDR log is not.
    let (ex, mut r) = start("industroyer2022");
    step_to(&mut r, 60.0);
    act(&mut r, exercise::DefenderAction::Clean { host: "dc".into() });
    act(&mut r, exercise::DefenderAction::Clean { host: "scada".into() });
    r.run_to_end();
    let s = score(&ex, r.journal());
    assert_eq!(s.penalties, 5.0);
    assert_eq!(s.customers_off_peak, 0, "the front end cleaned in time");
}
