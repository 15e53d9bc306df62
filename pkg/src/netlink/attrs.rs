//! Link attributes beyond the basic `ip link set` verbs of `link.rs`:
//! transmit queue length and all-multicast mode, plus finding
//! the host end of a container's veth across namespaces (tuning and
//! bandwidth both act on it).

use netlink_packet_core::{DefaultNla, NLA_F_NESTED};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use rtnetlink::LinkUnspec;

use super::nla::Attrs;
use super::{Link, LinkId, Netlink};
use crate::error::Result;
use crate::ns::Netns;

/// Longest alias the kernel keeps (IFALIASZ - 1).
pub const MAX_ALIAS_LEN: usize = 255;

impl Link {
    /// `qlen` of `ip link show` (IFLA_TXQLEN); 0 when not reported.
    pub fn txqlen(&self) -> u32 {
        self.message
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::TxQueueLen(q) => Some(*q),
                _ => None,
            })
            .unwrap_or(0)
    }

    pub fn is_allmulti(&self) -> bool {
        self.flags.contains(LinkFlags::Allmulti)
    }

    /// The MTUs the kernel accepts for this link (IFLA_MIN_MTU,
    /// IFLA_MAX_MTU): None for a bound not reported, or a maximum of 0,
    /// which the kernel reads as "no maximum".
    pub fn mtu_bounds(&self) -> (Option<u32>, Option<u32>) {
        let (mut min, mut max) = (None, None);
        for a in &self.message.attributes {
            match a {
                LinkAttribute::MinMtu(m) => min = Some(*m),
                LinkAttribute::MaxMtu(m) if *m > 0 => max = Some(*m),
                _ => {}
            }
        }
        (min, max)
    }

    /// Whether the link's addresses are Ethernet MACs (ARPHRD_ETHER).
    pub fn is_ethernet(&self) -> bool {
        self.message.header.link_layer_type == LinkLayerType::Ether
    }
}

fn by_id(id: LinkId<'_>) -> netlink_packet_route::link::LinkMessage {
    match id {
        LinkId::Index(i) => LinkUnspec::new_with_index(i).build(),
        LinkId::Name(n) => LinkUnspec::new_with_name(n).build(),
    }
}

/// `IPV4_DEVCONF_ARP_NOTIFY`: the index of `arp_notify` among a link's
/// IPv4 settings (`/proc/sys/net/ipv4/conf/<link>/arp_notify`).
pub const IPV4_DEVCONF_ARP_NOTIFY: u16 = 22;

impl Netlink {
    /// Set IPv4 per-link settings (the `net.ipv4.conf.<link>.*` sysctls)
    /// by their IPV4_DEVCONF index, over netlink (IFLA_AF_SPEC / AF_INET /
    /// IFLA_INET_CONF): no `/proc/sys` path to resolve, which is slow in a
    /// namespace among many (every namespace has a `conf/eth0`, and the
    /// lookup compares them all).
    pub fn link_set_ipv4_conf(&mut self, index: u32, values: &[(u16, u32)]) -> Result<()> {
        const IFLA_AF_SPEC: u16 = 26;
        const IFLA_INET_CONF: u16 = 1;
        let mut af = Attrs::new();
        af.nest(libc::AF_INET as u16, |inet| {
            inet.nest(IFLA_INET_CONF, |conf| {
                for (id, v) in values {
                    conf.put(*id, &v.to_ne_bytes());
                }
            });
        });
        let mut msg = LinkUnspec::new_with_index(index).build();
        msg.attributes.push(LinkAttribute::Other(DefaultNla::new(
            IFLA_AF_SPEC | NLA_F_NESTED,
            af.into_bytes(),
        )));
        self.link_set(msg, || format!("set ipv4 settings of link index {index}"))
    }

    /// `ip link set <id> txqueuelen <len>`.
    pub fn link_set_txqlen(&mut self, id: LinkId<'_>, len: u32) -> Result<()> {
        let mut msg = by_id(id);
        msg.attributes.push(LinkAttribute::TxQueueLen(len));
        self.link_set(msg, || format!("set link {id} txqueuelen {len}"))
    }

    /// `ip link set <id> allmulticast on|off`.
    pub fn link_set_allmulti(&mut self, id: LinkId<'_>, on: bool) -> Result<()> {
        let mut msg = by_id(id);
        msg.header.flags = if on {
            LinkFlags::Allmulti
        } else {
            LinkFlags::empty()
        };
        msg.header.change_mask = LinkFlags::Allmulti;
        self.link_set(msg, || {
            format!(
                "set link {id} allmulticast {}",
                if on { "on" } else { "off" }
            )
        })
    }

    /// The id under which this socket's namespace knows `ns` (what links
    /// report as IFLA_LINK_NETNSID), or None when none is assigned.
    pub fn netnsid_of(&mut self, ns: &Netns) -> Result<Option<i32>> {
        use std::os::fd::AsRawFd;
        let mut msg = NsidMessage::default();
        let fd = u32::try_from(ns.as_raw_fd()).unwrap_or(u32::MAX);
        msg.attributes.push(NsidAttribute::Fd(fd));
        let replies = self.request(RouteNetlinkMessage::GetNsId(msg), 0, || {
            format!("get the netns id of {}", ns.path().display())
        })?;
        Ok(replies.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewNsId(m) => m.attributes.into_iter().find_map(|a| match a {
                NsidAttribute::Id(id) if id >= 0 => Some(id),
                _ => None,
            }),
            _ => None,
        }))
    }

    /// The host end of the container veth `ctr` (read from `ctr_ns`) when
    /// it lives in this socket's namespace: the link at `ctr`'s IFLA_LINK
    /// index, itself a veth pointing back at `ctr` from the namespace
    /// `ctr_ns`. Indexes are per namespace, so each of these checks rules
    /// out an unrelated link that merely has the right index. None for
    /// anything else (not a veth, peer elsewhere).
    pub fn veth_peer_of(&mut self, ctr: &Link, ctr_ns: &Netns) -> Result<Option<Link>> {
        if ctr.kind.as_deref() != Some("veth") {
            return Ok(None);
        }
        let (Some(peer_index), Some(_)) = (ctr.parent, ctr.link_netnsid) else {
            return Ok(None);
        };
        let Some(peer) = self.link_find(LinkId::Index(peer_index))? else {
            return Ok(None);
        };
        if peer.kind.as_deref() != Some("veth") || peer.parent != Some(ctr.index) {
            return Ok(None);
        }
        let Some(peer_nsid) = peer.link_netnsid else {
            return Ok(None);
        };
        // Asked after the link dump above, which assigns the id if needed.
        match self.netnsid_of(ctr_ns) {
            Ok(Some(id)) if id == peer_nsid => Ok(Some(peer)),
            Ok(_) => Ok(None),
            // A kernel without RTM_GETNSID by fd: the index checks stand.
            Err(_) => Ok(Some(peer)),
        }
    }
}
