//! Policy routing rules (`ip rule`): listing, adding and deleting the
//! `from <address> lookup <table>` rules sbr makes. Messages go over the
//! suite's netlink transport (`pkg::netlink::Socket`) with a codec of
//! their own ([`RuleMsg`]: netlink-packet-route's `RuleMessage`), so that
//! only this plugin links the rule parsers.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{
    DecodeError, Emitable, NLM_F_CREATE, NLM_F_EXCL, NetlinkDeserializable, NetlinkHeader,
    NetlinkSerializable, Parseable,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleHeader, RuleMessage};

use pkg::Result;
use pkg::netlink::Socket;
use pkg::ns::Netns;

const RTM_NEWRULE: u16 = 32;
const RTM_DELRULE: u16 = 33;
const RTM_GETRULE: u16 = 34;

/// A rule message, by its rtnetlink type.
#[derive(Debug, Clone)]
pub struct RuleMsg(u16, RuleMessage);

impl NetlinkSerializable for RuleMsg {
    fn message_type(&self) -> u16 {
        self.0
    }
    fn buffer_len(&self) -> usize {
        self.1.buffer_len()
    }
    fn serialize(&self, buffer: &mut [u8]) {
        self.1.emit(buffer)
    }
}

impl NetlinkDeserializable for RuleMsg {
    type Error = DecodeError;
    fn deserialize(
        header: &NetlinkHeader,
        payload: &[u8],
    ) -> std::result::Result<Self, Self::Error> {
        Ok(RuleMsg(header.message_type, RuleMessage::parse(payload)?))
    }
}

/// A rule as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The source selector (`from`), if any.
    pub src: Option<IpNet>,
    /// The table it looks up (0 for rules of other actions).
    pub table: u32,
    pub priority: Option<u32>,
    /// `from <address> lookup <table>` and nothing else: the shape of the
    /// rules sbr makes (no other selector, not inverted, action to-table).
    pub plain: bool,
    message: RuleMessage,
}

impl Rule {
    fn of(m: RuleMessage) -> Rule {
        let mut src_addr = None;
        let mut table = u32::from(m.header.table);
        let mut priority = None;
        let mut other_selector = false;
        for a in &m.attributes {
            match a {
                RuleAttribute::Source(ip) => src_addr = Some(*ip),
                RuleAttribute::Table(t) => table = *t,
                RuleAttribute::Priority(p) => priority = Some(*p),
                RuleAttribute::Destination(_)
                | RuleAttribute::Iifname(_)
                | RuleAttribute::Oifname(_)
                | RuleAttribute::Goto(_)
                | RuleAttribute::TunId(_)
                | RuleAttribute::UidRange(_)
                | RuleAttribute::SourcePortRange(_)
                | RuleAttribute::DestinationPortRange(_) => other_selector = true,
                RuleAttribute::FwMark(v) | RuleAttribute::FwMask(v) if *v != 0 => {
                    other_selector = true
                }
                RuleAttribute::L3MDev(true) => other_selector = true,
                _ => {}
            }
        }
        let src = src_addr.and_then(|ip| IpNet::new(ip, m.header.src_len).ok());
        let plain = src.is_some_and(|s| s.prefix_len() == s.max_prefix_len())
            && !other_selector
            && m.header.dst_len == 0
            && m.header.tos == 0
            && m.header.action == RuleAction::ToTable
            && !m.header.flags.contains(RuleFlags::Invert);
        Rule {
            src,
            table,
            priority,
            plain,
            message: m,
        }
    }

    /// The address of a plain rule.
    pub fn source(&self) -> Option<IpAddr> {
        self.plain.then(|| self.src.map(|s| s.addr())).flatten()
    }

    pub fn describe(&self) -> String {
        let from = self
            .src
            .map_or_else(|| "all".to_string(), |s| s.to_string());
        format!("from {from} lookup {}", self.table)
    }
}

/// A rule socket in the namespace it was created in.
pub struct Rules {
    socket: Socket<RuleMsg>,
}

