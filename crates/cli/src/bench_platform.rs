//! `icsrange bench platform`: the training platform under a course's load. It starts
//! `icsrange serve` as its own process (so the server's CPU and memory are its own), creates a
//! run of an exercise with N teams at 1x through the API, starts it, and opens M WebSocket
//! HMI clients spread over the teams, as trainees' browsers would. It reports, over the
//! measured window: the time from a state change in a range to its arrival in a client (p50,
//! p99; the server stamps each message with the wall-clock instant its range's state last
//! moved), the server's CPU (share of one core) and resident memory, bytes per second per
//! client, and the HMI page's weight (the page and everything it loads).

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, clap::Args)]
pub struct BenchPlatformArgs {
    /// Teams (one range each).
    #[arg(long, default_value_t = 50)]
    teams: usize,
    /// WebSocket HMI clients, spread over the teams.
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// The exercise (built-in name).
    #[arg(long, default_value = "ukraine2015")]
    exercise: String,
    /// Measured wall-clock duration.
    #[arg(long = "for", value_parser = gridsim::sim::SimTime::parse_duration, default_value = "60s")]
    duration: gridsim::sim::SimTime,
    /// Team address blocks from 127.N.0.0.
    #[arg(long, default_value_t = 100)]
    first_block: u8,
    /// Each team's operator toggles a breaker (station 2, IOA 1001) this often, through the
    /// API; the time from that request to the new state on each of the team's clients is
    /// measured too (0: never).
    #[arg(long = "operate-every", value_parser = gridsim::sim::SimTime::parse_duration, default_value = "10s")]
    operate_every: gridsim::sim::SimTime,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// CPU seconds (user + system) and resident KiB of a process.
fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    ((ticks(11) + ticks(12)) / 100.0, rss)
}

/// One HTTP/1.1 exchange (Connection: close): status, Set-Cookie, body.
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, String, Vec<u8>)> {
    http_from(None, addr, method, path, cookie, csrf, body).await
}

/// The next loopback source address for a sign-in: the server allows 30 sign-ins per source
/// address in 5 minutes, and a course's trainees sign in from their own machines.
fn next_source() -> std::net::Ipv4Addr {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::net::Ipv4Addr::new(127, 0, 1 + (n / 250 % 250) as u8, 1 + (n % 250) as u8)
}

/// `http` from `source` (a loopback address) when given.
async fn http_from(
    source: Option<std::net::Ipv4Addr>,
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let mut s = match source {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::from((ip, 0)))?;
            socket.connect(addr.parse()?).await?
        }
    };
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCookie: {cookie}\r\nx-csrf-token: {csrf}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let split =
        buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow::anyhow!("no HTTP answer"))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let mut body = buf[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut b = &body[..];
        while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
            if n == 0 || b.len() < eol + 2 + n {
                break;
            }
            out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
            b = &b[(eol + 4 + n).min(b.len())..];
        }
        body = out;
    }
    Ok((status, cookie, body))
}

