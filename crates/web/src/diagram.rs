//! The one-line diagram, laid out on the server from the grid: buses in layers by their
//! distance from the largest generating bus, each layer ordered by its neighbours above (one
//! barycentre pass), a layer wider than `MAX_PER_ROW` wrapped onto several rows, one bus per
//! cell of a fixed grid. A label is cut to what its cell holds,
//! so no two labels overlap whatever the grid (9 to 118 buses, the Ukraine grid's
//! substations).
//!
//! Symbols follow the single-line conventions operators know (IEC 60617 style, drawn in the
//! grey-scale of a high-performance display, ISA-101): a bus is a thick bar, a breaker a
//! square (filled: closed, hollow: open, dashed: value not topical), a generator a circle, a
//! load an arrow. Every live element carries the SCADA point it shows (`data-ca`, `data-ioa`,
//! the RTU's point map in `devices::rtu`): the page fills them from the master's point
//! database, never from the grid's truth.

use devices::rtu::ioa;
use report::escape::Escaped;
use std::collections::VecDeque;
use std::fmt::Write;

use gridsim::sim::Sim;

const CELL_W: f64 = 180.0;
const CELL_H: f64 = 110.0;
const MARGIN: f64 = 40.0;
/// Buses on one row at most (a wider layer wraps).
const MAX_PER_ROW: usize = 12;
/// Characters a label may have at 11 px monospace in a cell (about 6.6 px each).
const LABEL_CHARS: usize = 22;

/// A bus as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct BusGlyph {
    /// The RTU's common address (the bus number).
    pub ca: u16,
    pub label: String,
    pub x: f64,
    pub y: f64,
}

