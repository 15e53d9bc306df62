//! Routes: the `ip route` verbs.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric,
    RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Netlink;
use crate::error::Result;

/// A route as the suite adds, lists and compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    pub oif: Option<u32>,
    /// Preferred source address (`src`).
    pub src: Option<IpAddr>,
    /// 0 universe, 253 link, 254 host.
    pub scope: u8,
    /// Routing table; `None` means main.
    pub table: Option<u32>,
    /// Metric.
    pub priority: u32,
    pub mtu: u32,
    pub advmss: u32,
    /// Who made it (RTPROT_*): 2 the kernel, from an address; 3 (boot,
    /// the default here) a route added by a tool or plugin.
    pub protocol: u8,
    /// The gateway is on the link even without a route to it (`onlink`).
    pub onlink: bool,
}

impl RouteSpec {
    pub fn new(dst: IpNet) -> RouteSpec {
        RouteSpec {
            dst: dst.trunc(),
            gw: None,
            oif: None,
            src: None,
            scope: 0,
            table: None,
            priority: 0,
            mtu: 0,
            advmss: 0,
            protocol: RouteProtocol::Boot.into(),
            onlink: false,
        }
    }

    /// Whether the kernel made it for an address (and makes it again when
    /// the address comes back).
    pub fn is_kernel_made(&self) -> bool {
        self.protocol == u8::from(RouteProtocol::Kernel)
    }

    pub fn describe(&self) -> String {
        let mut s = self.dst.to_string();
        if let Some(gw) = self.gw {
            s += &format!(" via {gw}");
        }
        if self.onlink {
            s += " onlink";
        }
        if let Some(oif) = self.oif {
            s += &format!(" dev index {oif}");
        }
        if self.priority != 0 {
            s += &format!(" metric {}", self.priority);
        }
        if let Some(t) = self.table {
            s += &format!(" table {t}");
        }
        if self.scope != 0 {
            s += &format!(" scope {}", self.scope);
        }
        s
    }

