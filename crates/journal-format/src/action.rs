//! Actors, actions and outcomes: their JSON forms, for the journal and for the clients that
//! send actions (the web's `POST /api/teams/{team}/actions` takes an `ActionJson`).

use exercise::{CommandPoint, DefenderAction, Offset};
use range::journal::{Action, Actor, Outcome, Role};
use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActorJson {
    User { team: String, user: String, role: String },
    Instructor { name: String },
    Defender { name: String },
    Attacker,
}

pub fn actor(a: &Actor) -> ActorJson {
    match a {
        Actor::User { team, user, role } => {
            ActorJson::User { team: team.clone(), user: user.clone(), role: role.as_str().into() }
        }
        Actor::Instructor { name } => ActorJson::Instructor { name: name.clone() },
        Actor::Defender { name } => ActorJson::Defender { name: name.clone() },
        Actor::Attacker => ActorJson::Attacker,
    }
}

pub fn actor_from(a: ActorJson) -> Result<Actor, Error> {
    Ok(match a {
        ActorJson::User { team, user, role } => {
            Actor::User { team, user, role: Role::parse(&role).ok_or(Error::Role(role))? }
        }
        ActorJson::Instructor { name } => Actor::Instructor { name },
        ActorJson::Defender { name } => Actor::Defender { name },
        ActorJson::Attacker => Actor::Attacker,
    })
}

/// An action's JSON form (`do` names it), for the journal and for clients that send them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum ActionJson {
    Operate {
        station: u16,
        ioa: u32,
        close: bool,
    },
    CloseOpened,
    DispatchCrew {
        station: u16,
        ioa: u32,
        close: bool,
    },
    Block {
        host: String,
    },
    DisableAccount {
        account: String,
    },
    Clean {
        host: String,
    },
    RestoreFirmware {
        substation: String,
    },
    UpsOn {
        substation: String,
    },
    AckAlarms,
    /// `op`: ack, shelve or unshelve; `keys`: the HMI's alarm keys.
    Alarms {
        op: String,
        #[serde(default)]
        keys: Vec<String>,
    },
    Pump {
        pump: String,
        run: bool,
    },
    Valve {
        valve: String,
        open: bool,
    },
    /// `key`: run, program or remote.
    SisKey {
        key: String,
    },
    SisRestore,
    Local {
        device: String,
    },
    Reboot {
        device: String,
    },
    Hint {
        question: String,
        index: usize,
    },
    Answer {
        question: String,
        value: String,
    },
    Report {
        text: String,
    },
    FireInject {
        inject: String,
    },
    SkipStep {
        step: String,
    },
    TriggerStep {
        step: String,
    },
    Pause,
    Resume,
    Speed {
        factor: Option<f64>,
    },
}

/// The JSON type of an action's field, as a request schema states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A whole number from 0 to `max`.
    Count {
        max: u64,
    },
    Bool,
    Text,
    /// One of these words.
    Word(&'static [&'static str]),
    /// A device's address offset, `x.y` (each from 0 to 255).
    Offset,
    /// A number; null or absent: none.
    OptionalNumber,
    /// A list of texts (at most 1000, each at most 64 characters); absent: none.
    TextList,
}

impl Field {
    /// Whether an action must carry the field (only an optional number may be left out).
    pub fn required(self) -> bool {
        !matches!(self, Field::OptionalNumber | Field::TextList)
    }
}

/// One form of `ActionJson`: its `do` tag, its fields, and whether it is an instructor's control
/// (`Action::is_control`: the teams' action endpoint refuses those). The web's OpenAPI document
/// states its action schema from these; a test serialises one value of every variant against
/// them (a new variant does not compile until the test lists it, and fails until it is here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionForm {
    pub tag: &'static str,
    pub fields: &'static [(&'static str, Field)],
    pub control: bool,
}

