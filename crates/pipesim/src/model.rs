//! A pipeline as the simulator holds it, in SI units (m, m³/s, Pa, s), validated by
//! `file::parse`. Names are as the file gives them; indices are positions in these vectors.

/// The product in the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub name: String,
    pub density_kg_m3: f64,
    /// Kinematic viscosity.
    pub viscosity_m2_s: f64,
    /// Absolute vapour pressure; the line's pressures are gauge (atmosphere = 101.325 kPa).
    pub vapour_pressure_pa: f64,
}

/// A tank at one end of the line: a fixed head (its base elevation plus its level).
#[derive(Debug, Clone, PartialEq)]
pub struct Tank {
    pub name: String,
    pub elevation_m: f64,
    pub level_m: f64,
}

impl Tank {
    pub fn head_m(&self) -> f64 {
        self.elevation_m + self.level_m
    }
}

/// A pipe between two joints: uniform diameter, roughness and wave speed.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: String,
    pub length_m: f64,
    /// Inside diameter.
    pub diameter_m: f64,
    pub roughness_m: f64,
    pub wave_speed_m_s: f64,
    /// Maximum allowable operating pressure (gauge).
    pub maop_pa: f64,
    /// Pressure at which the pipe ruptures (gauge).
    pub burst_pa: f64,
    /// Elevation profile: (distance from the segment's start in m, elevation in m), at
    /// least one point, increasing distances; linear between points, flat beyond them.
    pub profile: Vec<(f64, f64)>,
}

impl Segment {
    pub fn area_m2(&self) -> f64 {
        std::f64::consts::PI * self.diameter_m * self.diameter_m / 4.0
    }

    /// Elevation at `x` m from the segment's start.
    pub fn elevation_at(&self, x: f64) -> f64 {
        let p = &self.profile;
        if x <= p[0].0 {
            return p[0].1;
        }
        for w in p.windows(2) {
            let ((x0, z0), (x1, z1)) = (w[0], w[1]);
            if x <= x1 {
                return if x1 > x0 { z0 + (z1 - z0) * (x - x0) / (x1 - x0) } else { z1 };
            }
        }
        p[p.len() - 1].1
    }
}

/// A centrifugal pump on a variable-speed drive, with a check valve on its discharge and a
/// station bypass around it (a stopped pump passes the line's flow, it does not block it).
///
/// Head at rated speed: `H(Q) = shutoff − (shutoff − rated_head)·(Q/rated_flow)²`; at speed
/// ratio `r = n/rated_speed` the affinity laws give `H(Q, r) = shutoff·r² − k·Q²`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pump {
    pub name: String,
    pub shutoff_head_m: f64,
    pub rated_flow_m3_s: f64,
    pub rated_head_m: f64,
    pub rated_speed_rpm: f64,
    pub min_speed_rpm: f64,
    pub max_speed_rpm: f64,
    /// The drive's ramp limit, up and down, while it is in control.
    pub ramp_rpm_s: f64,
    /// Time constant of the coast-down after a stop or a trip (the rotor's inertia).
    pub rundown_s: f64,
    /// Speed at the start of a run; 0 is stopped.
    pub speed_rpm: f64,
}

impl Pump {
    /// The curve's `k` in `H = shutoff·r² − k·Q²`.
    pub fn k(&self) -> f64 {
        (self.shutoff_head_m - self.rated_head_m) / (self.rated_flow_m3_s * self.rated_flow_m3_s)
    }

    /// Head at flow `q` (≥ 0) and speed ratio `r`; negative where the pump cannot push `q`.
    pub fn head(&self, q: f64, r: f64) -> f64 {
        self.shutoff_head_m * r * r - self.k() * q * q
    }
}

/// How a valve's flow coefficient follows its travel (0 closed, 1 open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Characteristic {
    /// Flow coefficient proportional to travel.
    Linear,
    /// `τ = R^(s−1)` with rangeability R = 50, and linear from 0 to the first 2 % of travel.
    EqualPercentage,
    /// `τ = √s` (a gate or ball valve's fast opening).
    QuickOpening,
}

impl Characteristic {
    /// Relative flow coefficient τ at travel `s` in [0, 1].
    pub fn tau(self, s: f64) -> f64 {
        let s = s.clamp(0.0, 1.0);
        match self {
            Characteristic::Linear => s,
            Characteristic::QuickOpening => s.sqrt(),
            Characteristic::EqualPercentage => {
                const R: f64 = 50.0;
                const KNEE: f64 = 0.02;
                if s >= KNEE { R.powf(s - 1.0) } else { R.powf(KNEE - 1.0) * s / KNEE }
            }
        }
    }
}

/// A valve in the line: `ΔH = K·v²/(2g)/τ²` with `v` the velocity in its bore.
#[derive(Debug, Clone, PartialEq)]
pub struct Valve {
    pub name: String,
    pub diameter_m: f64,
    /// Loss coefficient K when fully open.
    pub loss_coefficient: f64,
    pub characteristic: Characteristic,
    /// Time for a full stroke, open to closed or closed to open.
    pub travel_s: f64,
    /// Travel at the start of a run.
    pub open: f64,
    /// An emergency shut-down valve the safety system may close.
    pub esd: bool,
}

