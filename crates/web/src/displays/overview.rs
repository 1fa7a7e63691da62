//! Level 1: every area a panel, every station a tile.

use std::fmt::Write;

use report::escape::Escaped;

use super::drawing::{CHAR_W, Drawing, LINE_H, Rect};
use super::{Plant, StationState, Values, summary, thousands, wrap};

const GAP: f64 = 8.0;
const HEAD: f64 = 28.0;
/// Above this many stations the overview's tiles are compact (name and state), so that a grid
/// of a hundred stations still reads on one screen.
const COMPACT_ABOVE: usize = 48;

/// A tile's size and the characters of 12 px monospace a line holds.
#[derive(Debug, Clone, Copy)]
struct Tile {
    w: f64,
    h: f64,
    chars: usize,
    compact: bool,
}

const FULL: Tile = Tile { w: 176.0, h: 80.0, chars: 22, compact: false };
const COMPACT: Tile = Tile { w: 112.0, h: 38.0, chars: 14, compact: true };

pub(super) fn state_words(s: &StationState, compact: bool) -> String {
    if compact {
        let state = match s.state {
            "energised" => "ok",
            "partly" => "PARTLY",
            "dark" => "DARK",
            _ => return "NO DATA".to_string(),
        };
        return if s.comm { state.to_string() } else { format!("{state} NO COMM") };
    }
    let state = match s.state {
        "energised" => "energised",
        "partly" => "PARTLY DARK",
        "dark" => "DARK",
        // Never heard from: nothing to say of its communication either.
        _ => return "no data".to_string(),
    };
    if s.comm { state.to_string() } else { format!("{state} · NO COMM") }
}

fn off_words(s: &StationState) -> String {
    if s.customers_off == 0 {
        "all supplied".to_string()
    } else {
        format!("{} off", thousands(s.customers_off))
    }
}

/// The overview: every area a panel, every station a tile, sized to fit a 1000×600 box.
pub fn overview(plant: &Plant, v: &Values) -> Drawing {
    let states = summary(plant, v);
    let t = if plant.stations.len() > COMPACT_ABOVE { COMPACT } else { FULL };
    // Tiles per row in a panel and panels per row: what fits a 1000×600 box largest.
    let counts: Vec<usize> = plant.areas.iter().map(|a| a.stations.len().max(1)).collect();
    let most = counts.iter().copied().max().unwrap_or(1);
    let mut best = (0.0f64, 1usize, 1usize);
    for per_row in 1..=most.min(8) {
        for cols in 1..=counts.len() {
            let pw = per_row as f64 * (t.w + GAP) + GAP;
            let w = cols as f64 * (pw + GAP) + GAP;
            let h: f64 = counts
                .chunks(cols)
                .map(|row| {
                    row.iter()
                        .map(|&n| HEAD + n.div_ceil(per_row) as f64 * (t.h + GAP) + GAP)
                        .fold(0.0, f64::max)
                        + GAP
                })
                .sum::<f64>()
                + GAP;
            let scale = (1000.0 / w).min(600.0 / h);
            if scale > best.0 + 1e-9 {
                best = (scale, per_row, cols);
            }
        }
    }
    let (_, per_row, cols) = best;
    let pw = per_row as f64 * (t.w + GAP) + GAP;
    let width = cols as f64 * (pw + GAP) + GAP;
    let mut d = Drawing::default();
    let mut y0 = GAP;
    for (r, row) in plant.areas.chunks(cols).enumerate() {
        let row_h = row
            .iter()
            .map(|a| HEAD + a.stations.len().max(1).div_ceil(per_row) as f64 * (t.h + GAP) + GAP)
            .fold(0.0, f64::max);
        for (c, area) in row.iter().enumerate() {
            let ai = r * cols + c;
            let x0 = GAP + c as f64 * (pw + GAP);
            let _ = write!(
                d.svg,
                r#"<g class="area" data-area="{ai}"><rect class="panel" x="{x0:.1}" y="{y0:.1}" width="{pw:.1}" height="{row_h:.1}"/>"#
            );
            let title = wrap(&area.name, ((pw - 16.0) / CHAR_W) as usize)[0].clone();
            d.text(x0 + 8.0, y0 + 19.0, "start", "area-name", "", &title);
            for (i, &k) in area.stations.iter().enumerate() {
                let tx = x0 + GAP + (i % per_row) as f64 * (t.w + GAP);
                let ty = y0 + HEAD + (i / per_row) as f64 * (t.h + GAP);
                let s = &plant.stations[k];
                let st = &states[k];
                d.frames.push(Rect(tx, ty, tx + t.w, ty + t.h));
                let _ = write!(
                    d.svg,
                    r#"<g class="tile {}{}" id="st{k}" data-station="{k}" data-name="{}" tabindex="0" role="link"><rect x="{tx:.1}" y="{ty:.1}" width="{}" height="{}" rx="3"/>"#,
                    st.state,
                    if st.comm { "" } else { " nocomm" },
                    Escaped(&s.name),
                    t.w,
                    t.h
                );
                // The town on the first line, the voltages on the second.
                let lines = match s.name.rsplit_once(' ') {
                    _ if t.compact => wrap(&s.name, t.chars)[..1].to_vec(),
                    Some((town, kv))
                        if (kv.contains('/') || kv.chars().all(|c| c.is_ascii_digit()))
                            && town != "Bus"
                            && town.chars().count() <= t.chars =>
                    {
                        vec![town.to_string(), kv.to_string()]
                    }
                    _ => wrap(&s.name, t.chars),
                };
                d.text(tx + 8.0, ty + LINE_H, "start", "name", "", &lines[0]);
                if let Some(l2) = lines.get(1) {
                    d.text(tx + 8.0, ty + 2.0 * LINE_H, "start", "name2", "", l2);
                }
                let sw = state_words(st, t.compact);
                let state_line = if t.compact { 2.0 } else { 3.0 };
                d.text(
                    tx + 8.0,
                    ty + state_line * LINE_H,
                    "start",
                    "state",
                    &format!(r#" id="st{k}-s""#),
                    &sw,
                );
                // The state line may grow ("PARTLY DARK · NO COMM"), the next one too
                // ("225,000 off · 12 alarms"): their boxes are a whole line's.
                if let Some(last) = d.labels.last_mut() {
                    last.0.2 = last.0.0 + t.chars as f64 * CHAR_W;
                }
                if t.compact {
                    d.svg.push_str("</g>");
                    continue;
                }
                let ow = off_words(st);
                d.text(tx + 8.0, ty + 4.0 * LINE_H, "start", "off", &format!(r#" id="st{k}-o""#), &ow);
                if let Some(last) = d.labels.last_mut() {
                    last.0.2 = last.0.0 + t.chars as f64 * CHAR_W;
                }
                d.svg.push_str("</g>");
            }
            d.svg.push_str("</g>");
        }
        y0 += row_h + GAP;
    }
    let height = y0;
    d.width = width;
    d.height = height;
    let inner = std::mem::take(&mut d.svg);
    d.svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="overview" class="display{}" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="group" aria-label="Overview: every substation by area">{inner}</svg>"#,
        if t.compact { " compact" } else { "" }
    );
    d
}
