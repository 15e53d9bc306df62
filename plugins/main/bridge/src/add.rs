//! bridge ADD. Everything that can be checked is checked before the first
//! change; after that, every change is recorded in the attachment's
//! rollback so that a failure at any step removes the veth, the rules and
//! the IPAM reservation again.
//! The bridge itself and its gateway addresses are shared by every
//! container on the network and stay.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::errno::Errno;

use pkg::attach::{self, Attachment};
use pkg::netlink::{
    AddrFlags, IPV4_DEVCONF_ARP_NOTIFY, Link, LinkEvents, LinkId, Netlink, OperState as State,
    VethSpec, format_mac,
};
use pkg::ns::Netns;
use pkg::skel::CmdArgs;
use pkg::sysctl::{self, Family};
use pkg::types::{CniResult, Interface, Route};
use pkg::{Context, Error, Result, iface, ipam};

use crate::config::BridgeConf;
use crate::spoofcheck;

/// The longest we wait for the host end of the veth to come up.
const PORT_UP_LIMIT: Duration = Duration::from_millis(2500);
/// The longest we wait for IPv6 DAD to settle (instant when DAD is off,
/// which is the default).
const DAD_LIMIT: Duration = Duration::from_secs(5);

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = BridgeConf::load(args)?;
    if conf.layer3 {
        ipam::plugin_path(args)?;
    }
    let mut at = Attachment::open_with_ipv6_conf(args)?;
    at.refuse_existing()?;
    // The IPAM plugin allocates while the bridge and veth are made (two
    // cores do both at once); its result is collected when the addresses
    // are needed.
    if conf.layer3 {
        at.undo.start_ipam(args)?;
    }
    // Subscribed before the bridge is read: its address can change while
    // ports join, and the new port's coming up is waited for.
    let mut events = LinkEvents::open().ok();
    let bridge = ensure_bridge(&mut at.host, &conf)?;
    if let Some(e) = events.as_mut() {
        e.track_address(bridge.index);
    }
    let result = build(&mut at, &conf, &bridge, events)?;
    at.commit();
    Ok(result)
}

/// Create the bridge unless it exists; refuse a non-bridge of that name.
fn ensure_bridge(host: &mut Netlink, conf: &BridgeConf) -> Result<Link> {
    let name = conf.bridge.as_str();
    // Looked up first: after the first ADD the bridge exists, and a
    // create that fails with EEXIST is a wasted request.
    if let Some(link) = host.link_find(LinkId::Name(name))? {
        return check_bridge(host, conf, link);
    }
    match host.bridge_add(name, conf.mtu, conf.vlan_filtering()) {
        Ok(()) => {}
        // A parallel ADD made it.
        Err(e) if e.is_errno(Errno::EEXIST) => {}
        Err(e)
            if conf.vlan_filtering()
                && matches!(e.errno(), Some(Errno::EOPNOTSUPP) | Some(Errno::EINVAL)) =>
        {
            return Err(e.context(format!(
                "the kernel refused VLAN filtering on bridge {name} (needed for vlan/vlanTrunk): it lacks CONFIG_BRIDGE_VLAN_FILTERING"
            )));
        }
        Err(e) => return Err(e.context(format!("failed to create bridge {name}"))),
    }
    let link = host.link_get(LinkId::Name(name))?;
    check_bridge(host, conf, link)
}

/// Refuse a non-bridge of the name; set promiscuity, RA and up as asked.
fn check_bridge(host: &mut Netlink, conf: &BridgeConf, link: Link) -> Result<Link> {
    let name = conf.bridge.as_str();
    if link.kind.as_deref() != Some("bridge") {
        return Err(Error::internal(format!(
            "{name:?} already exists but is not a bridge (it is a {})",
            link.kind.as_deref().unwrap_or("link of unknown type")
        )));
    }
    if conf.promisc && !link.is_promisc() {
        host.link_set_promisc(LinkId::Index(link.index), true)?;
    }
    // CVE-2020-10749: the host must not accept router advertisements from
    // containers on an interface we own.
    if let Ok(p) = sysctl::conf_path(Family::V6, name, "accept_ra") {
        let _ = sysctl::ensure(&p, "0");
    }
    if !link.is_up() {
        host.link_set_up(LinkId::Index(link.index))?;
    }
    Ok(link)
}

