//! The report as one self-contained HTML document: inline CSS (`STYLE`, the only style
//! block: a server may allow it by its hash) and SVG, no script, no external resource. The
//! timeline's filters are checkboxes that CSS reads (`:has`), so they work where scripts are
//! forbidden. Printed, each section starts a page and no plot or table row is cut.

use std::fmt::Write as _;

use crate::escape::Escaped;
use crate::svg::{self, hmm, hms};
use crate::{Figure, KINDS, Report, TeamReport};

/// The document's only style block.
pub const STYLE: &str = "\
:root{--ink:#1b1f24;--mute:#5b6570;--line:#d5dae0;--accent:#0b5cad;--bad:#b3261e;--ok:#1e7a34}\
*{box-sizing:border-box}\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);margin:0 auto;max-width:1100px;padding:24px}\
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 8px;border-bottom:2px solid var(--ink)}h3{font-size:16px;margin:18px 0 6px}\
.sub{color:var(--mute);margin:0 0 12px}\
table{border-collapse:collapse;width:100%;margin:6px 0 12px}th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f5f7;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.src{color:var(--mute);font-size:11px;white-space:nowrap}\
.no{color:var(--bad);font-weight:600}.yes{color:var(--ok)}\
dl.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:6px 16px;margin:8px 0}\
dl.figs div{border:1px solid var(--line);border-radius:4px;padding:6px 8px}dl.figs dt{color:var(--mute);font-size:12px}dl.figs dd{margin:0;font-size:18px;font-weight:600}\
figure{margin:10px 0;break-inside:avoid;page-break-inside:avoid}figcaption{color:var(--mute);font-size:12px}\
svg.plot{width:100%;height:auto;max-width:760px;display:block}\
svg .title{font-size:12px;font-weight:600;fill:var(--ink)}svg .tick,svg .unit,svg .axis{font-size:10px;fill:var(--mute)}\
svg .grid{stroke:#e7eaee;stroke-width:1}svg .box{fill:none;stroke:#aab2bb}\
svg .series{fill:none;stroke-width:1.6}svg .f{stroke:var(--accent)}svg .band{fill:#0b5cad22;stroke:none}\
svg .nominal{stroke:#888;stroke-dasharray:4 3}svg .nadir{fill:var(--bad)}\
svg .demand{stroke:#777;stroke-dasharray:5 3}svg .served{stroke:var(--ok)}svg .off{stroke:var(--bad)}\
svg .step{stroke:var(--bad);stroke-dasharray:2 3;stroke-width:1}svg .steplabel{font-size:10px;fill:var(--bad);font-weight:700}\
svg .pt.attack{fill:var(--bad)}svg .pt.alert{fill:#d98200}svg .pt.action{fill:var(--accent)}svg .pt.inject{fill:#6b4fa8}\
.filters{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0;padding:6px 8px;background:#f3f5f7;border-radius:4px}\
.filters label{white-space:nowrap;cursor:pointer}\
tr.k-attack td:nth-child(2){color:var(--bad);font-weight:600}tr.k-alert td:nth-child(2){color:#a86400;font-weight:600}\
section.team:has(input.f-attack:not(:checked)) tr.k-attack,\
section.team:has(input.f-command:not(:checked)) tr.k-command,\
section.team:has(input.f-alert:not(:checked)) tr.k-alert,\
section.team:has(input.f-action:not(:checked)) tr.k-action,\
section.team:has(input.f-answer:not(:checked)) tr.k-answer,\
section.team:has(input.f-inject:not(:checked)) tr.k-inject,\
section.team:has(input.f-physical:not(:checked)) tr.k-physical{display:none}\
.note{color:var(--mute);font-size:12px}\
@page{size:A4;margin:14mm}\
@media print{body{max-width:none;padding:0;font-size:11px}.filters{display:none}section.cohort,section.team{break-before:page;page-break-before:always}\
tr{break-inside:avoid;page-break-inside:avoid}thead{display:table-header-group}h2,h3{break-after:avoid;page-break-after:avoid}svg.plot{max-width:100%}}\
";

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"))
}

