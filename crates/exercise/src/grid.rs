//! The grid an exercise names, and its devices: built from the caller's `GridSource` (no file
//! system here), and the questions a loader asks of it (breaker points, substation supplies).

use devices::Devices;
use gridsim::sim::Sim;

use crate::CommandPoint;

/// The grid's files: the MATPOWER text and its sidecar, by the name the exercise gives; or
/// why not (no such grid, a name that leaves the exercise's folder, a file too large).
pub trait GridSource {
    fn grid(&self, name: &str) -> Result<(String, String), GridError>;
}

/// Why a source has no grid by that name.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// Not one of the built-in grids (`catalogue::Builtin`).
    #[error("no built-in grid `{name}`")]
    NoBuiltin { name: String },
    /// Neither built in nor a file of the exercise's.
    #[error("no grid `{name}` (a built-in grid, or a file in the exercise's folder)")]
    NotFound { name: String },
    /// A source with no grids at all (a defender file is read without one).
    #[error("no grid `{name}`")]
    NoGrid { name: String },
    #[error(transparent)]
    Name(#[from] FileNameError),
    /// The file is there but could not be read: `reason` is the reader's (a link on the way,
    /// not a regular file, too large, not UTF-8, an I/O error).
    #[error("`{name}`: {reason}")]
    Unreadable { name: String, reason: Box<dyn std::error::Error + Send + Sync> },
}

/// A file name outside the grammar of `file_name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}`: a file is named by a relative path inside the exercise's folder, of plain names (letters, digits, `.`, `_`, `-`; no `..`, no leading `/` or `.`)"
)]
pub struct FileNameError {
    pub name: String,
}

/// The components of a file name an exercise gives (a grid beside it): a relative path of at
/// most 8 plain names, each of letters, digits, `.`, `_` and `-`, none empty or hidden (so
/// no `..`), 255 bytes in all. Whoever reads the file (a folder, an upload) resolves it in
/// the exercise's own place and nowhere else.
pub fn file_name(name: &str) -> Result<Vec<&str>, FileNameError> {
    let plain = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    let parts: Vec<&str> = name.split('/').collect();
    if name.len() > 255 || parts.len() > 8 || !parts.iter().all(|p| plain(p)) {
        return Err(FileNameError { name: name.to_string() });
    }
    Ok(parts)
}

/// The largest file an exercise names (a grid's MATPOWER text or its sidecar), in bytes: the
/// largest shipped case, case2869pegase, is 0.5 MB.
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// An exercise's files held in memory (an upload to the web platform): the same names as a
/// folder on disk (`file_name`), the same bounds, the built-in grids first.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    files: std::collections::BTreeMap<String, String>,
}

impl Bundle {
    pub fn new() -> Bundle {
        Bundle::default()
    }

    /// Adds a file under `name`; refused when the name leaves the bundle or the file is too
    /// large.
    pub fn insert(&mut self, name: &str, text: String) -> Result<(), BundleError> {
        file_name(name)?;
        if text.len() > MAX_FILE_BYTES {
            return Err(BundleError::TooLarge { name: name.to_string(), bytes: text.len() });
        }
        self.files.insert(name.to_string(), text);
        Ok(())
    }
}

/// Why a file was not added to a `Bundle`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Name(#[from] FileNameError),
    #[error("`{name}`: {bytes} bytes; at most {MAX_FILE_BYTES} are read")]
    TooLarge { name: String, bytes: usize },
}

impl GridSource for Bundle {
    fn grid(&self, name: &str) -> Result<(String, String), GridError> {
        grid_from(name, |n| Ok(self.files.get(n).cloned()))
    }
}

/// The grid an exercise names, for every source of files (a folder, an upload): a built-in
/// grid, else the file `read` finds under that name (checked by `file_name` first) and its
/// optional sidecar beside it.
pub fn grid_from(
    name: &str,
    read: impl Fn(&str) -> Result<Option<String>, GridError>,
) -> Result<(String, String), GridError> {
    if let Ok(grid) = crate::catalogue::Builtin.grid(name) {
        return Ok(grid);
    }
    file_name(name)?;
    let m = read(name)?.ok_or_else(|| GridError::NotFound { name: name.to_string() })?;
    let sidecar = read(&sidecar_name(name))?.unwrap_or_default();
    Ok((m, sidecar))
}

