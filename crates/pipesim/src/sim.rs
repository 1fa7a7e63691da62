//! `Sim`: the pipeline in time. Hydraulics by the method of characteristics (MOC), the
//! safety instrumented system's scans, and the leak detection's updates, all on one clock
//! supplied by the caller.
//!
//! Grid: one time step `dt` for the whole line, chosen so that no reach is longer than
//! `SimOptions::max_reach_m` and every segment has at least two reaches; each segment gets
//! `N = round(L/(a·dt))` reaches and its wave speed becomes `L/(N·dt)` (the usual adjustment,
//! at most half a reach; `Sim::wave_speed_adjustment` reports the largest).
//!
//! At each interior node the C+ and C− characteristics give
//! `H = C_P − B·Q_u` and `H = C_M + B·Q_d`, `B = a/(gA)`, with quasi-steady Darcy friction
//! `R·f(Q)·Q|Q|`, `R = Δx/(2gDA²)` (`friction::darcy` at the node's flow). Where nothing leaves
//! the node `Q_u = Q_d`. Where a leak, a rupture or a relief valve draws `q(H)`, `Q_u − Q_d =
//! q(H)` is solved for `H`. Where the head falls to the vapour pressure a vapour cavity forms
//! (the discrete vapour cavity model): the head stays at vapour pressure and the cavity's
//! volume follows `Q_d − Q_u` until it collapses.
//!
//! Joints (tanks, pump stations, valves, plain changes of pipe) join the C+ of the segment
//! upstream and the C− of the segment downstream through `C_P − B₁Q + Σ pump heads(Q) − Σ
//! valve losses(Q) = C_M + B₂Q`, solved for the joint's one flow `Q`. A tank is a side with
//! `B = 0` and its head for `C`. Stations have check valves: no flow backwards through them.

use crate::cpm::{Cpm, CpmStatus, LeakAlarm};
use crate::model::{Measure, Pipeline};
use crate::sis::{KeySwitch, Refusal, Sis, SisAction, SoeEntry, TransmitterFault};
use crate::{G, SimTime, friction, steady};

/// Atmospheric pressure: the line's pressures are gauge.
pub const ATMOSPHERE_PA: f64 = 101_325.0;
/// Discharge coefficient of a leak or rupture orifice.
pub const ORIFICE_CD: f64 = 0.61;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOptions {
    /// The longest reach of the MOC grid.
    pub max_reach_m: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { max_reach_m: 500.0 }
    }
}

/// What the caller asks of the line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Starts the pump's drive (it ramps to its set speed, at least its minimum).
    StartPump {
        pump: usize,
    },
    /// An orderly stop: the drive ramps the pump down.
    StopPump {
        pump: usize,
    },
    /// A trip: the drive lets go and the pump coasts down.
    TripPump {
        pump: usize,
    },
    SetSpeed {
        pump: usize,
        rpm: f64,
    },
    /// Moves a valve towards `open` (0 closed, 1 open) at its travel rate.
    MoveValve {
        valve: usize,
        open: f64,
    },
    /// A leak through a round hole of this diameter, at a distance along a segment.
    Leak {
        segment: usize,
        at_m: f64,
        diameter_m: f64,
    },
    TransmitterFault {
        transmitter: usize,
        fault: Option<TransmitterFault>,
    },
    /// Someone at the cabinet turns the SIS key.
    SisKey(KeySwitch),
    SisBypass {
        function: usize,
        on: bool,
        local: bool,
    },
    SisReset {
        local: bool,
    },
    /// A program image through the SIS's engineering interface.
    SisDownload(Vec<u8>),
    /// An analyst acknowledges the leak alarm; the balance starts again.
    ResetLeakAlarm,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("no pump {0}")]
    NoPump(usize),
    #[error("no valve {0}")]
    NoValve(usize),
    #[error("no segment {0}")]
    NoSegment(usize),
    #[error("the safety system holds station {0} tripped")]
    Tripped(String),
    #[error("this pipeline has no safety system")]
    NoSis,
    #[error("no transmitter {0}")]
    NoTransmitter(usize),
    #[error("{0}")]
    Sis(#[from] Refusal),
    #[error("{0} is not a finite value in its range")]
    Value(&'static str),
}

/// What happened in the line.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A segment's pressure went above its MAOP (once until it is back 2 % below it).
    Overpressure {
        segment: usize,
        at_m: f64,
        pressure_pa: f64,
    },
    /// Back below MAOP everywhere in the segment; the peak of the excursion.
    OverpressureCleared {
        segment: usize,
        peak_pa: f64,
    },
    Rupture {
        segment: usize,
        at_m: f64,
        pressure_pa: f64,
    },
    LeakOpened {
        segment: usize,
        at_m: f64,
        diameter_m: f64,
    },
    ReliefLifted {
        relief: usize,
    },
    ReliefReseated {
        relief: usize,
    },
    ColumnSeparation {
        segment: usize,
        at_m: f64,
    },
    PumpStarted {
        pump: usize,
    },
    PumpStopped {
        pump: usize,
    },
    PumpTripped {
        pump: usize,
        by_sis: bool,
    },
    ValveMoving {
        valve: usize,
        target: f64,
        by_sis: bool,
    },
    ValveClosed {
        valve: usize,
    },
    ValveOpened {
        valve: usize,
    },
    LeakAlarm(LeakAlarm),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub t: SimTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpMode {
    Running,
    /// Ramping down under the drive's control.
    Stopping,
    /// Coasting down after a trip.
    Coasting,
    Stopped,
}

/// A pump's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpState {
    pub mode: PumpMode,
    pub speed_rpm: f64,
    pub set_rpm: f64,
}

