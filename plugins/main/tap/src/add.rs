//! tap ADD. The config, the bridge and the container side are checked
//! before anything is created. The tap is created inside the container
//! under its final name (a tap is made through `/dev/net/tun` by a thread
//! in the container netns, so a host link of that name does not get in the
//! way, and a plugin killed at any point leaves nothing or a tap DEL finds
//! by `CNI_IFNAME`). From then on, the rollback removes the tap and the
//! IPAM reservation if a later step fails.

use std::time::Duration;

use nix::errno::Errno;

use pkg::attach::Attachment;
use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::types::version::Family as ResultShape;
use pkg::{Context, Error, Result, iface, ipam};

use crate::config::TapConf;
use crate::selinux;
use crate::tun::{self, TapSpec};

/// The longest ADD waits for IPv6 DAD; a tap no VM has opened yet has no
/// carrier, and the wait ends at once (`iface::settle_addresses`).
const DAD_LIMIT: Duration = Duration::from_secs(5);

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = TapConf::load(args)?;
    if !conf.layer3 && args.version.family() == ResultShape::Legacy {
        // skel would fail converting the result, after the tap exists.
        return Err(Error::invalid_config(
            format!(
                "cannot convert result to version {}: no valid IP addresses",
                args.version.as_str()
            ),
            "tap without IPAM (L2) needs cniVersion 0.3.0 or later: a 0.1.0 or 0.2.0 result must carry an address",
        ));
    }
    if let Some(context) = &conf.selinux_context {
        selinux::require(context)?;
    }
    if conf.layer3 {
        ipam::plugin_path(args)?;
    }
    let mut at = Attachment::open(args)?;
    let bridge = match &conf.bridge {
        Some(name) => Some(bridge_index(&mut at.ctr, name)?),
        None => None,
    };
    at.refuse_existing()?;
    let link = create(&mut at, &conf)?;
    let result = build(&mut at, &conf, &link, bridge)?;
    at.commit();
    Ok(result)
}

/// The bridge `name` in the container.
fn bridge_index(ctr: &mut Netlink, name: &str) -> Result<u32> {
    let link = ctr.link_find(LinkId::Name(name))?.ok_or_else(|| {
        Error::internal(format!(
            "failed to get bridge {name}: no such interface in the container"
        ))
    })?;
    if link.kind.as_deref() != Some("bridge") {
        return Err(Error::internal(format!(
            "failed to get bridge {name}: it is a {}, not a bridge",
            link.kind.as_deref().unwrap_or("link of unknown type")
        )));
    }
    Ok(link.index)
}

/// The tap `CNI_IFNAME` in the container, recorded for rollback, with its
/// MTU and MAC.
fn create(at: &mut Attachment<'_>, conf: &TapConf) -> Result<Link> {
    let args = at.args;
    let ns = at.ns;
    let ifname = args.ifname.as_str();
    let spec = TapSpec {
        multi_queue: conf.multi_queue,
        owner: conf.owner,
        group: conf.group,
    };
    let context = conf.selinux_context.clone();
    ns.run(move || match &context {
        Some(c) => selinux::create_labelled(ifname, spec, c),
        None => tun::create(ifname, spec),
    })
    .with_context(|| format!("failed to create tap {ifname}"))?;
    at.undo.push(format!("the tap {ifname}"), move || {
        Netlink::in_netns(ns)?.link_del(LinkId::Name(ifname))
    });
    let id = LinkId::Name(ifname);
    if conf.mtu != 0 {
        at.ctr
            .link_set_mtu(id, conf.mtu)
            .with_context(|| format!("failed to set the MTU of tap {ifname} to {}", conf.mtu))?;
    }
    if let Some(mac) = conf.mac {
        at.ctr.link_set_mac(id, &mac).map_err(|e| {
            let e = e.context(format!("failed to set the MAC of tap {ifname}"));
            if e.is_errno(Errno::EADDRNOTAVAIL) {
                e.explained(format!(
                    "failed to set the MAC of tap {ifname}: the kernel refused the address"
                ))
            } else {
                e
            }
        })?;
    }
    at.ctr.link_get(id)
}

fn build(
    at: &mut Attachment<'_>,
    conf: &TapConf,
    link: &Link,
    bridge: Option<u32>,
) -> Result<CniResult> {
    let args = at.args;
    let ifname = args.ifname.as_str();
    if let Some(index) = bridge {
        let name = conf.bridge.as_deref().unwrap_or_default();
        at.ctr
            .link_set_master(LinkId::Index(link.index), Some(index))
            .with_context(|| format!("failed to set tap {ifname} as a port of bridge {name}"))?;
    }
    let mut result = if conf.layer3 {
        at.undo.start_ipam(args)?;
        let ipam_result = at.finish_ipam()?;
        iface::announce_on_up(at.ns, ifname)?;
        at.configure_sole(link, ipam_result, Some(DAD_LIMIT))?
    } else {
        at.ctr
            .link_set_up(LinkId::Index(link.index))
            .with_context(|| format!("failed to set tap {ifname} up"))?;
        CniResult {
            interfaces: vec![at.container_iface(link)],
            ..Default::default()
        }
    };
    // Go copies the config's dns as is; IPAM's is not used.
    result.dns = conf.dns.clone();
    Ok(result)
}
