//! A team's views and actions: HMI points, diagram, evidence, frames, capture, journal, actions, incident reports.

use super::*;

pub(super) async fn team_range(app: &App, id: &str) -> Result<std::sync::Arc<TeamRange>> {
    app.ranges.get(id).ok_or(ApiError::Conflict("the run has not started"))
}

/// Whether the caller sees a team as an instructor (the journal's truth) or as a trainee.
pub(super) async fn is_staff(app: &App, c: &Caller, team: &store::Team) -> Result<bool> {
    Ok(c.user.admin || app.store.staff_role(&team.run, &c.user.id).await?.is_some())
}

pub(super) async fn team_detail(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json> {
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let run = run_of(&app, &team.run).await?;
    let staff = is_staff(&app, &c, &team).await?;
    let role = app.store.membership(&team.run, &c.user.id).await?.map(|m| m.1.as_str());
    // Who is watching, when it is not one of the team: an instructor or an observer.
    let viewer = app
        .store
        .staff_role(&team.run, &c.user.id)
        .await?
        .map(|r| r.as_str())
        .or(c.user.admin.then_some("instructor"));
    let ex = platform::exercise(&app, &run).await?;
    let mut v = json!({
        "id": team.id, "name": team.name, "run": {"id": run.id, "name": run.name, "status": run.status.as_str()},
        "role": role, "staff": staff, "viewer": viewer, "duration_s": ex.duration.0 / 1_000_000,
    });
    // The exercise's identity names the incident it replays: with it (and the seed) a trainee
    // could play the run offline. Instructors and observers see it; trainees do not.
    if staff {
        v["title"] = json!(ex.title);
        v["summary"] = json!(ex.summary);
    }
    // The scenario clock and the briefing: every page's, from before the start.
    if let Some(c) = &ex.clock {
        v["clock"] =
            json!({"start_local_s": c.start_local_s, "zone": c.zone, "utc_offset_min": c.utc_offset_min});
    }
    v["briefing"] = json!(ex.briefing);
    v["pipeline"] = json!(ex.pipeline.is_some());
    v["state"] = json!(if run.status.as_str() == "draft" { "not_started" } else { run.status.as_str() });
    if let Some(tr) = app.ranges.get(&id) {
        let name = team.name.clone();
        let (score, questions, supply, t) = tr.read(|r| {
            let j = r.journal();
            let score = tr.score(r, staff);
            (score, views::questions(&tr.ex, j, &name), views::supply(j), r.time().0 as f64 / 1e6)
        });
        v["score"] = score;
        v["questions"] = questions;
        v["supply"] = json!(supply);
        v["t"] = json!(t);
        v["paused"] = json!(tr.handle.state().borrow().paused);
        v["started"] = json!(true);
        if tr.has_ended() {
            v["state"] = json!("ended");
        }
    } else {
        v["questions"] = views::questions(&ex, &[], &team.name);
    }
    Ok(axum::Json(v))
}

pub(super) async fn hmi(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    let (points, supply, t) =
        tr.read(|r| (views::points(r), views::supply(r.journal()), r.time().0 as f64 / 1e6));
    Ok(axum::Json(json!({
        "t": t, "frequency_hz": views::hmi_frequency(&points), "supply": supply,
        "points": points.iter().map(views::point_json).collect::<Vec<_>>(),
        "paused": tr.handle.state().borrow().paused,
    })))
}

/// The grid's overview (level 1) with the master's values now.
pub(super) async fn overview_svg(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    let tr = team_range(&app, &id).await?;
    let v = tr.read(|r| crate::displays::values(r.points()));
    let svg = crate::displays::overview(&tr.plant, &v).svg;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The stations and areas, and every breaker's name in words.
pub(super) async fn displays(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    Ok(axum::Json(tr.plant.index()))
}

/// One station (level 2 and 3): its one-line with the master's values now and its point list.
pub(super) async fn station_display(
    State(app): State<App>,
    Path((id, k)): Path<(String, String)>,
) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    let k: usize = k.parse().ok().filter(|&k| k < tr.plant.stations.len()).ok_or(ApiError::NotFound)?;
    let v = tr.read(|r| crate::displays::values(r.points()));
    let s = &tr.plant.stations[k];
    Ok(axum::Json(json!({
        "k": k, "name": s.name, "area": tr.plant.areas[s.area].name, "cas": s.cas,
        "svg": crate::displays::station(&tr.plant, k, &v).svg,
        "points": tr.plant.station_points(k),
    })))
}

pub(super) async fn line_svg(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    let tr = team_range(&app, &id).await?;
    if tr.ex.pipeline.is_none() {
        return Err(ApiError::NotFound);
    }
    let svg = tr.read_range(crate::line::svg).flatten().ok_or(ApiError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// `?since=N` (a journal index); anything else there is a 422, never a bare 400.
pub(super) fn since_of(q: Option<String>) -> Result<Option<usize>> {
    let Some(q) = q else { return Ok(None) };
    for kv in q.split('&') {
        if let Some(v) = kv.strip_prefix("since=") {
            return v.parse().map(Some).map_err(|_| ApiError::BadRequest("since: a journal index".into()));
        }
    }
    Ok(None)
}

pub(super) async fn events(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json> {
    let since = since_of(q)?;
    let tr = team_range(&app, &id).await?;
    let name = tr.team.name.clone();
    let ev = tr.read(|r| views::trainee_events(r.journal(), since, &name, &tr.ex, 1000));
    Ok(axum::Json(json!(ev)))
}

pub(super) async fn journal(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    let from = since_of(q)?.map_or(0, |s| s.saturating_add(1));
    let v = tr.read(|r| {
        r.journal()
            .iter()
            .enumerate()
            .skip(from)
            .take(5000)
            .map(|(i, e)| views::instructor_entry(i, e))
            .collect::<Vec<_>>()
    });
    Ok(axum::Json(json!(v)))
}

/// `a=b&c=d`, percent-decoded.
pub(super) fn query_params(q: Option<String>) -> std::collections::HashMap<String, String> {
    let decode = |s: &str| {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    q.unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (decode(k), decode(v))))
        .collect()
}

pub(super) async fn frames(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json> {
    let p = query_params(q);
    let num = |k: &str| -> Result<Option<u64>> {
        p.get(k)
            .filter(|v| !v.is_empty())
            .map(|v| v.parse::<u64>().map_err(|_| ApiError::BadRequest(format!("{k}: a number"))))
            .transpose()
    };
    let (ioa, register, since) = (num("ioa")?, num("register")?, num("since")?);
    let limit = num("limit")?.unwrap_or(200).clamp(1, 1000) as usize;
    let proto = p.get("proto").filter(|v| !v.is_empty()).cloned();
    let addr = p.get("addr").filter(|v| !v.is_empty()).cloned();
    let text = p.get("text").filter(|v| !v.is_empty()).map(|t| t.to_lowercase());
    let tr = team_range(&app, &id).await?;
    let mut idx = tr.frames.lock().unwrap_or_else(|p| p.into_inner());
    idx.update(&tr.capture);
    let dropped = idx.dropped;
    let matches = |d: &ids::dissect::Decoded| {
        proto.as_deref().is_none_or(|p| d.protocol == p)
            && addr.as_deref().is_none_or(|a| d.src.ip().to_string() == a || d.dst.ip().to_string() == a)
            && ioa.is_none_or(|i| d.ioas.contains(&(i as u32)))
            && register.is_none_or(|r| d.register == Some(r as u16))
            && text.as_deref().is_none_or(|t| d.summary.to_lowercase().contains(t))
    };
    let row = |(i, d): (usize, &ids::dissect::Decoded)| {
        json!({
            "seq": i + dropped, "frame": d.frame, "t": d.t.0 as f64 / 1e6, "src": d.src.to_string(), "dst": d.dst.to_string(),
            "proto": d.protocol, "info": d.summary, "station": d.station, "ioas": d.ioas, "register": d.register,
            "malformed": d.malformed,
        })
    };
    // After `since`: the first `limit` matches (paging forward); without: the last `limit`.
    let rows: Vec<Value> = match since {
        Some(s) => {
            let first = (s as usize).saturating_add(1).saturating_sub(dropped);
            idx.decoded
                .iter()
                .enumerate()
                .skip(first)
                .filter(|(_, d)| matches(d))
                .take(limit)
                .map(row)
                .collect()
        }
        None => {
            let mut v: Vec<Value> = idx
                .decoded
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, d)| matches(d))
                .take(limit)
                .map(row)
                .collect();
            v.reverse();
            v
        }
    };
    Ok(axum::Json(json!({"frames": rows, "total": idx.decoded.len() + dropped})))
}

/// The capture so far, streamed from its file: a download holds neither the capture in
/// memory nor its lock while it sends (a 100 MB capture costs a read buffer, not 100 MB).
pub(super) async fn capture(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    use tokio::io::AsyncReadExt;
    let tr = team_range(&app, &id).await?;
    // The file a download holds open counts in the web's share of handles, as a connection.
    let place = netio::admission::http_slot()
        .ok_or(ApiError::Conflict("too many downloads at once; try again shortly"))?;
    let (file, len) = match tr.capture.open_so_far() {
        Ok(x) => x,
        Err(_) => {
            let f = std::fs::File::open(&tr.capture_path).map_err(|_| ApiError::NotFound)?;
            let len = f.metadata().map_err(|_| ApiError::NotFound)?.len();
            (f, len)
        }
    };
    let reader = tokio::fs::File::from_std(file).take(len);
    let body =
        axum::body::Body::new(FileBody { reader, buf: vec![0; 64 * 1024].into_boxed_slice(), _place: place });
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.tcpdump.pcap".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.pcap\"",
                    tr.team.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// A file's bytes as a response body, 64 KiB at a time as the client takes them.
struct FileBody {
    reader: tokio::io::Take<tokio::fs::File>,
    buf: Box<[u8]>,
    _place: netio::admission::HttpSlot,
}

impl http_body::Body for FileBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        let mut rb = tokio::io::ReadBuf::new(&mut this.buf);
        match tokio::io::AsyncRead::poll_read(std::pin::Pin::new(&mut this.reader), cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => {
                Poll::Ready(Some(Ok(http_body::Frame::data(axum::body::Bytes::copy_from_slice(rb.filled())))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The team's asset register and network map (`register`).
pub(super) async fn assets(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    let base = block_base(&tr)?;
    let reg = tr
        .read_range(|r| crate::register::of(&tr.ex, r, base))
        .ok_or(ApiError::Conflict("the run has not started"))?;
    Ok(axum::Json(json!(reg)))
}

fn block_base(tr: &TeamRange) -> Result<std::net::Ipv4Addr> {
    tr.team.base.parse().map_err(|_| ApiError::Conflict("the team has no address block"))
}

/// A device named as the pages show it (a full address in the team's block, or the offset
/// `x.y` a script may use) as the range's offset; `None`: not a device's address here.
fn device_offset(named: &str, base: std::net::Ipv4Addr) -> Option<String> {
    let t = named.trim();
    if let Ok(a) = t.parse::<std::net::Ipv4Addr>() {
        let [b0, b1, _, _] = base.octets();
        let [a0, a1, a2, a3] = a.octets();
        return ((a0, a1) == (b0, b1)).then(|| format!("{a2}.{a3}"));
    }
    let ok = t.split_once('.').is_some_and(|(x, y)| x.parse::<u8>().is_ok() && y.parse::<u8>().is_ok());
    ok.then(|| t.to_string())
}

/// Why `named` is no device of the team's, in words.
fn not_a_device(named: &str, base: std::net::Ipv4Addr) -> String {
    let [b0, b1, _, _] = base.octets();
    match named.trim().parse::<std::net::Ipv4Addr>() {
        Ok(a) => format!("{a} is not in your range ({b0}.{b1}.0.0/16)"),
        Err(_) => format!("`{}` is not a device address", named.trim()),
    }
}

/// Hosts are named by the address a trainee sees (the VPN log's, the alerts'), never by the
/// exercise's hidden id: a name that is not an address is refused in the words an unknown
/// host gets from the range (which resolves the address and journals it as given).
fn address_only(named: &str) -> Option<String> {
    named.trim().parse::<std::net::Ipv4Addr>().ok().map(|a| a.to_string())
}

/// A firewall rule's source as typed: an address or a prefix `a.b.c.d/n` (normalised).
fn address_or_prefix(named: &str) -> Option<String> {
    let t = named.trim();
    if let Some(a) = address_only(t) {
        return Some(a);
    }
    t.parse::<devices::Prefix>().ok().map(|p| p.to_string())
}

pub(super) async fn trainee_actor(app: &App, c: &Caller, team: &store::Team) -> Result<Actor> {
    let (_, role) = app.store.membership(&team.run, &c.user.id).await?.ok_or(ApiError::NotFound)?;
    Ok(Actor::User {
        team: team.name.clone(),
        user: c.user.name.clone(),
        role: Role::parse(role.as_str()).unwrap_or(Role::Operator),
    })
}

pub(super) async fn team_action(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Json> {
    // Every string an action carries is journaled, stored and replayed: bounded.
    if raw.len() > 12 * 1024 {
        return Err(ApiError::BadRequest("an action is at most 12 KiB".into()));
    }
    if !app.limiter.allow(&format!("actions:{id}"), 120, Duration::from_secs(60)) {
        return Err(ApiError::TooMany);
    }
    let a: journal_format::ActionJson = body(&raw)?;
    use journal_format::ActionJson as A;
    if let A::Answer { question, value } = &a {
        if value.len() > 1000 || question.len() > 100 {
            return Err(ApiError::BadRequest("answer too long".into()));
        }
        if !app.limiter.allow(&format!("answer:{id}"), 30, Duration::from_secs(60)) {
            return Err(ApiError::TooMany);
        }
    }
    if let A::Report { text } = &a {
        if text.len() > 10_000 {
            return Err(ApiError::BadRequest("report too long".into()));
        }
    }
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let tr = team_range(&app, &id).await?;
    let refused = |why: String| {
        let out = range::journal::Outcome::Refused(why);
        let mut o = json!(journal_format::outcome(&out));
        o["text"] = json!(crate::reply::sentence(
            &tr.ex,
            &Action::Defend(exercise::DefenderAction::AckAlarms),
            &out,
            std::net::Ipv4Addr::UNSPECIFIED
        ));
        Ok(axum::Json(o))
    };
    let base = block_base(&tr)?;
    let a = match a {
        A::Block { host } => match address_or_prefix(&host) {
            Some(host) => A::Block { host },
            None => {
                return refused(format!(
                    "`{}` is not an address or a prefix such as 10.0.0.0/8",
                    host.trim()
                ));
            }
        },
        A::Local { device } => match device_offset(&device, base) {
            Some(d) => A::Local { device: d },
            None => return refused(not_a_device(&device, base)),
        },
        A::Reboot { device } => match device_offset(&device, base) {
            Some(d) => A::Reboot { device: d },
            None => return refused(not_a_device(&device, base)),
        },
        A::Clean { host } => match address_only(&host) {
            Some(host) => A::Clean { host },
            None => return refused(format!("no host `{}`", host.trim())),
        },
        a => a,
    };
    let action = journal_format::action_from(a.clone()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if action.is_control() {
        return Err(ApiError::Forbidden("an instructor's control"));
    }
    // An answer's tries are checked and used under one lock: answers sent at once are judged
    // one after the other, and the last tries find none left.
    let _answering = match &a {
        A::Answer { question, .. } => {
            let held = tr.answering.lock().await;
            let name = team.name.clone();
            match tr.read(|r| range::may_answer(&tr.ex, r.journal(), &name, question)) {
                Err(range::Refusal::Answered) => {
                    return Err(ApiError::Conflict("this question is already answered"));
                }
                Err(_) => return Err(ApiError::Conflict("no tries left for this question")),
                Ok(()) => {}
            }
            Some(held)
        }
        _ => None,
    };
    let actor = trainee_actor(&app, &c, &team).await?;
    let o = tr.act(actor, action.clone()).await?;
    let mut out = json!(journal_format::outcome(&o));
    out["text"] = json!(crate::reply::sentence(&tr.ex, &action, &o, base));
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub(super) struct NewReport {
    time: String,
    asset: String,
    technique: String,
    impact: String,
    action: String,
}

pub(super) async fn create_report(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewReport = body(&raw)?;
    for (f, what) in [
        (&b.time, "time"),
        (&b.asset, "asset"),
        (&b.technique, "technique"),
        (&b.impact, "impact"),
        (&b.action, "action"),
    ] {
        if f.len() > 2000 {
            return Err(ApiError::BadRequest(format!("{what}: at most 2000 characters")));
        }
    }
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let tr = team_range(&app, &id).await?;
    let text = format!(
        "time: {}\nasset: {}\ntechnique: {}\nimpact: {}\naction taken: {}",
        b.time, b.asset, b.technique, b.impact, b.action
    );
    let report_body = json!({"time": b.time, "asset": b.asset, "technique": b.technique, "impact": b.impact, "action": b.action});
    let actor = trainee_actor(&app, &c, &team).await?;
    let o = tr.act(actor, Action::Defend(exercise::DefenderAction::Report { text })).await?;
    let r = store::Report {
        id: auth::token(8),
        team: id,
        user_id: c.user.id.clone(),
        body: report_body.to_string(),
        grade: None,
        created: crate::now_s(),
    };
    app.store.create_report(&r).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"id": r.id, "outcome": journal_format::outcome(&o)})))
        .into_response())
}

pub(super) async fn list_reports(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let v: Vec<Value> = app
        .store
        .reports(&id)
        .await?
        .into_iter()
        .map(|r| json!({"id": r.id, "report": serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null), "grade": r.grade, "created": r.created}))
        .collect();
    Ok(axum::Json(json!(v)))
}