/// A valve's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValveState {
    pub open: f64,
    pub target: f64,
}

/// A joint's state: its flow, and heads upstream, after its pumps, and downstream (m).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JointState {
    pub flow_m3_s: f64,
    pub head_in_m: f64,
    pub head_mid_m: f64,
    pub head_out_m: f64,
}

/// Running totals (m³).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub drawn_m3: f64,
    pub delivered_m3: f64,
    /// Nominated but not delivered.
    pub not_delivered_m3: f64,
    /// Out through leaks and ruptures.
    pub released_m3: f64,
    /// Into relief tanks.
    pub relieved_m3: f64,
}

/// One node of the pressure profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfilePoint {
    pub segment: usize,
    /// Distance from the origin.
    pub x_m: f64,
    pub elevation_m: f64,
    pub head_m: f64,
    pub pressure_pa: f64,
    pub maop_pa: f64,
    pub flow_m3_s: f64,
}

#[derive(Debug, Clone, Copy)]
enum OutflowKind {
    Leak,
    Rupture,
    Relief(usize),
}

#[derive(Debug, Clone)]
struct Outflow {
    node: usize,
    kind: OutflowKind,
    /// Leak and rupture: `C_d·A·√(2g)`; relief: its capacity over √(head at full lift).
    c: f64,
    /// Relief: set pressure as a head.
    set_head: f64,
    q: f64,
}

#[derive(Debug, Clone)]
struct SegGrid {
    first: usize,
    n: usize,
    dx: f64,
    a: f64,
    b: f64,
    area: f64,
    d: f64,
    rel_rough: f64,
    r: f64,
    start_x: f64,
}

/// The pipeline in time.
#[derive(Debug, Clone)]
pub struct Sim {
    p: Pipeline,
    t: SimTime,
    dt_us: u64,
    dt: f64,
    rho_g: f64,
    nu: f64,
    /// Vapour pressure as a gauge head.
    hv: f64,
    segs: Vec<SegGrid>,
    z: Vec<f64>,
    h: Vec<f64>,
    qu: Vec<f64>,
    qd: Vec<f64>,
    hn: Vec<f64>,
    qun: Vec<f64>,
    qdn: Vec<f64>,
    fu: Vec<f64>,
    fd: Vec<f64>,
    cavity: Vec<f64>,
    special: Vec<bool>,
    h_maop: Vec<f64>,
    h_burst: Vec<f64>,
    outflows: Vec<Outflow>,
    joints: Vec<JointState>,
    pumps: Vec<PumpState>,
    valves: Vec<ValveState>,
    relief_lifted: Vec<bool>,
    seg_over: Vec<bool>,
    seg_peak: Vec<f64>,
    seg_ruptured: Vec<bool>,
    seg_cavitating: Vec<bool>,
    totals: Totals,
    events: Vec<Event>,
    sis: Option<Sis>,
    cpm: Option<Cpm>,
    next_cpm: SimTime,
    adjustment: f64,
}

