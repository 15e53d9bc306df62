//! macvlan ADD. The config, the master and the container side are checked
//! before anything is created. The macvlan is created on the master under
//! its final name directly inside the container netns, in one request
//! (`Attachment::add_link`): a host interface with that name does not get
//! in the way (names are per namespace), and a plugin killed at any point
//! leaves either nothing or a link that DEL finds by `CNI_IFNAME`. From
//! then on, the attachment's rollback removes the link and the IPAM
//! reservation if a later step fails (Go's deferred delete misses some
//! paths, Documentation/macvlan.md).

use std::time::Duration;

use nix::errno::Errno;

use pkg::attach::Attachment;
use pkg::netlink::{Link, LinkId};
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::types::version::Family as ResultShape;
use pkg::{Context, Error, Result, iface, ipam};

use crate::config::MacvlanConf;
use crate::link::{self, MacvlanSpec, Mode};

/// The longest we wait for IPv6 DAD. DAD stays on: unlike a veth, a
/// macvlan shares its segment with other hosts, whose addresses IPAM does
/// not know.
const DAD_LIMIT: Duration = Duration::from_secs(5);

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
    let mut at = Attachment::open(args)?;
    let master = conf.master.resolve_for(&mut at)?;
    at.refuse_existing()?;
    let spec = MacvlanSpec {
        master: master.index,
        mode: conf.mode,
        mtu: conf.master.link_mtu(),
        mac: conf.mac,
        bc_queue_len: conf.bc_queue_len,
    };
    let (msg, what) = link::message(&args.ifname, &spec);
    let link = at.add_link(msg, conf.master.in_container, &what).map_err(|e| {
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
    let result = build(&mut at, &conf, &link)?;
    at.commit();
    Ok(result)
}

fn build(at: &mut Attachment<'_>, conf: &MacvlanConf, link: &Link) -> Result<CniResult> {
    let args = at.args;
    let mut result = if conf.layer3 {
        at.undo.start_ipam(args)?;
        let ipam_result = at.finish_ipam()?;
        // The segment's caches learn the new MAC at once.
        iface::announce_on_up(at.ns, &args.ifname)?;
        at.configure_sole(link, ipam_result, Some(DAD_LIMIT))?
    } else {
        at.ctr
            .link_set_up(LinkId::Index(link.index))
            .with_context(|| format!("failed to set {} up", args.ifname))?;
        CniResult {
            interfaces: vec![at.container_iface(link)],
            ..Default::default()
        }
    };
    // Go copies the config's dns as is; IPAM's is not used.
    result.dns = conf.dns.clone();
    Ok(result)
}
