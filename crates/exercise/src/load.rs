//! The loader: YAML (through `yaml`'s spanned reader) into the model, checked against the
//! grid and its devices, every problem at once with its line and column.

use std::collections::{BTreeMap, BTreeSet};

use gridsim::BusId;
use gridsim::sim::SimTime;
use marked_yaml::types::Node;

use crate::grid::{GridSource, Resolved, build_grid, double_command_exists, supply_points};
use crate::model::*;
use crate::yaml::{self, Diagnostic, Errors, Fields, Spanned, duration, fields, integer, string, strings};

/// Reads an exercise file. Every problem is reported, in file order.
pub fn load(text: &str, source: &dyn GridSource) -> Result<Exercise, Vec<Diagnostic>> {
    let root = yaml::parse(text).map_err(|d| vec![d])?;
    let mut e = Errors::default();
    let ex = Loader { e: &mut e, source }.exercise(&root);
    let mut errors = e.0;
    yaml::clamp(text, &mut errors);
    errors.sort_by_key(|d| (d.line, d.col));
    errors.dedup();
    match ex {
        Some(ex) if errors.is_empty() => Ok(ex),
        _ => Err(errors),
    }
}

/// Reads a scripted defender from its own file: `rules: [...]`, the same rules an exercise's
/// `defenders` holds, checked against that exercise and its grid.
pub fn load_defender(
    text: &str,
    ex: &Exercise,
    grid: &Resolved,
) -> Result<Vec<DefenderRule>, Vec<Diagnostic>> {
    let root = yaml::parse(text).map_err(|d| vec![d])?;
    let mut e = Errors::default();
    let hosts: Vec<String> = ex.hosts.iter().map(|h| h.id.clone()).collect();
    let questions: Vec<String> = ex.questions.iter().map(|q| q.id.clone()).collect();
    let ctx = Ctx { hosts: &hosts, accounts: &ex.accounts, grid: Some(grid) };
    let mut rules = Vec::new();
    let source = NoGrid;
    let mut l = Loader { e: &mut e, source: &source };
    if let Some(f) = fields(l.e, &root, "a defender file", &["rules"]) {
        if let Some(n) = f.need(l.e, "rules", "a defender file") {
            rules = l.defender(n, &ctx, &questions);
        }
    }
    let mut errors = e.0;
    yaml::clamp(text, &mut errors);
    errors.sort_by_key(|d| (d.line, d.col));
    if errors.is_empty() { Ok(rules) } else { Err(errors) }
}

struct NoGrid;

impl GridSource for NoGrid {
    fn grid(&self, name: &str) -> Result<(String, String), String> {
        Err(format!("no grid `{name}`"))
    }
}

struct Loader<'a> {
    e: &'a mut Errors,
    source: &'a dyn GridSource,
}

const TOP: &[&str] = &[
    "exercise",
    "id",
    "title",
    "summary",
    "sources",
    "techniques",
    "grid",
    "team_mode",
    "duration",
    "crew_delay",
    "zones",
    "hosts",
    "accounts",
    "scada",
    "allowlist",
    "devices",
    "attack",
    "injects",
    "questions",
    "scoring",
    "defenders",
    "expect",
];

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
    "dnp3_operate",
    "modbus_write",
    "modbus_restart",
    "firmware",
    "ups_off",
    "wipe",
];

/// The action kinds: the step keys from `it` on.
const STEP_KINDS: &[&str] = STEP_KEYS.split_at(8).1;

