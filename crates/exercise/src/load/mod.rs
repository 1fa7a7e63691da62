//! The loader: YAML (through `yaml`'s spanned reader) into the model, checked against the
//! grid and its devices, every problem at once with its line and column.

mod campaign;
mod defenders;
mod scenario;
mod world;

use std::collections::{BTreeMap, BTreeSet};

use gridsim::sim::SimTime;
use marked_yaml::types::Node;

use crate::grid::{GridError, GridSource, Resolved, build_grid};
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
    fn grid(&self, name: &str) -> Result<(String, String), GridError> {
        Err(GridError::NoGrid { name: name.to_string() })
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
    "pipeline",
    "team_mode",
    "duration",
    "time_compression",
    "crew_delay",
    "crews",
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
    "clock",
    "briefing",
];

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
        let briefing = f.opt_string(self.e, "briefing").map(|s| s.value);
        let clock = f.get("clock").and_then(|n| self.clock(n));
        let sources: Vec<String> = f
            .list(self.e, "sources")
            .iter()
            .filter_map(|n| string(self.e, n, "source"))
            .map(|s| s.value)
            .collect();
        if sources.is_empty() {
            self.e.at(f.span(), "an exercise cites at least one source (`sources: [...]`)");
        }
        let techniques: Vec<Technique> =
            f.list(self.e, "techniques").iter().filter_map(|n| self.technique(n)).collect();
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
        let crews =
            f.get("crews").and_then(|n| integer(self.e, n, "crews", 0, 1000)).map_or(0, |c| c.value as u32);
        let time_compression = match f.opt_number(self.e, "time_compression") {
            None => 1.0,
            Some(c) if (1.0..=60.0).contains(&c.value) => c.value,
            Some(c) => {
                self.e.0.push(c.error("`time_compression` is between 1 (real time) and 60"));
                1.0
            }
        };

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
        let mut grid = grid_name.as_ref().and_then(|g| match build_grid(self.source, &g.value) {
            Ok(r) => Some(r),
            Err(err) => {
                self.e.0.push(g.error(err.to_string()));
                None
            }
        });
        // A pipeline's devices stand in for the grid's (as in the range).
        let pipeline = {
            let ctx = Ctx { hosts: &host_ids, accounts: &accounts, grid: None };
            f.get("pipeline").and_then(|n| self.pipeline(n, &ctx))
        };
        if let (Some(ps), Some(g)) = (&pipeline, grid.as_mut())
            && let Some(line) =
                crate::catalogue::pipeline(&ps.line).and_then(|t| pipesim::file::parse(t).ok())
        {
            g.devices = devices::Devices::default();
            let base = std::net::Ipv4Addr::new(127, 0, 0, 0);
            g.devices.pipe =
                Some(Box::new(devices::pipeline::plant(line, pipesim::SimOptions::default(), base)));
        }
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
        let header_nodes = f.list(self.e, "techniques");
        self.check_techniques(header_nodes, step_nodes);

        let step_ids: BTreeSet<&str> = step_nodes.iter().filter_map(node_id).map(|id| id.as_str()).collect();
        let injects: Vec<Inject> = f
            .list(self.e, "injects")
            .iter()
            .filter_map(|n| self.inject(n, run_for.as_ref(), &step_ids))
            .collect();
        let q_nodes = f.list(self.e, "questions");
        let questions: Vec<Question> =
            q_nodes.iter().filter_map(|n| self.question(n, &step_ids, &host_ids)).collect();
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
            pipeline,
            team_mode: team_mode?,
            duration: run_for?.value,
            time_compression,
            crew_delay,
            crews,
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
            clock,
            briefing,
        })
    }

    /// `clock: {start: "2015-12-23T15:26", zone: EET, utc_offset: "+02:00"}`.
    fn clock(&mut self, n: &Node) -> Option<Clock> {
        let f = fields(self.e, n, "the clock", &["start", "zone", "utc_offset"])?;
        let start = f.string(self.e, "start", "the clock")?;
        let zone = f.string(self.e, "zone", "the clock")?;
        let offset = f.string(self.e, "utc_offset", "the clock")?;
        let Some(start_local_s) = local_seconds(&start.value) else {
            self.e.0.push(start.error(format!(
                "`start` is a local date and time `YYYY-MM-DDTHH:MM`, not `{}`",
                start.value
            )));
            return None;
        };
        let Some(utc_offset_min) = utc_offset(&offset.value) else {
            self.e
                .0
                .push(offset.error(format!("`utc_offset` is `+HH:MM` or `-HH:MM`, not `{}`", offset.value)));
            return None;
        };
        if zone.value.is_empty()
            || zone.value.len() > 8
            || !zone.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
        {
            self.e.0.push(zone.error("`zone` is the zone's abbreviation (EET, EEST, EDT), up to 8 letters"));
            return None;
        }
        Some(Clock { start_local_s, zone: zone.value, utc_offset_min })
    }

    /// The header's techniques are the steps' (legacy or v19 ids): a step's technique the
    /// header lacks, or a header technique no step uses, is an error (when there is a header).
    fn check_techniques(&mut self, header_nodes: &[Node], step_nodes: &[Node]) {
        // Each header entry with its own node (an entry that does not parse is left out).
        let mut header: Vec<(&Node, String, Option<String>)> = Vec::new();
        for n in header_nodes {
            let Some(m) = n.as_mapping() else { continue };
            let Some(id) = m.get_scalar("id") else { continue };
            header.push((n, id.as_str().to_string(), m.get_scalar("v19").map(|v| v.as_str().to_string())));
        }
        if header.is_empty() {
            return;
        }
        let listed: BTreeSet<&str> = header
            .iter()
            .flat_map(|(_, id, v19)| std::iter::once(id.as_str()).chain(v19.as_deref()))
            .collect();
        let mut used: BTreeSet<String> = BTreeSet::new();
        for n in step_nodes {
            let Some(list) =
                n.as_mapping().and_then(|m| m.get_node("technique")).and_then(|t| t.as_sequence())
            else {
                continue;
            };
            for t in list.iter().filter_map(|t| t.as_scalar()) {
                if !listed.contains(t.as_str()) {
                    self.e.at(
                        t.span(),
                        format!("technique `{}` is not in the exercise's `techniques`", t.as_str()),
                    );
                }
                used.insert(t.as_str().to_string());
            }
        }
        for (n, id, v19) in &header {
            if !used.contains(id) && !v19.as_ref().is_some_and(|v| used.contains(v)) {
                self.e.at(n.span(), format!("technique `{id}` is in `techniques` but no step uses it"));
            }
        }
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

    /// Every `{addr:HOST}` in a text names a host of the exercise.
    pub(super) fn known_placeholders(&mut self, text: &Spanned<String>, hosts: &[String]) {
        for name in placeholders(&text.value) {
            if !hosts.iter().any(|h| h == name) {
                self.e.0.push(text.error(format!("`{{addr:{name}}}`: no host `{name}`")));
            }
        }
    }

    /// An IDS rule id, checked against the rules the IDS has.
    fn known_rule(&mut self, rule: &Spanned<String>) {
        if ids::rule(&rule.value).is_none() {
            let all: Vec<&str> = ids::RULES.iter().map(|r| r.id).collect();
            self.e.0.push(rule.error(format!("no IDS rule `{}` (rules: {})", rule.value, all.join(", "))));
        }
    }
}

