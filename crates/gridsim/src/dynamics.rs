//! What a MATPOWER case lacks for time-domain simulation, and the sidecar file that supplies it.
//!
//! A MATPOWER file has no inertia, governors, customers or relay settings. `Dynamics` holds
//! them, resolved against one `Case`: one entry per generator row, per load (a bus with
//! demand), per branch row, plus system settings (nominal frequency, load damping, UFLS
//! stages, generator frequency protection). `Dynamics::defaults` fills everything from unit
//! type defaults; `Dynamics::from_toml` reads a sidecar (format below) over those defaults and
//! reports every problem at once with line and column.
//!
//! ```toml
//! f0_hz = 50.0            # nominal frequency
//! load_damping = 1.0      # %ΔP of load per %Δf
//! pf_interval_s = 1.0     # power flow at least this often
//! substep_s = 0.01        # dynamics and protection resolution (at least 1e-4)
//! default_unit = "steam"
//! customers_per_mw = 500  # estimate for loads the file does not list
//!
//! [units.hydro]           # override a unit type's defaults
//! h_s = 3.5               # also: droop, governor = false, tg_s, tt_s,
//!                         # reheat = false, hp_fraction (at most 1), t_r_s
//!
//! [[gen]]                 # row = generator row in the .m file, 1-based
//! row = 3
//! unit = "nuclear"
//! droop = 0.05            # or governor = false
//! pmax_mw = 250           # governor ceiling (headroom), default: the case's Pmax
//! mbase_mva = 300         # MVA base of h_s, default: the case's mBase
//!
//! [[load]]                # one per bus with demand
//! bus = 5
//! customers = 12000
//! substation = "Ivano-Frankivsk 110"
//! feeder = "F-5"
//! ufls = true
//!
//! [[area]]                # overrides the case's area column
//! id = 2
//! name = "East"
//! buses = [33, 34, 35]
//!
//! [[station]]             # a substation: buses the operators see as one (default: the
//! name = "Kalush 110/35/10" # buses joined by transformers, named by their loads' substation)
//! buses = [1014, 1015, 1016]
//! area = 1                # default: the first bus's area
//!
//! [protection]
//! pickup = 1.0            # × rating
//! curve = "iec_standard"  # iec_standard | iec_very | iec_extremely | ieee_moderate | ieee_very | ieee_extremely
//! tms = 0.1
//! instantaneous = 2.0     # × rating; 0 = off
//! gen_under_hz = 47.5
//! gen_over_hz = 51.5
//! gen_delay_s = 0.1
//!
//! [[protection.branch]]   # row = branch row, 1-based
//! row = 12
//! rating_mva = 150        # default: the case's rateA; 0 = no relay
//! curve = "iec_very"
//! enabled = true
//!
//! [[ufls]]                # stages; omit for the defaults, `ufls = []` for none
//! f_hz = 49.0
//! fraction = 0.125
//! delay_s = 0.15
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use simcore::line_col;
use toml::Spanned;

use crate::case::{BusId, BusIdx, Case};

/// A sidecar's problems, each at its line and column.
pub use simcore::{Diagnostic, Diagnostics};

/// Kinds of generating unit, with typical dynamic parameters (`UnitParams::typical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitType {
    Steam,
    Gas,
    Hydro,
    Nuclear,
    Wind,
    Solar,
    /// A synchronous condenser: inertia and reactive power, no active power.
    Condenser,
    /// The rest of an interconnection behind a tie, as one large machine.
    Equivalent,
}

impl UnitType {
    pub fn name(self) -> &'static str {
        match self {
            UnitType::Steam => "steam",
            UnitType::Gas => "gas",
            UnitType::Hydro => "hydro",
            UnitType::Nuclear => "nuclear",
            UnitType::Wind => "wind",
            UnitType::Solar => "solar",
            UnitType::Condenser => "condenser",
            UnitType::Equivalent => "equivalent",
        }
    }
}

/// A reheat steam turbine: the high-pressure fraction responds at once, the rest through the
/// reheater's time constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reheat {
    pub hp_fraction: f64,
    pub t_r_s: f64,
}

