//! Level 2: a station's one-line, a tree from its highest voltage down.

use std::collections::HashMap;
use std::fmt::Write;

use devices::rtu::ioa;
use report::escape::Escaped;

use super::drawing::{CHAR_W, Drawing, Rect};
use super::{Plant, Values, kv_text, stale, thousands, wrap};

const SLOT: f64 = 132.0;
const ROW: f64 = 190.0;
const LEFT: f64 = 110.0;
const SLOT_CHARS: usize = 17;
/// Between two buses side by side: a bus's voltage on its right, the next one's name on its left.
const BUS_GAP: f64 = 120.0;

/// What hangs off a bus in one slot.
#[derive(Debug, Clone)]
enum Item {
    /// A line leaving the station (branch row).
    Out(usize),
    /// A unit (its index at the bus).
    Unit(usize),
    /// The bus's load.
    Load,
    /// An edge to a bus of the station below (branch row, the child bus).
    Down(usize, usize),
}

struct StationLayout {
    /// Each drawn bus: (bus, x of its slots, row).
    buses: Vec<(usize, Vec<f64>, usize)>,
    up: HashMap<usize, Vec<(Item, f64)>>,
    down: HashMap<usize, Vec<(Item, f64)>>,
    /// Where each child's edge from its parent arrives: branch → x.
    arrive: HashMap<usize, f64>,
    width: f64,
    rows: usize,
}

fn layout_station(plant: &Plant, k: usize) -> StationLayout {
    let s = &plant.stations[k];
    let inside = |b: usize| plant.buses[b].station == k;
    // A tree from the highest-voltage buses down: each bus's parent edge is the first
    // internal branch that reaches it.
    let mut parent: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut children: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
    let mut seen: Vec<usize> = Vec::new();
    let mut roots = Vec::new();
    let mut tree_edges = std::collections::HashSet::new();
    for &r in &s.buses {
        if seen.contains(&r) {
            continue;
        }
        roots.push(r);
        seen.push(r);
        let mut q = std::collections::VecDeque::from([r]);
        while let Some(u) = q.pop_front() {
            for &br in &plant.buses[u].branches {
                let (f, t, _) = plant.branches[br];
                let v = if f == u { t } else { f };
                if v == u || !inside(v) {
                    continue;
                }
                if !seen.contains(&v) {
                    seen.push(v);
                    parent.insert(v, (u, br));
                    children.entry(u).or_default().push((br, v));
                    tree_edges.insert(br);
                    q.push_back(v);
                } else if parent.get(&v).is_some_and(|&(p, _)| p == u) && !tree_edges.contains(&br) {
                    // A parallel branch to a child (two transformers): drawn beside the first.
                    children.entry(u).or_default().push((br, v));
                    tree_edges.insert(br);
                }
            }
        }
    }
    let mut lay = StationLayout {
        buses: Vec::new(),
        up: HashMap::new(),
        down: HashMap::new(),
        arrive: HashMap::new(),
        width: 0.0,
        rows: 0,
    };
    // Places the subtree of `b` from x0 at `row`; returns the width it takes.
    fn place(
        plant: &Plant,
        b: usize,
        row: usize,
        x0: f64,
        children: &HashMap<usize, Vec<(usize, usize)>>,
        tree_edges: &std::collections::HashSet<usize>,
        lay: &mut StationLayout,
    ) -> f64 {
        let bus = &plant.buses[b];
        lay.rows = lay.rows.max(row + 1);
        let kids = children.get(&b).cloned().unwrap_or_default();
        let mut ups: Vec<Item> = Vec::new();
        let mut downs: Vec<Item> = Vec::new();
        for &br in &bus.branches {
            if tree_edges.contains(&br) {
                continue;
            }
            let (f, t, _) = plant.branches[br];
            let o = if f == b { t } else { f };
            if o == b {
                continue;
            }
            // Lines leaving (and internal non-tree ties) go up from a top bus, down otherwise.
            if row == 0 { ups.push(Item::Out(br)) } else { downs.push(Item::Out(br)) }
        }
        for j in 0..bus.units.len() {
            if row == 0 { ups.push(Item::Unit(j)) } else { downs.push(Item::Unit(j)) }
        }
        if bus.load.is_some() {
            downs.push(Item::Load);
        }
        // Children first, each under its arriving edges.
        let mut x = x0;
        let mut down_slots: Vec<(Item, f64)> = Vec::new();
        let mut done: Vec<usize> = Vec::new();
        for &(_, c) in &kids {
            if done.contains(&c) {
                continue;
            }
            done.push(c);
            let edges: Vec<usize> = kids.iter().filter(|e| e.1 == c).map(|e| e.0).collect();
            for (i, &br) in edges.iter().enumerate() {
                let ex = x + (i as f64 + 0.5) * SLOT;
                lay.arrive.insert(br, ex);
                down_slots.push((Item::Down(br, c), ex));
            }
            let w = place(plant, c, row + 1, x, children, tree_edges, lay);
            // Room between neighbouring buses for their names and voltages.
            x += w.max(edges.len() as f64 * SLOT) + BUS_GAP;
        }
        for it in downs {
            down_slots.push((it, x + 0.5 * SLOT));
            x += SLOT;
        }
        // Up slots: the parent's edges arrive at the first slots (set by the parent), then the
        // units and lines leaving.
        let arriving: Vec<f64> = bus
            .branches
            .iter()
            .filter(|br| lay.arrive.contains_key(br) && !kids.iter().any(|e| e.0 == **br))
            .map(|br| lay.arrive[br])
            .collect();
        let mut ux = x0 + arriving.len() as f64 * SLOT;
        let mut up_slots: Vec<(Item, f64)> = Vec::new();
        for it in ups {
            up_slots.push((it, ux + 0.5 * SLOT));
            ux += SLOT;
        }
        let width = (x - x0).max(ux - x0).max(SLOT);
        let mut xs: Vec<f64> = down_slots.iter().chain(up_slots.iter()).map(|s| s.1).collect();
        xs.extend(arriving);
        if xs.is_empty() {
            xs.push(x0 + 0.5 * SLOT);
        }
        lay.buses.push((b, xs, row));
        lay.up.insert(b, up_slots);
        lay.down.insert(b, down_slots);
        width
    }
    let mut x = LEFT;
    for &r in &roots {
        x += place(plant, r, 0, x, &children, &tree_edges, &mut lay) + BUS_GAP;
    }
    lay.width = x;
    lay
}

