//! The report's plots, drawn as SVG on one time axis (the run's, in minutes): frequency,
//! served against demanded load, customers off, and the alerts and actions over time with
//! the attack's steps marked. Hand-written: four plots of a few hundred points do not earn a
//! plotting crate.
//!
//! Each plot is an `<svg class="plot" data-plot=NAME data-points=N>`; its data are
//! `polyline.series` (each series, by its second class, has N vertices in all: one per
//! sample, the frequency's without the samples of a blackout, where its line breaks) or
//! `circle.pt` (N, one per event), with a `<title>` naming the journal line of each marker.

use crate::escape::Escaped;
use std::fmt::Write as _;

use crate::{Series, StepReport, TeamReport};

const W: f64 = 760.0;
const H: f64 = 190.0;
const L: f64 = 64.0;
const R: f64 = 14.0;
const T: f64 = 26.0;
const B: f64 = 34.0;

/// A time in minutes as h:mm.
pub(crate) fn hmm(t_s: f64) -> String {
    let m = (t_s / 60.0).round() as i64;
    format!("{}:{:02}", m / 60, m % 60)
}

/// A time as h:mm:ss.
pub(crate) fn hms(t_s: f64) -> String {
    let s = t_s.round() as i64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A "nice" step for about `n` ticks over `span`.
fn nice(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

struct Axes {
    t_end: f64,
    y0: f64,
    y1: f64,
}

impl Axes {
    fn x(&self, t_s: f64) -> f64 {
        L + (t_s / self.t_end.max(1.0)).clamp(0.0, 1.0) * (W - L - R)
    }
    fn y(&self, v: f64) -> f64 {
        let span = (self.y1 - self.y0).max(1e-12);
        T + (1.0 - ((v - self.y0) / span).clamp(0.0, 1.0)) * (H - T - B)
    }
}

fn open(out: &mut String, name: &str, title: &str, points: usize) {
    let _ = write!(
        out,
        "<svg class=\"plot\" data-plot=\"{name}\" data-points=\"{points}\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text class=\"title\" x=\"{L}\" y=\"16\">{t}</text>",
        t = Escaped(title)
    );
}

/// Axes, grid lines and labels; `fmt` prints a y value.
fn frame(out: &mut String, a: &Axes, unit: &str, fmt: &dyn Fn(f64) -> String) {
    // Time ticks: minutes, about eight.
    let minutes = a.t_end / 60.0;
    let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 240.0]
        .into_iter()
        .find(|s| minutes / s <= 9.0)
        .unwrap_or(480.0);
    let mut m = 0.0;
    while m <= minutes + 1e-9 {
        let x = a.x(m * 60.0);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{T}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            H - B,
            H - B + 13.0,
            hmm(m * 60.0)
        );
        m += step;
    }
    let ystep = nice(a.y1 - a.y0, 4.0);
    let mut v = (a.y0 / ystep).ceil() * ystep;
    while v <= a.y1 + 1e-9 {
        let y = a.y(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{L}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 5.0,
            y + 3.5,
            fmt(v)
        );
        v += ystep;
    }
    let _ = write!(
        out,
        "<rect class=\"box\" x=\"{L}\" y=\"{T}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         <text class=\"unit\" x=\"{:.1}\" y=\"16\" text-anchor=\"end\">{}</text>\
         <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">time into the run (h:mm)</text>",
        W - L - R,
        H - T - B,
        W - R,
        Escaped(unit),
        W - R,
        H - 4.0
    );
}

/// The attack's steps as dashed lines (labelled where `label`).
fn steps(out: &mut String, a: &Axes, steps: &[StepReport], label: bool) {
    for (k, s) in steps.iter().enumerate() {
        let Some(t) = s.began_s else { continue };
        let x = a.x(t);
        let _ = write!(
            out,
            "<line class=\"step\" x1=\"{x:.1}\" y1=\"{T}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>step {} `{}` began at {} (journal line {})</title></line>",
            H - B,
            k + 1,
            Escaped(&s.step),
            hmm(t),
            s.source.first().copied().unwrap_or(0)
        );
        if label {
            let _ = write!(
                out,
                "<text class=\"steplabel\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x + 2.0,
                T + 9.0,
                k + 1
            );
        }
    }
}

