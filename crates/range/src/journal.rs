//! The journal: an append-only record of everything that happened in a run. Scores,
//! timelines, alerts files and reports are derived from it and nothing else.

use serde::Serialize;

/// One journal entry; `t` is simulated seconds since the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Start {
        t: f64,
        exercise: String,
        seed: u64,
        defender: String,
        base: String,
        demand_mw: f64,
        customers: u64,
    },
    /// A physical event of the grid (breaker moved, island, blackout, shedding...).
    Grid {
        t: f64,
        event: String,
        element: String,
        cause: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mw: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        customers: Option<u64>,
    },
    /// Supply, sampled every minute.
    Supply {
        t: f64,
        served_mw: f64,
        demand_mw: f64,
        customers_off: u64,
        ens_mwh: f64,
    },
    /// An attack step begins (or is prevented).
    Attack {
        t: f64,
        step: String,
        name: String,
        action: String,
        techniques: Vec<String>,
        on_wire: bool,
    },
    AttackPrevented {
        t: f64,
        step: String,
        reason: String,
    },
    /// IT-side activity and the log artefact it leaves.
    It {
        t: f64,
        step: String,
        event: String,
        host: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        artefact: String,
    },
    /// A protocol command on the wire, with its source and who sent it.
    Command {
        t: f64,
        protocol: String,
        src: String,
        dst: String,
        /// The IEC 104 station (common address) a command went to.
        #[serde(skip_serializing_if = "Option::is_none")]
        station: Option<u16>,
        detail: String,
        /// operator, attacker, hijack (through the master's session) or crew.
        by: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// The device's answer (accepted, refused, no answer).
        outcome: String,
        /// The capture frames of the exchange, first and last (none when nothing was sent).
        #[serde(skip_serializing_if = "Option::is_none")]
        frames: Option<(u64, u64)>,
    },
    /// An operator's action in the HMI (the HMI journal the correlation rule reads).
    Hmi {
        t: f64,
        account: String,
        station: u16,
        ioa: u32,
        close: bool,
    },
    /// A device's state changed (firmware, power, local/remote).
    Device {
        t: f64,
        device: String,
        addr: String,
        change: String,
    },
    Alert {
        t: f64,
        rule: String,
        techniques: Vec<String>,
        src: String,
        dst: String,
        evidence: Vec<u64>,
        message: String,
    },
    Defender {
        t: f64,
        action: String,
        detail: String,
    },
    Crew {
        t: f64,
        station: u16,
        ioa: u32,
        close: bool,
        status: String,
    },
    Inject {
        t: f64,
        id: String,
        channel: String,
        from: String,
        subject: String,
    },
    Answer {
        t: f64,
        question: String,
        value: String,
    },
    /// A hint taken (its cost comes off the question's points).
    Hint {
        t: f64,
        question: String,
        index: usize,
        cost: f64,
        text: String,
    },
    Report {
        t: f64,
        text: String,
    },
    End {
        t: f64,
    },
}

impl Entry {
    pub fn t(&self) -> f64 {
        match self {
            Entry::Start { t, .. }
            | Entry::Grid { t, .. }
            | Entry::Supply { t, .. }
            | Entry::Attack { t, .. }
            | Entry::AttackPrevented { t, .. }
            | Entry::It { t, .. }
            | Entry::Command { t, .. }
            | Entry::Hmi { t, .. }
            | Entry::Device { t, .. }
            | Entry::Alert { t, .. }
            | Entry::Defender { t, .. }
            | Entry::Crew { t, .. }
            | Entry::Inject { t, .. }
            | Entry::Answer { t, .. }
            | Entry::Hint { t, .. }
            | Entry::Report { t, .. }
            | Entry::End { t } => *t,
        }
    }
}

/// The journal as JSON lines.
pub fn to_jsonl(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        // Entries hold only strings, numbers and lists: serialising cannot fail.
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    out
}
