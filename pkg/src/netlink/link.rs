//! Links: the `ip link` verbs.

use std::os::fd::AsRawFd;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage, State,
};
use nix::errno::Errno;
use rtnetlink::LinkUnspec;

use super::Netlink;
use super::socket::kernel_said;
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
}
