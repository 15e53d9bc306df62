//! vlan ADD. The config, the master and the container side are checked
//! before anything is created. The VLAN link is created on the master
//! under its final name directly inside the container netns, in one
//! request (`Attachment::add_link`: no temporary name, so a killed plugin
//! leaves nothing DEL cannot find). From then on, the attachment's
//! rollback removes the link and the IPAM reservation if a later step
//! fails (Go's vlan removes neither link nor address on most failures).

use std::time::Duration;

use nix::errno::Errno;

use pkg::attach::Attachment;
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Result, ipam};

use crate::config::VlanConf;
use crate::link;

/// The longest ADD waits for IPv6 DAD. DAD stays on: the VLAN is a
/// segment shared with other hosts, whose addresses IPAM does not know.
const DAD_LIMIT: Duration = Duration::from_secs(5);

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let mut conf = VlanConf::load(args)?;
    ipam::plugin_path(args)?;
    let mut at = Attachment::open(args)?;
    let master = conf.master.resolve_for(&mut at)?;
    at.refuse_existing()?;
    let id = conf.vlan_id;
    let (msg, what) = link::message(&args.ifname, master.index, id, conf.master.link_mtu());
    let link = at
        .add_link(msg, conf.master.in_container, &what)
        .map_err(|e| {
            let hint = if e.is_errno(Errno::EEXIST) {
                " (a master carries one vlan link per id: another attachment has this one)"
            } else {
                ""
            };
            e.context(format!(
                "failed to create vlan {id} on master {} for {}{hint}",
                master.name, args.ifname
            ))
        })?;
    at.undo.start_ipam(args)?;
    let ipam_result = at.finish_ipam()?;
    let mut result = at.configure_sole(&link, ipam_result, Some(DAD_LIMIT))?;
    // Go copies the config's dns as is; IPAM's is not used.
    result.dns = conf.dns;
    at.commit();
    Ok(result)
}