/// A laid-out diagram.
#[derive(Debug, Clone)]
pub struct Diagram {
    pub buses: Vec<BusGlyph>,
    pub width: f64,
    pub height: f64,
    pub svg: String,
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

impl Diagram {
    pub fn new(sim: &Sim) -> Diagram {
        let case = sim.case();
        let n = case.buses.len();
        let mut adj = vec![Vec::new(); n];
        for b in &case.branches {
            adj[b.from.get()].push(b.to.get());
            adj[b.to.get()].push(b.from.get());
        }
        let mut gen_mw = vec![0.0; n];
        for g in &case.gens {
            gen_mw[g.bus.get()] += g.pg_mw.max(0.0);
        }
        // Layers by breadth-first distance; each island from its largest generator.
        let mut layer = vec![usize::MAX; n];
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| gen_mw[b].total_cmp(&gen_mw[a]).then(a.cmp(&b)));
        let mut base = 0;
        for &root in &order {
            if layer[root] != usize::MAX {
                continue;
            }
            let mut q = VecDeque::from([root]);
            layer[root] = base;
            let mut deepest = base;
            while let Some(u) = q.pop_front() {
                for &v in &adj[u] {
                    if layer[v] == usize::MAX {
                        layer[v] = layer[u] + 1;
                        deepest = deepest.max(layer[v]);
                        q.push_back(v);
                    }
                }
            }
            base = deepest + 1;
        }
        let layers = base;
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
        for i in 0..n {
            rows[layer[i]].push(i);
        }
        // Barycentre ordering against the layer above.
        let mut pos = vec![0.0f64; n];
        for row in rows.iter_mut() {
            let mut keyed: Vec<(f64, usize)> = row
                .iter()
                .map(|&i| {
                    let above: Vec<f64> =
                        adj[i].iter().filter(|&&j| layer[j] + 1 == layer[i]).map(|&j| pos[j]).collect();
                    let key = if above.is_empty() {
                        i as f64
                    } else {
                        above.iter().sum::<f64>() / above.len() as f64
                    };
                    (key, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *row = keyed.iter().map(|k| k.1).collect();
            for (k, &i) in row.iter().enumerate() {
                pos[i] = k as f64;
            }
        }
        // A wide layer wraps onto several rows, so the diagram stays about a screen wide.
        let rows: Vec<Vec<usize>> =
            rows.iter().flat_map(|r| r.chunks(MAX_PER_ROW).map(<[usize]>::to_vec)).collect();
        let width_cells = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut xy = vec![(0.0, 0.0); n];
        for (l, row) in rows.iter().enumerate() {
            // Centre short layers.
            let offset = (width_cells - row.len()) as f64 / 2.0;
            for (k, &i) in row.iter().enumerate() {
                xy[i] = (MARGIN + (k as f64 + offset + 0.5) * CELL_W, MARGIN + (l as f64 + 0.5) * CELL_H);
            }
        }
        let substation =
            |i: usize| sim.dynamics().loads.iter().find(|l| l.bus.get() == i).map(|l| l.substation.clone());
        let ca_of = |i: usize| {
            let id = case.buses[i].id.0;
            if id < 0xFFFF { id as u16 } else { (i + 1).min(0xFFFE) as u16 }
        };
        let buses: Vec<BusGlyph> = (0..n)
            .map(|i| BusGlyph {
                ca: ca_of(i),
                label: cut(
                    &substation(i).map_or_else(
                        || format!("Bus {}", case.buses[i].id.0),
                        |s| format!("{} {}", case.buses[i].id.0, s),
                    ),
                    LABEL_CHARS,
                ),
                x: xy[i].0,
                y: xy[i].1,
            })
            .collect();
        let width = 2.0 * MARGIN + width_cells as f64 * CELL_W;
        let height = 2.0 * MARGIN + rows.len() as f64 * CELL_H;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" id="oneline" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="One-line diagram">"#
        );
        // Lines first, under the buses.
        let mut branch_slot = vec![0u32; n];
        let mut ends: Vec<(usize, u32)> = Vec::new();
        for (k, b) in case.branches.iter().enumerate() {
            let (f, t) = (b.from.get(), b.to.get());
            branch_slot[f] += 1;
            let fi = branch_slot[f];
            branch_slot[t] += 1;
            let ti = branch_slot[t];
            ends.push((f, fi));
            ends.push((t, ti));
            let (x1, y1) = xy[f];
            let (x2, y2) = xy[t];
            let _ = write!(
                s,
                r#"<line class="br" data-branch="{}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}"/>"#,
                k + 1
            );
            // The flow as the from-end RTU measures it, at the line's middle (a third of the
            // way on long lines, so two parallel lines' values do not sit on each other).
            let (mx, my) = (x1 + (x2 - x1) * 0.42, y1 + (y2 - y1) * 0.42);
            let _ = write!(
                s,
                r#"<text class="val flow" data-ca="{}" data-ioa="{}" data-unit="MW" x="{mx:.1}" y="{my:.1}" text-anchor="middle">–</text>"#,
                ca_of(f),
                3100 + fi
            );
            for (bus, other, slot) in [(f, t, fi), (t, f, ti)] {
                let (ax, ay) = xy[bus];
                let (bx, by) = xy[other];
                let d = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt().max(1.0);
                let along = 22.0f64.min(d / 3.0);
                let (cx, cy) = (ax + (bx - ax) / d * along, ay + (by - ay) / d * along);
                let ca = ca_of(bus);
                let ioa = ioa::BRANCH_BREAKER - 1 + slot;
                let _ = write!(
                    s,
                    r#"<rect class="brk" id="k{ca}-{ioa}" data-ca="{ca}" data-ioa="{ioa}" data-cmd="{}" x="{:.1}" y="{:.1}" width="9" height="9" tabindex="0"><title>Breaker of branch {} at bus {}</title></rect>"#,
                    ioa + ioa::COMMAND_OFFSET,
                    cx - 4.5,
                    cy - 4.5,
                    k + 1,
                    case.buses[bus].id.0
                );
            }
        }
        for (i, g) in buses.iter().enumerate() {
            let (x, y) = (g.x, g.y);
            let ca = g.ca;
            let _ = write!(
                s,
                r#"<g class="bus" id="b{ca}"><line class="bar" id="e{ca}" data-ca="{ca}" data-ioa="500" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="lbl" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="val" id="v{ca}" data-ca="{ca}" data-ioa="3000" data-unit="kV" x="{x:.1}" y="{:.1}" text-anchor="middle">–</text>"#,
                x - 32.0,
                x + 32.0,
                y - 12.0,
                Escaped(&g.label),
                y + 34.0
            );
            let gens = case.gens.iter().filter(|gg| gg.bus.get() == i).count();
            for j in 0..gens.min(3) {
                let gx = x - 26.0 + j as f64 * 16.0;
                let ioa = ioa::UNIT_BREAKER + j as u32;
                let _ = write!(
                    s,
                    r#"<circle class="gen" cx="{gx:.1}" cy="{:.1}" r="6"/><rect class="brk" id="k{ca}-{ioa}" data-ca="{ca}" data-ioa="{ioa}" data-cmd="{}" x="{:.1}" y="{:.1}" width="7" height="7" tabindex="0"><title>Unit {} breaker at bus {}</title></rect>"#,
                    y - 34.0,
                    ioa + ioa::COMMAND_OFFSET,
                    gx - 3.5,
                    y - 26.0,
                    j + 1,
                    case.buses[i].id.0
                );
            }
            let (feeder, feeder_cmd, load_mw) =
                (ioa::LOAD_BREAKER, ioa::LOAD_BREAKER + ioa::COMMAND_OFFSET, ioa::LOAD_MW);
            if sim.dynamics().loads.iter().any(|l| l.bus.get() == i) {
                let _ = write!(
                    s,
                    r#"<rect class="brk" id="k{ca}-{feeder}" data-ca="{ca}" data-ioa="{feeder}" data-cmd="{feeder_cmd}" x="{:.1}" y="{:.1}" width="8" height="8" tabindex="0"><title>Feeder breaker at bus {}</title></rect><path class="load" d="M{:.1} {:.1} l0 8 l-4 0 l4 6 l4 -6 l-4 0"/><text class="val" id="l{ca}" data-ca="{ca}" data-ioa="{load_mw}" data-unit="MW" x="{:.1}" y="{:.1}">–</text>"#,
                    x + 22.0,
                    y + 4.0,
                    case.buses[i].id.0,
                    x + 26.0,
                    y + 12.0,
                    x + 34.0,
                    y + 22.0
                );
            }
            s.push_str("</g>");
        }
        let _ = ends;
        s.push_str("</svg>");
        Diagram { buses, width, height, svg: s }
    }

    /// Whether any two labels' boxes overlap (each label is centred on its bus, at most
    /// `LABEL_CHARS` characters of 6.6 px, 12 px high).
    pub fn labels_overlap(&self) -> bool {
        let boxes: Vec<(f64, f64, f64, f64)> = self
            .buses
            .iter()
            .map(|b| {
                let w = b.label.chars().count() as f64 * 6.6;
                (b.x - w / 2.0, b.y - 24.0, b.x + w / 2.0, b.y - 12.0)
            })
            .collect();
        for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                let (a, b) = (boxes[i], boxes[j]);
                if a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3 {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim_of(name: &str) -> Sim {
        let g = exercise::build_grid(&exercise::catalogue::Builtin, name).expect("built-in grid");
        g.sim
    }

    #[test]
    fn every_built_in_grid_lays_out_without_overlapping_labels() {
        for (name, _, _) in exercise::catalogue::GRIDS {
            let sim = sim_of(name);
            let d = Diagram::new(&sim);
            assert_eq!(d.buses.len(), sim.case().buses.len(), "{name}");
            assert!(!d.labels_overlap(), "{name}: labels overlap");
            // Every breaker of every branch end is drawn once, with its RTU point.
            let ends = d.svg.matches(r#"class="brk" id="k"#).count();
            assert!(ends >= 2 * sim.case().branches.len(), "{name}: {ends} breakers");
            // Well-formed: every group closed.
            assert_eq!(d.svg.matches("<g ").count(), d.svg.matches("</g>").count(), "{name}");
            // Distinct positions for distinct buses.
            let mut pos: Vec<(i64, i64)> = d.buses.iter().map(|b| (b.x as i64, b.y as i64)).collect();
            pos.sort();
            pos.dedup();
            assert_eq!(pos.len(), d.buses.len(), "{name}");
        }
    }
}