/// The dynamics sidecar of grid file `name`: `grids/kyiv.m` has `grids/kyiv.dyn.toml`.
pub fn sidecar_name(name: &str) -> String {
    let (dir, file) = name.rsplit_once('/').map_or(("", name), |(d, f)| (d, f));
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    if dir.is_empty() { format!("{stem}.dyn.toml") } else { format!("{dir}/{stem}.dyn.toml") }
}

/// A grid and its default devices, as an exercise resolves them.
#[derive(Debug)]
pub struct Resolved {
    pub sim: Sim,
    pub devices: Devices,
}

/// Builds the grid and its devices from the source.
pub fn build_grid(source: &dyn GridSource, name: &str) -> Result<Resolved, BuildGridError> {
    let (m, sidecar) = source.grid(name)?;
    let case = gridsim::matpower::parse(&m)
        .map_err(|error| BuildGridError::Case { name: name.to_string(), error })?;
    let dynamics = gridsim::dynamics::Dynamics::from_toml(&case, &sidecar)
        .map_err(|errors| BuildGridError::Sidecar { name: name.to_string(), errors })?;
    let sim =
        Sim::new(case, dynamics).map_err(|error| BuildGridError::Sim { name: name.to_string(), error })?;
    let devices = devices::default_devices(&sim, std::net::Ipv4Addr::new(127, 0, 0, 0))?;
    Ok(Resolved { sim, devices })
}

/// Why an exercise's grid could not be built (`build_grid`).
#[derive(Debug, thiserror::Error)]
pub enum BuildGridError {
    #[error(transparent)]
    Source(#[from] GridError),
    /// The MATPOWER text does not parse.
    #[error("grid `{name}`: {error}")]
    Case { name: String, error: gridsim::matpower::ParseError },
    /// The dynamics sidecar has problems.
    #[error("grid `{name}` sidecar: {errors}")]
    Sidecar { name: String, errors: gridsim::dynamics::SidecarErrors },
    /// The grid has no initial operating point, or the sidecar describes another case.
    #[error("grid `{name}`: {error}")]
    Sim { name: String, error: gridsim::sim::SimError },
    #[error(transparent)]
    Devices(#[from] devices::AddressPlanError),
}

/// Whether the RTU with that common address has a double command at that IOA.
pub fn double_command_exists(g: &Resolved, p: CommandPoint) -> bool {
    g.devices.rtus.iter().any(|r| {
        r.station.common_address == p.station
            && r.station
                .commands
                .iter()
                .any(|c| c.ioa == p.ioa && c.kind == proto_iec104::station::CommandKind::Double)
    })
}

/// The breakers that supply each named substation: the branches into the bus its feeders
/// hang from, at the RTU of that bus. For a radial substation, opening them drops every
/// feeder of it.
pub fn supply_points(g: &Resolved, substations: &[String]) -> Vec<CommandPoint> {
    let case = g.sim.case();
    let loads = &g.sim.dynamics().loads;
    let mut out = Vec::new();
    for name in substations {
        let feeders: Vec<gridsim::BusIdx> =
            loads.iter().filter(|l| &l.substation == name).map(|l| l.bus).collect();
        // The feeders' parent: the other end of each feeder bus's branch.
        let mut parents: Vec<gridsim::BusIdx> = Vec::new();
        for &f in &feeders {
            for b in &case.branches {
                let other = if b.from == f {
                    b.to
                } else if b.to == f {
                    b.from
                } else {
                    continue;
                };
                if !feeders.contains(&other) && !parents.contains(&other) {
                    parents.push(other);
                }
            }
        }
        for p in parents {
            let Some(rtu) = g.devices.rtus.get(p.get()) else { continue };
            let at_p: Vec<usize> = (0..case.branches.len())
                .filter(|&k| case.branches[k].from == p || case.branches[k].to == p)
                .collect();
            for (pos, &k) in at_p.iter().enumerate() {
                let b = &case.branches[k];
                let other = if b.from == p { b.to } else { b.from };
                if !feeders.contains(&other) {
                    out.push(CommandPoint { station: rtu.station.common_address, ioa: 2001 + pos as u32 });
                }
            }
        }
    }
    out
}