impl Rules {
    /// A socket in `ns`, created on a short-lived thread inside it.
    pub fn in_netns(ns: &Netns) -> Result<Rules> {
        ns.run(|| {
            Ok(Rules {
                socket: Socket::open(pkg::netlink::NETLINK_ROUTE)?,
            })
        })
    }

    /// `ip rule show` and `ip -6 rule show`.
    pub fn list(&mut self) -> Result<Vec<Rule>> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut msg = RuleMessage::default();
            msg.header.family = family;
            let replies = self.socket.dump(
                || RuleMsg(RTM_GETRULE, msg.clone()),
                || {
                    format!(
                        "list IPv{} rules",
                        if family == AddressFamily::Inet { 4 } else { 6 }
                    )
                },
            )?;
            out.extend(
                replies
                    .into_iter()
                    .filter(|m| m.0 == RTM_NEWRULE)
                    .map(|m| Rule::of(m.1)),
            );
        }
        Ok(out)
    }

    /// `ip rule add from <ip> lookup <table>`, with the priority the
    /// kernel picks (as Go, which gives none); EEXIST when that very rule
    /// exists.
    pub fn add(&mut self, ip: IpAddr, table: u32) -> Result<()> {
        let src = IpNet::from(ip);
        let msg = message(src, table);
        self.socket
            .request(RuleMsg(RTM_NEWRULE, msg), NLM_F_CREATE | NLM_F_EXCL, || {
                format!("add rule from {src} lookup {table}")
            })
            .map(drop)
    }

    /// `ip rule del` of a listed rule.
    pub fn del(&mut self, rule: &Rule) -> Result<()> {
        self.socket
            .request(RuleMsg(RTM_DELRULE, rule.message.clone()), 0, || {
                format!("delete rule {}", rule.describe())
            })
            .map(drop)
    }

    /// `ip rule del from <ip> lookup <table>` (the first such rule).
    pub fn del_from(&mut self, ip: IpAddr, table: u32) -> Result<()> {
        let src = IpNet::from(ip);
        self.socket
            .request(RuleMsg(RTM_DELRULE, message(src, table)), 0, || {
                format!("delete rule from {src} lookup {table}")
            })
            .map(drop)
    }
}

fn message(src: IpNet, table: u32) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header = RuleHeader {
        family: match src {
            IpNet::V4(_) => AddressFamily::Inet,
            IpNet::V6(_) => AddressFamily::Inet6,
        },
        src_len: src.prefix_len(),
        table: u8::try_from(table).unwrap_or(0),
        action: RuleAction::ToTable,
        ..RuleHeader::default()
    };
    msg.attributes.push(RuleAttribute::Source(src.addr()));
    msg.attributes.push(RuleAttribute::Table(table));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_rules() {
        let base = |src: &str, table: u32| message(src.parse().unwrap(), table);
        let mut inverted = base("10.0.0.2/32", 100);
        inverted.header.flags = RuleFlags::Invert;
        let mut to_iif = base("10.0.0.2/32", 100);
        to_iif
            .attributes
            .push(RuleAttribute::Iifname("eth0".into()));
        let mut marked = base("10.0.0.2/32", 100);
        marked.attributes.push(RuleAttribute::FwMark(1));
        let mut unmarked = base("fd00::2/128", 300);
        unmarked.attributes.push(RuleAttribute::FwMark(0));
        unmarked.attributes.push(RuleAttribute::Priority(32765));
        let mut blackhole = base("10.0.0.2/32", 0);
        blackhole.header.action = RuleAction::Blackhole;
        let cases = [
            (base("10.0.0.2/32", 100), Some("10.0.0.2"), 100),
            (unmarked, Some("fd00::2"), 300),
            (base("10.0.0.0/24", 100), None, 100),
            (inverted, None, 100),
            (to_iif, None, 100),
            (marked, None, 100),
            (blackhole, None, 0),
        ];
        for (m, want, table) in cases {
            let r = Rule::of(m.clone());
            assert_eq!(r.source(), want.map(|w| w.parse().unwrap()), "{m:?}");
            assert_eq!(r.table, table, "{m:?}");
        }
        let r = Rule::of(base("10.0.0.2/32", 1000));
        assert_eq!(r.describe(), "from 10.0.0.2/32 lookup 1000");
    }
}
