//! The route table and the JSON API's handlers.
//!
//! `routes()` is the only place a route is declared: method, path, `Access`, a summary and
//! the handler. The router (`router`), the OpenAPI document (`openapi`) and the authorisation
//! test are built from it, so a route cannot exist without its access rule.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use range::journal::{Action, Actor, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{self, Access, Caller};
use crate::platform::{self, TeamRange};
use crate::{ApiError, App, views};

type Json = axum::Json<Value>;
type Result<T> = std::result::Result<T, ApiError>;

/// A declared route.
#[derive(Debug, Clone)]
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// A WebSocket (GET with an upgrade).
    pub websocket: bool,
}

fn def(method: Method, path: &'static str, access: Access, summary: &'static str) -> RouteDef {
    RouteDef { method, path, access, summary, websocket: false }
}

/// Every route of the server.
pub fn routes() -> Vec<(RouteDef, MethodRouter<App>)> {
    use Access::*;
    let (g, p) = (Method::GET, Method::POST);
    vec![
        (def(g.clone(), "/", Public, "The sign-in page"), get(crate::pages::login)),
        (def(g.clone(), "/home", User, "The signed-in user's runs and teams"), get(crate::pages::home)),
        (def(g.clone(), "/runs/{run}", RunRead, "The instructor console of a run"), get(crate::pages::run)),
        (
            def(
                g.clone(),
                "/teams/{team}",
                TeamRead,
                "A team's control room: HMI, detection, response, questions",
            ),
            get(crate::pages::team),
        ),
        (def(g.clone(), "/assets/{file}", Public, "The pages' JavaScript and CSS"), get(crate::pages::asset)),
        (def(g.clone(), "/api/openapi.json", Public, "This API's OpenAPI document"), get(openapi_handler)),
        (
            def(p.clone(), "/api/login", Public, "Sign in: sets the session cookie, returns the CSRF token"),
            post(login),
        ),
        (def(p.clone(), "/api/logout", User, "Sign out"), post(logout)),
        (
            RouteDef {
                websocket: true,
                ..def(
                    g.clone(),
                    "/api/runs/{run}/live",
                    RunRead,
                    "The live scoreboard: each team's score when it changes, at most once a second",
                )
            },
            get(run_live),
        ),
        (
            def(
                g.clone(),
                "/api/orgs",
                Staff,
                "Organisations: co-hosts and participants, with their country",
            ),
            get(list_orgs),
        ),
        (
            def(
                p.clone(),
                "/api/orgs",
                Admin,
                "Add an organisation (kind: host or participant; country: ISO 3166 alpha-2)",
            ),
            post(create_org),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/frames",
                TeamRead,
                "Decoded frames of the team's capture; filters: proto, addr, ioa, register, text; paging: since, limit",
            ),
            get(frames),
        ),
        (
            def(
                p.clone(),
                "/api/runs/{run}/invites",
                RunWrite,
                "A one-time invitation link (trainee of a team, observer or instructor), valid 7 days",
            ),
            post(create_invite),
        ),
        (
            def(
                p.clone(),
                "/api/invites/{token}",
                Public,
                "Accept an invitation: choose a name and a password (12 characters at least)",
            ),
            post(accept_invite),
        ),
        (def(g.clone(), "/invite/{token}", Public, "The page of an invitation"), get(crate::pages::invite)),
        (
            def(
                p.clone(),
                "/api/runs/{run}/broadcast",
                RunWrite,
                "Broadcast a message to every team of the run",
            ),
            post(broadcast),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/messages",
                TeamRead,
                "The run's broadcast messages after `since`",
            ),
            get(messages),
        ),
        (
            def(
                p.clone(),
                "/api/teams/{team}/reports/{report}/grade",
                TeamInstructor,
                "Grade an incident report against the rubric (0-5 per field: time, asset, technique, impact, action)",
            ),
            post(grade_report),
        ),
        (
            def(
                g.clone(),
                "/api/me",
                User,
                "The signed-in user, their CSRF token and their part in each run",
            ),
            get(me),
        ),
        (def(g.clone(), "/api/exercises", User, "The built-in exercises"), get(exercises)),
        (
            def(
                g.clone(),
                "/api/runs",
                User,
                "The runs the user has a part in (every run for an administrator)",
            ),
            get(list_runs),
        ),
        (
            def(p.clone(), "/api/runs", Staff, "Create a run from a built-in or uploaded exercise"),
            post(create_run),
        ),
        (
            def(g.clone(), "/api/runs/{run}", RunRead, "A run: status, teams, steps and injects"),
            get(run_detail),
        ),
        (
            def(p.clone(), "/api/runs/{run}/teams", RunWrite, "Add a team (its range starts with the run)"),
            post(create_team),
        ),
        (
            def(
                p.clone(),
                "/api/runs/{run}/accounts",
                RunWrite,
                "Create an account (trainee of a team, observer or instructor) with a generated password",
            ),
            post(create_account),
        ),
        (
            def(
                p.clone(),
                "/api/runs/{run}/control",
                RunWrite,
                "Start, pause, resume, change speed; fire an inject; skip or trigger a step",
            ),
            post(control),
        ),
        (
            def(g.clone(), "/api/runs/{run}/scoreboard", RunRead, "Every team's score with its components"),
            get(scoreboard),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}",
                TeamRead,
                "A team: run status, time, score, questions, supply",
            ),
            get(team_detail),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/hmi",
                TeamRead,
                "The SCADA master's point database as the HMI shows it",
            ),
            get(hmi),
        ),
        (
            def(g.clone(), "/api/teams/{team}/diagram.svg", TeamRead, "The team grid's one-line diagram"),
            get(diagram),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/events",
                TeamRead,
                "Evidence events after `since` (alerts, logs, injects, HMI records, actions)",
            ),
            get(events),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/capture.pcap",
                TeamRead,
                "The team's capture so far, for Wireshark",
            ),
            get(capture),
        ),
        (
            def(
                p.clone(),
                "/api/teams/{team}/actions",
                TeamWrite,
                "A team action: operate, crew, block, accounts, firmware, UPS, LOCAL, acknowledge, hint, answer",
            ),
            post(team_action),
        ),
        (
            def(g.clone(), "/api/teams/{team}/reports", TeamRead, "The team's incident reports"),
            get(list_reports),
        ),
        (
            def(p.clone(), "/api/teams/{team}/reports", TeamWrite, "File an incident report"),
            post(create_report),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/journal",
                TeamStaff,
                "The team's whole journal (instructors and observers)",
            ),
            get(journal),
        ),
        (
            RouteDef {
                websocket: true,
                ..def(
                    g,
                    "/api/teams/{team}/live",
                    TeamRead,
                    "Live deltas, at most one a second, resumable with `since`",
                )
            },
            get(live),
        ),
    ]
}

