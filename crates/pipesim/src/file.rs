//! The pipeline file: TOML, every problem reported at once with its line and column.
//!
//! ```toml
//! format = 1
//! name = "Products line"
//!
//! [product]
//! name = "diesel"
//! density_kg_m3 = 840
//! viscosity_cst = 4.0            # kinematic, mm²/s
//! vapour_pressure_kpa = 1.0      # absolute
//!
//! [origin]                       # the tank the line draws from
//! name = "Origin tank farm"
//! elevation_m = 10               # its base
//! level_m = 12                   # product above the base
//!
//! [delivery]                     # the tank it delivers to
//! name = "Terminal"
//! elevation_m = 30
//! level_m = 8
//! nomination_m3_h = 2000         # the shipper's rate; product not delivered counts from it
//!
//! [[segment]]                    # in order of flow
//! name = "L1"
//! length_km = 40                # at least 0.1; the whole line at most 10,000
//! diameter_mm = 500              # inside
//! roughness_mm = 0.045
//! wave_speed_m_s = 1100
//! maop_bar = 70                  # gauge
//! burst_bar = 97                 # default: MAOP / 0.72 (MAOP at 72 % of SMYS)
//! elevation_m = [[0, 10], [25, 80], [40, 35]]   # [km from the segment's start, m]; or one number
//!
//! [[station]]                    # a pump station at a joint
//! name = "PS1"
//! at = "origin"                  # "origin" or the segment it follows
//! [[station.pump]]               # in series, in order of flow
//! name = "P-101"
//! shutoff_head_m = 700
//! rated_flow_m3_h = 2000
//! rated_head_m = 550
//! rated_speed_rpm = 3560
//! min_speed_rpm = 1800           # default: half the rated speed
//! max_speed_rpm = 3700           # default: the rated speed
//! ramp_rpm_s = 60                # the drive's ramp
//! rundown_s = 8                  # coast-down time constant after a trip
//! speed_rpm = 3560               # at the start; 0 = stopped
//!
//! [[valve]]                      # after a joint's pumps, in file order
//! name = "XV-101"
//! at = "PS1"                     # "origin", a station, or the segment it follows
//! diameter_mm = 500
//! loss_coefficient = 0.2         # K fully open
//! characteristic = "linear"      # linear | equal_percentage | quick_opening
//! travel_s = 60                  # full stroke
//! open = 1.0                     # at the start, 0 to 1
//! esd = true                     # the safety system may close it
//!
//! [[relief]]
//! name = "PSV-201"
//! segment = "L2"
//! at_km = 0.0
//! set_bar = 75
//! capacity_m3_h = 1500           # at full lift (10 % above set)
//!
//! [[meter]]
//! name = "FT-101"
//! at = "PS1"                     # the flow through that joint
//! uncertainty_pct = 0.25         # stated, of reading
//! bias_pct = 0.1                 # what it really reads off by
//!
//! [leak_detection]
//! inlet = "FT-101"
//! outlet = "FT-301"
//! period_s = 10
//! windows_s = [300, 900, 3600]
//! linepack_uncertainty_m3 = 2.0
//! transient_flow_pct_per_min = 5
//! transient_kpa_per_min = 300
//! transient_hold_s = 600
//!
//! [sis]
//! scan_ms = 100
//! span_bar = 150                 # transmitters' range, 0 to span
//! [[sis.function]]
//! tag = "PAHH-101"               # at most 16 ASCII characters
//! station = "PS1"
//! measure = "discharge"          # suction | discharge
//! trip = "high"                  # high | low
//! set_bar = 68
//! delay_ms = 500
//! close = ["XV-101"]             # ESD valves it closes; it stops the station's pumps
//! enabled = true
//! ```

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::model::{
    Characteristic, Joint, LeakDetection, Measure, Meter, Pipeline, Product, Pump, Relief, SafetyFunction,
    Segment, SisConfig, Tank, TripKind, Valve,
};

/// A pipeline file's problems, each at its line and column.
pub use simcore::{Diagnostic, Diagnostics};

/// One problem, 1-based line and column.
pub type FileError = Diagnostic;

/// Every problem found in a pipeline file, in file order.
pub type FileErrors = Diagnostics;

