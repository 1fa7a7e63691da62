//! The built-in catalogue: the exercises and grids the binary carries, by name. Their text is
//! compiled in (no file system at run time); `Builtin` serves the grids to `load`.

use crate::grid::{GridError, GridSource};

/// Built-in grids: name, MATPOWER text, dynamics sidecar.
pub const GRIDS: &[(&str, &str, &str)] = &[
    (
        "ukraine2015",
        include_str!("../../../cases/ukraine2015.m"),
        include_str!("../../../cases/ukraine2015.dyn.toml"),
    ),
    ("case118", include_str!("../../../cases/case118.m"), include_str!("../../../cases/case118.dyn.toml")),
    ("case9", include_str!("../../../cases/case9.m"), ""),
    (
        "station-supply",
        include_str!("../../../cases/station-supply.m"),
        include_str!("../../../cases/station-supply.dyn.toml"),
    ),
];

/// Built-in pipelines: name, pipeline file (`pipesim::file`).
pub const PIPELINES: &[(&str, &str)] = &[("colonial", include_str!("../../../pipelines/colonial.toml"))];

/// A built-in pipeline's text, by name.
pub fn pipeline(name: &str) -> Option<&'static str> {
    PIPELINES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Built-in exercises: name, YAML text.
pub const EXERCISES: &[(&str, &str)] = &[
    ("ukraine2015", include_str!("../../../exercises/ukraine2015.yaml")),
    ("industroyer2016", include_str!("../../../exercises/industroyer2016.yaml")),
    ("industroyer2022", include_str!("../../../exercises/industroyer2022.yaml")),
    ("colonial2021", include_str!("../../../exercises/colonial2021.yaml")),
    ("triton2017", include_str!("../../../exercises/triton2017.yaml")),
    ("triton2017-trip", include_str!("../../../exercises/triton2017-trip.yaml")),
];

/// The built-in grids as a `GridSource`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl GridSource for Builtin {
    fn grid(&self, name: &str) -> Result<(String, String), GridError> {
        GRIDS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, m, d)| (m.to_string(), d.to_string()))
            .ok_or_else(|| GridError::NoBuiltin { name: name.to_string() })
    }
}

/// A built-in exercise's text, by name.
pub fn exercise(name: &str) -> Option<&'static str> {
    EXERCISES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The name of the built-in exercise whose `id` is `id` (a journal names its exercise by id).
pub fn name_of_id(id: &str) -> Option<&'static str> {
    EXERCISES.iter().find_map(|(name, text)| {
        let ex = crate::load(text, &Builtin).ok()?;
        (ex.id == id).then_some(*name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_exercise_loads_and_is_found_by_its_id() {
        for (name, _) in EXERCISES {
            let ex = crate::load(exercise(name).unwrap_or_default(), &Builtin);
            assert!(ex.is_ok(), "{name}: {:?}", ex.err());
        }
        assert_eq!(name_of_id("ukraine-2015"), Some("ukraine2015"));
        assert_eq!(name_of_id("atlantis-2031"), None);
    }
}
