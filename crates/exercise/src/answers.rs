//! How a typed answer is read: text normalised (case, spaces, quotes, a final full stop),
//! numbers with their thousands separators, decimal commas and units, times of day. The
//! range's judge (`range::score::judge`) compares what these return, so "225,000" and
//! "225000", "The gateways…" and "the gateways…", "90 bar" and "9000 kPa" are judged alike.

/// A unit an answer may be given in: its dimension and its factor to the dimension's base
/// (pascal, watt-hour, watt, cubic metre, cubic metre per hour, second, metre).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub name: &'static str,
    pub dimension: &'static str,
    pub factor: f64,
}

/// The units answers are read in (names compared without case, `³` as `3`).
pub const UNITS: &[Unit] = &[
    Unit { name: "Pa", dimension: "pressure", factor: 1.0 },
    Unit { name: "kPa", dimension: "pressure", factor: 1e3 },
    Unit { name: "MPa", dimension: "pressure", factor: 1e6 },
    Unit { name: "mbar", dimension: "pressure", factor: 100.0 },
    Unit { name: "bar", dimension: "pressure", factor: 1e5 },
    Unit { name: "psi", dimension: "pressure", factor: 6_894.757_293_168 },
    Unit { name: "Wh", dimension: "energy", factor: 1.0 },
    Unit { name: "kWh", dimension: "energy", factor: 1e3 },
    Unit { name: "MWh", dimension: "energy", factor: 1e6 },
    Unit { name: "GWh", dimension: "energy", factor: 1e9 },
    Unit { name: "W", dimension: "power", factor: 1.0 },
    Unit { name: "kW", dimension: "power", factor: 1e3 },
    Unit { name: "MW", dimension: "power", factor: 1e6 },
    Unit { name: "GW", dimension: "power", factor: 1e9 },
    Unit { name: "m3/h", dimension: "flow", factor: 1.0 },
    Unit { name: "m3/s", dimension: "flow", factor: 3600.0 },
    Unit { name: "m3", dimension: "volume", factor: 1.0 },
    Unit { name: "l", dimension: "volume", factor: 1e-3 },
    Unit { name: "bbl", dimension: "volume", factor: 0.158_987_294_928 },
    Unit { name: "s", dimension: "time", factor: 1.0 },
    Unit { name: "min", dimension: "time", factor: 60.0 },
    Unit { name: "h", dimension: "time", factor: 3600.0 },
    Unit { name: "m", dimension: "length", factor: 1.0 },
    Unit { name: "km", dimension: "length", factor: 1e3 },
    Unit { name: "Hz", dimension: "frequency", factor: 1.0 },
];

/// A unit by its name (`None`: not one we read).
pub fn unit(name: &str) -> Option<&'static Unit> {
    let n = name.trim().replace('³', "3");
    // Exact case first (`mW` is not `MW`, but nobody means milliwatts here), then any case.
    UNITS.iter().find(|u| u.name == n).or_else(|| UNITS.iter().find(|u| u.name.eq_ignore_ascii_case(&n)))
}

/// Text as compared: lower case, runs of white space as one space, no surrounding quotes,
/// no final full stop.
pub fn normalise(s: &str) -> String {
    let mut t = s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    for q in ['"', '\'', '“', '”', '‘', '’', '«', '»', '「', '」'] {
        t = t.trim_matches(q).to_string();
    }
    t.trim_end_matches(['.', '。']).trim().to_string()
}

