//! What a team's action did, in a sentence for the person who asked (the pages show it; the
//! JSON keeps the outcome's fields beside it).

use exercise::{DefenderAction as D, Exercise};
use range::journal::{Action, Delivery, Outcome};

fn mins(ex: &Exercise) -> String {
    let m = (ex.crew_delay.0 as f64 / 60e6).round();
    format!("about {m:.0} minutes")
}

fn delivery(d: Delivery) -> &'static str {
    match d {
        Delivery::Confirmed => "the station confirmed it",
        Delivery::Accepted | Delivery::Sent => "the device accepted it",
        Delivery::Refused => "the station refused it",
        Delivery::Exception(_) => "the device answered with an exception",
        Delivery::CrobStatus(_) => "the device answered",
        Delivery::Swept(_) => "sent",
        Delivery::NoAnswer => "the device did not answer",
        Delivery::Blocked => "the firewall dropped it",
        Delivery::Unreachable => "the device cannot be reached",
        Delivery::NoSession => "the SCADA master has no session with the station",
        Delivery::NoDevice => "there is no such device",
    }
}

/// A message with a capital first (the pages' sentences: replies, error pages).
pub fn capitalised(s: &str) -> String {
    let s = s.trim();
    match s.get(..1) {
        Some(c) => c.to_uppercase() + &s[1..],
        None => s.to_string(),
    }
}

/// `action`'s outcome in a sentence, with `block` the team's address block.
pub fn sentence(ex: &Exercise, action: &Action, o: &Outcome, block: std::net::Ipv4Addr) -> String {
    let [b0, b1, _, _] = block.octets();
    let dev = |d: &exercise::Offset| format!("{b0}.{b1}.{}.{}", d.0, d.1);
    match (action, o) {
        (_, Outcome::Refused(why)) => format!("Not done: {}.", capitalised(why)),
        (Action::Defend(d), o) => match (d, o) {
            (D::Block { host }, _) => {
                format!("The firewall now drops everything from {host}; connections from it were closed.")
            }
            (D::DisableAccount { account }, _) => {
                format!("Account {account} is disabled: it cannot log in any more.")
            }
            (D::Clean { host }, _) => format!(
                "Incident responders took {host} off line to clean it: its implant's scheduled tasks and binaries are removed."
            ),
            (D::RestoreFirmware { substation }, _) => format!(
                "A crew is on its way to {substation} with a spare gateway: {} to get there, then an hour on site.",
                mins(ex)
            ),
            (D::UpsOn { substation }, Outcome::Command(c)) => {
                format!(
                    "The SCADA server told the UPS at {substation} to switch its output on: {}.",
                    delivery(*c)
                )
            }
            (D::Local { device }, _) => format!(
                "The device at {} is at LOCAL: it keeps reporting but refuses remote commands, the attacker's included.",
                dev(device)
            ),
            (D::Reboot { device }, _) => {
                format!(
                    "A crew is on its way to reboot the device at {} by hand ({}).",
                    dev(device),
                    mins(ex)
                )
            }
            (D::DispatchCrew { point, close }, _) => format!(
                "A crew is on its way to station {} to {} IOA {} by hand ({}).",
                point.station,
                if *close { "close" } else { "open" },
                point.ioa,
                mins(ex)
            ),
            (D::CloseOpened, Outcome::Reclose { commanded, crews }) => format!(
                "Restoration: {commanded} breaker{} closed from the control room; {crews} crew{} sent where the station does not answer.",
                if *commanded == 1 { "" } else { "s" },
                if *crews == 1 { "" } else { "s" }
            ),
            (D::Operate { point, close }, Outcome::Command(c)) => format!(
                "{} station {} IOA {}: {}.",
                if *close { "Close" } else { "Open" },
                point.station,
                point.ioa,
                delivery(*c)
            ),
            (D::Pump { pump, run }, _) => {
                format!("Pump {pump}: {} sent.", if *run { "start" } else { "orderly stop" })
            }
            (D::Valve { valve, open }, _) => {
                format!("Valve {valve}: {} sent.", if *open { "open" } else { "close" })
            }
            (D::SisKey { key }, _) => format!("The safety controller's key is at {}.", key.name()),
            (D::SisRestore, _) => {
                "The safety controller runs its commissioned program again, trips reset, key at RUN.".into()
            }
            (D::AckAlarms, _) => "Alarms acknowledged.".into(),
            (D::Alarms { op, keys }, _) => format!(
                "{} alarm{} {}.",
                keys.len(),
                if keys.len() == 1 { "" } else { "s" },
                match op {
                    exercise::AlarmOp::Ack => "acknowledged",
                    exercise::AlarmOp::Shelve => "shelved",
                    exercise::AlarmOp::Unshelve => "back in the list",
                }
            ),
            (D::Hint { .. }, Outcome::Hint { cost, .. }) => format!("Hint taken ({cost} points)."),
            (D::AnswerQuestion { .. }, Outcome::Verdict { correct }) => {
                if *correct {
                    "Correct.".into()
                } else {
                    "Not correct.".into()
                }
            }
            (D::Report { .. }, _) => "Report filed.".into(),
            _ => "Done.".into(),
        },
        _ => "Done.".into(),
    }
}
