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
//!
//! Here the model (`Plant`: stations, areas, point names) and each station's state
//! (`summary`); `drawing` the SVG writer that records boxes; `overview` and `station` the two
//! drawings.

mod drawing;
mod overview;
mod station;

pub use drawing::{Drawing, Rect};
pub use overview::overview;
pub use station::station;

use std::collections::{BTreeMap, HashMap};

use devices::rtu::ioa;
use journal_format::evidence::HmiPoint;
use serde_json::{Value, json};

use gridsim::sim::Sim;

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

impl BusInfo {
    /// Its breakers' status IOAs as its RTU numbers them: branches, the feeder, units.
    fn breakers(&self) -> Vec<u32> {
        let mut ioas: Vec<u32> = (0..self.branches.len() as u32).map(|i| ioa::BRANCH_BREAKER + i).collect();
        if self.load.is_some() {
            ioas.push(ioa::LOAD_BREAKER);
        }
        ioas.extend((0..self.units.len() as u32).map(|j| ioa::UNIT_BREAKER + j));
        ioas
    }
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
            ioas.extend(bus.breakers());
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
            for io in bus.breakers() {
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
                for io in bus.breakers() {
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
        assert_eq!(overview::state_words(&never[0], false), "no data");
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