/// A number as people type it: `225000`, `225,000`, `225 000`, `225 000`, `7.5`, `7,5`,
/// `-3`, `1e3` (a comma followed by exactly three digits groups thousands; another comma is
/// a decimal comma).
pub fn number(s: &str) -> Option<f64> {
    let t: String =
        s.trim().chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '_')).collect();
    if t.is_empty() {
        return None;
    }
    let commas = t.matches(',').count();
    let grouped = commas > 0 && {
        let int = t.split('.').next().unwrap_or("");
        let mut parts = int.trim_start_matches(['-', '+']).split(',');
        let head = parts.next().unwrap_or("");
        (1..=3).contains(&head.len()) && parts.all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let t = if grouped {
        t.replace(',', "")
    } else if commas == 1 && !t.contains('.') {
        t.replace(',', ".")
    } else {
        t
    };
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A quantity: a number and the unit written after it, if any (`90 bar`, `73.4MWh`,
/// `225,000 customers` reads as 225000 without a unit we know: `None` for the unit, and
/// the word ignored only when it is not a unit's name).
pub fn quantity(s: &str) -> Option<(f64, Option<&'static Unit>)> {
    let s = s.trim();
    // The number is the longest prefix made of digits, signs, separators and exponents.
    let end = s
        .char_indices()
        .take_while(|(_, c)| {
            c.is_ascii_digit()
                || matches!(
                    c,
                    '.' | ',' | '-' | '+' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '_' | 'e' | 'E'
                )
        })
        .last()
        .map_or(0, |(i, c)| i + c.len_utf8());
    // Back off a trailing exponent letter or separator that belongs to the unit (`5 e`…).
    let mut end = end;
    while end > 0 && !s[..end].ends_with(|c: char| c.is_ascii_digit()) {
        end -= s[..end].chars().last().map_or(1, char::len_utf8);
    }
    let v = number(&s[..end])?;
    let rest = s[end..].trim();
    if rest.is_empty() {
        return Some((v, None));
    }
    match unit(rest) {
        Some(u) => Some((v, Some(u))),
        // Words after a count ("customers", "stations") are not a unit: read the number.
        None if rest.chars().all(|c| c.is_alphabetic() || c == ' ')
            && unit(rest.split(' ').next()?).is_none() =>
        {
            Some((v, None))
        }
        None => None,
    }
}

/// A value given in `given` (or in `declared` when it has no unit) in `declared`'s unit;
/// `None` when the dimensions differ or a unit was given to a number that declares none.
pub fn in_unit(v: f64, given: Option<&Unit>, declared: Option<&Unit>) -> Option<f64> {
    match (given, declared) {
        (None, _) => Some(v),
        (Some(g), Some(d)) if g.dimension == d.dimension => Some(v * g.factor / d.factor),
        (Some(_), _) => None,
    }
}

/// A time of day `HH:MM` as minutes after midnight: `16:10`, `16.10`, `1610`, `16:10:00`,
/// `16h10`, with `UTC` or `Z` after it (the question says which zone it asks for).
pub fn time_of_day(s: &str) -> Option<u32> {
    let t = normalise(s);
    let t = t.trim_end_matches(" utc").trim_end_matches("utc").trim_end_matches('z').trim();
    let (h, m) = if let Some((h, rest)) = t.split_once([':', '.', 'h']) {
        (h, rest.split(':').next().unwrap_or(""))
    } else if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
        t.split_at(2)
    } else {
        return None;
    };
    let (h, m): (u32, u32) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    (h < 24 && m < 60).then(|| h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_people_type_them() {
        for (s, v) in [
            ("225000", 225000.0),
            ("225,000", 225000.0),
            ("225 000", 225000.0),
            ("1,234,567.5", 1234567.5),
            ("7,5", 7.5),
            ("-3", -3.0),
            ("73.40", 73.4),
        ] {
            assert_eq!(number(s), Some(v), "{s}");
        }
        for s in ["", "abc", "1,2,3", "12,34,567"] {
            assert_eq!(number(s), None, "{s}");
        }
    }

    #[test]
    fn quantities_and_units() {
        let (v, u) = quantity("90 bar").unwrap();
        assert_eq!(in_unit(v, u, unit("kPa")), Some(9000.0));
        let (v, u) = quantity("9,000 kPa").unwrap();
        assert_eq!(in_unit(v, u, unit("kPa")), Some(9000.0));
        let (v, u) = quantity("73400 kWh").unwrap();
        assert!((in_unit(v, u, unit("MWh")).unwrap() - 73.4).abs() < 1e-9);
        let (v, u) = quantity("225,000 customers").unwrap();
        assert_eq!((v, u), (225000.0, None));
        let (v, u) = quantity("5 MW").unwrap();
        assert_eq!(in_unit(v, u, unit("MWh")), None, "power is not energy");
        assert_eq!(quantity("12 furlongs/fortnight"), None);
    }

    #[test]
    fn text_and_times() {
        assert_eq!(
            normalise("  The gateways  and UPSs were disabled. "),
            "the gateways and upss were disabled"
        );
        assert_eq!(normalise("“operator7”"), "operator7");
        for s in ["16:10", "16.10", "1610", "16:10 UTC", "16:10:00", "16h10"] {
            assert_eq!(time_of_day(s), Some(970), "{s}");
        }
        assert_eq!(time_of_day("25:10"), None);
    }
}
