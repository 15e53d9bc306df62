//! Links: the `ip link` verbs.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage, State,
};
use nix::errno::Errno;
use rtnetlink::LinkUnspec;

use super::rt::Rt;
use super::socket::kernel_said;
use super::{NETLINK_ROUTE, Netlink, Socket};
use crate::error::Result;
use crate::ns::Netns;

/// A link by index or by name.
#[derive(Debug, Clone, Copy)]
pub enum LinkId<'a> {
    Index(u32),
    Name(&'a str),
}

impl std::fmt::Display for LinkId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkId::Index(i) => write!(f, "index {i}"),
            LinkId::Name(n) => f.write_str(n),
        }
    }
}

/// The attributes of a link the suite looks at; `message` has the rest.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Vec<u8>,
    pub mtu: u32,
    pub flags: LinkFlags,
    pub oper_state: Option<State>,
    /// `veth`, `bridge`, `macvlan`, ... (IFLA_INFO_KIND).
    pub kind: Option<String>,
    /// The bridge/bond this link is enslaved to (IFLA_MASTER).
    pub master: Option<u32>,
    /// IFLA_IFALIAS.
    pub alias: String,
    /// IFLA_LINK: a veth's peer index, a macvlan's parent.
    pub parent: Option<u32>,
    /// Set when `parent` lives in another namespace.
    pub link_netnsid: Option<i32>,
    pub message: LinkMessage,
}

impl Link {
    fn from_message(message: LinkMessage) -> Link {
        let mut link = Link {
            index: message.header.index,
            name: String::new(),
            mac: Vec::new(),
            mtu: 0,
            flags: message.header.flags,
            oper_state: None,
            kind: None,
            master: None,
            alias: String::new(),
            parent: None,
            link_netnsid: None,
            message: LinkMessage::default(),
        };
        for attr in &message.attributes {
            match attr {
                LinkAttribute::IfName(n) => link.name = n.clone(),
                LinkAttribute::Address(a) => link.mac = a.clone(),
                LinkAttribute::Mtu(m) => link.mtu = *m,
                LinkAttribute::OperState(s) => link.oper_state = Some(*s),
                LinkAttribute::Controller(m) => link.master = Some(*m),
                LinkAttribute::Link(l) => link.parent = Some(*l),
                LinkAttribute::IfAlias(a) => link.alias = a.clone(),
                LinkAttribute::LinkNetNsId(n) => link.link_netnsid = Some(*n),
                LinkAttribute::LinkInfo(infos) => link.kind = info_kind(infos),
                _ => {}
            }
        }
        link.message = message;
        link
    }

    pub fn is_up(&self) -> bool {
        self.flags.contains(LinkFlags::Up)
    }

    pub fn is_promisc(&self) -> bool {
        self.flags.contains(LinkFlags::Promisc)
    }

    /// The kind-specific settings (IFLA_INFO_DATA: a macvlan's mode, a
    /// vlan's id, ...), for the plugin of that kind to read.
    pub fn info_data(&self) -> Option<&InfoData> {
        self.message
            .attributes
            .iter()
            .filter_map(|a| match a {
                LinkAttribute::LinkInfo(infos) => Some(infos),
                _ => None,
            })
            .flatten()
            .find_map(|i| match i {
                LinkInfo::Data(data) => Some(data),
                _ => None,
            })
    }

    /// The MAC as `aa:bb:cc:dd:ee:ff` (empty for links without one).
    pub fn mac_string(&self) -> String {
        format_mac(&self.mac)
    }
}

pub fn format_mac(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn info_kind(infos: &[LinkInfo]) -> Option<String> {
    infos.iter().find_map(|info| match info {
        LinkInfo::Kind(k) => Some(InfoKind::to_string(k)),
        _ => None,
    })
}

/// The kind (IFLA_INFO_KIND) a link message asks for.
pub fn kind_of(msg: &LinkMessage) -> Option<String> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => info_kind(infos),
        _ => None,
    })
}

/// The kernel module that provides links of `kind`, for messages.
pub fn module_of(kind: &str) -> &str {
    match kind {
        "vlan" => "8021q",
        other => other,
    }
}

/// `RTNLGRP_LINK`: the multicast group of link notifications.
const RTNLGRP_LINK: u32 = 1;

