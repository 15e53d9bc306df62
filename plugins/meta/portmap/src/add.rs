//! portmap ADD: validate, set up the rules for each container address,
//! then the host-side extras (route_localnet, stale UDP conntrack entries).
//! A failure after rules exist removes them again.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::mappings::{self as portmap, Attachment};
use pkg::netlink::{LinkId, Netlink};
use pkg::rollback::Rollback;
use pkg::skel::CmdArgs;
use pkg::sysctl::{self, Family};
use pkg::types::CniResult;
use pkg::{Error, Result};

use crate::config::{PortmapConf, container_ips};
use crate::conntrack::{self, IPPROTO_UDP};

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = PortmapConf::load(args)?;
    let prev = args.conf.parse_prev_result()?.ok_or_else(|| {
        Error::invalid_config(
            "must be called as chained plugin",
            "portmap needs prevResult from the plugin before it",
        )
    })?;
    if conf.mappings.is_empty() {
        return Ok(prev);
    }
    let ips = container_ips(&prev, &args.ifname);
    if ips.is_empty() {
        eprintln!(
            "warning: prevResult has no address for {}; no ports mapped",
            args.ifname
        );
        return Ok(prev);
    }
    let backend = conf.backend()?;
    let att = Attachment::of(args);
    let mut undo = Rollback::new();
    undo.push("port mappings", || portmap::teardown(&att, &ips));
    portmap::setup(backend, &att, &ips, &conf.mappings, &conf.opts)?;
    localnet(&conf, &ips)?;
    undo.commit();
    // After the rules exist, so new packets of a flushed flow take them.
    flush_udp(&conf.udp_ports(), ips.iter().map(|ip| ip.addr().is_ipv4()));
    Ok(prev)
}

/// 127.0.0.1-sourced traffic to a host port must cross into the container
/// subnet, which the kernel drops as martian unless the interface routing
/// to the container has route_localnet.
fn localnet(conf: &PortmapConf, ips: &[IpNet]) -> Result<()> {
    if !conf.opts.snat {
        return Ok(());
    }
    let Some(v4) = ips.iter().map(IpNet::addr).find(IpAddr::is_ipv4) else {
        return Ok(());
    };
    let mut nl = Netlink::new()?;
    let Some(oif) = nl.route_get(v4).ok().and_then(|r| r.oif) else {
        return Ok(());
    };
    let link = nl.link_get(LinkId::Index(oif))?;
    let path = sysctl::conf_path(Family::V4, &link.name, "route_localnet")?;
    sysctl::ensure(&path, "1").map_err(|e| e.context("unable to enable route_localnet"))
}

/// Deletes conntrack entries of UDP flows to the mapped host ports; a
/// failure only costs a stale flow, so it is a warning.
pub fn flush_udp(ports: &[u16], families: impl Iterator<Item = bool>) {
    if ports.is_empty() {
        return;
    }
    for v4 in families {
        let family = if v4 {
            conntrack::Family::V4
        } else {
            conntrack::Family::V6
        };
        if let Err(e) = conntrack::delete_by_dst_port(family, IPPROTO_UDP, ports) {
            eprintln!(
                "warning: failed to delete stale UDP conntrack entries for ports {ports:?}: {e}"
            );
        }
    }
}
