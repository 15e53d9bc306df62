//! Addresses: the `ip addr` verbs.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

pub use netlink_packet_route::address::AddressFlags as AddrFlags;

use super::Netlink;
use crate::error::Result;

/// One address of a link, host bits kept (`10.1.2.3/24`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub address: IpNet,
    pub scope: u8,
    pub flags: AddrFlags,
}

impl Addr {
    pub fn is_tentative(&self) -> bool {
        self.flags.contains(AddrFlags::Tentative)
    }
    pub fn dad_failed(&self) -> bool {
        self.flags.contains(AddrFlags::Dadfailed)
    }
    /// Global unicast in Go's sense: not loopback, link-local or multicast.
    pub fn is_global_unicast(&self) -> bool {
        match self.address.addr() {
            IpAddr::V4(a) => {
                !(a.is_loopback()
                    || a.is_link_local()
                    || a.is_multicast()
                    || a.is_broadcast()
                    || a.is_unspecified())
            }
            IpAddr::V6(a) => {
                !(a.is_loopback()
                    || a.is_multicast()
                    || a.is_unspecified()
                    || (a.segments()[0] & 0xffc0) == 0xfe80)
            }
        }
    }
}

fn message(index: u32, address: IpNet) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = address.prefix_len();
    let ip = address.addr();
    match address {
        IpNet::V4(net) => {
            msg.header.family = AddressFamily::Inet;
            msg.attributes.push(AddressAttribute::Local(ip));
            msg.attributes.push(AddressAttribute::Address(ip));
            // As `ip addr add ... brd +` and Go's netlink do, up to /30.
            if net.prefix_len() < 31 {
                msg.attributes
                    .push(AddressAttribute::Broadcast(net.broadcast()));
            }
        }
        IpNet::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.attributes.push(AddressAttribute::Address(ip));
        }
    }
    msg
}

impl Netlink {
    /// `ip addr show [dev <index>]`, optionally one family only.
    pub fn addr_list(&mut self, index: Option<u32>, v4: Option<bool>) -> Result<Vec<Addr>> {
        let mut req = AddressMessage::default();
        req.header.family = match v4 {
            Some(true) => AddressFamily::Inet,
            Some(false) => AddressFamily::Inet6,
            None => AddressFamily::Unspec,
        };
        let replies = match index {
            Some(i) => {
                req.header.index = i;
                self.dump_filtered(RouteNetlinkMessage::GetAddress(req), || {
                    format!("list addresses of link index {i}")
                })?
            }
            None => self.dump(RouteNetlinkMessage::GetAddress(req), || {
                "list addresses".into()
            })?,
        };
        let mut out = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            if index.is_some_and(|i| i != a.header.index) {
                continue;
            }
            let mut local = None;
            let mut address = None;
            let mut flags = AddrFlags::from_bits_retain(u32::from(a.header.flags.bits()));
            for attr in &a.attributes {
                match attr {
                    AddressAttribute::Local(ip) => local = Some(*ip),
                    AddressAttribute::Address(ip) => address = Some(*ip),
                    AddressAttribute::Flags(f) => flags = *f,
                    _ => {}
                }
            }
            // For point-to-point IPv4, IFA_LOCAL is ours and IFA_ADDRESS the peer.
            let Some(ip) = local.or(address) else {
                continue;
            };
            let Ok(net) = IpNet::new(ip, a.header.prefix_len) else {
                continue;
            };
            out.push(Addr {
                index: a.header.index,
                address: net,
                scope: u8::from(a.header.scope),
                flags,
            });
        }
        Ok(out)
    }

    /// `ip addr add <address> dev <index>`; EEXIST if already there.
    pub fn addr_add(&mut self, index: u32, address: IpNet, flags: AddrFlags) -> Result<()> {
        let mut msg = message(index, address);
        if !flags.is_empty() {
            msg.attributes.push(AddressAttribute::Flags(flags));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            || format!("add address {address} to link index {index}"),
        )
        .map(drop)
    }

    /// `ip addr replace <address> dev <index>`.
    pub fn addr_replace(&mut self, index: u32, address: IpNet, flags: AddrFlags) -> Result<()> {
        let mut msg = message(index, address);
        if !flags.is_empty() {
            msg.attributes.push(AddressAttribute::Flags(flags));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace address {address} on link index {index}"),
        )
        .map(drop)
    }

    /// `ip addr del <address> dev <index>`.
    pub fn addr_del(&mut self, index: u32, address: IpNet) -> Result<()> {
        let msg = message(index, address);
        self.request(RouteNetlinkMessage::DelAddress(msg), 0, || {
            format!("delete address {address} from link index {index}")
        })
        .map(drop)
    }
}

// Needs scratch namespaces: built with the testkit feature, which the
// workspace's test run enables.
#[cfg(all(test, feature = "testkit"))]
mod tests {
    use crate::testkit::TestNs;

    // The list of one link holds that link's addresses only, whichever way
    // the kernel filters; the socket's other dumps stay lenient after it.
    #[test]
    fn lists_one_link_or_all() {
        crate::require_root!();
        let (a, b) = (TestNs::new("addr-a"), TestNs::new("addr-b"));
        a.veth_to("va0", &["10.9.0.1/24", "fd09::1/64"], &b, "vb0", &[]);
        a.ip(&["link", "add", "va1", "type", "veth", "peer", "name", "va2"]);
        a.ip(&["addr", "add", "10.9.1.1/24", "dev", "va1"]);
        let mut nl = a.netlink();
        let index = |name: &str| {
            a.ip(&["-o", "link", "show", name])
                .split(':')
                .next()
                .and_then(|i| i.trim().parse::<u32>().ok())
                .unwrap()
        };
        let (va0, va1) = (index("va0"), index("va1"));
        let v4: Vec<String> = nl
            .addr_list(Some(va0), Some(true))
            .unwrap()
            .iter()
            .map(|x| x.address.to_string())
            .collect();
        assert_eq!(v4, ["10.9.0.1/24"]);
        let all = nl.addr_list(Some(va0), None).unwrap();
        assert!(all.iter().all(|x| x.index == va0));
        assert!(all.iter().any(|x| x.address.to_string() == "fd09::1/64"));
        let other = nl.addr_list(Some(va1), Some(true)).unwrap();
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].address.to_string(), "10.9.1.1/24");
        let everything = nl.addr_list(None, Some(true)).unwrap();
        assert!(everything.len() >= 2);
        assert!(nl.link_list().unwrap().len() >= 4);
    }
}
