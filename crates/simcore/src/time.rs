//! Simulated time: whole microseconds since the start of a run, supplied by the caller (no
//! clock is read here). One type for the grid, the pipeline, the devices, the protocol
//! sessions and the journal; one conversion to seconds; one duration grammar for the command
//! line and the exercise files.

use std::fmt;

/// Simulated time in microseconds since the start of the run. Also a span of simulated time
/// (a duration from the grammar of `parse_duration`, a time step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Rounds to the nearest microsecond; negative and NaN become 0.
    pub fn from_secs(s: f64) -> SimTime {
        if s.is_finite() && s > 0.0 { SimTime((s * 1e6).round() as u64) } else { SimTime(0) }
    }

    /// The span from `earlier` to this time; zero when `earlier` is later.
    pub fn saturating_sub(self, earlier: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(earlier.0))
    }

    /// In seconds: the microseconds divided by 1e6, correctly rounded (the nearest `f64`;
    /// 100 ms is exactly `0.1`), which is what the journal prints. The only conversion.
    pub fn secs(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The one duration grammar of the command line and the exercise files: a number of
    /// seconds (`90`, `0.5`), or numbers with units, summed (`100ms`, `90s`, `15m`, `1h30m`,
    /// `2d`; units `us`/`µs`, `ms`, `s`, `m`/`min`, `h`, `d`). At most 1e9 s.
    pub fn parse_duration(text: &str) -> Result<SimTime, DurationError> {
        let t = text.trim();
        let bad = || DurationError::Invalid { text: t.to_string() };
        if let Ok(s) = t.parse::<f64>() {
            return (s.is_finite() && (0.0..=1e9).contains(&s))
                .then(|| SimTime::from_secs(s))
                .ok_or_else(bad);
        }
        if t.is_empty() {
            return Err(bad());
        }
        let mut total = 0f64;
        let mut rest = t;
        while !rest.is_empty() {
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let n: f64 = rest[..end].parse().map_err(|_| bad())?;
            rest = &rest[end..];
            let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let factor = match &rest[..unit_end] {
                "us" | "µs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                "d" => 86_400.0,
                other => {
                    return Err(DurationError::UnknownUnit { unit: other.to_string(), text: t.to_string() });
                }
            };
            total += n * factor;
            rest = &rest[unit_end..];
        }
        if total.is_finite() && total <= 1e9 { Ok(SimTime::from_secs(total)) } else { Err(bad()) }
    }
}

/// A time plus a span (a deadline: `now + timeout`).
impl std::ops::Add for SimTime {
    type Output = SimTime;

    fn add(self, span: SimTime) -> SimTime {
        SimTime(self.0 + span.0)
    }
}

impl std::ops::AddAssign for SimTime {
    fn add_assign(&mut self, span: SimTime) {
        self.0 += span.0;
    }
}

/// `12.000100s`: whole seconds and six digits of microseconds.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Why a text is not a duration (`SimTime::parse_duration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not a number of seconds nor numbers with units, negative, or above 1e9 s. `text` is
    /// the input, trimmed.
    Invalid { text: String },
    /// A number followed by something other than a time unit.
    UnknownUnit { unit: String, text: String },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid { text } => {
                write!(f, "`{text}` is not a duration such as 100ms, 90s, 15m or 1h30m")
            }
            DurationError::UnknownUnit { unit, text } => {
                write!(f, "unknown time unit `{unit}` in `{text}`: use ms, s, m, h or d")
            }
        }
    }
}

impl std::error::Error for DurationError {}

#[cfg(test)]
mod tests {
    use super::{DurationError, SimTime};

    #[test]
    fn one_duration_grammar() {
        let us = |s: &str| SimTime::parse_duration(s).map(|t| t.0);
        assert_eq!(us("90"), Ok(90_000_000));
        assert_eq!(us("100ms"), Ok(100_000));
        assert_eq!(us("250us"), Ok(250));
        assert_eq!(us("1h30m"), Ok(5_400_000_000));
        assert_eq!(us("2min"), Ok(120_000_000));
        assert_eq!(us("1d"), Ok(86_400_000_000));
        for bad in ["", "an hour", "5 parsecs", "1e10", "-3s", "m"] {
            assert!(us(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duration_errors_say_what_is_wrong() {
        let err = |s: &str| SimTime::parse_duration(s).map_err(|e| e.to_string());
        assert_eq!(
            err(" an hour "),
            Err("`an hour` is not a duration such as 100ms, 90s, 15m or 1h30m".into())
        );
        assert_eq!(
            err("5parsecs"),
            Err("unknown time unit `parsecs` in `5parsecs`: use ms, s, m, h or d".into())
        );
        assert_eq!(
            SimTime::parse_duration("3y"),
            Err(DurationError::UnknownUnit { unit: "y".into(), text: "3y".into() })
        );
    }

    /// The division is correctly rounded: every whole number of milliseconds up to a day is
    /// the `f64` nearest to its decimal value (the multiplication by 1e-6 missed 0.1 s).
    #[test]
    fn seconds_are_the_nearest_f64() {
        assert_eq!(SimTime(100_000).secs(), 0.1);
        assert_eq!(SimTime(50_000).secs(), 0.05);
        assert_eq!(SimTime(3_600_100_000).secs(), 3600.1);
        for ms in (0..86_400_000u64).step_by(997) {
            let text = format!("{}.{:03}", ms / 1000, ms % 1000);
            assert_eq!(SimTime(ms * 1000).secs(), text.parse::<f64>().unwrap_or(f64::NAN), "{text}");
        }
    }

    #[test]
    fn spans_add_and_subtract() {
        assert_eq!(SimTime(10) + SimTime(5), SimTime(15));
        assert_eq!(SimTime(10).saturating_sub(SimTime(4)), SimTime(6));
        assert_eq!(SimTime(4).saturating_sub(SimTime(10)), SimTime(0));
        let mut t = SimTime(1);
        t += SimTime(2);
        assert_eq!(t, SimTime(3));
    }

    #[test]
    fn displays_whole_microseconds() {
        assert_eq!(SimTime(12_000_100).to_string(), "12.000100s");
        assert_eq!(SimTime::from_secs(-1.0), SimTime(0));
        assert_eq!(SimTime::from_secs(f64::NAN), SimTime(0));
        assert_eq!(SimTime::from_secs(0.1), SimTime(100_000));
    }
}
