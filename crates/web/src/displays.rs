//! The grid operator's displays, as ISA-101 arranges them (`../shared/research/hmi-conventions.md`):
//!
//! - the *overview* (level 1): every substation a tile in its area (a company, a control area),
//!   with its state (energised, partly, dark), customers off, communication and alarms;
//! - a *station* (level 2): one substation's one-line: its buses by voltage, transformers,
//!   lines to the other stations, feeders and units, every breaker operable;
//! - its *points* (level 3): the page lists the station's points from the SCADA master's
//!   database with value, quality and time, named in words (`Plant::point_name`).
//!
//! Stations are the grid sidecar's (`[[station]]`), else the buses joined by transformers.
//! Everything is drawn on the server as SVG with the values of the master's database at that
//! moment (an unknown breaker is drawn unknown, never closed; a value not topical keeps its
//! figure with a `?` quality mark), and every live element carries the point it shows
//! (`data-ca`, `data-ioa`) for the page to update. Each drawing records the box of every
//! symbol and label it writes (`Drawing::symbols`, `labels`, `frames`): the tests check that
//! none overlaps another and all lie inside the view, for every built-in grid.

use std::collections::{BTreeMap, HashMap};

use std::fmt::Write;

use devices::rtu::ioa;
use journal_format::evidence::HmiPoint;
use report::escape::Escaped;
use serde_json::{Value, json};

use gridsim::sim::Sim;

