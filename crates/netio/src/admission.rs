//! Who may hold a live connection: limits per source and device, per source in a range, per
//! device, and the process's budget of file handles, so that no source or device can take
//! the handles every other device needs. And a throttle for the log lines a flood causes.
//!
//! On loopback any local process can use any source address in 127.0.0.0/8, so the per-source
//! limits stop the careless and the simple. Against a flood from many sources, one device
//! takes at most an eighth of the handles, and the process never runs out of them (it
//! refuses a connection first, so its files, captures and listeners keep working); floods on
//! eight devices or more at once can still use up what the others would have had.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Connections one source may hold to one device.
pub const PER_SOURCE_PER_DEVICE: usize = 16;
/// Connections one source may hold in one range.
pub const PER_SOURCE: usize = 256;
/// Concurrent connections per device at most (less when the process has fewer handles).
pub const PER_DEVICE: usize = 2_048;
/// File handles kept for everything but live connections (files, captures, the database).
const RESERVE: usize = 64;

/// The process's open-file limit, raised once to its hard limit.
fn nofile() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let raised = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
        usize::try_from(raised).unwrap_or(usize::MAX)
    })
}

/// Raises the open-file limit to the hard limit and returns it (`live::listen` calls it
/// before it binds anything).
pub fn raise_nofile_limit() -> usize {
    nofile()
}

/// Listeners, live connections and the web server's connections open in the process.
static LISTENERS: AtomicUsize = AtomicUsize::new(0);
static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
static HTTP: AtomicUsize = AtomicUsize::new(0);

/// A web server's connection, counted against the process's handles while it lives. The web
/// server may hold at most half of the handles (`http_slot`), so the device services and the
/// database always keep the other half, whoever floods the web port.
#[derive(Debug)]
pub struct HttpSlot(());

/// A place for one more web connection, or `None` when the web server holds its share.
pub fn http_slot() -> Option<HttpSlot> {
    let cap = http_capacity();
    let taken = HTTP.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < cap).then_some(n + 1));
    // `then`, not `then_some`: a slot made and dropped here would give back one never taken.
    taken.is_ok().then(|| HttpSlot(()))
}

/// Web connections the process may hold at once: half its handles.
pub fn http_capacity() -> usize {
    (nofile() / 2).max(16)
}

/// Web connections open now.
pub fn http_open() -> usize {
    HTTP.load(Ordering::Relaxed)
}

impl Drop for HttpSlot {
    fn drop(&mut self) {
        HTTP.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A listener counted against the budget while it lives.
#[derive(Debug)]
pub struct ListenerSlot(());

impl ListenerSlot {
    pub fn take() -> ListenerSlot {
        LISTENERS.fetch_add(1, Ordering::Relaxed);
        ListenerSlot(())
    }
}

impl Drop for ListenerSlot {
    fn drop(&mut self) {
        LISTENERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One range's live connections, counted.
#[derive(Debug)]
pub struct Admission {
    counts: Mutex<Counts>,
    per_device: usize,
}

#[derive(Debug, Default)]
struct Counts {
    device: HashMap<SocketAddrV4, usize>,
    source: HashMap<Ipv4Addr, usize>,
    pair: HashMap<(Ipv4Addr, SocketAddrV4), usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    PerSourcePerDevice,
    PerSource,
    PerDevice,
    Process,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::PerSourcePerDevice => "the source holds as many connections to the device as it may",
            Refusal::PerSource => "the source holds as many connections in the range as it may",
            Refusal::PerDevice => "the device serves as many connections as it may",
            Refusal::Process => "the process has no file handle to spare",
        })
    }
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new()
    }
}

impl Admission {
    /// Limits from the process's open-file limit: a device may take an eighth of it.
    pub fn new() -> Admission {
        Admission { counts: Mutex::new(Counts::default()), per_device: PER_DEVICE.min(nofile() / 8).max(1) }
    }

    /// Connections one device may serve at once here.
    pub fn per_device(&self) -> usize {
        self.per_device
    }

    /// A connection from `source` to `device`, counted until the ticket drops.
    pub fn admit(self: &Arc<Self>, source: Ipv4Addr, device: SocketAddrV4) -> Result<Ticket, Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let in_use = LISTENERS.load(Ordering::Relaxed)
            + CONNECTIONS.load(Ordering::Relaxed)
            + HTTP.load(Ordering::Relaxed)
            + RESERVE;
        if in_use >= nofile() {
            return Err(Refusal::Process);
        }
        if c.pair.get(&(source, device)).copied().unwrap_or(0) >= PER_SOURCE_PER_DEVICE {
            return Err(Refusal::PerSourcePerDevice);
        }
        if c.source.get(&source).copied().unwrap_or(0) >= PER_SOURCE {
            return Err(Refusal::PerSource);
        }
        if c.device.get(&device).copied().unwrap_or(0) >= self.per_device {
            return Err(Refusal::PerDevice);
        }
        *c.pair.entry((source, device)).or_default() += 1;
        *c.source.entry(source).or_default() += 1;
        *c.device.entry(device).or_default() += 1;
        CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        Ok(Ticket { admission: self.clone(), source, device })
    }
}