fn breaker(d: &mut Drawing, plant: &Plant, v: &Values, ca: u16, io: u32, cx: f64, cy: f64) {
    let name = plant.point_name(ca, io).unwrap_or_default();
    let (state, q) = match v.get(&(ca, io)) {
        Some(&(x, q)) => (
            if x == 2.0 {
                "closed"
            } else if x == 1.0 {
                "open"
            } else {
                "unknown"
            },
            q,
        ),
        None => ("unknown", 0),
    };
    let quality = if stale(q) { " stale" } else { "" };
    let words = match state {
        "closed" => "closed",
        "open" => "open",
        _ => "state unknown",
    };
    let _ = write!(
        d.svg,
        r#"<g class="brk {state}{quality}" id="k{ca}-{io}" data-ca="{ca}" data-ioa="{io}" data-cmd="{}" data-name="{}" tabindex="0" role="button" aria-label="{}, {words}{}"><rect x="{:.1}" y="{:.1}" width="12" height="12"/><path class="x" d="M{:.1} {:.1}l12 12m0 -12l-12 12"/><text class="q" x="{:.1}" y="{:.1}">?</text></g>"#,
        io + ioa::COMMAND_OFFSET,
        Escaped(&name),
        Escaped(&name),
        if stale(q) { ", not topical" } else { "" },
        cx - 6.0,
        cy - 6.0,
        cx - 6.0,
        cy - 6.0,
        cx + 8.0,
        cy + 5.0,
    );
    d.symbols.push(Rect(cx - 6.0, cy - 6.0, cx + 16.0, cy + 6.0));
}

fn value_text(v: &Values, ca: u16, io: u32, unit: &str) -> (String, &'static str) {
    match v.get(&(ca, io)) {
        Some(&(x, q)) if stale(q) => (format!("{x:.1} {unit} ?"), " stale"),
        Some(&(x, _)) => (format!("{x:.1} {unit}"), ""),
        None => (format!("– {unit}"), ""),
    }
}

