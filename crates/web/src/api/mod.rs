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
use axum::routing::{MethodRouter, delete, get, post};
use range::journal::{Action, Actor, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{OrgKind, RunRole, RunStatus, StaffRole, TeamRole};

use crate::auth::{self, Access, Caller};
use crate::platform::{self, TeamRange};
use crate::{ApiError, App, views};

type Json = axum::Json<Value>;
type Result<T> = std::result::Result<T, ApiError>;

mod after_action;
mod course;
mod live;
mod openapi;
mod runs;
mod session;
mod teams;

use after_action::*;
use course::*;
use live::*;
pub use openapi::openapi;
use openapi::*;
use runs::*;
use session::*;
use teams::*;

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
    let (g, p, d) = (Method::GET, Method::POST, Method::DELETE);
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
        (
            def(
                g.clone(),
                "/runs/{run}/report",
                RunRead,
                "The after-action report of a run: every team and the cohort (self-contained HTML)",
            ),
            get(run_report_page),
        ),
        (
            def(
                g.clone(),
                "/teams/{team}/report",
                TeamRead,
                "A team's after-action report (self-contained HTML; for trainees once the run has ended)",
            ),
            get(team_report_page),
        ),
        (
            def(
                g.clone(),
                "/api/runs/{run}/report",
                RunRead,
                "The after-action report of a run as JSON (the report crate's model)",
            ),
            get(run_report_json),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/report",
                TeamRead,
                "A team's after-action report as JSON (for trainees once the run has ended)",
            ),
            get(team_report_json),
        ),
        (def(g.clone(), "/assets/{file}", Public, "The pages' JavaScript and CSS"), get(crate::pages::asset)),
        (def(g.clone(), "/favicon.ico", Public, "The icon (SVG)"), get(crate::pages::favicon)),
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
        (def(g.clone(), "/api/exercises", Staff, "The built-in exercises (course staff)"), get(exercises)),
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
                d.clone(),
                "/api/runs/{run}",
                RunWrite,
                "Delete a draft run, its teams and their address blocks",
            ),
            delete(delete_run),
        ),
        (
            def(
                d,
                "/api/runs/{run}/teams/{team}",
                RunWrite,
                "Delete a team of a draft run (its address block is free again)",
            ),
            delete(delete_team),
        ),
        (
            def(
                g.clone(),
                "/api/admin/blocks",
                Admin,
                "Address blocks in use: which team and run holds each, whether its range listens",
            ),
            get(list_blocks),
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
                "/api/teams/{team}/assets",
                TeamRead,
                "The team's asset register and network map: zones, hosts, accounts, devices, substations",
            ),
            get(assets),
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
            def(
                g.clone(),
                "/api/teams/{team}/overview.svg",
                TeamRead,
                "The team grid's overview: every substation a tile in its area, with the SCADA master's values",
            ),
            get(overview_svg),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/displays",
                TeamRead,
                "The grid's stations and areas as the displays show them, and every breaker's name in words",
            ),
            get(displays),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/displays/{station}",
                TeamRead,
                "One station: its one-line (SVG, with the SCADA master's values) and its point list",
            ),
            get(station_display),
        ),
        (
            def(
                g.clone(),
                "/api/teams/{team}/line.svg",
                TeamRead,
                "The team pipeline's pressure profile against MAOP, stations, valves and safety system (404: no pipeline)",
            ),
            get(line_svg),
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
    let tls = app.secure_cookies;
    r.fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(html_errors))
        .layer(middleware::from_fn(move |req, next| security_headers(tls, req, next)))
        // An exercise with its grid files fits; nothing else comes near.
        .layer(DefaultBodyLimit::max(8 << 20))
        // Pages, assets, displays and JSON gzipped for a browser that accepts it (a course's
        // participants may be on slow links); the WebSocket upgrade and small answers pass.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(app)
}

/// A browser that opens a page (not the API) and meets an error gets a page that says it in
/// a sentence, with the way home; never a raw JSON body or the browser's own error page. The
/// status stays; a script (which asks for JSON) gets the JSON answer as before.
async fn html_errors(req: Request, next: Next) -> Response {
    let wants_page = !req.uri().path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    let r = next.run(req).await;
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !wants_page || r.status().is_success() || !json {
        return r;
    }
    let status = r.status();
    let body = axum::body::to_bytes(r.into_body(), 64 * 1024).await.unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    (status, crate::pages::error_page(status, &message)).into_response()
}

/// Headers on every answer. `tls`: the server serves HTTPS itself (its own certificate).
async fn security_headers(tls: bool, req: Request, next: Next) -> Response {
    // The pages' JavaScript and CSS may be cached; nothing else: a signed-in page, a report
    // or an answer of the API must not stay in a shared computer's cache.
    let asset = req.uri().path().starts_with("/assets/");
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // A page with a policy of its own (the after-action report: no script at all) keeps it.
    if !h.contains_key("content-security-policy") {
        set(
            h,
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        );
    }
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    if !asset {
        set(h, "cache-control", "no-store");
    }
    if tls {
        set(h, "strict-transport-security", "max-age=31536000");
    }
    r
}

pub(super) fn body<T: serde::de::DeserializeOwned>(bytes: &axum::body::Bytes) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("bad request body: {e}")))
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