fn solve_monotone(mut lo: f64, mut hi: f64, g: impl Fn(f64) -> f64) -> f64 {
    // g(lo) ≥ 0 ≥ g(hi), g decreasing: bisection to the last bit.
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The method of characteristics at a node: C+ reaches it with `cp` from upstream, C- with
/// `cm` from downstream; `b` is the segment's characteristic impedance (a / gA).
#[derive(Debug, Clone, Copy)]
struct Characteristics {
    cp: f64,
    cm: f64,
    b: f64,
}

impl Sim {
    /// A line in the steady state of its initial pump speeds and valve travels.
    pub fn new(p: Pipeline, opts: SimOptions) -> Sim {
        let reach =
            if opts.max_reach_m.is_finite() && opts.max_reach_m > 0.0 { opts.max_reach_m } else { 500.0 };
        let mut dt = f64::INFINITY;
        for s in &p.segments {
            dt = dt.min(reach / s.wave_speed_m_s).min(s.length_m / (2.0 * s.wave_speed_m_s));
        }
        let dt_us = ((dt * 1e6).floor() as u64).max(1);
        let dt = dt_us as f64 * 1e-6;
        let rho_g = p.product.density_kg_m3 * G;
        let mut segs = Vec::new();
        let mut first = 0;
        let mut x0 = 0.0;
        let mut adjustment = 0.0f64;
        let mut z = Vec::new();
        let mut h_maop = Vec::new();
        let mut h_burst = Vec::new();
        for s in &p.segments {
            let n = ((s.length_m / (s.wave_speed_m_s * dt)).round() as usize).max(2);
            let dx = s.length_m / n as f64;
            let a = dx / dt;
            adjustment = adjustment.max((a - s.wave_speed_m_s).abs() / s.wave_speed_m_s);
            let area = s.area_m2();
            for i in 0..=n {
                let zi = s.elevation_at(i as f64 * dx);
                z.push(zi);
                h_maop.push(zi + s.maop_pa / rho_g);
                h_burst.push(zi + s.burst_pa / rho_g);
            }
            segs.push(SegGrid {
                first,
                n,
                dx,
                a,
                b: a / (G * area),
                area,
                d: s.diameter_m,
                rel_rough: s.roughness_m / s.diameter_m,
                r: dx / (2.0 * G * s.diameter_m * area * area),
                start_x: x0,
            });
            first += n + 1;
            x0 += s.length_m;
        }
        let nodes = first;
        let speeds: Vec<f64> = p.pumps.iter().map(|q| q.speed_rpm).collect();
        let opens: Vec<f64> = p.valves.iter().map(|v| v.open).collect();
        let st = steady::solve(&p, &speeds, &opens);
        let mut h = vec![0.0; nodes];
        let q = vec![st.flow_m3_s; nodes];
        for (k, g) in segs.iter().enumerate() {
            let (h0, h1) = st.segment_heads_m[k];
            for i in 0..=g.n {
                h[g.first + i] = h0 + (h1 - h0) * i as f64 / g.n as f64;
            }
        }
        let joints = st
            .joint_heads_m
            .iter()
            .map(|jh| JointState {
                flow_m3_s: st.flow_m3_s,
                head_in_m: jh[0],
                head_mid_m: jh[1],
                head_out_m: jh[2],
            })
            .collect();
        let pumps = p
            .pumps
            .iter()
            .map(|q| PumpState {
                mode: if q.speed_rpm > 0.0 { PumpMode::Running } else { PumpMode::Stopped },
                speed_rpm: q.speed_rpm,
                set_rpm: if q.speed_rpm > 0.0 { q.speed_rpm } else { q.rated_speed_rpm },
            })
            .collect();
        let valves = p.valves.iter().map(|v| ValveState { open: v.open, target: v.open }).collect();
        let hv = (p.product.vapour_pressure_pa - ATMOSPHERE_PA) / rho_g;
        let mut outflows = Vec::new();
        let mut special = vec![false; nodes];
        for (k, r) in p.reliefs.iter().enumerate() {
            let g = &segs[r.segment];
            let i = ((r.at_m / g.dx).round() as usize).clamp(1, g.n - 1);
            let node = g.first + i;
            special[node] = true;
            let full = 1.1 * r.set_pa / rho_g;
            outflows.push(Outflow {
                node,
                kind: OutflowKind::Relief(k),
                c: r.capacity_m3_s / full.sqrt(),
                set_head: r.set_pa / rho_g,
                q: 0.0,
            });
        }
        let sis = p.sis.as_ref().map(|cfg| Sis::new(cfg, &p));
        let transit_s = p.segments.iter().map(|s| s.length_m / s.wave_speed_m_s).sum();
        let cpm = p.leak_detection.as_ref().map(|ld| {
            Cpm::new(
                ld,
                p.nomination_m3_s,
                p.meters[ld.inlet].uncertainty,
                p.meters[ld.outlet].uncertainty,
                transit_s,
            )
        });
        let nseg = segs.len();
        let nrel = p.reliefs.len();
        let mut sim = Sim {
            t: SimTime(0),
            dt_us,
            dt,
            rho_g,
            nu: p.product.viscosity_m2_s,
            hv,
            segs,
            qu: q.clone(),
            qd: q,
            hn: vec![0.0; nodes],
            qun: vec![0.0; nodes],
            qdn: vec![0.0; nodes],
            fu: vec![0.0; nodes],
            fd: vec![0.0; nodes],
            cavity: vec![0.0; nodes],
            z,
            h,
            special,
            h_maop,
            h_burst,
            outflows,
            joints,
            pumps,
            valves,
            relief_lifted: vec![false; nrel],
            seg_over: vec![false; nseg],
            seg_peak: vec![0.0; nseg],
            seg_ruptured: vec![false; nseg],
            seg_cavitating: vec![false; nseg],
            totals: Totals::default(),
            events: Vec::new(),
            sis,
            cpm,
            next_cpm: SimTime(0),
            adjustment,
            p,
        };
        sim.check_limits();
        sim
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.p
    }

    pub fn time(&self) -> SimTime {
        self.t
    }

    /// The MOC time step.
    pub fn dt(&self) -> SimTime {
        SimTime(self.dt_us)
    }

    /// Reaches per segment.
    pub fn reaches(&self) -> Vec<usize> {
        self.segs.iter().map(|g| g.n).collect()
    }

    /// Wave speeds after the grid's adjustment.
    pub fn wave_speeds(&self) -> Vec<f64> {
        self.segs.iter().map(|g| g.a).collect()
    }

    /// The largest relative change of a wave speed made to fit the grid.
    pub fn wave_speed_adjustment(&self) -> f64 {
        self.adjustment
    }

    pub fn nodes(&self) -> usize {
        self.h.len()
    }

    pub fn joint(&self, j: usize) -> JointState {
        self.joints[j]
    }

    pub fn pump(&self, k: usize) -> PumpState {
        self.pumps[k]
    }

    pub fn valve(&self, k: usize) -> ValveState {
        self.valves[k]
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    pub fn sis(&self) -> Option<&Sis> {
        self.sis.as_ref()
    }

    pub fn cpm(&self) -> Option<&Cpm> {
        self.cpm.as_ref()
    }

    pub fn cpm_status(&self) -> Option<CpmStatus> {
        self.cpm.as_ref().map(Cpm::status)
    }

    /// The highest pressure each segment has seen (Pa).
    pub fn peak_pressures(&self) -> &[f64] {
        &self.seg_peak
    }

    pub fn ruptured(&self, segment: usize) -> bool {
        self.seg_ruptured.get(segment).copied().unwrap_or(false)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// SIS sequence-of-events entries since the last call.
    pub fn take_soe(&mut self) -> Vec<SoeEntry> {
        self.sis.as_mut().map(|s| s.take_soe().to_vec()).unwrap_or_default()
    }

    fn joint_z(&self, j: usize) -> (f64, f64) {
        let n = self.segs.len();
        let zl = if j == 0 {
            self.p.origin.elevation_m
        } else {
            self.z[self.segs[j - 1].first + self.segs[j - 1].n]
        };
        let zr = if j == n { self.p.delivery.elevation_m } else { self.z[self.segs[j].first] };
        (zl, zr)
    }

    /// A joint's pressures (Pa): upstream of it (a station's suction), after its pumps (a
    /// station's discharge), downstream of its valves (into the line).
    pub fn joint_pressures(&self, j: usize) -> [f64; 3] {
        let s = &self.joints[j];
        let (zl, zr) = self.joint_z(j);
        [self.rho_g * (s.head_in_m - zl), self.rho_g * (s.head_mid_m - zr), self.rho_g * (s.head_out_m - zr)]
    }

    /// The pressure a station's transmitters see.
    pub fn station_pressure(&self, j: usize, m: Measure) -> f64 {
        let p = self.joint_pressures(j);
        match m {
            Measure::Suction => p[0],
            Measure::Discharge => p[1],
        }
    }

    /// A meter's reading (m³/s).
    pub fn meter(&self, k: usize) -> f64 {
        let m = &self.p.meters[k];
        self.joints[m.joint].flow_m3_s * (1.0 + m.bias)
    }

    /// The pressure profile along the line, node by node.
    pub fn profile(&self) -> Vec<ProfilePoint> {
        let mut out = Vec::with_capacity(self.h.len());
        for (k, g) in self.segs.iter().enumerate() {
            let maop = self.p.segments[k].maop_pa;
            for i in 0..=g.n {
                let node = g.first + i;
                out.push(ProfilePoint {
                    segment: k,
                    x_m: g.start_x + i as f64 * g.dx,
                    elevation_m: self.z[node],
                    head_m: self.h[node],
                    pressure_pa: self.rho_g * (self.h[node] - self.z[node]),
                    maop_pa: maop,
                    flow_m3_s: self.qd[node],
                });
            }
        }
        out
    }

    /// Head and flow at a distance along a segment (the nearest node).
    pub fn at(&self, segment: usize, x_m: f64) -> (f64, f64) {
        let g = &self.segs[segment];
        let i = ((x_m / g.dx).round().max(0.0) as usize).min(g.n);
        (self.h[g.first + i], self.qd[g.first + i])
    }

    /// Pressure (Pa) at a distance along a segment (the nearest node).
    pub fn pressure_at(&self, segment: usize, x_m: f64) -> f64 {
        let g = &self.segs[segment];
        let i = ((x_m / g.dx).round().max(0.0) as usize).min(g.n);
        self.rho_g * (self.h[g.first + i] - self.z[g.first + i])
    }

    /// The volume in the line (m³), from every node's pressure: `A·Δx·(1 + p/(ρa²))`.
    pub fn linepack_m3(&self) -> f64 {
        let rho = self.p.product.density_kg_m3;
        let mut v = 0.0;
        for g in &self.segs {
            let k = 1.0 / (rho * g.a * g.a);
            for i in 0..g.n {
                let a = g.first + i;
                let p = 0.5 * self.rho_g * ((self.h[a] - self.z[a]) + (self.h[a + 1] - self.z[a + 1]));
                v += g.area * g.dx * (1.0 + p * k) + 0.5 * (self.cavity[a] + self.cavity[a + 1]);
            }
        }
        v
    }

    /// The line pack as the leak detection estimates it: from the pressures at the joints
    /// only (the stations' and block valves' transmitters), linear in between; and those
    /// pressures.
    pub fn linepack_estimate_m3(&self) -> (f64, Vec<f64>) {
        let rho = self.p.product.density_kg_m3;
        let mut v = 0.0;
        let mut ps = Vec::with_capacity(2 * self.segs.len());
        for (k, g) in self.segs.iter().enumerate() {
            let p0 = self.joint_pressures(k)[2];
            let p1 = self.joint_pressures(k + 1)[0];
            ps.push(p0);
            ps.push(p1);
            let len = g.dx * g.n as f64;
            v += g.area * len * (1.0 + 0.5 * (p0 + p1) / (rho * g.a * g.a));
        }
        (v, ps)
    }

    /// Carries out a command at the current time.
    pub fn apply(&mut self, cmd: &Command) -> Result<(), CommandError> {
        let t = self.t;
        match cmd {
            Command::StartPump { pump } => {
                let k = *pump;
                if k >= self.pumps.len() {
                    return Err(CommandError::NoPump(k));
                }
                if let (Some(sis), Some(j)) = (&self.sis, self.p.pump_joint(k))
                    && !sis.permits(j)
                {
                    return Err(CommandError::Tripped(self.p.joints[j].name.clone()));
                }
                let pump = &self.p.pumps[k];
                let s = &mut self.pumps[k];
                s.set_rpm = s.set_rpm.clamp(pump.min_speed_rpm, pump.max_speed_rpm);
                if s.mode != PumpMode::Running {
                    s.mode = PumpMode::Running;
                    self.events.push(Event { t, kind: EventKind::PumpStarted { pump: k } });
                }
            }
            Command::StopPump { pump } => {
                let s = self.pumps.get_mut(*pump).ok_or(CommandError::NoPump(*pump))?;
                if s.mode == PumpMode::Running {
                    s.mode = PumpMode::Stopping;
                }
            }
            Command::TripPump { pump } => self.trip_pump(t, *pump, false)?,
            Command::SetSpeed { pump, rpm } => {
                let spec = self.p.pumps.get(*pump).ok_or(CommandError::NoPump(*pump))?;
                if !rpm.is_finite() || *rpm < 0.0 {
                    return Err(CommandError::Value("speed"));
                }
                self.pumps[*pump].set_rpm = rpm.clamp(spec.min_speed_rpm, spec.max_speed_rpm);
            }
            Command::MoveValve { valve, open } => self.move_valve(t, *valve, *open, false)?,
            Command::Leak { segment, at_m, diameter_m } => {
                let g = self.segs.get(*segment).ok_or(CommandError::NoSegment(*segment))?;
                if !(diameter_m.is_finite() && *diameter_m > 0.0 && *diameter_m <= g.d) {
                    return Err(CommandError::Value("leak diameter"));
                }
                if !(at_m.is_finite() && *at_m >= 0.0 && *at_m <= g.dx * g.n as f64) {
                    return Err(CommandError::Value("leak position"));
                }
                let node = g.first + ((at_m / g.dx).round() as usize).clamp(1, g.n - 1);
                let area = std::f64::consts::PI * diameter_m * diameter_m / 4.0;
                self.add_outflow(node, OutflowKind::Leak, ORIFICE_CD * area * (2.0 * G).sqrt());
                self.events.push(Event {
                    t,
                    kind: EventKind::LeakOpened { segment: *segment, at_m: *at_m, diameter_m: *diameter_m },
                });
            }
            Command::TransmitterFault { transmitter, fault } => {
                let sis = self.sis.as_mut().ok_or(CommandError::NoSis)?;
                if !sis.set_fault(t, *transmitter, *fault) {
                    return Err(CommandError::NoTransmitter(*transmitter));
                }
            }
            Command::SisKey(key) => self.sis.as_mut().ok_or(CommandError::NoSis)?.set_key(t, *key),
            Command::SisBypass { function, on, local } => {
                self.sis.as_mut().ok_or(CommandError::NoSis)?.set_bypass(t, *function, *on, *local)?
            }
            Command::SisReset { local } => self.sis.as_mut().ok_or(CommandError::NoSis)?.reset(t, *local)?,
            Command::SisDownload(bytes) => {
                self.sis.as_mut().ok_or(CommandError::NoSis)?.download(t, bytes)?
            }
            Command::ResetLeakAlarm => {
                if let Some(c) = &mut self.cpm {
                    c.reset();
                }
            }
        }
        Ok(())
    }

    fn trip_pump(&mut self, t: SimTime, k: usize, by_sis: bool) -> Result<(), CommandError> {
        let s = self.pumps.get_mut(k).ok_or(CommandError::NoPump(k))?;
        if matches!(s.mode, PumpMode::Running | PumpMode::Stopping) {
            s.mode = PumpMode::Coasting;
            self.events.push(Event { t, kind: EventKind::PumpTripped { pump: k, by_sis } });
        }
        Ok(())
    }

    fn move_valve(&mut self, t: SimTime, k: usize, open: f64, by_sis: bool) -> Result<(), CommandError> {
        let s = self.valves.get_mut(k).ok_or(CommandError::NoValve(k))?;
        if !open.is_finite() {
            return Err(CommandError::Value("valve travel"));
        }
        let open = open.clamp(0.0, 1.0);
        if s.target != open {
            s.target = open;
            self.events.push(Event { t, kind: EventKind::ValveMoving { valve: k, target: open, by_sis } });
        }
        Ok(())
    }

    fn add_outflow(&mut self, node: usize, kind: OutflowKind, c: f64) {
        self.special[node] = true;
        self.outflows.push(Outflow { node, kind, c, set_head: 0.0, q: 0.0 });
    }

    /// Advances whole time steps up to `until`.
    pub fn step(&mut self, until: SimTime) {
        while self.t.0 + self.dt_us <= until.0 {
            self.advance();
        }
    }

    fn rf(&self, g: &SegGrid, q: f64) -> f64 {
        let f = friction::darcy(friction::reynolds(q, g.d, self.nu), g.rel_rough);
        g.r * f * q * q.abs()
    }

    fn advance(&mut self) {
        // The safety system scans on its own period: a scan due before the end of this step
        // reads the line as the last step left it, and its trip acts on this step.
        let t_new = SimTime(self.t.0 + self.dt_us);
        while let Some(ts) = self.sis.as_ref().map(Sis::next_scan)
            && ts <= t_new
        {
            self.run_sis(ts.max(self.t));
        }
        self.move_machines();
        let dt = self.dt;
        // Friction at every node, once per step.
        for k in 0..self.segs.len() {
            let g = self.segs[k].clone();
            for i in 0..=g.n {
                let node = g.first + i;
                self.fu[node] = self.rf(&g, self.qu[node]);
                self.fd[node] =
                    if self.qd[node] == self.qu[node] { self.fu[node] } else { self.rf(&g, self.qd[node]) };
            }
        }
        for k in 0..self.segs.len() {
            let (first, n, b) = (self.segs[k].first, self.segs[k].n, self.segs[k].b);
            for node in first + 1..first + n {
                let cp = self.h[node - 1] + b * self.qd[node - 1] - self.fd[node - 1];
                let cm = self.h[node + 1] - b * self.qu[node + 1] + self.fu[node + 1];
                let zv = self.z[node] + self.hv;
                if !self.special[node] && self.cavity[node] <= 0.0 {
                    let hp = 0.5 * (cp + cm);
                    if hp >= zv {
                        let q = (cp - cm) / (2.0 * b);
                        self.hn[node] = hp;
                        self.qun[node] = q;
                        self.qdn[node] = q;
                        continue;
                    }
                }
                self.special_node(k, node, Characteristics { cp, cm, b }, zv, dt);
            }
        }
        let nseg = self.segs.len();
        for j in 0..=nseg {
            let (cp, b1) = if j == 0 {
                (self.p.origin.head_m(), 0.0)
            } else {
                let g = &self.segs[j - 1];
                let a = g.first + g.n - 1;
                (self.h[a] + g.b * self.qd[a] - self.fd[a], g.b)
            };
            let (cm, b2) = if j == nseg {
                (self.p.delivery.head_m(), 0.0)
            } else {
                let g = &self.segs[j];
                let b = g.first + 1;
                (self.h[b] - g.b * self.qu[b] + self.fu[b], g.b)
            };
            let (q, pumps) = self.solve_joint(j, cp, b1, cm, b2);
            let hl = cp - b1 * q;
            let hr = cm + b2 * q;
            self.joints[j] =
                JointState { flow_m3_s: q, head_in_m: hl, head_mid_m: hl + pumps, head_out_m: hr };
            if j > 0 {
                let g = &self.segs[j - 1];
                let last = g.first + g.n;
                self.hn[last] = hl;
                self.qun[last] = q;
                self.qdn[last] = q;
            }
            if j < nseg {
                let first = self.segs[j].first;
                self.hn[first] = hr;
                self.qun[first] = q;
                self.qdn[first] = q;
            }
        }
        std::mem::swap(&mut self.h, &mut self.hn);
        std::mem::swap(&mut self.qu, &mut self.qun);
        std::mem::swap(&mut self.qd, &mut self.qdn);
        self.t = SimTime(self.t.0 + self.dt_us);

        let q_in = self.joints[0].flow_m3_s;
        let q_out = self.joints[nseg].flow_m3_s;
        self.totals.drawn_m3 += q_in * dt;
        self.totals.delivered_m3 += q_out * dt;
        self.totals.not_delivered_m3 += (self.p.nomination_m3_s - q_out).max(0.0) * dt;
        for o in &self.outflows {
            match o.kind {
                OutflowKind::Leak | OutflowKind::Rupture => self.totals.released_m3 += o.q * dt,
                OutflowKind::Relief(_) => self.totals.relieved_m3 += o.q * dt,
            }
        }
        self.check_limits();
        self.run_cpm();
    }

    /// An interior node with an outflow (a leak, a rupture, a relief) or a vapour cavity, from
    /// its two characteristics; `zv`: the head at vapour pressure.
    fn special_node(&mut self, seg: usize, node: usize, c: Characteristics, zv: f64, dt: f64) {
        let Characteristics { cp, cm, b } = c;
        let z = self.z[node];
        let outflow = |outflows: &[Outflow], h: f64| -> f64 {
            let mut q = 0.0;
            for o in outflows.iter().filter(|o| o.node == node) {
                q += flow_of(o, h, z);
            }
            q
        };
        let mut hp = 0.5 * (cp + cm);
        if self.special[node] && outflow(&self.outflows, hp) > 0.0 {
            let g = |h: f64| (cp - h) / b - (h - cm) / b - outflow(&self.outflows, h);
            hp = solve_monotone(z, hp, g);
        }
        if self.cavity[node] > 0.0 || hp < zv {
            // A vapour cavity: the head stays at vapour pressure.
            let qu = (cp - zv) / b;
            let qd = (zv - cm) / b;
            let v = self.cavity[node] + (qd - qu) * dt;
            if v > 0.0 {
                if self.cavity[node] <= 0.0 && !self.seg_cavitating[seg] {
                    self.seg_cavitating[seg] = true;
                    let at_m = (node - self.segs[seg].first) as f64 * self.segs[seg].dx;
                    self.events
                        .push(Event { t: self.t, kind: EventKind::ColumnSeparation { segment: seg, at_m } });
                }
                self.cavity[node] = v;
                self.hn[node] = zv;
                self.qun[node] = qu;
                self.qdn[node] = qd;
                for o in self.outflows.iter_mut().filter(|o| o.node == node) {
                    o.q = 0.0;
                }
                return;
            }
            self.cavity[node] = 0.0;
            hp = hp.max(zv);
        }
        let total = outflow(&self.outflows, hp);
        for o in self.outflows.iter_mut().filter(|o| o.node == node) {
            o.q = flow_of(o, hp, z);
        }
        let qu = (cp - hp) / b;
        self.hn[node] = hp;
        self.qun[node] = qu;
        self.qdn[node] = qu - total;
    }

    /// The flow through joint `j` and the head its pumps add at that flow.
    fn solve_joint(&self, j: usize, cp: f64, b1: f64, cm: f64, b2: f64) -> (f64, f64) {
        let joint = &self.p.joints[j];
        let bs = b1 + b2;
        let d = cp - cm;
        let mut inv = 0.0;
        let mut closed = false;
        for &k in &joint.valves {
            let cv = self.p.valves[k].cv(self.valves[k].open);
            if cv <= 0.0 {
                closed = true;
            } else {
                inv += 1.0 / (cv * cv);
            }
        }
        let pumps: Vec<(f64, f64)> = joint
            .pumps
            .iter()
            .map(|&k| {
                let spec = &self.p.pumps[k];
                let r = self.pumps[k].speed_rpm / spec.rated_speed_rpm;
                (spec.shutoff_head_m * r * r, spec.k())
            })
            .collect();
        let pump_head = |q: f64| pumps.iter().map(|&(h0, k)| (h0 - k * q * q).max(0.0)).sum::<f64>();
        if closed {
            // A closed valve: no flow; pumps upstream of it run against it (shut-off head).
            return (0.0, pump_head(0.0));
        }
        if pumps.is_empty() {
            // Closed form of d − bs·Q − inv·Q|Q| = 0.
            let q = if inv == 0.0 {
                d / bs
            } else {
                d.signum() * 2.0 * d.abs() / (bs + (bs * bs + 4.0 * d.abs() * inv).sqrt())
            };
            return (q, 0.0);
        }
        let f = |q: f64| d - bs * q + pump_head(q) - inv * q * q;
        if f(0.0) <= 0.0 {
            return (0.0, pump_head(0.0));
        }
        let hi = (d + pump_head(0.0)) / bs;
        let q = solve_monotone(0.0, hi, f);
        (q, pump_head(q))
    }

    fn move_machines(&mut self) {
        let dt = self.dt;
        for (k, s) in self.pumps.iter_mut().enumerate() {
            let spec = &self.p.pumps[k];
            match s.mode {
                PumpMode::Running => {
                    let step = spec.ramp_rpm_s * dt;
                    s.speed_rpm += (s.set_rpm - s.speed_rpm).clamp(-step, step);
                }
                PumpMode::Stopping => {
                    s.speed_rpm -= spec.ramp_rpm_s * dt;
                    if s.speed_rpm <= spec.min_speed_rpm {
                        // Below its minimum speed the drive lets the pump coast to rest.
                        s.mode = PumpMode::Coasting;
                    }
                }
                PumpMode::Coasting => {
                    s.speed_rpm *= (-dt / spec.rundown_s).exp();
                    if s.speed_rpm < 1.0 {
                        s.speed_rpm = 0.0;
                        s.mode = PumpMode::Stopped;
                        self.events.push(Event { t: self.t, kind: EventKind::PumpStopped { pump: k } });
                    }
                }
                PumpMode::Stopped => s.speed_rpm = 0.0,
            }
        }
        for (k, s) in self.valves.iter_mut().enumerate() {
            if s.open != s.target {
                let step = dt / self.p.valves[k].travel_s;
                s.open += (s.target - s.open).clamp(-step, step);
                if s.open == s.target {
                    if s.open == 0.0 {
                        self.events.push(Event { t: self.t, kind: EventKind::ValveClosed { valve: k } });
                    } else if s.open == 1.0 {
                        self.events.push(Event { t: self.t, kind: EventKind::ValveOpened { valve: k } });
                    }
                }
            }
        }
    }

    fn check_limits(&mut self) {
        for k in 0..self.segs.len() {
            let (first, n) = (self.segs[k].first, self.segs[k].n);
            let mut worst = f64::NEG_INFINITY;
            let mut worst_node = first;
            let mut over = false;
            // Back below the MAOP means 2 % below it (no event per ripple around it).
            let margin = 0.02 * self.p.segments[k].maop_pa / self.rho_g;
            let mut near = false;
            let mut burst = None;
            for node in first..=first + n {
                let p = self.h[node] - self.z[node];
                if p > worst {
                    worst = p;
                    worst_node = node;
                }
                over |= self.h[node] > self.h_maop[node];
                near |= self.h[node] > self.h_maop[node] - margin;
                if self.h[node] > self.h_burst[node] && burst.is_none() {
                    burst = Some(node);
                }
            }
            let peak = worst * self.rho_g;
            let dx = self.segs[k].dx;
            if over {
                if !self.seg_over[k] {
                    self.seg_over[k] = true;
                    let at_m = (worst_node - first) as f64 * dx;
                    self.events.push(Event {
                        t: self.t,
                        kind: EventKind::Overpressure { segment: k, at_m, pressure_pa: peak },
                    });
                }
            } else if self.seg_over[k] && !near {
                self.seg_over[k] = false;
                self.events.push(Event {
                    t: self.t,
                    kind: EventKind::OverpressureCleared { segment: k, peak_pa: self.seg_peak[k].max(peak) },
                });
            }
            self.seg_peak[k] = self.seg_peak[k].max(peak);
            if let Some(node) = burst
                && !self.seg_ruptured[k]
            {
                self.seg_ruptured[k] = true;
                let i = (node - first).clamp(1, n - 1);
                let at_m = i as f64 * dx;
                let c = ORIFICE_CD * self.segs[k].area * (2.0 * G).sqrt();
                self.add_outflow(first + i, OutflowKind::Rupture, c);
                self.events.push(Event {
                    t: self.t,
                    kind: EventKind::Rupture {
                        segment: k,
                        at_m,
                        pressure_pa: (self.h[node] - self.z[node]) * self.rho_g,
                    },
                });
            }
        }
        for o in &self.outflows {
            if let OutflowKind::Relief(r) = o.kind {
                let lifted = o.q > 0.0;
                if lifted != self.relief_lifted[r] {
                    self.relief_lifted[r] = lifted;
                    let kind = if lifted {
                        EventKind::ReliefLifted { relief: r }
                    } else {
                        EventKind::ReliefReseated { relief: r }
                    };
                    self.events.push(Event { t: self.t, kind });
                }
            }
        }
    }

    fn run_sis(&mut self, ts: SimTime) {
        let Some(mut sis) = self.sis.take() else { return };
        let actions = {
            let this = &*self;
            sis.scan(
                ts,
                |j, m| this.station_pressure(j, m),
                |j| this.p.joints[j].pumps.iter().any(|&k| this.pumps[k].speed_rpm > 0.0),
            )
        };
        self.sis = Some(sis);
        for a in actions {
            match a {
                SisAction::TripStation { joint } => {
                    for k in self.p.joints[joint].pumps.clone() {
                        let _ = self.trip_pump(ts, k, true);
                    }
                }
                SisAction::CloseValve { valve } => {
                    let _ = self.move_valve(ts, valve, 0.0, true);
                }
            }
        }
    }

    fn run_cpm(&mut self) {
        let Some(cpm) = &self.cpm else { return };
        if self.t < self.next_cpm {
            return;
        }
        let period = SimTime::from_secs(cpm.period_s());
        self.next_cpm = SimTime(self.t.0 + period.0.max(1));
        let Some(ld) = &self.p.leak_detection else { return };
        let q_in = self.meter(ld.inlet);
        let q_out = self.meter(ld.outlet);
        let (pack, pressures) = self.linepack_estimate_m3();
        let t = self.t;
        if let Some(cpm) = &mut self.cpm
            && let Some(alarm) = cpm.update(t, q_in, q_out, pack, &pressures)
        {
            self.events.push(Event { t, kind: EventKind::LeakAlarm(alarm) });
        }
    }
}

fn flow_of(o: &Outflow, h: f64, z: f64) -> f64 {
    let head = h - z;
    if head <= 0.0 {
        return 0.0;
    }
    match o.kind {
        OutflowKind::Leak | OutflowKind::Rupture => o.c * head.sqrt(),
        OutflowKind::Relief(_) => {
            let lift = ((head - o.set_head) / (0.1 * o.set_head)).clamp(0.0, 1.0);
            o.c * lift * head.sqrt()
        }
    }
}