/// A point's value at (x, y): `pt` is (common address, IOA, unit).
fn value(d: &mut Drawing, v: &Values, pt: (u16, u32, &str), x: f64, y: f64, anchor: &str) {
    let (ca, io, unit) = pt;
    let (t, q) = value_text(v, ca, io, unit);
    // The box of the longest such value ("-123.4 MW ?").
    d.label_box(x, y, (unit.len() + 9) as f64 * CHAR_W, anchor, &t);
    let _ = write!(
        d.svg,
        r#"<text class="val{q}" data-ca="{ca}" data-ioa="{io}" data-unit="{unit}" x="{x:.1}" y="{y:.1}" text-anchor="{anchor}">{}</text>"#,
        Escaped(&t)
    );
}

/// A line leaving or a unit, drawn up (`dir` −1) or down (+1) from the bus at `y`.
fn end_item(d: &mut Drawing, plant: &Plant, v: &Values, b: usize, it: &Item, (x, y): (f64, f64), dir: f64) {
    let bus = &plant.buses[b];
    let ca = bus.ca;
    // Label lines: baselines above (up) or below (down) the symbols.
    let label_y = |i: usize| if dir < 0.0 { y - 96.0 + i as f64 * 15.0 } else { y + 80.0 + i as f64 * 15.0 };
    match it {
        Item::Out(br) => {
            let slot = bus.branches.iter().position(|j| j == br).unwrap_or(0) as u32;
            let _ = write!(
                d.svg,
                r#"<line class="wire" x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}"/>"#,
                y + dir * 64.0
            );
            breaker(d, plant, v, ca, ioa::BRANCH_BREAKER + slot, x, y + dir * 18.0);
            value(
                d,
                v,
                (ca, ioa::BRANCH_MW + slot, "MW"),
                x - 8.0,
                if dir < 0.0 { y - 40.0 } else { y + 46.0 },
                "end",
            );
            let words = plant.branch_words(b, *br);
            for (i, l) in wrap(words.strip_prefix("line ").unwrap_or(&words), SLOT_CHARS).iter().enumerate() {
                d.text(x, label_y(i), "middle", "lbl", "", l);
            }
        }
        Item::Unit(j) => {
            let cy = y + dir * 55.0;
            let _ = write!(
                d.svg,
                r#"<line class="wire" x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}"/><circle class="gen" cx="{x:.1}" cy="{cy:.1}" r="11"/><path class="gen" d="M{:.1} {cy:.1}q3 -6 6 0t6 0"/>"#,
                y + dir * 44.0,
                x - 6.0,
            );
            d.symbols.push(Rect(x - 11.0, cy - 11.0, x + 11.0, cy + 11.0));
            breaker(d, plant, v, ca, ioa::UNIT_BREAKER + *j as u32, x, y + dir * 22.0);
            value(
                d,
                v,
                (ca, ioa::UNIT_MW + *j as u32, "MW"),
                x - 16.0,
                if dir < 0.0 { y - 40.0 } else { y + 46.0 },
                "end",
            );
            for (i, l) in wrap(&bus.units[*j], SLOT_CHARS).iter().enumerate() {
                d.text(x, label_y(i), "middle", "lbl", "", l);
            }
        }
        _ => {}
    }
}