/// The router: every route behind its access check, security headers on every answer, a
/// body limit.
pub fn router(app: App) -> Router {
    let mut r: Router<App> = Router::new();
    for (d, mr) in routes() {
        let mr = mr.layer(middleware::from_fn_with_state((app.clone(), d.access, d.path), auth::check));
        r = r.route(d.path, mr);
    }
    r.fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(security_headers))
        // An exercise with its grid files fits; nothing else comes near.
        .layer(DefaultBodyLimit::max(8 << 20))
        .with_state(app)
}

async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    if api {
        set(h, "cache-control", "no-store");
    }
    r
}

fn body<T: serde::de::DeserializeOwned>(bytes: &axum::body::Bytes) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("bad request body: {e}")))
}

// ---- session

#[derive(Deserialize)]
struct Login {
    name: String,
    password: String,
}

async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: Login = body(&raw)?;
    if b.name.len() > 64 || b.password.len() > 1024 {
        return Err(ApiError::Unauthorised);
    }
    let window = Duration::from_secs(300);
    let (by_ip, by_name) = (format!("login-ip:{}", peer.ip()), format!("login-name:{}", b.name));
    // Every attempt counts before the (costly) verification: parallel guesses cannot slip
    // past the limit.
    if !app.limiter.allow(&by_ip, 30, window) || !app.limiter.allow(&by_name, 10, window) {
        return Err(ApiError::TooMany);
    }
    let user = app.store.user_by_name(&b.name).await?;
    // Verify against some hash even for an unknown name, so timing does not tell names.
    let phc = match &user {
        Some(u) if !u.disabled => u.hash.clone(),
        _ => DUMMY_HASH.to_string(),
    };
    let ok = auth::verify_blocking(b.password, phc).await && user.as_ref().is_some_and(|u| !u.disabled);
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::Unauthorised);
    };
    let token = auth::token(32);
    let csrf = auth::token(32);
    app.store
        .create_session(&auth::token_hash(&token), &user.id, &csrf, crate::now_s() + auth::SESSION_SECS)
        .await?;
    let mut r =
        axum::Json(json!({"name": user.name, "admin": user.admin, "staff": user.staff, "csrf": csrf}))
            .into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::session_cookie(&token, app.secure_cookies))
            .map_err(|_| ApiError::Internal)?,
    );
    Ok(r)
}

/// An argon2id hash of a random password nobody knows (for unknown user names).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1Zm7yJ6d3aGkP0l0oX3mKjz6Xr8u1Qm0v2oVq4Vh8cU";

async fn logout(State(app): State<App>, Extension(c): Extension<Caller>) -> Result<Response> {
    app.store.delete_session(&c.token_hash).await?;
    let mut r = axum::Json(json!({"ok": true})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::clear_cookie(app.secure_cookies)).map_err(|_| ApiError::Internal)?,
    );
    Ok(r)
}

async fn me(State(app): State<App>, Extension(c): Extension<Caller>) -> Result<Json> {
    let mut parts = Vec::new();
    for (run, role, team) in app.store.parts(&c.user.id).await? {
        let run_name = app.store.run(&run).await?.map(|r| r.name).unwrap_or_default();
        let team_name = match &team {
            Some(t) => app.store.team(t).await?.map(|t| t.name),
            None => None,
        };
        parts.push(
            json!({"run": run, "run_name": run_name, "role": role, "team": team, "team_name": team_name}),
        );
    }
    Ok(axum::Json(json!({
        "name": c.user.name, "admin": c.user.admin, "staff": c.user.staff, "csrf": c.csrf, "parts": parts,
    })))
}

async fn exercises() -> Json {
    let list: Vec<Value> = exercise::catalogue::EXERCISES
        .iter()
        .filter_map(|(name, text)| {
            let ex = exercise::load(text, &exercise::catalogue::Builtin).ok()?;
            Some(json!({"name": name, "id": ex.id, "title": ex.title, "summary": ex.summary, "duration_s": ex.duration.0 / 1_000_000}))
        })
        .collect();
    axum::Json(json!(list))
}

// ---- runs

fn run_json(r: &store::Run) -> Value {
    json!({"id": r.id, "name": r.name, "exercise": r.exercise, "status": r.status, "speed": r.speed, "seed": r.seed})
}