/// Dynamic parameters of one unit, on its own MVA base (`mBase`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitParams {
    /// Inertia constant, seconds on the machine base.
    pub h_s: f64,
    /// Governor droop in p.u. (0.05 = 5 %), `None` when the unit does not respond to frequency.
    pub droop: Option<f64>,
    /// Governor time constant.
    pub tg_s: f64,
    /// Turbine (steam chest, gas path, penstock) time constant.
    pub tt_s: f64,
    pub reheat: Option<Reheat>,
}

impl UnitParams {
    /// Textbook values (Kundur; `shared/research/powerflow.md` §4.1). Nuclear and inverter
    /// units are base-loaded: no governor response; inverters add no inertia.
    pub fn typical(unit: UnitType) -> UnitParams {
        let p = |h_s, droop, tg_s, tt_s, reheat| UnitParams { h_s, droop, tg_s, tt_s, reheat };
        match unit {
            UnitType::Steam => p(5.0, Some(0.05), 0.2, 0.3, Some(Reheat { hp_fraction: 0.3, t_r_s: 7.0 })),
            UnitType::Gas => p(4.0, Some(0.04), 0.1, 0.4, None),
            UnitType::Hydro => p(3.0, Some(0.04), 0.5, 1.0, None),
            UnitType::Nuclear => p(6.0, None, 0.2, 0.3, None),
            UnitType::Wind | UnitType::Solar => p(0.0, None, 0.1, 0.1, None),
            UnitType::Condenser => p(1.5, None, 0.1, 0.1, None),
            UnitType::Equivalent => p(5.0, Some(0.05), 0.2, 0.5, None),
        }
    }
}

/// Dynamics of one generator row.
#[derive(Debug, Clone, PartialEq)]
pub struct GenDynamics {
    pub unit: UnitType,
    pub params: UnitParams,
    /// Rating the inertia constant refers to, MVA (the case's `mBase` unless overridden:
    /// many cases carry 100 for every unit).
    pub mbase_mva: f64,
    /// Governor output range, MW.
    pub pmin_mw: f64,
    pub pmax_mw: f64,
    /// Under/over-frequency protection of this unit is in service.
    pub freq_protection: bool,
    /// Its name, where the sidecar gives one ("Burshtyn TPP unit 1").
    pub name: Option<String>,
}

/// A substation as the sidecar names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    pub name: String,
    pub buses: Vec<BusIdx>,
    /// Its area (default: the first bus's).
    pub area: Option<u32>,
}

/// A load: the demand of one bus, fed through one breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPoint {
    pub bus: BusIdx,
    pub customers: u32,
    pub substation: String,
    pub feeder: String,
    /// Takes part in under-frequency load shedding.
    pub ufls: bool,
}

/// Inverse-time characteristics (IEC 60255-151 and IEEE C37.112 constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Curve {
    IecStandard,
    IecVery,
    IecExtremely,
    IeeeModerate,
    IeeeVery,
    IeeeExtremely,
}

impl Curve {
    /// Operate time in seconds at `m` times pickup with time multiplier `tms`; infinite at or
    /// below pickup.
    pub fn trip_time_s(self, tms: f64, m: f64) -> f64 {
        if m.is_nan() || m <= 1.0 {
            return f64::INFINITY;
        }
        let iec = |k: f64, a: f64| tms * k / (m.powf(a) - 1.0);
        let ieee = |a: f64, p: f64, b: f64| tms * (a / (m.powf(p) - 1.0) + b);
        match self {
            Curve::IecStandard => iec(0.14, 0.02),
            Curve::IecVery => iec(13.5, 1.0),
            Curve::IecExtremely => iec(80.0, 2.0),
            Curve::IeeeModerate => ieee(0.0515, 0.02, 0.114),
            Curve::IeeeVery => ieee(19.61, 2.0, 0.491),
            Curve::IeeeExtremely => ieee(28.2, 2.0, 0.1217),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Curve::IecStandard => "IEC standard inverse",
            Curve::IecVery => "IEC very inverse",
            Curve::IecExtremely => "IEC extremely inverse",
            Curve::IeeeModerate => "IEEE moderately inverse",
            Curve::IeeeVery => "IEEE very inverse",
            Curve::IeeeExtremely => "IEEE extremely inverse",
        }
    }
}

