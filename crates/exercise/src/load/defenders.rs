//! Loading scripted defenders: their rules, triggers and actions.

use gridsim::sim::SimTime;
use marked_yaml::types::Node;

use super::{Ctx, Loader};
use crate::model::*;
use crate::yaml::{fields, integer};

impl Loader<'_> {
    pub(super) fn defender(&mut self, n: &Node, ctx: &Ctx<'_>, questions: &[String]) -> Vec<DefenderRule> {
        let Some(list) = n.as_sequence() else {
            self.e.at(n.span(), "a defender is a list of rules");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in list.iter() {
            if let Some(r) = self.defender_rule(item, ctx, questions) {
                out.push(r);
            }
        }
        out
    }

    pub(super) fn defender_rule(
        &mut self,
        n: &Node,
        ctx: &Ctx<'_>,
        questions: &[String],
    ) -> Option<DefenderRule> {
        const KEYS: &[&str] = &[
            "at",
            "on_alert",
            "delay",
            "do",
            "station",
            "ioa",
            "value",
            "host",
            "account",
            "substation",
            "question",
            "text",
            "device",
            "pump",
            "valve",
            "key",
        ];
        let f = fields(self.e, n, "a defender rule", KEYS)?;
        let trigger = match (f.opt_duration(self.e, "at"), f.opt_string(self.e, "on_alert")) {
            (Some(at), None) => Some(Trigger::At(at.value)),
            (None, Some(rule)) => {
                self.known_rule(&rule);
                let delay = f.opt_duration(self.e, "delay").map_or(SimTime(0), |d| d.value);
                Some(Trigger::OnAlert { rule: rule.value, delay })
            }
            _ => {
                self.e.at(f.span(), "a defender rule has `at` (a time) or `on_alert` (an IDS rule id)");
                None
            }
        };
        let what = f.string(self.e, "do", "a defender rule")?;
        let point = |this: &mut Self| -> Option<CommandPoint> {
            let station = f.string(this.e, "station", "this action").and_then(|s| this.station(&s, ctx))?;
            let ioa =
                f.need(this.e, "ioa", "this action").and_then(|n| integer(this.e, n, "ioa", 1, 0xFF_FFFF))?;
            Some(CommandPoint { station, ioa: ioa.value as u32 })
        };
        let action = match what.value.as_str() {
            "operate" | "dispatch_crew" => {
                let p = point(self)?;
                let close = self.value(&f, "this action")?;
                if what.value == "operate" {
                    DefenderAction::Operate { point: p, close }
                } else {
                    DefenderAction::DispatchCrew { point: p, close }
                }
            }
            "close_opened" => DefenderAction::CloseOpened,
            "block" => {
                let h = f.string(self.e, "host", "block")?;
                self.known_host(&h, ctx.hosts);
                DefenderAction::Block { host: h.value }
            }
            "clean" => {
                let h = f.string(self.e, "host", "clean")?;
                self.known_host(&h, ctx.hosts);
                DefenderAction::Clean { host: h.value }
            }
            "disable_account" => {
                let a = f.string(self.e, "account", "disable_account")?;
                if !ctx.accounts.iter().any(|x| x.id == a.value) {
                    self.e.0.push(a.error(format!("no account `{}`", a.value)));
                }
                DefenderAction::DisableAccount { account: a.value }
            }
            "restore_firmware" | "ups_on" => {
                let s = f.string(self.e, "substation", &what.value)?;
                if s.value == "all" {
                    self.e.0.push(s.error("name one substation (a rule per substation)"));
                    return None;
                }
                let subs = self.substations(f.get("substation"), ctx, "substation");
                if subs.is_empty() {
                    return None;
                }
                if what.value == "ups_on" {
                    DefenderAction::UpsOn { substation: s.value }
                } else {
                    DefenderAction::RestoreFirmware { substation: s.value }
                }
            }
            "ack_alarms" => DefenderAction::AckAlarms,
            "pump" | "valve" => {
                let key = what.value.as_str();
                let name = f.string(self.e, key, &what.value)?;
                let line = ctx.pipeline();
                let known = line.is_some_and(|p| {
                    if key == "pump" {
                        p.pump_index(&name.value).is_some()
                    } else {
                        p.valve_index(&name.value).is_some()
                    }
                });
                if !known {
                    self.e
                        .0
                        .push(name.error(format!("no {key} `{}` in the exercise's pipeline", name.value)));
                    return None;
                }
                let on = f
                    .need(self.e, "value", &what.value)
                    .and_then(|n| integer(self.e, n, "value", 0, 1))?
                    .value
                    == 1;
                if key == "pump" {
                    DefenderAction::Pump { pump: name.value, run: on }
                } else {
                    DefenderAction::Valve { valve: name.value, open: on }
                }
            }
            "sis_key" | "sis_restore" => {
                if ctx.pipeline().is_none_or(|p| p.sis.is_none()) {
                    self.e.0.push(what.error("the exercise's pipeline has no safety system"));
                    return None;
                }
                if what.value == "sis_restore" {
                    DefenderAction::SisRestore
                } else {
                    let k = f.string(self.e, "key", "sis_key")?;
                    let key = match k.value.parse::<pipesim::sis::KeySwitch>() {
                        Ok(key) => key,
                        Err(err) => {
                            self.e.0.push(k.error(err.to_string()));
                            return None;
                        }
                    };
                    DefenderAction::SisKey { key }
                }
            }
            "local" => {
                let d = f.string(self.e, "device", "local")?;
                let off = self.device(&d, ctx, false)?;
                DefenderAction::Local { device: off }
            }
            "reboot" => {
                let d = f.string(self.e, "device", "reboot")?;
                let off = self.device(&d, ctx, false)?;
                DefenderAction::Reboot { device: off }
            }
            "hint" => {
                let q = f.string(self.e, "question", "hint")?;
                if !questions.contains(&q.value) {
                    self.e.0.push(q.error(format!("no question `{}`", q.value)));
                }
                let index = f
                    .get("value")
                    .and_then(|n| integer(self.e, n, "value", 1, 100))
                    .map_or(0, |v| v.value as usize - 1);
                DefenderAction::Hint { question: q.value, index }
            }
            "answer" => {
                let q = f.string(self.e, "question", "answer")?;
                if !questions.contains(&q.value) {
                    self.e.0.push(q.error(format!("no question `{}`", q.value)));
                }
                let v = f.string(self.e, "value", "answer")?;
                self.known_placeholders(&v, ctx.hosts);
                DefenderAction::AnswerQuestion { question: q.value, value: v.value }
            }
            "report" => {
                let text = f.string(self.e, "text", "report")?;
                self.known_placeholders(&text, ctx.hosts);
                DefenderAction::Report { text: text.value }
            }
            other => {
                self.e.0.push(what.error(format!(
                    "`do` is one of operate, close_opened, dispatch_crew, block, disable_account, clean, restore_firmware, ups_on, local, reboot, ack_alarms, pump, valve, sis_key, sis_restore, hint, answer, report; not `{other}`"
                )));
                return None;
            }
        };
        Some(DefenderRule { trigger: trigger?, action })
    }
}