async fn list_runs(State(app): State<App>, Extension(c): Extension<Caller>) -> Result<Json> {
    let runs = app.store.runs().await?;
    let parts: Vec<String> = app.store.parts(&c.user.id).await?.into_iter().map(|p| p.0).collect();
    let mut out = Vec::new();
    for r in runs.iter().filter(|r| c.user.admin || parts.contains(&r.id)) {
        // Trainees do not get the exercise and seed: with them a run can be replayed offline.
        let staff = c.user.admin || app.store.staff_role(&r.id, &c.user.id).await?.is_some();
        out.push(if staff { run_json(r) } else { json!({"id": r.id, "name": r.name, "status": r.status}) });
    }
    Ok(axum::Json(json!(out)))
}

#[derive(Deserialize)]
struct NewRun {
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

fn check_name(s: &str, what: &str) -> Result<()> {
    if s.trim().is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!("{what}: 1 to 64 characters, no control characters")));
    }
    Ok(())
}

async fn create_run(
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
    exercise::build_grid(&bundle, &ex.grid).map_err(ApiError::BadRequest)?;
    let speed = b.speed.unwrap_or(1.0);
    if !(0.1..=600.0).contains(&speed) {
        return Err(ApiError::BadRequest("speed: 0.1 to 600 times real time".into()));
    }
    let run = store::Run {
        id: auth::token(8),
        name: b.name.trim().to_string(),
        exercise: name,
        exercise_text: text,
        files,
        seed: (b.seed.unwrap_or(1) & (i64::MAX as u64)) as i64,
        speed,
        status: "draft".into(),
        start_ms: netio_start_ms(),
        created_by: c.user.id.clone(),
    };
    app.store.create_run(&run, crate::now_s()).await?;
    Ok((StatusCode::CREATED, axum::Json(run_json(&run))).into_response())
}

fn netio_start_ms() -> i64 {
    (crate::now_s() * 1000 - devices::recloser::DNP3_EPOCH_OFFSET_MS as i64).max(0)
}

async fn run_of(app: &App, id: &str) -> Result<store::Run> {
    app.store.run(id).await?.ok_or(ApiError::NotFound)
}

async fn run_detail(
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
            .map(|(_, name, role)| json!({"name": name, "role": role}))
            .collect();
        teams.push(json!({"id": t.id, "name": t.name, "base": t.base, "members": members}));
    }
    let (ex, _) = platform::load_exercise(&run.exercise_text, &run.files).map_err(|_| ApiError::Internal)?;
    let role =
        if c.user.admin { Some("admin".to_string()) } else { app.store.staff_role(&id, &c.user.id).await? };
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
struct NewTeam {
    name: String,
}

async fn create_team(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewTeam = body(&raw)?;
    check_name(&b.name, "name")?;
    let run = run_of(&app, &id).await?;
    if run.status == "ended" {
        return Err(ApiError::Conflict("the run has ended"));
    }
    let base = platform::free_base(&app).await?;
    let team = store::Team {
        id: auth::token(8),
        run: id.clone(),
        name: b.name.trim().to_string(),
        base: base.to_string(),
    };
    app.store.create_team(&team).await?;
    if run.status != "draft" {
        // Joins a run that has begun: its range starts now, paused like the others were.
        let tr = platform::start_team(&app, &run, &team, &[], false).await.map_err(|e| {
            tracing::error!(error = %e, "team range");
            ApiError::Internal
        })?;
        if run.status == "running" {
            tr.act(instructor("platform"), Action::Resume).await?;
        }
    }
    Ok((StatusCode::CREATED, axum::Json(json!({"id": team.id, "name": team.name, "base": team.base})))
        .into_response())
}

fn instructor(name: &str) -> Actor {
    Actor::Instructor { name: name.to_string() }
}

