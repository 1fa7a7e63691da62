//! The platform security review's attacks (research/reviews/platform-security.md, M2 to M8 and
//! L2 to L4 here, H1 to H4, M1 and M9 in `floods`), each replayed through the real binary by a
//! hostile participant, asserting what the platform does since the hardening (e115a6d). Each
//! test says which finding it is and what the platform did before.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;
#[path = "attacks/floods.rs"]
mod floods;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::platform::*;
use serde_json::{Value, json};

/// POSTs each `(path, body)` as `c`, one connection each, the review's way of sending them at
/// once: every request but its last byte first, then all the last bytes together. The answers,
/// in the requests' order.
fn released_together(c: &Client, requests: &[(String, Value)]) -> Vec<Reply> {
    let addr = c.addr.expect("address");
    let wire: Vec<Vec<u8>> = requests
        .iter()
        .map(|(path, body)| {
            let body = body.to_string();
            let mut req = format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
            if let Some(k) = &c.cookie {
                req += &format!("Cookie: {k}\r\n");
            }
            if let Some(t) = &c.csrf {
                req += &format!("x-csrf-token: {t}\r\n");
            }
            req += "\r\n";
            req += &body;
            req.into_bytes()
        })
        .collect();
    let mut streams: Vec<TcpStream> = wire
        .iter()
        .map(|w| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            s.write_all(&w[..w.len() - 1]).expect("send");
            s
        })
        .collect();
    for (s, w) in streams.iter_mut().zip(&wire) {
        s.write_all(&w[w.len() - 1..]).expect("the last byte");
    }
    streams
        .into_iter()
        .map(|mut s| {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            parse_reply(&buf)
        })
        .collect()
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

/// A sign-in's status, from loopback address `from`, with an `X-Forwarded-For` if given.
fn login_status(
    addr: std::net::SocketAddr,
    from: Ipv4Addr,
    name: &str,
    password: &str,
    forwarded: Option<&str>,
) -> u16 {
    let c = Client { source: Some(from), ..Client::new(addr) };
    let body = json!({"name": name, "password": password}).to_string();
    let extra: Vec<(&str, &str)> = forwarded.map(|f| vec![("X-Forwarded-For", f)]).unwrap_or_default();
    c.raw("POST", "/api/login", Some(&body), &extra).status
}

/// `n` sign-ins at once (each on a thread of its own): their statuses.
fn logins_at_once(n: usize, one: impl Fn(usize) -> u16 + Sync) -> Vec<u16> {
    let one = &one;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|k| s.spawn(move || one(k))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A new account on `run` made by `by` (a trainee of `team`, or staff when `team` is None):
/// its password.
fn account(by: &Client, run: &str, name: &str, role: &str, team: Option<&str>) -> String {
    let mut b = json!({"name": name, "role": role});
    if let Some(t) = team {
        b["team"] = json!(t);
    }
    let r = by.post(&format!("/api/runs/{run}/accounts"), &b);
    assert_eq!(r.status, 201, "{name}: {}", text(&r));
    r.json()["password"].as_str().expect("password").to_string()
}

fn new_team(by: &Client, run: &str, name: &str) -> Reply {
    by.post(&format!("/api/runs/{run}/teams"), &json!({"name": name}))
}

fn delete(by: &Client, path: &str) -> u16 {
    by.raw("DELETE", path, None, &[]).status
}

/// The address blocks held, as the administrator sees them: (block, team, run).
fn blocks(admin: &Client) -> (Vec<(String, String, String)>, u64) {
    let r = admin.get("/api/admin/blocks");
    assert_eq!(r.status, 200, "{}", text(&r));
    let v = r.json();
    let held = v["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
            (s("block"), s("team"), s("run"))
        })
        .collect();
    (held, v["free"].as_u64().expect("free"))
}

