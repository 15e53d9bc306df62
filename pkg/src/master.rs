//! The master of a link made on top of another interface: macvlan, ipvlan
//! and vlan share the keys `master`, `mtu` and `linkInContainer` and what
//! Go gives them. [`Master`] holds the three; [`Master::resolve`] finds
//! the master link in the host netns, or in the container's with
//! `linkInContainer` (without a name: the interface of the default route
//! there, for the plugins that allow that), and bounds `mtu` by the
//! master's MTU, all before anything is created.
//!
//! A module of its own rather than part of `netlink`: it reads
//! configuration and answers in spec errors (code 7) naming the key, which
//! the netlink verbs do not. The link itself is made by
//! [`Attachment::add_link`], which any kind uses (dummy has no master);
//! each plugin keeps its own keys, kernel attributes and messages (vlan's
//! required `master`, ipvlan's chained master).

use crate::attach::Attachment;
use crate::error::{Error, Result};
use crate::netlink::{Link, LinkId, Netlink};
use crate::skel::CmdArgs;

/// The main routing table, where Go looks for the default route.
const RT_TABLE_MAIN: u32 = 254;

/// `master`, `mtu` and `linkInContainer` of a config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Master {
    /// The master's name. Empty: the interface of the default route,
    /// filled in by [`Master::resolve`].
    pub name: String,
    /// The new link's MTU; 0 is the master's. Bounded by the master's MTU
    /// in [`Master::resolve`].
    pub mtu: i64,
    /// The master is in the container's netns, not the host's.
    pub in_container: bool,
}

impl Master {
    /// The keys as configured; a `name` that cannot be an interface name
    /// is refused here (code 7), before any kernel lookup.
    pub fn new(name: String, mtu: i64, in_container: bool) -> Result<Master> {
        if !name.is_empty() {
            crate::validate::interface_name(&name).map_err(|e| {
                Error::invalid_config(
                    format!("invalid master name {name:?}: {}", e.msg()),
                    e.details(),
                )
            })?;
        }
        Ok(Master {
            name,
            mtu,
            in_container,
        })
    }

    /// The MTU to create the link with (0: the kernel's default, the
    /// master's). In range once [`Master::resolve`] has passed.
    pub fn link_mtu(&self) -> u32 {
        u32::try_from(self.mtu).unwrap_or(0)
    }

    /// The namespace the master is looked up in, for messages.
    pub fn place(&self, args: &CmdArgs) -> String {
        if self.in_container {
            format!("container netns {}", args.netns_path)
        } else {
            "host netns".into()
        }
    }

    /// ADD: the master, over the attachment's socket in its namespace.
    pub fn resolve_for(&mut self, at: &mut Attachment<'_>) -> Result<Link> {
        let place = self.place(at.args);
        let nl = if self.in_container {
            &mut at.ctr
        } else {
            &mut at.host
        };
        self.resolve(nl, &place)
    }

    /// CHECK: the master, over `ctr` (a socket in the container netns) or
    /// a new one in the host netns.
    pub fn resolve_with(&mut self, args: &CmdArgs, ctr: &mut Netlink) -> Result<Link> {
        let place = self.place(args);
        if self.in_container {
            self.resolve(ctr, &place)
        } else {
            self.resolve(&mut Netlink::new()?, &place)
        }
    }

    /// The master link, looked up over `nl` (`place` names its namespace
    /// in messages), and the MTU checked against it. Without a name, the
    /// interface of the first default route of the main table (IPv4
    /// first, then IPv6) is the master, as in Go.
    pub fn resolve(&mut self, nl: &mut Netlink, place: &str) -> Result<Link> {
        if self.name.is_empty() {
            let index = default_route_interface(nl)?.ok_or_else(|| {
                Error::invalid_config(
                    "no default route interface found",
                    format!(
                        "\"master\" is not set and the {place} has no default route to take it from"
                    ),
                )
            })?;
            self.name = nl.link_get(LinkId::Index(index))?.name;
        }
        let master = nl.link_find(LinkId::Name(&self.name))?.ok_or_else(|| {
            Error::invalid_config(
                format!(
                    "failed to lookup master {:?}: no such interface in the {place}",
                    self.name
                ),
                "",
            )
        })?;
        if self.mtu < 0 || self.mtu > i64::from(master.mtu) {
            return Err(Error::invalid_config(
                format!(
                    "invalid MTU {}, must be [0, master MTU({})]",
                    self.mtu, master.mtu
                ),
                format!("master {}", master.name),
            ));
        }
        Ok(master)
    }
}

/// CHECK: `link`, the container's `ifname`, is on `master`. IFLA_LINK is
/// the master's index in the master's own namespace, whichever namespace
/// the link is in.
pub fn check_parent(ifname: &str, link: &Link, master: &Link) -> Result<()> {
    if link.parent != Some(master.index) {
        return Err(Error::internal(format!(
            "container interface {ifname} is not on master {}",
            master.name
        )));
    }
    Ok(())
}

/// The output interface of the first default route in the main table.
fn default_route_interface(nl: &mut Netlink) -> Result<Option<u32>> {
    for v4 in [true, false] {
        let found = nl
            .route_list(v4, None)?
            .into_iter()
            .find(|r| r.table == Some(RT_TABLE_MAIN) && r.dst.prefix_len() == 0 && r.oif.is_some());
        if let Some(r) = found {
            return Ok(r.oif);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mtus() {
        let ok = Master::new("eth1".into(), 9000, true).unwrap();
        assert_eq!(ok.link_mtu(), 9000);
        assert_eq!(Master::new(String::new(), 0, false).unwrap().link_mtu(), 0);
        // out of range for u32: refused by resolve, 0 until then
        assert_eq!(Master::new("m".into(), -1, false).unwrap().link_mtu(), 0);
        for bad in ["a/b", "much-too-long-name", ".", "a b"] {
            let e = Master::new(bad.into(), 0, false).unwrap_err();
            assert_eq!(e.code(), 7, "{bad}");
            assert!(
                e.msg().starts_with(&format!("invalid master name {bad:?}")),
                "{bad}: {e}"
            );
        }
    }
}
