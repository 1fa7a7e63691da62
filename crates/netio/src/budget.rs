//! What a team's range takes in from outside: every byte a live connection sends becomes a
//! journal input (stored, replayed at restart, kept in memory), so what one trainee's tools
//! can put there is bounded, as a real device's capacity bounds what it serves.
//!
//! A token bucket of inputs (opens, data, closes) per second and one of bytes per minute,
//! shared by every device of the range: a client faster than that is paced (its bytes wait,
//! unread, as with a PLC that answers one transaction at a time), not refused. Past
//! `Limits::max_inputs` live inputs in the whole run, the range takes no more live traffic:
//! new connections are refused and open ones closed, counted (not journaled one by one), so
//! a team's stored journal, and with it the restart's replay, stays bounded.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The bounds of a range's live traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Live inputs per second, sustained.
    pub inputs_per_s: f64,
    /// Live inputs that may come at once after a quiet spell.
    pub burst_inputs: f64,
    /// Bytes per minute, sustained.
    pub bytes_per_min: f64,
    /// Bytes that may come at once after a quiet spell.
    pub burst_bytes: f64,
    /// Live inputs in the whole run; past it, no more live traffic.
    pub max_inputs: u64,
}

impl Limits {
    /// A team range on the platform: 50 transactions a second (a PLC's or an RTU's order of
    /// magnitude; a SCADA poller or a trainee's tool needs far less), 256 KiB a minute, and at
    /// most 50,000 live inputs per run (about 10 MB in the database, about two seconds of
    /// replay at restart).
    pub const TEAM: Limits = Limits {
        inputs_per_s: 50.0,
        burst_inputs: 200.0,
        bytes_per_min: 256.0 * 1024.0,
        burst_bytes: 64.0 * 1024.0,
        max_inputs: 50_000,
    };

    /// No bound (`icsrange live` and `icsrange devices`: one user's own range).
    pub const NONE: Limits = Limits {
        inputs_per_s: f64::INFINITY,
        burst_inputs: f64::INFINITY,
        bytes_per_min: f64::INFINITY,
        burst_bytes: f64::INFINITY,
        max_inputs: u64::MAX,
    };
}

/// What the budget says to one more input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Taken: apply it now.
    Now,
    /// Ask again after this long (the client is faster than the device).
    After(Duration),
    /// The run takes no more live traffic.
    Full,
}

/// A range's live-traffic budget, shared by its listeners and connections.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    inputs: f64,
    bytes: f64,
    at: Option<Instant>,
    used: u64,
    refused: u64,
    paced: u64,
}

/// A budget's counts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    /// Live inputs taken in the run (including those before a restart).
    pub inputs: u64,
    /// Connections and inputs refused because the run took its most.
    pub refused: u64,
    /// Times a client was made to wait.
    pub paced: u64,
    /// The most live inputs the run takes.
    pub max_inputs: u64,
}

impl Budget {
    /// A budget of which `used` live inputs are already taken (a run brought back by replay).
    pub fn new(limits: Limits, used: u64) -> Budget {
        let state = State {
            inputs: limits.burst_inputs,
            bytes: limits.burst_bytes,
            at: None,
            used,
            refused: 0,
            paced: 0,
        };
        Budget { limits, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more input carrying `bytes`, at `now`.
    pub fn take(&self, bytes: usize, now: Instant) -> Verdict {
        let l = &self.limits;
        let mut s = self.lock();
        if s.used >= l.max_inputs {
            s.refused += 1;
            return Verdict::Full;
        }
        if let Some(at) = s.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            s.inputs = (s.inputs + dt * l.inputs_per_s).min(l.burst_inputs);
            s.bytes = (s.bytes + dt * l.bytes_per_min / 60.0).min(l.burst_bytes);
        }
        s.at = Some(now);
        // A read larger than the burst passes once the bucket is full, and leaves it owing.
        let need = (bytes as f64).min(l.burst_bytes);
        if s.inputs >= 1.0 && s.bytes >= need {
            s.inputs -= 1.0;
            s.bytes -= bytes as f64;
            s.used += 1;
            return Verdict::Now;
        }
        s.paced += 1;
        let wait_inputs = (1.0 - s.inputs).max(0.0) / l.inputs_per_s;
        let wait_bytes = (need - s.bytes).max(0.0) / (l.bytes_per_min / 60.0);
        Verdict::After(Duration::from_secs_f64(wait_inputs.max(wait_bytes).clamp(0.001, 60.0)))
    }

    /// A connection closed: an input that is never refused (the journal must see it end).
    pub fn closed(&self) {
        self.lock().used += 1;
    }

    /// Whether the run takes no more live traffic; counts a refusal when so.
    pub fn refuses(&self) -> bool {
        let mut s = self.lock();
        let full = s.used >= self.limits.max_inputs;
        if full {
            s.refused += 1;
        }
        full
    }

    pub fn figures(&self) -> Figures {
        let s = self.lock();
        Figures { inputs: s.used, refused: s.refused, paced: s.paced, max_inputs: self.limits.max_inputs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            inputs_per_s: 10.0,
            burst_inputs: 5.0,
            bytes_per_min: 600.0,
            burst_bytes: 100.0,
            max_inputs: 30,
        }
    }

    #[test]
    fn a_burst_passes_then_the_client_is_paced_at_the_rate() {
        let b = Budget::new(Limits { max_inputs: 1_000, ..limits() }, 0);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(b.take(1, t0), Verdict::Now);
        }
        // Empty: one input every 100 ms.
        assert_eq!(b.take(1, t0), Verdict::After(Duration::from_millis(100)));
        assert_eq!(b.take(1, t0 + Duration::from_millis(100)), Verdict::Now);
        // 50 inputs in 5 s from an empty bucket at 10/s: at most 50 + the burst.
        let mut taken = 0;
        for ms in (100..5_100).step_by(10) {
            if b.take(1, t0 + Duration::from_millis(ms)) == Verdict::Now {
                taken += 1;
            }
        }
        assert!((49..=51).contains(&taken), "{taken}");
    }

    #[test]
    fn bytes_are_paced_per_minute_and_a_large_read_passes_once_owing() {
        let b = Budget::new(limits(), 0);
        let t0 = Instant::now();
        assert_eq!(b.take(400, t0), Verdict::Now, "a read larger than the burst passes when full");
        // Owing 300 bytes at 10 B/s, then 1 byte: 30.1 s.
        match b.take(1, t0) {
            Verdict::After(d) => assert!((30.0..30.2).contains(&d.as_secs_f64()), "{d:?}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn past_the_runs_most_nothing_more_is_taken_and_refusals_are_counted() {
        let b = Budget::new(limits(), 28);
        let t0 = Instant::now();
        assert_eq!(b.take(1, t0), Verdict::Now);
        b.closed();
        assert_eq!(b.take(1, t0 + Duration::from_secs(9)), Verdict::Full);
        assert!(b.refuses());
        let f = b.figures();
        assert_eq!((f.inputs, f.refused, f.max_inputs), (30, 2, 30));
    }
}