type Num = Spanned<f64>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: Option<Spanned<u32>>,
    name: String,
    product: Spanned<ProductFile>,
    origin: TankFile,
    delivery: DeliveryFile,
    segment: Vec<Spanned<SegmentFile>>,
    #[serde(default)]
    station: Vec<Spanned<StationFile>>,
    #[serde(default)]
    valve: Vec<Spanned<ValveFile>>,
    #[serde(default)]
    relief: Vec<Spanned<ReliefFile>>,
    #[serde(default)]
    meter: Vec<Spanned<MeterFile>>,
    leak_detection: Option<Spanned<LeakFile>>,
    sis: Option<Spanned<SisFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductFile {
    name: String,
    density_kg_m3: Num,
    viscosity_cst: Num,
    vapour_pressure_kpa: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TankFile {
    name: String,
    elevation_m: Num,
    level_m: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryFile {
    name: String,
    elevation_m: Num,
    level_m: Num,
    nomination_m3_h: Num,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Profile {
    Flat(f64),
    Points(Vec<[f64; 2]>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentFile {
    name: Spanned<String>,
    length_km: Num,
    diameter_mm: Num,
    roughness_mm: Num,
    wave_speed_m_s: Num,
    maop_bar: Num,
    burst_bar: Option<Num>,
    elevation_m: Spanned<Profile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StationFile {
    name: Spanned<String>,
    at: Spanned<String>,
    pump: Vec<Spanned<PumpFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PumpFile {
    name: Spanned<String>,
    shutoff_head_m: Num,
    rated_flow_m3_h: Num,
    rated_head_m: Num,
    rated_speed_rpm: Num,
    min_speed_rpm: Option<Num>,
    max_speed_rpm: Option<Num>,
    ramp_rpm_s: Num,
    rundown_s: Num,
    speed_rpm: Num,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum CharFile {
    Linear,
    EqualPercentage,
    QuickOpening,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValveFile {
    name: Spanned<String>,
    at: Spanned<String>,
    diameter_mm: Num,
    loss_coefficient: Num,
    characteristic: Option<CharFile>,
    travel_s: Num,
    open: Option<Num>,
    #[serde(default)]
    esd: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReliefFile {
    name: Spanned<String>,
    segment: Spanned<String>,
    at_km: Num,
    set_bar: Num,
    capacity_m3_h: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeterFile {
    name: Spanned<String>,
    at: Spanned<String>,
    uncertainty_pct: Num,
    #[serde(default)]
    bias_pct: Option<Num>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeakFile {
    inlet: Spanned<String>,
    outlet: Spanned<String>,
    period_s: Num,
    windows_s: Spanned<Vec<f64>>,
    linepack_uncertainty_m3: Num,
    transient_flow_pct_per_min: Num,
    transient_kpa_per_min: Num,
    transient_hold_s: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SisFile {
    scan_ms: Spanned<u32>,
    span_bar: Num,
    #[serde(default)]
    function: Vec<Spanned<FunctionFile>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum MeasureFile {
    Suction,
    Discharge,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum TripFile {
    High,
    Low,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionFile {
    tag: Spanned<String>,
    station: Spanned<String>,
    measure: MeasureFile,
    trip: TripFile,
    set_bar: Num,
    delay_ms: Spanned<u32>,
    #[serde(default)]
    close: Vec<Spanned<String>>,
    enabled: Option<bool>,
}

struct Checker<'t> {
    text: &'t str,
    errors: Vec<(usize, String)>,
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.errors.push((span.start, msg.into()));
    }

    /// A number in `[lo, hi]` (`lo_open`: strictly above `lo`), else an error at it.
    fn num(&mut self, v: &Num, what: &str, lo: f64, lo_open: bool, hi: f64) -> f64 {
        let x = *v.get_ref();
        let ok = x.is_finite() && (if lo_open { x > lo } else { x >= lo }) && x <= hi;
        if !ok {
            let low = if lo_open { format!("above {lo}") } else { format!("at least {lo}") };
            self.err(v.span(), format!("{what} must be {low} and at most {hi}, not {x}"));
        }
        x
    }

    fn finish(self) -> Diagnostics {
        let mut errors: Vec<Diagnostic> =
            self.errors.into_iter().map(|(at, message)| Diagnostic::at(self.text, at, message)).collect();
        errors.sort_by_key(|e| (e.line, e.col));
        Diagnostics(errors)
    }
}

const BAR: f64 = 1e5;

/// Reads and checks a pipeline file.
pub fn parse(text: &str) -> Result<Pipeline, FileErrors> {
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic::at(
                text,
                e.span().map_or(0, |s| s.start),
                e.message(),
            )]));
        }
    };
    let mut c = Checker { text, errors: Vec::new() };
    if let Some(v) = &file.format
        && *v.get_ref() != 1
    {
        c.err(v.span(), format!("pipeline format {} is not known; this build reads format 1", v.get_ref()));
    }
    let pf = file.product.get_ref();
    let product = Product {
        name: pf.name.clone(),
        density_kg_m3: c.num(&pf.density_kg_m3, "density_kg_m3", 300.0, false, 2000.0),
        viscosity_m2_s: c.num(&pf.viscosity_cst, "viscosity_cst", 0.0, true, 1e5) * 1e-6,
        vapour_pressure_pa: c.num(&pf.vapour_pressure_kpa, "vapour_pressure_kpa", 0.0, false, 100.0) * 1e3,
    };
    let origin = Tank {
        name: file.origin.name.clone(),
        elevation_m: c.num(&file.origin.elevation_m, "elevation_m", -500.0, false, 9000.0),
        level_m: c.num(&file.origin.level_m, "level_m", 0.0, false, 100.0),
    };
    let delivery = Tank {
        name: file.delivery.name.clone(),
        elevation_m: c.num(&file.delivery.elevation_m, "elevation_m", -500.0, false, 9000.0),
        level_m: c.num(&file.delivery.level_m, "level_m", 0.0, false, 100.0),
    };
    let nomination_m3_s = c.num(&file.delivery.nomination_m3_h, "nomination_m3_h", 0.0, false, 1e6) / 3600.0;

    let mut segments: Vec<Segment> = Vec::new();
    if file.segment.is_empty() {
        c.err(0..0, "a pipeline needs at least one [[segment]]");
    }
    if file.segment.len() > 1000 {
        c.err(file.segment[1000].span(), "at most 1000 segments");
    }
    let mut names: Vec<(String, Range<usize>)> = Vec::new();
    let mut unique = |c: &mut Checker, name: &Spanned<String>| {
        let n = name.get_ref();
        if n.is_empty() || n.len() > 64 || n.chars().any(char::is_control) {
            c.err(name.span(), "a name is 1 to 64 printable characters");
        }
        if n == "origin" || names.iter().any(|(m, _)| m == n) {
            c.err(name.span(), format!("the name `{n}` is already taken"));
        }
        names.push((n.clone(), name.span()));
    };
    for s in file.segment.iter().take(1000) {
        let sf = s.get_ref();
        unique(&mut c, &sf.name);
        let length_m = c.num(&sf.length_km, "length_km", 0.1, false, 10_000.0) * 1e3;
        let diameter_m = c.num(&sf.diameter_mm, "diameter_mm", 10.0, false, 5000.0) * 1e-3;
        let maop_pa = c.num(&sf.maop_bar, "maop_bar", 0.0, true, 1000.0) * BAR;
        let burst_pa = match &sf.burst_bar {
            Some(b) => {
                let v = c.num(b, "burst_bar", 0.0, true, 2000.0) * BAR;
                if v <= maop_pa {
                    c.err(b.span(), "burst_bar must be above maop_bar");
                }
                v
            }
            None => maop_pa / 0.72,
        };
        let profile = match sf.elevation_m.get_ref() {
            Profile::Flat(z) => vec![(0.0, *z)],
            Profile::Points(pts) => pts.iter().map(|p| (p[0] * 1e3, p[1])).collect(),
        };
        let increasing = profile.windows(2).all(|w| w[1].0 > w[0].0);
        if profile.is_empty()
            || !increasing
            || profile.iter().any(|(x, z)| !x.is_finite() || !z.is_finite() || *x < 0.0 || z.abs() > 9000.0)
        {
            c.err(
                sf.elevation_m.span(),
                "elevation_m is a number or [[km, m], ...] with increasing distances from 0",
            );
        }
        segments.push(Segment {
            name: sf.name.get_ref().clone(),
            length_m,
            diameter_m,
            roughness_m: c.num(&sf.roughness_mm, "roughness_mm", 0.0, false, 10.0) * 1e-3,
            wave_speed_m_s: c.num(&sf.wave_speed_m_s, "wave_speed_m_s", 100.0, false, 2000.0),
            maop_pa,
            burst_pa,
            profile: if profile.is_empty() { vec![(0.0, 0.0)] } else { profile },
        });
    }
    if segments.iter().map(|s| s.length_m).sum::<f64>() > 10_000e3 {
        c.err(file.segment[0].span(), "the line is longer than 10,000 km");
    }
    let mut joints: Vec<Joint> = std::iter::once("origin".to_string())
        .chain(segments.iter().map(|s| s.name.clone()))
        .map(|name| Joint { name, station: None, pumps: Vec::new(), valves: Vec::new() })
        .collect();
    let joint_of = |joints: &[Joint], at: &str| {
        joints.iter().position(|j| j.name == at || j.station.as_deref() == Some(at))
    };
    let mut pumps = Vec::new();
    // Stations that could not be placed: what refers to them is not reported again.
    let mut unplaced: Vec<String> = Vec::new();
    for st in &file.station {
        let sf = st.get_ref();
        unique(&mut c, &sf.name);
        let Some(j) = joint_of(&joints, sf.at.get_ref()) else {
            c.err(sf.at.span(), format!("`{}` is neither \"origin\" nor a segment", sf.at.get_ref()));
            unplaced.push(sf.name.get_ref().clone());
            continue;
        };
        if joints[j].station.is_some() {
            c.err(sf.at.span(), "there is already a station at this joint");
            continue;
        }
        if sf.pump.is_empty() || sf.pump.len() > 8 {
            c.err(st.span(), "a station has 1 to 8 [[station.pump]] (its PLC's map holds 8)");
        }
        joints[j].station = Some(sf.name.get_ref().clone());
        for pu in &sf.pump {
            let p = pu.get_ref();
            unique(&mut c, &p.name);
            let shutoff = c.num(&p.shutoff_head_m, "shutoff_head_m", 0.0, true, 5000.0);
            let rated_head = c.num(&p.rated_head_m, "rated_head_m", 0.0, true, 5000.0);
            if rated_head >= shutoff {
                c.err(p.rated_head_m.span(), "rated_head_m must be below shutoff_head_m (a falling curve)");
            }
            let rated_speed = c.num(&p.rated_speed_rpm, "rated_speed_rpm", 0.0, true, 20_000.0);
            let min_speed = match &p.min_speed_rpm {
                Some(v) => c.num(v, "min_speed_rpm", 0.0, false, rated_speed),
                None => rated_speed / 2.0,
            };
            let max_speed = match &p.max_speed_rpm {
                Some(v) => c.num(v, "max_speed_rpm", rated_speed.max(min_speed), false, 1.5 * rated_speed),
                None => rated_speed,
            };
            let speed = *p.speed_rpm.get_ref();
            if !(speed == 0.0 || (min_speed..=max_speed).contains(&speed)) {
                c.err(
                    p.speed_rpm.span(),
                    "speed_rpm is 0 (stopped) or between the minimum and maximum speeds",
                );
            }
            pumps.push(Pump {
                name: p.name.get_ref().clone(),
                shutoff_head_m: shutoff,
                rated_flow_m3_s: c.num(&p.rated_flow_m3_h, "rated_flow_m3_h", 0.0, true, 1e6) / 3600.0,
                rated_head_m: rated_head,
                rated_speed_rpm: rated_speed,
                min_speed_rpm: min_speed,
                max_speed_rpm: max_speed,
                ramp_rpm_s: c.num(&p.ramp_rpm_s, "ramp_rpm_s", 0.0, true, 1e5),
                rundown_s: c.num(&p.rundown_s, "rundown_s", 0.0, true, 3600.0),
                speed_rpm: speed,
            });
            joints[j].pumps.push(pumps.len() - 1);
        }
    }
    if file.station.len() > 200 {
        c.err(file.station[200].span(), "at most 200 stations (the device plan's block holds 255)");
    }
    let mut valves = Vec::new();
    for vs in &file.valve {
        let v = vs.get_ref();
        unique(&mut c, &v.name);
        let Some(j) = joint_of(&joints, v.at.get_ref()) else {
            if !unplaced.contains(v.at.get_ref()) {
                c.err(v.at.span(), format!("`{}` is not \"origin\", a station or a segment", v.at.get_ref()));
            }
            unplaced.push(v.name.get_ref().clone());
            continue;
        };
        if joints[j].valves.len() >= 8 {
            c.err(v.at.span(), "at most 8 valves at one joint (a PLC's or RTU's map holds 8)");
        }
        valves.push(Valve {
            name: v.name.get_ref().clone(),
            diameter_m: c.num(&v.diameter_mm, "diameter_mm", 10.0, false, 5000.0) * 1e-3,
            loss_coefficient: c.num(&v.loss_coefficient, "loss_coefficient", 0.0, true, 1e4),
            characteristic: match v.characteristic.unwrap_or(CharFile::Linear) {
                CharFile::Linear => Characteristic::Linear,
                CharFile::EqualPercentage => Characteristic::EqualPercentage,
                CharFile::QuickOpening => Characteristic::QuickOpening,
            },
            travel_s: c.num(&v.travel_s, "travel_s", 0.0, true, 3600.0),
            open: v.open.as_ref().map_or(1.0, |o| c.num(o, "open", 0.0, false, 1.0)),
            esd: v.esd,
        });
        joints[j].valves.push(valves.len() - 1);
    }
    let seg_of = |name: &str| segments.iter().position(|s| s.name == name);
    let mut reliefs = Vec::new();
    for rs in &file.relief {
        let r = rs.get_ref();
        unique(&mut c, &r.name);
        let Some(k) = seg_of(r.segment.get_ref()) else {
            c.err(r.segment.span(), format!("no segment `{}`", r.segment.get_ref()));
            continue;
        };
        let at_m = c.num(&r.at_km, "at_km", 0.0, false, segments[k].length_m / 1e3) * 1e3;
        reliefs.push(Relief {
            name: r.name.get_ref().clone(),
            segment: k,
            at_m,
            set_pa: c.num(&r.set_bar, "set_bar", 0.0, true, 2000.0) * BAR,
            capacity_m3_s: c.num(&r.capacity_m3_h, "capacity_m3_h", 0.0, true, 1e6) / 3600.0,
        });
    }
    let mut meters = Vec::new();
    for ms in &file.meter {
        let m = ms.get_ref();
        unique(&mut c, &m.name);
        let Some(j) = joint_of(&joints, m.at.get_ref()) else {
            if !unplaced.contains(m.at.get_ref()) {
                c.err(m.at.span(), format!("`{}` is not \"origin\", a station or a segment", m.at.get_ref()));
            }
            continue;
        };
        meters.push(Meter {
            name: m.name.get_ref().clone(),
            joint: j,
            uncertainty: c.num(&m.uncertainty_pct, "uncertainty_pct", 0.0, false, 10.0) / 100.0,
            bias: m.bias_pct.as_ref().map_or(0.0, |b| c.num(b, "bias_pct", -10.0, false, 10.0) / 100.0),
        });
    }
    if valves.len() > 200 {
        c.err(file.valve[200].span(), "at most 200 valves");
    }
    let meter_of = |c: &mut Checker, name: &Spanned<String>| {
        let k = meters.iter().position(|m| m.name == *name.get_ref());
        if k.is_none() {
            c.err(name.span(), format!("no meter `{}`", name.get_ref()));
        }
        k
    };
    let leak_detection = file.leak_detection.as_ref().and_then(|l| {
        let lf = l.get_ref();
        let inlet = meter_of(&mut c, &lf.inlet);
        let outlet = meter_of(&mut c, &lf.outlet);
        let windows = lf.windows_s.get_ref().clone();
        if windows.is_empty()
            || windows.len() > 8
            || windows.iter().any(|w| !(w.is_finite() && *w > 0.0 && *w <= 86_400.0))
        {
            c.err(lf.windows_s.span(), "windows_s: 1 to 8 windows, each above 0 and at most 86400 s");
        }
        let ld = LeakDetection {
            inlet: inlet?,
            outlet: outlet?,
            period_s: c.num(&lf.period_s, "period_s", 0.1, false, 3600.0),
            windows_s: windows,
            linepack_uncertainty_m3: c.num(
                &lf.linepack_uncertainty_m3,
                "linepack_uncertainty_m3",
                0.0,
                false,
                1e6,
            ),
            transient_flow_per_min: c.num(
                &lf.transient_flow_pct_per_min,
                "transient_flow_pct_per_min",
                0.0,
                true,
                1000.0,
            ) / 100.0,
            transient_pa_per_min: c.num(&lf.transient_kpa_per_min, "transient_kpa_per_min", 0.0, true, 1e6)
                * 1e3,
            transient_hold_s: c.num(&lf.transient_hold_s, "transient_hold_s", 0.0, false, 86_400.0),
        };
        Some(ld)
    });
    let sis = file.sis.as_ref().map(|s| {
        let sf = s.get_ref();
        let span_pa = c.num(&sf.span_bar, "span_bar", 0.0, true, 2000.0) * BAR;
        if !(1..=10_000).contains(sf.scan_ms.get_ref()) {
            c.err(sf.scan_ms.span(), "scan_ms must be 1 to 10000");
        }
        if sf.function.len() > 32 {
            c.err(sf.function[32].span(), "at most 32 safety functions");
        }
        let mut functions = Vec::new();
        for fs in sf.function.iter().take(32) {
            let f = fs.get_ref();
            let tag = f.tag.get_ref();
            if tag.is_empty() || tag.len() > 16 || !tag.bytes().all(|b| b.is_ascii_graphic()) {
                c.err(f.tag.span(), "a tag is 1 to 16 printable ASCII characters without spaces");
            }
            if functions.iter().any(|g: &SafetyFunction| g.tag == *tag) {
                c.err(f.tag.span(), format!("the tag `{tag}` is already taken"));
            }
            let Some(j) =
                joints.iter().position(|j| j.station.as_deref() == Some(f.station.get_ref().as_str()))
            else {
                if !unplaced.contains(f.station.get_ref()) {
                    c.err(f.station.span(), format!("no station `{}`", f.station.get_ref()));
                }
                continue;
            };
            let mut close = Vec::new();
            for v in &f.close {
                match valves.iter().position(|x| x.name == *v.get_ref()) {
                    Some(k) if valves[k].esd && k < 32 => close.push(k),
                    Some(_) => c.err(v.span(), format!("`{}` is not an ESD valve (esd = true)", v.get_ref())),
                    None if unplaced.contains(v.get_ref()) => {}
                    None => c.err(v.span(), format!("no valve `{}`", v.get_ref())),
                }
            }
            if *f.delay_ms.get_ref() > 600_000 {
                c.err(f.delay_ms.span(), "delay_ms must be at most 600000");
            }
            functions.push(SafetyFunction {
                tag: tag.clone(),
                joint: j,
                measure: match f.measure {
                    MeasureFile::Suction => Measure::Suction,
                    MeasureFile::Discharge => Measure::Discharge,
                },
                trip: match f.trip {
                    TripFile::High => TripKind::High,
                    TripFile::Low => TripKind::Low,
                },
                set_pa: c.num(&f.set_bar, "set_bar", 0.0, false, span_pa / BAR) * BAR,
                delay_ms: *f.delay_ms.get_ref(),
                enabled: f.enabled.unwrap_or(true),
                close,
            });
        }
        SisConfig { scan_ms: *sf.scan_ms.get_ref(), span_pa, functions }
    });
    let errors = c.finish();
    if !errors.0.is_empty() {
        return Err(errors);
    }
    Ok(Pipeline {
        name: file.name,
        product,
        origin,
        delivery,
        nomination_m3_s,
        segments,
        joints,
        pumps,
        valves,
        reliefs,
        meters,
        leak_detection,
        sis,
    })
}
