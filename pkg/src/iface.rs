//! Applying an IPAM result to the container interface (Go's
//! `ipam.ConfigureIface`), waiting for IPv6 addresses to settle, and
//! removing the container interface on DEL.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netlink_packet_route::link::State;

use crate::error::{Context, Error, Result};
use crate::netlink::{AddrFlags, LinkId, Netlink, RouteSpec};
use crate::ns::Netns;
use crate::skel::CmdArgs;
use crate::sysctl::{self, Family};
use crate::types::{CniResult, is_v4_ip};

/// Add the result's addresses for `ifname` (the entries whose `interface`
/// index names it), bring the link up, wait for IPv6 DAD when `settle` is
/// set, then add the routes (a route without `gw` goes via the first
/// gateway of its family). `nl` is a socket in `ns`.
pub fn configure(
    nl: &mut Netlink,
    ns: &Netns,
    ifname: &str,
    result: &CniResult,
    settle: Option<Duration>,
) -> Result<()> {
    let link = nl.link_get(LinkId::Name(ifname))?;
    configure_index(nl, ns, ifname, link.index, result, settle)
}

/// [`configure`] for a caller that already knows the link's index.
pub fn configure_index(
    nl: &mut Netlink,
    ns: &Netns,
    ifname: &str,
    index: u32,
    result: &CniResult,
    settle: Option<Duration>,
) -> Result<()> {
    let mut v4_gw: Option<IpAddr> = None;
    let mut v6_gw: Option<IpAddr> = None;
    let mut ips = Vec::new();
    for ip in &result.ips {
        let Some(idx) = ip.interface else { continue };
        if result.interface_of(ip).map(|i| i.name.as_str()) != Some(ifname) {
            return Err(Error::internal(format!(
                "failed to add IP address {} to {ifname}: invalid interface index {idx}",
                ip.address
            )));
        }
        ips.push(ip);
    }
    if ips.iter().any(|ip| !ip.is_v4()) {
        let ifname = ifname.to_string();
        ns.run(move || enable_ipv6(&ifname))?;
    }
    for ip in &ips {
        nl.addr_add(index, ip.address, AddrFlags::empty())
            .with_context(|| format!("failed to add IP address {} to {ifname}", ip.address))?;
        if let Some(gw) = ip.gateway {
            let slot = if ip.is_v4() { &mut v4_gw } else { &mut v6_gw };
            slot.get_or_insert(gw);
        }
    }
    nl.link_set_up(LinkId::Index(index))
        .with_context(|| format!("failed to set {ifname} up"))?;
    if let (Some(limit), Some(_)) = (settle, v6_gw) {
        settle_addresses(nl, index, ifname, limit)?;
    }
    for r in &result.routes {
        let v4 = is_v4_ip(r.dst.addr());
        let mut spec = RouteSpec::new(r.dst);
        spec.gw = r.gw.or(if v4 { v4_gw } else { v6_gw });
        spec.oif = Some(index);
        spec.priority = r.priority;
        spec.table = r.table;
        spec.mtu = r.mtu;
        spec.advmss = r.advmss;
        if let Some(scope) = r.scope {
            spec.scope = u8::try_from(scope).map_err(|_| {
                Error::invalid_config(format!("route {} has an invalid scope {scope}", r.dst), "")
            })?;
        }
        nl.route_append(&spec)
            .with_context(|| format!("failed to add route {} dev {ifname}", spec.describe()))?;
    }
    Ok(())
}

/// Makes the kernel announce the addresses of `ifname` (in `ns`) when the
/// link comes up: gratuitous ARP (`arp_notify`) and unsolicited neighbour
/// advertisements (`ndisc_notify`), so that the segment's caches learn at
/// once where the addresses now are (macvlan and ipvlan share a segment
/// with other hosts). A failed write only loses the announcement and is
/// ignored, as in Go.
pub fn announce_on_up(ns: &Netns, ifname: &str) -> Result<()> {
    let ifname = ifname.to_string();
    ns.run(move || {
        for (family, leaf) in [(Family::V4, "arp_notify"), (Family::V6, "ndisc_notify")] {
            if let Ok(p) = sysctl::conf_path(family, &ifname, leaf) {
                let _ = sysctl::write(&p, "1");
            }
        }
        Ok(())
    })
}