/// A station's one-line.
pub fn station(plant: &Plant, k: usize, v: &Values) -> Drawing {
    let lay = layout_station(plant, k);
    let mut d = Drawing::default();
    let top = 110.0;
    let y_of = |row: usize| top + row as f64 * ROW;
    let width = lay.width + 110.0;
    let height = y_of(lay.rows.saturating_sub(1)) + 120.0;
    // Buses.
    for (b, xs, row) in &lay.buses {
        let bus = &plant.buses[*b];
        let y = y_of(*row);
        let x1 = xs.iter().copied().fold(f64::INFINITY, f64::min) - 40.0;
        let x2 = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 40.0;
        let (ca, bus_kv) = (bus.ca, bus.kv);
        let dead = v.get(&(ca, ioa::ENERGISED)).is_some_and(|&(x, _)| x < 0.5);
        let _ = write!(
            d.svg,
            r#"<line class="bar{}" data-ca="{ca}" data-ioa="{}" x1="{x1:.1}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}"/>"#,
            if dead { " dead" } else { "" },
            ioa::ENERGISED
        );
        d.text(x1 - 8.0, y - 4.0, "end", "lbl", "", &kv_text(bus_kv));
        d.text(x1 - 8.0, y + 13.0, "end", "sub", "", &format!("bus {}", bus.id));
        value(&mut d, v, (ca, ioa::VOLTAGE_KV, "kV"), x2 + 8.0, y + 4.0, "start");
        // Up from a top bus: units and lines leaving.
        for (it, x) in &lay.up[b] {
            end_item(&mut d, plant, v, *b, it, (*x, y), -1.0);
        }
        for (it, x) in &lay.down[b] {
            let x = *x;
            match it {
                Item::Out(_) | Item::Unit(_) => end_item(&mut d, plant, v, *b, it, (x, y), 1.0),
                Item::Load => {
                    let (customers, feeder) = bus.load.clone().unwrap_or_default();
                    let _ = write!(
                        d.svg,
                        r#"<line class="wire" x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}"/><path class="load" d="M{:.1} {:.1}l12 0l-6 10z"/>"#,
                        y + 40.0,
                        x - 6.0,
                        y + 40.0
                    );
                    d.symbols.push(Rect(x - 6.0, y + 40.0, x + 6.0, y + 50.0));
                    breaker(&mut d, plant, v, ca, ioa::LOAD_BREAKER, x, y + 18.0);
                    value(&mut d, v, (ca, ioa::LOAD_MW, "MW"), x - 10.0, y + 50.0, "end");
                    d.text(x, y + 70.0, "middle", "lbl", "", &wrap(&feeder, SLOT_CHARS)[0]);
                    d.text(x, y + 85.0, "middle", "sub", "", &format!("{} customers", thousands(customers)));
                }
                Item::Down(br, c) => {
                    let cbus = &plant.buses[*c];
                    let yc = y + ROW;
                    let (_, _, tx) = plant.branches[*br];
                    let _ = write!(
                        d.svg,
                        r#"<line class="wire" x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{yc:.1}"/>"#
                    );
                    let slot = bus.branches.iter().position(|j| j == br).unwrap_or(0) as u32;
                    breaker(&mut d, plant, v, ca, ioa::BRANCH_BREAKER + slot, x, y + 18.0);
                    let cslot = cbus.branches.iter().position(|j| j == br).unwrap_or(0) as u32;
                    breaker(&mut d, plant, v, cbus.ca, ioa::BRANCH_BREAKER + cslot, x, yc - 18.0);
                    value(&mut d, v, (ca, ioa::BRANCH_MW + slot, "MW"), x - 10.0, y + 44.0, "end");
                    let words = plant.branch_words(*b, *br);
                    if tx {
                        let my = y + ROW / 2.0;
                        let _ = write!(
                            d.svg,
                            r#"<circle class="tx" cx="{x:.1}" cy="{:.1}" r="10"/><circle class="tx" cx="{x:.1}" cy="{:.1}" r="10"/>"#,
                            my - 7.0,
                            my + 7.0
                        );
                        d.symbols.push(Rect(x - 10.0, my - 17.0, x + 10.0, my + 17.0));
                        let t = words.strip_prefix("transformer ").unwrap_or(&words);
                        let mut parts = t.splitn(2, ' ');
                        let (a, b2) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                        d.text(x + 16.0, my - 2.0, "start", "lbl", "", a);
                        d.text(x + 16.0, my + 13.0, "start", "sub", "", b2);
                    } else {
                        d.text(
                            x + 10.0,
                            y + ROW / 2.0 + 4.0,
                            "start",
                            "lbl",
                            "",
                            &wrap(&words, SLOT_CHARS - 2)[0],
                        );
                    }
                }
            }
        }
    }
    d.width = width;
    d.height = height;
    let inner = std::mem::take(&mut d.svg);
    d.svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="station" class="display" data-station="{k}" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="group" aria-label="One-line of {}">{inner}</svg>"#,
        Escaped(&plant.stations[k].name)
    );
    d
}
