//! The training platform through the real binary: a server process, a tiny HTTP client, a
//! run with two teams (shared by the platform tests and the attacks on the platform).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_icsrange");

/// A tiny HTTP/1.1 client (Connection: close), enough to call the API as a browser would.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub addr: Option<SocketAddr>,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    /// The loopback address the client connects from (default 127.0.0.1).
    pub source: Option<std::net::Ipv4Addr>,
}

/// A TCP connection from `source` (any address in 127.0.0.0/8 on loopback).
pub fn connect_from(source: std::net::Ipv4Addr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.bind(&std::net::SocketAddrV4::new(source, 0).into())?;
    s.connect(&target.into())?;
    Ok(s.into())
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr: Some(addr), ..Client::default() }
    }

    pub fn raw(&self, method: &str, path: &str, body: Option<&str>, extra: &[(&str, &str)]) -> Reply {
        let addr = self.addr.expect("address");
        let mut s = match self.source {
            Some(src) => connect_from(src, addr).expect("connect"),
            None => TcpStream::connect(addr).expect("connect"),
        };
        let body = body.unwrap_or("");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if !body.is_empty() || method == "POST" {
            req += &format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
        }
        if let Some(c) = &self.cookie {
            req += &format!("Cookie: {c}\r\n");
        }
        if let Some(c) = &self.csrf {
            if method != "GET" {
                req += &format!("x-csrf-token: {c}\r\n");
            }
        }
        for (k, v) in extra {
            req += &format!("{k}: {v}\r\n");
        }
        req += "\r\n";
        req += body;
        s.write_all(req.as_bytes()).expect("send");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        parse_reply(&buf)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.raw("GET", path, None, &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.raw("POST", path, Some(&body.to_string()), &[])
    }

    pub fn login(addr: SocketAddr, name: &str, password: &str) -> Client {
        let mut c = Client::new(addr);
        let r = c.post("/api/login", &json!({"name": name, "password": password}));
        assert_eq!(r.status, 200, "login {name}: {}", String::from_utf8_lossy(&r.body));
        let cookie = r.header("set-cookie").expect("cookie").to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        c.cookie = Some(cookie.split(';').next().unwrap_or_default().to_string());
        c.csrf = r.json()["csrf"].as_str().map(str::to_string);
        c
    }
}

