//! Fuzz target: an exercise file through the YAML parser, the loader and its checks against
//! a grid (case9 under the name `case9`; no other grid exists). Nothing may panic; a file
//! that loads has no diagnostics, and every diagnostic has a line and column inside the text
//! (deep nesting and a byte-order mark included).
#![no_main]

use exercise::{GridError, GridSource};
use libfuzzer_sys::fuzz_target;

const CASE9: &str = include_str!("../../cases/case9.m");

struct Case9;

impl GridSource for Case9 {
    fn grid(&self, name: &str) -> Result<(String, String), GridError> {
        // The names a folder or an upload would refuse are refused here too.
        exercise::file_name(name)?;
        (name == "case9")
            .then(|| (CASE9.to_string(), String::new()))
            .ok_or_else(|| GridError::NoGrid { name: name.to_string() })
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(diags) = exercise::load(text, &Case9) {
        assert!(!diags.is_empty());
        // YAML breaks lines at \n, \r\n and a lone \r.
        let lines = text.matches('\n').count() + text.replace("\r\n", "\n").matches('\r').count() + 1;
        for d in diags {
            assert!(d.line >= 1 && d.line <= lines, "{d} outside {lines} lines");
            assert!(d.col >= 1, "{d}");
        }
    }
});
