//! macvlan CHECK: the master still exists, and the container interface in
//! `prevResult` is a macvlan on it, in the configured mode, with its MAC,
//! addresses and routes.

use pkg::netlink::macvlan::{self, Mode};
use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Error, Result, iface, ipam};

use crate::config::MacvlanConf;

pub fn check(args: &CmdArgs) -> Result<()> {
    let mut conf = MacvlanConf::load(args)?;
    let ns = args.netns()?;
    let mut ctr = Netlink::in_netns(ns)?;
    let master = if conf.link_in_container {
        conf.resolve_master(&mut ctr, &format!("container netns {}", args.netns_path))?
    } else {
        conf.resolve_master(&mut Netlink::new()?, "host netns")?
    };
    if conf.layer3 {
        ipam::check(args)?;
    }
    let result = args
        .conf
        .parse_prev_result()?
        .ok_or_else(|| Error::invalid_config("required prevResult missing", ""))?;
    let entry = result
        .interfaces
        .iter()
        .find(|i| i.name == args.ifname && i.sandbox == args.netns_path)
        .ok_or_else(|| {
            Error::internal(format!(
                "container interface {} with sandbox {} missing from prevResult",
                args.ifname, args.netns_path
            ))
        })?;
    let link = ctr.link_find(LinkId::Name(&args.ifname))?.ok_or_else(|| {
        Error::internal(format!(
            "container interface {} from prevResult not found in {}",
            args.ifname, args.netns_path
        ))
    })?;
    if link.kind.as_deref() != Some("macvlan") {
        return Err(Error::internal(format!(
            "container interface {} is not a macvlan",
            args.ifname
        )));
    }
    // IFLA_LINK is the master's index in the master's own namespace.
    if link.parent != Some(master.index) {
        return Err(Error::internal(format!(
            "container interface {} is not on master {}",
            args.ifname, master.name
        )));
    }
    match macvlan::mode_of(&link) {
        Some(m) if m == conf.mode => {}
        found => {
            return Err(Error::internal(format!(
                "container macvlan mode {} does not match expected value: {}",
                found.map(Mode::as_str).unwrap_or("unknown"),
                conf.mode.as_str()
            )));
        }
    }
    if !entry.mac.is_empty() && entry.mac != link.mac_string() {
        return Err(Error::internal(format!(
            "interface {} MAC {} doesn't match: {} found",
            entry.name,
            entry.mac,
            link.mac_string()
        )));
    }
    check_addresses(&mut ctr, &args.ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}

fn check_addresses(nl: &mut Netlink, ifname: &str, link: &Link, result: &CniResult) -> Result<()> {
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
    Ok(())
}