impl ActionJson {
    /// Every form an action takes, in the enum's order.
    pub const FORMS: &'static [ActionForm] = {
        const STATION: (&str, Field) = ("station", Field::Count { max: u16::MAX as u64 });
        const IOA: (&str, Field) = ("ioa", Field::Count { max: u32::MAX as u64 });
        const fn form(tag: &'static str, fields: &'static [(&'static str, Field)]) -> ActionForm {
            ActionForm { tag, fields, control: false }
        }
        const fn control(tag: &'static str, fields: &'static [(&'static str, Field)]) -> ActionForm {
            ActionForm { tag, fields, control: true }
        }
        &[
            form("operate", &[STATION, IOA, ("close", Field::Bool)]),
            form("close_opened", &[]),
            form("dispatch_crew", &[STATION, IOA, ("close", Field::Bool)]),
            form("block", &[("host", Field::Text)]),
            form("disable_account", &[("account", Field::Text)]),
            form("clean", &[("host", Field::Text)]),
            form("restore_firmware", &[("substation", Field::Text)]),
            form("ups_on", &[("substation", Field::Text)]),
            form("ack_alarms", &[]),
            form("alarms", &[("op", Field::Word(&["ack", "shelve", "unshelve"])), ("keys", Field::TextList)]),
            form("pump", &[("pump", Field::Text), ("run", Field::Bool)]),
            form("valve", &[("valve", Field::Text), ("open", Field::Bool)]),
            form("sis_key", &[("key", Field::Word(&["run", "program", "remote"]))]),
            form("sis_restore", &[]),
            form("local", &[("device", Field::Offset)]),
            form("reboot", &[("device", Field::Offset)]),
            form("hint", &[("question", Field::Text), ("index", Field::Count { max: usize::MAX as u64 })]),
            form("answer", &[("question", Field::Text), ("value", Field::Text)]),
            form("report", &[("text", Field::Text)]),
            control("fire_inject", &[("inject", Field::Text)]),
            control("skip_step", &[("step", Field::Text)]),
            control("trigger_step", &[("step", Field::Text)]),
            control("pause", &[]),
            control("resume", &[]),
            control("speed", &[("factor", Field::OptionalNumber)]),
        ]
    };

    /// Every `do` tag, in the enum's order.
    pub fn tags() -> impl Iterator<Item = &'static str> {
        ActionJson::FORMS.iter().map(|f| f.tag)
    }
}

pub fn action(a: &Action) -> ActionJson {
    match a {
        Action::Defend(d) => match d {
            DefenderAction::Operate { point, close } => {
                ActionJson::Operate { station: point.station, ioa: point.ioa, close: *close }
            }
            DefenderAction::CloseOpened => ActionJson::CloseOpened,
            DefenderAction::DispatchCrew { point, close } => {
                ActionJson::DispatchCrew { station: point.station, ioa: point.ioa, close: *close }
            }
            DefenderAction::Block { host } => ActionJson::Block { host: host.clone() },
            DefenderAction::DisableAccount { account } => {
                ActionJson::DisableAccount { account: account.clone() }
            }
            DefenderAction::Clean { host } => ActionJson::Clean { host: host.clone() },
            DefenderAction::RestoreFirmware { substation } => {
                ActionJson::RestoreFirmware { substation: substation.clone() }
            }
            DefenderAction::UpsOn { substation } => ActionJson::UpsOn { substation: substation.clone() },
            DefenderAction::AckAlarms => ActionJson::AckAlarms,
            DefenderAction::Alarms { op, keys } => {
                ActionJson::Alarms { op: op.as_str().into(), keys: keys.clone() }
            }
            DefenderAction::Pump { pump, run } => ActionJson::Pump { pump: pump.clone(), run: *run },
            DefenderAction::Valve { valve, open } => ActionJson::Valve { valve: valve.clone(), open: *open },
            DefenderAction::SisKey { key } => ActionJson::SisKey { key: key.name().to_lowercase() },
            DefenderAction::SisRestore => ActionJson::SisRestore,
            DefenderAction::Local { device } => {
                ActionJson::Local { device: format!("{}.{}", device.0, device.1) }
            }
            DefenderAction::Reboot { device } => {
                ActionJson::Reboot { device: format!("{}.{}", device.0, device.1) }
            }
            DefenderAction::Hint { question, index } => {
                ActionJson::Hint { question: question.clone(), index: *index }
            }
            DefenderAction::AnswerQuestion { question, value } => {
                ActionJson::Answer { question: question.clone(), value: value.clone() }
            }
            DefenderAction::Report { text } => ActionJson::Report { text: text.clone() },
        },
        Action::FireInject { inject } => ActionJson::FireInject { inject: inject.clone() },
        Action::SkipStep { step } => ActionJson::SkipStep { step: step.clone() },
        Action::TriggerStep { step } => ActionJson::TriggerStep { step: step.clone() },
        Action::Pause => ActionJson::Pause,
        Action::Resume => ActionJson::Resume,
        Action::Speed { factor } => ActionJson::Speed { factor: *factor },
    }
}

/// A device's address offset, `x.y`.
fn offset(device: &str) -> Result<Offset, Error> {
    let bad = || Error::Offset(device.to_string());
    let (a, b) = device.split_once('.').ok_or_else(bad)?;
    Ok(Offset(a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

pub fn action_from(a: ActionJson) -> Result<Action, Error> {
    let d = |d: DefenderAction| Action::Defend(d);
    Ok(match a {
        ActionJson::Operate { station, ioa, close } => {
            d(DefenderAction::Operate { point: CommandPoint { station, ioa }, close })
        }
        ActionJson::CloseOpened => d(DefenderAction::CloseOpened),
        ActionJson::DispatchCrew { station, ioa, close } => {
            d(DefenderAction::DispatchCrew { point: CommandPoint { station, ioa }, close })
        }
        ActionJson::Block { host } => d(DefenderAction::Block { host }),
        ActionJson::DisableAccount { account } => d(DefenderAction::DisableAccount { account }),
        ActionJson::Clean { host } => d(DefenderAction::Clean { host }),
        ActionJson::RestoreFirmware { substation } => d(DefenderAction::RestoreFirmware { substation }),
        ActionJson::UpsOn { substation } => d(DefenderAction::UpsOn { substation }),
        ActionJson::AckAlarms => d(DefenderAction::AckAlarms),
        ActionJson::Alarms { op, keys } => {
            let op = exercise::AlarmOp::parse(&op)
                .ok_or_else(|| Error::Alarms(format!("alarm op `{op}`: ack, shelve or unshelve")))?;
            if keys.len() > 1000 || keys.iter().any(|k| k.len() > 64) {
                return Err(Error::Alarms("at most 1000 alarm keys of 64 characters".into()));
            }
            d(DefenderAction::Alarms { op, keys })
        }
        ActionJson::Pump { pump, run } => d(DefenderAction::Pump { pump, run }),
        ActionJson::Valve { valve, open } => d(DefenderAction::Valve { valve, open }),
        ActionJson::SisKey { key } => d(DefenderAction::SisKey {
            key: key.parse::<pipesim::sis::KeySwitch>().map_err(|e| Error::Key(e.found))?,
        }),
        ActionJson::SisRestore => d(DefenderAction::SisRestore),
        ActionJson::Local { device } => d(DefenderAction::Local { device: offset(&device)? }),
        ActionJson::Reboot { device } => d(DefenderAction::Reboot { device: offset(&device)? }),
        ActionJson::Hint { question, index } => d(DefenderAction::Hint { question, index }),
        ActionJson::Answer { question, value } => d(DefenderAction::AnswerQuestion { question, value }),
        ActionJson::Report { text } => d(DefenderAction::Report { text }),
        ActionJson::FireInject { inject } => Action::FireInject { inject },
        ActionJson::SkipStep { step } => Action::SkipStep { step },
        ActionJson::TriggerStep { step } => Action::TriggerStep { step },
        ActionJson::Pause => Action::Pause,
        ActionJson::Resume => Action::Resume,
        ActionJson::Speed { factor } => Action::Speed { factor },
    })
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OutcomeJson {
    Accepted,
    Refused { reason: String },
    Hint { text: String, cost: f64 },
    Verdict { correct: bool },
    Command { outcome: String },
    Reclose { commanded: u32, crews: u32 },
}

pub fn outcome(o: &Outcome) -> OutcomeJson {
    match o {
        Outcome::Accepted => OutcomeJson::Accepted,
        Outcome::Refused(reason) => OutcomeJson::Refused { reason: reason.clone() },
        Outcome::Hint { text, cost } => OutcomeJson::Hint { text: text.clone(), cost: *cost },
        Outcome::Verdict { correct } => OutcomeJson::Verdict { correct: *correct },
        Outcome::Command(d) => OutcomeJson::Command { outcome: d.describe() },
        Outcome::Reclose { commanded, crews } => {
            OutcomeJson::Reclose { commanded: *commanded, crews: *crews }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    /// One value of every variant. The match below is exhaustive: a new variant does not compile
    /// until it is listed there, and its sample belongs here.
    fn samples() -> Vec<ActionJson> {
        use ActionJson as A;
        let all = vec![
            A::Operate { station: 3, ioa: 2001, close: true },
            A::CloseOpened,
            A::DispatchCrew { station: 4, ioa: 2002, close: false },
            A::Block { host: "10.0.0.9".into() },
            A::DisableAccount { account: "svc".into() },
            A::Clean { host: "eng-ws".into() },
            A::RestoreFirmware { substation: "north".into() },
            A::UpsOn { substation: "north".into() },
            A::AckAlarms,
            A::Alarms { op: "ack".into(), keys: vec!["ids:3".into()] },
            A::Pump { pump: "P1".into(), run: true },
            A::Valve { valve: "V2".into(), open: false },
            A::SisKey { key: "program".into() },
            A::SisRestore,
            A::Local { device: "2.7".into() },
            A::Reboot { device: "3.1".into() },
            A::Hint { question: "q1".into(), index: 1 },
            A::Answer { question: "q1".into(), value: "T0855".into() },
            A::Report { text: "seen".into() },
            A::FireInject { inject: "mail".into() },
            A::SkipStep { step: "recon".into() },
            A::TriggerStep { step: "recon".into() },
            A::Pause,
            A::Resume,
            A::Speed { factor: Some(2.5) },
        ];
        for a in &all {
            match a {
                A::Operate { .. }
                | A::CloseOpened
                | A::DispatchCrew { .. }
                | A::Block { .. }
                | A::DisableAccount { .. }
                | A::Clean { .. }
                | A::RestoreFirmware { .. }
                | A::UpsOn { .. }
                | A::AckAlarms
                | A::Alarms { .. }
                | A::Pump { .. }
                | A::Valve { .. }
                | A::SisKey { .. }
                | A::SisRestore
                | A::Local { .. }
                | A::Reboot { .. }
                | A::Hint { .. }
                | A::Answer { .. }
                | A::Report { .. }
                | A::FireInject { .. }
                | A::SkipStep { .. }
                | A::TriggerStep { .. }
                | A::Pause
                | A::Resume
                | A::Speed { .. } => {}
            }
        }
        all
    }

    fn form(tag: &str) -> &'static ActionForm {
        ActionJson::FORMS.iter().find(|f| f.tag == tag).unwrap_or_else(|| panic!("`{tag}` has no form"))
    }

    fn object(a: &ActionJson) -> Map<String, Value> {
        match serde_json::to_value(a).unwrap() {
            Value::Object(m) => m,
            other => panic!("{a:?} is not an object: {other}"),
        }
    }

    fn fits(f: Field, v: &Value) -> bool {
        match f {
            Field::Count { max } => v.as_u64().is_some_and(|n| n <= max),
            Field::Bool => v.is_boolean(),
            Field::Text => v.is_string(),
            Field::Word(words) => v.as_str().is_some_and(|w| words.contains(&w)),
            Field::Offset => v.as_str().is_some_and(|s| offset(s).is_ok()),
            Field::OptionalNumber => v.is_number() || v.is_null(),
            Field::TextList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        }
    }

    #[test]
    fn every_variant_has_its_form_and_every_form_its_variant() {
        let samples = samples();
        let tags: Vec<String> =
            samples.iter().map(|a| object(a)["do"].as_str().unwrap().to_string()).collect();
        assert_eq!(tags, ActionJson::tags().collect::<Vec<_>>(), "FORMS: one per variant, in order");
        // serde's own list of the enum's tags, from its error for a tag it does not know.
        let e =
            serde_json::from_value::<ActionJson>(json!({"do": "no such action"})).unwrap_err().to_string();
        let expected: Vec<&str> = e.split('`').skip(3).step_by(2).collect();
        assert_eq!(expected, ActionJson::tags().collect::<Vec<_>>(), "{e}");
        for a in &samples {
            let mut m = object(a);
            let f = form(m.remove("do").and_then(|t| t.as_str().map(str::to_string)).unwrap().as_str());
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            let mut fields: Vec<&str> = f.fields.iter().map(|(n, _)| *n).collect();
            fields.sort_unstable();
            assert_eq!(keys, fields, "{}: its fields", f.tag);
            for (name, ty) in f.fields {
                assert!(fits(*ty, &m[*name]), "{}.{name}: {} is not a {ty:?}", f.tag, m[*name]);
            }
            assert_eq!(serde_json::from_value::<ActionJson>(object(a).into()).unwrap(), *a);
            assert_eq!(action_from(a.clone()).unwrap().is_control(), f.control, "{}: control", f.tag);
            assert_eq!(action(&action_from(a.clone()).unwrap()), *a, "{}: round trip", f.tag);
        }
    }

    #[test]
    fn a_form_says_which_fields_are_required() {
        for a in samples() {
            let f = form(object(&a)["do"].as_str().unwrap());
            for (name, ty) in f.fields {
                let mut m = object(&a);
                m.remove(*name);
                let read = serde_json::from_value::<ActionJson>(m.into());
                assert_eq!(read.is_ok(), !ty.required(), "{} without {name}: {read:?}", f.tag);
            }
        }
    }

    #[test]
    fn every_word_and_only_those_is_taken() {
        for f in ActionJson::FORMS {
            for (name, ty) in f.fields {
                let Field::Word(words) = ty else { continue };
                for w in *words {
                    let a: ActionJson = serde_json::from_value(json!({"do": f.tag, *name: w})).unwrap();
                    assert!(action_from(a).is_ok(), "{}.{name} = {w}", f.tag);
                }
                let a: ActionJson = serde_json::from_value(json!({"do": f.tag, *name: "RUN"})).unwrap();
                assert!(action_from(a).is_err(), "{}.{name}: a word not listed", f.tag);
            }
        }
        use pipesim::sis::KeySwitch;
        for key in [KeySwitch::Run, KeySwitch::Program, KeySwitch::Remote] {
            match key {
                KeySwitch::Run | KeySwitch::Program | KeySwitch::Remote => {}
            }
            let a = action(&Action::Defend(DefenderAction::SisKey { key }));
            assert!(fits(form("sis_key").fields[0].1, &object(&a)["key"]), "{key:?}");
        }
    }
}
