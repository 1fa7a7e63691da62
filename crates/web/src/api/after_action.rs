//! The after-action report (`report` crate) of a run: instructors and observers get every
//! team and the cohort at any time; a trainee gets their own team's once the run has ended
//! for every team (before, it would tell them the attack's steps and the answers).
//!
//! The HTML is the same self-contained document `icsrange report` writes, served with a
//! policy of its own: no script at all, its one style block allowed by its hash.

use std::sync::OnceLock;

use base64::Engine as _;
use sha2::Digest as _;

use super::*;

/// The report page's content security policy (computed once: the style block is constant).
fn policy() -> &'static HeaderValue {
    static P: OnceLock<HeaderValue> = OnceLock::new();
    P.get_or_init(|| {
        let hash =
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(report::html::STYLE));
        HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    })
}

/// Each team's name and journal (teams whose range has not started are left out).
fn journals(app: &App, teams: &[store::Team]) -> Vec<(String, Vec<range::Entry>)> {
    teams
        .iter()
        .filter_map(|t| {
            let tr = app.ranges.get(&t.id)?;
            Some((t.name.clone(), tr.read(|r| r.journal().to_vec())))
        })
        .collect()
}

/// Builds the report off the async threads (a few hundred thousand entries per team).
async fn build(
    ex: std::sync::Arc<exercise::Exercise>,
    runs: Vec<(String, Vec<range::Entry>)>,
) -> Result<report::Report> {
    if runs.is_empty() {
        return Err(ApiError::Conflict("no team's run has started"));
    }
    let _slot = platform::HEAVY_SLOTS.acquire().await.map_err(|_| ApiError::Internal)?;
    tokio::task::spawn_blocking(move || {
        let teams: Vec<report::TeamRun<'_>> =
            runs.iter().map(|(name, journal)| report::TeamRun { name, journal }).collect();
        report::build(&ex, &teams)
    })
    .await
    .map_err(|_| ApiError::Internal)
}

async fn of_run(app: &App, id: &str) -> Result<report::Report> {
    let run = run_of(app, id).await?;
    let ex = platform::exercise(app, &run).await?;
    let teams = app.store.teams(id).await?;
    build(ex, journals(app, &teams)).await
}

async fn of_team(app: &App, id: &str, c: &Caller) -> Result<report::Report> {
    let team = app.store.team(id).await?.ok_or(ApiError::NotFound)?;
    let tr = team_range(app, id).await?;
    // The whole run, not the team's range: a team that ended first must not learn the
    // answers while another team still plays.
    if !is_staff(app, c, &team).await? && run_of(app, &team.run).await?.status != RunStatus::Ended {
        return Err(ApiError::Conflict("the after-action report is yours once the run has ended"));
    }
    build(tr.ex.clone(), journals(app, std::slice::from_ref(&team))).await
}

fn html(r: &report::Report) -> Response {
    let mut resp =
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], report::html::render(r)).into_response();
    resp.headers_mut().insert("content-security-policy", policy().clone());
    resp
}

pub(super) async fn run_report_page(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    Ok(html(&of_run(&app, &id).await?))
}

pub(super) async fn run_report_json(State(app): State<App>, Path(id): Path<String>) -> Result<Response> {
    Ok(([(header::CONTENT_TYPE, "application/json")], report::json(&of_run(&app, &id).await?))
        .into_response())
}

pub(super) async fn team_report_page(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Response> {
    Ok(html(&of_team(&app, &id, &c).await?))
}

pub(super) async fn team_report_json(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Response> {
    Ok(([(header::CONTENT_TYPE, "application/json")], report::json(&of_team(&app, &id, &c).await?))
        .into_response())
}
