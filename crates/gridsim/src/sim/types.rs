//! The simulator's vocabulary: simulated time, the elements a command or an event names,
//! commands, events and their causes, and what an observation reports.

use std::fmt;
use std::str::FromStr;

use crate::case::BusId;
use crate::dynamics::Curve;
use crate::pf::PfError;

/// Simulated time in microseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Rounds to the nearest microsecond; negative and NaN become 0.
    pub fn from_secs(s: f64) -> SimTime {
        if s.is_finite() && s > 0.0 { SimTime((s * 1e6).round() as u64) } else { SimTime(0) }
    }

    pub fn secs(self) -> f64 {
        self.0 as f64 * 1e-6
    }

    /// The one duration grammar of the command line and the exercise files: a number of
    /// seconds (`90`, `0.5`), or numbers with units, summed (`100ms`, `90s`, `15m`, `1h30m`,
    /// `2d`; units `us`/`µs`, `ms`, `s`, `m`/`min`, `h`, `d`). At most 1e9 s.
    pub fn parse_duration(text: &str) -> Result<SimTime, String> {
        let t = text.trim();
        let bad = || format!("`{t}` is not a duration such as 100ms, 90s, 15m or 1h30m");
        if let Ok(s) = t.parse::<f64>() {
            return (s.is_finite() && (0.0..=1e9).contains(&s))
                .then(|| SimTime::from_secs(s))
                .ok_or_else(bad);
        }
        if t.is_empty() {
            return Err(bad());
        }
        let mut total = 0f64;
        let mut rest = t;
        while !rest.is_empty() {
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let n: f64 = rest[..end].parse().map_err(|_| bad())?;
            rest = &rest[end..];
            let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let factor = match &rest[..unit_end] {
                "us" | "µs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                "d" => 86_400.0,
                other => return Err(format!("unknown time unit `{other}` in `{t}`: use ms, s, m, h or d")),
            };
            total += n * factor;
            rest = &rest[unit_end..];
        }
        if total.is_finite() && total <= 1e9 { Ok(SimTime::from_secs(total)) } else { Err(bad()) }
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

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

impl FromStr for Element {
    type Err = String;

    fn from_str(s: &str) -> Result<Element, String> {
        let mut words = s.split_whitespace();
        let (Some(kind), Some(id), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("expected `branch N`, `gen N` or `load BUS`, found `{s}`"));
        };
        let id: u32 = id.parse().map_err(|_| format!("`{id}` is not an element number"))?;
        match kind {
            "branch" => Ok(Element::Branch(id)),
            "gen" => Ok(Element::Gen(id)),
            "load" => Ok(Element::Load(BusId(id))),
            other => Err(format!("unknown element kind `{other}`: expected branch, gen or load")),
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

impl FromStr for Command {
    type Err = String;

    /// `open branch 12`, `close gen 3`, `open load 5`, `protection off branch 12`,
    /// `setpoint gen 3 120`.
    fn from_str(s: &str) -> Result<Command, String> {
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
                    other => return Err(format!("expected `protection on|off ELEMENT`, found `{other}`")),
                };
                Ok(Command::Protection(el.trim().parse()?, on))
            }
            "setpoint" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let ["gen", row, mw] = words.as_slice() else {
                    return Err(format!("expected `setpoint gen N MW`, found `{s}`"));
                };
                let unit = row.parse().map_err(|_| format!("`{row}` is not a generator row"))?;
                let mw: f64 = mw.parse().map_err(|_| format!("`{mw}` is not a number of MW"))?;
                if !mw.is_finite() {
                    return Err(format!("`{mw}` is not a number of MW"));
                }
                Ok(Command::Setpoint { unit, mw })
            }
            other => Err(format!("unknown command `{other}`: expected open, close, protection or setpoint")),
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

#[cfg(test)]
mod tests {
    use super::SimTime;

    #[test]
    fn one_duration_grammar() {
        let us = |s: &str| SimTime::parse_duration(s).map(|t| t.0);
        assert_eq!(us("90"), Ok(90_000_000));
        assert_eq!(us("100ms"), Ok(100_000));
        assert_eq!(us("250us"), Ok(250));
        assert_eq!(us("1h30m"), Ok(5_400_000_000));
        assert_eq!(us("2min"), Ok(120_000_000));
        assert_eq!(us("1d"), Ok(86_400_000_000));
        for bad in ["", "an hour", "5 parsecs", "1e10", "-3s", "m"] {
            assert!(us(bad).is_err(), "{bad}");
        }
    }
}