struct Ctx<'a> {
    hosts: &'a [String],
    accounts: &'a [Account],
    grid: Option<&'a Resolved>,
}

impl Ctx<'_> {
    /// The exercise's pipeline, when it has one.
    fn pipeline(&self) -> Option<&pipesim::Pipeline> {
        self.grid.and_then(|g| g.devices.pipe.as_ref()).map(|p| p.sim.pipeline())
    }
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

/// `YYYY-MM-DDTHH:MM` (or with `:SS`, or a space for `T`) as seconds since 1970 in local
/// time (the civil-from-days algorithm of Howard Hinnant's date library).
fn local_seconds(s: &str) -> Option<i64> {
    let (date, time) = s.trim().split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) =
        (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let mut t = time.split(':');
    let (hh, mm): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let ss: i64 = t.next().map_or(Some(0), |x| x.parse().ok())?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1900..=2100).contains(&y) || !(1..=12).contains(&m) || day < 1 || day > days_in[(m - 1) as usize] {
        return None;
    }
    if !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..60).contains(&ss) {
        return None;
    }
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `+02:00`, `-04:00`, `+0530` as minutes.
fn utc_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let sign = match s.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let (h, m) =
        rest.split_once(':').unwrap_or_else(|| if rest.len() == 4 { rest.split_at(2) } else { (rest, "0") });
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod clock_tests {
    #[test]
    fn local_dates_as_seconds() {
        // 2015-12-23 15:26 as if UTC: `date -u -d '2015-12-23 15:26' +%s`.
        assert_eq!(super::local_seconds("2015-12-23T15:26"), Some(1_450_884_360));
        assert_eq!(super::local_seconds("2000-02-29 00:00:00"), Some(951_782_400));
        assert_eq!(super::local_seconds("2015-02-29T00:00"), None);
        assert_eq!(super::utc_offset("+02:00"), Some(120));
        assert_eq!(super::utc_offset("-04:00"), Some(-240));
        assert_eq!(super::utc_offset("02:00"), None);
    }
}