/// Text is drawn at 12 px monospace: an advance of 0.6 em, taken a little wider.
const CHAR_W: f64 = 7.3;
const LINE_H: f64 = 17.0;

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
    fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, attrs: &str, s: &str) {
        let w = s.chars().count() as f64 * CHAR_W;
        let x0 = match anchor {
            "middle" => x - w / 2.0,
            "end" => x - w,
            _ => x,
        };
        self.labels.push((Rect(x0, y - 12.0, x0 + w, y + 3.0), s.to_string()));
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

/// A bus as the displays know it.
#[derive(Debug, Clone)]
struct BusInfo {
    id: u32,
    ca: u16,
    kv: f64,
    station: usize,
    /// The branch rows at this bus, in file order: the RTU's branch slots.
    branches: Vec<usize>,
    /// Its load: customers and the feeder's name, short ("F1").
    load: Option<(u32, String)>,
    /// Its units' names.
    units: Vec<String>,
}

/// A substation.
#[derive(Debug, Clone)]
pub struct Station {
    pub name: String,
    pub area: usize,
    /// Its buses (indices into the case), highest voltage first.
    pub buses: Vec<usize>,
    pub cas: Vec<u16>,
}

/// An area (a company, a control area), with its stations in display order.
#[derive(Debug, Clone)]
pub struct Area {
    pub name: String,
    pub stations: Vec<usize>,
}

/// The grid as its displays show it: stations in areas, and every point's name in words.
#[derive(Debug, Clone)]
pub struct Plant {
    pub areas: Vec<Area>,
    pub stations: Vec<Station>,
    buses: Vec<BusInfo>,
    /// Branch rows: (from, to, a transformer).
    branches: Vec<(usize, usize, bool)>,
    by_ca: HashMap<u16, usize>,
}

/// The master's values as the displays read them: (ca, ioa) → (value, quality).
pub type Values = BTreeMap<(u16, u32), (f64, u8)>;

/// The values of a snapshot's points.
pub fn values(points: &[HmiPoint]) -> Values {
    points.iter().map(|p| ((p.ca, p.ioa), (p.value, p.quality))).collect()
}

fn stale(q: u8) -> bool {
    q & (range::scada::IV | range::scada::NT) != 0
}

fn union_find(parent: &mut [usize], i: usize) -> usize {
    let mut r = i;
    while parent[r] != r {
        r = parent[r];
    }
    let mut j = i;
    while parent[j] != r {
        let n = parent[j];
        parent[j] = r;
        j = n;
    }
    r
}

/// Splits a name onto two lines of at most `n` characters, at the last space that fits
/// (`"Ivano-Frankivsk 110/35/10"` → `["Ivano-Frankivsk", "110/35/10"]`); what does not fit
/// is cut with an ellipsis.
fn wrap(s: &str, n: usize) -> Vec<String> {
    let cut = |t: &str| {
        if t.chars().count() <= n {
            t.to_string()
        } else {
            format!("{}…", t.chars().take(n - 1).collect::<String>())
        }
    };
    if s.chars().count() <= n {
        return vec![s.to_string()];
    }
    let chars: Vec<char> = s.chars().collect();
    let split = (1..=n.min(chars.len() - 1)).rev().find(|&i| chars[i] == ' ');
    match split {
        Some(i) => {
            let a: String = chars[..i].iter().collect();
            let b: String = chars[i + 1..].iter().collect();
            vec![a, cut(&b)]
        }
        None => vec![cut(s)],
    }
}

fn kv_text(kv: f64) -> String {
    if kv <= 0.0 { "bus".to_string() } else { format!("{kv:.0} kV") }
}

impl Plant {
    pub fn new(sim: &Sim) -> Plant {
        let case = sim.case();
        let dy = sim.dynamics();
        let n = case.buses.len();
        let branches: Vec<(usize, usize, bool)> = case
            .branches
            .iter()
            .map(|b| {
                let (f, t) = (b.from.get(), b.to.get());
                let tx = b.tap_ratio != 0.0 || case.buses[f].base_kv != case.buses[t].base_kv;
                (f, t, tx)
            })
            .collect();
        // Stations: the sidecar's, then buses joined by transformers.
        let mut station_of = vec![usize::MAX; n];
        let mut stations: Vec<(String, Vec<usize>, Option<u32>)> = Vec::new();
        for s in &dy.stations {
            let k = stations.len();
            for b in &s.buses {
                station_of[b.get()] = k;
            }
            stations.push((s.name.clone(), s.buses.iter().map(|b| b.get()).collect(), s.area));
        }
        let mut parent: Vec<usize> = (0..n).collect();
        for &(f, t, tx) in &branches {
            if tx && station_of[f] == usize::MAX && station_of[t] == usize::MAX {
                let (a, b) = (union_find(&mut parent, f), union_find(&mut parent, t));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            if station_of[i] == usize::MAX {
                groups.entry(union_find(&mut parent, i)).or_default().push(i);
            }
        }
        let load_of = |i: usize| dy.loads.iter().find(|l| l.bus.get() == i);
        for (_, buses) in groups {
            let k = stations.len();
            for &b in &buses {
                station_of[b] = k;
            }
            // Named by its loads' substation where they name one, else by its buses.
            let named = buses.iter().filter_map(|&b| load_of(b)).map(|l| l.substation.clone()).find(|s| {
                !s.is_empty()
                    && !s.to_lowercase().starts_with("bus ")
                    && !s.chars().all(|c| c.is_ascii_digit())
            });
            let ids: Vec<String> = buses.iter().map(|&b| case.buses[b].id.0.to_string()).collect();
            let name = named.unwrap_or_else(|| format!("Bus {}", ids.join("/")));
            stations.push((name, buses, None));
        }
        let mut buses: Vec<BusInfo> = (0..n)
            .map(|i| {
                let id = case.buses[i].id.0;
                BusInfo {
                    id,
                    ca: devices::rtu::common_address(case, gridsim::BusIdx(i as u32)),
                    kv: case.buses[i].base_kv,
                    station: station_of[i],
                    branches: Vec::new(),
                    load: None,
                    units: Vec::new(),
                }
            })
            .collect();
        for (k, &(f, t, _)) in branches.iter().enumerate() {
            buses[f].branches.push(k);
            if t != f {
                buses[t].branches.push(k);
            }
        }
        for l in &dy.loads {
            let i = l.bus.get();
            let sub = &stations[station_of[i]].0;
            let short = l.feeder.strip_prefix(sub.as_str()).map_or(l.feeder.as_str(), str::trim).to_string();
            let short = if short.is_empty() { format!("feeder {}", buses[i].id) } else { short };
            buses[i].load = Some((l.customers, short));
        }
        for (g, gen_row) in case.gens.iter().enumerate() {
            let name =
                dy.gens.get(g).and_then(|d| d.name.clone()).unwrap_or_else(|| format!("unit {}", g + 1));
            buses[gen_row.bus.get()].units.push(name);
        }
        // Areas: the sidecar's names, else "Area N"; stations in each by a walk from its
        // largest station, so that fed stations follow their feeders.
        let area_id = |i: usize| dy.bus_area.get(i).copied().unwrap_or(1);
        let mut area_ids: Vec<u32> = Vec::new();
        let mut st: Vec<Station> = Vec::new();
        for (name, mut bs, area) in stations {
            // The sidecar's area, else its first bus's (a transformer group's: its lowest).
            let a = area.unwrap_or_else(|| area_id(bs[0]));
            bs.sort_by(|&a, &b| case.buses[b].base_kv.total_cmp(&case.buses[a].base_kv).then(a.cmp(&b)));
            let ai = match area_ids.iter().position(|&x| x == a) {
                Some(p) => p,
                None => {
                    area_ids.push(a);
                    area_ids.len() - 1
                }
            };
            let cas = bs.iter().map(|&b| buses[b].ca).collect();
            st.push(Station { name, area: ai, buses: bs, cas });
        }
        // Areas in their ids' order.
        let mut order: Vec<usize> = (0..area_ids.len()).collect();
        order.sort_by_key(|&i| area_ids[i]);
        let remap: Vec<usize> = {
            let mut r = vec![0; order.len()];
            for (new, &old) in order.iter().enumerate() {
                r[old] = new;
            }
            r
        };
        for s in &mut st {
            s.area = remap[s.area];
        }
        // Station adjacency, for the walk.
        let mut adj: Vec<Vec<usize>> = vec![Vec::new(); st.len()];
        for &(f, t, _) in &branches {
            let (a, b) = (station_of[f], station_of[t]);
            if a != b {
                adj[a].push(b);
                adj[b].push(a);
            }
        }
        let areas: Vec<Area> = order
            .iter()
            .enumerate()
            .map(|(new, &old)| {
                let id = area_ids[old];
                let name = dy.area_names.get(&id).cloned().unwrap_or_else(|| format!("Area {id}"));
                let mine: Vec<usize> = (0..st.len()).filter(|&s| st[s].area == new).collect();
                let size = |s: usize| (st[s].buses.len(), -(s as i64));
                let mut seen = vec![false; st.len()];
                let mut out = Vec::new();
                let mut rest = mine.clone();
                rest.sort_by_key(|&s| std::cmp::Reverse(size(s)));
                for &root in &rest {
                    if seen[root] {
                        continue;
                    }
                    let mut q = std::collections::VecDeque::from([root]);
                    seen[root] = true;
                    while let Some(u) = q.pop_front() {
                        out.push(u);
                        for &v in &adj[u] {
                            if !seen[v] && st[v].area == new {
                                seen[v] = true;
                                q.push_back(v);
                            }
                        }
                    }
                }
                Area { name, stations: out }
            })
            .collect();
        let by_ca = buses.iter().enumerate().map(|(i, b)| (b.ca, i)).collect();
        Plant { areas, stations: st, buses, branches, by_ca }
    }

    /// The station a common address belongs to.
    pub fn station_of_ca(&self, ca: u16) -> Option<usize> {
        self.by_ca.get(&ca).map(|&b| self.buses[b].station)
    }

    fn bus_words(&self, b: usize) -> String {
        let bus = &self.buses[b];
        let s = &self.stations[bus.station];
        if s.buses.len() == 1 {
            s.name.clone()
        } else if let Some((_, f)) = &bus.load {
            format!("{}, {f}", s.name)
        } else {
            format!("{}, {}", s.name, kv_text(bus.kv))
        }
    }

    /// What the k-th branch is, seen from bus `b`: "line to Kalush 110/35/10",
    /// "transformer 110/35 kV", "feeder F1".
    fn branch_words(&self, b: usize, k: usize) -> String {
        let (f, t, tx) = self.branches[k];
        let o = if f == b { t } else { f };
        let (mine, other) = (&self.buses[b], &self.buses[o]);
        if mine.station != other.station {
            // Several lines to one station are told apart by their order at this bus.
            let parallel: Vec<usize> = mine
                .branches
                .iter()
                .copied()
                .filter(|&j| {
                    let (a, c, _) = self.branches[j];
                    let x = if a == b { c } else { a };
                    self.buses[x].station == other.station
                })
                .collect();
            let to = &self.stations[other.station].name;
            if parallel.len() > 1 {
                let nth = parallel.iter().position(|&j| j == k).unwrap_or(0) + 1;
                format!("line to {to} ({nth})")
            } else {
                format!("line to {to}")
            }
        } else if tx {
            let (hi, lo) = if mine.kv >= other.kv { (mine.kv, other.kv) } else { (other.kv, mine.kv) };
            let nth = mine
                .branches
                .iter()
                .filter(|&&j| {
                    let (a, c, x) = self.branches[j];
                    x && (a == o || c == o)
                })
                .position(|&j| j == k)
                .unwrap_or(0);
            format!("transformer T{} {:.0}/{:.0} kV", nth + 1, hi, lo)
        } else if let Some((_, feeder)) = &other.load {
            format!("feeder {feeder}")
        } else if let Some((_, feeder)) = &mine.load {
            format!("feeder {feeder} supply")
        } else {
            format!("tie to {}", kv_text(other.kv))
        }
    }

    /// A point in words: "Kalush 110/35/10, 10 kV: feeder F1 breaker". Commands are named by
    /// the status point they operate. `None` for a point of no known station.
    pub fn point_name(&self, ca: u16, ioa: u32) -> Option<String> {
        let &b = self.by_ca.get(&ca)?;
        let bus = &self.buses[b];
        let at = self.bus_words(b);
        let io = if (ioa::BRANCH_BREAKER + ioa::COMMAND_OFFSET
            ..ioa::UNIT_BREAKER + ioa::COMMAND_OFFSET + ioa::SPAN)
            .contains(&ioa)
        {
            ioa - ioa::COMMAND_OFFSET
        } else {
            ioa
        };
        let slot = |first: u32| (io >= first && io < first + ioa::SPAN).then(|| (io - first) as usize);
        let what = if io == ioa::ENERGISED {
            "energised".to_string()
        } else if let Some(i) = slot(ioa::BRANCH_BREAKER) {
            format!("{} breaker", self.branch_words(b, *bus.branches.get(i)?))
        } else if let Some(i) = slot(ioa::BRANCH_PROTECTION) {
            format!("{} protection", self.branch_words(b, *bus.branches.get(i)?))
        } else if io == ioa::LOAD_BREAKER {
            // A feeder's own bus already names it ("Kalush 110/35/10, F1").
            match &bus.load {
                Some((_, f)) if !at.ends_with(f.as_str()) => format!("{f} feeder breaker"),
                _ => "feeder breaker".to_string(),
            }
        } else if let Some(j) = slot(ioa::UNIT_BREAKER) {
            format!("{} breaker", bus.units.get(j)?)
        } else if io == ioa::VOLTAGE_KV {
            "voltage".to_string()
        } else if io == ioa::FREQUENCY_HZ {
            "frequency".to_string()
        } else if io == ioa::LOAD_MW {
            match &bus.load {
                Some((_, f)) if !at.ends_with(f.as_str()) => format!("{f} load"),
                _ => "load".to_string(),
            }
        } else if let Some(i) = slot(ioa::BRANCH_MW) {
            format!("{} flow", self.branch_words(b, *bus.branches.get(i)?))
        } else if let Some(j) = slot(ioa::UNIT_MW) {
            format!("{} output", bus.units.get(j)?)
        } else if let Some(j) = slot(ioa::UNIT_SETPOINT) {
            format!("{} set point", bus.units.get(j)?)
        } else {
            format!("point {ioa}")
        };
        Some(format!("{at}: {what}"))
    }

    /// The unit of a point's value ("kV", "Hz", "MW"), or "" for a status.
    fn unit(ioa: u32) -> &'static str {
        if ioa == ioa::VOLTAGE_KV {
            "kV"
        } else if ioa == ioa::FREQUENCY_HZ {
            "Hz"
        } else if ioa == ioa::LOAD_MW
            || (ioa::BRANCH_MW..ioa::BRANCH_MW + ioa::SPAN).contains(&ioa)
            || (ioa::UNIT_MW..ioa::UNIT_MW + ioa::SPAN).contains(&ioa)
        {
            "MW"
        } else {
            ""
        }
    }

    /// A station's points as its point list shows them: `[ca, ioa, name, unit]`, in address
    /// order (the page fills value, quality and time from the live database).
    pub fn station_points(&self, k: usize) -> Vec<Value> {
        let mut out = Vec::new();
        for &b in &self.stations[k].buses {
            let bus = &self.buses[b];
            let mut ioas = vec![ioa::ENERGISED];
            ioas.extend((0..bus.branches.len() as u32).map(|i| ioa::BRANCH_BREAKER + i));
            if bus.load.is_some() {
                ioas.push(ioa::LOAD_BREAKER);
            }
            ioas.extend((0..bus.units.len() as u32).map(|j| ioa::UNIT_BREAKER + j));
            ioas.extend([ioa::VOLTAGE_KV, ioa::FREQUENCY_HZ]);
            if bus.load.is_some() {
                ioas.push(ioa::LOAD_MW);
            }
            ioas.extend((0..bus.branches.len() as u32).map(|i| ioa::BRANCH_MW + i));
            ioas.extend((0..bus.units.len() as u32).map(|j| ioa::UNIT_MW + j));
            for io in ioas {
                if let Some(name) = self.point_name(bus.ca, io) {
                    out.push(json!([bus.ca, io, name, Plant::unit(io)]));
                }
            }
        }
        out
    }

    /// Every breaker's name in words, `"ca:ioa"` → name, for the page's logs and alarms.
    pub fn breaker_names(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        for bus in &self.buses {
            let mut ioas: Vec<u32> =
                (0..bus.branches.len() as u32).map(|i| ioa::BRANCH_BREAKER + i).collect();
            if bus.load.is_some() {
                ioas.push(ioa::LOAD_BREAKER);
            }
            ioas.extend((0..bus.units.len() as u32).map(|j| ioa::UNIT_BREAKER + j));
            for io in ioas {
                if let Some(n) = self.point_name(bus.ca, io) {
                    m.insert(format!("{}:{io}", bus.ca), json!(n));
                }
            }
        }
        m
    }

    /// The breaker at the other end of each branch breaker's branch (`"ca:ioa"` → `"ca:ioa"`):
    /// one branch, one status, reported by both ends' RTUs.
    pub fn twins(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        for (k, &(f, t, _)) in self.branches.iter().enumerate() {
            let slot = |b: usize| {
                self.buses[b].branches.iter().position(|&j| j == k).map(|i| i as u32 + ioa::BRANCH_BREAKER)
            };
            if let (Some(a), Some(b)) = (slot(f), slot(t))
                && f != t
            {
                let (ka, kb) = (format!("{}:{a}", self.buses[f].ca), format!("{}:{b}", self.buses[t].ca));
                m.insert(ka.clone(), json!(kb));
                m.insert(kb, json!(ka));
            }
        }
        m
    }

    /// The stations and areas, for the page: names, areas, common addresses; every breaker's
    /// name and its branch's other end.
    pub fn index(&self) -> Value {
        json!({
            "areas": self.areas.iter().map(|a| json!({"name": a.name, "stations": a.stations})).collect::<Vec<_>>(),
            "stations": self.stations.iter().map(|s| json!({"name": s.name, "area": s.area, "cas": s.cas})).collect::<Vec<_>>(),
            "breakers": self.breaker_names(),
            "twins": self.twins(),
        })
    }
}

/// A station's state as the master's database shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StationState {
    /// "energised", "partly", "dark" or "unknown" (no value received yet).
    pub state: &'static str,
    /// Customers of its feeders whose breaker is open or whose bus is dead.
    pub customers_off: u32,
    /// Every point of the station topical.
    pub comm: bool,
    /// Breakers open or indeterminate: (ca, ioa).
    pub open: Vec<(u16, u32)>,
}