#[derive(Deserialize)]
struct NewAccount {
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

async fn create_account(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewAccount = body(&raw)?;
    check_name(&b.name, "name")?;
    run_of(&app, &id).await?;
    let team = match (b.role.as_str(), &b.team) {
        ("trainee", Some(t)) => {
            let team = app
                .store
                .team(t)
                .await?
                .filter(|t| t.run == id)
                .ok_or(ApiError::BadRequest("no such team in this run".into()))?;
            Some(team)
        }
        ("trainee", None) => return Err(ApiError::BadRequest("a trainee needs `team`".into())),
        ("observer" | "instructor", _) => None,
        _ => return Err(ApiError::BadRequest("role: trainee, observer or instructor".into())),
    };
    let team_role = b.team_role.clone().unwrap_or_else(|| "lead".into());
    if Role::parse(&team_role).is_none() {
        return Err(ApiError::BadRequest("team_role: operator, analyst or lead".into()));
    }
    let org = match &b.org {
        Some(name) => {
            check_name(name, "org")?;
            match app.store.org_by_name(name).await? {
                Some(o) => Some(o.id),
                None => {
                    let o = store::Org {
                        id: auth::token(8),
                        name: name.clone(),
                        country: b.country.clone().unwrap_or_default(),
                        kind: "participant".into(),
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
        staff: b.role == "instructor",
        disabled: false,
    };
    app.store.create_user(&user, crate::now_s()).await?;
    match team {
        Some(t) => app.store.add_member(&id, &t.id, &user.id, &team_role).await?,
        None => app.store.add_staff(&id, &user.id, &b.role).await?,
    }
    Ok((StatusCode::CREATED, axum::Json(json!({"name": user.name, "password": password, "role": b.role})))
        .into_response())
}

#[derive(Deserialize)]
struct Control {
    /// start, pause, resume, speed, fire_inject, skip_step, trigger_step.
    op: String,
    factor: Option<f64>,
    /// The inject or step.
    id: Option<String>,
    /// One team (id) only; default every team.
    team: Option<String>,
}

async fn control(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Json> {
    let b: Control = body(&raw)?;
    let run = run_of(&app, &id).await?;
    let teams = app.store.teams(&id).await?;
    let who = instructor(&c.user.name);
    let need_id = || b.id.clone().ok_or_else(|| ApiError::BadRequest("`id` names the inject or step".into()));
    let (action, status, speed) = match b.op.as_str() {
        "start" => {
            if run.status != "draft" {
                return Err(ApiError::Conflict("the run has already started"));
            }
            if teams.is_empty() {
                return Err(ApiError::Conflict("add a team first"));
            }
            for t in &teams {
                platform::start_team(&app, &run, t, &[], false).await.map_err(|e| {
                    tracing::error!(error = %e, "team range");
                    ApiError::Internal
                })?;
            }
            (Action::Resume, "running", run.speed)
        }
        "pause" => (Action::Pause, "paused", run.speed),
        "resume" => (Action::Resume, "running", run.speed),
        "speed" => {
            let f = b
                .factor
                .filter(|f| (0.1..=600.0).contains(f))
                .ok_or(ApiError::BadRequest("factor: 0.1 to 600".into()))?;
            (Action::Speed { factor: Some(f) }, run.status.as_str(), f)
        }
        "fire_inject" => (Action::FireInject { inject: need_id()? }, run.status.as_str(), run.speed),
        "skip_step" => (Action::SkipStep { step: need_id()? }, run.status.as_str(), run.speed),
        "trigger_step" => (Action::TriggerStep { step: need_id()? }, run.status.as_str(), run.speed),
        _ => {
            return Err(ApiError::BadRequest(
                "op: start, pause, resume, speed, fire_inject, skip_step, trigger_step".into(),
            ));
        }
    };
    if run.status == "draft" && b.op != "start" {
        return Err(ApiError::Conflict("start the run first"));
    }
    let status = status.to_string();
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
        outcomes.push(json!({"team": t.id, "outcome": netio::json::outcome(&o)}));
    }
    app.store.set_run_status(&id, &status, speed).await?;
    Ok(axum::Json(json!({"status": status, "speed": speed, "teams": outcomes})))
}

async fn scoreboard(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let run = run_of(&app, &id).await?;
    let mut rows = Vec::new();
    for t in app.store.teams(&id).await? {
        let score =
            app.ranges.get(&t.id).and_then(|tr| tr.read(|r| (tr.score(r, true), r.time().0 as f64 / 1e6)));
        let (score, t_s) = score.unwrap_or((Value::Null, 0.0));
        rows.push(json!({"team": t.id, "name": t.name, "t": t_s, "score": score}));
    }
    Ok(axum::Json(json!({"run": run_json(&run), "teams": rows})))
}

// ---- teams

async fn team_range(app: &App, id: &str) -> Result<std::sync::Arc<TeamRange>> {
    app.ranges.get(id).ok_or(ApiError::Conflict("the run has not started"))
}

/// Whether the caller sees a team as an instructor (the journal's truth) or as a trainee.
async fn is_staff(app: &App, c: &Caller, team: &store::Team) -> Result<bool> {
    Ok(c.user.admin || app.store.staff_role(&team.run, &c.user.id).await?.is_some())
}

async fn team_detail(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json> {
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let run = run_of(&app, &team.run).await?;
    let staff = is_staff(&app, &c, &team).await?;
    let role = app.store.membership(&team.run, &c.user.id).await?.map(|m| m.1);
    let (ex, _) = platform::load_exercise(&run.exercise_text, &run.files).map_err(|_| ApiError::Internal)?;
    let mut v = json!({
        "id": team.id, "name": team.name, "run": {"id": run.id, "name": run.name, "status": run.status},
        "title": ex.title, "summary": ex.summary, "role": role, "staff": staff,
        "duration_s": ex.duration.0 / 1_000_000,
    });
    if let Some(tr) = app.ranges.get(&id) {
        let name = team.name.clone();
        if let Some((score, questions, supply, t)) = tr.read(|r| {
            let j = r.journal();
            let score = tr.score(r, staff);
            (score, views::questions(&tr.ex, j, &name), views::supply(j), r.time().0 as f64 / 1e6)
        }) {
            v["score"] = score;
            v["questions"] = questions;
            v["supply"] = supply;
            v["t"] = json!(t);
        }
        v["paused"] = json!(tr.handle.state().borrow().paused);
    } else {
        v["questions"] = views::questions(&ex, &[], &team.name);
    }
    Ok(axum::Json(v))
}

async fn hmi(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    let (points, supply, t) = tr
        .read(|r| (views::points(r), views::supply(r.journal()), r.time().0 as f64 / 1e6))
        .ok_or(ApiError::Conflict("the run has ended"))?;
    Ok(axum::Json(json!({
        "t": t, "frequency_hz": views::hmi_frequency(&points), "supply": supply,
        "points": points.iter().map(|p| json!([p.0, p.1, p.2, p.3])).collect::<Vec<_>>(),
        "paused": tr.handle.state().borrow().paused,
    })))
}

async fn diagram(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    let tr = team_range(&app, &id).await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], tr.diagram.svg.clone()).into_response())
}

/// `?since=N` (a journal index); anything else there is a 422, never a bare 400.
fn since_of(q: Option<String>) -> Result<Option<usize>> {
    let Some(q) = q else { return Ok(None) };
    for kv in q.split('&') {
        if let Some(v) = kv.strip_prefix("since=") {
            return v.parse().map(Some).map_err(|_| ApiError::BadRequest("since: a journal index".into()));
        }
    }
    Ok(None)
}

async fn events(State(app): State<App>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Json> {
    let since = since_of(q)?;
    let tr = team_range(&app, &id).await?;
    let name = tr.team.name.clone();
    let ev = tr
        .read(|r| views::trainee_events(r.journal(), since, &name, &tr.ex, 1000))
        .ok_or(ApiError::Conflict("the run has ended"))?;
    Ok(axum::Json(json!(ev)))
}

async fn journal(State(app): State<App>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Json> {
    let tr = team_range(&app, &id).await?;
    let from = since_of(q)?.map_or(0, |s| s.saturating_add(1));
    let v = tr
        .read(|r| {
            r.journal()
                .iter()
                .enumerate()
                .skip(from)
                .take(5000)
                .map(|(i, e)| views::instructor_entry(i, e))
                .collect::<Vec<_>>()
        })
        .ok_or(ApiError::Conflict("the run has ended"))?;
    Ok(axum::Json(json!(v)))
}

/// `a=b&c=d`, percent-decoded.
fn query_params(q: Option<String>) -> std::collections::HashMap<String, String> {
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

async fn frames(State(app): State<App>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Json> {
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

async fn capture(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    let tr = team_range(&app, &id).await?;
    let bytes = match tr.capture.snapshot() {
        Ok(b) => b,
        Err(_) => std::fs::read(&tr.capture_path).map_err(|_| ApiError::NotFound)?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.tcpdump.pcap".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.pcap\"",
                    tr.team.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                ),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn trainee_actor(app: &App, c: &Caller, team: &store::Team) -> Result<Actor> {
    let (_, role) = app.store.membership(&team.run, &c.user.id).await?.ok_or(ApiError::NotFound)?;
    Ok(Actor::User {
        team: team.name.clone(),
        user: c.user.name.clone(),
        role: Role::parse(&role).unwrap_or(Role::Operator),
    })
}

async fn team_action(
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
    let a: netio::json::ActionJson = body(&raw)?;
    use netio::json::ActionJson as A;
    if matches!(
        a,
        A::FireInject { .. }
            | A::SkipStep { .. }
            | A::TriggerStep { .. }
            | A::Pause
            | A::Resume
            | A::Speed { .. }
    ) {
        return Err(ApiError::Forbidden("an instructor's control"));
    }
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
    if let A::Answer { question, .. } = &a {
        // A question answered right is closed; otherwise three tries (fewer than the options
        // of a choice question less one), so answers cannot be found by trying them all.
        let q = tr.ex.questions.iter().find(|q| &q.id == question);
        let tries = match q.map(|q| &q.answer) {
            Some(exercise::Answer::Choice { options, .. }) => options.len().saturating_sub(1).clamp(1, 3),
            _ => 3,
        };
        let name = team.name.clone();
        let (right, given) = tr
            .read(|r| {
                let mut right = false;
                let mut given = 0;
                for e in r.journal() {
                    if let range::Entry::Act {
                        actor: Actor::User { team: t, .. },
                        action: Action::Defend(exercise::DefenderAction::AnswerQuestion { question: qq, .. }),
                        outcome: range::journal::Outcome::Verdict { correct },
                        ..
                    } = e
                    {
                        if t == &name && qq == question {
                            given += 1;
                            right |= *correct;
                        }
                    }
                }
                (right, given)
            })
            .unwrap_or((false, 0));
        if right {
            return Err(ApiError::Conflict("this question is already answered"));
        }
        if given >= tries {
            return Err(ApiError::Conflict("no tries left for this question"));
        }
    }
    let action = netio::json::action_from(a).map_err(ApiError::BadRequest)?;
    let actor = trainee_actor(&app, &c, &team).await?;
    let o = tr.act(actor, action).await?;
    Ok(axum::Json(json!(netio::json::outcome(&o))))
}

#[derive(Deserialize)]
struct NewReport {
    time: String,
    asset: String,
    technique: String,
    impact: String,
    action: String,
}

async fn create_report(
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
    Ok((StatusCode::CREATED, axum::Json(json!({"id": r.id, "outcome": netio::json::outcome(&o)})))
        .into_response())
}

async fn list_reports(State(app): State<App>, Path(id): Path<String>) -> Result<Json> {
    let v: Vec<Value> = app
        .store
        .reports(&id)
        .await?
        .into_iter()
        .map(|r| json!({"id": r.id, "report": serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null), "grade": r.grade, "created": r.created}))
        .collect();
    Ok(axum::Json(json!(v)))
}

// ---- organisations

async fn list_orgs(State(app): State<App>) -> Result<Json> {
    let v: Vec<Value> = app
        .store
        .orgs()
        .await?
        .into_iter()
        .map(|o| json!({"id": o.id, "name": o.name, "country": o.country, "kind": o.kind}))
        .collect();
    Ok(axum::Json(json!(v)))
}

#[derive(Deserialize)]
struct NewOrg {
    name: String,
    country: String,
    kind: String,
}

async fn create_org(State(app): State<App>, raw: axum::body::Bytes) -> Result<Response> {
    let b: NewOrg = body(&raw)?;
    check_name(&b.name, "name")?;
    if b.country.len() != 2 || !b.country.bytes().all(|c| c.is_ascii_uppercase()) {
        return Err(ApiError::BadRequest("country: an ISO 3166 alpha-2 code such as JP, UA or PH".into()));
    }
    if !matches!(b.kind.as_str(), "host" | "participant") {
        return Err(ApiError::BadRequest("kind: host or participant".into()));
    }
    let o =
        store::Org { id: auth::token(8), name: b.name.trim().to_string(), country: b.country, kind: b.kind };
    app.store.create_org(&o).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"id": o.id, "name": o.name, "country": o.country, "kind": o.kind})),
    )
        .into_response())
}

// ---- invitations, broadcasts, grades

#[derive(Deserialize)]
struct NewInvite {
    role: String,
    team: Option<String>,
    team_role: Option<String>,
}

async fn create_invite(
    State(app): State<App>,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewInvite = body(&raw)?;
    run_of(&app, &id).await?;
    let team = match (b.role.as_str(), &b.team) {
        ("trainee", Some(t)) => Some(
            app.store
                .team(t)
                .await?
                .filter(|t| t.run == id)
                .ok_or(ApiError::BadRequest("no such team in this run".into()))?
                .id,
        ),
        ("trainee", None) => return Err(ApiError::BadRequest("a trainee needs `team`".into())),
        ("observer" | "instructor", _) => None,
        _ => return Err(ApiError::BadRequest("role: trainee, observer or instructor".into())),
    };
    let team_role = b.team_role.unwrap_or_else(|| "lead".into());
    if Role::parse(&team_role).is_none() {
        return Err(ApiError::BadRequest("team_role: operator, analyst or lead".into()));
    }
    let token = auth::token(32);
    let expires = crate::now_s() + 7 * 24 * 3600;
    app.store
        .create_invite(
            &auth::token_hash(&token),
            &store::Invite { run: id, role: b.role, team, team_role, expires },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"url": format!("/invite/{token}"), "expires": expires})))
        .into_response())
}

