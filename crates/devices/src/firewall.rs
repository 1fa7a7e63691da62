//! The range firewall: who may connect to which device. Rules are checked in order, the
//! first that matches decides; without a match the default decides. Defenders add rules
//! (block an attacker's address, close a conduit); the servers ask before serving.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 prefix, `10.0.0.0/8`; a bare address is a /32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Prefix {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.len == 0 { 0 } else { u32::MAX << (32 - u32::from(self.len.min(32))) };
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

/// Why a text is not a prefix (`Prefix`'s `FromStr`); each carries the part as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("`{addr}` is not an IPv4 address")]
    Address { addr: String },
    #[error("`{len}` is not a prefix length")]
    Length { len: String },
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        let (addr, len) = s.split_once('/').unwrap_or((s, "32"));
        let addr: Ipv4Addr = addr.parse().map_err(|_| PrefixError::Address { addr: addr.to_string() })?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| PrefixError::Length { len: len.to_string() })?;
        Ok(Prefix { addr, len })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub source: Prefix,
    /// The devices it applies to (`None`: all).
    pub destination: Option<Prefix>,
    pub allow: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    pub rules: Vec<Rule>,
    pub default_allow: bool,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall { rules: Vec::new(), default_allow: true }
    }
}

impl Firewall {
    /// Whether `source` may connect to the device at `destination`.
    pub fn permits(&self, source: Ipv4Addr, destination: Ipv4Addr) -> bool {
        self.rules
            .iter()
            .find(|r| r.source.contains(source) && r.destination.is_none_or(|d| d.contains(destination)))
            .map_or(self.default_allow, |r| r.allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_decides() {
        let p = |s: &str| s.parse::<Prefix>().unwrap();
        let fw = Firewall {
            rules: vec![
                Rule { source: p("127.0.0.66"), destination: None, allow: false },
                Rule { source: p("10.0.0.0/8"), destination: Some(p("127.10.1.0/24")), allow: true },
                Rule { source: p("10.0.0.0/8"), destination: None, allow: false },
            ],
            default_allow: true,
        };
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(!fw.permits(ip("127.0.0.66"), ip("127.10.0.1")));
        assert!(fw.permits(ip("127.0.0.1"), ip("127.10.0.1")));
        assert!(fw.permits(ip("10.1.2.3"), ip("127.10.1.4")));
        assert!(!fw.permits(ip("10.1.2.3"), ip("127.10.0.1")));
        assert!("1.2.3.4/33".parse::<Prefix>().is_err());
        assert!(p("0.0.0.0/0").contains(ip("8.8.8.8")));
    }
}