/// Journal lines as a compact note (`L12, L40 +3`).
fn src(lines: &[usize]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = lines.iter().take(3).map(|l| format!("L{l}")).collect();
    let more = if lines.len() > 3 { format!(" +{}", lines.len() - 3) } else { String::new() };
    let all: Vec<String> = lines.iter().take(50).map(|l| l.to_string()).collect();
    format!(
        "<span class=\"src\" title=\"journal.jsonl line{} {}\">{}{more}</span>",
        if lines.len() == 1 { "" } else { "s" },
        all.join(", "),
        shown.join(", ")
    )
}

fn fig(out: &mut String, name: &str, f: &Figure, text: String) {
    let _ = write!(out, "<div><dt>{}</dt><dd>{text}{}</dd></div>", Escaped(name), src(&f.source));
}

fn dur(s: Option<f64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) => format!("{} min", (s / 60.0).round()),
    }
}

/// Renders the report (every team in it, and the cohort).
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let ex = &r.exercise;
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>After-action report: {}</title><style>{STYLE}</style></head><body>\
<header><h1>After-action report: {}</h1><p class=\"sub\">Exercise <b>{}</b> on grid <b>{}</b>, {} h:mm of simulated time, {} team{}.</p>\
<p>{}</p>",
        Escaped(&ex.title),
        Escaped(&ex.title),
        Escaped(&ex.id),
        Escaped(&ex.grid),
        hmm(ex.duration_s),
        r.teams.len(),
        if r.teams.len() == 1 { "" } else { "s" },
        Escaped(&ex.summary)
    );
    o.push_str(
        "<p class=\"note\">Every figure names the journal entries it comes from: <span class=\"src\">L123</span> \
is line 123 of the team's <code>journal.jsonl</code> (its 123rd entry). Times are simulated time into the run (h:mm, or h:mm:ss in the timeline).</p>",
    );
    if !ex.sources.is_empty() {
        o.push_str("<details><summary>Sources of the exercise</summary><ul>");
        for s in &ex.sources {
            let _ = write!(o, "<li>{}</li>", Escaped(s));
        }
        o.push_str("</ul></details>");
    }
    o.push_str("</header>");
    cohort(&mut o, r);
    for (k, t) in r.teams.iter().enumerate() {
        team(&mut o, k, t);
    }
    o.push_str("</body></html>\n");
    o
}