#[derive(Deserialize)]
struct AcceptInvite {
    name: String,
    password: String,
    org: Option<String>,
    country: Option<String>,
}

async fn accept_invite(
    State(app): State<App>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    // Guessing tokens costs the same as guessing passwords.
    let key = format!("invite-ip:{}", peer.ip());
    if !app.limiter.allow(&key, 20, Duration::from_secs(300)) {
        return Err(ApiError::TooMany);
    }
    let b: AcceptInvite = body(&raw)?;
    check_name(&b.name, "name")?;
    if b.password.chars().count() < 12 || b.password.len() > 1024 {
        return Err(ApiError::BadRequest("password: 12 characters at least".into()));
    }
    let hash = auth::token_hash(&token);
    let pending = app.store.invite(&hash, crate::now_s()).await?.ok_or(ApiError::NotFound)?;
    // Only a valid invitation may add an organisation.
    let org = match b.org.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            check_name(name, "org")?;
            Some(match app.store.org_by_name(name).await? {
                Some(o) => o.id,
                None => {
                    let country = b.country.clone().unwrap_or_default();
                    if country.len() != 2 || !country.bytes().all(|c| c.is_ascii_uppercase()) {
                        return Err(ApiError::BadRequest(
                            "country: an ISO 3166 alpha-2 code such as JP".into(),
                        ));
                    }
                    let o = store::Org {
                        id: auth::token(8),
                        name: name.to_string(),
                        country,
                        kind: "participant".into(),
                    };
                    app.store.create_org(&o).await?;
                    o.id
                }
            })
        }
        None => None,
    };
    let user = store::User {
        id: auth::token(8),
        name: b.name.trim().to_string(),
        org,
        hash: auth::hash_blocking(b.password).await,
        admin: false,
        staff: pending.role == "instructor",
        disabled: false,
    };
    let inv = app.store.accept_invite(&hash, crate::now_s(), &user).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, axum::Json(json!({"name": user.name, "role": inv.role}))).into_response())
}

