//! ptp ADD. Everything that can be checked is checked before the first
//! change; after that, every change is recorded in the attachment's
//! rollback so that a failure at any step removes the veth (and with it
//! the host addresses and host routes on it), the masquerade rules and the
//! IPAM reservation again.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use nix::errno::Errno;

use pkg::attach::{self, Attachment};
use pkg::netlink::{AddrFlags, Link, LinkId, Netlink, RouteSpec};
use pkg::skel::CmdArgs;
use pkg::sysctl::{self, Family};
use pkg::types::{CniResult, IpConfig};
use pkg::{Context, Error, Result, iface, ipam};

use crate::config::PtpConf;

/// The longest we wait for IPv6 addresses to settle. DAD is off on both
/// ends, so in practice there is no wait.
const DAD_LIMIT: Duration = Duration::from_secs(5);

const SCOPE_LINK: u8 = 253;
const SCOPE_HOST: u8 = 254;

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = PtpConf::load(args)?;
    ipam::plugin_path(args)?;
    let mut at = Attachment::open(args)?;
    at.refuse_existing()?;
    // Allocating runs on the other core while the veth is made.
    at.undo.start_ipam(args)?;
    let result = build(&mut at, &conf)?;
    at.commit();
    Ok(result)
}

fn build(at: &mut Attachment<'_>, conf: &PtpConf) -> Result<CniResult> {
    let args = at.args;
    // Deleting the host end on rollback takes the container end, the
    // gateway addresses and the host routes with it.
    let host_veth = at
        .add_veth(conf.mtu, None, None)
        .with_context(|| format!("failed to create veth pair for {}", args.ifname))?;
    let ctr_link = at.ctr.link_get(LinkId::Name(&args.ifname))?;

    let mut result = at.finish_ipam()?;
    // Every address needs a gateway: it is the far end of the link.
    if let Some(ip) = result.ips.iter().find(|ip| ip.gateway.is_none()) {
        return Err(Error::invalid_config(
            format!("IPAM returned no gateway for {}", ip.address),
            "ptp routes all of the container's traffic via the gateway, which it puts on the host end of the veth; give the IPAM config a gateway",
        ));
    }
    enable_forwarding(&result.ips)?;

    for ip in &mut result.ips {
        ip.interface = Some(1);
    }
    result.interfaces = vec![
        attach::host_iface(&host_veth),
        at.container_iface(&ctr_link),
    ];

    setup_container(at, &ctr_link, &result)?;
    setup_host(&mut at.host, &host_veth, &result.ips)?;

    if let Some(backend) = conf.ip_masq {
        at.masquerade(backend, &result)?;
    }
    if !conf.dns.is_empty() {
        result.dns = conf.dns.clone();
    }
    Ok(result)
}

/// `net.ipv4.ip_forward` / `net.ipv6.conf.all.forwarding` for each family
/// the container has: the host routes its traffic.
fn enable_forwarding(ips: &[IpConfig]) -> Result<()> {
    for (family, v4) in [(Family::V4, true), (Family::V6, false)] {
        if ips.iter().any(|ip| ip.is_v4() == v4) {
            sysctl::ensure_forwarding(family).context("could not enable IP forwarding")?;
        }
    }
    Ok(())
}

/// Addresses and IPAM routes on the container end, then Go's point-to-point
/// trick: drop the kernel's connected subnet route, add a link-scope route
/// to the gateway and route the whole subnet via it. All traffic, same
/// subnet included, then goes through the host.
fn setup_container(at: &mut Attachment<'_>, link: &Link, result: &CniResult) -> Result<()> {
    if result.ips.iter().any(|ip| !ip.is_v4()) {
        // The only other node on the link is the host end, which holds
        // only gateway addresses: DAD cannot find a duplicate, it only
        // delays the address (upstream #680).
        let _ = at.set_ipv6_conf("accept_dad", "0");
    }
    let (args, ns, ctr) = (at.args, at.ns, &mut at.ctr);
    iface::configure(ctr, ns, &args.ifname, result, Some(DAD_LIMIT))?;
    for ip in &result.ips {
        let Some(gw) = ip.gateway else { continue };
        let subnet = ip.address.trunc();
        let mut connected = RouteSpec::new(subnet);
        connected.oif = Some(link.index);
        match ctr.route_del(&connected) {
            Ok(()) => {}
            // A /32 or /128 address has no connected route.
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(e.context(format!(
                    "failed to delete route {subnet} dev {}",
                    args.ifname
                )));
            }
        }
        let mut to_gw = RouteSpec::new(host_net(gw));
        to_gw.oif = Some(link.index);
        to_gw.scope = SCOPE_LINK;
        to_gw.src = Some(ip.address.addr());
        let mut via_gw = RouteSpec::new(subnet);
        via_gw.oif = Some(link.index);
        via_gw.gw = Some(gw);
        via_gw.src = Some(ip.address.addr());
        for route in [to_gw, via_gw] {
            match ctr.route_add(&route) {
                Ok(()) => {}
                // A second address with the same gateway or subnet.
                Err(e) if e.is_errno(Errno::EEXIST) => {}
                Err(e) => {
                    return Err(e.context(format!(
                        "failed to add route {} dev {}",
                        route.describe(),
                        args.ifname
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The host end gets each gateway as a /32 (/128) and a host route to each
/// container address.
fn setup_host(host: &mut Netlink, veth: &Link, ips: &[IpConfig]) -> Result<()> {
    for ip in ips {
        let Some(gw) = ip.gateway else { continue };
        // The same gateway address sits on every ptp host end, so IPv6 DAD
        // would only make it tentative (unusable) for a second or two.
        let flags = if gw.is_ipv4() {
            AddrFlags::empty()
        } else {
            AddrFlags::Nodad
        };
        match host.addr_add(veth.index, host_net(gw), flags) {
            Ok(()) => {}
            Err(e) if e.is_errno(Errno::EEXIST) => {}
            Err(e) => {
                return Err(e.context(format!(
                    "failed to add gateway address {gw} to {}",
                    veth.name
                )));
            }
        }
        let mut route = RouteSpec::new(host_net(ip.address.addr()));
        route.oif = Some(veth.index);
        route.scope = SCOPE_HOST;
        // Replace rather than add: a route left to this address by a
        // container that is gone (its DEL never ran) must not keep the new
        // one unreachable. IPAM just gave the address to this container.
        host.route_replace(&route).with_context(|| {
            format!(
                "failed to add host route to {} dev {}",
                ip.address.addr(),
                veth.name
            )
        })?;
    }
    Ok(())
}

/// `ip` as a /32 or /128.
pub fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}
