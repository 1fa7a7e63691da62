//! Loading the attack campaign: steps, their conditions, sources, targets and actions, and
//! the timing checks.

use std::collections::BTreeMap;

use gridsim::BusId;
use gridsim::sim::SimTime;
use marked_yaml::types::Node;

use super::{Ctx, Loader, hms, is_technique, node_id};
use crate::grid::{double_command_exists, supply_points};
use crate::model::*;
use crate::yaml::{self, Fields, Spanned, fields, integer, strings};

/// The keys of an attack step: its timing and conditions, then one action kind each.
const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "technique",
    "at",
    "after",
    "delay",
    "jitter",
    "unless",
    "it",
    "hmi_hijack",
    "iec104_command",
    "ioa_sweep",
    "iec104_sequence",
    "siprotec_dos",
    "dnp3_operate",
    "modbus_write",
    "modbus_restart",
    "firmware",
    "ups_off",
    "wipe",
    "service_stop",
    "modbus_register",
    "dnp3_valve",
    "sis_program",
];

/// The action kinds: the step keys from `it` on.
const STEP_KINDS: &[&str] = STEP_KEYS.split_at(8).1;

impl Loader<'_> {
    pub(super) fn step(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<Step> {
        let f = fields(self.e, n, "an attack step", STEP_KEYS)?;
        let id = self.id(&f, "id", "an attack step");
        let name = f.opt_string(self.e, "name");
        let techniques: Vec<String> = f
            .get("technique")
            .map(|n| strings(self.e, n, "technique"))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| {
                if is_technique(&t.value) {
                    Some(t.value)
                } else {
                    self.e.0.push(t.error(format!("`{}` is not an ATT&CK for ICS id", t.value)));
                    None
                }
            })
            .collect();
        let when = match (f.opt_duration(self.e, "at"), f.opt_string(self.e, "after")) {
            (Some(at), None) => Some(When::At(at.value)),
            (None, Some(after)) => {
                let delay = f.opt_duration(self.e, "delay").map_or(SimTime(0), |d| d.value);
                Some(When::After { step: after.value, delay })
            }
            (Some(_), Some(_)) => {
                self.e.at(f.span(), "a step has `at` or `after`, not both");
                None
            }
            (None, None) => {
                self.e.at(f.span(), "an attack step needs `at` (a time) or `after` (a step id)");
                None
            }
        };
        let jitter = f.opt_duration(self.e, "jitter").map_or(SimTime(0), |d| d.value);
        let unless = f.list(self.e, "unless").iter().filter_map(|n| self.unless(n, ctx)).collect();
        let kinds: Vec<&str> = STEP_KINDS.iter().copied().filter(|k| f.has(k)).collect();
        let action = match kinds.as_slice() {
            [k] => f.get(k).and_then(|n| self.action(k, n, ctx)),
            [] => {
                self.e.at(f.span(), format!("an attack step needs one action: {}", STEP_KINDS.join(", ")));
                None
            }
            many => {
                self.e.at(f.span(), format!("an attack step has one action, not {}", many.join(" and ")));
                None
            }
        };
        let id = id?;
        Some(Step {
            name: name.map_or_else(|| id.clone(), |s| s.value),
            id,
            techniques,
            when: when?,
            jitter,
            unless,
            action: action?,
        })
    }

    pub(super) fn unless(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<Unless> {
        let f = fields(self.e, n, "an `unless` condition", &["account_disabled", "blocked", "cleaned"])?;
        if let Some(a) = f.opt_string(self.e, "account_disabled") {
            if !ctx.accounts.iter().any(|x| x.id == a.value) {
                self.e.0.push(a.error(format!("no account `{}`", a.value)));
            }
            return Some(Unless::AccountDisabled(a.value));
        }
        if let Some(h) = f.opt_string(self.e, "blocked") {
            self.known_host(&h, ctx.hosts);
            return Some(Unless::Blocked(h.value));
        }
        if let Some(h) = f.opt_string(self.e, "cleaned") {
            self.known_host(&h, ctx.hosts);
            return Some(Unless::Cleaned(h.value));
        }
        self.e.at(f.span(), "`unless` takes account_disabled, blocked or cleaned");
        None
    }

    pub(super) fn source_host(&mut self, f: &Fields<'_>, ctx: &Ctx<'_>, what: &str) -> Option<String> {
        let h = f.string(self.e, "from", what)?;
        self.known_host(&h, ctx.hosts).then_some(h.value)
    }

    pub(super) fn value(&mut self, f: &Fields<'_>, what: &str) -> Option<bool> {
        let v = f.string(self.e, "value", what)?;
        match v.value.as_str() {
            "open" | "off" | "trip" => Some(false),
            "close" | "on" => Some(true),
            other => {
                self.e.0.push(v.error(format!("`value` is open or close, not `{other}`")));
                None
            }
        }
    }

    pub(super) fn substations(&mut self, n: Option<&Node>, ctx: &Ctx<'_>, what: &str) -> Vec<String> {
        let Some(n) = n else {
            return Vec::new();
        };
        let known =
            ctx.grid.map(|g| g.devices.gateways.iter().map(|g| g.substation.clone()).collect::<Vec<_>>());
        let mut out = Vec::new();
        for s in strings(self.e, n, what) {
            match &known {
                Some(k) if s.value == "all" => out.extend(k.iter().cloned()),
                Some(k) if !k.contains(&s.value) => {
                    self.e.0.push(s.error(format!("no substation `{}` in this grid", s.value)));
                }
                _ => out.push(s.value),
            }
        }
        out
    }

    pub(super) fn targets(&mut self, n: Option<&Node>, ctx: &Ctx<'_>, what: &str) -> Vec<CommandPoint> {
        let Some(n) = n else {
            return Vec::new();
        };
        if let Some(map) = n.as_mapping() {
            if map.get_node("supply_of").is_some() {
                let Some(f) = fields(self.e, n, "targets", &["supply_of"]) else { return Vec::new() };
                let subs = self.substations(f.get("supply_of"), ctx, "supply_of");
                return ctx.grid.map(|g| supply_points(g, &subs)).unwrap_or_default();
            }
        }
        let Some(list) = n.as_sequence() else {
            self.e.at(n.span(), format!("`{what}` is a list of {{station, ioa}} or {{supply_of: ...}}"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in list.iter() {
            let Some(f) = fields(self.e, item, "a target", &["station", "ioa"]) else { continue };
            let station = f.string(self.e, "station", "a target").and_then(|s| self.station(&s, ctx));
            let ioa = f.need(self.e, "ioa", "a target").and_then(|n| integer(self.e, n, "ioa", 1, 0xFF_FFFF));
            let (Some(station), Some(ioa)) = (station, ioa) else { continue };
            let point = CommandPoint { station, ioa: ioa.value as u32 };
            if let Some(g) = ctx.grid {
                if !double_command_exists(g, point) {
                    self.e.0.push(ioa.error(format!(
                        "station {station} has no breaker command (C_DC_NA_1) at IOA {}",
                        ioa.value
                    )));
                    continue;
                }
            }
            out.push(point);
        }
        out
    }

    /// `command: single | double` (C_SC_NA_1 or C_DC_NA_1): whether double, `default` when absent.
    fn double_command(&mut self, f: &Fields<'_>, default: bool) -> bool {
        match f.opt_string(self.e, "command") {
            None => default,
            Some(c) if c.value == "single" => false,
            Some(c) if c.value == "double" => true,
            Some(c) => {
                self.e.0.push(c.error(format!("`command` is single or double, not `{}`", c.value)));
                default
            }
        }
    }

    pub(super) fn action(&mut self, kind: &str, n: &Node, ctx: &Ctx<'_>) -> Option<Action> {
        let what = kind;
        Some(match kind {
            "it" => {
                let f = fields(self.e, n, "an IT event", &["kind", "host", "account", "from", "artefact"])?;
                let k = f.string(self.e, "kind", what)?;
                let host = f.string(self.e, "host", what)?;
                self.known_host(&host, ctx.hosts);
                let from = f.opt_string(self.e, "from");
                if let Some(h) = &from {
                    self.known_host(h, ctx.hosts);
                }
                let artefact = f.opt_string(self.e, "artefact");
                if let Some(a) = &artefact {
                    self.known_placeholders(a, ctx.hosts);
                }
                let account = f.opt_string(self.e, "account");
                if let Some(a) = &account {
                    if !ctx.accounts.iter().any(|x| x.id == a.value) {
                        self.e.0.push(a.error(format!("no account `{}`", a.value)));
                    }
                }
                Action::It(ItEvent {
                    kind: k.value,
                    host: host.value,
                    account: account.map(|a| a.value),
                    from: from.map(|h| h.value),
                    artefact: artefact.map(|s| s.value).unwrap_or_default(),
                })
            }
            "hmi_hijack" => {
                let f = fields(self.e, n, what, &["account", "targets", "value", "spread"])?;
                let account = f.string(self.e, "account", what)?;
                if !ctx.accounts.iter().any(|x| x.id == account.value) {
                    self.e.0.push(account.error(format!("no account `{}`", account.value)));
                }
                let node = f.need(self.e, "targets", what);
                let targets = self.targets(node, ctx, "targets");
                let close = self.value(&f, what)?;
                let spread = f.opt_duration(self.e, "spread").map_or(SimTime(0), |d| d.value);
                Action::HmiHijack { account: account.value, targets, close, spread }
            }
            "iec104_command" => {
                let f = fields(self.e, n, what, &["from", "targets", "value", "select", "spread"])?;
                let from = self.source_host(&f, ctx, what)?;
                let node = f.need(self.e, "targets", what);
                let targets = self.targets(node, ctx, "targets");
                let close = self.value(&f, what)?;
                let select =
                    f.get("select").map(|n| yaml::boolean(self.e, n, "select")).unwrap_or(Some(true))?;
                let spread = f.opt_duration(self.e, "spread").map_or(SimTime(0), |d| d.value);
                Action::Iec104Commands { from, targets, close, select, spread }
            }
            "ioa_sweep" => {
                let f = fields(
                    self.e,
                    n,
                    what,
                    &["from", "station", "command", "first", "last", "period", "toggles"],
                )?;
                let double = self.double_command(&f, false);
                let from = self.source_host(&f, ctx, what)?;
                let station = f.string(self.e, "station", what).and_then(|s| self.station(&s, ctx))?;
                let first =
                    f.need(self.e, "first", what).and_then(|n| integer(self.e, n, "first", 1, 0xFF_FFFF))?;
                let last =
                    f.need(self.e, "last", what).and_then(|n| integer(self.e, n, "last", 1, 0xFF_FFFF))?;
                if last.value < first.value || last.value - first.value > 10_000 {
                    self.e.0.push(last.error("`last` is at or after `first`, and at most 10,000 IOAs on"));
                }
                let period = f.opt_duration(self.e, "period").map_or(SimTime::from_secs(10.0), |d| d.value);
                let toggles = f
                    .get("toggles")
                    .and_then(|n| integer(self.e, n, "toggles", 0, 1000))
                    .map_or(10, |t| t.value as u32);
                Action::IoaSweep {
                    from,
                    station,
                    double,
                    first: first.value as u32,
                    last: last.value as u32,
                    period,
                    toggles,
                }
            }
            "iec104_sequence" => {
                let f = fields(
                    self.e,
                    n,
                    what,
                    &["from", "station", "interrogate", "command", "select", "ioas", "value"],
                )?;
                let from = self.source_host(&f, ctx, what)?;
                let station = f.string(self.e, "station", what).and_then(|s| self.station(&s, ctx))?;
                let interrogate = f
                    .get("interrogate")
                    .map(|n| yaml::boolean(self.e, n, "interrogate"))
                    .unwrap_or(Some(true))?;
                let select =
                    f.get("select").map(|n| yaml::boolean(self.e, n, "select")).unwrap_or(Some(false))?;
                let double = self.double_command(&f, true);
                let mut ioas = Vec::new();
                if let Some(list) = f.need(self.e, "ioas", what) {
                    match list.as_sequence() {
                        Some(items) if !items.is_empty() && items.len() <= 10_000 => {
                            for item in items.iter() {
                                if let Some(v) = integer(self.e, item, "an IOA", 1, 0xFF_FFFF) {
                                    ioas.push(v.value as u32);
                                }
                            }
                        }
                        _ => self.e.at(list.span(), "`ioas` is a list of 1 to 10,000 IOAs"),
                    }
                }
                let close = self.value(&f, what)?;
                Action::Iec104Sequence { from, station, interrogate, double, select, ioas, close }
            }
            "siprotec_dos" => {
                let f = fields(self.e, n, what, &["from", "devices"])?;
                let from = self.source_host(&f, ctx, what)?;
                let list = f.need(self.e, "devices", what)?;
                let devices: Vec<Offset> =
                    strings(self.e, list, "devices").iter().filter_map(|d| self.relay(d, ctx)).collect();
                if devices.is_empty() {
                    self.e.at(list.span(), "`devices` lists at least one protection relay");
                }
                Action::SiprotecDos { from, devices }
            }
            "dnp3_operate" => {
                let f = fields(self.e, n, what, &["from", "feeders", "value"])?;
                let from = self.source_host(&f, ctx, what)?;
                let mut feeders = Vec::new();
                if let Some(n) = f.need(self.e, "feeders", what) {
                    for s in strings(self.e, n, "feeders") {
                        match s.value.parse::<u32>() {
                            Ok(b)
                                if ctx
                                    .grid
                                    .is_none_or(|g| g.devices.reclosers.iter().any(|r| r.load.0 == b)) =>
                            {
                                feeders.push(BusId(b))
                            }
                            _ => self
                                .e
                                .0
                                .push(s.error(format!("no feeder recloser at load bus `{}`", s.value))),
                        }
                    }
                }
                Action::Dnp3Operate { from, feeders, close: self.value(&f, what)? }
            }
            "modbus_write" | "modbus_restart" => {
                let keys: &'static [&'static str] = if kind == "modbus_write" {
                    &["from", "device", "coil", "value"]
                } else {
                    &["from", "device"]
                };
                let f = fields(self.e, n, what, keys)?;
                let from = self.source_host(&f, ctx, what)?;
                let dev = f.string(self.e, "device", what)?;
                let device = self.device(&dev, ctx, true)?;
                if kind == "modbus_restart" {
                    Action::ModbusRestart { from, device }
                } else {
                    let coil =
                        f.need(self.e, "coil", what).and_then(|n| integer(self.e, n, "coil", 0, 0xFFFF))?;
                    let value =
                        f.need(self.e, "value", what).and_then(|n| integer(self.e, n, "value", 0, 1))?;
                    Action::ModbusWrite { from, device, coil: coil.value as u16, value: value.value == 1 }
                }
            }
            "modbus_register" => {
                let f = fields(self.e, n, what, &["from", "device", "register", "value"])?;
                let from = self.source_host(&f, ctx, what)?;
                let dev = f.string(self.e, "device", what)?;
                let device = self.device(&dev, ctx, true)?;
                let register = f
                    .need(self.e, "register", what)
                    .and_then(|n| integer(self.e, n, "register", 0, 0xFFFF))?;
                let value =
                    f.need(self.e, "value", what).and_then(|n| integer(self.e, n, "value", 0, 0xFFFF))?;
                Action::ModbusRegister {
                    from,
                    device,
                    register: register.value as u16,
                    value: value.value as u16,
                }
            }
            "dnp3_valve" => {
                let f = fields(self.e, n, what, &["from", "device", "index", "value"])?;
                let from = self.source_host(&f, ctx, what)?;
                let dev = f.string(self.e, "device", what)?;
                let device = self.device(&dev, ctx, false)?;
                let at = device.in_block(std::net::Ipv4Addr::new(127, 0, 0, 0));
                let rtu = ctx
                    .grid
                    .and_then(|g| g.devices.pipe.as_ref())
                    .and_then(|p| p.rtus.iter().find(|r| r.addr == at));
                let index = f.need(self.e, "index", what).and_then(|n| integer(self.e, n, "index", 0, 15))?;
                match rtu {
                    Some(r) if (index.value as usize) < r.valves.len() => {}
                    _ => {
                        self.e.0.push(
                            dev.error(format!("no line RTU with a valve {} at {}", index.value, dev.value)),
                        );
                        return None;
                    }
                }
                let open = match f.string(self.e, "value", what)?.value.as_str() {
                    "open" => true,
                    "close" => false,
                    other => {
                        self.e.at(f.span(), format!("a valve's `value` is open or close, not `{other}`"));
                        return None;
                    }
                };
                Action::Dnp3Valve { from, device, index: index.value as u16, open }
            }
            "sis_program" => {
                let f = fields(self.e, n, what, &["from", "read", "disable", "fault"])?;
                let from = self.source_host(&f, ctx, what)?;
                let sis = ctx.pipeline().and_then(|p| p.sis.as_ref());
                if sis.is_none() {
                    self.e.at(f.span(), "sis_program needs a pipeline with a safety system (`pipeline:`)");
                    return None;
                }
                let fault = f.get("fault").and_then(|n| yaml::boolean(self.e, n, "fault")).unwrap_or(false);
                let disable: Vec<Spanned<String>> =
                    f.get("disable").map(|n| strings(self.e, n, "disable")).unwrap_or_default();
                for d in &disable {
                    if !sis.is_some_and(|s| s.functions.iter().any(|g| g.tag == d.value)) {
                        self.e.0.push(d.error(format!("no safety function `{}`", d.value)));
                    }
                }
                let change = match (fault, disable.is_empty()) {
                    (true, true) => Some(ProgramChange::Fault),
                    (false, false) => {
                        Some(ProgramChange::Disable(disable.into_iter().map(|d| d.value).collect()))
                    }
                    (false, true) => None,
                    (true, false) => {
                        self.e.at(
                            f.span(),
                            "sis_program either disables functions or faults the controller, not both",
                        );
                        return None;
                    }
                };
                Action::SisProgram { from, change }
            }
            "firmware" | "ups_off" => {
                let f = fields(self.e, n, what, &["from", "substations"])?;
                let from = self.source_host(&f, ctx, what)?;
                let node = f.need(self.e, "substations", what);
                let substations = self.substations(node, ctx, "substations");
                if kind == "firmware" {
                    Action::Firmware { from, substations }
                } else {
                    Action::UpsOff { from, substations }
                }
            }
            "wipe" => {
                let f = fields(self.e, n, what, &["host"])?;
                let host = f.string(self.e, "host", what)?;
                self.known_host(&host, ctx.hosts);
                Action::Wipe { host: host.value }
            }
            "service_stop" => {
                let f = fields(self.e, n, what, &["host", "process", "artefact"])?;
                let host = f.string(self.e, "host", what)?;
                self.known_host(&host, ctx.hosts);
                let process = f.string(self.e, "process", what)?;
                let artefact = f.opt_string(self.e, "artefact");
                if let Some(a) = &artefact {
                    self.known_placeholders(a, ctx.hosts);
                }
                Action::ServiceStop {
                    host: host.value,
                    process: process.value,
                    artefact: artefact.map(|a| a.value).unwrap_or_default(),
                }
            }
            _ => return None,
        })
    }

    /// Steps' times: `after` names an earlier-declared step (so there are no cycles), and
    /// nothing is due after the end of the exercise.
    pub(super) fn check_timing(&mut self, nodes: &[Node], steps: &[Step], end: Option<SimTime>) {
        let mut times: BTreeMap<&str, SimTime> = BTreeMap::new();
        // Each step's node, and every id, looked up once (a file may have many steps).
        let mut by_id: BTreeMap<&str, &Node> = BTreeMap::new();
        for n in nodes {
            if let Some(id) = node_id(n) {
                by_id.entry(id.as_str()).or_insert(n);
            }
        }
        for s in steps {
            // At the `at` or `after` value when there is one, else at the step.
            let node = by_id.get(s.id.as_str()).copied();
            let when = node
                .and_then(|n| n.as_mapping())
                .and_then(|m| m.get_node("at").or_else(|| m.get_node("after")));
            let span = when.or(node).map(|n| *n.span()).unwrap_or_else(marked_yaml::Span::new_blank);
            let t = match &s.when {
                When::At(t) => Some(*t),
                When::After { step, delay } => match times.get(step.as_str()) {
                    Some(t) => Some(SimTime(t.0.saturating_add(delay.0))),
                    None => {
                        let why =
                            if by_id.contains_key(step.as_str()) { "a later step" } else { "no such step" };
                        self.e.at(&span, format!("step `{}` comes after `{step}`: {why} (a step can follow only one declared before it)", s.id));
                        None
                    }
                },
            };
            if let Some(t) = t {
                if let Some(end) = end.filter(|&end| t > end) {
                    self.e.at(
                        &span,
                        format!(
                            "step `{}` is due at {}, after the exercise ends ({})",
                            s.id,
                            hms(t),
                            hms(end)
                        ),
                    );
                }
                times.insert(&s.id, t);
            }
        }
    }
}