#[derive(Deserialize)]
struct Broadcast {
    text: String,
}

async fn broadcast(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: Broadcast = body(&raw)?;
    if b.text.trim().is_empty() || b.text.len() > 2000 {
        return Err(ApiError::BadRequest("text: 1 to 2000 characters".into()));
    }
    run_of(&app, &id).await?;
    let seq = app.store.add_message(&id, &c.user.name, b.text.trim(), crate::now_s()).await?;
    app.broadcasts.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), seq);
    Ok((StatusCode::CREATED, axum::Json(json!({"seq": seq}))).into_response())
}

async fn messages(State(app): State<App>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Json> {
    let since = since_of(q)?.unwrap_or(0) as i64;
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let m: Vec<Value> = app
        .store
        .messages(&team.run, since)
        .await?
        .into_iter()
        .map(|m| json!({"seq": m.seq, "from": m.author, "text": m.body, "at": m.created}))
        .collect();
    Ok(axum::Json(json!(m)))
}

/// The rubric an incident report is graded on: each field 0-5.
pub const RUBRIC: &[&str] = &["time", "asset", "technique", "impact", "action"];

async fn grade_report(
    State(app): State<App>,
    Path((team, report)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> Result<Json> {
    let b: serde_json::Map<String, Value> = body(&raw)?;
    let mut total = 0.0;
    for field in RUBRIC {
        let v = b.get(*field).and_then(Value::as_f64).filter(|v| (0.0..=5.0).contains(v));
        total += v.ok_or_else(|| ApiError::BadRequest(format!("{field}: a mark from 0 to 5")))?;
    }
    let grade = total / (5.0 * RUBRIC.len() as f64);
    if !app.store.grade_report(&team, &report, grade).await? {
        return Err(ApiError::NotFound);
    }
    Ok(axum::Json(json!({"grade": grade})))
}

// ---- live

async fn live(
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
    Ok(ws.on_upgrade(move |socket| live_loop(socket, app, tr, staff, since, session)))
}

/// One view's live updates: every second at most, what changed (points, new evidence, score,
/// supply, pause); the first message is a whole snapshot of the points.
async fn live_loop(
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
    let mut sent: std::collections::HashMap<(u16, u32), (f64, bool)> = std::collections::HashMap::new();
    let mut last_score = Value::Null;
    let mut last_supply = Value::Null;
    let mut last_paused = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let name = tr.team.name.clone();
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
        let snap = tr.read(|r| {
            let j = r.journal();
            let events = views::trainee_events(j, since, &name, &tr.ex, 500);
            let score = tr.score(r, staff);
            (views::points(r), events, score, views::supply(j), r.time().0 as f64 / 1e6, r.is_finished())
        });
        let Some((points, events, score, supply, t, finished)) = snap else {
            let _ = socket.send(Message::Text(json!({"ended": true}).to_string().into())).await;
            return;
        };
        let changed: Vec<Value> = points
            .iter()
            .filter(|p| sent.get(&(p.0, p.1)) != Some(&(p.2, p.3)))
            .map(|p| json!([p.0, p.1, p.2, p.3]))
            .collect();
        for p in &points {
            sent.insert((p.0, p.1), (p.2, p.3));
        }
        let (paused, changed_ms) = {
            let s = tr.handle.state();
            let s = s.borrow();
            (s.paused, s.changed_at_ms)
        };
        let mut msg = serde_json::Map::new();
        msg.insert("t".into(), json!(t));
        msg.insert("changed_ms".into(), json!(changed_ms));
        if !changed.is_empty() {
            msg.insert("points".into(), json!(changed));
            msg.insert("frequency_hz".into(), json!(views::hmi_frequency(&points)));
        }
        if let Some(last) = events.last() {
            since = last["seq"].as_u64().map(|s| s as usize);
            msg.insert("events".into(), json!(events));
        }
        if score != last_score {
            msg.insert("score".into(), score.clone());
            last_score = score;
        }
        if supply != last_supply {
            msg.insert("supply".into(), supply.clone());
            last_supply = supply;
        }
        if last_paused != Some(paused) {
            msg.insert("paused".into(), json!(paused));
            last_paused = Some(paused);
        }
        if finished {
            msg.insert("ended".into(), json!(true));
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
                                .map(|m| json!({"seq": m.seq, "from": m.author, "text": m.body}))
                                .collect::<Vec<_>>()
                        ),
                    );
                }
            }
        }
        if msg.len() > 2 && socket.send(Message::Text(Value::Object(msg).to_string().into())).await.is_err() {
            return;
        }
    }
}

