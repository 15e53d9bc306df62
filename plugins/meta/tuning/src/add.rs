//! tuning ADD: change the container interface's MAC, promiscuous and
//! all-multicast modes, MTU and transmit queue length, then write the
//! sysctls, all inside the container namespace. The configuration is
//! validated in full before the first change; the previous attribute
//! values go to the backup file before any is changed (Go's order), and a
//! failure at any step puts back everything this ADD changed.
//!
//! Two things Go does not do:
//! - the link attributes are set before the sysctls, because a new MTU
//!   resets per-interface sysctls such as `net.ipv6.conf.<if>.mtu`;
//! - an MTU is also applied to the host end of a veth (user pain point 13:
//!   with the ends disagreeing, large packets are dropped silently), and
//!   recorded in the backup so that DEL restores it.

use std::path::PathBuf;

use pkg::attach::Attachment;
use pkg::netlink::{Link, LinkId, Netlink, format_mac};
use pkg::ns::Netns;
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, Version};
use pkg::{Context, Error, Result, sysctl};

use crate::backup::{self, Backup, HostPeer};
use crate::config::{Sysctl, TuningConf, backup_path};

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = TuningConf::load(args, true)?;
    let mut result = args.prev_result()?;
    args.netns()?;
    if conf.sysctls.is_empty() && !conf.changes_link() {
        return Ok(result);
    }
    let mut at = Attachment::open(args)?;
    if conf.changes_link() {
        let path = backup_path(&conf.data_dir, &args.container_id, &args.ifname);
        tune_link(&mut at, &conf, path, &mut result)?;
    }
    write_sysctls(&mut at, &conf.sysctls)?;
    at.commit();
    Ok(result)
}

fn tune_link(
    at: &mut Attachment<'_>,
    conf: &TuningConf,
    path: PathBuf,
    result: &mut CniResult,
) -> Result<()> {
    let (args, ns) = (at.args, at.ns);
    let ifname = args.ifname.as_str();
    let link = at.ctr.link_get(LinkId::Name(ifname)).map_err(|e| {
        e.context(format!(
            "cannot find container link {ifname} in {}",
            args.netns_path
        ))
    })?;
    let peer = match conf.mtu {
        Some(mtu) => host_peer(&mut at.host, &link, ns, mtu)?,
        None => None,
    };
    let mut before = Backup::of(&link, conf);
    before.host_peer = peer.clone();

    // The record comes first: if the plugin dies half-way, DEL still
    // finds the original values.
    let old = backup::read(&path)?;
    let record = match old.as_deref().map(|b| Backup::from_bytes(b, &path)) {
        Some(Ok(older)) => before.clone().under(older),
        Some(Err(e)) => {
            eprintln!("warning: replacing unreadable tuning backup: {e}");
            before.clone()
        }
        None => before.clone(),
    };
    backup::write(&path, &record.to_bytes()?)?;
    at.undo.push("the backup file", move || match old {
        Some(old) => backup::write(&path, &old),
        None => backup::remove(&path),
    });
    at.undo.push(format!("interface {ifname}"), move || {
        let mut ctr = Netlink::in_netns(ns)?;
        Error::from_list(before.restore(&mut ctr, ifname))
    });

    let ctr = &mut at.ctr;
    let id = LinkId::Index(link.index);
    if let Some(mac) = &conf.mac {
        ctr.link_set_mac(id, mac)
            .with_context(|| format!("failed to set the MAC address of {ifname}"))?;
    }
    if conf.promisc {
        ctr.link_set_promisc(id, true)
            .with_context(|| format!("failed to set {ifname} promiscuous"))?;
    }
    if let Some(mtu) = conf.mtu {
        ctr.link_set_mtu(id, mtu)
            .with_context(|| format!("failed to set the MTU of {ifname}"))?;
    }
    if let Some(on) = conf.allmulti {
        ctr.link_set_allmulti(id, on)
            .with_context(|| format!("failed to set all-multicast mode of {ifname}"))?;
    }
    if let Some(len) = conf.txqlen {
        ctr.link_set_txqlen(id, len)
            .with_context(|| format!("failed to set the transmit queue length of {ifname}"))?;
    }
    if let (Some(peer), Some(mtu)) = (&peer, conf.mtu) {
        let before = peer.clone();
        at.undo.push(
            format!("the MTU of host interface {}", before.name),
            move || Netlink::new()?.link_set_mtu(LinkId::Index(before.index), before.mtu),
        );
        at.host
            .link_set_mtu(LinkId::Index(peer.index), mtu)
            .with_context(|| {
                format!(
                    "failed to set the MTU of {}, the host end of {ifname}",
                    peer.name
                )
            })?;
    }

    let with_mtu = args.version >= Version::V1_1_0;
    for i in result.interfaces.iter_mut() {
        if i.name == ifname {
            if let Some(mac) = &conf.mac {
                i.mac = format_mac(mac);
            }
            if let Some(mtu) = conf.mtu
                && (with_mtu || i.mtu != 0)
            {
                i.mtu = mtu;
            }
        } else if let (Some(p), Some(mtu)) = (&peer, conf.mtu)
            && i.name == p.name
            && i.sandbox.is_empty()
            && (with_mtu || i.mtu != 0)
        {
            i.mtu = mtu;
        }
    }
    Ok(())
}

/// The host end of a veth whose MTU must follow the container end's, with
/// its current MTU; None when there is none here or it already matches.
fn host_peer(host: &mut Netlink, link: &Link, ns: &Netns, mtu: u32) -> Result<Option<HostPeer>> {
    match host.veth_peer_of(link, ns)? {
        Some(p) if p.mtu != mtu => Ok(Some(HostPeer {
            name: p.name,
            index: p.index,
            mtu: p.mtu,
        })),
        Some(_) => Ok(None),
        None => {
            if link.kind.as_deref() == Some("veth") {
                eprintln!(
                    "warning: the MTU of {} is set to {mtu}, but its veth peer is not in this namespace and keeps its own: large packets between them may be dropped",
                    link.name
                );
            }
            Ok(None)
        }
    }
}

fn write_sysctls(at: &mut Attachment<'_>, sysctls: &[Sysctl]) -> Result<()> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let ns = at.ns;
    let list = sysctls.to_vec();
    // /proc/sys/net is the calling thread's namespace: write from inside.
    let (written, failed) = ns.run(move || {
        let mut written = Vec::new();
        for s in &list {
            // A write-only sysctl cannot be put back; write it anyway.
            let before = sysctl::read(&s.path).ok();
            if let Err(e) = sysctl::write(&s.path, &s.value) {
                return Ok((written, Some((s.key.clone(), e))));
            }
            if let Some(b) = before {
                written.push((s.path.clone(), b));
            }
        }
        Ok((written, None))
    })?;
    if !written.is_empty() {
        at.undo.push("the sysctls", move || {
            let failed = ns.run(move || {
                Ok(written
                    .iter()
                    .rev()
                    .filter_map(|(p, v)| sysctl::write(p, v).err())
                    .collect::<Vec<_>>())
            })?;
            Error::from_list(failed)
        });
    }
    match failed {
        Some((key, e)) => Err(e.context(format!("failed to set sysctl {key}"))),
        None => Ok(()),
    }
}
