//! macvlan ADD. The config, the master and the container side are checked
//! before anything is created. The macvlan is created on the master under
//! its final name directly inside the container netns, in one request: a
//! host interface with that name does not get in the way (names are per
//! namespace), and a plugin killed at any point leaves either nothing or a
//! link that DEL finds by `CNI_IFNAME` (Go's temporary name and rename
//! leave a window in which a kill strands a `veth…` link in the container).
//! From then on, `Undo` removes the link and the IPAM reservation if a later
//! step fails (Go's deferred delete misses some paths, plugins.md §2.3).

use std::time::Duration;

use nix::errno::Errno;

use pkg::netlink::macvlan::{MacvlanSpec, Mode};
use pkg::netlink::{LinkId, Netlink};
use pkg::ns::Netns;
use pkg::skel::CmdArgs;
use pkg::sysctl::{self, Family};
use pkg::types::version::Family as ResultShape;
use pkg::types::{CniResult, Interface};
use pkg::{Context, Error, Result, iface, ipam};

use crate::config::MacvlanConf;

/// The longest we wait for IPv6 DAD. DAD stays on: unlike a veth, a
/// macvlan shares its segment with other hosts, whose addresses IPAM does
/// not know.
const DAD_LIMIT: Duration = Duration::from_secs(5);

/// What this ADD created, undone in reverse on failure.
#[derive(Default)]
struct Undo {
    /// The macvlan, by index in the container netns.
    link: Option<u32>,
    ipam: bool,
}

impl Undo {
    fn run(&self, ctr: &mut Netlink, args: &CmdArgs) {
        let warn = |what: &str, e: Error| {
            eprintln!("warning: rolling back {what} after a failed ADD: {e}")
        };
        if self.ipam
            && let Err(e) = ipam::del(args)
        {
            warn("the IPAM reservation", e);
        }
        if let Some(index) = self.link
            && let Err(e) = ctr.link_del(LinkId::Index(index))
            && !e.is_not_found()
        {
            warn(&format!("the macvlan (index {index})"), e);
        }
    }
}

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let mut conf = MacvlanConf::load(args)?;
    if !conf.layer3 && args.version.family() == ResultShape::Legacy {
        // skel would fail converting the result, after the link exists.
        return Err(Error::invalid_config(
            format!(
                "cannot convert result to version {}: no valid IP addresses",
                args.version.as_str()
            ),
            "macvlan without IPAM (L2 mode) needs cniVersion 0.3.0 or later: a 0.1.0 or 0.2.0 result must carry an address",
        ));
    }
    if conf.layer3 {
        ipam::plugin_path(args)?;
    }
    let ns = args.netns()?;
    let mut ctr = Netlink::in_netns(ns)?;
    let mut host = if conf.link_in_container {
        None
    } else {
        Some(Netlink::new()?)
    };
    let master = match host.as_mut() {
        Some(h) => conf.resolve_master(h, "host netns")?,
        None => conf.resolve_master(&mut ctr, &format!("container netns {}", args.netns_path))?,
    };
    if ctr.link_find(LinkId::Name(&args.ifname))?.is_some() {
        return Err(Error::kernel(
            format!(
                "interface {} already exists in container netns {}",
                args.ifname, args.netns_path
            ),
            Errno::EEXIST,
        ));
    }
    let spec = MacvlanSpec {
        master: master.index,
        mode: conf.mode,
        mtu: u32::try_from(conf.mtu).unwrap_or(0),
        mac: conf.mac,
        bc_queue_len: conf.bc_queue_len,
        netns: host.is_some().then_some(ns),
    };
    let creator = host.as_mut().unwrap_or(&mut ctr);
    creator.macvlan_add(&args.ifname, &spec).map_err(|e| {
        // The kernel gives no reason for this one; it is the usual cause.
        let hint = if conf.mode == Mode::Passthru && e.is_errno(Errno::EINVAL) {
            " (passthru mode takes the master for itself: it fails while any other macvlan uses it)"
        } else {
            ""
        };
        e.context(format!(
            "failed to create macvlan on master {} for {}{hint}",
            master.name, args.ifname
        ))
    })?;
    let mut undo = Undo::default();
    match build(args, &conf, ns, &mut ctr, &mut undo) {
        Ok(result) => Ok(result),
        Err(e) => {
            if undo.link.is_none() {
                // Created but not found again: remove it by its name.
                let _ = ctr.link_del(LinkId::Name(&args.ifname));
            }
            undo.run(&mut ctr, args);
            Err(e)
        }
    }
}

fn build(
    args: &CmdArgs,
    conf: &MacvlanConf,
    ns: &Netns,
    ctr: &mut Netlink,
    undo: &mut Undo,
) -> Result<CniResult> {
    let link = ctr.link_get(LinkId::Name(&args.ifname))?;
    let index = link.index;
    undo.link = Some(index);
    let mut result = CniResult {
        interfaces: vec![Interface {
            name: args.ifname.clone(),
            mac: link.mac_string(),
            sandbox: args.netns_path.clone(),
            ..Default::default()
        }],
        ..Default::default()
    };
    if conf.layer3 {
        let ipam_result = ipam::add(args)?;
        undo.ipam = true;
        if ipam_result.ips.is_empty() {
            return Err(Error::internal("IPAM plugin returned missing IP config"));
        }
        result.ips = ipam_result.ips;
        result.routes = ipam_result.routes;
        for ip in &mut result.ips {
            ip.interface = Some(0);
        }
        // Announce the addresses when the link comes up (gratuitous ARP,
        // unsolicited NA), so the segment's caches learn the new MAC at
        // once. Failures only lose the announcement, as in Go.
        let ifname = args.ifname.clone();
        ns.run(move || {
            for (family, leaf) in [(Family::V4, "arp_notify"), (Family::V6, "ndisc_notify")] {
                if let Ok(p) = sysctl::conf_path(family, &ifname, leaf) {
                    let _ = sysctl::write(&p, "1");
                }
            }
            Ok(())
        })?;
        iface::configure(ctr, ns, &args.ifname, &result, Some(DAD_LIMIT))?;
    } else {
        ctr.link_set_up(LinkId::Index(index))
            .with_context(|| format!("failed to set {} up", args.ifname))?;
    }
    // Go copies the config's dns as is; IPAM's is not used.
    result.dns = conf.dns.clone();
    Ok(result)
}