async fn api(
    addr: &str,
    method: &str,
    path: &str,
    auth: &(String, String),
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let (status, _, b) = http(addr, method, path, &auth.0, &auth.1, body.as_ref()).await?;
    if status >= 300 {
        anyhow::bail!("{method} {path}: {status} {}", String::from_utf8_lossy(&b));
    }
    Ok(serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn login(addr: &str, name: &str, password: &str) -> anyhow::Result<(String, String)> {
    let body = json!({"name": name, "password": password});
    let (status, cookie, b) =
        http_from(Some(next_source()), addr, "POST", "/api/login", "", "", Some(&body)).await?;
    if status != 200 {
        anyhow::bail!("login {name}: {status}");
    }
    let v: Value = serde_json::from_slice(&b)?;
    Ok((cookie, v["csrf"].as_str().unwrap_or_default().to_string()))
}

pub fn run(args: &BenchPlatformArgs) -> anyhow::Result<ExitCode> {
    let data = netio::files::temp_beside(&std::env::temp_dir().join("icsrange-bench-platform"));
    std::fs::create_dir(&data)?;
    let exe = std::env::current_exe()?;
    let admin = Command::new(&exe).args(["admin", "create", "bench"]).arg("--data").arg(&data).output()?;
    let password =
        String::from_utf8_lossy(&admin.stdout).trim().rsplit(' ').next().unwrap_or_default().to_string();
    let mut server = Command::new(&exe)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--devices",
            "false",
            "--first-block",
            &args.first_block.to_string(),
        ])
        .arg("--data")
        .arg(&data)
        .env("ICSRANGE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(server.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?).lines();
    let mut addr = String::new();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("icsrange serving on http://") {
            addr = rest.split('/').next().unwrap_or_default().to_string();
        }
        if line == "ready" {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let pid = server.id();
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(measure(args, &addr, &password, pid));
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn measure(args: &BenchPlatformArgs, addr: &str, password: &str, pid: u32) -> anyhow::Result<()> {
    let admin = login(addr, "bench", password).await?;
    let run = api(
        addr,
        "POST",
        "/api/runs",
        &admin,
        Some(json!({"name": "bench", "exercise": args.exercise, "speed": 1.0})),
    )
    .await?;
    let run = run["id"].as_str().unwrap_or_default().to_string();
    let mut teams = Vec::new();
    let setup = Instant::now();
    for i in 0..args.teams {
        let t = api(
            addr,
            "POST",
            &format!("/api/runs/{run}/teams"),
            &admin,
            Some(json!({"name": format!("T{i:03}")})),
        )
        .await?;
        let team = t["id"].as_str().unwrap_or_default().to_string();
        let a = api(
            addr,
            "POST",
            &format!("/api/runs/{run}/accounts"),
            &admin,
            Some(json!({"name": format!("t{i:03}"), "role": "trainee", "team": team})),
        )
        .await?;
        teams.push((team, format!("t{i:03}"), a["password"].as_str().unwrap_or_default().to_string()));
    }
    api(addr, "POST", &format!("/api/runs/{run}/control"), &admin, Some(json!({"op": "start"}))).await?;
    println!("{} teams created and started in {:.1} s", args.teams, setup.elapsed().as_secs_f64());
    // The HMI page's weight: the page and what it loads.
    let first = login(addr, &teams[0].1, &teams[0].2).await?;
    let mut weight = 0;
    for path in [format!("/teams/{}", teams[0].0), "/assets/app.js".into(), "/assets/style.css".into()] {
        weight += http(addr, "GET", &path, &first.0, &first.1, None).await?.2.len();
    }
    let mut sessions = Vec::new();
    let mut operators = Vec::new();
    for (team, name, pw) in &teams {
        let auth = login(addr, name, pw).await?;
        sessions.push((team.clone(), auth.0.clone()));
        operators.push((team.clone(), auth));
    }
    // Per team: when the last toggle was requested and the breaker value it asks for.
    type Pending = std::collections::HashMap<String, (u64, f64)>;
    let pending: Arc<std::sync::Mutex<Pending>> = Arc::default();
    let action_latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let bytes = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (team, cookie) = sessions[c % sessions.len()].clone();
        let url = format!("ws://{addr}/api/teams/{team}/live");
        let (bytes, latencies, measuring) = (bytes.clone(), latencies.clone(), measuring.clone());
        let (pending, action_latencies) = (pending.clone(), action_latencies.clone());
        tasks.push(tokio::spawn(async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let Ok(mut req) = url.into_client_request() else { return };
            if let Ok(v) = cookie.parse() {
                req.headers_mut().insert("cookie", v);
            }
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(req).await else { return };
            use futures_util::StreamExt;
            while let Some(Ok(m)) = ws.next().await {
                let at = now_ms();
                if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
                    if let Ok(v) = serde_json::from_str::<Value>(&t) {
                        if let Some(c) = v["changed_ms"].as_u64() {
                            latencies.lock().unwrap_or_else(|p| p.into_inner()).push(at.saturating_sub(c));
                        }
                        let want = pending.lock().unwrap_or_else(|p| p.into_inner()).get(&team).copied();
                        if let (Some((sent, value)), Some(points)) = (want, v["points"].as_array()) {
                            if points
                                .iter()
                                .any(|p| p[0] == 2 && p[1] == 1001 && p[2].as_f64() == Some(value))
                            {
                                action_latencies
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push(at.saturating_sub(sent));
                            }
                        }
                    }
                }
            }
        }));
    }
    // Let every client take its snapshot, then measure.
    tokio::time::sleep(Duration::from_secs(5)).await;
    measuring.store(true, Ordering::Relaxed);
    let (cpu0, _) = proc_usage(pid);
    let t0 = Instant::now();
    let every = Duration::from_micros(args.operate_every.0);
    let mut toggles = Vec::new();
    if !every.is_zero() {
        let addr = addr.to_string();
        let pending = pending.clone();
        let n = operators.len().max(1);
        toggles.push(tokio::spawn(async move {
            let mut close = false;
            loop {
                // Spread the teams' commands over the interval.
                for (team, auth) in &operators {
                    tokio::time::sleep(every / n as u32).await;
                    let body = json!({"do": "operate", "station": 2, "ioa": 2001, "close": close});
                    pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(team.clone(), (now_ms(), if close { 2.0 } else { 1.0 }));
                    let _ = api(&addr, "POST", &format!("/api/teams/{team}/actions"), auth, Some(body)).await;
                }
                close = !close;
            }
        }));
    }
    tokio::time::sleep(Duration::from_micros(args.duration.0)).await;
    for t in &toggles {
        t.abort();
    }
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, rss) = proc_usage(pid);
    measuring.store(false, Ordering::Relaxed);
    for t in &tasks {
        t.abort();
    }
    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    l.sort_unstable();
    let pct =
        |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or(0);
    let mut a = action_latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    a.sort_unstable();
    let apct =
        |p: f64| a.get(((a.len() as f64 * p) as usize).min(a.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "{} teams at 1x, {} WebSocket HMI clients, {:.0} s measured:\n  change-to-client latency p50 {} ms, p99 {} ms ({} messages)\n  breaker command (API) to its new state on each team client: p50 {} ms, p99 {} ms ({} arrivals; includes the breaker's operating time and the 1 s view period)\n  server CPU {:.1} % of one core, resident memory {:.0} MiB\n  {:.0} bytes/s per client\n  HMI page with what it loads: {} bytes",
        args.teams,
        args.clients,
        wall,
        pct(0.5),
        pct(0.99),
        l.len(),
        apct(0.5),
        apct(0.99),
        a.len(),
        100.0 * (cpu1 - cpu0) / wall,
        rss as f64 / 1024.0,
        bytes.load(Ordering::Relaxed) as f64 / wall / args.clients.max(1) as f64,
        weight
    );
    Ok(())
}
