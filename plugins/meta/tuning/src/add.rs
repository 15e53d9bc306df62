//! tuning ADD: change the container interface's MAC, promiscuous and
//! all-multicast modes, MTU and transmit queue length, then write the
//! sysctls, all inside the container namespace. The configuration is
//! validated in full before the first change, against the kernel too (the
//! link's address length and MTU bounds, every sysctl file), so that
//! nothing is taken other than as given; the previous attribute values go
//! to the backup file before any is changed (Go's order), a failure at any
//! step puts back everything this ADD changed, and the result reports the
//! MAC and MTUs read back from the kernel.
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
use pkg::{Context, Error, Result};

use crate::backup::{self, Backup, HostPeer};
use crate::config::{TuningConf, backup_path};
use crate::sysctls;

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = TuningConf::load(args, true)?;
    let mut result = args.prev_result()?;
    let ns = args.netns()?;
    if conf.sysctls.is_empty() && !conf.changes_link() {
        return Ok(result);
    }
    let mut at = Attachment::open(args)?;
    // Everything the kernel would not take as given is refused here,
    // before the first change.
    let target = if conf.changes_link() {
        Some(Target::read(&mut at, &conf)?)
    } else {
        None
    };
    let files = sysctls::probe(ns, &conf.sysctls)?;
    let host_end = target.as_ref().and_then(|t| t.host_end.clone());
    if let Some(target) = target {
        let path = backup_path(&conf.data_dir, &args.container_id, &args.ifname);
        tune_link(&mut at, &conf, target, path)?;
    }
    sysctls::write(&mut at, &conf.sysctls, files)?;
    report(&mut at, &conf, host_end, &mut result)?;
    at.commit();
    Ok(result)
}

/// The container interface and the host end of its veth, as they are
/// before ADD, checked against what `conf` asks of them.
struct Target {
    link: Link,
    /// The host end, when an MTU is configured and it differs.
    peer: Option<HostPeer>,
    /// The host end's index and name, when an MTU is configured.
    host_end: Option<(u32, String)>,
}

impl Target {
    fn read(at: &mut Attachment<'_>, conf: &TuningConf) -> Result<Target> {
        let ifname = at.args.ifname.as_str();
        let link = at.ctr.link_get(LinkId::Name(ifname)).map_err(|e| {
            e.context(format!(
                "cannot find container link {ifname} in {}",
                at.args.netns_path
            ))
        })?;
        if let Some(mac) = &conf.mac {
            check_mac(&link, mac)?;
        }
        let (mut peer, mut host_end) = (None, None);
        if let Some(mtu) = conf.mtu {
            check_mtu(&link, mtu, "")?;
            if let Some(p) = host_peer(&mut at.host, &link, at.ns, mtu)? {
                check_mtu(&p, mtu, "the host end ")?;
                host_end = Some((p.index, p.name.clone()));
                peer = (p.mtu != mtu).then_some(HostPeer {
                    name: p.name,
                    index: p.index,
                    mtu: p.mtu,
                });
            }
        }
        Ok(Target {
            link,
            peer,
            host_end,
        })
    }
}

/// The kernel copies as many octets as the link's addresses have and
/// ignores the rest of a longer one; an Ethernet link refuses multicast
/// and all-zero addresses.
fn check_mac(link: &Link, mac: &[u8]) -> Result<()> {
    let invalid = |why: String| {
        Err(Error::invalid_config(
            format!(
                "invalid MAC address {:?} for {}",
                format_mac(mac),
                link.name
            ),
            why,
        ))
    };
    match link.mac.len() {
        0 => invalid(format!("{} has no hardware address", link.name)),
        n if n != mac.len() => invalid(format!(
            "it has {} octets, and the addresses of {} have {n}",
            mac.len(),
            link.name
        )),
        _ if link.is_ethernet() && mac[0] & 1 == 1 => {
            invalid("a multicast address cannot be an interface's address".into())
        }
        _ if link.is_ethernet() && mac.iter().all(|&b| b == 0) => {
            invalid("the all-zero address cannot be an interface's address".into())
        }
        _ => Ok(()),
    }
}

/// The MTU must be within the link's own bounds (IFLA_MIN_MTU and
/// IFLA_MAX_MTU); `whose` names a link other than the container's.
fn check_mtu(link: &Link, mtu: u32, whose: &str) -> Result<()> {
    let (min, max) = link.mtu_bounds();
    let (lo, hi) = (min.unwrap_or(0), max.unwrap_or(u32::MAX));
    if (lo..=hi).contains(&mtu) {
        return Ok(());
    }
    Err(Error::invalid_config(
        format!("invalid mtu {mtu}"),
        format!("{whose}{} takes {lo} to {hi}", link.name),
    ))
}

fn tune_link(
    at: &mut Attachment<'_>,
    conf: &TuningConf,
    target: Target,
    path: PathBuf,
) -> Result<()> {
    let (args, ns) = (at.args, at.ns);
    let ifname = args.ifname.as_str();
    let Target { link, peer, .. } = target;
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
    Ok(())
}

/// The result tells what the kernel holds now, read back, not what the
/// config asked for: the entries Go updates (`mac` on the container
/// interface, `mtu` where the result has MTUs) from the links themselves.
fn report(
    at: &mut Attachment<'_>,
    conf: &TuningConf,
    host_end: Option<(u32, String)>,
    result: &mut CniResult,
) -> Result<()> {
    if conf.mac.is_none() && conf.mtu.is_none() {
        return Ok(());
    }
    let ifname = at.args.ifname.as_str();
    let now = at
        .ctr
        .link_get(LinkId::Name(ifname))
        .with_context(|| format!("read back {ifname}"))?;
    let host_mtu = match host_end {
        Some((index, name)) => Some((
            name.clone(),
            at.host
                .link_get(LinkId::Index(index))
                .with_context(|| format!("read back {name}"))?
                .mtu,
        )),
        None => None,
    };
    let with_mtu = at.args.version >= Version::V1_1_0;
    for i in result.interfaces.iter_mut() {
        if i.name == ifname {
            if conf.mac.is_some() {
                i.mac = now.mac_string();
            }
            if conf.mtu.is_some() && (with_mtu || i.mtu != 0) {
                i.mtu = now.mtu;
            }
        } else if let Some((name, mtu)) = &host_mtu
            && i.name == *name
            && i.sandbox.is_empty()
            && (with_mtu || i.mtu != 0)
        {
            i.mtu = *mtu;
        }
    }
    Ok(())
}

/// The host end of a veth, whose MTU must follow the container end's;
/// None when it is not in this namespace.
fn host_peer(host: &mut Netlink, link: &Link, ns: &Netns, mtu: u32) -> Result<Option<Link>> {
    match host.veth_peer_of(link, ns)? {
        Some(p) => Ok(Some(p)),
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