/// M2 on `database`: eight `POST /api/runs/{run}/teams` released together.
fn concurrent_teams_get_their_own_blocks(database: Option<&str>, name: &str, first_block: u8) {
    let data = temp_dir(name);
    let server = serve(&data, database, first_block);
    let admin_pw = admin(&data, database, "boss");
    let boss = Client::login(server.addr, "boss", &admin_pw);
    let r = boss.post("/api/runs", &json!({"name": "race", "exercise": "ukraine2015"}));
    assert_eq!(r.status, 201, "{}", text(&r));
    let run = r.json()["id"].as_str().unwrap().to_string();
    let requests: Vec<(String, Value)> =
        (0..8).map(|k| (format!("/api/runs/{run}/teams"), json!({"name": format!("R{k}")}))).collect();
    let replies = released_together(&boss, &requests);
    let mut bases: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", text(r));
            r.json()["base"].as_str().expect("base").to_string()
        })
        .collect();
    bases.sort();
    bases.dedup();
    assert_eq!(bases.len(), 8, "eight teams, eight blocks: {bases:?}");
    // The run and the administrator's view agree: eight teams, each on its own block.
    let detail = boss.get(&format!("/api/runs/{run}")).json();
    let mut listed: Vec<&str> =
        detail["teams"].as_array().unwrap().iter().map(|t| t["base"].as_str().unwrap()).collect();
    listed.sort_unstable();
    assert_eq!(listed, bases, "{detail}");
    let (held, _) = blocks(&boss);
    let mut held: Vec<String> = held.into_iter().filter(|(_, _, r)| *r == run).map(|(b, _, _)| b).collect();
    held.sort();
    assert_eq!(held, bases);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M2 (SQLite): eight teams added at once to a draft run each get a block of their own. Before
/// e115a6d every request read the blocks in use, then inserted its team: all eight got the
/// same block (the review: 8/8 on 127.43.0.0), so their trainees shared one grid.
#[test]
fn m2_teams_added_at_once_get_a_block_each_on_sqlite() {
    concurrent_teams_get_their_own_blocks(None, "m2-sqlite", 150);
}

/// M2 (PostgreSQL): as on SQLite. Before e115a6d: 7 of 8 teams on one block.
#[test]
fn m2_teams_added_at_once_get_a_block_each_on_postgres() {
    let Some(url) = fresh_postgres("attack_m2") else { return };
    concurrent_teams_get_their_own_blocks(Some(&url), "m2-postgres", 151);
}

