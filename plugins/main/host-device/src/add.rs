//! host-device ADD. The config, the selector (sysfs, then netlink) and the
//! container side are checked before anything changes. The record of the
//! device's name, MAC, MTU and state is written before the move, so that
//! a DEL after a kill at any point finds it; the move is one request
//! (`link::move_in`). From then on the rollback puts the device back on
//! the host under its name and releases the IPAM reservation if a later
//! step fails. A PCI function bound to a userspace driver (DPDK) has no
//! interface: as Go does, nothing is moved and IPAM's addresses are only
//! reported.

use std::time::Duration;

use pkg::attach::Attachment;
use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::types::version::Family as ResultShape;
use pkg::types::{CniResult, Interface};
use pkg::{Context, Error, Result, iface, ipam};

use crate::config::HostDeviceConf;
use crate::state::{self, Record};
use crate::sysfs::{Sysfs, Target};
use crate::{link, returned};

/// The longest ADD waits for IPv6 DAD.
const DAD_LIMIT: Duration = Duration::from_secs(5);

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = HostDeviceConf::load(args)?;
    // a device back late from an earlier container may be the one selected
    returned::restore(&conf.data_dir);
    if !conf.layer3 && args.version.family() == ResultShape::Legacy {
        // skel would fail converting the result, after the device moved.
        return Err(Error::invalid_config(
            format!(
                "cannot convert result to version {}: no valid IP addresses",
                args.version.as_str()
            ),
            "host-device without IPAM needs cniVersion 0.3.0 or later: a 0.1.0 or 0.2.0 result must carry an address",
        ));
    }
    if conf.layer3 {
        ipam::plugin_path(args)?;
    }
    let target = Sysfs::system().resolve(&conf.selector)?;
    let mut at = Attachment::open(args)?;
    at.refuse_existing()?;
    if let Target::Userspace { .. } = target {
        let result = userspace(&mut at, &conf)?;
        at.commit();
        return Ok(result);
    }
    let dev = host_device(&mut at.host, &target)?;
    let record_path = state::path(&conf.data_dir, &args.container_id, &args.ifname);
    refuse_in_use(&conf, &record_path, &dev)?;
    let rec = Record::of(&dev);
    state::write(&record_path, &rec)?;
    let undo_path = record_path.clone();
    at.undo.push("the record of the device", move || {
        state::remove(&undo_path)
    });
    let (ns, ifname) = (at.ns, args.ifname.as_str());
    let back = rec.clone();
    at.undo.push(format!("host device {}", rec.name), move || {
        link::put_back(ns, ifname, &back)
    });
    link::move_in(&mut at.host, &dev, at.ns, ifname)?;
    let moved = at.ctr.link_get(LinkId::Name(ifname))?;
    let mut result = if conf.layer3 {
        at.undo.start_ipam(args)?;
        let ipam_result = at.finish_ipam()?;
        iface::announce_on_up(at.ns, ifname)?;
        at.configure_sole(&moved, ipam_result, Some(DAD_LIMIT))?
    } else {
        at.ctr
            .link_set_up(LinkId::Index(moved.index))
            .with_context(|| format!("failed to set {ifname} up"))?;
        CniResult {
            interfaces: vec![at.container_iface(&moved)],
            ..Default::default()
        }
    };
    result.dns = conf.dns.clone();
    at.commit();
    Ok(result)
}

/// The host's link `target` names.
fn host_device(host: &mut Netlink, target: &Target) -> Result<Link> {
    let found = match target {
        Target::Netdev(name) => host.link_find(LinkId::Name(name))?,
        Target::HwAddr(mac) => host.link_list()?.into_iter().find(|l| l.mac == mac),
        Target::Userspace { .. } => None,
    };
    let link = found.ok_or_else(|| {
        Error::internal(match target {
            Target::HwAddr(mac) => format!(
                "failed to find host device: no interface has MAC {}",
                pkg::netlink::format_mac(mac)
            ),
            Target::Netdev(name) => {
                format!("failed to find host device: no interface named {name} on the host")
            }
            Target::Userspace { pci, .. } => format!("failed to find host device: {pci}"),
        })
    })?;
    if link.name == "lo" {
        return Err(Error::invalid_config(
            "host device lo is the loopback interface",
            "every network namespace has its own loopback; it cannot be moved",
        ));
    }
    Ok(link)
}

/// A device that is a port of a bridge or bond, or that the kernel
/// returned from another container whose DEL has not run yet, is in use.
fn refuse_in_use(conf: &HostDeviceConf, own: &std::path::Path, dev: &Link) -> Result<()> {
    if let Some(master) = dev.master {
        let name = Netlink::new()
            .and_then(|mut nl| nl.link_get(LinkId::Index(master)))
            .map(|m| m.name)
            .unwrap_or_else(|_| format!("index {master}"));
        return Err(Error::invalid_config(
            format!("host device {} is in use: it is a port of {name}", dev.name),
            "release it from its bridge or bond first",
        ));
    }
    if let Some((file, rec)) = state::owner_of(&conf.data_dir, own, dev) {
        return Err(Error::invalid_config(
            format!(
                "host device {} (originally {}) is in use: it belongs to attachment {file}, whose DEL has not run",
                dev.name, rec.name
            ),
            "run that attachment's DEL, which puts the device back under its name",
        ));
    }
    Ok(())
}

/// DPDK: the container gets the PCI function through the runtime, not a
/// netns; the result names `CNI_IFNAME` in the sandbox, with IPAM's
/// addresses when configured, which nothing applies.
fn userspace(at: &mut Attachment<'_>, conf: &HostDeviceConf) -> Result<CniResult> {
    let args = at.args;
    let entry = Interface {
        name: args.ifname.clone(),
        sandbox: args.netns_path.clone(),
        ..Default::default()
    };
    let mut result = if conf.layer3 {
        at.undo.start_ipam(args)?;
        let mut r = at.finish_ipam()?;
        for ip in &mut r.ips {
            ip.interface = Some(0);
        }
        r
    } else {
        CniResult::default()
    };
    result.interfaces = vec![entry];
    result.dns = conf.dns.clone();
    Ok(result)
}
