//! A serial-to-Ethernet gateway: the substation's serial devices (its feeder recloser
//! controllers) reach the network through it. When its firmware is corrupted, as the 2015
//! attackers did to the substations' serial-to-Ethernet converters, or it loses power, every
//! device behind it goes dark, however healthy the devices themselves are.
//!
//! Its own management interface (where a firmware upload arrives) comes with the attack
//! engine; today its state is set by the range (`icsrange devices --bricked ADDR`).

use std::net::Ipv4Addr;

use crate::{DeviceKind, DeviceState};

#[derive(Debug, Clone)]
pub struct SerialGateway {
    pub name: String,
    pub substation: String,
    pub addr: Ipv4Addr,
    pub state: DeviceState,
    /// The devices behind it, by address.
    pub behind: Vec<Ipv4Addr>,
}

impl SerialGateway {
    pub fn kind(&self) -> DeviceKind {
        DeviceKind::Gateway
    }

    pub fn summary(&self) -> String {
        let behind: Vec<String> = self.behind.iter().map(ToString::to_string).collect();
        format!("serial devices behind it: {}", behind.join(","))
    }
}
