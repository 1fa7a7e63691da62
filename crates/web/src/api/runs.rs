//! Runs: creating them, their teams and accounts, the instructor's controls, the scoreboard.

use super::*;

pub(super) fn run_json(r: &store::Run) -> Value {
    json!({"id": r.id, "name": r.name, "exercise": r.exercise, "status": r.status.as_str(), "speed": r.speed, "seed": r.seed})
}

pub(super) async fn list_runs(State(app): State<App>, Extension(c): Extension<Caller>) -> Result<Json> {
    let runs = app.store.runs().await?;
    let parts: Vec<String> = app.store.parts(&c.user.id).await?.into_iter().map(|p| p.0).collect();
    let mut out = Vec::new();
    for r in runs.iter().filter(|r| c.user.admin || parts.contains(&r.id)) {
        // Trainees do not get the exercise and seed: with them a run can be replayed offline.
        let staff = c.user.admin || app.store.staff_role(&r.id, &c.user.id).await?.is_some();
        out.push(if staff {
            run_json(r)
        } else {
            json!({"id": r.id, "name": r.name, "status": r.status.as_str()})
        });
    }
    Ok(axum::Json(json!(out)))
}

#[derive(Deserialize)]
pub(super) struct NewRun {
    name: String,
    /// A built-in exercise's name.
    exercise: Option<String>,
    /// Or an uploaded exercise: its text, its file name, and its grid files.
    text: Option<String>,
    file_name: Option<String>,
    #[serde(default)]
    files: std::collections::BTreeMap<String, String>,
    seed: Option<u64>,
    speed: Option<f64>,
}

pub(super) fn check_name(s: &str, what: &str) -> Result<()> {
    if s.trim().is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!("{what}: 1 to 64 characters, no control characters")));
    }
    Ok(())
}

pub(super) async fn create_run(
    State(app): State<App>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewRun = body(&raw)?;
    check_name(&b.name, "name")?;
    let (name, text) = match (&b.exercise, &b.text) {
        (Some(n), None) => (
            n.clone(),
            exercise::catalogue::exercise(n)
                .ok_or_else(|| ApiError::BadRequest(format!("no built-in exercise `{n}`")))?
                .to_string(),
        ),
        (None, Some(t)) => (b.file_name.clone().unwrap_or_else(|| "upload.yaml".into()), t.clone()),
        _ => {
            return Err(ApiError::BadRequest(
                "give `exercise` (a built-in name) or `text` (an uploaded file)".into(),
            ));
        }
    };
    if text.len() > exercise::yaml::MAX_BYTES {
        return Err(ApiError::BadRequest(format!(
            "the exercise is larger than {} bytes",
            exercise::yaml::MAX_BYTES
        )));
    }
    let files = serde_json::to_string(&b.files).map_err(|_| ApiError::Internal)?;
    // Validated before anything is kept: the problems, each with its line and column.
    let (ex, bundle) = platform::load_exercise(&text, &files).map_err(ApiError::Invalid)?;
    exercise::build_grid(&bundle, &ex.grid).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // The exercise's own compression unless the instructor chose a pace.
    let speed = b.speed.unwrap_or(ex.time_compression);
    if !(0.1..=600.0).contains(&speed) {
        return Err(ApiError::BadRequest("speed: 0.1 to 600 times real time".into()));
    }
    let run = store::Run {
        id: auth::token(8),
        name: b.name.trim().to_string(),
        exercise: name,
        exercise_text: text,
        files,
        // Random unless the instructor fixes it: a known seed lets a run be replayed offline.
        seed: (b.seed.unwrap_or_else(random_seed) & (i64::MAX as u64)) as i64,
        speed,
        status: RunStatus::Draft,
        start_ms: netio_start_ms(),
        created_by: c.user.id.clone(),
        rules: store::Run::RULES,
    };
    // Checked and used at once (`starting`): concurrent requests cannot both pass.
    let _one = app.starting.lock().await;
    if !c.user.admin && app.store.open_runs_by(&c.user.id).await? >= app.quotas.runs_per_instructor {
        return Err(ApiError::Conflict(
            "you have as many runs open as you may (runs_per_instructor): end or delete one",
        ));
    }
    app.store.create_run(&run, crate::now_s()).await?;
    Ok((StatusCode::CREATED, axum::Json(run_json(&run))).into_response())
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    auth::fill(&mut b);
    u64::from_le_bytes(b)
}

pub(super) fn netio_start_ms() -> i64 {
    (crate::now_s() * 1000 - devices::recloser::DNP3_EPOCH_OFFSET_MS as i64).max(0)
}

pub(super) async fn run_of(app: &App, id: &str) -> Result<store::Run> {
    app.store.run(id).await?.ok_or(ApiError::NotFound)
}