/// IPv6 must be on for `lo` and the interface before an IPv6 address can
/// be added; only write when it is off (the files may be read-only).
fn enable_ipv6(ifname: &str) -> Result<()> {
    for name in ["lo", ifname] {
        let path = sysctl::conf_path(Family::V6, name, "disable_ipv6")?;
        match sysctl::read(&path) {
            Ok(v) if v.trim() == "0" => {}
            Ok(_) => sysctl::write(&path, "0")
                .with_context(|| format!("failed to enable IPv6 on {name}"))?,
            // No IPv6 in this kernel: the address add will say so clearly.
            Err(_) => {}
        }
    }
    let keep = sysctl::conf_path(Family::V6, ifname, "keep_addr_on_down")?;
    let _ = sysctl::ensure(&keep, "1");
    Ok(())
}

/// Wait until no IPv6 address of the link is tentative. A failed DAD is an
/// error; a link that is not oper-up cannot finish DAD, so the wait ends
/// without error (the addresses will settle once it comes up).
pub fn settle_addresses(nl: &mut Netlink, index: u32, ifname: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(5);
    loop {
        let addrs = nl.addr_list(Some(index), Some(false))?;
        if let Some(bad) = addrs.iter().find(|a| a.dad_failed()) {
            return Err(Error::internal(format!(
                "link {ifname} has address {} in DADFAILED state",
                bad.address
            )));
        }
        if !addrs.iter().any(|a| a.is_tentative()) {
            return Ok(());
        }
        let link = nl.link_get(LinkId::Index(index))?;
        if link
            .oper_state
            .is_some_and(|s| s != State::Up && s != State::Unknown)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::internal(format!(
                "link {ifname} still has tentative addresses after {}s",
                limit.as_secs_f32()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// CHECK helper: every route of a result is in the routing tables (Go's
/// `ValidateExpectedRoute`: destination always, gateway too unless it is a
/// default route).
pub fn check_routes(nl: &mut Netlink, routes: &[crate::types::Route]) -> Result<()> {
    let mut tables: [Option<Vec<RouteSpec>>; 2] = [None, None];
    for r in routes {
        let v4 = is_v4_ip(r.dst.addr());
        let slot = &mut tables[usize::from(!v4)];
        if slot.is_none() {
            *slot = Some(nl.route_list(v4, None)?);
        }
        let have = slot.as_deref().unwrap_or_default();
        let dst = r.dst.trunc();
        let found = have
            .iter()
            .any(|h| h.dst == dst && (dst.prefix_len() == 0 || r.gw.is_none() || h.gw == r.gw));
        if !found {
            let via = r.gw.map(|g| format!(" via {g}")).unwrap_or_default();
            return Err(Error::internal(format!(
                "expected route {dst}{via} not found in the routing table"
            )));
        }
    }
    Ok(())
}

/// DEL's removal of `CNI_IFNAME` in `CNI_NETNS`. A namespace that is gone
/// (or `CNI_NETNS` empty) and a link that is gone are success: the kernel
/// removed the link with its namespace, or an earlier DEL did. Run from
/// the plugin's own namespace; it opens a netlink socket in the container.
pub fn del_container_link(args: &CmdArgs) -> Result<()> {
    del_container_links(args, &[&args.ifname])
}

/// [`del_container_link`] for each of `names` in `CNI_NETNS`, every one
/// attempted.
pub fn del_container_links(args: &CmdArgs, names: &[&str]) -> Result<()> {
    let Some(ns) = args.netns_if_exists()? else {
        return Ok(());
    };
    let mut nl = Netlink::in_netns(ns).map_err(|e| {
        e.context(format!(
            "failed to delete {} in {}",
            args.ifname, args.netns_path
        ))
    })?;
    let mut errors = Vec::new();
    for name in names {
        match nl.link_del(LinkId::Name(name)) {
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                errors.push(e.context(format!("failed to delete {name} in {}", args.netns_path)))
            }
            Ok(()) => {}
        }
    }
    Error::from_list(errors)
}