/// One answer read off the wire (status, headers, de-chunked body).
pub fn parse_reply(buf: &[u8]) -> Reply {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole HTTP answer");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

/// A team's whole journal, as an instructor or observer reads it.
pub fn journal(c: &Client, team: &str) -> Vec<Value> {
    let r = c.get(&format!("/api/teams/{team}/journal"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json().as_array().cloned().unwrap_or_default()
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
    out
}

/// A server process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A process's open file handles.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A process's resident memory, in bytes.
pub fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(data: &Path, database: Option<&str>, first_block: u8) -> Server {
    serve_with(data, database, first_block, &[])
}

pub fn serve_with(data: &Path, database: Option<&str>, first_block: u8, extra: &[&str]) -> Server {
    let mut args = vec!["--devices", "false"];
    args.extend_from_slice(extra);
    serve_as(&[], data, database, first_block, &args)
}

/// `icsrange serve` on a free port with `args` (and no `--devices` unless given), through
/// `wrapper` (a command such as `prlimit --nofile=1024` that runs the server).
pub fn serve_as(
    wrapper: &[&str],
    data: &Path,
    database: Option<&str>,
    first_block: u8,
    args: &[&str],
) -> Server {
    let mut cmd = match wrapper.split_first() {
        Some((w, rest)) => {
            let mut c = Command::new(w);
            c.args(rest).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    let extra = args;
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--first-block", &first_block.to_string()])
        .arg("--data")
        .arg(data)
        .env("ICSRANGE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .args(extra);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let mut child = cmd.spawn().expect("icsrange serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut addr = None;
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.strip_prefix("icsrange serving on ").and_then(|r| r.split_once("://")) {
            addr = rest.1.split('/').next().and_then(|a| a.parse().ok());
        }
        if line.trim() == "ready" {
            break;
        }
        line.clear();
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Server { child, addr: addr.expect("the server printed its address") }
}

pub fn admin(data: &Path, database: Option<&str>, name: &str) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["admin", "create", name]).arg("--data").arg(data);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let out = cmd.output().expect("admin create");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.trim().rsplit(' ').next().expect("password").to_string()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("icsrange-platform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Whether anything listens at a database URL's host and port: a refused connection is known
/// at once, where the pool would wait 30 s for it.
pub fn listening(url: &str) -> bool {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = if host.contains(':') { host.to_string() } else { format!("{host}:5432") };
    host.to_socket_addrs()
        .into_iter()
        .flatten()
        .any(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok())
}

/// A fresh PostgreSQL database (127.0.0.1:5432, trust, or ICSRANGE_TEST_POSTGRES's server).
/// None when the server does not answer: the test says it skipped, or fails under
/// `ICSRANGE_REQUIRE_PEERS` (`scripts/test`).
pub fn fresh_postgres(name: &str) -> Option<String> {
    let admin = std::env::var("ICSRANGE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let db = format!("icsrange_{name}_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let opened = rt.block_on(async {
        if !listening(&admin) {
            return Err("nothing listens there".to_string());
        }
        let s = store::Store::open(&admin).await.map_err(|e| e.to_string())?;
        s.exec_admin(&format!("DROP DATABASE IF EXISTS {db}")).await.expect("drop");
        s.exec_admin(&format!("CREATE DATABASE {db}")).await.expect("create");
        s.close().await;
        Ok(())
    });
    if let Err(e) = opened {
        super::peer_missing(&format!("PostgreSQL at {admin} does not answer: {e}"));
        return None;
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
    Some(format!("{base}/{db}"))
}

/// A run with teams A and B, a trainee in each, an observer; started.
pub struct World {
    pub admin: Client,
    pub instructor: Client,
    pub run: String,
    pub team_a: String,
    pub team_b: String,
    pub a1: Client,
    pub observer: Client,
}

pub fn world(server: &Server, data: &Path, database: Option<&str>, speed: f64) -> World {
    world_of(server, data, database, speed, "ukraine2015")
}

pub fn world_of(server: &Server, data: &Path, database: Option<&str>, speed: f64, exercise: &str) -> World {
    let addr = server.addr;
    let admin_pw = admin(data, database, "boss");
    let admin = Client::login(addr, "boss", &admin_pw);
    let r =
        admin.post("/api/runs", &json!({"name": "Week 1", "exercise": exercise, "speed": speed, "seed": 3}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let run = r.json()["id"].as_str().expect("run id").to_string();
    let account = |name: &str, role: &str, team: Option<&str>| {
        let mut b = json!({"name": name, "role": role, "org": "Kyivoblenergo", "country": "UA"});
        if let Some(t) = team {
            b["team"] = json!(t);
        }
        let r = admin.post(&format!("/api/runs/{run}/accounts"), &b);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["password"].as_str().expect("password").to_string()
    };
    let ipw = account("ines", "instructor", None);
    let instructor = Client::login(addr, "ines", &ipw);
    let team = |name: &str| {
        let r = instructor.post(&format!("/api/runs/{run}/teams"), &json!({"name": name}));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["id"].as_str().expect("team id").to_string()
    };
    let (team_a, team_b) = (team("A"), team("B"));
    let a1 = Client::login(addr, "a1", &account("a1", "trainee", Some(&team_a)));
    let _b1 = account("b1", "trainee", Some(&team_b));
    let observer = Client::login(addr, "olga", &account("olga", "observer", None));
    let r = instructor.post(&format!("/api/runs/{run}/control"), &json!({"op": "start"}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    World { admin, instructor, run, team_a, team_b, a1, observer }
}

pub fn fill(path: &str, w: &World, team: &str) -> String {
    path.replace("{run}", &w.run)
        .replace("{team}", team)
        .replace("{file}", "app.js")
        .replace("{report}", "r0")
        .replace("{station}", "0")
        .replace("{token}", &"0".repeat(64))
}

pub fn denied(status: u16) -> bool {
    matches!(status, 401 | 403 | 404)
}