impl Valve {
    /// `Cv` in `Q = Cv·√ΔH` (m³/s per √m) at travel `s`.
    pub fn cv(&self, s: f64) -> f64 {
        let a = std::f64::consts::PI * self.diameter_m * self.diameter_m / 4.0;
        self.characteristic.tau(s) * a * (2.0 * crate::G / self.loss_coefficient).sqrt()
    }
}

/// What sits between two segments (or a tank and a segment), in the order of flow: a
/// station's pumps (in series), then valves.
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    /// "origin", a station's name, or the name of the segment the joint follows.
    pub name: String,
    /// The pump station here, if any.
    pub station: Option<String>,
    /// Indices into `Pipeline::pumps`.
    pub pumps: Vec<usize>,
    /// Indices into `Pipeline::valves`.
    pub valves: Vec<usize>,
}

/// A pressure relief valve on the line: opens at its set pressure, full lift (its capacity)
/// at 10 % overpressure, discharging into a relief tank.
#[derive(Debug, Clone, PartialEq)]
pub struct Relief {
    pub name: String,
    pub segment: usize,
    pub at_m: f64,
    pub set_pa: f64,
    pub capacity_m3_s: f64,
}

/// A flow meter at a joint: reading = true flow × (1 + bias); `uncertainty` is what its
/// owner states for it (both fractions, not %).
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    pub name: String,
    pub joint: usize,
    pub uncertainty: f64,
    pub bias: f64,
}

/// The computational pipeline monitoring function (API 1130 style volume balance).
#[derive(Debug, Clone, PartialEq)]
pub struct LeakDetection {
    /// Meter indices.
    pub inlet: usize,
    pub outlet: usize,
    pub period_s: f64,
    pub windows_s: Vec<f64>,
    /// Uncertainty of the line-pack estimate from the line's pressure transmitters.
    pub linepack_uncertainty_m3: f64,
    /// A change of metered flow faster than this (fraction of the nomination per minute)
    /// or of any pressure faster than `transient_pa_per_min` is a transient.
    pub transient_flow_per_min: f64,
    pub transient_pa_per_min: f64,
    /// How long the balance stays blind after a transient (its windows restart after it).
    pub transient_hold_s: f64,
}

/// Which pressure of a station a safety function measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Suction,
    Discharge,
}

/// Which side of its set point trips a safety function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripKind {
    Low,
    High,
}

/// A safety instrumented function: 2-out-of-3 voted transmitters on one station pressure.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyFunction {
    pub tag: String,
    /// Index of the station's joint.
    pub joint: usize,
    pub measure: Measure,
    pub trip: TripKind,
    pub set_pa: f64,
    pub delay_ms: u32,
    pub enabled: bool,
    /// ESD valves (indices into `Pipeline::valves`) it closes; it always stops the
    /// station's pumps.
    pub close: Vec<usize>,
}

/// The safety instrumented system's configuration: its scan and its commissioned program.
#[derive(Debug, Clone, PartialEq)]
pub struct SisConfig {
    pub scan_ms: u32,
    /// Transmitters read 0 to this (4-20 mA); a transmitter failed high reads this.
    pub span_pa: f64,
    pub functions: Vec<SafetyFunction>,
}

/// A whole pipeline: origin tank, segments and joints (one more joint than segments: joint
/// `i` is upstream of segment `i`, the last one feeds the delivery tank).
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub product: Product,
    pub origin: Tank,
    pub delivery: Tank,
    /// The shipper's nominated rate, the measure of product not delivered.
    pub nomination_m3_s: f64,
    pub segments: Vec<Segment>,
    pub joints: Vec<Joint>,
    pub pumps: Vec<Pump>,
    pub valves: Vec<Valve>,
    pub reliefs: Vec<Relief>,
    pub meters: Vec<Meter>,
    pub leak_detection: Option<LeakDetection>,
    pub sis: Option<SisConfig>,
}

impl Pipeline {
    pub fn total_length_m(&self) -> f64 {
        self.segments.iter().map(|s| s.length_m).sum()
    }

    pub fn station_joint(&self, station: &str) -> Option<usize> {
        self.joints.iter().position(|j| j.station.as_deref() == Some(station))
    }

    /// The joint of a pump.
    pub fn pump_joint(&self, pump: usize) -> Option<usize> {
        self.joints.iter().position(|j| j.pumps.contains(&pump))
    }

    pub fn pump_index(&self, name: &str) -> Option<usize> {
        self.pumps.iter().position(|p| p.name == name)
    }

    pub fn valve_index(&self, name: &str) -> Option<usize> {
        self.valves.iter().position(|v| v.name == name)
    }

    pub fn segment_index(&self, name: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.name == name)
    }

    /// Pressure (Pa) of a head `h_m` above elevation `z_m`.
    pub fn pressure(&self, h_m: f64, z_m: f64) -> f64 {
        self.product.density_kg_m3 * crate::G * (h_m - z_m)
    }
}