pub(super) async fn run_detail(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json> {
    let run = run_of(&app, &id).await?;
    let mut teams = Vec::new();
    for t in app.store.teams(&id).await? {
        let members: Vec<Value> = app
            .store
            .members(&t.id)
            .await?
            .into_iter()
            .map(|(_, name, role)| json!({"name": name, "role": role.as_str()}))
            .collect();
        // What the team's live traffic has taken of its budget (instructors see a flood).
        let live = app.ranges.get(&t.id).map(|tr| json!(tr.budget.figures()));
        teams.push(json!({"id": t.id, "name": t.name, "base": t.base, "members": members, "live": live}));
    }
    let ex = platform::exercise(&app, &run).await?;
    let role = if c.user.admin {
        Some("admin")
    } else {
        app.store.staff_role(&id, &c.user.id).await?.map(StaffRole::as_str)
    };
    let mut v = run_json(&run);
    v["teams"] = json!(teams);
    v["role"] = json!(role);
    v["title"] = json!(ex.title);
    v["steps"] = json!(ex.attack.iter().map(|s| json!({"id": s.id, "name": s.name})).collect::<Vec<_>>());
    v["injects"] =
        json!(ex.injects.iter().map(|i| json!({"id": i.id, "subject": i.subject})).collect::<Vec<_>>());
    Ok(axum::Json(v))
}

#[derive(Deserialize)]
pub(super) struct NewTeam {
    name: String,
}

pub(super) async fn create_team(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewTeam = body(&raw)?;
    check_name(&b.name, "name")?;
    // One at a time with starts, deletions and a run's end: the run's status read here holds
    // until the team is made (and its range started, when the run has begun).
    let _one = app.starting.lock().await;
    let run = run_of(&app, &id).await?;
    if run.status == RunStatus::Ended {
        return Err(ApiError::Conflict("the run has ended"));
    }
    let team = platform::new_team(&app, &run, b.name.trim()).await?;
    if run.status != RunStatus::Draft {
        // Joins a run that has begun: its range starts now, paused like the others were.
        let tr = platform::start_team(&app, &run, &team, &[], false).await.map_err(|e| {
            tracing::error!(error = %e, "team range");
            ApiError::Internal
        })?;
        if run.status == RunStatus::Running {
            tr.act(instructor("platform"), Action::Resume).await?;
        }
    }
    Ok((StatusCode::CREATED, axum::Json(json!({"id": team.id, "name": team.name, "base": team.base})))
        .into_response())
}

pub(super) fn instructor(name: &str) -> Actor {
    Actor::Instructor { name: name.to_string() }
}

#[derive(Deserialize)]
pub(super) struct NewAccount {
    name: String,
    /// trainee, observer or instructor.
    role: String,
    /// The team (id), for a trainee.
    team: Option<String>,
    /// operator, analyst or lead (default lead).
    team_role: Option<String>,
    /// An organisation's name (created with `country` if new).
    org: Option<String>,
    country: Option<String>,
}

pub(super) async fn create_account(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewAccount = body(&raw)?;
    check_name(&b.name, "name")?;
    run_of(&app, &id).await?;
    let role: RunRole =
        b.role.parse().map_err(|_| ApiError::BadRequest("role: trainee, observer or instructor".into()))?;
    // An instructor is course staff (creates runs): only an administrator makes one.
    if role == RunRole::Instructor && !c.user.admin {
        return Err(ApiError::Forbidden("only an administrator creates instructors"));
    }
    let team = match (role.staff(), &b.team) {
        (None, Some(t)) => {
            let team = app
                .store
                .team(t)
                .await?
                .filter(|t| t.run == id)
                .ok_or(ApiError::BadRequest("no such team in this run".into()))?;
            Some(team)
        }
        (None, None) => return Err(ApiError::BadRequest("a trainee needs `team`".into())),
        (Some(_), _) => None,
    };
    let team_role: TeamRole = match &b.team_role {
        Some(r) => {
            r.parse().map_err(|_| ApiError::BadRequest("team_role: operator, analyst or lead".into()))?
        }
        None => TeamRole::Lead,
    };
    // A taken name is refused before anything is made (no organisation left behind).
    if app.store.user_by_name(b.name.trim()).await?.is_some() {
        return Err(ApiError::Conflict("already exists"));
    }
    let org = match &b.org {
        Some(name) => {
            check_name(name, "org")?;
            match app.store.org_by_name(name).await? {
                Some(o) => Some(o.id),
                None => {
                    let country = country(b.country.as_deref().unwrap_or_default())?;
                    let o = store::Org {
                        id: auth::token(8),
                        name: name.clone(),
                        country,
                        kind: OrgKind::Participant,
                    };
                    app.store.create_org(&o).await?;
                    Some(o.id)
                }
            }
        }
        None => None,
    };
    let password = auth::new_password();
    let user = store::User {
        id: auth::token(8),
        name: b.name.trim().to_string(),
        org,
        hash: auth::hash_blocking(password.clone()).await,
        admin: false,
        staff: role == RunRole::Instructor,
        disabled: false,
    };
    app.store.create_user(&user, crate::now_s()).await?;
    match (team, role.staff()) {
        (Some(t), _) => app.store.add_member(&id, &t.id, &user.id, team_role).await?,
        (None, Some(staff)) => app.store.add_staff(&id, &user.id, staff).await?,
        (None, None) => return Err(ApiError::BadRequest("a trainee needs `team`".into())),
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"name": user.name, "password": password, "role": role.as_str()})),
    )
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct Control {
    /// start, pause, resume, speed, fire_inject, skip_step, trigger_step.
    op: String,
    factor: Option<f64>,
    /// The inject or step.
    id: Option<String>,
    /// One team (id) only; default every team.
    team: Option<String>,
}

