//! A journal read back for a replay: its start entry, its inputs and its end.

use std::net::Ipv4Addr;

use gridsim::sim::SimTime;
use range::journal::{Input, Live};
use serde::Deserialize;

use crate::Error;
use crate::action::{ActionJson, ActorJson, action_from, actor_from};
use crate::entry::{LiveJson, unhex};

/// What the start entry of a journal says, for a replay to rebuild the run.
#[derive(Debug, Clone, PartialEq)]
pub struct StartInfo {
    pub format: u32,
    pub exercise: String,
    pub seed: u64,
    pub defender: String,
    pub base: Ipv4Addr,
    pub start_ms_since_2000: u64,
}

#[derive(Deserialize)]
struct StartLine {
    kind: String,
    format: Option<u32>,
    exercise: String,
    seed: u64,
    defender: String,
    base: Ipv4Addr,
    start_ms_since_2000: u64,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum InputLine {
    Act {
        t: f64,
        actor: ActorJson,
        action: ActionJson,
    },
    Live {
        t: f64,
        #[serde(flatten)]
        live: LiveJson,
    },
}

/// A journal read back for a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub start: StartInfo,
    /// The inputs, each with the instant it was applied.
    pub inputs: Vec<(SimTime, Input)>,
    /// When the run ended (its end entry), if it did.
    pub end: Option<SimTime>,
}

/// Reads a journal back for a replay: the start entry, the inputs and the end. Errors name
/// the line.
pub fn read_inputs(jsonl: &str) -> Result<Recorded, Error> {
    let mut lines = jsonl.lines().enumerate();
    let (_, first) = lines.next().ok_or(Error::Empty)?;
    let start: StartLine = serde_json::from_str(first).map_err(|e| Error::from(e).at_line(1))?;
    if start.kind != "start" {
        return Err(Error::NoStart.at_line(1));
    }
    let info = StartInfo {
        format: start.format.unwrap_or(1),
        exercise: start.exercise,
        seed: start.seed,
        defender: start.defender,
        base: start.base,
        start_ms_since_2000: start.start_ms_since_2000,
    };
    if info.format != range::journal::FORMAT_VERSION {
        return Err(Error::Format { found: info.format, reads: range::journal::FORMAT_VERSION }.at_line(1));
    }
    let mut inputs = Vec::new();
    let mut end = None;
    for (i, line) in lines {
        let at_line = |e: Error| e.at_line(i + 1);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| at_line(e.into()))?;
        let scripted = v["actor"]["kind"] == "defender";
        match v["kind"].as_str() {
            Some("end") => end = v["t"].as_f64().map(SimTime::from_secs),
            Some("live") => {}
            Some("act") if !scripted => {}
            _ => continue,
        }
        if end.is_some() {
            continue;
        }
        let parsed: InputLine = serde_json::from_value(v).map_err(|e| at_line(e.into()))?;
        inputs.push(match parsed {
            InputLine::Act { t, actor, action } => (
                SimTime::from_secs(t),
                Input::Act {
                    actor: actor_from(actor).map_err(at_line)?,
                    action: action_from(action).map_err(at_line)?,
                },
            ),
            InputLine::Live { t, live } => (
                SimTime::from_secs(t),
                Input::Live(match live {
                    LiveJson::Open { client, server, .. } => Live::Open { client, server },
                    LiveJson::Data { conn, hex } => Live::Data { conn, bytes: unhex(&hex).map_err(at_line)? },
                    LiveJson::Close { conn } => Live::Close { conn },
                }),
            ),
        });
    }
    Ok(Recorded { start: info, inputs, end })
}

#[cfg(test)]
mod tests {
    use exercise::{DefenderAction, Offset};
    use range::journal::{Action, Actor, Entry, Outcome, Role};

    use super::*;
    use crate::to_jsonl;

    #[test]
    fn inputs_round_trip_through_their_json_form() {
        let entries = vec![
            Entry::Start {
                t: SimTime(0),
                format: range::journal::FORMAT_VERSION,
                exercise: "x".into(),
                seed: 3,
                defender: "none".into(),
                base: Ipv4Addr::new(127, 10, 0, 0),
                start_ms_since_2000: 0,
                demand_mw: 1.0,
                customers: 2,
            },
            Entry::Act {
                t: SimTime(1_500_000),
                actor: Actor::User { team: "blue".into(), user: "ana".into(), role: Role::Operator },
                action: Action::Defend(DefenderAction::Local { device: Offset(2, 7) }),
                outcome: Outcome::Accepted,
            },
            Entry::Act {
                t: SimTime(2_000_000),
                actor: Actor::Defender { name: "good".into() },
                action: Action::Defend(DefenderAction::AckAlarms),
                outcome: Outcome::Accepted,
            },
            Entry::Live {
                t: SimTime(2_100_000),
                live: Live::Data { conn: 4, bytes: vec![0, 1, 0xfe, 0xff] },
                conn: None,
            },
        ];
        let Recorded { start: info, inputs, end } =
            read_inputs(&to_jsonl(&entries)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.seed, 3);
        assert_eq!(end, None, "a journal without its end entry");
        // The scripted defender's act is not an input: the run's configuration replays it.
        let want: Vec<_> = entries.iter().filter_map(Entry::input).collect();
        assert_eq!(want.len(), 2);
        assert_eq!(inputs, want);
    }
}