async fn run_live(
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
async fn scoreboard_loop(mut socket: WebSocket, app: App, run: String, session: String) {
    let mut sent: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checked = tokio::time::Instant::now();
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
        let status = app.store.run(&run).await.ok().flatten().map(|r| r.status).unwrap_or_default();
        let mut rows = Vec::new();
        for t in teams {
            let (score, t_s) = app
                .ranges
                .get(&t.id)
                .and_then(|tr| tr.read(|r| (tr.score(r, true), (r.time().0 / 1_000_000) as f64)))
                .unwrap_or((Value::Null, 0.0));
            let row = json!({"team": t.id, "name": t.name, "t": t_s, "score": score});
            if sent.get(&t.id) != Some(&row) {
                sent.insert(t.id.clone(), row.clone());
                rows.push(row);
            }
        }
        if !rows.is_empty() {
            let msg = json!({"status": status, "teams": rows});
            if socket.send(Message::Text(msg.to_string().into())).await.is_err() {
                return;
            }
        }
    }
}

// ---- OpenAPI

async fn openapi_handler() -> Json {
    axum::Json(openapi())
}

/// The OpenAPI 3.1 document of the JSON API, from the route table.
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for (d, _) in routes() {
        if !d.path.starts_with("/api/") {
            continue;
        }
        let path = paths.entry(d.path.to_string()).or_insert_with(|| json!({}));
        let params: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": d.summary,
            "x-access": d.access.as_str(),
            "parameters": params,
            "responses": responses(&d),
        });
        if d.access != Access::Public {
            op["security"] = json!([{"session": []}]);
        }
        if let Some(schema) = request_schema(&d) {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        if d.path.ends_with("/events")
            || d.path.ends_with("/journal")
            || d.path.ends_with("/live")
            || d.path.ends_with("/messages")
        {
            if let Some(a) = op["parameters"].as_array_mut() {
                a.push(json!({"name": "since", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}));
            }
        }
        path[d.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "icsrange training platform", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Everything the pages do. Sign in with POST /api/login; send the returned csrf token as x-csrf-token on every POST."},
        "paths": paths,
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": auth::COOKIE}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "problems": {"type": "array"}}}},
        },
    })
}

