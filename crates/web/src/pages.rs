//! The HTML pages: rendered on the server (the one-line diagram included), with small
//! JavaScript modules embedded in the binary (`assets/`), no build step and nothing loaded
//! from another site. The pages call the same JSON API a script would.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use report::escape::Escaped;

use crate::{ApiError, App};

fn page(title: &str, kind: &str, data: &[(&str, &str)], body: &str) -> Html<String> {
    let attrs: String = data.iter().map(|(k, v)| format!(" data-{k}=\"{}\"", Escaped(v))).collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · icsrange</title><link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/assets/style.css\">\
<script type=\"module\" src=\"/assets/app.js\"></script></head><body data-page=\"{kind}\"{attrs}>\
<header class=\"top\"><a href=\"/home\" class=\"brand\">icsrange</a><span id=\"who\"></span><span id=\"clock\"></span><button id=\"logout\" hidden>Sign out</button></header>\
<main>{body}</main></body></html>",
        Escaped(title)
    ))
}

/// An error as a page: what happened in a sentence, and the way on.
pub fn error_page(status: axum::http::StatusCode, message: &str) -> Html<String> {
    let title = match status.as_u16() {
        401 => "Sign in first",
        403 => "Not yours to see",
        404 => "Not found",
        409 => "Not yet",
        429 => "Too many requests",
        _ => "Something went wrong",
    };
    let mut m = crate::reply::capitalised(message);
    if !m.ends_with(['.', '!', '?']) {
        m.push('.');
    }
    let back = if status.as_u16() == 401 {
        "<a href=\"/\">Sign in</a>"
    } else {
        "<a href=\"/home\">Back to your runs</a>"
    };
    page(
        title,
        "error",
        &[],
        &format!(
            "<section class=\"card narrow\"><h1>{}</h1><p>{}</p><p>{back}</p></section>",
            Escaped(title),
            Escaped(&m)
        ),
    )
}

pub async fn login() -> Html<String> {
    page(
        "Sign in",
        "login",
        &[],
        "<section class=\"card narrow\"><h1>Sign in</h1><form id=\"login\"><label>Name <input name=\"name\" autocomplete=\"username\" required></label>\
<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
<button type=\"submit\">Sign in</button><p id=\"login-error\" class=\"error\" role=\"alert\"></p></form></section>",
    )
}

pub async fn home() -> Html<String> {
    page(
        "Home",
        "home",
        &[],
        "<section class=\"card\"><h1>Your runs</h1><ul id=\"parts\"></ul></section>\
<section class=\"card\" id=\"new-run\" hidden><h2>New run</h2><form id=\"create-run\">\
<label>Name <input name=\"name\" required maxlength=\"64\"></label>\
<label>Exercise <select name=\"exercise\" id=\"exercise-list\"></select></label>\
<label>or upload a file <input type=\"file\" name=\"upload\" accept=\".yaml,.yml\"></label>\
<label>Speed <input name=\"speed\" type=\"number\" placeholder=\"the exercise's\" min=\"0.1\" max=\"600\" step=\"0.1\"></label>\
<button type=\"submit\">Create</button></form><pre id=\"run-errors\" class=\"error\"></pre></section>",
    )
}

