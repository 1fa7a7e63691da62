//! The training platform through the real binary on real sockets: authorisation of every
//! route in the route table, and restart safety (SIGKILL mid-run) on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::platform::*;
use serde_json::{Value, json};

#[test]
fn every_route_checks_who_may_use_it() {
    let data = temp_dir("authz");
    let server = serve(&data, None, 200);
    let w = world(&server, &data, None, 1.0);
    let anon = Client::new(server.addr);
    let routes = web::api::routes();
    assert!(routes.len() >= 25, "the route table");
    let mut checked = 0;
    for (d, _) in &routes {
        let method = d.method.as_str();
        let ws_headers: &[(&str, &str)] = if d.websocket {
            &[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ]
        } else {
            &[]
        };
        let body = if method == "POST" { Some("{}") } else { None };
        use web::auth::Access::*;
        // Anonymous: everything but the public routes.
        if d.access != Public {
            let r = anon.raw(method, &fill(d.path, &w, &w.team_b), body, ws_headers);
            assert_eq!(r.status, 401, "anonymous {method} {}", d.path);
            checked += 1;
        }
        // A trainee of team A against team B's resources, the run's and the platform's.
        if matches!(
            d.access,
            Admin | Staff | RunRead | RunWrite | TeamRead | TeamWrite | TeamStaff | TeamInstructor
        ) {
            let r = w.a1.raw(method, &fill(d.path, &w, &w.team_b), body, ws_headers);
            assert!(denied(r.status), "trainee of A: {method} {} answered {}", d.path, r.status);
            checked += 1;
        }
        // An observer against every state-changing route (but their own session's, and the
        // public ones: signing in, accepting an invitation, whose token is the right).
        if method != "GET" && d.access != Public && d.path != "/api/logout" {
            let r = w.observer.raw(method, &fill(d.path, &w, &w.team_a), body, ws_headers);
            assert!(denied(r.status), "observer: {method} {} answered {}", d.path, r.status);
            checked += 1;
        }
    }
    assert!(checked >= 45, "{checked} checks");
    eprintln!("{checked} denials checked over {} routes", routes.len());
    // The same routes do answer those who may use them (the denials above are not broken routes).
    assert_eq!(w.a1.get(&format!("/api/teams/{}", w.team_a)).status, 200);
    assert_eq!(w.a1.get(&format!("/teams/{}", w.team_a)).status, 200);
    assert_eq!(w.observer.get(&format!("/api/teams/{}/journal", w.team_a)).status, 200);
    assert_eq!(w.observer.get(&format!("/api/runs/{}/scoreboard", w.run)).status, 200);
    assert_eq!(
        w.a1.get(&format!("/api/teams/{}/journal", w.team_a)).status,
        404,
        "a trainee never sees the journal"
    );
    // The after-action report: the staff's covers the whole run (JSON, and a page under a
    // policy of its own: no script, its style by hash); a trainee's own waits for the end.
    let r = w.observer.get(&format!("/api/runs/{}/report", w.run));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let rep = r.json();
    let names: Vec<&str> =
        rep["teams"].as_array().unwrap().iter().map(|t| t["team"].as_str().unwrap()).collect();
    assert_eq!(names, ["A", "B"]);
    let page = w.instructor.get(&format!("/runs/{}/report", w.run));
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.starts_with("default-src 'none'") && csp.contains("style-src 'sha256-"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(String::from_utf8_lossy(&page.body).contains("data-plot=\"frequency\""));
    assert_eq!(w.instructor.get(&format!("/api/teams/{}/report", w.team_a)).status, 200);
    assert_eq!(
        w.a1.get(&format!("/api/teams/{}/report", w.team_a)).status,
        409,
        "a trainee's report before the end"
    );
    assert_eq!(w.a1.get(&format!("/teams/{}/report", w.team_a)).status, 409);
    // CSRF: a trainee's own action without the token is refused; with it, accepted.
    let mut no_csrf = w.a1.clone();
    no_csrf.csrf = None;
    let ack = json!({"do": "ack_alarms"});
    assert_eq!(no_csrf.post(&format!("/api/teams/{}/actions", w.team_a), &ack).status, 403);
    assert_eq!(w.a1.post(&format!("/api/teams/{}/actions", w.team_a), &ack).status, 200);
    // A cross-site POST is refused even with the token.
    let r = w.a1.raw(
        "POST",
        &format!("/api/teams/{}/actions", w.team_a),
        Some(&ack.to_string()),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403);
    // A WebSocket handshake from another site is refused (cross-site WebSocket hijacking).
    let cross = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(w.a1.raw("GET", &format!("/api/teams/{}/live", w.team_a), None, &cross).status, 403);
    // An instructor's control is not a trainee's action.
    assert_eq!(w.a1.post(&format!("/api/teams/{}/actions", w.team_a), &json!({"do": "pause"})).status, 403);
    // Trainees never see attribution or answers.
    let team = w.a1.get(&format!("/api/teams/{}", w.team_a)).json();
    let text = team.to_string();
    assert!(!text.contains("time_to_detect") && !text.contains("\"correct\":\""), "{text}");
    assert!(
        team["score"]["components"].get("reports").is_none(),
        "reports are graded, not shown live: {text}"
    );
    let runs = w.a1.get("/api/runs").json();
    assert!(runs[0].get("seed").is_none() && runs[0].get("exercise").is_none(), "{runs}");
    assert!(w.instructor.get("/api/runs").json()[0].get("seed").is_some());
    // A question is closed once answered right, and has three tries (a choice question with
    // three options, two).
    let answer = |q: &str, v: &str| {
        w.a1.post(
            &format!("/api/teams/{}/actions", w.team_a),
            &json!({"do": "answer", "question": q, "value": v}),
        )
        .status
    };
    assert_eq!(answer("why-manual", "the SCADA licence expired"), 200);
    assert_eq!(answer("why-manual", "the breakers were damaged"), 200);
    assert_eq!(answer("why-manual", "the gateways and UPSs were disabled"), 409, "no tries left");
    for _ in 0..3 {
        assert_eq!(answer("account", "nobody"), 200);
    }
    assert_eq!(answer("account", "nobody"), 409);
    // A control names teams of its run only.
    let r = w.instructor.post(
        &format!("/api/runs/{}/control", w.run),
        &json!({"op": "fire_inject", "id": "calls", "team": "t0"}),
    );
    assert_eq!(r.status, 422);
    // Security headers on pages and API.
    let page = w.a1.get(&format!("/teams/{}", w.team_a));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!String::from_utf8_lossy(&page.body).contains("<script>"), "no inline script");
    // Errors are short JSON, never internals.
    let r = w.admin.raw("POST", "/api/runs", Some("{not json"), &[]);
    assert_eq!(r.status, 422);
    // A bad upload names its line and column.
    let r = w.instructor.post("/api/runs", &json!({"name": "bad", "text": "id: x\ntitle: [unclosed\n"}));
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["problems"][0]["line"].as_u64().is_some(), "{}", r.json());
    // Organisations: co-hosts by an administrator, listed for staff.
    let r = w.admin.post("/api/orgs", &json!({"name": "METI", "country": "JP", "kind": "host"}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        w.admin.post("/api/orgs", &json!({"name": "X", "country": "Japan", "kind": "host"})).status,
        422
    );
    let orgs = w.instructor.get("/api/orgs").json();
    assert!(orgs.as_array().unwrap().iter().any(|o| o["name"] == "METI" && o["kind"] == "host"), "{orgs}");
    assert!(
        orgs.as_array().unwrap().iter().any(|o| o["name"] == "Kyivoblenergo" && o["country"] == "UA"),
        "{orgs}"
    );
    // Invitations: a page, then one use only.
    let addr = server.addr;
    let r = w
        .instructor
        .post(&format!("/api/runs/{}/invites", w.run), &json!({"role": "trainee", "team": w.team_a}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let url = r.json()["url"].as_str().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap().to_string();
    assert_eq!(anon.get(&url).status, 200);
    assert_eq!(anon.get(&format!("/invite/{}", "1".repeat(64))).status, 404);
    // A made-up invitation adds nothing, not even an organisation.
    let fake = anon.post(
        &format!("/api/invites/{}", "1".repeat(64)),
        &json!({"name": "eve", "password": "a long enough passphrase", "org": "Evil Corp", "country": "XX"}),
    );
    assert_eq!(fake.status, 404);
    assert!(!w.admin.get("/api/orgs").json().to_string().contains("Evil Corp"));
    let short = anon.post(&format!("/api/invites/{token}"), &json!({"name": "ivan", "password": "short"}));
    assert_eq!(short.status, 422);
    let pw = "a long enough passphrase";
    assert_eq!(
        anon.post(&format!("/api/invites/{token}"), &json!({"name": "ivan", "password": pw})).status,
        201
    );
    assert_eq!(
        anon.post(&format!("/api/invites/{token}"), &json!({"name": "ivan2", "password": pw})).status,
        404,
        "one use"
    );
    let ivan = Client::login(addr, "ivan", pw);
    assert_eq!(ivan.get(&format!("/api/teams/{}", w.team_a)).status, 200);
    assert_eq!(ivan.get(&format!("/api/teams/{}", w.team_b)).status, 404);
    // A broadcast reaches the teams' messages.
    let r = w.instructor.post(&format!("/api/runs/{}/broadcast", w.run), &json!({"text": "Phones are down"}));
    assert_eq!(r.status, 201);
    assert_eq!(w.a1.get(&format!("/api/teams/{}/messages", w.team_a)).json()[0]["text"], "Phones are down");
    // Incident reports, graded by instructors only.
    let report = json!({"time": "10:02", "asset": "HMI", "technique": "T0823", "impact": "27 substations", "action": "blocked the VPN"});
    let r = w.a1.post(&format!("/api/teams/{}/reports", w.team_a), &report);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let rid = r.json()["id"].as_str().unwrap().to_string();
    let grade = json!({"time": 5, "asset": 5, "technique": 5, "impact": 5, "action": 0});
    let path = format!("/api/teams/{}/reports/{rid}/grade", w.team_a);
    assert!(denied(w.a1.post(&path, &grade).status), "trainees do not grade");
    assert!(denied(w.observer.post(&path, &grade).status), "observers do not grade");
    let r = w.instructor.post(&path, &grade);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["grade"], 0.8);
    assert_eq!(w.instructor.post(&path, &json!({"time": 9})).status, 422);
    assert_eq!(w.a1.get(&format!("/api/teams/{}/reports", w.team_a)).json()[0]["grade"], 0.8);
    // Logins are rate-limited per name.
    let bad = Client::new(server.addr);
    let mut last = 0;
    for _ in 0..12 {
        last = bad.post("/api/login", &json!({"name": "a1", "password": "wrong"})).status;
    }
    assert_eq!(last, 429);
    let _ = std::fs::remove_dir_all(&data);
}

fn is_input(e: &Value) -> bool {
    matches!(e["kind"].as_str(), Some("act") | Some("live"))
}

fn restart_keeps_runs(database: Option<String>, name: &str, first_block: u8) {
    let data = temp_dir(name);
    let db = database.as_deref();
    let server = serve(&data, db, first_block);
    let w = world(&server, &data, db, 60.0);
    let act = |body: Value| {
        let r = w.a1.post(&format!("/api/teams/{}/actions", w.team_a), &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    };
    // A trainee's acknowledged actions.
    act(json!({"do": "operate", "station": 2, "ioa": 2001, "close": false}));
    // The command is in the team's capture, decoded, found by its IOA.
    let f = w.a1.get(&format!("/api/teams/{}/frames?proto=iec104&ioa=2001", w.team_a)).json();
    let frames = f["frames"].as_array().cloned().unwrap_or_default();
    assert!(
        frames
            .iter()
            .any(|x| x["station"] == 2 && x["info"].as_str().unwrap_or("").contains("C_DC_NA_1 (46) act")),
        "{f}"
    );
    assert!(
        frames.iter().all(|x| x["proto"] == "iec104" && x["ioas"].as_array().unwrap().contains(&json!(2001)))
    );
    let all = w.a1.get(&format!("/api/teams/{}/frames?limit=1000", w.team_a)).json();
    assert!(all["total"].as_u64().unwrap() > frames.len() as u64, "the filter filters");
    let r = w.a1.get(&format!("/api/teams/{}/frames?ioa=x", w.team_a));
    assert_eq!(r.status, 422, "a bad filter is the caller's error");
    let hint = act(json!({"do": "hint", "question": "account", "index": 0}));
    assert_eq!(hint["result"], "hint");
    let verdict = act(
        json!({"do": "answer", "question": "why-manual", "value": "the gateways and UPSs were disabled"}),
    );
    assert_eq!(verdict["result"], "verdict");
    // Paused, then killed.
    assert_eq!(
        w.instructor.post(&format!("/api/runs/{}/control", w.run), &json!({"op": "pause"})).status,
        200
    );
    let before = journal(&w.instructor, &w.team_a);
    let score_before = w.instructor.get(&format!("/api/teams/{}", w.team_a)).json()["score"].clone();
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
    let server = serve(&data, db, first_block);
    let instructor = Client { addr: Some(server.addr), ..w.instructor.clone() };
    let after = journal(&instructor, &w.team_a);
    assert_eq!(after, before, "the same journal after SIGKILL and restart");
    let team = instructor.get(&format!("/api/teams/{}", w.team_a)).json();
    assert_eq!(team["score"], score_before);
    assert_eq!(team["paused"], true, "runs come back paused");
    assert_eq!(instructor.get(&format!("/api/runs/{}", w.run)).json()["status"], "paused");
    // Resume, act, and kill while running: every acknowledged input comes back.
    assert_eq!(
        instructor.post(&format!("/api/runs/{}/control", w.run), &json!({"op": "resume"})).status,
        200
    );
    let a1 = Client { addr: Some(server.addr), ..w.a1.clone() };
    let r = a1.post(
        &format!("/api/teams/{}/actions", w.team_a),
        &json!({"do": "answer", "question": "customers", "value": "1"}),
    );
    assert_eq!(r.status, 200);
    let running = journal(&instructor, &w.team_a);
    let last_input = running.iter().rposition(is_input).expect("inputs");
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
    let server = serve(&data, db, first_block);
    let instructor = Client { addr: Some(server.addr), ..instructor };
    let again = journal(&instructor, &w.team_a);
    // Back at the last journaled input (with what that input itself journaled, such as an
    // answer's record), line for line the journal the trainee saw.
    assert!(
        again.len() > last_input,
        "every acknowledged input is back: {} entries, last input at {last_input}",
        again.len()
    );
    assert_eq!(again[..], running[..again.len()], "the same journal up to it");
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// Once a run has ended, a trainee opens their own team's after-action report (and only
/// theirs: the route test shows another team's is absent to them).
#[test]
fn a_trainee_gets_their_teams_report_once_the_run_has_ended() {
    let data = temp_dir("aar");
    let server = serve(&data, None, 240);
    // Ukraine 2015 (3 h) at 600x: 18 s.
    let w = world(&server, &data, None, 600.0);
    let path = format!("/api/teams/{}/report", w.team_a);
    assert_eq!(w.a1.get(&path).status, 409, "before the end");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let rep = loop {
        let r = w.a1.get(&path);
        if r.status == 200 {
            break r.json();
        }
        assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
        assert!(std::time::Instant::now() < deadline, "the run did not end in time");
        // Waiting for the run's end, which the server decides: ask again in a while.
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let teams = rep["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0]["team"], "A");
    assert_eq!(teams[0]["ended"], true);
    assert_eq!(rep["cohort"]["teams"].as_array().unwrap().len(), 1, "no other team in a trainee's report");
    let page = w.a1.get(&format!("/teams/{}/report", w.team_a));
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("data-team=\"A\""));
    assert!(!String::from_utf8_lossy(&page.body).contains("data-team=\"B\""));
    drop(w.admin);
}

#[test]
fn restart_after_sigkill_on_sqlite() {
    restart_keeps_runs(None, "restart-sqlite", 210);
}

#[test]
fn restart_after_sigkill_on_postgres() {
    let Some(url) = fresh_postgres("restart") else { return };
    restart_keeps_runs(Some(url), "restart-pg", 220);
}

#[test]
fn https_with_its_own_certificate() {
    let data = temp_dir("tls");
    let (cert, key) = (data.join("cert.pem"), data.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(ok.success());
    let server = serve_with(
        &data,
        None,
        199,
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    let password = admin(&data, None, "boss");
    let url = format!("https://{}", server.addr);
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--cacert", cert.to_str().unwrap()])
            .args(args)
            .output()
            .expect("curl");
        assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let doc = curl(&[&format!("{url}/api/openapi.json")]);
    assert!(doc.contains("\"openapi\":\"3.1.0\""), "{doc}");
    let headers = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "content-type: application/json",
        "-d",
        &format!("{{\"name\":\"boss\",\"password\":\"{password}\"}}"),
        &format!("{url}/api/login"),
    ]);
    let cookie = headers.lines().find(|l| l.to_lowercase().starts_with("set-cookie:")).unwrap_or_default();
    assert!(cookie.contains("; Secure"), "{headers}");
    // L2: under TLS the browser is told to keep to HTTPS; no signed-in answer is cached.
    let lower = headers.to_lowercase();
    assert!(lower.contains("strict-transport-security: max-age="), "{headers}");
    assert!(lower.contains("cache-control: no-store"), "{headers}");
    // Plain HTTP on the TLS port gets no answer (the handshake fails).
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("http://{}/", server.addr)])
        .output()
        .expect("curl");
    assert!(!plain.status.success());
    // A certificate that is not one is refused at start, naming the file.
    std::fs::write(data.join("bad.pem"), "not a certificate").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(data.join("bad.pem"))
        .arg("--tls-key")
        .arg(&key)
        .arg("--data")
        .arg(&data)
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.pem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// A client that never finishes its headers is cut off after the header timeout (a setting,
/// 30 s by default; 1 s here, so that a server that ignored it would fail the bound).
#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    let data = temp_dir("slowloris");
    let server = serve_with(&data, None, 198, &["--header-timeout", "1s"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(45))).unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                break false;
            }
            Err(_) => break true,
        }
    };
    let waited = t0.elapsed().as_secs_f64();
    assert!(closed, "the half-sent request was still open after {waited:.0} s");
    assert!((0.9..10.0).contains(&waited), "closed after {waited:.1} s (the header timeout is 1 s)");
    // Meanwhile and after, others are served.
    assert_eq!(Client::new(server.addr).get("/api/openapi.json").status, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// A pipeline run's HMI is the line: the team page carries its pressure profile (refreshed by
/// the page's script from `line.svg`), which shows the safety controller's key left at
/// PROGRAM; a grid run has no line.
#[test]
fn a_pipeline_run_shows_its_line_on_the_team_page() {
    let data = temp_dir("pipeline");
    let server = serve(&data, None, 196);
    let w = world_of(&server, &data, None, 1.0, "triton2017");
    let page = w.a1.get(&format!("/teams/{}", w.team_a));
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("data-line=\"1\"") && html.contains("data-series=\"maop\""), "{html:.400}");
    let svg = w.a1.get(&format!("/api/teams/{}/line.svg", w.team_a));
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let text = String::from_utf8_lossy(&svg.body);
    assert!(text.contains("SIS key PROGRAM") && text.contains("data-series=\"pressure\""), "{text:.400}");
    // Another team's line is not the trainee's to see.
    assert!(denied(w.a1.get(&format!("/api/teams/{}/line.svg", w.team_b)).status));

    let grid_data = temp_dir("pipeline-grid");
    let grid_server = serve(&grid_data, None, 194);
    let g = world(&grid_server, &grid_data, None, 1.0);
    assert_eq!(g.a1.get(&format!("/api/teams/{}/line.svg", g.team_a)).status, 404, "a grid run has no line");
}
