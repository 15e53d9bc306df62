//! bridge CHECK: the attachment in `prevResult` still exists as created:
//! the bridge, the container veth, its host peer on the bridge, the
//! addresses and the routes.

use pkg::attach;
use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::types::Interface;
use pkg::{Error, Result, iface, ipam};

use crate::config::BridgeConf;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load(args)?;
    let ns = args.netns()?;
    if conf.layer3 {
        ipam::check(args)?;
    }
    let result = args.prev_result()?;
    let br_entry = result
        .interfaces
        .iter()
        .find(|i| i.name == conf.bridge)
        .cloned()
        .unwrap_or_default();

    let mut host = Netlink::new()?;
    let bridge = check_bridge(&mut host, &br_entry, &conf)?;
    let ctr_entry = attach::container_entry(args, &result)?;
    let mut ctr = Netlink::in_netns(ns)?;
    let lost = format!(
        "CNI created interface in container {} not found",
        args.ifname
    );
    let ctr_link = check_link(&mut ctr, ctr_entry, "container interface", lost)?;
    expect_kind(&ctr_link, "veth", || {
        format!("container interface {} is not a veth", args.ifname)
    })?;
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
    let Some((entry, link)) = found else {
        return Err(Error::internal(format!(
            "CNI veth created for bridge {} was not found",
            conf.bridge
        )));
    };
    attach::check_mac("interface", entry, &link)?;
    attach::check_addresses(&mut ctr, &args.ifname, &ctr_link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}

/// The link of a result entry, with the MAC the entry records; any
/// failure is reported under `context`.
fn check_link(nl: &mut Netlink, entry: &Interface, what: &str, context: String) -> Result<Link> {
    let mut found = || {
        if entry.name.is_empty() {
            return Err(Error::internal(format!("{what} missing from prevResult")));
        }
        let link = nl.link_get(LinkId::Name(&entry.name))?;
        attach::check_mac(what, entry, &link)?;
        Ok(link)
    };
    found().map_err(|e| e.context(context))
}

fn expect_kind(link: &Link, kind: &str, wrong: impl FnOnce() -> String) -> Result<()> {
    if link.kind.as_deref() != Some(kind) {
        return Err(Error::internal(wrong()));
    }
    Ok(())
}

fn check_bridge(host: &mut Netlink, entry: &Interface, conf: &BridgeConf) -> Result<Link> {
    let lost = format!(
        "CNI created bridge {} in host namespace was not found",
        conf.bridge
    );
    let link = check_link(host, entry, "bridge", lost)?;
    expect_kind(&link, "bridge", || {
        format!("interface {} does not have link type of bridge", link.name)
    })?;
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