/// Ids must be short words: letters, digits, `-`, `_`, `.`.
fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl Loader<'_> {
    fn exercise(&mut self, root: &Node) -> Option<Exercise> {
        let f = fields(self.e, root, "the exercise", TOP)?;
        if let Some(n) = f.need(self.e, "exercise", "the exercise (format version)") {
            if let Some(v) = integer(self.e, n, "exercise", 0, i64::MAX) {
                if v.value != FORMAT_VERSION {
                    self.e.0.push(v.error(format!(
                        "format version {} is not supported (this build reads {FORMAT_VERSION})",
                        v.value
                    )));
                }
            }
        }
        let id = self.id(&f, "id", "the exercise");
        let title = f.string(self.e, "title", "the exercise");
        let summary = f.opt_string(self.e, "summary");
        let sources: Vec<String> = f
            .list(self.e, "sources")
            .iter()
            .filter_map(|n| string(self.e, n, "source"))
            .map(|s| s.value)
            .collect();
        if sources.is_empty() {
            self.e.at(f.span(), "an exercise cites at least one source (`sources: [...]`)");
        }
        let techniques = f.list(self.e, "techniques").iter().filter_map(|n| self.technique(n)).collect();
        let grid_name = f.string(self.e, "grid", "the exercise");
        let team_mode = match f.opt_string(self.e, "team_mode") {
            None => Some(TeamMode::Isolated),
            Some(s) => match s.value.as_str() {
                "isolated" => Some(TeamMode::Isolated),
                "regional" => Some(TeamMode::Regional),
                other => {
                    self.e.0.push(s.error(format!("`team_mode` is isolated or regional, not `{other}`")));
                    None
                }
            },
        };
        let run_for =
            f.need(self.e, "duration", "the exercise").and_then(|n| duration(self.e, n, "duration"));
        let crew_delay = f.opt_duration(self.e, "crew_delay").map_or(SimTime::from_secs(1800.0), |d| d.value);

        let zones: Vec<Zone> = f.list(self.e, "zones").iter().filter_map(|n| self.zone(n)).collect();
        let zone_nodes = f.list(self.e, "zones");
        self.unique(zone_nodes, "zone");
        let hosts: Vec<(Host, Spanned<String>)> =
            f.list(self.e, "hosts").iter().filter_map(|n| self.host(n)).collect();
        let host_nodes = f.list(self.e, "hosts");
        self.unique(host_nodes, "host");
        for (h, zone) in &hosts {
            if !zones.iter().any(|z| z.id == zone.value) {
                self.e.0.push(
                    zone.error(format!("host `{}` is in zone `{}`, which is not declared", h.id, zone.value)),
                );
            }
        }
        let hosts: Vec<Host> = hosts.into_iter().map(|h| h.0).collect();
        let host_ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
        let accounts: Vec<Account> = f
            .list(self.e, "accounts")
            .iter()
            .filter_map(|n| {
                let a = fields(self.e, n, "an account", &["id", "host"])?;
                let id = self.id(&a, "id", "an account")?;
                let host = a.string(self.e, "host", "an account")?;
                self.known_host(&host, &host_ids);
                Some(Account { id, host: host.value })
            })
            .collect();

        // The grid: everything below that names stations, IOAs or substations needs it.
        let grid = grid_name.as_ref().and_then(|g| match build_grid(self.source, &g.value) {
            Ok(r) => Some(r),
            Err(msg) => {
                self.e.0.push(g.error(msg));
                None
            }
        });
        let ctx = Ctx { hosts: &host_ids, accounts: &accounts, grid: grid.as_ref() };

        let scada = f.need(self.e, "scada", "the exercise").and_then(|n| self.scada(n, &ctx));
        let device_settings =
            f.get("devices").and_then(|n| self.device_settings(n, &ctx)).unwrap_or_default();
        let allowlist: Vec<String> = f
            .get("allowlist")
            .map(|n| strings(self.e, n, "allowlist"))
            .unwrap_or_default()
            .into_iter()
            .filter(|h| self.known_host(h, &host_ids))
            .map(|h| h.value)
            .collect();

        let step_nodes = f.list(self.e, "attack");
        let steps: Vec<Step> = step_nodes.iter().filter_map(|n| self.step(n, &ctx)).collect();
        self.unique(step_nodes, "attack step");
        self.check_timing(step_nodes, &steps, run_for.as_ref().map(|d| d.value));

        let step_ids: BTreeSet<&str> = step_nodes.iter().filter_map(node_id).map(|id| id.as_str()).collect();
        let injects: Vec<Inject> = f
            .list(self.e, "injects")
            .iter()
            .filter_map(|n| self.inject(n, run_for.as_ref(), &step_ids))
            .collect();
        let q_nodes = f.list(self.e, "questions");
        let questions: Vec<Question> = q_nodes.iter().filter_map(|n| self.question(n)).collect();
        self.unique(q_nodes, "question");
        let scoring = f.get("scoring").and_then(|n| self.weights(n)).unwrap_or_default();

        let question_ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
        let mut defenders = BTreeMap::new();
        if let Some(n) = f.get("defenders") {
            if let Some(map) = n.as_mapping() {
                for (name, rules) in map.iter() {
                    if !valid_id(name.as_str()) || name.as_str() == "none" {
                        self.e.at(name.span(), format!("`{}` cannot name a defender", name.as_str()));
                        continue;
                    }
                    let rules = self.defender(rules, &ctx, &question_ids);
                    defenders.insert(name.as_str().to_string(), rules);
                }
            } else {
                self.e.at(n.span(), "`defenders` maps a name to a list of rules");
            }
        }
        let expect = f.list(self.e, "expect").iter().filter_map(|n| self.expect(n, &defenders)).collect();

        Some(Exercise {
            id: id?,
            title: title?.value,
            summary: summary.map(|s| s.value).unwrap_or_default(),
            sources,
            techniques,
            grid: grid_name?.value,
            team_mode: team_mode?,
            duration: run_for?.value,
            crew_delay,
            zones,
            hosts,
            accounts,
            scada: scada?,
            device_settings,
            allowlist,
            attack: steps,
            injects,
            questions,
            scoring,
            defenders,
            expect,
        })
    }

    fn id(&mut self, f: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        let s = f.string(self.e, key, what)?;
        if !valid_id(&s.value) {
            self.e.0.push(
                s.error(format!("`{}` is not a valid id (letters, digits, - _ .; at most 64)", s.value)),
            );
            return None;
        }
        Some(s.value)
    }

    /// Reports the second of two equal ids, at its node.
    fn unique(&mut self, nodes: &[Node], what: &str) {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for n in nodes {
            let Some(id) = node_id(n) else { continue };
            if !seen.insert(id.as_str()) {
                self.e.at(id.span(), format!("{what} id `{}` is used twice", id.as_str()));
            }
        }
    }

    fn known_host(&mut self, h: &Spanned<String>, hosts: &[String]) -> bool {
        let ok = hosts.contains(&h.value);
        if !ok {
            self.e.0.push(h.error(format!("no host `{}` (hosts: {})", h.value, hosts.join(", "))));
        }
        ok
    }

    /// An IDS rule id, checked against the rules the IDS has.
    fn known_rule(&mut self, rule: &Spanned<String>) {
        if ids::rule(&rule.value).is_none() {
            let all: Vec<&str> = ids::RULES.iter().map(|r| r.id).collect();
            self.e.0.push(rule.error(format!("no IDS rule `{}` (rules: {})", rule.value, all.join(", "))));
        }
    }

    fn technique(&mut self, n: &Node) -> Option<Technique> {
        let f = fields(self.e, n, "a technique", &["id", "v19", "name"])?;
        let id = f.string(self.e, "id", "a technique")?;
        if !is_technique(&id.value) {
            self.e.0.push(id.error(format!(
                "`{}` is not an ATT&CK for ICS id (T0800-T0899 or T1690-T1699.xxx)",
                id.value
            )));
        }
        let v19 = f.opt_string(self.e, "v19");
        if let Some(v) = &v19 {
            if !is_technique(&v.value) {
                self.e.0.push(v.error(format!("`{}` is not an ATT&CK id", v.value)));
            }
        }
        Some(Technique {
            id: id.value,
            v19: v19.map(|v| v.value),
            name: f.opt_string(self.e, "name").map(|s| s.value).unwrap_or_default(),
        })
    }

    fn zone(&mut self, n: &Node) -> Option<Zone> {
        let f = fields(self.e, n, "a zone", &["id", "name"])?;
        let id = self.id(&f, "id", "a zone")?;
        Some(Zone { name: f.opt_string(self.e, "name").map_or_else(|| id.clone(), |s| s.value), id })
    }

    fn host(&mut self, n: &Node) -> Option<(Host, Spanned<String>)> {
        let f = fields(self.e, n, "a host", &["id", "zone", "addr", "name"])?;
        let id = self.id(&f, "id", "a host");
        let zone = f.string(self.e, "zone", "a host");
        let addr = f.string(self.e, "addr", "a host").and_then(|a| {
            match parse_offset(&a.value) {
                Some(off) if off.0 >= 200 => Some(off),
                _ => {
                    self.e.0.push(a.error(format!(
                        "`addr` is the host's last two octets in the team's block, 200.0 to 255.255 (devices use the rest), not `{}`",
                        a.value
                    )));
                    None
                }
            }
        });
        Some((Host { id: id?, zone: zone.clone()?.value, addr: addr? }, zone?))
    }

    fn scada(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<Scada> {
        let f = fields(self.e, n, "the SCADA master", &["host", "stations", "interrogation"])?;
        let host = f.string(self.e, "host", "the SCADA master")?;
        self.known_host(&host, ctx.hosts);
        let interrogation = f.opt_duration(self.e, "interrogation").map_or(SimTime::from_secs(900.0), |d| {
            if d.value < SimTime::from_secs(1.0) {
                self.e.0.push(
                    d.error("`interrogation` is at least 1s (a master interrogates, it does not flood)"),
                );
            }
            d.value
        });
        let mut stations = Vec::new();
        let all: Vec<u16> = ctx
            .grid
            .map(|g| g.devices.rtus.iter().map(|r| r.station.common_address).collect())
            .unwrap_or_default();
        match f.get("stations") {
            None => stations = all,
            Some(n) => {
                for s in strings(self.e, n, "stations") {
                    if s.value == "all" {
                        stations.extend(&all);
                    } else if let Some(ca) = self.station(&s, ctx) {
                        stations.push(ca);
                    }
                }
            }
        }
        Some(Scada { host: host.value, stations, interrogation })
    }

    fn device_settings(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<DeviceSettings> {
        let f = fields(self.e, n, "devices", &["sbo_required", "local"])?;
        let mut out = DeviceSettings::default();
        if let Some(n) = f.get("sbo_required") {
            for s in strings(self.e, n, "sbo_required") {
                if let Some(ca) = self.station(&s, ctx) {
                    out.sbo_required.push(ca);
                }
            }
        }
        if let Some(n) = f.get("local") {
            for s in strings(self.e, n, "local") {
                let Some(off) = self.device(&s, ctx, false) else { continue };
                out.local.push(off);
            }
        }
        Some(out)
    }

    /// A device by its address offset in the team's block (`1.4`: the RTU of the fourth bus),
    /// which the grid's default plan must have; `modbus`: it must speak Modbus.
    fn device(&mut self, s: &Spanned<String>, ctx: &Ctx<'_>, modbus: bool) -> Option<Offset> {
        let Some(off) = parse_offset(&s.value) else {
            self.e.0.push(
                s.error(format!("a device is its address's last two octets, such as 1.4, not `{}`", s.value)),
            );
            return None;
        };
        let g = ctx.grid?;
        let found = g.devices.at(off.in_block(std::net::Ipv4Addr::new(127, 0, 0, 0)));
        let ok = match found {
            Some(devices::DeviceRef::Plc(_) | devices::DeviceRef::Relay(_) | devices::DeviceRef::Ups(_)) => {
                true
            }
            Some(_) => !modbus,
            None => false,
        };
        if !ok {
            let what = if modbus { "no Modbus device" } else { "no device" };
            self.e.0.push(s.error(format!("{what} at {} (see `icsrange devices --list`)", s.value)));
            return None;
        }
        Some(off)
    }

    /// A station by common address; checked against the grid's RTUs.
    fn station(&mut self, s: &Spanned<String>, ctx: &Ctx<'_>) -> Option<u16> {
        let Ok(ca) = s.value.parse::<u16>() else {
            self.e
                .0
                .push(s.error(format!("a station is an RTU's common address (a number), not `{}`", s.value)));
            return None;
        };
        let g = ctx.grid?;
        if !g.devices.rtus.iter().any(|r| r.station.common_address == ca) {
            self.e.0.push(s.error(format!("no RTU with common address {ca} in this grid")));
            return None;
        }
        Some(ca)
    }

    fn step(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<Step> {
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

    fn unless(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<Unless> {
        let f = fields(self.e, n, "an `unless` condition", &["account_disabled", "blocked"])?;
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
        self.e.at(f.span(), "`unless` takes account_disabled or blocked");
        None
    }

    fn source_host(&mut self, f: &Fields<'_>, ctx: &Ctx<'_>, what: &str) -> Option<String> {
        let h = f.string(self.e, "from", what)?;
        self.known_host(&h, ctx.hosts).then_some(h.value)
    }

    fn value(&mut self, f: &Fields<'_>, what: &str) -> Option<bool> {
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

    fn substations(&mut self, n: Option<&Node>, ctx: &Ctx<'_>, what: &str) -> Vec<String> {
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

    fn targets(&mut self, n: Option<&Node>, ctx: &Ctx<'_>, what: &str) -> Vec<CommandPoint> {
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

    fn action(&mut self, kind: &str, n: &Node, ctx: &Ctx<'_>) -> Option<Action> {
        let what = kind;
        Some(match kind {
            "it" => {
                let f = fields(self.e, n, "an IT event", &["kind", "host", "account", "artefact"])?;
                let k = f.string(self.e, "kind", what)?;
                let host = f.string(self.e, "host", what)?;
                self.known_host(&host, ctx.hosts);
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
                    artefact: f.opt_string(self.e, "artefact").map(|s| s.value).unwrap_or_default(),
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
                let double = match f.opt_string(self.e, "command") {
                    None => false,
                    Some(c) if c.value == "single" => false,
                    Some(c) if c.value == "double" => true,
                    Some(c) => {
                        self.e.0.push(c.error(format!("`command` is single or double, not `{}`", c.value)));
                        false
                    }
                };
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
            _ => return None,
        })
    }

    /// Steps' times: `after` names an earlier-declared step (so there are no cycles), and
    /// nothing is due after the end of the exercise.
    fn check_timing(&mut self, nodes: &[Node], steps: &[Step], end: Option<SimTime>) {
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

    fn inject(&mut self, n: &Node, end: Option<&Spanned<SimTime>>, steps: &BTreeSet<&str>) -> Option<Inject> {
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

    fn question(&mut self, n: &Node) -> Option<Question> {
        let f = fields(self.e, n, "a question", &["id", "text", "points", "answer", "hints"])?;
        let id = self.id(&f, "id", "a question");
        let text = f.string(self.e, "text", "a question");
        let points = f.opt_number(self.e, "points").map_or(10.0, |p| p.value);
        let answer = f.need(self.e, "answer", "a question").and_then(|n| self.answer(n));
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
        Some(Question { id: id?, text: text?.value, points, answer: answer?, hints })
    }

    fn answer(&mut self, n: &Node) -> Option<Answer> {
        let f = fields(
            self.e,
            n,
            "an answer",
            &["exact", "regex", "number", "tolerance", "choice", "correct", "from_run"],
        )?;
        if let Some(s) = f.opt_string(self.e, "exact") {
            return Some(Answer::Exact(s.value));
        }
        if let Some(s) = f.opt_string(self.e, "regex") {
            return Some(Answer::Regex(s.value));
        }
        let tolerance = f.opt_number(self.e, "tolerance").map_or(0.0, |t| t.value);
        if let Some(v) = f.opt_number(self.e, "number") {
            return Some(Answer::Number { value: v.value, tolerance });
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
            if !RUN_FIGURES.contains(&fig.value.as_str()) {
                self.e.0.push(fig.error(format!(
                    "`from_run` is one of {}, not `{}`",
                    RUN_FIGURES.join(", "),
                    fig.value
                )));
            }
            return Some(Answer::FromRun { figure: fig.value, tolerance });
        }
        self.e.at(
            f.span(),
            "an answer is one of exact, regex, number (with tolerance), choice (with correct), from_run",
        );
        None
    }

    fn weights(&mut self, n: &Node) -> Option<Weights> {
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

    fn defender(&mut self, n: &Node, ctx: &Ctx<'_>, questions: &[String]) -> Vec<DefenderRule> {
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

    fn defender_rule(&mut self, n: &Node, ctx: &Ctx<'_>, questions: &[String]) -> Option<DefenderRule> {
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
            "local" => {
                let d = f.string(self.e, "device", "local")?;
                let off = self.device(&d, ctx, false)?;
                DefenderAction::Local { device: off }
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
                DefenderAction::AnswerQuestion { question: q.value, value: v.value }
            }
            "report" => DefenderAction::Report { text: f.string(self.e, "text", "report")?.value },
            other => {
                self.e.0.push(what.error(format!(
                    "`do` is one of operate, close_opened, dispatch_crew, block, disable_account, restore_firmware, ups_on, local, ack_alarms, hint, answer, report; not `{other}`"
                )));
                return None;
            }
        };
        Some(DefenderRule { trigger: trigger?, action })
    }

    fn expect(&mut self, n: &Node, defenders: &BTreeMap<String, Vec<DefenderRule>>) -> Option<Expect> {
        const KEYS: &[&str] = &[
            "defender",
            "customers_off_min",
            "customers_off_max",
            "wire_steps_detected",
            "restored_within",
            "score_above",
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
            wire_steps_detected: f
                .get("wire_steps_detected")
                .and_then(|n| yaml::boolean(self.e, n, "wire_steps_detected"))
                .unwrap_or(false),
            restored_within: f.opt_duration(self.e, "restored_within").map(|d| d.value),
            score_above: score_above.map(|s| s.value),
            defender: defender.value,
        })
    }
}

struct Ctx<'a> {
    hosts: &'a [String],
    accounts: &'a [Account],
    grid: Option<&'a Resolved>,
}

/// `x.y`: the last two octets of an address in the team's block.
fn parse_offset(s: &str) -> Option<Offset> {
    let (x, y) = s.split_once('.')?;
    Some(Offset(x.parse().ok()?, y.parse().ok()?))
}

/// The `id` of a list item, as written.
fn node_id(n: &Node) -> Option<&marked_yaml::types::MarkedScalarNode> {
    n.as_mapping()?.get_scalar("id")
}

/// A time as `1h02m03s` (whole seconds; tenths when there are any).
pub fn hms(t: SimTime) -> String {
    let s = t.0 / 1_000_000;
    let frac = (t.0 % 1_000_000) / 100_000;
    let tail = if frac > 0 { format!(".{frac}") } else { String::new() };
    format!("{}h{:02}m{:02}{tail}s", s / 3600, s / 60 % 60, s % 60)
}

fn is_technique(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('T') else { return false };
    let (main, sub) = rest.split_once('.').unwrap_or((rest, ""));
    main.len() == 4
        && main.chars().all(|c| c.is_ascii_digit())
        && (sub.is_empty() || (sub.len() == 3 && sub.chars().all(|c| c.is_ascii_digit())))
}
