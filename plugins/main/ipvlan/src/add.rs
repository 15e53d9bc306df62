//! ipvlan ADD. The config, the master and the container side are checked
//! before anything is created. The ipvlan is created on the master under
//! its final name directly inside the container netns, in one request
//! (`Attachment::add_link`: no temporary name, so a killed plugin leaves
//! nothing DEL cannot find). Its addresses come from IPAM, or from the
//! previous plugin's result when there is no IPAM. From the link on, the
//! attachment's rollback removes the link and the IPAM reservation if a
//! later step fails.

use std::time::Duration;

use pkg::attach::Attachment;
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Result, iface, ipam};

use crate::config::IpvlanConf;
use crate::link;

/// The longest ADD waits for IPv6 DAD (in L2 mode; an L3 ipvlan does no
/// DAD). DAD stays on: the segment is shared with other hosts.
const DAD_LIMIT: Duration = Duration::from_secs(5);

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let mut conf = IpvlanConf::load(args)?;
    if conf.addresses_from.is_none() {
        ipam::plugin_path(args)?;
    }
    let mut at = Attachment::open(args)?;
    let master = conf.master.resolve_for(&mut at)?;
    at.refuse_existing()?;
    let (msg, what) = link::message(
        &args.ifname,
        master.index,
        conf.mode,
        conf.master.link_mtu(),
    );
    let link = at
        .add_link(msg, conf.master.in_container, &what)
        .map_err(|e| {
            e.context(format!(
                "failed to create ipvlan on master {} for {}",
                master.name, args.ifname
            ))
        })?;
    let addresses = match conf.addresses_from.take() {
        Some(prev) => prev,
        None => {
            at.undo.start_ipam(args)?;
            at.finish_ipam()?
        }
    };
    // The ipvlan shares the master's MAC: the segment learns the new
    // addresses behind it at once.
    iface::announce_on_up(at.ns, &args.ifname)?;
    let mut result = at.configure_sole(&link, addresses, Some(DAD_LIMIT))?;
    // Go copies the config's dns as is, replacing IPAM's (or the previous
    // plugin's).
    result.dns = conf.dns;
    at.commit();
    Ok(result)
}