fn responses(d: &RouteDef) -> Value {
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let ok = if d.websocket {
        json!({"101": {"description": "WebSocket: JSON messages with t, points, events, score, supply, paused, ended"}})
    } else if d.path.ends_with(".pcap") {
        json!({"200": {"description": "pcap file", "content": {"application/vnd.tcpdump.pcap": {"schema": {"type": "string", "format": "binary"}}}}})
    } else if d.path.ends_with(".svg") {
        json!({"200": {"description": "SVG", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
    } else {
        let code = if d.method == Method::POST
            && matches!(
                d.path,
                "/api/runs"
                    | "/api/runs/{run}/teams"
                    | "/api/runs/{run}/accounts"
                    | "/api/teams/{team}/reports"
                    | "/api/runs/{run}/invites"
                    | "/api/invites/{token}"
                    | "/api/runs/{run}/broadcast"
                    | "/api/orgs"
            ) {
            "201"
        } else {
            "200"
        };
        json!({code: {"description": "ok", "content": {"application/json": {"schema": {}}}}})
    };
    let mut r = ok;
    for code in ["401", "403", "404", "409", "422", "429", "503"] {
        r[code] = err.clone();
    }
    r
}

fn request_schema(d: &RouteDef) -> Option<Value> {
    let s = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    let text = json!({"type": "string"});
    Some(match (d.method.as_str(), d.path) {
        ("POST", "/api/login") => s(json!({"name": text, "password": text}), &["name", "password"]),
        ("POST", "/api/runs") => s(
            json!({"name": text, "exercise": text, "text": text, "file_name": text,
                   "files": {"type": "object", "additionalProperties": {"type": "string"}},
                   "seed": {"type": "integer", "minimum": 0}, "speed": {"type": "number"}}),
            &["name"],
        ),
        ("POST", "/api/runs/{run}/teams") => s(json!({"name": text}), &["name"]),
        ("POST", "/api/runs/{run}/accounts") => s(
            json!({"name": text, "role": {"enum": ["trainee", "observer", "instructor"]}, "team": text,
                   "team_role": {"enum": ["operator", "analyst", "lead"]}, "org": text, "country": text}),
            &["name", "role"],
        ),
        ("POST", "/api/runs/{run}/control") => s(
            json!({"op": {"enum": ["start", "pause", "resume", "speed", "fire_inject", "skip_step", "trigger_step"]},
                   "factor": {"type": "number"}, "id": text, "team": text}),
            &["op"],
        ),
        ("POST", "/api/teams/{team}/actions") => {
            json!({"type": "object", "required": ["do"], "properties": {"do": {"enum": [
            "operate", "close_opened", "dispatch_crew", "block", "disable_account", "restore_firmware", "ups_on",
            "ack_alarms", "local", "hint", "answer", "report"]}}})
        }
        ("POST", "/api/runs/{run}/invites") => s(
            json!({"role": {"enum": ["trainee", "observer", "instructor"]}, "team": text, "team_role": {"enum": ["operator", "analyst", "lead"]}}),
            &["role"],
        ),
        ("POST", "/api/invites/{token}") => {
            s(json!({"name": text, "password": text, "org": text, "country": text}), &["name", "password"])
        }
        ("POST", "/api/runs/{run}/broadcast") => s(json!({"text": text}), &["text"]),
        ("POST", "/api/orgs") => s(
            json!({"name": text, "country": {"type": "string", "pattern": "^[A-Z]{2}$"}, "kind": {"enum": ["host", "participant"]}}),
            &["name", "country", "kind"],
        ),
        ("POST", "/api/teams/{team}/reports/{report}/grade") => s(
            json!({"time": {"type": "number", "minimum": 0, "maximum": 5}, "asset": {"type": "number", "minimum": 0, "maximum": 5},
                   "technique": {"type": "number", "minimum": 0, "maximum": 5}, "impact": {"type": "number", "minimum": 0, "maximum": 5},
                   "action": {"type": "number", "minimum": 0, "maximum": 5}}),
            &["time", "asset", "technique", "impact", "action"],
        ),
        ("POST", "/api/teams/{team}/reports") => s(
            json!({"time": text, "asset": text, "technique": text, "impact": text, "action": text}),
            &["time", "asset", "technique", "impact", "action"],
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        // An unknown name costs a whole verification, as a known one does.
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!auth::verify_password("anything", DUMMY_HASH));
    }

    #[test]
    fn hostile_query_strings_never_panic() {
        for q in [
            "%",
            "%G1",
            "a=%",
            "a=%4",
            "a=%FF%FE",
            "=&&=",
            "since=",
            "since=-1",
            "since=99999999999999999999999",
            "x=é%C3%A9",
        ] {
            let _ = query_params(Some(q.to_string()));
            let _ = since_of(Some(q.to_string()));
        }
        let p = query_params(Some("addr=127.10.5.1&text=C_DC%20NA+1&ioa=2001".into()));
        assert_eq!(p["addr"], "127.10.5.1");
        assert_eq!(p["text"], "C_DC NA 1");
        assert_eq!(p["ioa"], "2001");
        assert_eq!(since_of(Some("since=42".into())).ok().flatten(), Some(42));
        assert!(since_of(Some("since=x".into())).is_err());
        assert_eq!(since_of(None).ok().flatten(), None);
    }

    #[test]
    fn every_route_is_in_the_openapi_document_with_its_access() {
        let doc = openapi();
        for (d, _) in routes() {
            if !d.path.starts_with("/api/") {
                continue;
            }
            let op = &doc["paths"][d.path][d.method.as_str().to_lowercase()];
            assert_eq!(op["x-access"], d.access.as_str(), "{} {}", d.method, d.path);
        }
    }
}