fn cohort(o: &mut String, r: &Report) {
    let c = &r.cohort;
    o.push_str("<section class=\"cohort\" id=\"cohort\"><h2>Cohort</h2><table class=\"cohort-table\"><thead><tr><th>Team</th><th class=\"n\">Total</th>");
    let comps: Vec<String> = r
        .teams
        .first()
        .map(|t| t.score.components.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    for name in &comps {
        let _ = write!(o, "<th class=\"n\">{}</th>", Escaped(name));
    }
    o.push_str("<th class=\"n\">Penalties</th><th class=\"n\">Energy not served (MWh)</th><th class=\"n\">Peak customers off</th><th class=\"n\">Restored at</th></tr></thead><tbody>");
    for row in &c.teams {
        let _ = write!(o, "<tr><td>{}</td><td class=\"n\"><b>{:.2}</b></td>", Escaped(&row.team), row.total);
        for name in &comps {
            let _ = write!(o, "<td class=\"n\">{:.2}</td>", row.components.get(name).copied().unwrap_or(0.0));
        }
        let _ = write!(
            o,
            "<td class=\"n\">{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.0}</td><td class=\"n\">{}</td></tr>",
            if row.penalty_points > 0.0 { format!("−{}", row.penalty_points) } else { "0".into() },
            row.ens_mwh,
            row.customers_off_peak,
            row.restored_at_s.map_or_else(|| "—".into(), hmm)
        );
    }
    o.push_str("</tbody></table>");
    let steps: Vec<&String> =
        c.teams.first().map(|t| t.time_to_detect_s.keys().collect()).unwrap_or_default();
    if !steps.is_empty() {
        o.push_str("<h3>Time to detect each attack step on the wire</h3><table class=\"ttd-table\"><thead><tr><th>Team</th>");
        // Keys are sorted by id; show them in the exercise's order.
        let ordered: Vec<&str> = r
            .teams
            .first()
            .map(|t| t.steps.iter().filter(|s| s.on_wire).map(|s| s.step.as_str()).collect())
            .unwrap_or_default();
        for s in &ordered {
            let _ = write!(o, "<th class=\"n\">{}</th>", Escaped(s));
        }
        o.push_str("</tr></thead><tbody>");
        for (row, t) in c.teams.iter().zip(&r.teams) {
            let _ = write!(o, "<tr><td>{}</td>", Escaped(&row.team));
            for s in &ordered {
                let began = t.steps.iter().any(|x| x.step == *s && x.began_s.is_some());
                let cell = match row.time_to_detect_s.get(*s).copied().flatten() {
                    Some(d) => dur(Some(d)),
                    None if began => "<span class=\"no\">not detected</span>".into(),
                    None => "did not happen".into(),
                };
                let _ = write!(o, "<td class=\"n\">{cell}</td>");
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("<h3>Steps no team detected</h3>");
    if c.undetected.is_empty() {
        o.push_str("<p>Every attack step on the wire that happened was detected by at least one team.</p>");
    } else {
        o.push_str("<ul class=\"undetected\">");
        for s in &c.undetected {
            let name = r
                .teams
                .iter()
                .flat_map(|t| &t.steps)
                .find(|x| &x.step == s)
                .map(|x| x.name.as_str())
                .unwrap_or("");
            let _ = write!(o, "<li><b>{}</b>: {}</li>", Escaped(s), Escaped(name));
        }
        o.push_str("</ul>");
    }
    o.push_str("<h3>Recommendations (ATT&amp;CK for ICS mitigations for the gaps found)</h3>");
    if c.recommendations.is_empty() && c.unmapped.is_empty() {
        o.push_str("<p>No gap found: every step that happened was detected and contained.</p>");
    }
    if !c.unmapped.is_empty() {
        o.push_str("<p>Gaps whose techniques have no mitigation in the report's table (add them to it):</p><ul class=\"unmapped\">");
        for tr in &c.unmapped {
            trigger(o, tr);
        }
        o.push_str("</ul>");
    }
    if !c.recommendations.is_empty() {
        o.push_str("<table class=\"recs\"><thead><tr><th>Mitigation</th><th>What it asks</th><th>Evidence that calls for it</th></tr></thead><tbody>");
        for rec in &c.recommendations {
            let mut ev = String::new();
            for tr in rec.triggers.iter().take(8) {
                trigger(&mut ev, tr);
            }
            if rec.triggers.len() > 8 {
                let _ = write!(ev, "<li>and {} more</li>", rec.triggers.len() - 8);
            }
            let _ = write!(
                o,
                "<tr><td><b>{}</b> {}</td><td>{}</td><td><ul>{ev}</ul></td></tr>",
                Escaped(&rec.mitigation),
                Escaped(&rec.name),
                Escaped(&rec.description)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");
}

/// A gap that calls for a mitigation, as a list item.
fn trigger(o: &mut String, tr: &crate::Trigger) {
    let _ = write!(
        o,
        "<li>{}: step <b>{}</b> ({}) {} {}</li>",
        Escaped(&tr.team),
        Escaped(&tr.step),
        Escaped(&tr.technique),
        tr.gap,
        src(&tr.source)
    );
}

fn team(o: &mut String, k: usize, t: &TeamReport) {
    let _ = write!(
        o,
        "<section class=\"team\" id=\"team-{k}\" data-team=\"{}\"><h2>Team {}</h2><p class=\"sub\">Defender {}, seed {}, address block {}; {} journal entries{}.</p>",
        Escaped(&t.team),
        Escaped(&t.team),
        Escaped(&t.defender),
        t.seed,
        Escaped(&t.base),
        t.entries,
        if t.ended { "" } else { "; <b class=\"no\">the run had not ended</b>" }
    );
    // Figures.
    let f = &t.figures;
    o.push_str("<dl class=\"figs\">");
    fig(
        o,
        "Score",
        &Figure { value: Some(t.score.total), t_s: None, source: vec![] },
        format!("{:.2}", t.score.total),
    );
    fig(o, "Energy not served", &f.ens_mwh, format!("{} MWh", num(f.ens_mwh.value, 2)));
    fig(o, "Peak customers off", &f.customers_off_peak, num(f.customers_off_peak.value, 0));
    fig(o, "Frequency nadir", &f.nadir_hz, format!("{} Hz", num(f.nadir_hz.value, 3)));
    fig(o, "Frequency zenith", &f.zenith_hz, format!("{} Hz", num(f.zenith_hz.value, 3)));
    fig(o, "First outage", &f.first_outage_s, f.first_outage_s.value.map_or_else(|| "none".into(), hmm));
    let restored = match (f.restored_at_s.value, f.first_outage_s.value) {
        (Some(r), _) => hmm(r),
        (None, None) => "no outage".into(),
        (None, Some(_)) => "not restored".into(),
    };
    fig(o, "Restored at", &f.restored_at_s, restored);
    fig(o, "Time to restore", &f.time_to_restore_s, dur(f.time_to_restore_s.value));
    fig(o, "Alerts", &f.alerts, num(f.alerts.value, 0));
    fig(o, "Team actions", &f.actions, num(f.actions.value, 0));
    o.push_str("</dl>");

    // Plots.
    o.push_str("<h3>Plots</h3>");
    for (name, svg) in [
        ("frequency", svg::frequency(t)),
        ("load", svg::load(t)),
        ("customers", svg::customers(t)),
        ("activity", svg::activity(t)),
    ] {
        let _ = write!(
            o,
            "<figure class=\"plot-{name}\">{svg}<figcaption>Samples every minute (journal supply entries); dashed red lines: the attack's steps.</figcaption></figure>"
        );
    }

    // Steps.
    o.push_str("<h3>Attack steps: detection and containment</h3><table class=\"steps\"><thead><tr><th>#</th><th>Step</th><th>ATT&amp;CK</th><th>Began</th><th>Detected</th><th>Contained</th></tr></thead><tbody>");
    for (i, s) in t.steps.iter().enumerate() {
        let began = match (s.began_s, &s.prevented) {
            (Some(b), _) => format!("{} {}", hmm(b), src(&s.source)),
            (None, Some(why)) => format!("prevented: {} {}", Escaped(why), src(&s.source)),
            (None, None) => "did not happen".into(),
        };
        let detected = match (&s.detected, s.began_s, s.on_wire) {
            (Some(d), _, _) => {
                format!(
                    "alert after {} by {} {}; {}",
                    dur(Some(d.after_s)),
                    Escaped(&d.rules.join(", ")),
                    src(&d.source),
                    match d.noticed_after_s {
                        Some(n) => format!("the team acted after {}", dur(Some(n))),
                        None => "<span class=\"no\">nobody acted on it</span>".into(),
                    }
                )
            }
            (None, Some(_), true) => "<span class=\"no\">not detected</span>".into(),
            (None, Some(_), false) => "off the wire (logs only)".into(),
            (None, None, _) => "—".into(),
        };
        let contained = match (&s.contained, s.began_s) {
            (Some(c), _) => format!(
                "after {}: {} by {} {}",
                dur(Some(c.after_s)),
                Escaped(&c.action),
                Escaped(&c.actor),
                src(&c.source)
            ),
            (None, Some(_)) => "<span class=\"no\">not contained</span>".into(),
            (None, None) => "—".into(),
        };
        let _ = write!(
            o,
            "<tr data-step=\"{}\"><td>{}</td><td><b>{}</b> {}</td><td>{}</td><td>{began}</td><td>{detected}</td><td>{contained}</td></tr>",
            Escaped(&s.step),
            i + 1,
            Escaped(&s.step),
            Escaped(&s.name),
            Escaped(&s.techniques.join(", "))
        );
    }
    o.push_str("</tbody></table>");

    // Score.
    let sc = &t.score;
    o.push_str("<h3>Score</h3><table class=\"score\"><thead><tr><th>Component</th><th class=\"n\">Value (0-1)</th><th class=\"n\">Weight</th><th class=\"n\">Points</th><th>From</th></tr></thead><tbody>");
    for c in &sc.components {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td>{}</td></tr>",
            Escaped(&c.name),
            c.value,
            c.weight,
            c.points,
            src(&c.source)
        );
    }
    let _ = write!(
        o,
        "<tr><td>penalties</td><td></td><td></td><td class=\"n\">{}</td><td></td></tr><tr><th>total</th><th></th><th></th><th class=\"n\">{:.2}</th><th></th></tr></tbody></table>",
        if sc.penalty_points > 0.0 { format!("−{}", sc.penalty_points) } else { "0".into() },
        sc.total
    );
    if !sc.penalties.is_empty() {
        o.push_str("<table class=\"penalties\"><thead><tr><th>At</th><th>Penalty</th><th class=\"n\">Points</th></tr></thead><tbody>");
        for p in &sc.penalties {
            let _ = write!(
                o,
                "<tr><td>{} {}</td><td>{}</td><td class=\"n\">−{}</td></tr>",
                hmm(p.t_s),
                src(&p.source),
                Escaped(&p.why),
                p.points
            );
        }
        o.push_str("</tbody></table>");
    }
    if !sc.hint_costs.is_empty() {
        o.push_str("<table class=\"hints\"><thead><tr><th>At</th><th>Hint taken for</th><th class=\"n\">Cost</th></tr></thead><tbody>");
        for h in &sc.hint_costs {
            let cost = if h.deducted {
                format!("−{}", h.cost)
            } else {
                format!("{} (not deducted: the question was not answered right)", h.cost)
            };
            let _ = write!(
                o,
                "<tr><td>{} {}</td><td>{}</td><td class=\"n\">{cost}</td></tr>",
                hmm(h.t_s),
                src(&h.source),
                Escaped(&h.question)
            );
        }
        o.push_str("</tbody></table>");
    }

    // Questions.
    o.push_str("<h3>Questions</h3><table class=\"questions\"><thead><tr><th>Question</th><th>Answer given</th><th class=\"n\">Points</th><th>Right answer, and where it was</th></tr></thead><tbody>");
    for q in &t.questions {
        let verdict = if q.withdrawn {
            "withdrawn (the run made it meaningless)".to_string()
        } else {
            match (&q.answer, q.correct) {
                (Some(a), true) => format!("<span class=\"yes\">{}</span> (right)", Escaped(a)),
                (Some(a), false) => format!("<span class=\"no\">{}</span> (wrong)", Escaped(a)),
                (None, _) => "<span class=\"no\">not answered</span>".into(),
            }
        };
        let right = if q.missed || q.withdrawn {
            format!(
                "<b>{}</b><br><span class=\"note\">{}</span>",
                Escaped(&q.right_answer),
                Escaped(&q.evidence)
            )
        } else {
            Escaped(&q.right_answer).to_string()
        };
        let _ = write!(
            o,
            "<tr class=\"{}\" data-question=\"{}\"><td>{}</td><td>{verdict} {}</td><td class=\"n\">{:.0} / {:.0}{}</td><td>{right}</td></tr>",
            if q.missed { "missed" } else { "" },
            Escaped(&q.id),
            Escaped(&q.text),
            src(&q.source),
            q.earned,
            q.points,
            match (q.hint_cost > 0.0, q.correct && !q.withdrawn) {
                (true, true) => format!(" (hints −{})", q.hint_cost),
                (true, false) => format!(" (hints taken: {}, not deducted)", q.hint_cost),
                (false, _) => String::new(),
            }
        );
    }
    o.push_str("</tbody></table>");

    // Timeline.
    let _ = write!(o, "<h3>Timeline</h3><div class=\"filters\" role=\"group\" aria-label=\"Show\">");
    for (kind, what) in KINDS {
        let n = t.timeline.iter().filter(|i| i.kind == *kind).count();
        let _ = write!(
            o,
            "<label title=\"{}\"><input type=\"checkbox\" class=\"f-{kind}\" data-kind=\"{kind}\"{}> {kind} ({n})</label>",
            Escaped(what),
            if *kind == "command" { "" } else { " checked" }
        );
    }
    o.push_str("</div><table class=\"timeline\"><thead><tr><th>At</th><th>Kind</th><th>Who</th><th>What</th><th>ATT&amp;CK</th><th>Journal</th></tr></thead><tbody>");
    for it in &t.timeline {
        let _ = write!(
            o,
            "<tr class=\"k-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            it.kind,
            hms(it.t_s),
            it.kind,
            Escaped(it.actor.as_deref().unwrap_or("")),
            Escaped(&it.text),
            Escaped(&it.techniques.join(", ")),
            src(&it.source)
        );
    }
    o.push_str("</tbody></table></section>");
}