/// The overcurrent relay of one branch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BranchRelay {
    /// Thermal rating, MVA at 1 p.u. voltage; 0 means no relay.
    pub rating_mva: f64,
    /// Pickup as a multiple of the rating.
    pub pickup: f64,
    pub curve: Curve,
    pub tms: f64,
    /// Instantaneous trip at this multiple of the rating; 0 = off.
    pub instantaneous: f64,
    pub enabled: bool,
}

/// One under-frequency load-shedding stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UflsStage {
    pub f_hz: f64,
    /// Fraction of each participating load's demand shed by this stage.
    pub fraction: f64,
    /// How long the frequency must stay below `f_hz` (breaker time included).
    pub delay_s: f64,
}

/// Everything the simulator needs beyond the case, resolved per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dynamics {
    pub f0_hz: f64,
    /// Load sensitivity to frequency: %ΔP per %Δf.
    pub load_damping: f64,
    pub pf_interval_s: f64,
    pub substep_s: f64,
    /// One per generator row.
    pub gens: Vec<GenDynamics>,
    /// One per bus with demand, in bus order.
    pub loads: Vec<LoadPoint>,
    /// One per branch row.
    pub relays: Vec<BranchRelay>,
    /// Area of each bus (the case's area column unless the sidecar regroups).
    pub bus_area: Vec<u32>,
    pub area_names: BTreeMap<u32, String>,
    /// Substations the sidecar names (buses the operators see as one); buses in none are
    /// grouped by the displays themselves.
    pub stations: Vec<Station>,
    pub gen_under_hz: f64,
    pub gen_over_hz: f64,
    pub gen_delay_s: f64,
    pub ufls: Vec<UflsStage>,
}

/// Defaults that are not per element.
const DEFAULT_CUSTOMERS_PER_MW: f64 = 500.0;

impl Dynamics {
    /// Defaults for every element: steam units, no relay where the case has no rating, IEC
    /// standard inverse at TMS 0.1 otherwise, 50 Hz with German-style UFLS.
    pub fn defaults(case: &Case) -> Dynamics {
        Resolver::new(case, 50.0, UnitType::Steam, DEFAULT_CUSTOMERS_PER_MW).finish()
    }