/// M3: an instructor cannot take every address block. Runs per instructor and teams per run
/// are bounded (409 past the quota, here 2 and 3); a draft's team or a draft run can be
/// deleted, giving its blocks back (the administrator sees it in `GET /api/admin/blocks`);
/// a started run's are kept (409); trainees and observers delete nothing. Before e115a6d there
/// was no quota (no `--runs-per-instructor` or `--teams-per-run` either: that server did not
/// start; the review made 207 teams in 0.7 s, until no block was left for anyone) and no route
/// to delete a run or a team.
#[test]
fn m3_an_instructor_cannot_hog_the_address_blocks() {
    let data = temp_dir("m3-quotas");
    let server = serve_with(&data, None, 152, &["--runs-per-instructor", "2", "--teams-per-run", "3"]);
    let w = world(&server, &data, None, 1.0);
    let ines = &w.instructor;
    let create_run =
        |by: &Client, name: &str| by.post("/api/runs", &json!({"name": name, "exercise": "ukraine2015"}));
    let r1 = create_run(ines, "hog 1");
    assert_eq!(r1.status, 201, "{}", text(&r1));
    let r1 = r1.json()["id"].as_str().unwrap().to_string();
    let r2 = create_run(ines, "hog 2");
    assert_eq!(r2.status, 201, "{}", text(&r2));
    let r2 = r2.json()["id"].as_str().unwrap().to_string();
    let third = create_run(ines, "hog 3");
    assert_eq!(third.status, 409, "runs per instructor: {}", text(&third));
    // The administrator is not bound by it.
    assert_eq!(create_run(&w.admin, "admin's own").status, 201);
    // Teams per run.
    let mut teams = Vec::new();
    for k in 0..3 {
        let r = new_team(ines, &r1, &format!("h{k}"));
        assert_eq!(r.status, 201, "{}", text(&r));
        teams.push((
            r.json()["id"].as_str().unwrap().to_string(),
            r.json()["base"].as_str().unwrap().to_string(),
        ));
    }
    let fourth = new_team(ines, &r1, "h3");
    assert_eq!(fourth.status, 409, "teams per run: {}", text(&fourth));
    let (held, free) = blocks(&w.admin);
    for (team, base) in &teams {
        assert!(held.contains(&(base.clone(), team.clone(), r1.clone())), "{base} of {team}: {held:?}");
    }
    // Neither a trainee nor an observer of the draft run deletes anything of it.
    let t1 = account(ines, &r1, "hogtrainee", "trainee", Some(&teams[0].0));
    let trainee = Client::login(server.addr, "hogtrainee", &t1);
    let o1 = account(ines, &r1, "hogobserver", "observer", None);
    let observer = Client::login(server.addr, "hogobserver", &o1);
    for who in [&trainee, &observer, &w.a1, &w.observer] {
        let s = delete(who, &format!("/api/runs/{r1}/teams/{}", teams[0].0));
        assert!(denied(s), "a team deleted by a non-instructor: {s}");
        let s = delete(who, &format!("/api/runs/{r1}"));
        assert!(denied(s), "a run deleted by a non-instructor: {s}");
    }
    assert_eq!(blocks(&w.admin).0.len(), held.len(), "nothing was deleted");
    // The instructor deletes a team of the draft: its block is free, and the next team gets it.
    assert_eq!(delete(ines, &format!("/api/runs/{r1}/teams/{}", teams[0].0)), 200);
    let (after, free_after) = blocks(&w.admin);
    assert!(!after.iter().any(|(b, t, _)| *b == teams[0].1 || *t == teams[0].0), "{after:?}");
    assert_eq!(free_after, free + 1);
    let r = new_team(ines, &r1, "h3");
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(r.json()["base"], json!(teams[0].1), "the freed block is reused");
    // A draft run deleted: its teams and blocks are gone, and it no longer counts.
    let r = new_team(ines, &r2, "x0");
    assert_eq!(r.status, 201);
    let r2_block = r.json()["base"].as_str().unwrap().to_string();
    assert_eq!(delete(ines, &format!("/api/runs/{r2}")), 200);
    let (after, _) = blocks(&w.admin);
    assert!(!after.iter().any(|(b, _, run)| *run == r2 || *b == r2_block), "{after:?}");
    assert_eq!(ines.get(&format!("/api/runs/{r2}")).status, 404);
    assert_eq!(create_run(ines, "hog 3").status, 201, "a deleted run frees its place in the quota");
    // A started run keeps its teams and itself.
    let r = ines.post(&format!("/api/runs/{r1}/control"), &json!({"op": "start"}));
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(delete(ines, &format!("/api/runs/{r1}/teams/{}", teams[1].0)), 409);
    assert_eq!(delete(ines, &format!("/api/runs/{r1}")), 409);
    assert_eq!(delete(ines, &format!("/api/runs/{}", w.run)), 409);
    assert_eq!(delete(ines, &format!("/api/runs/{}/teams/{}", w.run, w.team_a)), 409);
    let (after, _) = blocks(&w.admin);
    assert!(after.iter().any(|(_, t, _)| *t == teams[1].0), "{after:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M4: a start interrupted by a crash. What the crash leaves (a draft run whose team already
/// has its seq-0 journal line) is written into the database while the server is down; after
/// the restart the run starts and every team's range runs, from a fresh start entry. Before
/// e115a6d every later start answered 500 (`team range error=already exists`): the run could
/// never be started.
#[test]
fn m4_a_start_interrupted_by_a_crash_starts_again() {
    let data = temp_dir("m4-crash");
    let server = serve(&data, None, 153);
    let pw = admin(&data, None, "boss");
    let boss = Client::login(server.addr, "boss", &pw);
    let r = boss.post("/api/runs", &json!({"name": "crashed", "exercise": "ukraine2015", "seed": 1}));
    assert_eq!(r.status, 201, "{}", text(&r));
    let run = r.json()["id"].as_str().unwrap().to_string();
    let team = |name: &str| {
        let r = new_team(&boss, &run, name);
        assert_eq!(r.status, 201, "{}", text(&r));
        r.json()["id"].as_str().unwrap().to_string()
    };
    let (a, b) = (team("A"), team("B"));
    drop(server);
    // The crash's leftover: team A's seq-0 line kept, the run still a draft.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", data.join("icsrange.db").display());
        let store = store::Store::open(&url).await.expect("the database");
        store
            .append_inputs(&a, &[store::InputLine { seq: 0, t_us: 0, line: "{}".into() }])
            .await
            .expect("seq 0 written");
        assert_eq!(store.inputs(&a).await.unwrap().len(), 1);
        store.close().await;
    });
    let server = serve(&data, None, 153);
    let boss = Client { addr: Some(server.addr), ..boss };
    assert_eq!(boss.get(&format!("/api/runs/{run}")).json()["status"], "draft");
    let r = boss.post(&format!("/api/runs/{run}/control"), &json!({"op": "start"}));
    assert_eq!(r.status, 200, "start after the crash: {}", text(&r));
    assert_eq!(boss.get(&format!("/api/runs/{run}")).json()["status"], "running");
    for t in [&a, &b] {
        let detail = boss.get(&format!("/api/teams/{t}")).json();
        assert!(detail["t"].as_f64().is_some(), "team {t}'s range runs: {detail}");
        let j = journal(&boss, t);
        assert_eq!(j[0]["kind"], "start", "a fresh start entry, not the crash's line: {}", j[0]);
    }
    let again = boss.post(&format!("/api/runs/{run}/control"), &json!({"op": "start"}));
    assert_eq!(again.status, 409, "{}", text(&again));
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M5: 25 answers to one question (three tries) released together: three are judged, the
/// others refused before the range (409, or 429 past the answer rate) and never journaled.
/// Before e115a6d the web checked the tries and then acted, without a lock, so every answer
/// passed the check. Issue 23 (0926856, before e115a6d) had already made the range refuse a
/// fourth try, so the number of `answer` records alone (3) holds on the old code too; what
/// fails there is that the other 22 got 200 with a `refused` outcome and were journaled as
/// the trainee's actions (25 `answer` actions in the journal, not 3).
#[test]
fn m5_answers_released_together_get_only_the_tries_left() {
    let data = temp_dir("m5-answers");
    let server = serve(&data, None, 154);
    let w = world(&server, &data, None, 1.0);
    let path = format!("/api/teams/{}/actions", w.team_a);
    let requests: Vec<(String, Value)> = (1..=25)
        .map(|k| (path.clone(), json!({"do": "answer", "question": "account", "value": format!("guess{k}")})))
        .collect();
    let replies = released_together(&w.a1, &requests);
    let judged: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(judged.len(), 3, "{:?}", replies.iter().map(|r| (r.status, text(r))).collect::<Vec<_>>());
    for r in &judged {
        assert_eq!(r.json()["result"], "verdict", "{}", text(r));
    }
    for r in replies.iter().filter(|r| r.status != 200) {
        assert!(matches!(r.status, 409 | 429), "{} {}", r.status, text(r));
    }
    let j = journal(&w.instructor, &w.team_a);
    let records = j.iter().filter(|e| e["kind"] == "answer" && e["question"] == "account").count();
    assert_eq!(records, 3, "answer records");
    let actions = j
        .iter()
        .filter(|e| {
            e["kind"] == "act" && e["action"]["do"] == "answer" && e["action"]["question"] == "account"
        })
        .count();
    assert_eq!(actions, 3, "answer actions journaled");
    // And the question stays closed.
    let r = w.a1.post(&path, &json!({"do": "answer", "question": "account", "value": "one more"}));
    assert_eq!(r.status, 409);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M6: `block`/`clean` take an address the trainee has seen, never the exercise's host ids: a
/// hidden id (`attacker`) gets exactly the answer an unknown name gets, nothing is journaled,
/// and an address read off the trainee's own frames (the SCADA master's, the client side of
/// IEC 104) is blocked, journaled as given (the trainee's record names no hidden id); any
/// address is blocked as typed (issue 25: a rule is a rule), a clean of one that is no host is
/// refused, both journaled. Before e115a6d `block attacker` was accepted at once (before any
/// evidence named the attacker) while `block nosuchhost` said `no host`: an oracle for the
/// host ids and a free block of the attacker.
#[test]
fn m6_hosts_are_blocked_by_address_only() {
    let data = temp_dir("m6-hosts");
    let server = serve(&data, None, 155);
    let w = world(&server, &data, None, 1.0);
    let path = format!("/api/teams/{}/actions", w.team_a);
    let act = |body: Value| {
        let r = w.a1.post(&path, &body);
        (r.status, r.json())
    };
    for verb in ["block", "clean"] {
        let (s_hidden, hidden) = act(json!({"do": verb, "host": "attacker"}));
        let (s_none, none) = act(json!({"do": verb, "host": "nosuchhost"}));
        assert_eq!(s_hidden, s_none, "{verb}: {hidden} / {none}");
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        assert_eq!(keys(&hidden), keys(&none), "{verb}: the same shape: {hidden} / {none}");
        assert_eq!(hidden["result"], none["result"], "{verb}");
        // A block takes an address or a prefix, a clean a host's address: a name is neither.
        let (h, n) = if verb == "block" {
            (
                "`attacker` is not an address or a prefix such as 10.0.0.0/8",
                "`nosuchhost` is not an address or a prefix such as 10.0.0.0/8",
            )
        } else {
            ("no host `attacker`", "no host `nosuchhost`")
        };
        assert_eq!(hidden["reason"], h, "{verb}: {hidden}");
        assert_eq!(none["reason"], n, "{verb}: {none}");
        assert!(
            hidden["text"].as_str().is_some_and(|t| t.starts_with("Not done: ") && t.ends_with('.')),
            "{hidden}"
        );
    }
    let defended = |j: &[Value]| -> Vec<Value> {
        j.iter()
            .filter(|e| e["kind"] == "act" && matches!(e["action"]["do"].as_str(), Some("block" | "clean")))
            .cloned()
            .collect()
    };
    let before = defended(&journal(&w.instructor, &w.team_a));
    assert!(
        !before.iter().any(|e| e["action"]["host"] == "attacker" || e["outcome"]["result"] == "accepted"),
        "{before:?}"
    );
    // An address the trainee sees in their own capture: the SCADA master polls the stations
    // (the client of IEC 104, port 2404) from the start.
    let deadline = Instant::now() + Duration::from_secs(60);
    let master = loop {
        let f = w.a1.get(&format!("/api/teams/{}/frames?proto=iec104&limit=1000", w.team_a)).json();
        let found = f["frames"].as_array().and_then(|fr| {
            fr.iter()
                .find(|x| x["dst"].as_str().is_some_and(|d| d.ends_with(":2404")))
                .and_then(|x| x["src"].as_str())
                .and_then(|s| s.split(':').next())
                .map(str::to_string)
        });
        if let Some(m) = found {
            break m;
        }
        assert!(Instant::now() < deadline, "no IEC 104 frames in the trainee's capture: {f}");
        // Waiting for the range's first polls, which its clock decides.
        std::thread::sleep(Duration::from_millis(200));
    };
    let (s, o) = act(json!({"do": "block", "host": master}));
    assert_eq!(s, 200);
    assert_eq!(o["result"], "accepted", "block {master}: {o}");
    let after = defended(&journal(&w.instructor, &w.team_a));
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["outcome"]["result"], "accepted");
    assert_eq!(
        after[0]["action"]["host"],
        Value::from(master.clone()),
        "the journal keeps the address as given"
    );
    // The trainee's own record of the action names the address, never the hidden id.
    let events = w.a1.get(&format!("/api/teams/{}/events", w.team_a)).json().to_string();
    assert!(events.contains(&master) && !events.contains("\"host\":\"scada\""), "{events}");
    // A firewall rule is a rule: an address that is no host is blocked as typed (nothing to
    // learn from the answer); cleaning it is refused; the instructors see both.
    let (_, o) = act(json!({"do": "block", "host": "127.99.0.1"}));
    assert_eq!(o["result"], "accepted", "{o}");
    let (_, o) = act(json!({"do": "clean", "host": "127.99.0.1"}));
    assert_eq!(o["reason"], "no host `127.99.0.1`", "{o}");
    let probes = defended(&journal(&w.instructor, &w.team_a));
    assert_eq!(probes.iter().filter(|e| e["action"]["host"] == "127.99.0.1").count(), 2, "{probes:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M7: a trainee cannot find out which incident the run replays, nor its seed: no `title` or
/// `summary` in their team's detail (the instructor's has both), no catalogue of exercises
/// (403), and a run made without a seed gets a random one (a given seed is kept). Before
/// e115a6d the trainee's team detail carried the title and a summary narrating every step,
/// `GET /api/exercises` mapped the title to `ukraine2015`, and every seed was 1: the run
/// replayed offline step for step.
#[test]
fn m7_trainees_cannot_identify_the_exercise_and_seeds_are_random() {
    let data = temp_dir("m7-identity");
    let server = serve(&data, None, 156);
    let w = world(&server, &data, None, 1.0);
    let mine = w.a1.get(&format!("/api/teams/{}", w.team_a));
    assert_eq!(mine.status, 200);
    let mine = mine.json();
    assert!(mine.get("title").is_none() && mine.get("summary").is_none(), "{mine}");
    let staff = w.instructor.get(&format!("/api/teams/{}", w.team_a)).json();
    assert!(staff["title"].as_str().is_some_and(|t| !t.is_empty()), "{staff}");
    assert!(staff["summary"].as_str().is_some_and(|t| !t.is_empty()), "{staff}");
    assert_eq!(w.a1.get("/api/exercises").status, 403);
    assert_eq!(w.instructor.get("/api/exercises").status, 200);
    let seed_of = |body: Value| {
        let r = w.instructor.post("/api/runs", &body);
        assert_eq!(r.status, 201, "{}", text(&r));
        let id = r.json()["id"].as_str().unwrap().to_string();
        let detail = w.instructor.get(&format!("/api/runs/{id}")).json();
        detail["seed"].as_u64().unwrap_or_else(|| panic!("a seed: {detail}"))
    };
    let s1 = seed_of(json!({"name": "no seed 1", "exercise": "ukraine2015"}));
    let s2 = seed_of(json!({"name": "no seed 2", "exercise": "ukraine2015"}));
    assert_ne!(s1, s2, "random seeds");
    assert!(s1 != 1 && s2 != 1, "{s1} {s2}");
    assert_eq!(seed_of(json!({"name": "seed 5", "exercise": "ukraine2015", "seed": 5})), 5);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M8: sign-in limits lock out the guesser, not the account: ten wrong passwords for a trainee
/// from 127.0.0.5 lock 127.0.0.5 out of that account while the owner signs in from
/// 127.0.0.6; twelve right passwords in a row all succeed; a right password resets a
/// streak of wrong ones from the same address. And a broadcast reaches trainees from
/// "Exercise control", not from the instructor's login name. Before e115a6d the limit was per
/// account name (ten attempts, right ones included): the owner got 429 from anywhere, the
/// eleventh successful login too, and trainees read `"from":"ines"`.
#[test]
fn m8_guesses_lock_out_the_guesser_not_the_account() {
    let data = temp_dir("m8-lockout");
    let server = serve(&data, None, 157);
    let w = world(&server, &data, None, 1.0);
    let addr = server.addr;
    let pw1 = account(&w.admin, &w.run, "victim1", "trainee", Some(&w.team_a));
    let pw2 = account(&w.admin, &w.run, "victim2", "trainee", Some(&w.team_a));
    let pw3 = account(&w.admin, &w.run, "victim3", "trainee", Some(&w.team_a));
    let (stranger, owner, regular, forgetful) = (
        Ipv4Addr::new(127, 0, 0, 5),
        Ipv4Addr::new(127, 0, 0, 6),
        Ipv4Addr::new(127, 0, 0, 8),
        Ipv4Addr::new(127, 0, 0, 7),
    );
    // A stranger's ten guesses, then the owner elsewhere.
    let guesses = logins_at_once(10, |_| login_status(addr, stranger, "victim1", "wrong", None));
    assert!(guesses.iter().all(|&s| s == 401), "{guesses:?}");
    assert_eq!(login_status(addr, stranger, "victim1", &pw1, None), 429, "the guesser is locked out");
    assert_eq!(login_status(addr, owner, "victim1", &pw1, None), 200, "the owner is not");
    // Right passwords do not count.
    for k in 0..12 {
        assert_eq!(login_status(addr, regular, "victim2", &pw2, None), 200, "login {k}");
    }
    // A right password starts the count again: nine wrong, the right one, ten wrong all 401;
    // the eleventh wrong is refused.
    let wrong = || login_status(addr, forgetful, "victim3", "wrong", None);
    assert!(logins_at_once(9, |_| wrong()).iter().all(|&s| s == 401));
    assert_eq!(login_status(addr, forgetful, "victim3", &pw3, None), 200);
    let again = logins_at_once(10, |_| wrong());
    assert!(again.iter().all(|&s| s == 401), "the streak was reset: {again:?}");
    assert_eq!(wrong(), 429);
    // The instructor's login name is not broadcast to trainees.
    let r = w.instructor.post(&format!("/api/runs/{}/broadcast", w.run), &json!({"text": "Phones are down"}));
    assert_eq!(r.status, 201, "{}", text(&r));
    let to_trainee = w.a1.get(&format!("/api/teams/{}/messages", w.team_a)).json();
    assert_eq!(to_trainee[0]["text"], "Phones are down", "{to_trainee}");
    assert_eq!(to_trainee[0]["from"], "Exercise control", "{to_trainee}");
    assert!(!to_trainee.to_string().contains("ines"), "{to_trainee}");
    let to_staff = w.instructor.get(&format!("/api/teams/{}/messages", w.team_a)).json();
    assert_eq!(to_staff[0]["from"], "ines", "{to_staff}");
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// M8 (behind a TLS proxy): with `--trusted-proxy 127.0.0.1` the client is the address the
/// proxy appended to `X-Forwarded-For`: 30 wrong sign-ins from 203.0.113.7 exhaust that
/// client's budget (429, also when the client itself put another address first), while a
/// right sign-in from 203.0.113.8 through the same proxy succeeds. Without the setting the
/// header changes nothing. Before e115a6d every user behind the proxy shared the proxy's one
/// budget (30 per 5 minutes), so one client's flood locked everyone out (and there was no
/// `--trusted-proxy`: that server did not start).
#[test]
fn m8_behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let local = Ipv4Addr::LOCALHOST;
    let data = temp_dir("m8-proxy");
    let server = serve_with(&data, None, 158, &["--trusted-proxy", "127.0.0.1"]);
    let pw = admin(&data, None, "boss");
    let addr = server.addr;
    let flood =
        logins_at_once(30, |k| login_status(addr, local, &format!("guess{k}"), "wrong", Some("203.0.113.7")));
    assert!(flood.iter().all(|&s| s == 401), "{flood:?}");
    assert_eq!(login_status(addr, local, "boss", &pw, Some("203.0.113.7")), 429);
    assert_eq!(
        login_status(addr, local, "boss", &pw, Some("203.0.113.8, 203.0.113.7")),
        429,
        "what the client puts before the proxy's address is not believed"
    );
    assert_eq!(login_status(addr, local, "boss", &pw, Some("203.0.113.8")), 200);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    // Without a trusted proxy the header is the client's own words: ignored.
    let data = temp_dir("m8-noproxy");
    let server = serve(&data, None, 159);
    let pw = admin(&data, None, "boss");
    let addr = server.addr;
    let guesses = logins_at_once(10, |_| login_status(addr, local, "boss", "wrong", Some("203.0.113.7")));
    assert!(guesses.iter().all(|&s| s == 401), "{guesses:?}");
    assert_eq!(login_status(addr, local, "boss", &pw, Some("203.0.113.8")), 429);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// L2: signed-in pages, the after-action report and API answers carry `Cache-Control:
/// no-store` (a shared computer's browser keeps none of them); under TLS every answer has
/// `Strict-Transport-Security`. Before e115a6d only `/api/` answers had no-store (pages and
/// reports had no cache-control at all) and there was no HSTS.
#[test]
fn l2_signed_in_pages_are_not_cached() {
    let data = temp_dir("l2-cache");
    let server = serve(&data, None, 160);
    let w = world(&server, &data, None, 1.0);
    let no_store = |c: &Client, path: &str| {
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}: {}", text(&r));
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}: {:?}", r.headers);
    };
    no_store(&w.a1, &format!("/teams/{}", w.team_a));
    no_store(&w.a1, "/home");
    no_store(&w.instructor, "/home");
    no_store(&w.instructor, &format!("/runs/{}", w.run));
    no_store(&w.instructor, &format!("/runs/{}/report", w.run));
    no_store(&w.a1, "/api/me");
    no_store(&w.a1, &format!("/api/teams/{}", w.team_a));
    no_store(&w.instructor, &format!("/api/runs/{}", w.run));
    // The pages' script is served (it may be cached).
    assert_eq!(w.a1.get("/assets/app.js").status, 200);
    assert!(w.a1.get("/assets/app.js").header("strict-transport-security").is_none(), "no HSTS over HTTP");
    drop(server);
    // Under TLS: HSTS.
    let (cert, key) = (data.join("cert.pem"), data.join("key.pem"));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(ok.success());
    let tls = data.join("tls");
    let server = serve_with(
        &tls,
        None,
        161,
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    for path in ["/", "/api/openapi.json", "/assets/app.js"] {
        let out = Command::new("curl")
            .args(["-sS", "-D", "-", "-o", "/dev/null", "--cacert", cert.to_str().unwrap()])
            .arg(format!("https://{}{path}", server.addr))
            .output()
            .expect("curl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(head.contains("strict-transport-security: max-age="), "{path}: {head}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// L3: a run's instructor (not an administrator) makes no instructors, by account or by
/// invitation (403), since an instructor is course staff (creates runs, lists every
/// organisation); trainees and observers they still make, and the administrator still makes
/// instructors. Before e115a6d both were 201 and the new user had `staff`.
#[test]
fn l3_only_an_administrator_makes_instructors() {
    let data = temp_dir("l3-staff");
    let server = serve(&data, None, 162);
    let w = world(&server, &data, None, 1.0);
    let accounts = format!("/api/runs/{}/accounts", w.run);
    let invites = format!("/api/runs/{}/invites", w.run);
    let r = w.instructor.post(&accounts, &json!({"name": "mallory", "role": "instructor"}));
    assert_eq!(r.status, 403, "{}", text(&r));
    let r = w.instructor.post(&invites, &json!({"role": "instructor"}));
    assert_eq!(r.status, 403, "{}", text(&r));
    assert!(
        Client::new(server.addr).post("/api/login", &json!({"name": "mallory", "password": "x"})).status
            == 401
    );
    account(&w.instructor, &w.run, "tanya", "trainee", Some(&w.team_a));
    account(&w.instructor, &w.run, "oleg", "observer", None);
    let r = w.instructor.post(&invites, &json!({"role": "trainee", "team": w.team_b}));
    assert_eq!(r.status, 201, "{}", text(&r));
    let r = w.instructor.post(&invites, &json!({"role": "observer"}));
    assert_eq!(r.status, 201, "{}", text(&r));
    account(&w.admin, &w.run, "irina", "instructor", None);
    let r = w.admin.post(&invites, &json!({"role": "instructor"}));
    assert_eq!(r.status, 201, "{}", text(&r));
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// L4: an invitation accepted with a taken name and a new organisation is refused (409) with
/// nothing left behind, three times over, and stays usable (201 with a free name); a new
/// organisation's country is an ISO 3166-1 code (`<b>` and `XX` 422, `JP` 201). Before
/// e115a6d each refusal still created its organisation, and `create_account` stored any
/// `country`, `<b>` included.
#[test]
fn l4_a_refused_invitation_leaves_nothing_behind() {
    let data = temp_dir("l4-invite");
    let server = serve(&data, None, 163);
    let w = world(&server, &data, None, 1.0);
    let anon = Client::new(server.addr);
    let r = w
        .instructor
        .post(&format!("/api/runs/{}/invites", w.run), &json!({"role": "trainee", "team": w.team_a}));
    assert_eq!(r.status, 201, "{}", text(&r));
    let token = r.json()["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let orgs = || w.admin.get("/api/orgs").json().to_string();
    let pw = "pppppppppppp";
    for k in 1..=3 {
        let r = anon.post(
            &format!("/api/invites/{token}"),
            &json!({"name": "a1", "password": pw, "org": format!("SpamOrg{k}"), "country": "UA"}),
        );
        assert_eq!(r.status, 409, "{}", text(&r));
    }
    assert!(!orgs().contains("SpamOrg"), "{}", orgs());
    let r = anon.post(
        &format!("/api/invites/{token}"),
        &json!({"name": "newcomer", "password": pw, "org": "SpamOrg1", "country": "UA"}),
    );
    assert_eq!(r.status, 201, "the invitation is still usable: {}", text(&r));
    assert_eq!(orgs().matches("SpamOrg").count(), 1, "{}", orgs());
    let _ = Client::login(server.addr, "newcomer", pw);
    // Countries of new organisations made with an account.
    let accounts = format!("/api/runs/{}/accounts", w.run);
    let with_org = |name: &str, org: &str, country: &str| {
        w.instructor.post(
            &accounts,
            &json!({"name": name, "role": "trainee", "team": w.team_a, "org": org, "country": country}),
        )
    };
    for (name, org, country) in [("bee", "Bold Org", "<b>"), ("ex", "X Org", "XX")] {
        let r = with_org(name, org, country);
        assert_eq!(r.status, 422, "{country}: {}", text(&r));
        assert!(!orgs().contains(org), "{}", orgs());
    }
    let r = with_org("jun", "Kansai Grid", "JP");
    assert_eq!(r.status, 201, "{}", text(&r));
    assert!(orgs().contains("Kansai Grid"), "{}", orgs());
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