impl StationState {
    pub fn json(&self, k: usize) -> Value {
        json!({"k": k, "state": self.state, "off": self.customers_off, "comm": self.comm,
               "open": self.open.iter().map(|&(c, i)| json!([c, i])).collect::<Vec<_>>()})
    }
}

/// Every station's state from the master's values.
pub fn summary(plant: &Plant, v: &Values) -> Vec<StationState> {
    plant
        .stations
        .iter()
        .map(|s| {
            let (mut live, mut dead, mut unknown) = (0, 0, 0);
            let mut off = 0;
            let mut comm = true;
            let mut open = Vec::new();
            for &b in &s.buses {
                let bus = &plant.buses[b];
                let energised = v.get(&(bus.ca, ioa::ENERGISED));
                match energised {
                    Some(&(x, _)) if x >= 0.5 => live += 1,
                    Some(_) => dead += 1,
                    None => unknown += 1,
                }
                let mut any = false;
                for (&(ca, _), &(_, q)) in v.range_of(bus.ca) {
                    debug_assert_eq!(ca, bus.ca);
                    any = true;
                    if stale(q) {
                        comm = false;
                    }
                }
                if !any {
                    comm = false;
                }
                let mut breakers: Vec<u32> =
                    (0..bus.branches.len() as u32).map(|i| ioa::BRANCH_BREAKER + i).collect();
                if bus.load.is_some() {
                    breakers.push(ioa::LOAD_BREAKER);
                }
                breakers.extend((0..bus.units.len() as u32).map(|j| ioa::UNIT_BREAKER + j));
                for io in breakers {
                    if let Some(&(x, _)) = v.get(&(bus.ca, io))
                        && x != 2.0
                    {
                        open.push((bus.ca, io));
                    }
                }
                if let Some((customers, _)) = &bus.load {
                    let feeder_open = v.get(&(bus.ca, ioa::LOAD_BREAKER)).is_some_and(|&(x, _)| x == 1.0);
                    let bus_dead = energised.is_some_and(|&(x, _)| x < 0.5);
                    if feeder_open || bus_dead {
                        off += customers;
                    }
                }
            }
            let state = if unknown == s.buses.len() {
                "unknown"
            } else if dead == 0 {
                "energised"
            } else if live == 0 {
                "dark"
            } else {
                "partly"
            };
            StationState { state, customers_off: off, comm, open }
        })
        .collect()
}

