//! The WebSocket live views: a team's HMI and evidence, the instructors' scoreboard.

use super::*;

pub(super) async fn live(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    Extension(c): Extension<Caller>,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let staff = is_staff(&app, &c, &team).await?;
    let tr = team_range(&app, &id).await?;
    let since = since_of(q)?;
    let session = c.token_hash.clone();
    // The page sends only what it shows (a few hundred bytes): anything much larger is refused.
    let ws = ws.max_message_size(16 << 10).max_frame_size(16 << 10);
    Ok(ws.on_upgrade(move |socket| live_loop(socket, app, tr, staff, since, session)))
}

/// One view's live updates: every second at most, what changed (the stations' states, the
/// points of the display the page shows, new evidence, score, supply, pause). The page says
/// which stations it shows (`{"show": [common addresses]}`); their points come in full at
/// once, then as they change. The first message is small: the stations' states, no points.
pub(super) async fn live_loop(
    mut socket: WebSocket,
    app: App,
    tr: std::sync::Arc<TeamRange>,
    staff: bool,
    mut since: Option<usize>,
    session: String,
) {
    // The session is checked again every 30 s: a view outlives neither a sign-out nor a
    // disabled account by more than that.
    let mut checked = tokio::time::Instant::now();
    // Broadcasts: all of them at first, then only when the run has a newer one.
    let mut said: i64 = 0;
    let mut first = true;
    let mut sent: std::collections::HashMap<(u16, u32), (f64, u8)> = std::collections::HashMap::new();
    let mut shown: std::collections::HashSet<u16> = std::collections::HashSet::new();
    let mut sent_states: Vec<Option<crate::displays::StationState>> = vec![None; tr.plant.stations.len()];
    let mut last_freq = None;
    let mut last_pass = tokio::time::Instant::now();
    let mut last_dark = None;
    let mut last_score = Value::Null;
    let mut last_supply = None;
    let mut last_paused = None;
    let mut last_state = Value::Null;
    let mut last_t = f64::NAN;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let name = tr.team.name.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Text(t))) => {
                    // What the page shows: at most 256 stations' common addresses.
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    let Some(list) = v.get("show").and_then(Value::as_array) else { continue };
                    shown = list.iter().take(256).filter_map(Value::as_u64).filter_map(|c| u16::try_from(c).ok()).collect();
                    // The page has redrawn: every shown point again, whole.
                    sent.clear();
                    // At most four passes a second, however fast a page says what it shows.
                    if last_pass.elapsed() < Duration::from_millis(250) {
                        continue;
                    }
                }
                _ => continue,
            },
        }
        last_pass = tokio::time::Instant::now();
        if checked.elapsed() >= Duration::from_secs(30) {
            checked = tokio::time::Instant::now();
            if !matches!(app.store.session(&session, crate::now_s()).await, Ok(Some(_))) {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
        let snap = tr.read(|r| {
            let j = r.journal();
            let events = views::trainee_events(j, since, &name, &tr.ex, 500);
            let score = tr.score(r, staff);
            (views::points(r), events, score, views::supply(j), r.time().0 as f64 / 1e6, r.is_finished())
        });
        let (points, events, score, supply, t, finished) = snap;
        let changed: Vec<Value> = points
            .iter()
            .filter(|p| shown.contains(&p.ca) && sent.get(&(p.ca, p.ioa)) != Some(&(p.value, p.quality)))
            .map(views::point_json)
            .collect();
        for p in points.iter().filter(|p| shown.contains(&p.ca)) {
            sent.insert((p.ca, p.ioa), (p.value, p.quality));
        }
        let states = crate::displays::summary(&tr.plant, &crate::displays::values(&points));
        let states_changed: Vec<Value> = states
            .iter()
            .enumerate()
            .filter(|(k, s)| sent_states[*k].as_ref() != Some(*s))
            .map(|(k, s)| s.json(k))
            .collect();
        for (k, s) in states.into_iter().enumerate() {
            sent_states[k] = Some(s);
        }
        let freq = views::hmi_frequency(&points);
        let dark = !points.is_empty() && points.iter().all(|p| p.stale());
        let (paused, changed_ms, speed) = {
            let s = tr.handle.state();
            let s = s.borrow();
            let speed = match s.pace {
                netio::driver::Pace::Times(f) => Some(f),
                netio::driver::Pace::Max => None,
            };
            (s.paused, s.changed_at_ms, speed)
        };
        // Where the run stands, for every page's banner.
        let state = json!({
            "state": if finished { "ended" } else if paused { "paused" } else { "running" },
            "speed": speed,
        });
        let mut msg = serde_json::Map::new();
        msg.insert("t".into(), json!(t));
        msg.insert("changed_ms".into(), json!(changed_ms));
        if !changed.is_empty() {
            msg.insert("points".into(), json!(changed));
        }
        if !states_changed.is_empty() {
            msg.insert("stations".into(), json!(states_changed));
        }
        if first || freq != last_freq {
            msg.insert("frequency_hz".into(), json!(freq));
            last_freq = freq;
        }
        if last_dark != Some(dark) {
            msg.insert("dark".into(), json!(dark));
            last_dark = Some(dark);
        }
        if let Some(last) = events.last() {
            since = Some(last.seq);
            msg.insert("events".into(), json!(events));
        }
        if score != last_score {
            msg.insert("score".into(), score.clone());
            last_score = score;
        }
        if supply != last_supply {
            msg.insert("supply".into(), json!(supply));
            last_supply = supply;
        }
        if last_paused != Some(paused) {
            msg.insert("paused".into(), json!(paused));
            last_paused = Some(paused);
        }
        if finished {
            msg.insert("ended".into(), json!(true));
        }
        if last_state != state {
            msg.insert("run".into(), state.clone());
            last_state = state;
        }
        let newest = app.broadcasts.lock().unwrap_or_else(|p| p.into_inner()).get(&tr.team.run).copied();
        if first || newest.is_some_and(|n| n > said) {
            first = false;
            if let Ok(m) = app.store.messages(&tr.team.run, said).await {
                if let Some(last) = m.last() {
                    said = last.seq;
                    msg.insert(
                        "messages".into(),
                        json!(
                            m.iter()
                                .map(|m| {
                                    let from = if staff { m.author.as_str() } else { EXERCISE_CONTROL };
                                    json!({"seq": m.seq, "from": from, "text": m.body})
                                })
                                .collect::<Vec<_>>()
                        ),
                    );
                }
            }
        }
        // The clock moves every second on every page, whatever else changed.
        let moved = t != last_t;
        last_t = t;
        if (msg.len() > 2 || moved)
            && socket.send(Message::Text(Value::Object(msg).to_string().into())).await.is_err()
        {
            return;
        }
    }
}