fn build(
    at: &mut Attachment<'_>,
    conf: &BridgeConf,
    bridge: &Link,
    mut events: Option<LinkEvents>,
) -> Result<CniResult> {
    let args = at.args;
    let host_veth = at
        .add_veth(conf.mtu, conf.mac, Some(bridge.index))
        .with_context(|| {
            format!(
                "failed to create veth pair for {} on bridge {}",
                args.ifname, conf.bridge
            )
        })?;
    setup_port(&mut at.host, conf, &host_veth)?;
    let ctr_link = at.ctr.link_get(LinkId::Name(&args.ifname))?;

    let mut result = CniResult {
        interfaces: vec![
            attach::host_iface(bridge),
            attach::host_iface(&host_veth),
            at.container_iface(&ctr_link),
        ],
        ..Default::default()
    };

    if conf.mac_spoof_chk {
        spoofcheck::setup(
            &args.container_id,
            &args.ifname,
            &host_veth.name,
            &ctr_link.mac_string(),
        )?;
        at.undo.push("spoof-check rules", || {
            spoofcheck::teardown(&args.container_id, &args.ifname)
        });
    }

    if conf.layer3 {
        let ipam_result = at.finish_ipam()?;
        result.ips = ipam_result.ips;
        result.routes = ipam_result.routes;
        result.dns = ipam_result.dns;
        let gateways = calc_gateways(&mut result, conf);
        container_sysctls(at, conf.enable_dad);
        // arp_notify over netlink rather than /proc/sys (see
        // link_set_ipv4_conf); like the sysctls, only an optimisation.
        let _ = at
            .ctr
            .link_set_ipv4_conf(ctr_link.index, &[(IPV4_DEVCONF_ARP_NOTIFY, 1)]);
        iface::configure_index(
            &mut at.ctr,
            at.ns,
            &args.ifname,
            ctr_link.index,
            &result,
            Some(DAD_LIMIT),
        )?;
        if conf.is_gateway {
            setup_gateways(&mut at.host, conf, bridge, &gateways, &mut result)?;
        }
        if let Some(backend) = conf.ip_masq {
            at.masquerade(backend, &result)?;
        }
    } else if !conf.disable_container_interface {
        at.ctr.link_set_up(LinkId::Index(ctr_link.index))?;
    }

    let host = &mut at.host;
    let host_veth = if conf.disable_container_interface {
        host.link_get(LinkId::Index(host_veth.index))?
    } else {
        wait_port_up(host, events.as_mut(), host_veth.index)?
    };
    result.interfaces[1].mac = host_veth.mac_string();
    // The bridge takes the lowest MAC among its ports when it has no
    // address of its own, so ports joining (this one, and those of ADDs
    // running beside this one) change it: report it as it is now, from the
    // notifications when they can tell, without asking (see LinkEvents).
    result.interfaces[0].mac = match events.as_mut().and_then(LinkEvents::tracked_address) {
        Some(Some(mac)) => format_mac(&mac),
        Some(None) => bridge.mac_string(),
        None => host.link_get(LinkId::Index(bridge.index))?.mac_string(),
    };
    if !conf.dns.is_empty() {
        result.dns = conf.dns.clone();
    }
    Ok(result)
}

/// Hairpin, isolation and VLANs of the host end's bridge port. A new port
/// starts with hairpin and isolation off, so "off" needs no request.
fn setup_port(host: &mut Netlink, conf: &BridgeConf, port: &Link) -> Result<()> {
    if conf.hairpin || conf.port_isolation {
        host.bridge_port_set(port.index, conf.hairpin, conf.port_isolation)
            .with_context(|| {
                format!(
                    "failed to set up hairpin mode / isolation for {}",
                    port.name
                )
            })?;
    }
    if !conf.vlan_filtering() {
        return Ok(());
    }
    // Go's messages; EOPNOTSUPP is explained.
    let vlan_err = |what: &'static str| {
        move |e: Error| {
            let mut msg = format!("failed to {what} on interface {}", port.name);
            if e.is_errno(Errno::EOPNOTSUPP) {
                msg += &format!(
                    ": bridge {} has no VLAN filtering (the kernel lacks CONFIG_BRIDGE_VLAN_FILTERING or the bridge was created without it)",
                    conf.bridge
                );
            }
            e.context(msg)
        }
    };
    if !conf.preserve_default_vlan {
        remove_vlans(host, port.index).map_err(vlan_err("remove default vlan"))?;
    }
    // Go's order matters when a VID is in both `vlan` and `vlanTrunk` (or
    // the trunk holds VID 1): the kernel keeps the flags of the last add.
    if conf.vlan != 0 {
        host.bridge_vlan_add(port.index, conf.vlan, true, true)
            .map_err(vlan_err("set up vlan tag"))?;
    }
    for vid in &conf.trunk {
        host.bridge_vlan_add(port.index, *vid, false, false)
            .map_err(vlan_err("set up vlan tag"))?;
    }
    if conf.vlan == 0 {
        // A trunk without `vlan`: VID 1 is its native VLAN.
        host.bridge_vlan_add(port.index, 1, true, true)
            .map_err(vlan_err("set up default native vlan tag"))?;
    }
    Ok(())
}

