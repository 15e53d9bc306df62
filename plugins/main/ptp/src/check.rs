//! ptp CHECK: the attachment in `prevResult` still exists as created: the
//! container veth with its addresses, the point-to-point routes and the
//! IPAM routes, and (unlike Go, which stops at the container) the host end
//! with its gateway addresses and the host route to each container address.

use pkg::attach;
use pkg::netlink::{Link, LinkId, Netlink, RouteSpec};
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Error, Result, iface, ipam};

use crate::add::host_net;
use crate::config::PtpConf;

pub fn check(args: &CmdArgs) -> Result<()> {
    PtpConf::load(args)?;
    let ns = args.netns()?;
    ipam::check(args)?;
    let result = args.prev_result()?;
    let ctr_entry = attach::container_entry(args, &result)?;
    let mut ctr = Netlink::in_netns(ns)?;
    let ctr_link = attach::container_link(&mut ctr, args, "veth")?;
    attach::check_mac("interface", ctr_entry, &ctr_link)?;

    let mut host = Netlink::new()?;
    let host_link = host_end(&mut host, &ctr_link, &args.ifname)?;
    if let Some(entry) = result
        .interfaces
        .iter()
        .find(|i| i.sandbox.is_empty() && i.name == host_link.name)
    {
        attach::check_mac("interface", entry, &host_link)?;
    }

    check_container(&mut ctr, &args.ifname, &ctr_link, &result)?;
    check_host(&mut host, &host_link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}

/// The host end of the container veth: the link IFLA_LINK names, which must
/// be a veth pointing back at the container end.
fn host_end(host: &mut Netlink, ctr_link: &Link, ifname: &str) -> Result<Link> {
    let missing = || Error::internal(format!("host end of the veth of {ifname} not found"));
    let index = ctr_link.parent.ok_or_else(missing)?;
    let link = host.link_find(LinkId::Index(index))?.ok_or_else(missing)?;
    if link.kind.as_deref() != Some("veth") || link.parent != Some(ctr_link.index) {
        return Err(missing());
    }
    Ok(link)
}

fn check_container(nl: &mut Netlink, ifname: &str, link: &Link, result: &CniResult) -> Result<()> {
    let have = nl.addr_list(Some(link.index), None)?;
    let mut routes: [Option<Vec<RouteSpec>>; 2] = [None, None];
    for ip in &result.ips {
        if result.interface_of(ip).is_none_or(|i| i.name != ifname) {
            continue;
        }
        if !have.iter().any(|a| a.address == ip.address) {
            return Err(Error::internal(format!(
                "address {} not found on {ifname}",
                ip.address
            )));
        }
        let Some(gw) = ip.gateway else { continue };
        let slot = &mut routes[usize::from(!ip.is_v4())];
        if slot.is_none() {
            *slot = Some(nl.route_list(ip.is_v4(), Some(link.index))?);
        }
        let list = slot.as_deref().unwrap_or_default();
        let subnet = ip.address.trunc();
        if !list.iter().any(|r| r.dst == host_net(gw) && r.gw.is_none()) {
            return Err(Error::internal(format!(
                "expected route {} dev {ifname} not found in the routing table",
                host_net(gw)
            )));
        }
        if !list.iter().any(|r| r.dst == subnet && r.gw == Some(gw)) {
            return Err(Error::internal(format!(
                "expected route {subnet} via {gw} dev {ifname} not found in the routing table"
            )));
        }
    }
    Ok(())
}

fn check_host(nl: &mut Netlink, veth: &Link, result: &CniResult) -> Result<()> {
    let have = nl.addr_list(Some(veth.index), None)?;
    let mut routes: [Option<Vec<RouteSpec>>; 2] = [None, None];
    for ip in &result.ips {
        let Some(gw) = ip.gateway else { continue };
        if !have.iter().any(|a| a.address == host_net(gw)) {
            return Err(Error::internal(format!(
                "gateway address {} not found on host veth {}",
                host_net(gw),
                veth.name
            )));
        }
        let slot = &mut routes[usize::from(!ip.is_v4())];
        if slot.is_none() {
            *slot = Some(nl.route_list(ip.is_v4(), Some(veth.index))?);
        }
        let want = host_net(ip.address.addr());
        if !slot
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|r| r.dst == want)
        {
            return Err(Error::internal(format!(
                "expected host route {want} dev {} not found in the routing table",
                veth.name
            )));
        }
    }
    Ok(())
}