/// A namespace's link notifications, to learn that a link reached a state
/// without asking for it. Asking (RTM_GETLINK) takes the rtnl lock, which
/// the kernel's own link-state work holds while it runs (`linkwatch`: a
/// veth's carrier coming on, a bridge port's state, the IPv6 work that
/// follows), so a request sent meanwhile spins on the lock on its CPU for
/// as long as that work takes; a notification is waited for asleep. The
/// kernel notifies every change of a link's operational state and address.
pub struct LinkEvents {
    socket: Socket<Rt>,
    /// The link whose address is followed, and the last one notified.
    tracked: Option<(u32, Option<Vec<u8>>)>,
    /// Notifications were lost (or could not be read): what was missed is
    /// unknown.
    lost: bool,
}

impl LinkEvents {
    /// Subscribed in the calling thread's network namespace: open it
    /// before doing what will change the link, and before reading what
    /// [`track_address`](LinkEvents::track_address) will follow.
    pub fn open() -> Result<LinkEvents> {
        let mut socket = Socket::open(NETLINK_ROUTE)?;
        socket.subscribe(RTNLGRP_LINK)?;
        Ok(LinkEvents {
            socket,
            tracked: None,
            lost: false,
        })
    }

    /// Follows the hardware address of link `index` from now on (a
    /// bridge's changes as ports join and leave).
    pub fn track_address(&mut self, index: u32) {
        self.tracked = Some((index, None));
    }

    /// The tracked link's address as notified since
    /// [`track_address`](LinkEvents::track_address), reading all that is
    /// queued now: `Some(None)` when it was not notified (so it is what it
    /// was when tracking began), `None` when that cannot be known
    /// (notifications lost): the caller then asks.
    pub fn tracked_address(&mut self) -> Option<Option<Vec<u8>>> {
        // Read until nothing is queued; a namespace that keeps notifying
        // faster than that is asked instead.
        for _ in 0..16 {
            if self.next(None, Instant::now()).is_none() {
                if self.lost {
                    return None;
                }
                return self.tracked.as_ref().map(|(_, mac)| mac.clone());
            }
        }
        None
    }

    /// The first notified description of link `index` for which `done`
    /// holds, waiting up to `limit`. `None` when none came by then, when
    /// the link was deleted, or when notifications were lost (the socket's
    /// buffer overflowed on a busy node): the caller then asks.
    pub fn wait_for(
        &mut self,
        index: u32,
        limit: Duration,
        done: impl Fn(&Link) -> bool,
    ) -> Option<Link> {
        let deadline = Instant::now() + limit;
        loop {
            for msg in self.next(Some(index), deadline)? {
                match msg.0 {
                    RouteNetlinkMessage::NewLink(l) if l.header.index == index => {
                        let link = Link::from_message(l);
                        if done(&link) {
                            return Some(link);
                        }
                    }
                    RouteNetlinkMessage::DelLink(l) if l.header.index == index => return None,
                    _ => {}
                }
            }
        }
    }

    /// The notifications about link `index` or the tracked one queued by
    /// `deadline`, the tracked address followed; `None` at the deadline or
    /// once notifications are lost.
    fn next(&mut self, index: Option<u32>, deadline: Instant) -> Option<Vec<Rt>> {
        if self.lost {
            return None;
        }
        let tracked = self.tracked.as_ref().map(|(i, _)| *i);
        // A link message's payload starts with `struct ifinfomsg`, whose
        // index is at offset 4.
        let wanted = |payload: &[u8]| {
            let at = payload
                .get(4..8)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_ne_bytes);
            at.is_some() && (at == index || at == tracked)
        };
        let msgs = match self.socket.next_notifications(deadline, &wanted) {
            Ok(msgs) => msgs?,
            Err(_) => {
                self.lost = true;
                return None;
            }
        };
        if let Some((index, mac)) = &mut self.tracked {
            for msg in &msgs {
                if let RouteNetlinkMessage::NewLink(l) = &msg.0
                    && l.header.index == *index
                    && let Some(a) = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Address(a) => Some(a),
                        _ => None,
                    })
                {
                    *mac = Some(a.clone());
                }
            }
        }
        Some(msgs)
    }
}

/// The links among a request's replies.
fn links(replies: Vec<RouteNetlinkMessage>) -> impl Iterator<Item = Link> {
    replies.into_iter().filter_map(|m| match m {
        RouteNetlinkMessage::NewLink(l) => Some(Link::from_message(l)),
        _ => None,
    })
}

fn id_message(id: LinkId<'_>) -> LinkMessage {
    match id {
        LinkId::Index(i) => LinkUnspec::new_with_index(i).build(),
        LinkId::Name(n) => LinkUnspec::new_with_name(n).build(),
    }
}