    /// Reads a sidecar over the defaults. Every problem is reported, each with its position.
    pub fn from_toml(case: &Case, text: &str) -> Result<Dynamics, SidecarErrors> {
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                let at = e.span().map_or(0, |s| s.start);
                return Err(Diagnostics(vec![Diagnostic::at(text, at, e.message())]));
            }
        };
        let mut errors = Vec::new();
        let mut err = |span: Range<usize>, msg: String| errors.push(Diagnostic::at(text, span.start, msg));

        if let Some(v) = &file.format
            && *v.get_ref() != 1
        {
            err(v.span(), format!("sidecar format {} is not known; this build reads format 1", v.get_ref()));
        }
        let f0_hz = file.f0_hz.as_ref().map_or(50.0, |v| *v.get_ref());
        if let Some(v) = &file.f0_hz
            && !(10.0..=500.0).contains(v.get_ref())
        {
            err(
                v.span(),
                "f0_hz must be a grid's nominal frequency, 10 to 500 Hz (50 or 60 for power grids)".into(),
            );
        }
        let default_unit = file.default_unit.unwrap_or(UnitType::Steam);
        let customers_per_mw =
            file.customers_per_mw.as_ref().map_or(DEFAULT_CUSTOMERS_PER_MW, |v| *v.get_ref());
        let mut r =
            Resolver::new(case, if f0_hz > 0.0 { f0_hz } else { 50.0 }, default_unit, customers_per_mw);

        let positive = |name: &str, v: &Option<Spanned<f64>>, err: &mut dyn FnMut(Range<usize>, String)| {
            if let Some(v) = v {
                if *v.get_ref() > 0.0 && v.get_ref().is_finite() {
                    return Some(*v.get_ref());
                }
                err(v.span(), format!("{name} must be a positive number"));
            }
            None
        };
        let non_negative =
            |name: &str, v: &Option<Spanned<f64>>, err: &mut dyn FnMut(Range<usize>, String)| {
                if let Some(v) = v {
                    if *v.get_ref() >= 0.0 && v.get_ref().is_finite() {
                        return Some(*v.get_ref());
                    }
                    err(v.span(), format!("{name} must be zero or more"));
                }
                None
            };
        if let Some(v) = non_negative("load_damping", &file.load_damping, &mut err) {
            r.d.load_damping = v;
        }
        if let Some(v) = positive("pf_interval_s", &file.pf_interval_s, &mut err) {
            r.d.pf_interval_s = v;
        }
        if let Some(v) = positive("substep_s", &file.substep_s, &mut err) {
            r.d.substep_s = v.max(1e-4);
        }
        non_negative("customers_per_mw", &file.customers_per_mw, &mut err);

        // Unit type overrides, then per generator.
        let mut types: BTreeMap<UnitType, UnitParams> = BTreeMap::new();
        for (unit, o) in &file.units {
            let mut p = UnitParams::typical(*unit);
            apply_unit(&mut p, o, &mut err);
            types.insert(*unit, p);
        }
        let params_of =
            |unit: UnitType| types.get(&unit).copied().unwrap_or_else(|| UnitParams::typical(unit));
        for g in &mut r.d.gens {
            g.params = params_of(g.unit);
        }
        let mut seen = BTreeMap::new();
        for entry in &file.gens {
            let row = entry.row.get_ref();
            let Some(idx) = row.checked_sub(1).filter(|&i| (i as usize) < case.gens.len()) else {
                err(
                    entry.row.span(),
                    format!("generator row {row} does not exist (the case has {})", case.gens.len()),
                );
                continue;
            };
            if let Some(prev) = seen.insert(*row, entry.row.span()) {
                let (line, _) = line_col(text, prev.start);
                err(entry.row.span(), format!("generator row {row} is already described on line {line}"));
            }
            let g = &mut r.d.gens[idx as usize];
            if let Some(unit) = entry.unit {
                g.unit = unit;
                g.params = params_of(unit);
            }
            let o = UnitOverride {
                h_s: entry.h_s.clone(),
                droop: entry.droop.clone(),
                governor: entry.governor,
                tg_s: entry.tg_s.clone(),
                tt_s: entry.tt_s.clone(),
                reheat: entry.reheat,
                hp_fraction: entry.hp_fraction.clone(),
                t_r_s: entry.t_r_s.clone(),
            };
            apply_unit(&mut g.params, &o, &mut err);
            if let Some(v) = &entry.pmax_mw {
                if v.get_ref().is_finite() {
                    g.pmax_mw = *v.get_ref();
                } else {
                    err(v.span(), "pmax_mw must be a finite number".into());
                }
            }
            if let Some(v) = &entry.mbase_mva {
                if *v.get_ref() > 0.0 && v.get_ref().is_finite() {
                    g.mbase_mva = *v.get_ref();
                } else {
                    err(v.span(), "mbase_mva must be a positive number".into());
                }
            }
            if let Some(v) = &entry.pmin_mw {
                if v.get_ref().is_finite() {
                    g.pmin_mw = *v.get_ref();
                } else {
                    err(v.span(), "pmin_mw must be a finite number".into());
                }
            }
            if g.pmin_mw > g.pmax_mw {
                let span =
                    entry.pmin_mw.as_ref().or(entry.pmax_mw.as_ref()).map_or(entry.row.span(), |v| v.span());
                err(
                    span,
                    format!("generator row {row}: pmin_mw {} is above pmax_mw {}", g.pmin_mw, g.pmax_mw),
                );
            }
            if let Some(v) = entry.freq_protection {
                g.freq_protection = v;
            }
            g.name.clone_from(&entry.name);
        }

        // Loads.
        let mut seen = BTreeMap::new();
        for entry in &file.load {
            let id = *entry.bus.get_ref();
            let Some(bus) = case.bus_idx(BusId(id)) else {
                err(entry.bus.span(), format!("bus {id} is not in the case"));
                continue;
            };
            if let Some(prev) = seen.insert(id, entry.bus.span()) {
                let (line, _) = line_col(text, prev.start);
                err(entry.bus.span(), format!("load at bus {id} is already described on line {line}"));
            }
            let Some(k) = r.d.loads.iter().position(|l| l.bus == bus) else {
                err(entry.bus.span(), format!("bus {id} has no demand in the case (Pd = Qd = 0)"));
                continue;
            };
            let l = &mut r.d.loads[k];
            if let Some(c) = entry.customers {
                l.customers = c;
            }
            if let Some(s) = &entry.substation {
                l.substation.clone_from(s);
            }
            if let Some(s) = &entry.feeder {
                l.feeder.clone_from(s);
            }
            if let Some(u) = entry.ufls {
                l.ufls = u;
            }
        }

        // Areas.
        for entry in &file.area {
            if let Some(name) = &entry.name {
                r.d.area_names.insert(entry.id, name.clone());
            }
            for b in &entry.buses {
                match case.bus_idx(BusId(*b.get_ref())) {
                    Some(idx) => r.d.bus_area[idx.get()] = entry.id,
                    None => err(b.span(), format!("bus {} is not in the case", b.get_ref())),
                }
            }
        }

        // Stations: every bus in one at most.
        let mut in_station = vec![false; case.buses.len()];
        for entry in &file.station {
            if entry.name.get_ref().trim().is_empty() {
                err(entry.name.span(), "a station needs a name".into());
            }
            if entry.buses.get_ref().is_empty() {
                err(entry.buses.span(), "a station needs at least one bus".into());
            }
            let mut buses = Vec::new();
            for b in entry.buses.get_ref() {
                match case.bus_idx(BusId(*b.get_ref())) {
                    Some(idx) if in_station[idx.get()] => {
                        err(b.span(), format!("bus {} is already in another station", b.get_ref()))
                    }
                    Some(idx) => {
                        in_station[idx.get()] = true;
                        buses.push(idx);
                    }
                    None => err(b.span(), format!("bus {} is not in the case", b.get_ref())),
                }
            }
            r.d.stations.push(Station {
                name: entry.name.get_ref().trim().to_string(),
                buses,
                area: entry.area,
            });
        }

        // Protection.
        if let Some(p) = &file.protection {
            let mut all = DEFAULT_RELAY;
            if let Some(v) = positive("pickup", &p.pickup, &mut err) {
                all.pickup = v;
            }
            if let Some(c) = p.curve {
                all.curve = c;
            }
            if let Some(v) = positive("tms", &p.tms, &mut err) {
                all.tms = v;
            }
            if let Some(v) = non_negative("instantaneous", &p.instantaneous, &mut err) {
                all.instantaneous = v;
            }
            for (k, relay) in r.d.relays.iter_mut().enumerate() {
                *relay = BranchRelay { rating_mva: case.branches[k].rate_a_mva.max(0.0), ..all };
            }
            if let Some(v) = positive("gen_under_hz", &p.gen_under_hz, &mut err) {
                r.d.gen_under_hz = v;
            }
            if let Some(v) = positive("gen_over_hz", &p.gen_over_hz, &mut err) {
                r.d.gen_over_hz = v;
            }
            if let Some(v) = non_negative("gen_delay_s", &p.gen_delay_s, &mut err) {
                r.d.gen_delay_s = v;
            }
            let mut seen = BTreeMap::new();
            for entry in &p.branch {
                let row = entry.row.get_ref();
                let Some(idx) = row.checked_sub(1).filter(|&i| (i as usize) < case.branches.len()) else {
                    err(
                        entry.row.span(),
                        format!("branch row {row} does not exist (the case has {})", case.branches.len()),
                    );
                    continue;
                };
                if let Some(prev) = seen.insert(*row, entry.row.span()) {
                    let (line, _) = line_col(text, prev.start);
                    err(entry.row.span(), format!("branch row {row} is already described on line {line}"));
                }
                let relay = &mut r.d.relays[idx as usize];
                if let Some(v) = non_negative("rating_mva", &entry.rating_mva, &mut err) {
                    relay.rating_mva = v;
                }
                if let Some(v) = positive("pickup", &entry.pickup, &mut err) {
                    relay.pickup = v;
                }
                if let Some(c) = entry.curve {
                    relay.curve = c;
                }
                if let Some(v) = positive("tms", &entry.tms, &mut err) {
                    relay.tms = v;
                }
                if let Some(v) = non_negative("instantaneous", &entry.instantaneous, &mut err) {
                    relay.instantaneous = v;
                }
                if let Some(v) = entry.enabled {
                    relay.enabled = v;
                }
            }
        }
        if r.d.gen_under_hz >= r.d.f0_hz || r.d.gen_over_hz <= r.d.f0_hz {
            let span =
                file.protection.as_ref().and_then(|p| p.gen_under_hz.as_ref()).map_or(0..0, |v| v.span());
            err(span, format!("generator frequency trips must lie either side of f0_hz = {}", r.d.f0_hz));
        }

        if let Some(stages) = &file.ufls {
            r.d.ufls.clear();
            for s in stages {
                let f = *s.f_hz.get_ref();
                if !(f > 0.0 && f < r.d.f0_hz) {
                    err(s.f_hz.span(), format!("a UFLS stage must be below f0_hz = {}", r.d.f0_hz));
                }
                let fraction = *s.fraction.get_ref();
                if !(fraction > 0.0 && fraction <= 1.0) {
                    err(s.fraction.span(), "fraction must be in (0, 1]".into());
                }
                let delay = s.delay_s.as_ref().map_or(0.15, |v| *v.get_ref());
                if !(delay >= 0.0 && delay.is_finite()) {
                    err(s.delay_s.as_ref().map_or(0..0, |v| v.span()), "delay_s must be zero or more".into());
                }
                r.d.ufls.push(UflsStage { f_hz: f, fraction, delay_s: delay });
            }
            if stages.len() > 16 {
                err(stages[16].f_hz.span(), "at most 16 UFLS stages".into());
            }
            r.d.ufls.sort_by(|a, b| b.f_hz.total_cmp(&a.f_hz));
            let total: f64 = r.d.ufls.iter().map(|s| s.fraction).sum();
            if total > 1.0 + 1e-9 {
                err(0..0, format!("UFLS stages shed {:.0} % of load in all; at most 100 %", total * 100.0));
            }
        }

        if errors.is_empty() { Ok(r.finish()) } else { Err(Diagnostics(errors)) }
    }

    /// Area ids present, ascending.
    pub fn areas(&self) -> Vec<u32> {
        let mut a: Vec<u32> = self.bus_area.clone();
        a.sort_unstable();
        a.dedup();
        a
    }
}