/// A counted connection; dropping it gives the place back.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    source: Ipv4Addr,
    device: SocketAddrV4,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
        let mut c = self.admission.counts.lock().unwrap_or_else(|p| p.into_inner());
        fn down<K: std::hash::Hash + Eq>(m: &mut HashMap<K, usize>, k: K) {
            if let Some(n) = m.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&k);
                }
            }
        }
        down(&mut c.pair, (self.source, self.device));
        down(&mut c.source, self.source);
        down(&mut c.device, self.device);
    }
}

/// At most one log line per interval for a kind of event; the next one says how many were
/// left out (a flood of refused connections must not become a flood of log).
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle { every, last: None, suppressed: 0 }
    }

    /// `Some(n)`: log now, `n` lines were left out since the last one. `None`: leave it out.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.duration_since(t) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// A `Throttle` per kind of line (a reason, say): a flood of one kind is one line per
/// interval and other kinds still get through; and at most `LINES` lines of all kinds per
/// interval (a flood of ever different reasons is a flood too).
#[derive(Debug)]
pub struct Throttles {
    every: Duration,
    kinds: HashMap<String, Throttle>,
    window: Option<Instant>,
    lines: usize,
}

/// Kinds remembered at once (when more appear, the memory starts over).
const KINDS: usize = 1024;
/// Lines of all kinds per interval.
const LINES: usize = 100;

impl Throttles {
    pub fn new(every: Duration) -> Throttles {
        Throttles { every, kinds: HashMap::new(), window: None, lines: 0 }
    }

    /// As `Throttle::allow`, for this kind.
    pub fn allow(&mut self, kind: &str, now: Instant) -> Option<u64> {
        if self.window.is_none_or(|w| now.duration_since(w) >= self.every) {
            self.window = Some(now);
            self.lines = 0;
        }
        if !self.kinds.contains_key(kind) {
            if self.kinds.len() >= KINDS {
                self.kinds.clear();
            }
            self.kinds.insert(kind.to_string(), Throttle::new(self.every));
        }
        let t = self.kinds.get_mut(kind)?;
        if self.lines >= LINES {
            t.suppressed += 1;
            return None;
        }
        let allowed = t.allow(now);
        if allowed.is_some() {
            self.lines += 1;
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_source_and_device_and_places_come_back() {
        let a = Arc::new(Admission::new());
        let dev = SocketAddrV4::new(Ipv4Addr::new(127, 10, 3, 1), 502);
        let other = SocketAddrV4::new(Ipv4Addr::new(127, 10, 3, 2), 502);
        let src = Ipv4Addr::new(127, 99, 0, 1);
        let mut held: Vec<Ticket> = (0..PER_SOURCE_PER_DEVICE).map(|_| a.admit(src, dev).unwrap()).collect();
        assert_eq!(a.admit(src, dev).err(), Some(Refusal::PerSourcePerDevice));
        // Another device, another source: still served.
        held.push(a.admit(src, other).unwrap());
        held.push(a.admit(Ipv4Addr::new(127, 99, 0, 2), dev).unwrap());
        held.remove(0);
        assert!(a.admit(src, dev).is_ok(), "a closed connection gives its place back");
    }

    #[test]
    fn web_slots_stop_at_half_the_handles_and_a_refusal_gives_nothing_back() {
        let cap = http_capacity();
        let held: Vec<HttpSlot> = std::iter::from_fn(http_slot).take(cap + 10).collect();
        assert_eq!(held.len(), cap);
        for _ in 0..5 {
            assert!(http_slot().is_none());
        }
        assert_eq!(http_open(), cap, "refusals leave the count as it was");
        drop(held);
        assert_eq!(http_open(), 0);
        assert!(http_slot().is_some());
    }

    #[test]
    fn a_throttle_lets_one_line_through_per_interval_and_counts_the_rest() {
        let mut t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.allow(t0), Some(0));
        assert_eq!(t.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(t.allow(t0 + Duration::from_secs(2)), None);
        assert_eq!(t.allow(t0 + Duration::from_secs(11)), Some(2));
        let mut kinds = Throttles::new(Duration::from_secs(10));
        assert_eq!(kinds.allow("bad MBAP header", t0), Some(0));
        assert_eq!(kinds.allow("bad MBAP header", t0), None);
        assert_eq!(kinds.allow("bad APCI", t0), Some(0), "another kind gets through");
    }
}
