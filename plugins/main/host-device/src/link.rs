//! Moving the device between the host and the container. Each move is one
//! RTM_SETLINK: the kernel moves the device (closing it), then renames it
//! and sets its alias and MTU in the target, all under one rtnl lock, so
//! that no other program (udev, NetworkManager) sees the device under a
//! passing name and a plugin killed at any point leaves it either where
//! it was or where it was going (Go moves it through a temporary netns in
//! three steps).

use std::os::fd::AsRawFd;

use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use nix::errno::Errno;

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::ns::Netns;
use pkg::{Context, Result};

use crate::state::Record;

/// Moves `link` (a device of the namespace `from` talks to) to `to`,
/// renamed `name`, with `alias` (empty: none) and, unless 0, `mtu`.
fn send(
    from: &mut Netlink,
    link: &Link,
    to: &Netns,
    name: &str,
    alias: &str,
    mtu: u32,
) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = link.index;
    msg.attributes.push(LinkAttribute::NetNsFd(to.as_raw_fd()));
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes
        .push(LinkAttribute::IfAlias(alias.to_string()));
    if mtu != 0 {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
    }
    from.link_set(msg, || {
        format!(
            "move {} to netns {} as {name}",
            link.name,
            to.path().display()
        )
    })
}

/// Moves the host's `link` into the container as `ifname`, its alias
/// naming its host name.
pub fn move_in(host: &mut Netlink, link: &Link, ctr: &Netns, ifname: &str) -> Result<()> {
    send(host, link, ctr, ifname, &link.name, 0).map_err(|e| {
        let why = if e.is_errno(Errno::EEXIST) {
            format!("the container already has an interface named {ifname}")
        } else if e.is_errno(Errno::EINVAL) {
            format!("the kernel does not let {} change namespace", link.name)
        } else {
            e.msg()
        };
        e.explained(format!(
            "failed to move host device {} into the container as {ifname}: {why}",
            link.name
        ))
    })
}

/// Puts `link`, a moved device seen through `from` (the container's
/// socket, or the host's for a device the kernel returned), back on the
/// host under `rec`'s name and MTU, without alias, up if it was.
pub fn move_out(from: &mut Netlink, link: &Link, rec: &Record) -> Result<()> {
    let host = Netns::current()?;
    send(from, link, &host, &rec.name, "", rec.mtu).map_err(|e| {
        let why = if e.is_errno(Errno::EEXIST) {
            format!("the host has another interface named {}", rec.name)
        } else {
            e.msg()
        };
        e.explained(format!(
            "failed to return {} to the host as {}: {why}",
            link.name, rec.name
        ))
    })?;
    if rec.up {
        Netlink::new()?
            .link_set_up(LinkId::Name(&rec.name))
            .with_context(|| format!("failed to set host device {} up", rec.name))?;
    }
    Ok(())
}

/// The device of `rec` among the links `nl` sees, by MAC and name or
/// alias.
pub fn find(nl: &mut Netlink, rec: &Record) -> Result<Option<Link>> {
    Ok(nl.link_list()?.into_iter().find(|l| rec.is(l)))
}

/// Undoes a move into the container: the device is looked for there
/// (under `ifname`, or its own name if the kernel moved it and refused
/// the rename), then on the host (a move that did not happen); a device
/// found nowhere was not moved by this ADD (a veth end dies with its
/// netns) and needs nothing.
pub fn put_back(ctr: &Netns, ifname: &str, rec: &Record) -> Result<()> {
    let mut c = Netlink::in_netns(ctr)?;
    let inside = c
        .link_find(LinkId::Name(ifname))?
        .filter(|l| l.mac_string() == rec.mac)
        .or(find(&mut c, rec)?);
    if let Some(link) = inside {
        return move_out(&mut c, &link, rec);
    }
    let mut host = Netlink::new()?;
    match find(&mut host, rec)? {
        Some(link) => restore_on_host(&mut host, &link, rec),
        None => Ok(()),
    }
}

/// A device already on the host (the kernel returned it from a destroyed
/// netns, or it never left): its name, MTU, alias and state as recorded.
pub fn restore_on_host(host: &mut Netlink, link: &Link, rec: &Record) -> Result<()> {
    let id = LinkId::Index(link.index);
    if link.name != rec.name {
        if link.is_up() {
            host.link_set_down(id)?;
        }
        host.link_set_name(link.index, &rec.name).map_err(|e| {
            let why = if e.is_errno(Errno::EEXIST) {
                format!("the host has another interface named {}", rec.name)
            } else {
                e.msg()
            };
            e.explained(format!(
                "failed to rename host device {} back to {}: {why}",
                link.name, rec.name
            ))
        })?;
    }
    if rec.mtu != 0 && link.mtu != rec.mtu {
        host.link_set_mtu(id, rec.mtu)
            .with_context(|| format!("failed to restore the MTU of host device {}", rec.name))?;
    }
    if !link.alias.is_empty() {
        host.link_set_alias(id, "")
            .with_context(|| format!("failed to clear the alias of host device {}", rec.name))?;
    }
    if rec.up && !(link.is_up() && link.name == rec.name) {
        host.link_set_up(id)
            .with_context(|| format!("failed to set host device {} up", rec.name))?;
    }
    Ok(())
}

/// The original name of a device in the container: the record's, or the
/// alias ADD set (Go's record of it). Neither: the link is not a device
/// this plugin moved (another plugin's, or the one an ADD refused to
/// replace), and DEL leaves it alone (Go fails, and a runtime retrying
/// that DEL never succeeds).
pub fn original_name(link: &Link, rec: Option<&Record>) -> Option<Record> {
    if let Some(r) = rec {
        return Some(r.clone());
    }
    if link.alias.is_empty() || pkg::validate::interface_name(&link.alias).is_err() {
        return None;
    }
    Some(Record {
        name: link.alias.clone(),
        mac: link.mac_string(),
        // unknown: Go leaves the device down and its MTU as it is
        mtu: 0,
        up: false,
        physical: false,
        deleted: false,
    })
}