const DEFAULT_RELAY: BranchRelay = BranchRelay {
    rating_mva: 0.0,
    pickup: 1.0,
    curve: Curve::IecStandard,
    tms: 0.1,
    instantaneous: 2.0,
    enabled: true,
};

/// Builds defaults for a case; the sidecar reader edits them in place.
struct Resolver {
    d: Dynamics,
}

impl Resolver {
    fn new(case: &Case, f0_hz: f64, default_unit: UnitType, customers_per_mw: f64) -> Resolver {
        let scale = f0_hz / 50.0;
        let gens = case
            .gens
            .iter()
            .map(|g| GenDynamics {
                unit: default_unit,
                params: UnitParams::typical(default_unit),
                mbase_mva: g.mbase_mva.max(0.0),
                pmin_mw: g.pmin_mw,
                pmax_mw: g.pmax_mw,
                freq_protection: true,
                name: None,
            })
            .collect();
        let loads = case
            .buses
            .iter()
            .enumerate()
            .filter(|(_, b)| b.pd_mw != 0.0 || b.qd_mvar != 0.0)
            .map(|(i, b)| LoadPoint {
                bus: BusIdx(i as u32),
                customers: (b.pd_mw.max(0.0) * customers_per_mw).round() as u32,
                substation: format!("bus {}", b.id),
                feeder: format!("load {}", b.id),
                ufls: true,
            })
            .collect();
        let relays = case
            .branches
            .iter()
            .map(|br| BranchRelay { rating_mva: br.rate_a_mva.max(0.0), ..DEFAULT_RELAY })
            .collect();
        let ufls = [49.0, 48.8, 48.6, 48.4]
            .into_iter()
            .map(|f| UflsStage { f_hz: f * scale, fraction: 0.125, delay_s: 0.15 })
            .collect();
        Resolver {
            d: Dynamics {
                f0_hz,
                load_damping: 1.0,
                pf_interval_s: 1.0,
                substep_s: 0.01,
                gens,
                loads,
                relays,
                bus_area: case.buses.iter().map(|b| b.area).collect(),
                area_names: BTreeMap::new(),
                stations: Vec::new(),
                gen_under_hz: 47.5 * scale,
                gen_over_hz: 51.5 * scale,
                gen_delay_s: 0.1,
                ufls,
            },
        }
    }