/// Asks the kernel to leave the link's counters out of its answer: the
/// suite reads none (the decoder skips them anyway, see `rt.rs`), and
/// the kernel then has less to gather and copy.
fn skip_stats() -> LinkAttribute {
    LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats])
}

impl Netlink {
    /// `ip link show <id>`; a missing link is ENODEV.
    pub fn link_get(&mut self, id: LinkId<'_>) -> Result<Link> {
        let mut msg = id_message(id);
        msg.attributes.push(skip_stats());
        let replies = self.request(RouteNetlinkMessage::GetLink(msg), 0, || {
            format!("get link {id}")
        })?;
        links(replies).next().ok_or_else(|| {
            crate::Error::kernel(format!("get link {id}"), nix::errno::Errno::ENODEV)
        })
    }

    /// `ip link show <id>`, with a missing link as `None`.
    pub fn link_find(&mut self, id: LinkId<'_>) -> Result<Option<Link>> {
        match self.link_get(id) {
            Ok(l) => Ok(Some(l)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `ip link show`.
    pub fn link_list(&mut self) -> Result<Vec<Link>> {
        let mut req = LinkMessage::default();
        req.attributes.push(skip_stats());
        let replies = self.dump(RouteNetlinkMessage::GetLink(req), || "list links".into())?;
        Ok(links(replies).collect())
    }

    /// `ip link add ...`: create from a message built with rtnetlink's
    /// builders; fails with EEXIST if the name is taken. A kernel without
    /// the link's kind (built without it, or the module not loadable)
    /// refuses with EOPNOTSUPP, "Unknown device type": that error is
    /// explained as `the kernel has no <kind> support (module <module>)`,
    /// keeping the errno, because the same errno also means a refusal by
    /// a kind the kernel has (a VLAN on a device that cannot carry one).
    pub fn link_add(&mut self, msg: LinkMessage, what: &str) -> Result<()> {
        self.link_create(msg, what, 0).map(drop)
    }

    /// [`link_add`](Netlink::link_add), returning the new link as the
    /// kernel describes it right after creating it (NLM_F_ECHO: Linux 6.3
    /// and later answer with it, which saves reading it back; older ones
    /// do not, and `None` says so).
    pub fn link_add_echo(&mut self, msg: LinkMessage, what: &str) -> Result<Option<Link>> {
        let replies = self.link_create(msg, what, NLM_F_ECHO)?;
        Ok(links(replies).next())
    }

    fn link_create(
        &mut self,
        msg: LinkMessage,
        what: &str,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let kind = kind_of(&msg);
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL | flags,
            || format!("add link {what}"),
        )
        .map_err(|e| match kind {
            Some(kind)
                if e.is_errno(Errno::EOPNOTSUPP) && kernel_said(&e, "Unknown device type") =>
            {
                let module = module_of(&kind);
                e.explained(format!(
                    "the kernel has no {kind} support (module {module})"
                ))
            }
            _ => e,
        })
    }

    /// `ip link set ...` with arbitrary attributes.
    pub fn link_set(&mut self, msg: LinkMessage, what: impl Fn() -> String) -> Result<()> {
        self.request(RouteNetlinkMessage::SetLink(msg), 0, what)
            .map(drop)
    }

    /// `ip link del <id>`.
    pub fn link_del(&mut self, id: LinkId<'_>) -> Result<()> {
        self.request(RouteNetlinkMessage::DelLink(id_message(id)), 0, || {
            format!("delete link {id}")
        })
        .map(drop)
    }

    /// `ip link set <id> up`.
    pub fn link_set_up(&mut self, id: LinkId<'_>) -> Result<()> {
        let mut msg = id_message(id);
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.link_set(msg, || format!("set link {id} up"))
    }

    /// `ip link set <id> down`.
    pub fn link_set_down(&mut self, id: LinkId<'_>) -> Result<()> {
        let mut msg = id_message(id);
        msg.header.flags = LinkFlags::empty();
        msg.header.change_mask = LinkFlags::Up;
        self.link_set(msg, || format!("set link {id} down"))
    }

    /// `ip link set <id> promisc on|off`.
    pub fn link_set_promisc(&mut self, id: LinkId<'_>, on: bool) -> Result<()> {
        let mut msg = id_message(id);
        msg.header.flags = if on {
            LinkFlags::Promisc
        } else {
            LinkFlags::empty()
        };
        msg.header.change_mask = LinkFlags::Promisc;
        self.link_set(msg, || {
            format!("set link {id} promisc {}", if on { "on" } else { "off" })
        })
    }

    /// `ip link set <id> mtu <mtu>`.
    pub fn link_set_mtu(&mut self, id: LinkId<'_>, mtu: u32) -> Result<()> {
        let mut msg = id_message(id);
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        self.link_set(msg, || format!("set link {id} mtu {mtu}"))
    }

    /// `ip link set <id> address <mac>`.
    pub fn link_set_mac(&mut self, id: LinkId<'_>, mac: &[u8]) -> Result<()> {
        let mut msg = id_message(id);
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        self.link_set(msg, || format!("set link {id} address {}", format_mac(mac)))
    }

    /// `ip link set <id> alias <text>`; an empty text removes the alias.
    pub fn link_set_alias(&mut self, id: LinkId<'_>, alias: &str) -> Result<()> {
        let mut msg = id_message(id);
        msg.attributes
            .push(LinkAttribute::IfAlias(alias.to_string()));
        self.link_set(msg, || format!("set link {id} alias {alias:?}"))
    }

    /// `ip link set <id> name <name>`.
    pub fn link_set_name(&mut self, index: u32, name: &str) -> Result<()> {
        let mut msg = LinkUnspec::new_with_index(index).build();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.link_set(msg, || format!("rename link index {index} to {name}"))
    }

    /// `ip link set <id> master <index>`; `None` means `nomaster`.
    pub fn link_set_master(&mut self, id: LinkId<'_>, master: Option<u32>) -> Result<()> {
        let mut msg = id_message(id);
        msg.attributes
            .push(LinkAttribute::Controller(master.unwrap_or(0)));
        self.link_set(msg, || match master {
            Some(m) => format!("set link {id} master index {m}"),
            None => format!("set link {id} nomaster"),
        })
    }

    /// `ip link set <id> netns <ns>`.
    pub fn link_set_netns(&mut self, id: LinkId<'_>, ns: &Netns) -> Result<()> {
        let mut msg = id_message(id);
        msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        self.link_set(msg, || {
            format!("move link {id} to netns {}", ns.path().display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::{LinkDummy, LinkVlan};

    #[test]
    fn kinds_and_their_modules() {
        let cases = [
            (LinkDummy::new("d0").build(), Some("dummy"), "dummy"),
            (LinkVlan::new("v0", 2, 100).build(), Some("vlan"), "8021q"),
            (LinkUnspec::new_with_name("x").build(), None, ""),
        ];
        for (msg, kind, module) in cases {
            assert_eq!(kind_of(&msg).as_deref(), kind);
            if let Some(k) = kind {
                assert_eq!(module_of(k), module);
            }
        }
        assert_eq!(module_of("ipvlan"), "ipvlan");
    }

    #[cfg(feature = "testkit")]
    #[test]
    fn link_events_see_a_veth_come_up_and_go() {
        crate::require_root!();
        let ns = crate::testkit::TestNs::new("link-events");
        ns.ip(&["link", "add", "ev0", "type", "veth", "peer", "name", "ev1"]);
        ns.ip(&["link", "set", "ev0", "up"]);
        let (mut events, index) = ns
            .open()
            .run(|| {
                let index = Netlink::new()?.link_get(LinkId::Name("ev0"))?.index;
                Ok((LinkEvents::open()?, index))
            })
            .unwrap();
        let up = |l: &Link| l.oper_state == Some(State::Up);
        let short = Duration::from_millis(200);
        // Nothing changes yet: the wait ends empty at its limit.
        let start = Instant::now();
        assert!(events.wait_for(index, short, up).is_none());
        assert!(start.elapsed() >= short);
        // The peer coming up gives ev0 its carrier.
        ns.ip(&["link", "set", "ev1", "up"]);
        let link = events.wait_for(index, Duration::from_secs(5), up).unwrap();
        assert_eq!((link.index, link.name.as_str()), (index, "ev0"));
        assert_eq!(link.mac.len(), 6);
        // An address change of a tracked link is followed.
        events.track_address(index);
        assert_eq!(events.tracked_address(), Some(None));
        ns.ip(&["link", "set", "ev0", "address", "02:00:00:00:00:42"]);
        assert_eq!(
            events.tracked_address(),
            Some(Some(vec![2, 0, 0, 0, 0, 0x42]))
        );
        // A deleted link ends the wait at once.
        ns.ip(&["link", "del", "ev0"]);
        let start = Instant::now();
        assert!(
            events
                .wait_for(index, Duration::from_secs(5), |_| false)
                .is_none()
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