/// Every VLAN of a new port goes, as in Go: it holds the bridge's default
/// PVID, which is 1 unless the bridge's `default_pvid` was changed.
fn remove_vlans(host: &mut Netlink, index: u32) -> Result<()> {
    for v in host.bridge_vlan_list(index)? {
        match host.bridge_vlan_del(index, v.vid) {
            Err(e) if !e.is_errno(Errno::ENOENT) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// IPv6 settings of the new container interface. Failures only lose an
/// optimisation, as in Go.
fn container_sysctls(at: &Attachment<'_>, enable_dad: bool) {
    if enable_dad {
        let _ = at.set_ipv6_conf("enhanced_dad", "1");
        let _ = at.set_ipv6_conf("accept_dad", "1");
    } else {
        // IPAM guarantees uniqueness: no multi-second DAD wait.
        let _ = at.set_ipv6_conf("accept_dad", "0");
    }
}

/// Gateway (address, prefix) per family, in result order.
struct Gateways {
    v4: Vec<IpNet>,
    v6: Vec<IpNet>,
}

/// Point every address at the container interface, fill in gateways when
/// this bridge is the gateway, and add default routes for
/// `isDefaultGateway` unless IPAM gave one.
fn calc_gateways(result: &mut CniResult, conf: &BridgeConf) -> Gateways {
    let mut gws = Gateways {
        v4: Vec::new(),
        v6: Vec::new(),
    };
    let mut default_found = [false, false];
    for i in 0..result.ips.len() {
        let ip = &mut result.ips[i];
        ip.interface = Some(2);
        let v4 = ip.is_v4();
        if ip.gateway.is_none() && conf.is_gateway {
            ip.gateway = Some(first_host(ip.address));
        }
        let gw = ip.gateway;
        let prefix = ip.address.prefix_len();
        let fam = usize::from(!v4);
        if conf.is_default_gateway && !default_found[fam] {
            let any = if v4 {
                IpNet::V4(ipnet::Ipv4Net::default())
            } else {
                IpNet::V6(ipnet::Ipv6Net::default())
            };
            default_found[fam] = result.routes.iter().any(|r| r.gw.is_some() && r.dst == any);
            if !default_found[fam] {
                result.routes.push(Route::new(any, gw));
                default_found[fam] = true;
            }
        }
        if conf.is_gateway
            && let Some(gw) = gw
            && let Ok(net) = IpNet::new(gw, prefix)
        {
            if v4 {
                gws.v4.push(net)
            } else {
                gws.v6.push(net)
            }
        }
    }
    gws
}

/// The subnet's first address: where the bridge sits as gateway.
fn first_host(addr: IpNet) -> IpAddr {
    match addr.network() {
        IpAddr::V4(n) => IpAddr::V4((u32::from(n).wrapping_add(1)).into()),
        IpAddr::V6(n) => IpAddr::V6((u128::from(n).wrapping_add(1)).into()),
    }
}

fn setup_gateways(
    host: &mut Netlink,
    conf: &BridgeConf,
    bridge: &Link,
    gws: &Gateways,
    result: &mut CniResult,
) -> Result<()> {
    for (family, list) in [(Family::V4, &gws.v4), (Family::V6, &gws.v6)] {
        for gw in list {
            if conf.vlan != 0 {
                let link = ensure_vlan_interface(host, conf, bridge)?;
                if !result.interfaces.iter().any(|i| i.name == link.name) {
                    result.interfaces.push(Interface {
                        name: link.name.clone(),
                        mac: link.mac_string(),
                        ..Default::default()
                    });
                }
                ensure_addr(host, &link, *gw, conf.force_address)
                    .context("failed to set vlan interface for bridge with addr")?;
            } else {
                ensure_addr(host, bridge, *gw, conf.force_address)?;
            }
        }
        if !list.is_empty() {
            sysctl::ensure_forwarding(family).context("failed to enable forwarding")?;
        }
    }
    Ok(())
}

/// Put the gateway address on `link`. The same address is success (a
/// parallel ADD put it there); another IPv4 address, or an overlapping IPv6
/// one, is a conflict unless `forceAddress`.
fn ensure_addr(host: &mut Netlink, link: &Link, gw: IpNet, force: bool) -> Result<()> {
    let v4 = gw.addr().is_ipv4();
    for a in host.addr_list(Some(link.index), Some(v4))? {
        if a.address == gw {
            return Ok(());
        }
        if !a.is_global_unicast() && !v4 {
            continue; // link-local IPv6 of the bridge itself
        }
        let conflict = v4 || a.address.contains(&gw.addr()) || gw.contains(&a.address.addr());
        if conflict {
            if !force {
                return Err(Error::internal(format!(
                    "{:?} already has an IP address different from {gw}: {} (set forceAddress to replace it)",
                    link.name, a.address
                )));
            }
            host.addr_del(link.index, a.address).with_context(|| {
                format!(
                    "could not remove IP address {} from {:?}",
                    a.address, link.name
                )
            })?;
        }
    }
    // Pin the bridge MAC: otherwise it follows the lowest port MAC and
    // changes as containers come and go. Pinned before the address goes
    // on, so that an ADD running beside this one that finds the address
    // (and returns above) knows the MAC it reports is final.
    let current = host.link_get(LinkId::Index(link.index))?;
    if current.mac.len() == 6 && current.mac.iter().any(|b| *b != 0) {
        host.link_set_mac(LinkId::Index(link.index), &current.mac)
            .with_context(|| format!("could not set the MAC of {:?}", link.name))?;
    }
    match host.addr_add(link.index, gw, AddrFlags::empty()) {
        Ok(()) => {}
        Err(e) if e.is_errno(Errno::EEXIST) => {}
        Err(e) => {
            return Err(e.context(format!("could not add IP address {gw} to {:?}", link.name)));
        }
    }
    Ok(())
}

/// `<bridge>.<vlan>`: a host-side veth whose peer is an access port of the
/// VLAN, carrying the gateway address for that VLAN.
fn ensure_vlan_interface(host: &mut Netlink, conf: &BridgeConf, bridge: &Link) -> Result<Link> {
    let name = format!("{}.{}", conf.bridge, conf.vlan);
    if let Some(l) = host.link_find(LinkId::Name(&name))? {
        return Ok(l);
    }
    let here = Netns::current()?;
    let peer = pkg::netlink::random_veth_name()?;
    let no_ra = |name: &str| {
        if let Ok(p) = sysctl::conf_path(Family::V6, name, "accept_ra") {
            let _ = sysctl::ensure(&p, "0");
        }
    };
    host.veth_add(&VethSpec {
        host_name: &peer,
        peer_name: &name,
        peer_ns: &here,
        mtu: conf.mtu,
        peer_mac: None,
        master: Some(bridge.index),
        host_up: true,
    })
    .with_context(|| format!("failed to create vlan gateway {name}"))?;
    let port = host.link_get(LinkId::Name(&peer))?;
    if !conf.preserve_default_vlan {
        remove_vlans(host, port.index)
            .with_context(|| format!("failed to remove default vlan on interface {peer}"))?;
    }
    host.bridge_vlan_add(port.index, conf.vlan, true, true)
        .with_context(|| format!("failed to set up vlan tag on interface {peer}"))?;
    host.link_set_up(LinkId::Name(&name))?;
    no_ra(&name);
    no_ra(&peer);
    host.link_get(LinkId::Name(&name))
}

/// Wait (bounded) until the host end of the veth is oper-up, so the
/// container can talk as soon as ADD returns: from the link notifications
/// `events` subscribed to before the container side came up (asleep, while
/// the kernel's link-state work holds the rtnl lock), else by asking.
fn wait_port_up(host: &mut Netlink, events: Option<&mut LinkEvents>, index: u32) -> Result<Link> {
    let start = Instant::now();
    let up = |l: &Link| l.oper_state == Some(State::Up);
    if let Some(link) = events.and_then(|e| e.wait_for(index, PORT_UP_LIMIT, up)) {
        return Ok(link);
    }
    let mut pause = Duration::from_millis(1);
    loop {
        let link = host.link_get(LinkId::Index(index))?;
        if up(&link) {
            return Ok(link);
        }
        if start.elapsed() >= PORT_UP_LIMIT {
            return Err(Error::internal(format!(
                "bridge port {} in error state: {:?}",
                link.name,
                link.oper_state.unwrap_or(State::Unknown)
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
