//! Loading the scenario around the campaign: injects, questions and their answers, score
//! weights, expectations.

use std::collections::{BTreeMap, BTreeSet};

use gridsim::sim::SimTime;
use marked_yaml::types::Node;

use super::{Loader, hms};
use crate::model::*;
use crate::yaml::{self, Spanned, duration, fields, integer, strings};

impl Loader<'_> {
    pub(super) fn inject(
        &mut self,
        n: &Node,
        end: Option<&Spanned<SimTime>>,
        steps: &BTreeSet<&str>,
    ) -> Option<Inject> {
        const KEYS: &[&str] = &[
            "id",
            "at",
            "after",
            "on_alert",
            "customers_off_over",
            "delay",
            "channel",
            "from",
            "subject",
            "body",
        ];
        let f = fields(self.e, n, "an inject", KEYS)?;
        let id = self.id(&f, "id", "an inject");
        let delay = f.opt_duration(self.e, "delay").map_or(SimTime(0), |d| d.value);
        let triggers: Vec<&str> =
            ["at", "after", "on_alert", "customers_off_over"].into_iter().filter(|k| f.has(k)).collect();
        let when = match triggers.as_slice() {
            ["at"] => {
                let at = f.get("at").and_then(|n| duration(self.e, n, "at"));
                if let (Some(at), Some(end)) = (&at, end) {
                    if at.value > end.value {
                        self.e.0.push(at.error(format!(
                            "inject due at {}, after the exercise ends ({})",
                            hms(at.value),
                            hms(end.value)
                        )));
                    }
                }
                at.map(|a| InjectWhen::At(a.value))
            }
            ["after"] => {
                let step = f.opt_string(self.e, "after")?;
                if !steps.contains(step.value.as_str()) {
                    self.e.0.push(step.error(format!("no attack step `{}`", step.value)));
                }
                Some(InjectWhen::AfterStep { step: step.value, delay })
            }
            ["on_alert"] => {
                let rule = f.opt_string(self.e, "on_alert")?;
                self.known_rule(&rule);
                Some(InjectWhen::OnAlert { rule: rule.value, delay })
            }
            ["customers_off_over"] => f
                .get("customers_off_over")
                .and_then(|n| integer(self.e, n, "customers_off_over", 0, i64::from(u32::MAX)))
                .map(|v| InjectWhen::CustomersOff { over: v.value as u64, delay }),
            _ => {
                self.e.at(f.span(), "an inject has one of `at`, `after` (a step), `on_alert` (a rule) or `customers_off_over`");
                None
            }
        };
        let channel = f.string(self.e, "channel", "an inject");
        if let Some(c) = &channel {
            if !["email", "phone", "press", "regulator", "radio", "chat"].contains(&c.value.as_str()) {
                self.e.0.push(c.error(format!(
                    "`channel` is email, phone, press, regulator, radio or chat, not `{}`",
                    c.value
                )));
            }
        }
        Some(Inject {
            id: id?,
            when: when?,
            channel: channel?.value,
            from: f.opt_string(self.e, "from").map(|s| s.value).unwrap_or_default(),
            subject: f.string(self.e, "subject", "an inject")?.value,
            body: f.opt_string(self.e, "body").map(|s| s.value).unwrap_or_default(),
        })
    }

    pub(super) fn question(
        &mut self,
        n: &Node,
        steps: &BTreeSet<&str>,
        hosts: &[String],
    ) -> Option<Question> {
        let f = fields(
            self.e,
            n,
            "a question",
            &["id", "text", "points", "answer", "hints", "requires", "evidence"],
        )?;
        let id = self.id(&f, "id", "a question");
        let text = f.string(self.e, "text", "a question");
        let points = f.opt_number(self.e, "points").map_or(10.0, |p| p.value);
        let answer = f.need(self.e, "answer", "a question").and_then(|n| self.answer(n, hosts));
        let requires: Vec<String> = f
            .get("requires")
            .map(|n| strings(self.e, n, "requires"))
            .unwrap_or_default()
            .into_iter()
            .filter(|s| {
                let ok = steps.contains(s.value.as_str());
                if !ok {
                    self.e.0.push(s.error(format!("no attack step `{}`", s.value)));
                }
                ok
            })
            .map(|s| s.value)
            .collect();
        let hints = f
            .list(self.e, "hints")
            .iter()
            .filter_map(|h| {
                let hf = fields(self.e, h, "a hint", &["text", "cost"])?;
                let text = hf.string(self.e, "text", "a hint")?;
                let cost = hf.opt_number(self.e, "cost").map_or(0.0, |c| c.value);
                if cost < 0.0 || cost > points {
                    self.e
                        .at(hf.span(), format!("a hint costs between 0 and the question's {points} points"));
                }
                Some(Hint { text: text.value, cost })
            })
            .collect();
        let evidence =
            f.get("evidence").and_then(|_| f.string(self.e, "evidence", "a question")).map(|s| s.value);
        Some(Question { id: id?, text: text?.value, points, answer: answer?, hints, requires, evidence })
    }

    pub(super) fn answer(&mut self, n: &Node, hosts: &[String]) -> Option<Answer> {
        let f = fields(
            self.e,
            n,
            "an answer",
            &["exact", "regex", "number", "tolerance", "unit", "choice", "correct", "from_run", "host"],
        )?;
        if let Some(h) = f.opt_string(self.e, "host") {
            self.known_host(&h, hosts);
            return Some(Answer::Host(h.value));
        }
        if let Some(s) = f.opt_string(self.e, "exact") {
            return Some(Answer::Exact(s.value));
        }
        if let Some(s) = f.opt_string(self.e, "regex") {
            return Some(Answer::Regex(s.value));
        }
        let tolerance = f.opt_number(self.e, "tolerance").map_or(0.0, |t| t.value);
        if let Some(v) = f.opt_number(self.e, "number") {
            let unit = f.opt_string(self.e, "unit").and_then(|u| {
                let found = crate::answers::unit(&u.value);
                if found.is_none() {
                    let names: Vec<&str> = crate::answers::UNITS.iter().map(|u| u.name).collect();
                    self.e.0.push(u.error(format!(
                        "`{}` is not a unit answers are read in ({})",
                        u.value,
                        names.join(", ")
                    )));
                }
                found
            });
            return Some(Answer::Number { value: v.value, tolerance, unit });
        }
        if let Some(c) = f.get("choice") {
            let options: Vec<String> = strings(self.e, c, "choice").into_iter().map(|s| s.value).collect();
            let correct = f.string(self.e, "correct", "a choice answer")?;
            if !options.contains(&correct.value) {
                self.e.0.push(correct.error(format!("`{}` is not one of the choices", correct.value)));
            }
            return Some(Answer::Choice { options, correct: correct.value });
        }
        if let Some(fig) = f.opt_string(self.e, "from_run") {
            let Some(figure) = RunFigure::from_name(&fig.value) else {
                let names: Vec<&str> = RunFigure::ALL.iter().map(|f| f.as_str()).collect();
                self.e.0.push(fig.error(format!(
                    "`from_run` is one of {}, not `{}`",
                    names.join(", "),
                    fig.value
                )));
                return None;
            };
            return Some(Answer::FromRun { figure, tolerance });
        }
        self.e.at(
            f.span(),
            "an answer is one of exact, regex, number (with tolerance), choice (with correct), from_run, host",
        );
        None
    }

    pub(super) fn weights(&mut self, n: &Node) -> Option<Weights> {
        let f =
            fields(self.e, n, "scoring", &["service", "detection", "restoration", "questions", "reports"])?;
        let d = Weights::default();
        let mut get = |k: &str, dv: f64| {
            let v = f.opt_number(self.e, k);
            if let Some(x) = &v {
                if x.value < 0.0 {
                    self.e.0.push(x.error("a weight is not negative"));
                }
            }
            v.map_or(dv, |v| v.value)
        };
        Some(Weights {
            service: get("service", d.service),
            detection: get("detection", d.detection),
            restoration: get("restoration", d.restoration),
            questions: get("questions", d.questions),
            reports: get("reports", d.reports),
        })
    }

    pub(super) fn expect(
        &mut self,
        n: &Node,
        defenders: &BTreeMap<String, Vec<DefenderRule>>,
    ) -> Option<Expect> {
        const KEYS: &[&str] = &[
            "defender",
            "customers_off_min",
            "customers_off_max",
            "ens_min_mwh",
            "ens_max_mwh",
            "wire_steps_detected",
            "restored_within",
            "score_above",
            "overpressure",
            "rupture",
            "relief_lifted",
            "not_delivered_max_m3",
            "released_max_m3",
        ];
        let f = fields(self.e, n, "an expectation", KEYS)?;
        let known = |this: &mut Self, d: &Spanned<String>| {
            if d.value != "none" && !defenders.contains_key(&d.value) {
                this.e.0.push(d.error(format!("no defender `{}` (none, or one under `defenders`)", d.value)));
            }
        };
        let defender = f.string(self.e, "defender", "an expectation")?;
        known(self, &defender);
        let score_above = f.opt_string(self.e, "score_above");
        if let Some(s) = &score_above {
            known(self, s);
        }
        let count = |this: &mut Self, k: &str| {
            f.get(k).and_then(|n| integer(this.e, n, k, 0, i64::from(u32::MAX))).map(|v| v.value as u64)
        };
        Some(Expect {
            customers_off_min: count(self, "customers_off_min"),
            customers_off_max: count(self, "customers_off_max"),
            ens_min_mwh: f.opt_number(self.e, "ens_min_mwh").map(|v| v.value),
            ens_max_mwh: f.opt_number(self.e, "ens_max_mwh").map(|v| v.value),
            wire_steps_detected: f
                .get("wire_steps_detected")
                .and_then(|n| yaml::boolean(self.e, n, "wire_steps_detected"))
                .unwrap_or(false),
            restored_within: f.opt_duration(self.e, "restored_within").map(|d| d.value),
            score_above: score_above.map(|s| s.value),
            overpressure: f.get("overpressure").and_then(|n| yaml::boolean(self.e, n, "overpressure")),
            rupture: f.get("rupture").and_then(|n| yaml::boolean(self.e, n, "rupture")),
            relief_lifted: f.get("relief_lifted").and_then(|n| yaml::boolean(self.e, n, "relief_lifted")),
            not_delivered_max_m3: f.opt_number(self.e, "not_delivered_max_m3").map(|v| v.value),
            released_max_m3: f.opt_number(self.e, "released_max_m3").map(|v| v.value),
            defender: defender.value,
        })
    }
}