    fn finish(self) -> Dynamics {
        self.d
    }
}

fn apply_unit(p: &mut UnitParams, o: &UnitOverride, err: &mut dyn FnMut(Range<usize>, String)) {
    let mut take = |name: &str, v: &Option<Spanned<f64>>, allow_zero: bool| -> Option<f64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
        if x.is_finite() && (x > 0.0 || (allow_zero && x == 0.0)) {
            Some(x)
        } else {
            err(v.span(), format!("{name} must be {}", if allow_zero { "zero or more" } else { "positive" }));
            None
        }
    };
    if let Some(v) = take("h_s", &o.h_s, true) {
        p.h_s = v;
    }
    if let Some(v) = take("droop", &o.droop, false) {
        p.droop = Some(v);
    }
    if let Some(v) = take("tg_s", &o.tg_s, true) {
        p.tg_s = v;
    }
    if let Some(v) = take("tt_s", &o.tt_s, true) {
        p.tt_s = v;
    }
    if o.governor == Some(false) {
        p.droop = None;
    }
    if o.reheat == Some(false) {
        p.reheat = None;
    }
    let hp = take("hp_fraction", &o.hp_fraction, true);
    let tr = take("t_r_s", &o.t_r_s, false);
    if hp.is_some() || tr.is_some() {
        let base = p.reheat.unwrap_or(Reheat { hp_fraction: 0.3, t_r_s: 7.0 });
        p.reheat = Some(Reheat {
            hp_fraction: hp.unwrap_or(base.hp_fraction).min(1.0),
            t_r_s: tr.unwrap_or(base.t_r_s),
        });
    }
}