pub(super) async fn run_live(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    run_of(&app, &id).await?;
    let session = c.token_hash.clone();
    Ok(ws.on_upgrade(move |socket| scoreboard_loop(socket, app, id, session)))
}

/// The instructors' scoreboard: a row per team when its score, time or status changed.
pub(super) async fn scoreboard_loop(mut socket: WebSocket, app: App, run: String, session: String) {
    let mut sent: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checked = tokio::time::Instant::now();
    let mut last_head = Value::Null;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => continue,
            },
        }
        if checked.elapsed() >= Duration::from_secs(30) {
            checked = tokio::time::Instant::now();
            if !matches!(app.store.session(&session, crate::now_s()).await, Ok(Some(_))) {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
        let Ok(teams) = app.store.teams(&run).await else { continue };
        let status = app.store.run(&run).await.ok().flatten().map(|r| r.status.as_str()).unwrap_or_default();
        let mut rows = Vec::new();
        // The pace the run goes at (its teams' drivers share it).
        let speed = teams.iter().find_map(|t| app.ranges.get(&t.id)).map(|tr| {
            match tr.handle.state().borrow().pace {
                netio::driver::Pace::Times(f) => json!(f),
                netio::driver::Pace::Max => json!("max"),
            }
        });
        let head = json!({"status": status, "speed": speed});
        for t in teams {
            let (score, t_s) = app
                .ranges
                .get(&t.id)
                .map(|tr| tr.read(|r| (tr.score(r, true), (r.time().0 / 1_000_000) as f64)))
                .unwrap_or((Value::Null, 0.0));
            let row = json!({"team": t.id, "name": t.name, "t": t_s, "score": score});
            if sent.get(&t.id) != Some(&row) {
                sent.insert(t.id.clone(), row.clone());
                rows.push(row);
            }
        }
        if !rows.is_empty() || last_head != head {
            last_head = head.clone();
            let msg = json!({"status": status, "speed": speed, "teams": rows});
            if socket.send(Message::Text(msg.to_string().into())).await.is_err() {
                return;
            }
        }
    }
}
