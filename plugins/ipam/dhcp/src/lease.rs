//! What the daemon keeps of a server's ACK and hands to the plugin: the
//! address and the options the result and the lease's timers are made of.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Message, OptionCode};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Lease time when the server names none, as Go.
pub const DEFAULT_LEASE_SECS: u32 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// The server that granted the lease (option 54): renewals go there.
    pub server: Ipv4Addr,
    #[serde(default)]
    pub routers: Vec<Ipv4Addr>,
    #[serde(default)]
    pub static_routes: Vec<(Ipv4Addr, Ipv4Addr)>,
    #[serde(default)]
    pub classless_routes: Vec<(Ipv4Net, Ipv4Addr)>,
    #[serde(default)]
    pub dns_servers: Vec<Ipv4Addr>,
    #[serde(default)]
    pub domain: String,
    pub lease_secs: u32,
    pub renew_secs: u32,
    pub rebind_secs: u32,
    /// Unix time of the ACK: the timers count from here.
    pub acquired: u64,
}

impl Lease {
    /// The lease an ACK grants, or why it grants none. `now` is Unix time.
    pub fn from_ack(ack: &Message, now: u64) -> Result<Lease, String> {
        let opts = ack.opts();
        let mask = match opts.get(OptionCode::SubnetMask) {
            Some(DhcpOption::SubnetMask(m)) => *m,
            _ => return Err("DHCP option Subnet Mask not found in DHCPACK".into()),
        };
        let prefix_len = ipnet::ipv4_mask_to_prefix(mask)
            .map_err(|_| format!("invalid subnet mask {mask} in DHCPACK"))?;
        let address = ack.yiaddr();
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            return Err(format!("invalid address {address} in DHCPACK"));
        }
        let server = match opts.get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(s)) => *s,
            _ => ack.siaddr(),
        };
        let lease_secs = match opts.get(OptionCode::AddressLeaseTime) {
            Some(DhcpOption::AddressLeaseTime(t)) if *t > 0 => *t,
            _ => DEFAULT_LEASE_SECS,
        };
        let renew_secs = match opts.get(OptionCode::Renewal) {
            Some(DhcpOption::Renewal(t)) if *t > 0 && *t < lease_secs => *t,
            _ => lease_secs / 2,
        };
        let rebind_secs = match opts.get(OptionCode::Rebinding) {
            Some(DhcpOption::Rebinding(t)) if *t >= renew_secs && *t < lease_secs => *t,
            _ => (u64::from(lease_secs) * 7 / 8) as u32,
        }
        .max(renew_secs);
        Ok(Lease {
            address,
            prefix_len,
            server,
            routers: match opts.get(OptionCode::Router) {
                Some(DhcpOption::Router(r)) => r.clone(),
                _ => Vec::new(),
            },
            static_routes: match opts.get(OptionCode::StaticRoutingTable) {
                Some(DhcpOption::StaticRoutingTable(r)) => r.clone(),
                _ => Vec::new(),
            },
            classless_routes: match opts.get(OptionCode::ClasslessStaticRoute) {
                Some(DhcpOption::ClasslessStaticRoute(r)) => r.clone(),
                _ => Vec::new(),
            },
            dns_servers: match opts.get(OptionCode::DomainNameServer) {
                Some(DhcpOption::DomainNameServer(d)) => d.clone(),
                _ => Vec::new(),
            },
            domain: match opts.get(OptionCode::DomainName) {
                Some(DhcpOption::DomainName(d)) => d.trim_end_matches('\0').to_string(),
                _ => String::new(),
            },
            lease_secs,
            renew_secs,
            rebind_secs,
            acquired: now,
        })
    }

    pub fn renew_at(&self) -> u64 {
        self.acquired + u64::from(self.renew_secs)
    }

    pub fn rebind_at(&self) -> u64 {
        self.acquired + u64::from(self.rebind_secs)
    }

    pub fn expires_at(&self) -> u64 {
        self.acquired + u64::from(self.lease_secs)
    }
}

/// Unix time in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::MessageType;

    fn ack(opts: Vec<DhcpOption>) -> Message {
        let mut m = Message::default();
        m.set_yiaddr(Ipv4Addr::new(10, 0, 0, 5));
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Ack));
        for o in opts {
            m.opts_mut().insert(o);
        }
        m
    }

    #[test]
    fn timers_and_defaults() {
        let mask = DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0));
        let cases = [
            (vec![mask.clone()], (3600, 1800, 3150)),
            (
                vec![mask.clone(), DhcpOption::AddressLeaseTime(120)],
                (120, 60, 105),
            ),
            (
                vec![
                    mask.clone(),
                    DhcpOption::AddressLeaseTime(120),
                    DhcpOption::Renewal(5),
                    DhcpOption::Rebinding(10),
                ],
                (120, 5, 10),
            ),
            // T1 past the lease or T2 before T1: the defaults
            (
                vec![
                    mask.clone(),
                    DhcpOption::AddressLeaseTime(100),
                    DhcpOption::Renewal(200),
                    DhcpOption::Rebinding(20),
                ],
                (100, 50, 87),
            ),
        ];
        for (opts, (l, t1, t2)) in cases {
            let lease = Lease::from_ack(&ack(opts), 1000).unwrap();
            assert_eq!(
                (lease.lease_secs, lease.renew_secs, lease.rebind_secs),
                (l, t1, t2)
            );
            assert_eq!(lease.expires_at(), 1000 + u64::from(l));
            assert_eq!(lease.prefix_len, 24);
        }
    }

    #[test]
    fn refuses_acks_without_a_usable_address() {
        assert!(
            Lease::from_ack(&ack(vec![]), 0)
                .unwrap_err()
                .contains("Subnet Mask")
        );
        let bad_mask = ack(vec![DhcpOption::SubnetMask(Ipv4Addr::new(255, 0, 255, 0))]);
        assert!(Lease::from_ack(&bad_mask, 0).is_err());
        let mut zero = ack(vec![DhcpOption::SubnetMask(Ipv4Addr::new(
            255, 255, 255, 0,
        ))]);
        zero.set_yiaddr(Ipv4Addr::UNSPECIFIED);
        assert!(Lease::from_ack(&zero, 0).is_err());
    }
}