pub async fn run(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let run = app.store.run(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(page(
        &run.name,
        "run",
        &[("run", &run.id)],
        &format!(
            "<div id=\"banner\" class=\"banner\" role=\"status\" aria-live=\"polite\"><b id=\"run-state\"></b> <span id=\"notice\"></span></div>\
<section class=\"card\"><h1>{}</h1><p>Exercise <b>{}</b> · status <b id=\"run-status\">{}</b> · <a id=\"report-link\" href=\"/runs/{}/report\">After-action report</a></p>\
<div class=\"row\"><button data-op=\"start\">Start</button><button data-op=\"pause\">Pause</button><button data-op=\"resume\">Resume</button>\
<label>Speed <select id=\"speed\"><option>1</option><option>3</option><option>10</option><option>30</option><option>60</option><option>120</option></select></label></div></section>\
<section class=\"card\"><h2>Teams</h2><form id=\"add-team\"><input name=\"name\" aria-label=\"Team name\" placeholder=\"Team name\" required maxlength=\"64\"><button>Add team</button></form>\
<form id=\"add-account\"><input name=\"name\" aria-label=\"Account name\" placeholder=\"Account name\" required maxlength=\"64\"><select name=\"role\" aria-label=\"Role\"><option>trainee</option><option>observer</option><option>instructor</option></select>\
<select name=\"team\" id=\"team-select\" aria-label=\"Team\"></select><input name=\"org\" aria-label=\"Organisation\" placeholder=\"Organisation\"><input name=\"country\" aria-label=\"Country\" placeholder=\"Country\" maxlength=\"2\"><button>Create account</button></form>\
<button type=\"button\" id=\"invite\">Invitation link instead</button><pre id=\"account-out\"></pre><ul id=\"teams\"></ul></section>\
<section class=\"card\"><h2>Broadcast</h2><form id=\"broadcast\" class=\"row\"><input name=\"text\" required maxlength=\"2000\" size=\"60\" aria-label=\"Message to every team\" placeholder=\"Message to every team\"><button>Send</button></form></section>\
<section class=\"card\"><h2>Incident reports</h2><button type=\"button\" id=\"load-reports\">Show reports</button><div id=\"reports\"></div></section>\
<section class=\"card\"><h2>Scoreboard</h2><table id=\"scoreboard\"><thead><tr><th>Team</th><th>elapsed</th><th>Total</th><th>Pending</th><th>Components</th><th>Penalties</th></tr></thead><tbody></tbody></table></section>\
<section class=\"card\"><h2>Campaign and injects</h2><div id=\"steps\"></div><div id=\"injects\"></div></section>",
            Escaped(&run.name),
            Escaped(&run.exercise),
            Escaped(run.status.as_str()),
            Escaped(&run.id)
        ),
    )
    .into_response())
}

pub async fn team(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    // A pipeline run's HMI is the line's pressure profile (refreshed by the page's script).
    let line = app
        .ranges
        .get(&id)
        .filter(|t| t.ex.pipeline.is_some())
        .and_then(|t| t.read_range(crate::line::svg).flatten());
    let pipeline = line.is_some();
    // A grid run opens on its overview, drawn with the master's values now: the first paint
    // shows the state, never a default.
    let svg = line
        .or_else(|| {
            app.ranges.get(&id).map(|t| {
                let v = t.read(|r| crate::displays::values(r.points()));
                crate::displays::overview(&t.plant, &v).svg
            })
        })
        .unwrap_or_else(|| "<p>The run has not started.</p>".into());
    let line_attr = if pipeline { " data-line=\"1\"" } else { "" };
    Ok(page(
        &team.name,
        "team",
        &[("team", &team.id)],
        &format!(
            "<div id=\"banner\" class=\"banner\" role=\"status\" aria-live=\"polite\"><b id=\"run-state\">…</b> <span id=\"notice\"></span></div>\
<nav class=\"tabs\"><div role=\"tablist\" aria-label=\"Views\"><button role=\"tab\" id=\"tb-brief\" aria-controls=\"tab-brief\" data-tab=\"brief\">Briefing</button><button role=\"tab\" id=\"tb-hmi\" aria-controls=\"tab-hmi\" data-tab=\"hmi\" class=\"on\">HMI</button><button role=\"tab\" id=\"tb-detect\" aria-controls=\"tab-detect\" data-tab=\"detect\">Detection</button>\
<button role=\"tab\" id=\"tb-respond\" aria-controls=\"tab-respond\" data-tab=\"respond\">Response</button><button role=\"tab\" id=\"tb-questions\" aria-controls=\"tab-questions\" data-tab=\"questions\">Questions</button><button role=\"tab\" id=\"tb-inbox\" aria-controls=\"tab-inbox\" data-tab=\"inbox\">Injects <span id=\"inbox-badge\" class=\"count\" hidden></span></button></div>\
<span class=\"score\">Score <b id=\"score\">–</b> <small id=\"score-note\"></small></span><a id=\"report-link\" href=\"/teams/{id}/report\" hidden>After-action report</a></nav>\
<section id=\"tab-brief\" class=\"tab\" role=\"tabpanel\" aria-labelledby=\"tb-brief\" hidden><div id=\"briefing\" class=\"card\"></div></section>\
<section id=\"tab-hmi\" class=\"tab\" role=\"tabpanel\" aria-labelledby=\"tb-hmi\"><div class=\"kpis\" role=\"status\" aria-live=\"off\"><span>Frequency <b id=\"freq\">–</b> Hz</span><span>Served <b id=\"served\">–</b> of <b id=\"demand\">–</b> MW</span>\
<span>Customers off <b id=\"off\">–</b> (peak <b id=\"peak\">–</b>)</span><span>Energy not served <b id=\"ens\">–</b> MWh</span><span id=\"paused\" class=\"badge\" hidden>PAUSED</span><span id=\"dark\" class=\"badge alarm\" hidden>NO VIEW</span></div>\
<div class=\"hmi\"><aside><h2 class=\"h3\">Alarms <small id=\"alarm-count\"></small></h2><button id=\"ack\">Acknowledge all</button><ul id=\"alarms\" aria-live=\"polite\" aria-relevant=\"additions\"></ul>\
<h2 class=\"h3\">Command log</h2><ul id=\"cmdlog\" class=\"log\" tabindex=\"0\" aria-label=\"Command log\"></ul><h2 class=\"h3\">Frequency</h2><svg id=\"trend\" viewBox=\"0 0 300 100\" width=\"300\" height=\"100\" role=\"img\" aria-label=\"Frequency trend\"><polyline id=\"trend-line\" points=\"\"/></svg></aside>\
<div class=\"displays\"><div class=\"row levels\"><nav id=\"levels\" class=\"row\" aria-label=\"Displays\"><button type=\"button\" id=\"to-overview\" aria-current=\"page\">Overview</button><span id=\"crumb\"></span><button type=\"button\" id=\"to-oneline\" hidden>One-line</button><button type=\"button\" id=\"to-points\" hidden>Point list</button></nav>\
<span class=\"row\" id=\"grid-actions\"><small id=\"restore-out\" role=\"status\"></small><button type=\"button\" id=\"restore\" aria-describedby=\"restore-what\">Restore: close every breaker that opened</button></span></div>\
<div class=\"diagram\" id=\"diagram\"{line_attr}>{svg}</div>\
<section id=\"pointlist\" hidden><table id=\"points\"><caption id=\"points-caption\"></caption><thead><tr><th scope=\"col\">point</th><th scope=\"col\">value</th><th scope=\"col\">quality</th><th scope=\"col\">received</th><th scope=\"col\">address</th></tr></thead><tbody></tbody></table></section>\
<p class=\"legend\" id=\"legend\">Breakers: <span class=\"sym closed\"></span> closed · <span class=\"sym open\"></span> open · <span class=\"sym unknown\"></span> state unknown. A value marked ? is not topical (its station does not answer, or the value is invalid): the last one received. <span id=\"restore-what\">Restore closes breakers from here where the station answers and sends crews where it does not.</span></p></div></div>\
<p id=\"announce\" class=\"sr-only\" aria-live=\"polite\"></p><dialog id=\"operate\"><form method=\"dialog\"><p id=\"operate-text\"></p><button value=\"cancel\">Cancel</button><button value=\"ok\" id=\"operate-ok\">Execute</button></form></dialog></section>\
<section id=\"tab-detect\" class=\"tab\" role=\"tabpanel\" aria-labelledby=\"tb-detect\" hidden><p><a id=\"pcap\" href=\"/api/teams/{id}/capture.pcap\" download>Download capture (pcap)</a></p>\
<h3>Events</h3><label>Filter <input id=\"event-filter\" placeholder=\"alert, 127.10.5.1, log…\"></label><table id=\"events\"><thead><tr><th>time</th><th>elapsed</th><th>kind</th><th>what</th><th>act</th></tr></thead><tbody></tbody></table>\
<h3>Frames <small id=\"frame-count\"></small></h3><form id=\"frame-filter\" class=\"row\"><select name=\"proto\" aria-label=\"protocol\"><option value=\"\">any protocol</option><option>iec104</option><option>modbus</option><option>dnp3</option><option>http</option><option>udp</option></select>\
<input name=\"addr\" placeholder=\"address\" size=\"14\" aria-label=\"address\"><input name=\"ioa\" placeholder=\"IOA\" size=\"6\" aria-label=\"IOA\"><input name=\"register\" placeholder=\"register\" size=\"6\" aria-label=\"register\"><input name=\"text\" placeholder=\"text\" size=\"12\" aria-label=\"text\"><button>Filter</button></form>\
<table id=\"frames\"><thead><tr><th>frame</th><th>elapsed (s)</th><th>source</th><th>destination</th><th>protocol</th><th>info</th></tr></thead><tbody></tbody></table></section>\
<section id=\"tab-respond\" class=\"tab\" role=\"tabpanel\" aria-labelledby=\"tb-respond\" hidden><p id=\"respond-out\" class=\"reply\" role=\"status\" aria-live=\"polite\"></p>\
<h3>Firewall</h3><form id=\"block\" class=\"row\"><label>Block a source <input name=\"source\" required placeholder=\"an address or a prefix: 203.0.113.7, 10.0.0.0/8\" size=\"40\"></label><button>Block</button></form>\
<h3>Hosts</h3><table id=\"reg-hosts\"><thead><tr><th>host</th><th>zone</th><th>address</th><th></th></tr></thead><tbody></tbody></table>\
<h3>Accounts</h3><table id=\"reg-accounts\"><thead><tr><th>account</th><th>logs in on</th><th></th></tr></thead><tbody></tbody></table>\
<h3>Substations</h3><table id=\"reg-subs\"><thead><tr><th>substation</th><th>UPS</th><th>serial gateway</th><th></th></tr></thead><tbody></tbody></table>\
<h3>Devices</h3><label>Filter <input id=\"device-filter\" placeholder=\"name, address, station, substation\"></label><table id=\"reg-devices\"><thead><tr><th>device</th><th>kind</th><th>protocol</th><th>address</th><th>station</th><th>substation</th><th></th></tr></thead><tbody></tbody></table>\
<h3>Incident report</h3><form id=\"report\" class=\"grid\"><label>When <input name=\"time\" required></label><label>Asset <input name=\"asset\" required></label><label>Technique (ATT&amp;CK id) <input name=\"technique\" required></label>\
<label>Impact <input name=\"impact\" required></label><label>Action taken <input name=\"action\" required></label><button>File report</button></form><p id=\"report-out\" role=\"status\"></p>\
<h3>Penalties</h3><ul id=\"penalties\"><li>None.</li></ul></section>\
<section id=\"tab-questions\" class=\"tab\" role=\"tabpanel\" aria-labelledby=\"tb-questions\" hidden><ol id=\"questions\"></ol></section>\
<section id=\"tab-inbox\" class=\"tab\" role=\"tabpanel\" aria-labelledby=\"tb-inbox\" hidden><ul id=\"inbox\"></ul></section>",
        ),
    )
    .into_response())
}

pub async fn invite(State(app): State<App>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let ok = token.len() == 64
        && app.store.invite(&crate::auth::token_hash(&token), crate::now_s()).await?.is_some();
    if !ok {
        return Err(ApiError::NotFound);
    }
    Ok(page(
        "Invitation",
        "invite",
        &[("token", &token)],
        "<section class=\"card narrow\"><h1>Join the course</h1><form id=\"accept\"><label>Name <input name=\"name\" required maxlength=\"64\" autocomplete=\"username\"></label>\
<label>Password (12 characters at least) <input name=\"password\" type=\"password\" minlength=\"12\" required autocomplete=\"new-password\"></label>\
<label>Organisation <input name=\"org\" maxlength=\"64\"></label><label>Country (ISO code) <input name=\"country\" maxlength=\"2\"></label>\
<button type=\"submit\">Create my account</button><p id=\"accept-error\" class=\"error\" role=\"alert\"></p></form></section>",
    )
    .into_response())
}

const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
/// A breaker symbol: an open square between two bars.
const FAVICON_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><rect width=\"32\" height=\"32\" rx=\"5\" fill=\"#3c3c3c\"/><path d=\"M16 3v8M16 21v8\" stroke=\"#eee\" stroke-width=\"3\"/><rect x=\"10\" y=\"11\" width=\"12\" height=\"10\" fill=\"#d10000\" stroke=\"#eee\" stroke-width=\"2\"/></svg>";

/// `/favicon.ico`, for what asks for it by that name (a browser on a JSON answer).
pub async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], FAVICON_SVG)
        .into_response()
}

pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (ct, body) = match file.as_str() {
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        "favicon.svg" => ("image/svg+xml", FAVICON_SVG),
        _ => return Err(ApiError::NotFound),
    };
    Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response())
}
