//! Fuzz target: bytes as a typed answer (`exercise::answers`): read as text, a number, a
//! quantity with its unit, a time of day. Nothing may panic; a number read is finite, and a
//! quantity converted to a unit of its own dimension comes back finite.
#![no_main]

use exercise::answers::{in_unit, normalise, number, quantity, time_of_day, unit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = normalise(&text);
    if let Some(n) = number(&text) {
        assert!(n.is_finite());
    }
    if let Some((v, u)) = quantity(&text) {
        assert!(v.is_finite());
        if let Some(u) = u {
            assert!(in_unit(v, Some(u), Some(u)).is_some(), "a unit converts to itself");
        }
        let _ = in_unit(v, u, unit("kPa"));
    }
    if let Some(m) = time_of_day(&text) {
        assert!(m < 24 * 60);
    }
});
