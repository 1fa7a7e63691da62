//! The simulator's vocabulary: simulated time, the elements a command or an event names,
//! commands, events and their causes, and what an observation reports.

use std::fmt;
use std::str::FromStr;

use crate::case::BusId;
use crate::dynamics::Curve;
use crate::pf::PfError;

/// Simulated time, and the one duration grammar: shared with every crate that names time.
pub use simcore::{DurationError, SimTime};

/// A switchable or reportable element. Branches and generators are named by their row in
/// the case file (1-based), loads by their bus number, islands by their lowest bus number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    Branch(u32),
    Gen(u32),
    Load(BusId),
    Island(BusId),
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Branch(r) => write!(f, "branch {r}"),
            Element::Gen(r) => write!(f, "gen {r}"),
            Element::Load(b) => write!(f, "load {b}"),
            Element::Island(b) => write!(f, "island {b}"),
        }
    }
}

/// Why a text does not name an element (`Element`'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementError {
    #[error("expected `branch N`, `gen N` or `load BUS`, found `{text}`")]
    Shape { text: String },
    #[error("`{id}` is not an element number")]
    Number { id: String },
    #[error("unknown element kind `{kind}`: expected branch, gen or load")]
    Kind { kind: String },
}

impl FromStr for Element {
    type Err = ElementError;

    fn from_str(s: &str) -> Result<Element, ElementError> {
        let mut words = s.split_whitespace();
        let (Some(kind), Some(id), None) = (words.next(), words.next(), words.next()) else {
            return Err(ElementError::Shape { text: s.to_string() });
        };
        let id: u32 = id.parse().map_err(|_| ElementError::Number { id: id.to_string() })?;
        match kind {
            "branch" => Ok(Element::Branch(id)),
            "gen" => Ok(Element::Gen(id)),
            "load" => Ok(Element::Load(BusId(id))),
            other => Err(ElementError::Kind { kind: other.to_string() }),
        }
    }
}

/// What an operator, a device or an attacker asks of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    Open(Element),
    Close(Element),
    /// Puts the element's protection in or out of service (a branch's overcurrent relay, a
    /// unit's frequency protection, a load's UFLS relay).
    Protection(Element, bool),
    /// A unit's governor set point, MW.
    Setpoint {
        unit: u32,
        mw: f64,
    },
}

/// Why a text is not a command (`Command`'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandParseError {
    #[error(transparent)]
    Element(#[from] ElementError),
    #[error("expected `protection on|off ELEMENT`, found `{state}`")]
    ProtectionState { state: String },
    #[error("expected `setpoint gen N MW`, found `{text}`")]
    SetpointShape { text: String },
    #[error("`{row}` is not a generator row")]
    GenRow { row: String },
    /// Not a number (as written), or not a finite one (`inf`, `NaN`).
    #[error("`{mw}` is not a number of MW")]
    Megawatts { mw: String },
    #[error("unknown command `{verb}`: expected open, close, protection or setpoint")]
    Verb { verb: String },
}

impl FromStr for Command {
    type Err = CommandParseError;