/// The points of one station in a `Values`.
trait RangeOf {
    fn range_of(&self, ca: u16) -> std::collections::btree_map::Range<'_, (u16, u32), (f64, u8)>;
}

impl RangeOf for Values {
    fn range_of(&self, ca: u16) -> std::collections::btree_map::Range<'_, (u16, u32), (f64, u8)> {
        self.range((ca, 0)..=(ca, u32::MAX))
    }
}

// ---- Level 1: the overview ----

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

fn state_words(s: &StationState, compact: bool) -> String {
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

fn thousands(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    let mut body = String::new();
    std::mem::swap(&mut d.svg, &mut body);
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
    let _ = body;
    d
}

// ---- Level 2: a station's one-line ----

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
    let w = (unit.len() + 9) as f64 * CHAR_W;
    let x0 = match anchor {
        "middle" => x - w / 2.0,
        "end" => x - w,
        _ => x,
    };
    d.labels.push((Rect(x0, y - 12.0, x0 + w, y + 3.0), t.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plant_of(name: &str) -> (Plant, Sim) {
        let g = exercise::build_grid(&exercise::catalogue::Builtin, name).expect("built-in grid");
        (Plant::new(&g.sim), g.sim)
    }

    #[test]
    fn every_built_in_grid_draws_without_overlap_and_inside_the_view() {
        for (name, _, _) in exercise::catalogue::GRIDS {
            let (plant, sim) = plant_of(name);
            let v = Values::new();
            let o = overview(&plant, &v);
            assert_eq!(o.problems(), Vec::<String>::new(), "{name}: overview");
            assert_eq!(o.frames.len(), plant.stations.len(), "{name}: a tile per station");
            // Readable on a 1366×768 screen: its display box (about 1000×600) shows the
            // overview at no less than 0.8 of its size (12 px text at 9.6 px at least).
            let scale = (1000.0 / o.width).min(600.0 / o.height);
            assert!(scale >= 0.8, "{name}: the overview at {scale:.2} ({}×{})", o.width, o.height);
            // Every bus in exactly one station.
            let mut n = 0;
            for (k, s) in plant.stations.iter().enumerate() {
                n += s.buses.len();
                let d = station(&plant, k, &v);
                assert_eq!(d.problems(), Vec::<String>::new(), "{name}: station {}", s.name);
                assert_eq!(d.svg.matches("<g ").count(), d.svg.matches("</g>").count(), "{name}");
            }
            assert_eq!(n, sim.case().buses.len(), "{name}");
            // Every breaker of every branch end drawn once, over all stations.
            let ends: usize = (0..plant.stations.len())
                .map(|k| station(&plant, k, &v).svg.matches(r#"class="brk "#).count())
                .sum();
            let units = sim.case().gens.len();
            let loads = sim.dynamics().loads.len();
            assert_eq!(ends, 2 * sim.case().branches.len() + units + loads, "{name}");
        }
    }

    #[test]
    fn the_ukraine_overview_shows_the_companies_and_named_substations() {
        let (plant, _) = plant_of("ukraine2015");
        let names: Vec<&str> = plant.areas.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["Prykarpattyaoblenergo", "Chernivtsioblenergo", "Kyivoblenergo", "Ukrenergo (transmission)"]
        );
        let kalush = plant.stations.iter().position(|s| s.name == "Kalush 110/35/10").expect("Kalush");
        assert_eq!(plant.areas[plant.stations[kalush].area].name, "Prykarpattyaoblenergo");
        assert_eq!(plant.stations.len(), 33);
        // Fits a 1366×768 screen's display box (about 1000×600) at no less than 0.85 scale.
        let o = overview(&plant, &Values::new());
        let scale = (1000.0 / o.width).min(600.0 / o.height);
        assert!(scale > 0.85, "scale {scale} ({}×{})", o.width, o.height);
        // Points in words, the address secondary.
        let ca = plant.stations[kalush].cas[0];
        let name = plant.point_name(ca, ioa::BRANCH_BREAKER).expect("named");
        assert!(name.starts_with("Kalush 110/35/10, 110 kV: "), "{name}");
        let feeder = plant.stations[kalush].cas.iter().find_map(|&c| {
            let n = plant.point_name(c, ioa::LOAD_BREAKER)?;
            n.contains(", F1:").then_some(n)
        });
        assert_eq!(feeder.as_deref(), Some("Kalush 110/35/10, F1: feeder breaker"));
    }

    #[test]
    fn an_unknown_breaker_is_drawn_unknown_and_a_stale_value_stays_readable() {
        let (plant, _) = plant_of("case9");
        let ca = plant.stations[0].cas[0];
        let mut v = Values::new();
        let d = station(&plant, 0, &v);
        assert!(d.svg.contains(r#"class="brk unknown""#), "no value yet: unknown");
        assert!(!d.svg.contains(r#"class="brk closed"#));
        v.insert((ca, ioa::BRANCH_BREAKER), (2.0, range::scada::NT));
        v.insert((ca, ioa::VOLTAGE_KV), (345.2, range::scada::NT));
        let d = station(&plant, 0, &v);
        assert!(d.svg.contains(r#"class="brk closed stale""#), "{}", d.svg);
        assert!(d.svg.contains("345.2 kV ?"), "the figure stays, with its quality mark");
        let s = summary(&plant, &v);
        assert!(!s[0].comm);
        // A station never heard from is "no data", without a word on its communication.
        let never = summary(&plant, &Values::new());
        assert_eq!(never[0].state, "unknown");
        assert_eq!(state_words(&never[0], false), "no data");
        // A unit's output is on its station's point list.
        let with_unit = (0..plant.stations.len())
            .find(|&k| plant.stations[k].buses.iter().any(|&b| !plant.buses[b].units.is_empty()))
            .expect("case9 has units");
        assert!(
            plant.station_points(with_unit).iter().any(|p| p[1] == json!(ioa::UNIT_MW)),
            "unit output listed"
        );
    }
}