/// One problem in a sidecar file (1-based line and column).
pub type SidecarError = Diagnostic;

/// Every problem found in a sidecar file, in file order.
pub type SidecarErrors = Diagnostics;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: Option<Spanned<u32>>,
    f0_hz: Option<Spanned<f64>>,
    load_damping: Option<Spanned<f64>>,
    pf_interval_s: Option<Spanned<f64>>,
    substep_s: Option<Spanned<f64>>,
    default_unit: Option<UnitType>,
    customers_per_mw: Option<Spanned<f64>>,
    #[serde(default)]
    units: BTreeMap<UnitType, UnitOverride>,
    #[serde(default, rename = "gen")]
    gens: Vec<GenEntry>,
    #[serde(default)]
    load: Vec<LoadEntry>,
    #[serde(default)]
    area: Vec<AreaEntry>,
    #[serde(default)]
    station: Vec<StationEntry>,
    protection: Option<ProtectionEntry>,
    ufls: Option<Vec<UflsEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitOverride {
    h_s: Option<Spanned<f64>>,
    droop: Option<Spanned<f64>>,
    governor: Option<bool>,
    tg_s: Option<Spanned<f64>>,
    tt_s: Option<Spanned<f64>>,
    reheat: Option<bool>,
    hp_fraction: Option<Spanned<f64>>,
    t_r_s: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenEntry {
    row: Spanned<u32>,
    unit: Option<UnitType>,
    h_s: Option<Spanned<f64>>,
    droop: Option<Spanned<f64>>,
    governor: Option<bool>,
    tg_s: Option<Spanned<f64>>,
    tt_s: Option<Spanned<f64>>,
    reheat: Option<bool>,
    hp_fraction: Option<Spanned<f64>>,
    t_r_s: Option<Spanned<f64>>,
    pmax_mw: Option<Spanned<f64>>,
    pmin_mw: Option<Spanned<f64>>,
    mbase_mva: Option<Spanned<f64>>,
    freq_protection: Option<bool>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadEntry {
    bus: Spanned<u32>,
    customers: Option<u32>,
    substation: Option<String>,
    feeder: Option<String>,
    ufls: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaEntry {
    id: u32,
    name: Option<String>,
    #[serde(default)]
    buses: Vec<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StationEntry {
    name: Spanned<String>,
    buses: Spanned<Vec<Spanned<u32>>>,
    area: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectionEntry {
    pickup: Option<Spanned<f64>>,
    curve: Option<Curve>,
    tms: Option<Spanned<f64>>,
    instantaneous: Option<Spanned<f64>>,
    gen_under_hz: Option<Spanned<f64>>,
    gen_over_hz: Option<Spanned<f64>>,
    gen_delay_s: Option<Spanned<f64>>,
    #[serde(default)]
    branch: Vec<BranchEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchEntry {
    row: Spanned<u32>,
    rating_mva: Option<Spanned<f64>>,
    pickup: Option<Spanned<f64>>,
    curve: Option<Curve>,
    tms: Option<Spanned<f64>>,
    instantaneous: Option<Spanned<f64>>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UflsEntry {
    f_hz: Spanned<f64>,
    fraction: Spanned<f64>,
    delay_s: Option<Spanned<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_constants_match_the_standards() {
        // IEC 60255-151 at M = 10, TMS = 1: SI 2.971 s, VI 1.5 s, EI 0.808 s.
        assert!((Curve::IecStandard.trip_time_s(1.0, 10.0) - 2.9706).abs() < 1e-3);
        assert!((Curve::IecVery.trip_time_s(1.0, 10.0) - 1.5).abs() < 1e-12);
        assert!((Curve::IecExtremely.trip_time_s(1.0, 10.0) - 80.0 / 99.0).abs() < 1e-12);
        assert!(Curve::IecVery.trip_time_s(1.0, 1.0).is_infinite());
        assert!(Curve::IecVery.trip_time_s(1.0, 0.5).is_infinite());
    }

    /// A nominal frequency is a grid's (1e308 Hz was accepted and broke every threshold).
    #[test]
    fn nominal_frequency_must_be_a_grid_frequency() {
        let case = crate::matpower::parse(include_str!("../../../cases/case9.m")).unwrap();
        for bad in ["f0_hz = 1e308", "f0_hz = 0.0", "f0_hz = -50.0", "f0_hz = 5000.0", "f0_hz = nan"] {
            let err = Dynamics::from_toml(&case, bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(err.to_string().contains("nominal frequency"), "{bad}: {err}");
        }
        for good in ["f0_hz = 50.0", "f0_hz = 60.0"] {
            assert!(Dynamics::from_toml(&case, good).is_ok(), "{good}");
        }
    }

    /// A station names buses of the case, each bus in one station at most; every problem is
    /// reported with its line and column.
    #[test]
    fn stations_name_buses_of_the_case_once() {
        let case = crate::matpower::parse(include_str!("../../../cases/case9.m")).unwrap();
        let good = "[[station]]\nname = \"North\"\nbuses = [1, 4]\narea = 2\n";
        let d = Dynamics::from_toml(&case, good).expect("a good station");
        assert_eq!(d.stations.len(), 1);
        assert_eq!(d.stations[0].name, "North");
        assert_eq!(d.stations[0].buses, [BusIdx(0), BusIdx(3)]);
        assert_eq!(d.stations[0].area, Some(2));
        let bad = "[[station]]\nname = \"A\"\nbuses = [1, 4]\n\n[[station]]\nname = \" \"\nbuses = [4, 99]\n";
        let err = Dynamics::from_toml(&case, bad).expect_err("refused").to_string();
        assert!(err.contains("7:10") && err.contains("bus 4 is already in another station"), "{err}");
        assert!(err.contains("7:13") && err.contains("bus 99 is not in the case"), "{err}");
        assert!(err.contains("6:8") && err.contains("a station needs a name"), "{err}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 3), (2, 1));
    }
}
