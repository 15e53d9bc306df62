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

use std::path::{Path, PathBuf};

use pkg::netlink::{Link, LinkId, Netlink, format_mac};
use pkg::ns::Netns;
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, Version};
use pkg::{Context, Error, Result, sysctl};

use crate::backup::{self, Backup, HostPeer};
use crate::config::{Sysctl, TuningConf, backup_path};

/// What this ADD changed, put back on failure.
#[derive(Default)]
struct Undo {
    /// The container interface's attributes before the change.
    link: Option<Backup>,
    /// The host end of the veth, with its MTU before.
    peer: Option<HostPeer>,
    /// The backup file as it was: `Some(None)` when there was none.
    file: Option<Option<Vec<u8>>>,
    /// Sysctls written, with the values they had.
    sysctls: Vec<(PathBuf, String)>,
}

impl Undo {
    fn run(self, ns: &Netns, ctr: &mut Netlink, host: &mut Netlink, ifname: &str, path: &Path) {
        let warn = |what: &str, e: Error| {
            eprintln!("warning: rolling back {what} after a failed ADD: {e}");
        };
        if !self.sysctls.is_empty() {
            let sysctls = self.sysctls;
            let restored = ns.run(move || {
                Ok(sysctls
                    .iter()
                    .rev()
                    .filter_map(|(p, v)| sysctl::write(p, v).err())
                    .collect::<Vec<_>>())
            });
            match restored {
                Ok(errors) => errors.into_iter().for_each(|e| warn("a sysctl", e)),
                Err(e) => warn("the sysctls", e),
            }
        }
        if let Some(before) = &self.link {
            for e in before.restore(ctr, ifname) {
                warn(&format!("interface {ifname}"), e);
            }
        }
        if let Some(peer) = &self.peer
            && let Err(e) = host.link_set_mtu(LinkId::Index(peer.index), peer.mtu)
        {
            warn(&format!("the MTU of host interface {}", peer.name), e);
        }
        let file = match self.file {
            Some(Some(old)) => backup::write(path, &old),
            Some(None) => backup::remove(path),
            None => Ok(()),
        };
        if let Err(e) = file {
            warn("the backup file", e);
        }
    }
}

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = TuningConf::load(args, true)?;
    let mut result = args
        .conf
        .parse_prev_result()?
        .ok_or_else(|| Error::invalid_config("required prevResult missing", ""))?;
    let ns = args.netns()?;
    if conf.sysctls.is_empty() && !conf.changes_link() {
        return Ok(result);
    }
    let mut ctr = Netlink::in_netns(ns)?;
    let mut host = Netlink::new()?;
    let path = backup_path(&conf.data_dir, &args.container_id, &args.ifname);
    let mut undo = Undo::default();
    let applied = (|| {
        if conf.changes_link() {
            tune_link(
                args,
                &conf,
                ns,
                &mut ctr,
                &mut host,
                &path,
                &mut result,
                &mut undo,
            )?;
        }
        write_sysctls(ns, &conf.sysctls, &mut undo)
    })();
    match applied {
        Ok(()) => Ok(result),
        Err(e) => {
            undo.run(ns, &mut ctr, &mut host, &args.ifname, &path);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn tune_link(
    args: &CmdArgs,
    conf: &TuningConf,
    ns: &Netns,
    ctr: &mut Netlink,
    host: &mut Netlink,
    path: &Path,
    result: &mut CniResult,
    undo: &mut Undo,
) -> Result<()> {
    let ifname = args.ifname.as_str();
    let link = ctr.link_get(LinkId::Name(ifname)).map_err(|e| {
        e.context(format!(
            "cannot find container link {ifname} in {}",
            args.netns_path
        ))
    })?;
    let peer = match conf.mtu {
        Some(mtu) => host_peer(host, &link, ns, mtu)?,
        None => None,
    };
    let mut before = Backup::of(&link, conf);
    before.host_peer = peer.clone();

    // The record comes first: if the plugin dies half-way, DEL still
    // finds the original values.
    let old = backup::read(path)?;
    let record = match old.as_deref().map(|b| Backup::from_bytes(b, path)) {
        Some(Ok(older)) => before.clone().under(older),
        Some(Err(e)) => {
            eprintln!("warning: replacing unreadable tuning backup: {e}");
            before.clone()
        }
        None => before.clone(),
    };
    backup::write(path, &record.to_bytes()?)?;
    undo.file = Some(old);
    undo.link = Some(before);

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
        undo.peer = Some(peer.clone());
        host.link_set_mtu(LinkId::Index(peer.index), mtu)
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

fn write_sysctls(ns: &Netns, sysctls: &[Sysctl], undo: &mut Undo) -> Result<()> {
    if sysctls.is_empty() {
        return Ok(());
    }
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
    undo.sysctls = written;
    match failed {
        Some((key, e)) => Err(e.context(format!("failed to set sysctl {key}"))),
        None => Ok(()),
    }
}