pub(super) async fn control(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Json> {
    let b: Control = body(&raw)?;
    // A start holds `starting` until every range runs (no team added or deleted meanwhile).
    let _starting = if b.op == "start" { Some(app.starting.lock().await) } else { None };
    let run = run_of(&app, &id).await?;
    let teams = app.store.teams(&id).await?;
    let who = instructor(&c.user.name);
    let need_id = || b.id.clone().ok_or_else(|| ApiError::BadRequest("`id` names the inject or step".into()));
    let (action, status, speed) = match b.op.as_str() {
        "start" => {
            platform::start_run(&app, &id).await?;
            (Action::Resume, RunStatus::Running, run.speed)
        }
        "pause" => (Action::Pause, RunStatus::Paused, run.speed),
        "resume" => (Action::Resume, RunStatus::Running, run.speed),
        "speed" => {
            let f = b
                .factor
                .filter(|f| (0.1..=600.0).contains(f))
                .ok_or(ApiError::BadRequest("factor: 0.1 to 600".into()))?;
            (Action::Speed { factor: Some(f) }, run.status, f)
        }
        "fire_inject" => (Action::FireInject { inject: need_id()? }, run.status, run.speed),
        "skip_step" => (Action::SkipStep { step: need_id()? }, run.status, run.speed),
        "trigger_step" => (Action::TriggerStep { step: need_id()? }, run.status, run.speed),
        _ => {
            return Err(ApiError::BadRequest(
                "op: start, pause, resume, speed, fire_inject, skip_step, trigger_step".into(),
            ));
        }
    };
    if run.status == RunStatus::Draft && b.op != "start" {
        return Err(ApiError::Conflict("start the run first"));
    }
    let chosen: Vec<&store::Team> =
        teams.iter().filter(|t| b.team.as_ref().is_none_or(|only| only == &t.id)).collect();
    if chosen.is_empty() {
        return Err(ApiError::BadRequest("no such team in this run".into()));
    }
    // Every range first: a control applies to all the teams it names or to none.
    let mut ranges = Vec::new();
    for t in &chosen {
        ranges.push((t, app.ranges.get(&t.id).ok_or(ApiError::Conflict("a team's range is not running"))?));
    }
    if b.team.is_some() && matches!(b.op.as_str(), "pause" | "resume" | "speed") {
        return Err(ApiError::BadRequest("pause, resume and speed apply to the whole run".into()));
    }
    let mut outcomes = Vec::new();
    for (t, tr) in ranges {
        let o = tr.act(who.clone(), action.clone()).await?;
        outcomes.push(json!({"team": t.id, "outcome": journal_format::outcome(&o)}));
    }
    app.store.set_run_status(&id, status, speed).await?;
    Ok(axum::Json(json!({"status": status.as_str(), "speed": speed, "teams": outcomes})))
}

pub(super) async fn scoreboard(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let run = run_of(&app, &id).await?;
    let mut rows = Vec::new();
    for t in app.store.teams(&id).await? {
        let score = app.ranges.get(&t.id).map(|tr| tr.read(|r| (tr.score(r, true), r.time().0 as f64 / 1e6)));
        let (score, t_s) = score.unwrap_or((Value::Null, 0.0));
        rows.push(json!({"team": t.id, "name": t.name, "t": t_s, "score": score}));
    }
    Ok(axum::Json(json!({"run": run_json(&run), "teams": rows})))
}

/// Deletes a draft run (its teams, their blocks and accounts' parts in it).
pub(super) async fn delete_run(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    platform::delete_run(&app, &id).await?;
    Ok(axum::Json(json!({"deleted": id})))
}

/// Deletes a team of a draft run (its block is free again).
pub(super) async fn delete_team(
    State(app): State<App>,
    Path((run, team)): Path<(String, String)>,
) -> Result<Json> {
    let t = app.store.team(&team).await?.filter(|t| t.run == run).ok_or(ApiError::NotFound)?;
    platform::delete_team(&app, &t).await?;
    Ok(axum::Json(json!({"deleted": team})))
}

/// Every address block held, by whom (the platform's administrator).
pub(super) async fn list_blocks(State(app): State<App>) -> Result<Json> {
    let v: Vec<Value> = app
        .store
        .blocks()
        .await?
        .into_iter()
        .map(|b| {
            let listening = app.ranges.get(&b.team).is_some_and(|tr| !tr.has_ended());
            json!({"block": b.base, "team": b.team, "team_name": b.team_name, "run": b.run,
                   "run_name": b.run_name, "status": b.status.as_str(), "range": listening})
        })
        .collect();
    let first = app.first_block;
    Ok(axum::Json(json!({"blocks": v, "free": (first..=250).count().saturating_sub(v.len())})))
}
