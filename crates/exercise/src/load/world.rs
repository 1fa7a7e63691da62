//! Loading the range's world: ATT&CK techniques, zones, hosts, the SCADA master, device
//! settings, device and station references.

use gridsim::sim::SimTime;
use marked_yaml::types::Node;

use super::{Ctx, Loader, is_technique, parse_offset};
use crate::model::*;
use crate::yaml::{Spanned, fields, strings};

impl Loader<'_> {
    pub(super) fn technique(&mut self, n: &Node) -> Option<Technique> {
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

    pub(super) fn zone(&mut self, n: &Node) -> Option<Zone> {
        let f = fields(self.e, n, "a zone", &["id", "name"])?;
        let id = self.id(&f, "id", "a zone")?;
        Some(Zone { name: f.opt_string(self.e, "name").map_or_else(|| id.clone(), |s| s.value), id })
    }

    pub(super) fn host(&mut self, n: &Node) -> Option<(Host, Spanned<String>)> {
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
        let name = f.opt_string(self.e, "name").map(|s| s.value);
        Some((Host { id: id?, zone: zone.clone()?.value, addr: addr?, name }, zone?))
    }

    /// `pipeline: {line: colonial, engineering: [ews], key: program}`.
    pub(super) fn pipeline(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<PipelineSettings> {
        let f = fields(self.e, n, "the pipeline", &["line", "engineering", "key"])?;
        let line = f.string(self.e, "line", "the pipeline")?;
        match crate::catalogue::pipeline(&line.value) {
            None => {
                let names: Vec<&str> = crate::catalogue::PIPELINES.iter().map(|(n, _)| *n).collect();
                self.e.0.push(line.error(format!(
                    "no built-in pipeline `{}` (there are: {})",
                    line.value,
                    names.join(", ")
                )));
            }
            Some(text) => {
                if let Err(e) = pipesim::file::parse(text) {
                    self.e.0.push(
                        line.error(format!("the built-in pipeline `{}` does not load: {e}", line.value)),
                    );
                }
            }
        }
        let engineering: Vec<String> = f
            .get("engineering")
            .map(|n| strings(self.e, n, "engineering"))
            .unwrap_or_default()
            .into_iter()
            .filter(|h| self.known_host(h, ctx.hosts))
            .map(|h| h.value)
            .collect();
        let key = match f.opt_string(self.e, "key") {
            None => pipesim::sis::KeySwitch::Run,
            Some(k) => match k.value.parse::<pipesim::sis::KeySwitch>() {
                Ok(key) => key,
                Err(err) => {
                    self.e.0.push(k.error(err.to_string()));
                    return None;
                }
            },
        };
        Some(PipelineSettings { line: line.value, engineering, key })
    }

    pub(super) fn scada(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<Scada> {
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

    pub(super) fn device_settings(&mut self, n: &Node, ctx: &Ctx<'_>) -> Option<DeviceSettings> {
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
    pub(super) fn device(&mut self, s: &Spanned<String>, ctx: &Ctx<'_>, modbus: bool) -> Option<Offset> {
        let Some(off) = parse_offset(&s.value) else {
            self.e.0.push(
                s.error(format!("a device is its address's last two octets, such as 1.4, not `{}`", s.value)),
            );
            return None;
        };
        let g = ctx.grid?;
        let found = g.devices.at(off.in_block(std::net::Ipv4Addr::new(127, 0, 0, 0)));
        let ok = match found {
            Some(d) if d.speaks_modbus() => true,
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

    /// A protection relay by its address offset; checked against the grid's devices.
    pub(super) fn relay(&mut self, s: &Spanned<String>, ctx: &Ctx<'_>) -> Option<Offset> {
        let off = self.device(s, ctx, true)?;
        let g = ctx.grid?;
        if !matches!(
            g.devices.at(off.in_block(std::net::Ipv4Addr::new(127, 0, 0, 0))),
            Some(devices::DeviceRef::Relay(_))
        ) {
            self.e
                .0
                .push(s.error(format!("no protection relay at {} (see `icsrange devices --list`)", s.value)));
            return None;
        }
        Some(off)
    }

    /// A station by common address; checked against the grid's RTUs.
    pub(super) fn station(&mut self, s: &Spanned<String>, ctx: &Ctx<'_>) -> Option<u16> {
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
}