    fn message(&self) -> RouteMessage {
        let mut msg = RouteMessage::default();
        let v4 = matches!(self.dst, IpNet::V4(_));
        msg.header.address_family = if v4 {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        msg.header.destination_prefix_length = self.dst.prefix_len();
        msg.header.protocol = RouteProtocol::from(self.protocol);
        if self.onlink {
            msg.header.flags = RouteFlags::Onlink;
        }
        msg.header.scope = RouteScope::from(self.scope);
        msg.header.kind = RouteType::Unicast;
        let table = self.table.unwrap_or(u32::from(RouteHeader::RT_TABLE_MAIN));
        msg.header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
        if table > 255 {
            msg.attributes.push(RouteAttribute::Table(table));
        }
        if self.dst.prefix_len() > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(
                    self.dst.addr(),
                )));
        }
        if let Some(gw) = self.gw {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        if let Some(src) = self.src {
            msg.attributes
                .push(RouteAttribute::PrefSource(RouteAddress::from(src)));
        }
        if let Some(oif) = self.oif {
            msg.attributes.push(RouteAttribute::Oif(oif));
        }
        if self.priority != 0 {
            msg.attributes.push(RouteAttribute::Priority(self.priority));
        }
        let mut metrics = Vec::new();
        if self.mtu != 0 {
            metrics.push(RouteMetric::Mtu(self.mtu));
        }
        if self.advmss != 0 {
            metrics.push(RouteMetric::Advmss(self.advmss));
        }
        if !metrics.is_empty() {
            msg.attributes.push(RouteAttribute::Metrics(metrics));
        }
        msg
    }

    fn from_message(m: &RouteMessage) -> Option<RouteSpec> {
        let v4 = match m.header.address_family {
            AddressFamily::Inet => true,
            AddressFamily::Inet6 => false,
            _ => return None,
        };
        let mut spec = RouteSpec {
            dst: if v4 {
                "0.0.0.0/0".parse().ok()?
            } else {
                "::/0".parse().ok()?
            },
            gw: None,
            oif: None,
            src: None,
            scope: u8::from(m.header.scope),
            table: Some(u32::from(m.header.table)),
            priority: 0,
            mtu: 0,
            advmss: 0,
            protocol: u8::from(m.header.protocol),
            onlink: m.header.flags.contains(RouteFlags::Onlink),
        };
        for attr in &m.attributes {
            match attr {
                RouteAttribute::Destination(a) => {
                    spec.dst = IpNet::new(route_ip(a)?, m.header.destination_prefix_length).ok()?
                }
                RouteAttribute::Gateway(a) => spec.gw = route_ip(a),
                RouteAttribute::PrefSource(a) => spec.src = route_ip(a),
                RouteAttribute::Oif(i) => spec.oif = Some(*i),
                RouteAttribute::Priority(p) => spec.priority = *p,
                RouteAttribute::Table(t) => spec.table = Some(*t),
                RouteAttribute::Metrics(ms) => {
                    for metric in ms {
                        match metric {
                            RouteMetric::Mtu(v) => spec.mtu = *v,
                            RouteMetric::Advmss(v) => spec.advmss = *v,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Some(spec)
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

impl Netlink {
    /// `ip route add`; EEXIST if an identical route exists.
    pub fn route_add(&mut self, route: &RouteSpec) -> Result<()> {
        self.request(
            RouteNetlinkMessage::NewRoute(route.message()),
            NLM_F_CREATE | NLM_F_EXCL,
            || format!("add route {}", route.describe()),
        )
        .map(drop)
    }

    /// `ip route append`: like Go's RouteAddEcmp, a second route to the same
    /// destination via another gateway is accepted.
    pub fn route_append(&mut self, route: &RouteSpec) -> Result<()> {
        self.request(
            RouteNetlinkMessage::NewRoute(route.message()),
            NLM_F_CREATE | NLM_F_APPEND,
            || format!("add route {}", route.describe()),
        )
        .map(drop)
    }

    /// `ip route replace`.
    pub fn route_replace(&mut self, route: &RouteSpec) -> Result<()> {
        self.request(
            RouteNetlinkMessage::NewRoute(route.message()),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace route {}", route.describe()),
        )
        .map(drop)
    }

    /// `ip route del`.
    pub fn route_del(&mut self, route: &RouteSpec) -> Result<()> {
        let mut msg = route.message();
        // Match any protocol/type the route was added with.
        msg.header.protocol = RouteProtocol::Unspec;
        msg.header.kind = RouteType::Unspec;
        msg.header.scope = RouteScope::NoWhere;
        self.request(RouteNetlinkMessage::DelRoute(msg), 0, || {
            format!("delete route {}", route.describe())
        })
        .map(drop)
    }

    /// `ip route get <dst>`: the route the kernel would use; its `oif` is
    /// the interface traffic to `dst` leaves by.
    pub fn route_get(&mut self, dst: IpAddr) -> Result<RouteSpec> {
        let mut req = RouteMessage::default();
        req.header.address_family = match dst {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        req.header.destination_prefix_length = if dst.is_ipv4() { 32 } else { 128 };
        req.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        let op = || format!("get route to {dst}");
        let replies = self.request(RouteNetlinkMessage::GetRoute(req), 0, op)?;
        replies
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => RouteSpec::from_message(r),
                _ => None,
            })
            .ok_or_else(|| crate::Error::kernel(op(), nix::errno::Errno::ENETUNREACH))
    }

    /// `ip route show table all`, one family, optionally one output link.
    pub fn route_list(&mut self, v4: bool, oif: Option<u32>) -> Result<Vec<RouteSpec>> {
        let mut req = RouteMessage::default();
        req.header.address_family = if v4 {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        let replies = self.dump(RouteNetlinkMessage::GetRoute(req), || {
            format!("list IPv{} routes", if v4 { 4 } else { 6 })
        })?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => RouteSpec::from_message(r),
                _ => None,
            })
            .filter(|r| oif.is_none() || r.oif == oif)
            .collect())
    }
}
