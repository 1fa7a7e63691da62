//! An SVG being written, with the box of every symbol and label it holds, and the check that
//! none overlaps another and all lie inside the view.

use std::fmt::Write;

use report::escape::Escaped;

/// Text is drawn at 12 px monospace: an advance of 0.6 em, taken a little wider.
pub(super) const CHAR_W: f64 = 7.3;
pub(super) const LINE_H: f64 = 17.0;

/// A box: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect(pub f64, pub f64, pub f64, pub f64);

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.0 < o.2 && o.0 < self.2 && self.1 < o.3 && o.1 < self.3
    }
    fn inside(&self, o: &Rect) -> bool {
        self.0 >= o.0 && self.1 >= o.1 && self.2 <= o.2 && self.3 <= o.3
    }
}

/// A drawn display: its SVG and the boxes of what it drew.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub svg: String,
    pub width: f64,
    pub height: f64,
    /// Symbols (breakers, transformers, units, loads) and the labels' text boxes.
    pub symbols: Vec<Rect>,
    pub labels: Vec<(Rect, String)>,
    /// Tiles: each holds its own labels, none overlaps another.
    pub frames: Vec<Rect>,
}

impl Drawing {
    /// Records a label of `w` px at (x, y) anchored as SVG anchors it: its box, 12 px text
    /// from baseline to descent.
    pub(super) fn label_box(&mut self, x: f64, y: f64, w: f64, anchor: &str, s: &str) {
        let x0 = match anchor {
            "middle" => x - w / 2.0,
            "end" => x - w,
            _ => x,
        };
        self.labels.push((Rect(x0, y - 12.0, x0 + w, y + 3.0), s.to_string()));
    }

    /// Writes a text and records its box.
    pub(super) fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, attrs: &str, s: &str) {
        self.label_box(x, y, s.chars().count() as f64 * CHAR_W, anchor, s);
        let _ = write!(
            self.svg,
            r#"<text class="{class}" x="{x:.1}" y="{y:.1}" text-anchor="{anchor}"{attrs}>{}</text>"#,
            Escaped(s)
        );
    }

    /// What is wrong with the drawing's geometry: overlapping symbols or labels, a label on a
    /// symbol, anything outside the view. Empty when it is sound.
    pub fn problems(&self) -> Vec<String> {
        let view = Rect(0.0, 0.0, self.width, self.height);
        let mut out = Vec::new();
        for (i, a) in self.symbols.iter().enumerate() {
            if !a.inside(&view) {
                out.push(format!("symbol {a:?} outside the view"));
            }
            for b in &self.symbols[i + 1..] {
                if a.overlaps(b) {
                    out.push(format!("symbols {a:?} and {b:?} overlap"));
                }
            }
            for (l, s) in &self.labels {
                if a.overlaps(l) {
                    out.push(format!("label {s:?} on a symbol {a:?}"));
                }
            }
        }
        for (i, (a, s)) in self.labels.iter().enumerate() {
            if !a.inside(&view) {
                out.push(format!("label {s:?} outside the view"));
            }
            for (b, t) in &self.labels[i + 1..] {
                if a.overlaps(b) {
                    out.push(format!("labels {s:?} and {t:?} overlap"));
                }
            }
        }
        for (i, f) in self.frames.iter().enumerate() {
            if !f.inside(&view) {
                out.push(format!("tile {f:?} outside the view"));
            }
            for g in &self.frames[i + 1..] {
                if f.overlaps(g) {
                    out.push(format!("tiles {f:?} and {g:?} overlap"));
                }
            }
        }
        out
    }
}
