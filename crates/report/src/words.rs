//! Actors, actions and outcomes in words, for the timeline.

use exercise::DefenderAction;
use range::journal::{Action, Actor, Outcome};

/// An actor in words.
pub fn actor(a: &Actor) -> String {
    match a {
        Actor::User { user, role, .. } => format!("{user} ({})", role.as_str()),
        Actor::Instructor { name } => format!("instructor {name}"),
        Actor::Defender { name } => format!("scripted defender `{name}`"),
        Actor::Attacker => "attacker".into(),
    }
}

/// The kind of an actor (`Item::actor_kind`).
pub(crate) fn actor_kind(a: &Actor) -> &'static str {
    match a {
        Actor::User { .. } => "user",
        Actor::Instructor { .. } => "instructor",
        Actor::Defender { .. } => "defender",
        Actor::Attacker => "attacker",
    }
}

/// An action in words.
pub fn action(a: &Action) -> String {
    match a {
        Action::Defend(d) => defend(d),
        Action::FireInject { inject } => format!("fire inject `{inject}`"),
        Action::SkipStep { step } => format!("skip step `{step}`"),
        Action::TriggerStep { step } => format!("trigger step `{step}`"),
        Action::Pause => "pause".into(),
        Action::Resume => "resume".into(),
        Action::Speed { factor: Some(f) } => format!("speed {f}x"),
        Action::Speed { factor: None } => "speed max".into(),
    }
}

pub(crate) fn defend(d: &DefenderAction) -> String {
    let oc = |close: bool| if close { "close" } else { "open" };
    match d {
        DefenderAction::Operate { point, close } => {
            format!("{} station {} IOA {} (HMI)", oc(*close), point.station, point.ioa)
        }
        DefenderAction::CloseOpened => "re-close what was opened".into(),
        DefenderAction::DispatchCrew { point, close } => {
            format!("crew to {} station {} IOA {} by hand", oc(*close), point.station, point.ioa)
        }
        DefenderAction::Block { host } => format!("block {host}"),
        DefenderAction::DisableAccount { account } => format!("disable account {account}"),
        DefenderAction::Clean { host } => format!("clean {host}"),
        DefenderAction::RestoreFirmware { substation } => format!("replace {substation}'s gateway"),
        DefenderAction::Reboot { device } => format!("reboot device x.x.{}.{}", device.0, device.1),
        DefenderAction::UpsOn { substation } => format!("switch {substation}'s UPS on"),
        DefenderAction::AckAlarms => "acknowledge alarms".into(),
        DefenderAction::Alarms { op, keys } => format!("alarms {}: {}", op.as_str(), keys.join(", ")),
        DefenderAction::Pump { pump, run } => format!("{} pump {pump}", if *run { "start" } else { "stop" }),
        DefenderAction::Valve { valve, open } => {
            format!("{} valve {valve}", if *open { "open" } else { "close" })
        }
        DefenderAction::SisKey { key } => format!("safety controller key to {}", key.name()),
        DefenderAction::SisRestore => "safety controller: commissioned program restored, key at RUN".into(),
        DefenderAction::Local { device } => format!("device x.x.{}.{} to LOCAL", device.0, device.1),
        DefenderAction::Hint { question, index } => {
            format!("hint {} of question `{question}`", index.saturating_add(1))
        }
        DefenderAction::AnswerQuestion { question, value } => format!("answer `{question}`: {value}"),
        DefenderAction::Report { text } => format!("incident report: {text}"),
    }
}

/// An outcome in words.
pub fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Accepted => "accepted".into(),
        Outcome::Refused(why) => format!("refused: {why}"),
        Outcome::Hint { cost, .. } => format!("hint given (costs {cost})"),
        Outcome::Verdict { correct: true } => "right".into(),
        Outcome::Verdict { correct: false } => "wrong".into(),
        Outcome::Command(d) => d.describe(),
        Outcome::Reclose { commanded, crews } => {
            format!("{commanded} breakers commanded, {crews} crews sent")
        }
    }
}

/// The team's own actors: its users and its scripted defender.
pub(crate) fn team_actor(a: &Actor) -> bool {
    matches!(a, Actor::User { .. } | Actor::Defender { .. })
}