fn polyline(out: &mut String, a: &Axes, class: &str, pts: impl Iterator<Item = (f64, f64)>) -> usize {
    let mut s = String::new();
    let mut n = 0;
    for (t, v) in pts {
        let _ = write!(s, "{:.1},{:.1} ", a.x(t), a.y(v));
        n += 1;
    }
    let _ = write!(out, "<polyline class=\"series {class}\" points=\"{}\"/>", s.trim_end());
    n
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

fn end_of(t: &TeamReport) -> f64 {
    t.end_s.max(t.series.t_s.last().copied().unwrap_or(0.0)).max(60.0)
}

pub(crate) fn frequency(t: &TeamReport) -> String {
    let s: &Series = &t.series;
    let f0 = s.f0_hz;
    let live = |v: &f64| *v > 0.0;
    let (lo, hi) = range(s.f_min_hz.iter().chain(&s.f_max_hz).chain(&s.f_hz).copied().filter(live));
    let (lo, hi) = if lo.is_finite() { (lo.min(f0 - 0.05), hi.max(f0 + 0.05)) } else { (f0 - 0.5, f0 + 0.5) };
    let pad = (hi - lo) * 0.08;
    let a = Axes { t_end: end_of(t), y0: lo - pad, y1: hi + pad };
    let n = s.t_s.len();
    // A blackout has no frequency: the line and the band break there (runs of samples with
    // something energised).
    let runs = |live: &dyn Fn(usize) -> bool| -> Vec<Vec<usize>> {
        let mut runs: Vec<Vec<usize>> = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        for i in 0..n {
            if live(i) {
                cur.push(i);
            } else if !cur.is_empty() {
                runs.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            runs.push(cur);
        }
        runs
    };
    let line_runs = runs(&|i| s.f_hz[i] > 0.0);
    let drawn: usize = line_runs.iter().map(Vec::len).sum();
    let mut out = String::new();
    open(&mut out, "frequency", "Frequency: main island now (line), extremes between samples (band)", drawn);
    frame(&mut out, &a, "Hz", &|v| format!("{v:.2}"));
    for band in runs(&|i| s.f_min_hz[i] > 0.0) {
        let mut p = String::new();
        for &i in &band {
            let _ = write!(p, "{:.1},{:.1} ", a.x(s.t_s[i]), a.y(s.f_max_hz[i]));
        }
        for &i in band.iter().rev() {
            let _ = write!(p, "{:.1},{:.1} ", a.x(s.t_s[i]), a.y(s.f_min_hz[i]));
        }
        let _ = write!(out, "<polygon class=\"band\" points=\"{}\"/>", p.trim_end());
    }
    let y = a.y(f0);
    let _ =
        write!(out, "<line class=\"nominal\" x1=\"{L}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>", W - R);
    steps(&mut out, &a, &t.steps, false);
    for run in &line_runs {
        polyline(&mut out, &a, "f", run.iter().map(|&i| (s.t_s[i], s.f_hz[i])));
    }
    if let (Some(v), Some(tt)) = (t.figures.nadir_hz.value, t.figures.nadir_hz.t_s) {
        let _ = write!(
            out,
            "<circle class=\"nadir\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>nadir {v:.3} Hz in the minute to {} (journal line {})</title></circle>",
            a.x(tt),
            a.y(v),
            hmm(tt),
            t.figures.nadir_hz.source.first().copied().unwrap_or(0)
        );
    }
    out.push_str("</svg>");
    out
}

pub(crate) fn load(t: &TeamReport) -> String {
    let s = &t.series;
    let (_, hi) = range(s.demand_mw.iter().chain(&s.served_mw).copied());
    let hi = if hi.is_finite() && hi > 0.0 { hi * 1.08 } else { 1.0 };
    let a = Axes { t_end: end_of(t), y0: 0.0, y1: hi };
    let n = s.t_s.len();
    let mut out = String::new();
    open(&mut out, "load", "Load: demanded (dashed) and served (solid)", n);
    frame(&mut out, &a, "MW", &|v| format!("{v:.0}"));
    steps(&mut out, &a, &t.steps, false);
    polyline(&mut out, &a, "demand", (0..n).map(|i| (s.t_s[i], s.demand_mw[i])));
    polyline(&mut out, &a, "served", (0..n).map(|i| (s.t_s[i], s.served_mw[i])));
    out.push_str("</svg>");
    out
}

pub(crate) fn customers(t: &TeamReport) -> String {
    let s = &t.series;
    let hi = s.customers_off.iter().copied().max().unwrap_or(0) as f64;
    let a = Axes { t_end: end_of(t), y0: 0.0, y1: if hi > 0.0 { hi * 1.08 } else { 1.0 } };
    let n = s.t_s.len();
    let mut out = String::new();
    open(&mut out, "customers", "Customers off supply", n);
    frame(&mut out, &a, "customers", &|v| format!("{v:.0}"));
    steps(&mut out, &a, &t.steps, false);
    polyline(&mut out, &a, "off", (0..n).map(|i| (s.t_s[i], s.customers_off[i] as f64)));
    out.push_str("</svg>");
    out
}

/// Alerts, the team's actions and injects over time, one row each, with the attack's steps.
pub(crate) fn activity(t: &TeamReport) -> String {
    let rows: [(&str, &[&str], &str); 4] = [
        ("attack steps", &["attack"], "attack"),
        ("alerts", &["alert"], "alert"),
        ("actions", &["action", "answer"], "action"),
        ("injects", &["inject"], "inject"),
    ];
    let a = Axes { t_end: end_of(t), y0: 0.0, y1: 4.0 };
    let mut body = String::new();
    let mut n = 0;
    for (k, (name, kinds, class)) in rows.iter().enumerate() {
        let y = a.y(3.5 - k as f64);
        let _ = write!(
            body,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>",
            L - 5.0,
            y + 3.5
        );
        if *class == "attack" {
            for (i, s) in t.steps.iter().enumerate() {
                let Some(tt) = s.began_s else { continue };
                n += 1;
                let _ = write!(
                    body,
                    "<circle class=\"pt attack\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\"><title>step {} `{}` ({}) at {} (journal line {})</title></circle>",
                    a.x(tt),
                    i + 1,
                    Escaped(&s.step),
                    Escaped(&s.techniques.join(", ")),
                    hmm(tt),
                    s.source.first().copied().unwrap_or(0)
                );
            }
            continue;
        }
        for it in t.timeline.iter().filter(|i| kinds.contains(&i.kind)) {
            if *class == "action" && it.actor_kind == Some("instructor") {
                continue;
            }
            n += 1;
            let _ = write!(
                body,
                "<circle class=\"pt {class}\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"2.5\"><title>{} {} (journal line {})</title></circle>",
                a.x(it.t_s),
                hmm(it.t_s),
                Escaped(&it.text),
                it.source.first().copied().unwrap_or(0)
            );
        }
    }
    let mut out = String::new();
    open(&mut out, "activity", "Attack steps (numbered), alerts, actions and injects", n);
    frame(&mut out, &a, "", &|_| String::new());
    steps(&mut out, &a, &t.steps, true);
    out.push_str(&body);
    out.push_str("</svg>");
    out
}