    /// `open branch 12`, `close gen 3`, `open load 5`, `protection off branch 12`,
    /// `setpoint gen 3 120`.
    fn from_str(s: &str) -> Result<Command, CommandParseError> {
        let s = s.trim();
        let (verb, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let rest = rest.trim();
        match verb {
            "open" => Ok(Command::Open(rest.parse()?)),
            "close" => Ok(Command::Close(rest.parse()?)),
            "protection" => {
                let (state, el) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let on = match state {
                    "on" => true,
                    "off" => false,
                    other => return Err(CommandParseError::ProtectionState { state: other.to_string() }),
                };
                Ok(Command::Protection(el.trim().parse()?, on))
            }
            "setpoint" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let ["gen", row, mw] = words.as_slice() else {
                    return Err(CommandParseError::SetpointShape { text: s.to_string() });
                };
                let unit = row.parse().map_err(|_| CommandParseError::GenRow { row: row.to_string() })?;
                let mw: f64 = mw.parse().map_err(|_| CommandParseError::Megawatts { mw: mw.to_string() })?;
                if !mw.is_finite() {
                    return Err(CommandParseError::Megawatts { mw: mw.to_string() });
                }
                Ok(Command::Setpoint { unit, mw })
            }
            other => Err(CommandParseError::Verb { verb: other.to_string() }),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Open(e) => write!(f, "open {e}"),
            Command::Close(e) => write!(f, "close {e}"),
            Command::Protection(e, on) => write!(f, "protection {} {e}", if *on { "on" } else { "off" }),
            Command::Setpoint { unit, mw } => write!(f, "setpoint gen {unit} {mw}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("{0} does not exist in this grid")]
    NoSuchElement(Element),
    #[error("{0} cannot be commanded")]
    NotCommandable(Element),
    #[error("set point {0} MW is not a finite number")]
    BadSetpoint(f64),
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Open,
    Close,
    /// Part of a load disconnected by UFLS.
    Shed,
    ProtectionOff,
    ProtectionOn,
    Setpoint,
    IslandSplit,
    IslandMerge,
    /// An island lost its last generation: every bus in it is dead.
    Blackout,
    /// Dead buses got a source again.
    Energised,
    /// The island's power flow had no solution: voltage collapse, its units trip.
    Collapse,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Open => "open",
            EventKind::Close => "close",
            EventKind::Shed => "shed",
            EventKind::ProtectionOff => "protection_off",
            EventKind::ProtectionOn => "protection_on",
            EventKind::Setpoint => "setpoint",
            EventKind::IslandSplit => "island_split",
            EventKind::IslandMerge => "island_merge",
            EventKind::Blackout => "blackout",
            EventKind::Energised => "energised",
            EventKind::Collapse => "collapse",
        }
    }
}

/// Why it changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cause {
    Command,
    /// Inverse-time overcurrent: the relay of the branch itself, at `multiple` × pickup.
    Overcurrent {
        curve: Curve,
        tms: f64,
        multiple: f64,
    },
    /// Instantaneous overcurrent at `multiple` × rating.
    Instantaneous {
        multiple: f64,
    },
    UnderFrequency {
        f_hz: f64,
    },
    OverFrequency {
        f_hz: f64,
    },
    /// UFLS stage (1-based) at its threshold.
    Ufls {
        stage: u8,
        f_hz: f64,
    },
    /// A consequence of switching this element.
    Switching(Element),
    /// The island's power flow diverged (after damped and flat retries).
    VoltageCollapse,
}

impl Cause {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cause::Command => "command",
            Cause::Overcurrent { .. } => "overcurrent",
            Cause::Instantaneous { .. } => "instantaneous_overcurrent",
            Cause::UnderFrequency { .. } => "underfrequency",
            Cause::OverFrequency { .. } => "overfrequency",
            Cause::Ufls { .. } => "ufls",
            Cause::Switching(_) => "switching",
            Cause::VoltageCollapse => "voltage_collapse",
        }
    }
}

/// Something that happened, at a simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub t: SimTime,
    pub kind: EventKind,
    pub element: Element,
    pub cause: Cause,
    /// Demand affected (loads shed or blacked out), MW.
    pub mw: Option<f64>,
    /// Customers affected.
    pub customers: Option<u64>,
    /// Buses in the island (island events).
    pub buses: Option<u32>,
    /// Islands it split into (split events).
    pub parts: Option<u32>,
}

impl Event {
    pub(super) fn new(t: SimTime, kind: EventKind, element: Element, cause: Cause) -> Event {
        Event { t, kind, element, cause, mw: None, customers: None, buses: None, parts: None }
    }
}

/// Served demand and its shortfall, integrated over time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Supply {
    /// Demand at nominal frequency of all loads (negative loads count as zero), MW.
    pub demand_mw: f64,
    pub served_mw: f64,
    pub unserved_mw: f64,
    /// Energy not served since the start, MWh.
    pub ens_mwh: f64,
    pub customers: u64,
    pub customers_off: u64,
    /// Lowest and highest frequency seen since the start (energised parts only), Hz.
    pub nadir_hz: f64,
    pub zenith_hz: f64,
}

/// One island now.
#[derive(Debug, Clone, PartialEq)]
pub struct IslandView {
    /// Its lowest bus number.
    pub name: BusId,
    pub buses: usize,
    pub energised: bool,
    pub f_hz: f64,
    pub rocof_hz_s: f64,
    pub gen_mw: f64,
    pub served_mw: f64,
    pub unserved_mw: f64,
    pub customers_off: u64,
    /// Lowest and highest frequency since the island took its present shape, Hz.
    pub nadir_hz: f64,
    pub zenith_hz: f64,
}

/// The state of the grid at the current time.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub t: SimTime,
    /// Frequency of the main island (the energised one with the most inertia); 0 in a
    /// total blackout.
    pub f_hz: f64,
    pub rocof_hz_s: f64,
    pub total: Supply,
    /// Per area, ascending by area id.
    pub areas: Vec<(u32, Supply)>,
    pub islands: Vec<IslandView>,
    /// Electrical output of all units, MW.
    pub gen_mw: f64,
    pub losses_mw: f64,
}

/// Work done so far, for benchmarks and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    pub power_flows: u64,
    pub newton_iterations: u64,
    pub topology_analyses: u32,
    pub substeps: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("the initial power flow has no solution: {0}")]
    InitialPowerFlow(PfError),
    #[error("the dynamics describe a different case ({0})")]
    Mismatch(&'static str),
}
