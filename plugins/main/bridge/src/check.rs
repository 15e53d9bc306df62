//! bridge CHECK: the attachment in `prevResult` still exists as created:
//! the bridge, the container veth, its host peer on the bridge, the
//! addresses and the routes.

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, Interface};
use pkg::{Error, Result, iface, ipam};

use crate::config::BridgeConf;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load(args)?;
    let ns = args.netns()?;
    if conf.layer3 {
        ipam::check(args)?;
    }
    let result = args
        .conf
        .parse_prev_result()?
        .ok_or_else(|| Error::invalid_config("required prevResult missing", ""))?;
    let find =
        |pred: &dyn Fn(&Interface) -> bool| result.interfaces.iter().find(|i| pred(i)).cloned();
    let br_entry = find(&|i| i.name == conf.bridge).unwrap_or_default();
    let ctr_entry =
        find(&|i| i.name == args.ifname && i.sandbox == args.netns_path).unwrap_or_default();

    let mut host = Netlink::new()?;
    let bridge = check_bridge(&mut host, &br_entry, &conf)?;
    if ctr_entry.name.is_empty() {
        return Err(Error::internal(format!(
            "container interface {} with sandbox {} missing from prevResult",
            args.ifname, args.netns_path
        )));
    }
    if ctr_entry.sandbox != args.netns_path {
        return Err(Error::internal(format!(
            "sandbox in prevResult {:?} doesn't match configured netns {}",
            ctr_entry.sandbox, args.netns_path
        )));
    }
    let mut ctr = Netlink::in_netns(ns)?;
    let ctr_link = check_link(&mut ctr, &ctr_entry, "container interface").map_err(|e| {
        e.context(format!(
            "CNI created interface in container {} not found",
            args.ifname
        ))
    })?;
    if ctr_link.kind.as_deref() != Some("veth") {
        return Err(Error::internal(format!(
            "container interface {} is not a veth",
            args.ifname
        )));
    }
    // The host veth: a result interface whose peer is the container end
    // and whose master is the bridge.
    let found = result
        .interfaces
        .iter()
        .filter(|i| i.name != br_entry.name && i.name != ctr_entry.name && i.sandbox.is_empty())
        .filter_map(|i| {
            host.link_find(LinkId::Name(&i.name))
                .ok()
                .flatten()
                .map(|l| (i, l))
        })
        .find(|(_, l)| {
            l.kind.as_deref() == Some("veth")
                && Some(l.index) == ctr_link.parent
                && l.parent == Some(ctr_link.index)
                && l.master == Some(bridge.index)
        });
    match found {
        None => {
            return Err(Error::internal(format!(
                "CNI veth created for bridge {} was not found",
                conf.bridge
            )));
        }
        Some((entry, link)) if !entry.mac.is_empty() && entry.mac != link.mac_string() => {
            return Err(Error::internal(format!(
                "interface {} MAC {} doesn't match: {} found",
                entry.name,
                entry.mac,
                link.mac_string()
            )));
        }
        Some(_) => {}
    }
    check_addresses_and_routes(&mut ctr, &args.ifname, &ctr_link, &result)
}

fn check_link(nl: &mut Netlink, entry: &Interface, what: &str) -> Result<Link> {
    if entry.name.is_empty() {
        return Err(Error::internal(format!("{what} missing from prevResult")));
    }
    let link = nl.link_get(LinkId::Name(&entry.name))?;
    if !entry.mac.is_empty() && entry.mac != link.mac_string() {
        return Err(Error::internal(format!(
            "{what} {} MAC {} doesn't match: {} found",
            entry.name,
            entry.mac,
            link.mac_string()
        )));
    }
    Ok(link)
}

fn check_bridge(host: &mut Netlink, entry: &Interface, conf: &BridgeConf) -> Result<Link> {
    let link = check_link(host, entry, "bridge").map_err(|e| {
        e.context(format!(
            "CNI created bridge {} in host namespace was not found",
            conf.bridge
        ))
    })?;
    if link.kind.as_deref() != Some("bridge") {
        return Err(Error::internal(format!(
            "interface {} does not have link type of bridge",
            link.name
        )));
    }
    if link.is_promisc() != conf.promisc {
        return Err(Error::internal(format!(
            "bridge {} configured promiscMode {} doesn't match current state: {}",
            link.name,
            conf.promisc,
            link.is_promisc()
        )));
    }
    Ok(link)
}

/// Every address of the container interface is on it, and every route of
/// the result is in the container's routing tables.
pub fn check_addresses_and_routes(
    nl: &mut Netlink,
    ifname: &str,
    link: &Link,
    result: &CniResult,
) -> Result<()> {
    let have = nl.addr_list(Some(link.index), None)?;
    for ip in &result.ips {
        let ours = ip
            .interface
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| result.interfaces.get(i))
            .is_some_and(|i| i.name == ifname);
        if ours && !have.iter().any(|a| a.address == ip.address) {
            return Err(Error::internal(format!(
                "address {} not found on {ifname}",
                ip.address
            )));
        }
    }
    iface::check_routes(nl, &result.routes)
}
